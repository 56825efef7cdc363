//! What an isolated backend and its extension objects share: the plugin
//! child (started again when the last one died) and the request that runs
//! one call in it, turning a dead or hung child into a retryable error.

use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use stowage_backend_api::BackendError;

use crate::isolation::{Context, OpenArgs, PluginState};
use crate::live::{Failure, Live, Services};
use crate::protocol::{Answer, ExtCall, Op, Request};
use crate::remote_ops::OpSender;

/// What a backend object and its extension objects share: the child and
/// how to start a new one.
pub(crate) struct Link {
    pub(crate) ctx: Arc<Context>,
    pub(crate) plugin: Arc<PluginState>,
    pub(crate) open: OpenArgs,
    /// The backend's host services.
    pub(crate) services: Services,
    /// The running child, shared by the calls in flight; empty after a
    /// death until the next call starts a new one.
    pub(crate) live: Mutex<Option<Arc<Live>>>,
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
            services: Services::new(self.services.host.clone()),
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

    /// The running child, started first when there is none.
    pub(crate) fn live(&self) -> Result<Arc<Live>, BackendError> {
        let mut slot = self.live.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(live) = &*slot {
            return Ok(live.clone());
        }
        self.plugin.check_usable()?;
        let live = Arc::new(self.ctx.start_backend(
            &self.plugin,
            &self.open,
            &self.services.host,
        )?);
        *slot = Some(live.clone());
        Ok(live)
    }

    /// Runs `request` in the child, alongside whatever else is in flight.
    /// A failure of the child fails every call in flight on it; the first
    /// to see it buries the child and counts the death, and the next call
    /// starts a new one.
    pub(crate) fn request(
        &self,
        name: &'static str,
        request: Request,
        fds: &[BorrowedFd<'_>],
        writes: bool,
        closes: bool,
    ) -> Result<Answer, BackendError> {
        let live = self.live()?;
        self.request_on(&live, name, &request, fds, writes, closes)
            .unwrap_or_else(Err)
    }

    /// Runs `request` in the child `live` and nowhere else (a stream lives
    /// in one child). The outer `Err` is the child's failure, as a
    /// retryable error; the inner result is the plugin's.
    pub(crate) fn request_on(
        &self,
        live: &Arc<Live>,
        name: &str,
        request: &Request,
        fds: &[BorrowedFd<'_>],
        writes: bool,
        closes: bool,
    ) -> Result<Result<Answer, BackendError>, BackendError> {
        match live.converse(request, fds, &self.services, self.ctx.options.op_timeout) {
            Ok(answer) => {
                if answer.is_ok() && writes {
                    live.unclosed_writes.store(true, Ordering::Release);
                }
                if answer.is_ok() && closes {
                    live.unclosed_writes.store(false, Ordering::Release);
                }
                Ok(answer)
            }
            Err(failure) => Err(self.lost(live, &failure, name)),
        }
    }

    /// The error for call `name` that saw `live` fail with `failure`.
    pub(crate) fn lost(&self, live: &Arc<Live>, failure: &Failure, name: &str) -> BackendError {
        {
            let mut slot = self.live.lock().unwrap_or_else(|p| p.into_inner());
            if slot.as_ref().is_some_and(|l| Arc::ptr_eq(l, live)) {
                *slot = None;
            }
        }
        if live.unclosed_writes.load(Ordering::Acquire) {
            self.lost_writes.store(true, Ordering::Release);
        }
        let (what, first) = live.bury(failure);
        let reason = format!(
            "plugin {} ({}) {what} during {name}",
            self.plugin.name,
            self.plugin.file.display()
        );
        if first {
            self.plugin.record_death(&reason);
            log::warn!("{reason}");
        }
        BackendError::transient(reason).with_retryable(true)
    }
}

impl OpSender for Link {
    fn send_op(&self, op: Op, fds: &[BorrowedFd<'_>]) -> Result<Answer, BackendError> {
        self.call(op, fds)
    }
}
