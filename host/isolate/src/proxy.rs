//! The host-side backend object of an isolated plugin: every ABI call
//! becomes one request to the child; a dead child becomes a retryable
//! error, and the next call starts a new one.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{ROption, RResult, RSlice, RStr, RVec};
use stowage_backend_api::abi::{HostObject, ListEntry, RawBackend};
use stowage_peer_ext::abi::{self as peer, PeerV1_TO};
use stowage_xorriso_ext::abi::{self as xorriso, XorrisoV1, XorrisoV1_TO};

use crate::ext_peer::RemotePeer;
use stowage_backend_api::{BackendError, ErrorCode, Extension};

use crate::files::{move_in_via_fd, open_source, publish_get};
use crate::isolation::{Context, OpenArgs, PluginState};
use crate::live::Live;
use crate::protocol::{Answer, ExtCall, Op, Request};

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

fn path_of(bytes: RSlice<'_, u8>) -> &Path {
    use std::os::unix::ffi::OsStrExt;
    Path::new(std::ffi::OsStr::from_bytes(bytes.as_slice()))
}

fn names(list: RSlice<'_, RStr<'_>>) -> Vec<String> {
    list.iter().map(|n| n.to_string()).collect()
}

fn unexpected(op: &str, answer: &Answer) -> BackendError {
    BackendError::generic(format!("the plugin child answered {op} with {answer:?}"))
}

/// The backend object the host holds.
pub(crate) struct IsolatedBackend {
    pub(crate) link: Arc<Link>,
}

impl std::ops::Deref for IsolatedBackend {
    type Target = Link;
    fn deref(&self) -> &Link {
        &self.link
    }
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

    fn unit(&self, op: Op) -> RResult<(), BackendError> {
        let name = op.name();
        match self.call(op, &[]) {
            Ok(Answer::Done) => RResult::ROk(()),
            Ok(other) => RResult::RErr(unexpected(name, &other)),
            Err(e) => RResult::RErr(e),
        }
    }
}

impl RawBackend for IsolatedBackend {
    fn put(&self, local: RSlice<'_, u8>, name: RStr<'_>) -> RResult<(), BackendError> {
        let local = path_of(local);
        let result = open_source(local).and_then(|file| {
            self.call(
                Op::Put {
                    name: name.to_string(),
                    shown: local.display().to_string(),
                },
                &[file.as_fd()],
            )
        });
        match result {
            Ok(Answer::Done) => RResult::ROk(()),
            Ok(other) => RResult::RErr(unexpected("put", &other)),
            Err(e) => RResult::RErr(e),
        }
    }

    fn get(&self, name: RStr<'_>, local: RSlice<'_, u8>) -> RResult<(), BackendError> {
        let local = path_of(local);
        publish_get(local, |fd| {
            match self.call(
                Op::Get {
                    name: name.to_string(),
                    shown: local.display().to_string(),
                },
                &[fd],
            )? {
                Answer::Got { mode } => Ok(mode),
                other => Err(unexpected("get", &other)),
            }
        })
        .into()
    }

    fn list(&self) -> RResult<RVec<ListEntry>, BackendError> {
        match self.call(Op::List, &[]) {
            Ok(Answer::Listed(entries)) => RResult::ROk(
                entries
                    .into_iter()
                    .map(|(name, size)| ListEntry {
                        name: name.into(),
                        size,
                    })
                    .collect(),
            ),
            Ok(other) => RResult::RErr(unexpected("list", &other)),
            Err(e) => RResult::RErr(e),
        }
    }

    fn delete(&self, name: RStr<'_>) -> RResult<(), BackendError> {
        self.unit(Op::Delete {
            name: name.to_string(),
        })
    }

    fn delete_list(&self, list: RSlice<'_, RStr<'_>>) -> RResult<(), BackendError> {
        self.unit(Op::DeleteList { names: names(list) })
    }

    fn query(&self, name: RStr<'_>) -> RResult<ROption<u64>, BackendError> {
        match self.call(
            Op::Query {
                name: name.to_string(),
            },
            &[],
        ) {
            Ok(Answer::Size(size)) => RResult::ROk(size.into()),
            Ok(other) => RResult::RErr(unexpected("query", &other)),
            Err(e) => RResult::RErr(e),
        }
    }

    fn query_list(&self, list: RSlice<'_, RStr<'_>>) -> RResult<RVec<ROption<u64>>, BackendError> {
        match self.call(Op::QueryList { names: names(list) }, &[]) {
            Ok(Answer::Sizes(sizes)) => {
                RResult::ROk(sizes.into_iter().map(ROption::from).collect())
            }
            Ok(other) => RResult::RErr(unexpected("query_list", &other)),
            Err(e) => RResult::RErr(e),
        }
    }

    /// The child gets a descriptor and hands the backend a staged copy to
    /// move in; the host removes the local file after success.
    fn move_in(&self, local: RSlice<'_, u8>, name: RStr<'_>) -> RResult<(), BackendError> {
        let local = path_of(local);
        move_in_via_fd(local, |fd| {
            match self.call(
                Op::MoveIn {
                    name: name.to_string(),
                    shown: local.display().to_string(),
                },
                &[fd],
            )? {
                Answer::Done => Ok(()),
                other => Err(unexpected("move_in", &other)),
            }
        })
        .into()
    }

    fn retry_cleanup(&self) -> RResult<(), BackendError> {
        self.unit(Op::RetryCleanup)
    }

    fn close(&self) -> RResult<(), BackendError> {
        let closed = self.unit(Op::Close).into_result();
        if self.lost_writes.load(Ordering::Acquire) {
            return RResult::RErr(BackendError::new(
                ErrorCode::GENERIC,
                format!(
                    "plugin {} ({}) died after acknowledging writes that no close had committed yet; they may be lost or not durable: check the store",
                    self.plugin.name,
                    self.plugin.file.display()
                ),
            ));
        }
        closed.into()
    }

    /// `stowage.xorriso/1` and `stowage.peer/1` cross, when the backend in
    /// the child offers them.
    fn extension(&self, id: RStr<'_>) -> ROption<Extension> {
        let id = id.as_str();
        if id != xorriso::ID && id != peer::ID {
            return ROption::RNone;
        }
        match self.call_ext(ExtCall::Offers { id: id.to_string() }) {
            Ok(Answer::Offers(true)) if id == xorriso::ID => {
                let object: xorriso::XorrisoObject = XorrisoV1_TO::from_value(
                    RemoteXorriso {
                        link: self.link.clone(),
                    },
                    TD_Opaque,
                );
                ROption::RSome(Extension::new(object))
            }
            Ok(Answer::Offers(true)) => {
                let object: peer::PeerObject = PeerV1_TO::from_value(
                    RemotePeer {
                        link: self.link.clone(),
                    },
                    TD_Opaque,
                );
                ROption::RSome(Extension::new(object))
            }
            _ => ROption::RNone,
        }
    }
}

/// `stowage.xorriso/1` of a backend in a child.
struct RemoteXorriso {
    link: Arc<Link>,
}

impl XorrisoV1 for RemoteXorriso {
    fn info(&self) -> RResult<xorriso::IsoInfo, BackendError> {
        match self.link.call_ext(ExtCall::XorrisoInfo) {
            Ok(Answer::IsoInfo(i)) => RResult::ROk(xorriso::IsoInfo {
                medium: i.medium.into(),
                sessions: i.sessions,
                used_bytes: i.used_bytes,
                free_bytes: i.free_bytes,
                volume_id: i.volume_id.into(),
                pending_changes: i.pending_changes,
            }),
            Ok(other) => RResult::RErr(unexpected("info", &other)),
            Err(e) => RResult::RErr(e),
        }
    }

    fn compact(&self) -> RResult<xorriso::CompactReport, BackendError> {
        match self.link.call_ext(ExtCall::XorrisoCompact) {
            Ok(Answer::Compacted {
                bytes_before,
                bytes_after,
            }) => RResult::ROk(xorriso::CompactReport {
                bytes_before,
                bytes_after,
            }),
            Ok(other) => RResult::RErr(unexpected("compact", &other)),
            Err(e) => RResult::RErr(e),
        }
    }
}

/// Dropping the backend ends its child (which closes the backend if
/// nobody did); an extension object still held afterwards would start a
/// new one.
impl Drop for IsolatedBackend {
    fn drop(&mut self) {
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(live) = live {
            live.shut_down(self.ctx.options.op_timeout);
        }
    }
}
