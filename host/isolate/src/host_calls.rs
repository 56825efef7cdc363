//! The host services a child calls (`open_backend` of a prefix plugin and
//! the operations on the inner backends it opened), served by the host.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use stowage_backend_api::abi::HostObject;
use stowage_backend_api::{BackendError, BackendHandle, Host};

use crate::execute::execute;
use crate::files::Staging;
use crate::protocol::{HostAnswer, HostCall};

/// The inner backends one child opened, and the host's staging for them.
pub(crate) struct HostCalls {
    /// The host's own staging for inner backends' gets, private to it.
    staging: Staging,
    inner: Mutex<HashMap<u64, Arc<BackendHandle>>>,
    next: AtomicU64,
}

impl HostCalls {
    /// Serves with `staging` (created by the caller, private to the host).
    pub(crate) fn new(staging: PathBuf) -> Self {
        Self {
            staging: Staging::new(staging),
            inner: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
        }
    }

    /// The staging directory.
    pub(crate) fn staging_dir(&self) -> &std::path::Path {
        self.staging.dir()
    }

    /// Serves `call` for the plugin, with `host` as the services of the
    /// backend the child serves. Inner operations run without holding the
    /// table, so several can run at once.
    pub(crate) fn serve(
        &self,
        host: &HostObject,
        call: HostCall,
        fds: Vec<OwnedFd>,
    ) -> Result<HostAnswer, BackendError> {
        let table = || self.inner.lock().unwrap_or_else(|p| p.into_inner());
        match call {
            HostCall::OpenBackend { url } => {
                let handle = Host::from_raw(host.clone()).open_backend(&url)?;
                let id = self.next.fetch_add(1, Ordering::Relaxed);
                table().insert(id, Arc::new(handle));
                Ok(HostAnswer::Opened { id })
            }
            HostCall::Inner { id, op } => {
                let handle = table().get(&id).cloned().ok_or_else(|| {
                    BackendError::generic(format!("no inner backend with id {id}"))
                })?;
                execute(&handle, op, fds, &self.staging, false).map(HostAnswer::Inner)
            }
            HostCall::DropInner { id } => {
                let dropped = table().remove(&id);
                drop(dropped);
                Ok(HostAnswer::Done)
            }
        }
    }

    /// Drops every inner backend (closing those nobody closed).
    pub(crate) fn clear(&self) {
        let all = std::mem::take(&mut *self.inner.lock().unwrap_or_else(|p| p.into_inner()));
        drop(all);
    }
}
