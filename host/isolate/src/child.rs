//! The child: `stowage __serve-plugin`. Loads one plugin, opens one
//! backend, and serves the host's requests until the host closes the
//! socket.

use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RArc, ROption, RResult, RSlice, RStr, RVec};
use stowage::plugin::load_for_child;
use stowage_backend_api::abi::{
    BackendObject, HostObject, ListEntry, RawBackend, RawBackend_TO, RawHost, RawHost_TO,
};
use stowage_backend_api::ext::progress::{self, ProgressV1, ProgressV1_TO, Transfer};
use stowage_backend_api::{BackendError, BackendHandle, Extension};
use stowage_xorriso_ext::abi as xorriso;

use crate::confine::{self, Outcome};
use crate::execute::execute;
use crate::files::Staging;
use crate::frame::{Channel, FrameError};
use crate::protocol::{
    Answer, ExtCall, Hello, HostAnswer, HostCall, Op, Request, Setup, Up, WireDescriptor,
    WireError, WireIsoInfo, SOCKET_ENV,
};
use crate::remote_ops::{self, OpSender};

/// Exit statuses of the child that say why it stopped on its own.
pub mod exit {
    /// The host closed the socket: normal end.
    pub const DONE: i32 = 0;
    /// Started without a socket (not by a stowage host).
    pub const NO_SOCKET: i32 = 2;
    /// The handshake failed (other build, not a host).
    pub const HANDSHAKE: i32 = 3;
    /// The host sent something this child cannot read.
    pub const PROTOCOL: i32 = 4;
}

/// The child's end of the socket, shared by the serving thread, the
/// plugin's log forwarder and its host calls.
struct Conn {
    channel: Channel,
    /// Held while writing one frame, so frames from several threads never
    /// interleave.
    write: Mutex<()>,
    /// Held by a host call between sending it and reading its answer.
    conversation: Mutex<()>,
    max_level: AtomicU8,
}

impl Conn {
    fn send(&self, up: &Up, fds: &[std::os::fd::BorrowedFd<'_>]) -> Result<(), FrameError> {
        let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
        self.channel.send(up, fds)
    }

    /// A host service: one request, one answer. The host answers nothing
    /// else while a call is open, so anything else is a broken host: the
    /// child stops.
    fn host_call(
        &self,
        call: HostCall,
        fds: &[std::os::fd::BorrowedFd<'_>],
    ) -> Result<HostAnswer, BackendError> {
        let _talk = self.conversation.lock().unwrap_or_else(|p| p.into_inner());
        self.send(&Up::HostCall(call), fds)
            .map_err(|e| BackendError::transient(format!("the host is gone: {e}")))?;
        match self.channel.recv::<Request>(None, Request::fds) {
            Ok((Request::HostAnswer(answer), _)) => answer.map_err(BackendError::from),
            Ok((other, _)) => protocol_violation(&format!("{other:?} during a host call")),
            Err(FrameError::Closed) => std::process::exit(exit::DONE),
            Err(e) => protocol_violation(&e.to_string()),
        }
    }
}

fn protocol_violation(what: &str) -> ! {
    eprintln!("stowage plugin child: protocol violation from the host: {what}");
    std::process::exit(exit::PROTOCOL)
}

/// The host services as the plugin in the child sees them.
#[derive(Clone)]
struct ChildHost {
    conn: Arc<Conn>,
}

impl RawHost for ChildHost {
    fn log(&self, level: u8, target: RStr<'_>, message: RStr<'_>) {
        if level <= self.conn.max_level.load(Ordering::Relaxed) {
            let _ = self.conn.send(
                &Up::Log {
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
            &Up::Progress {
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
struct ForwardingLogger {
    conn: Arc<Conn>,
}

impl log::Log for ForwardingLogger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() as u8 <= self.conn.max_level.load(Ordering::Relaxed)
    }

    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            let _ = self.conn.send(
                &Up::Log {
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

fn level_filter(n: u8) -> log::LevelFilter {
    match n {
        0 => log::LevelFilter::Off,
        1 => log::LevelFilter::Error,
        2 => log::LevelFilter::Warn,
        3 => log::LevelFilter::Info,
        4 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    }
}

fn take_socket() -> Option<OwnedFd> {
    let raw: i32 = std::env::var(SOCKET_ENV).ok()?.parse().ok()?;
    // SAFETY: the host placed a socket at this descriptor number for us
    // alone (see spawn.rs); nothing else in this process owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: single-threaded at this point; nobody reads the environment
    // concurrently.
    unsafe { std::env::remove_var(SOCKET_ENV) };
    rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::CLOEXEC).ok()?;
    Some(fd)
}

/// The child's main function (`stowage __serve-plugin`). Returns the
/// process exit status.
pub fn serve_main() -> i32 {
    let Some(socket) = take_socket() else {
        eprintln!("stowage __serve-plugin is started by stowage itself, not by hand");
        return exit::NO_SOCKET;
    };
    let channel = Channel::new(socket);
    if let Err(e) = handshake(&channel) {
        eprintln!("stowage plugin child: {e}");
        return exit::HANDSHAKE;
    }
    let conn = Arc::new(Conn {
        channel,
        write: Mutex::new(()),
        conversation: Mutex::new(()),
        max_level: AtomicU8::new(0),
    });
    if log::set_boxed_logger(Box::new(ForwardingLogger { conn: conn.clone() })).is_ok() {
        log::set_max_level(log::LevelFilter::Trace);
    }
    serve(&conn)
}

fn handshake(channel: &Channel) -> Result<(), String> {
    channel
        .send_raw(&Hello::ours().encode(), &[])
        .map_err(|e| format!("handshake: {e}"))?;
    let (bytes, _) = channel
        .recv_raw(None)
        .map_err(|e| format!("handshake: {e}"))?;
    Hello::decode(&bytes)?.check("host")
}

fn reply(conn: &Conn, result: Result<Answer, BackendError>) -> bool {
    conn.send(&Up::Reply(result.map_err(WireError::from)), &[])
        .is_ok()
}

fn serve(conn: &Arc<Conn>) -> i32 {
    let host = RawHost_TO::from_ptr(RArc::new(ChildHost { conn: conn.clone() }), TD_Opaque);
    let mut plugin = None;
    let mut staging: Option<Staging> = None;
    let mut confined = false;
    let mut backend: Option<BackendHandle> = None;
    loop {
        let (request, fds) = match conn.channel.recv::<Request>(None, Request::fds) {
            Ok(r) => r,
            Err(FrameError::Closed) => {
                // Dropping the backend closes it if the host never did,
                // as dropping an in-process backend would.
                drop(backend);
                return exit::DONE;
            }
            Err(e) => protocol_violation(&e.to_string()),
        };
        match request {
            Request::Setup(setup) => {
                conn.max_level.store(setup.max_log_level, Ordering::Relaxed);
                log::set_max_level(level_filter(setup.max_log_level));
                let result = set_up(&setup, &host);
                let answer = result.map(|(loaded, outcome, stage)| {
                    confined = outcome == Outcome::Enforced;
                    staging = Some(stage);
                    let info = loaded.info().clone();
                    plugin = Some(loaded);
                    Answer::Loaded {
                        descriptor: WireDescriptor {
                            name: info.name,
                            version: info.version,
                            description: info.description,
                            schemes: info
                                .schemes
                                .into_iter()
                                .map(|h| (h.name, h.description))
                                .collect(),
                            prefixes: info
                                .prefixes
                                .into_iter()
                                .map(|h| (h.name, h.description))
                                .collect(),
                        },
                        unconfined: match outcome {
                            Outcome::Unavailable(why) => Some(why),
                            _ => None,
                        },
                    }
                });
                if !reply(conn, answer.map_err(BackendError::generic)) {
                    return exit::DONE;
                }
            }
            Request::Open {
                handler,
                as_prefix,
                url,
            } => {
                let result = match &plugin {
                    None => Err(BackendError::generic("open before setup")),
                    Some(p) => p
                        .open(&handler, as_prefix, &url, host.clone())
                        .map(|object| {
                            backend = Some(BackendHandle::new(object));
                            Answer::Done
                        }),
                };
                if !reply(conn, result) {
                    return exit::DONE;
                }
            }
            Request::Op(op) => {
                let result = match (&backend, &staging) {
                    (Some(b), Some(s)) => execute(b, op, fds, s, confined),
                    _ => Err(BackendError::generic("operation before open")),
                };
                if !reply(conn, result) {
                    return exit::DONE;
                }
            }
            Request::Extension(call) => {
                let result = match &backend {
                    Some(b) => extension_call(b, call),
                    None => Err(BackendError::generic("extension call before open")),
                };
                if !reply(conn, result) {
                    return exit::DONE;
                }
            }
            Request::Umask(mask) => {
                rustix::process::umask(rustix::fs::Mode::from_raw_mode(mask & 0o777));
            }
            Request::HostAnswer(_) => protocol_violation("a host answer nobody asked for"),
        }
    }
}

fn extension_call(backend: &BackendHandle, call: ExtCall) -> Result<Answer, BackendError> {
    let iso = || {
        backend
            .extension_as::<xorriso::XorrisoObject>(xorriso::ID)
            .map_err(|e| BackendError::generic(e.to_string()))?
            .ok_or_else(|| BackendError::unsupported(xorriso::ID))
    };
    match call {
        ExtCall::Offers { id } => Ok(Answer::Offers(backend.extension(&id).is_some())),
        call @ (ExtCall::PeerStage { .. }
        | ExtCall::PeerCheckIndicator { .. }
        | ExtCall::PeerWriteIndicator { .. }) => crate::peer_serve::serve(backend, call),
        ExtCall::XorrisoInfo => {
            let i = iso()?.info().into_result()?;
            Ok(Answer::IsoInfo(WireIsoInfo {
                medium: i.medium.into_string(),
                sessions: i.sessions,
                used_bytes: i.used_bytes,
                free_bytes: i.free_bytes,
                volume_id: i.volume_id.into_string(),
                pending_changes: i.pending_changes,
            }))
        }
        ExtCall::XorrisoCompact => {
            let r = iso()?.compact().into_result()?;
            Ok(Answer::Compacted {
                bytes_before: r.bytes_before,
                bytes_after: r.bytes_after,
            })
        }
    }
}

type Loaded = (stowage::plugin::ChildPlugin, Outcome, Staging);

fn set_up(setup: &Setup, host: &HostObject) -> Result<Loaded, String> {
    let plugin = PathBuf::from(std::ffi::OsStr::from_bytes(&setup.plugin));
    let staging = PathBuf::from(std::ffi::OsStr::from_bytes(&setup.staging));
    let outcome = confine::apply(&setup.confinement, &plugin, &staging)?;
    let loaded = load_for_child(&plugin, host)?;
    Ok((loaded, outcome, Staging::new(staging)))
}
