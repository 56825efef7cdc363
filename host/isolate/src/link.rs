//! What an isolated backend and its extension objects share: the plugin
//! child (started again when the last one died) and the request that runs
//! one call in it, turning a dead or hung child into a retryable error.

use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use stowage_backend_api::abi::HostObject;
use stowage_backend_api::BackendError;

use crate::isolation::{Context, OpenArgs, PluginState};
use crate::live::Live;
use crate::protocol::{Answer, ExtCall, Op, Request};
use crate::remote_ops::OpSender;

/// What a backend object and its extension objects share: the child and
/// how to start a new one.
pub(crate) struct Link {
    pub(crate) ctx: Arc<Context>,
    pub(crate) plugin: Arc<PluginState>,
    pub(crate) open: OpenArgs,
    pub(crate) host: HostObject,
    pub(crate) live: Mutex<Option<Live>>,
    /// A child died after acknowledging writes no close had committed.
    pub(crate) lost_writes: AtomicBool,
}

impl Link {
    /// Runs `op` in the child, starting one first if the last one died.
    fn call(&self, op: Op, fds: &[BorrowedFd<'_>]) -> Result<Answer, BackendError> {
        let writes = matches!(
            op,
            Op::Put { .. } | Op::MoveIn { .. } | Op::Delete { .. } | Op::DeleteList { .. }
        );
        let closes = matches!(op, Op::Close);
        self.request(op.name(), Request::Op(op), fds, writes, closes)
    }

    /// A backend extension's method, in the child. `compact` rewrites
    /// the store: counted as a write.
    pub(crate) fn call_ext(&self, call: ExtCall) -> Result<Answer, BackendError> {
        let writes = matches!(call, ExtCall::XorrisoCompact);
        self.request(call.name(), Request::Extension(call), &[], writes, false)
    }

    /// An extension call that needs `writable` too: run in a child of its
    /// own, confined with it, ended after the call.
    pub(crate) fn call_ext_in_own_child(
        &self,
        call: ExtCall,
        writable: std::path::PathBuf,
    ) -> Result<Answer, BackendError> {
        let mut open = self.open.clone();
        open.extra_read_write.push(writable);
        let link = Link {
            ctx: self.ctx.clone(),
            plugin: self.plugin.clone(),
            open,
            host: self.host.clone(),
            live: Mutex::new(None),
            lost_writes: AtomicBool::new(false),
        };
        let answer = link.call_ext(call);
        let live = link.live.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(live) = live {
            live.shut_down(self.ctx.options.op_timeout);
        }
        answer
    }

    fn request(
        &self,
        name: &'static str,
        request: Request,
        fds: &[BorrowedFd<'_>],
        writes: bool,
        closes: bool,
    ) -> Result<Answer, BackendError> {
        let mut guard = self.live.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            self.plugin.check_usable()?;
            *guard = Some(
                self.ctx
                    .start_backend(&self.plugin, &self.open, &self.host)?,
            );
        }
        let Some(live) = guard.as_mut() else {
            return Err(BackendError::generic("no plugin child"));
        };
        let result = live.converse(&request, fds, &self.host, self.ctx.options.op_timeout);
        match result {
            Ok(answer) => {
                if answer.is_ok() && writes {
                    live.unclosed_writes = true;
                }
                if answer.is_ok() && closes {
                    live.unclosed_writes = false;
                }
                answer
            }
            Err(failure) => {
                let Some(dead) = guard.take() else {
                    return Err(BackendError::generic("no plugin child"));
                };
                if dead.unclosed_writes {
                    self.lost_writes.store(true, Ordering::Release);
                }
                let what = dead.bury(&failure);
                let reason = format!(
                    "plugin {} ({}) {what} during {name}",
                    self.plugin.name,
                    self.plugin.file.display()
                );
                self.plugin.record_death(&reason);
                log::warn!("{reason}");
                Err(BackendError::transient(reason).with_retryable(true))
            }
        }
    }
}

impl OpSender for Link {
    fn send_op(&self, op: Op, fds: &[BorrowedFd<'_>]) -> Result<Answer, BackendError> {
        self.call(op, fds)
    }
}
