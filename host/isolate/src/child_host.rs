//! The host as the plugin in the child sees it: log records, progress
//! reports and `open_backend` cross to the host, and a prefix plugin's
//! inner backend is a proxy whose every call crosses back.

use std::os::fd::BorrowedFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{ROption, RResult, RSlice, RStr, RVec};
use stowage_backend_api::abi::{BackendObject, ListEntry, RawBackend, RawBackend_TO, RawHost};
use stowage_backend_api::ext::progress::{self, ProgressV1, ProgressV1_TO, Transfer};
use stowage_backend_api::{BackendError, Extension};

use crate::child_conn::Conn;
use crate::protocol::{Answer, HostAnswer, HostCall, Op, Up};
use crate::remote_ops::{self, OpSender};

/// The host services as the plugin in the child sees them.
#[derive(Clone)]
pub(crate) struct ChildHost {
    pub(crate) conn: Arc<Conn>,
}

impl RawHost for ChildHost {
    fn log(&self, level: u8, target: RStr<'_>, message: RStr<'_>) {
        if level <= self.conn.max_level.load(Ordering::Relaxed) {
            let _ = self.conn.send(
                Up::Log {
                    level,
                    target: target.to_string(),
                    message: message.to_string(),
                },
                &[],
            );
        }
    }

    fn max_log_level(&self) -> u8 {
        self.conn.max_level.load(Ordering::Relaxed)
    }

    fn open_backend(&self, url: RStr<'_>) -> RResult<BackendObject, BackendError> {
        let opened = self.conn.host_call(
            HostCall::OpenBackend {
                url: url.to_string(),
            },
            &[],
        );
        match opened {
            Ok(HostAnswer::Opened { id }) => RResult::ROk(RawBackend_TO::from_value(
                RemoteInner {
                    id,
                    conn: self.conn.clone(),
                },
                TD_Opaque,
            )),
            Ok(other) => RResult::RErr(BackendError::generic(format!(
                "unexpected answer to open_backend: {other:?}"
            ))),
            Err(e) => RResult::RErr(e),
        }
    }

    fn extension(&self, id: RStr<'_>) -> ROption<Extension> {
        if id.as_str() == progress::ID {
            let object: progress::ProgressObject = ProgressV1_TO::from_value(
                ChildProgress {
                    conn: self.conn.clone(),
                },
                TD_Opaque,
            );
            ROption::RSome(Extension::new(object))
        } else {
            ROption::RNone
        }
    }
}

struct ChildProgress {
    conn: Arc<Conn>,
}

impl ProgressV1 for ChildProgress {
    fn report(&self, t: Transfer) {
        let _ = self.conn.send(
            Up::Progress {
                done: t.done,
                total: t.total,
            },
            &[],
        );
    }
}

/// A prefix plugin's inner backend: it lives in the host (in process or in
/// a child of its own); every call crosses back.
struct RemoteInner {
    id: u64,
    conn: Arc<Conn>,
}

impl RemoteInner {
    fn unit(&self, op: Op) -> RResult<(), BackendError> {
        remote_ops::unit(self, op, &[]).into()
    }
}

impl OpSender for RemoteInner {
    fn send_op(&self, op: Op, fds: &[BorrowedFd<'_>]) -> Result<Answer, BackendError> {
        match self
            .conn
            .host_call(HostCall::Inner { id: self.id, op }, fds)?
        {
            HostAnswer::Inner(answer) => Ok(answer),
            other => Err(BackendError::generic(format!(
                "unexpected answer from the host: {other:?}"
            ))),
        }
    }
}

impl RawBackend for RemoteInner {
    fn put(&self, local: RSlice<'_, u8>, name: RStr<'_>) -> RResult<(), BackendError> {
        remote_ops::put(self, local, name)
    }

    fn get(&self, name: RStr<'_>, local: RSlice<'_, u8>) -> RResult<(), BackendError> {
        remote_ops::get(self, name, local)
    }

    fn list(&self) -> RResult<RVec<ListEntry>, BackendError> {
        remote_ops::list(self)
    }

    fn delete(&self, name: RStr<'_>) -> RResult<(), BackendError> {
        remote_ops::delete(self, name)
    }

    fn delete_list(&self, list: RSlice<'_, RStr<'_>>) -> RResult<(), BackendError> {
        remote_ops::delete_list(self, list)
    }

    fn query(&self, name: RStr<'_>) -> RResult<ROption<u64>, BackendError> {
        remote_ops::query(self, name)
    }

    fn query_list(&self, list: RSlice<'_, RStr<'_>>) -> RResult<RVec<ROption<u64>>, BackendError> {
        remote_ops::query_list(self, list)
    }

    fn move_in(&self, local: RSlice<'_, u8>, name: RStr<'_>) -> RResult<(), BackendError> {
        remote_ops::move_in(self, local, name)
    }

    fn retry_cleanup(&self) -> RResult<(), BackendError> {
        self.unit(Op::RetryCleanup)
    }

    fn close(&self) -> RResult<(), BackendError> {
        self.unit(Op::Close)
    }

    fn extension(&self, _id: RStr<'_>) -> ROption<Extension> {
        ROption::RNone
    }
}

impl Drop for RemoteInner {
    fn drop(&mut self) {
        let _ = self
            .conn
            .host_call(HostCall::DropInner { id: self.id }, &[]);
    }
}

/// Records of the child's own code (not the plugin's) go to the host too.
pub(crate) struct ForwardingLogger {
    pub(crate) conn: Arc<Conn>,
}

impl log::Log for ForwardingLogger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() as u8 <= self.conn.max_level.load(Ordering::Relaxed)
    }

    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            let _ = self.conn.send(
                Up::Log {
                    level: r.level() as u8,
                    target: r.target().to_string(),
                    message: r.args().to_string(),
                },
                &[],
            );
        }
    }

    fn flush(&self) {}
}
