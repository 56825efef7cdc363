//! The [`Isolator`] the host library calls: which plugin files run
//! isolated, describing them in a child, and opening their backends there.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use abi_stable::sabi_trait::TD_Opaque;
use stowage::plugin::{Isolator, PluginInfo};
use stowage_backend_api::abi::{BackendObject, HostObject, RawBackend_TO};
use stowage_backend_api::{BackendError, Descriptor};

use crate::isolation::{no_host, Isolation, OpenArgs, Policy};
use crate::link::Link;
use crate::protocol::Confinement;
use crate::proxy::IsolatedBackend;

impl Isolator for Isolation {
    fn isolates(&self, file: &Path) -> bool {
        match self.ctx.options.policy {
            Policy::Never => false,
            Policy::Always => true,
            Policy::Untrusted => {
                let dir = file.parent().and_then(|d| std::fs::canonicalize(d).ok());
                !dir.is_some_and(|d| self.ctx.system_dirs.contains(&d))
            }
        }
    }

    fn describe(&self, file: &Path) -> Result<Descriptor, String> {
        let (live, descriptor) = self
            .ctx
            .start(file, Confinement::default(), &no_host())
            .map_err(|e| format!("in its isolation child: {}", e.message()))?;
        live.shut_down(Duration::from_secs(5));
        Ok(descriptor)
    }

    fn open(
        &self,
        plugin: &PluginInfo,
        handler: &str,
        as_prefix: bool,
        url: &str,
        host: HostObject,
    ) -> Result<BackendObject, BackendError> {
        let state = self.ctx.state_of(plugin);
        state.check_usable()?;
        let open = OpenArgs {
            handler: handler.to_string(),
            as_prefix,
            url: url.to_string(),
            extra_read_write: Vec::new(),
        };
        let live = self.ctx.start_backend(&state, &open, &host)?;
        let backend = IsolatedBackend {
            link: Arc::new(Link {
                ctx: self.ctx.clone(),
                plugin: state,
                open,
                host,
                live: Mutex::new(Some(Arc::new(live))),
                lost_writes: AtomicBool::new(false),
            }),
        };
        Ok(RawBackend_TO::from_value(backend, TD_Opaque))
    }
}
