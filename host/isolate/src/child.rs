//! The child: `stowage __serve-plugin`. Loads one plugin, opens one
//! backend, and serves the host's requests until the host closes the
//! socket.

use std::collections::VecDeque;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::RArc;
use stowage::plugin::{load_for_child, ChildPlugin};
use stowage_backend_api::abi::{HostObject, RawHost_TO};
use stowage_backend_api::{BackendError, BackendHandle};
use stowage_descriptor_ext::Descriptor;

use crate::child_conn::{exit, fatal, protocol_violation, serving, Conn};
use crate::child_ext::extension_call;
use crate::child_host::{ChildHost, ForwardingLogger};
use crate::child_pool::{Job, Pool};
use crate::child_stream::{stream_of, Streams};
use crate::confine::{self, Outcome};
use crate::execute::{execute, put_answer};
use crate::files::Staging;
use crate::frame::{Channel, FrameError};
use crate::protocol::{Answer, Down, Hello, Op, Request, Setup, Up, WireDescriptor, SOCKET_ENV};
use crate::streamed::{try_streamed, Direct, UMASK};

/// How many requests the child serves at once; more wait in line.
pub const WORKERS: usize = 8;

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
    let conn = Arc::new(Conn::new(channel));
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

/// What the workers share: the plugin once set up, its backend once open.
struct State {
    conn: Arc<Conn>,
    host: HostObject,
    /// What confinement the main thread applied before the workers began.
    confinement: OnceLock<Outcome>,
    loaded: OnceLock<Loaded>,
    /// Declared before `backend` (fields drop in order): the writers left
    /// open are aborted before the backend is dropped.
    streams: Streams,
    /// The backend's `stowage.stream/1` and `stowage.descriptor/1`,
    /// looked up once.
    direct: OnceLock<Direct>,
    backend: OnceLock<BackendHandle>,
    /// The backend was closed: puts and gets no longer take the stream or
    /// descriptor extension (which know nothing of the close) but go to the backend,
    /// which refuses them as it would in process.
    closed: AtomicBool,
}

struct Loaded {
    plugin: ChildPlugin,
    staging: Staging,
    /// Landlock is in force (a put's source must then be copied).
    confined: bool,
}

/// Reads the host's frames on this thread alone until the setup, which
/// confines this thread before any other exists; then serves with
/// [`WORKERS`] more threads, this one among them (see `child_pool.rs`),
/// so that a slow request does not hold up the others and a plugin's host
/// call is answered while it waits. Returns when the host closes the
/// socket, after the requests in flight ended.
fn serve(conn: &Arc<Conn>) -> i32 {
    let host = RawHost_TO::from_ptr(RArc::new(ChildHost { conn: conn.clone() }), TD_Opaque);
    let state = Arc::new(State {
        conn: conn.clone(),
        host,
        confinement: OnceLock::new(),
        loaded: OnceLock::new(),
        streams: Streams::default(),
        direct: OnceLock::new(),
        backend: OnceLock::new(),
        closed: AtomicBool::new(false),
    });
    let mut early = VecDeque::new();
    loop {
        let Some((id, request, fds)) = read_request(conn, true) else {
            return exit::DONE;
        };
        match request {
            // Landlock binds the thread that applies it and the threads it
            // starts afterwards: confine here, before any other thread
            // exists, and let the pool load the plugin.
            Request::Setup(setup) => {
                conn.max_level.store(setup.max_log_level, Ordering::Relaxed);
                log::set_max_level(stowage_backend_api::levels::max_level_from_abi(
                    setup.max_log_level,
                ));
                let plugin = PathBuf::from(std::ffi::OsStr::from_bytes(&setup.plugin));
                let staging = PathBuf::from(std::ffi::OsStr::from_bytes(&setup.staging));
                match confine::apply(&setup.confinement, &plugin, &staging) {
                    Ok(outcome) => {
                        let _ = state.confinement.set(outcome);
                        early.push_back((id, Request::Setup(setup), fds));
                        break;
                    }
                    Err(e) => {
                        if !conn.reply(id, Err(BackendError::generic(e))) {
                            return exit::DONE;
                        }
                    }
                }
            }
            request => early.push_back((id, request, fds)),
        }
    }
    let pool = match Pool::new(conn.channel().socket(), WORKERS, early) {
        Ok(pool) => Arc::new(pool),
        Err(e) => fatal(&format!("cannot set up its threads: {e}")),
    };
    let workers: Vec<JoinHandle<()>> = (0..WORKERS)
        .filter_map(|n| {
            let (state, pool) = (state.clone(), pool.clone());
            std::thread::Builder::new()
                .name(format!("stowage-plugin-worker-{n}"))
                .spawn(move || work(&state, &pool))
                .ok()
        })
        .collect();
    if workers.is_empty() {
        eprintln!("stowage plugin child: cannot start a worker thread");
        return exit::PROTOCOL;
    }
    pool.limit_to(workers.len());
    work(&state, &pool);
    // The host is gone and every request ended: dropping the backend
    // closes it if the host never did, as dropping an in-process backend
    // would.
    for worker in workers {
        let _ = worker.join();
    }
    drop(state);
    exit::DONE
}

/// One thread of the pool.
fn work(state: &State, pool: &Pool) {
    let read = |alone| read_request(&state.conn, alone);
    let serve = |(id, request, fds): Job| {
        let result = serving(id, || run(state, request, fds));
        // A host that is gone is seen by the thread that reads.
        let _ = state.conn.reply(id, result);
    };
    pool.work(&read, &serve);
}

/// The next request from the host, serving on the way what needs no
/// thread of its own: host answers and the umask. `None` once the host
/// closed the socket; open host calls then fail. `alone`: no request
/// runs, so the host's next frame comes soon and is waited for spinning.
fn read_request(conn: &Conn, alone: bool) -> Option<Job> {
    loop {
        let channel = conn.channel();
        let read = if alone {
            channel.recv_spinning::<Down>(None, Down::fds)
        } else {
            channel.recv::<Down>(None, Down::fds)
        };
        let (Down { id, request }, fds) = match read {
            Ok(r) => r,
            Err(FrameError::Closed) => {
                conn.hang_up();
                return None;
            }
            Err(e) => protocol_violation(&e.to_string()),
        };
        match request {
            Request::HostAnswer { call, answer } => conn.answered(call, answer),
            Request::Umask(mask) => {
                rustix::process::umask(rustix::fs::Mode::from_raw_mode(mask & 0o777));
                UMASK.store(mask & 0o777, Ordering::Relaxed);
            }
            request => return Some((id, request, fds)),
        }
    }
}

fn run(state: &State, request: Request, fds: Vec<OwnedFd>) -> Result<Answer, BackendError> {
    let backend = || {
        state
            .backend
            .get()
            .ok_or_else(|| BackendError::generic("a call before the backend was opened"))
    };
    match request {
        Request::Setup(setup) => set_up(state, &setup).map_err(BackendError::generic),
        Request::Open {
            handler,
            as_prefix,
            url,
        } => {
            let loaded = state
                .loaded
                .get()
                .ok_or_else(|| BackendError::generic("open before setup"))?;
            let object = loaded
                .plugin
                .open(&handler, as_prefix, &url, state.host.clone())?;
            state
                .backend
                .set(BackendHandle::new(object))
                .map_err(|_| BackendError::generic("a second open"))?;
            Ok(Answer::Done)
        }
        Request::Op(op) => {
            let loaded = state
                .loaded
                .get()
                .ok_or_else(|| BackendError::generic("an operation before setup"))?;
            let backend = backend()?;
            let mut fds = fds;
            let report = |done, total| {
                let _ = state.conn.send(Up::Progress { done, total }, &[]);
            };
            let direct = state.direct.get_or_init(|| Direct {
                stream: stream_of(backend).ok().flatten(),
                descriptor: Descriptor::lookup(|id| backend.extension_as(id))
                    .ok()
                    .flatten(),
            });
            // After a close, puts and gets go to the backend, which refuses
            // them as it does in process.
            if !state.closed.load(Ordering::Acquire) {
                if let Some(result) = try_streamed(direct, &op, &mut fds, loaded.confined, &report)
                {
                    return result.map(|answer| match (&op, answer) {
                        (Op::Put { name, query, .. }, Answer::Done) => {
                            put_answer(backend, name, *query)
                        }
                        (_, answer) => answer,
                    });
                }
            }
            let closing = matches!(op, Op::Close);
            let result = execute(backend, op, fds, &loaded.staging, loaded.confined);
            if closing && result.is_ok() {
                state.closed.store(true, Ordering::Release);
            }
            result
        }
        Request::Extension(call) => extension_call(backend()?, &state.streams, call),
        Request::HostAnswer { .. } | Request::Umask(_) => {
            Err(BackendError::generic("not a request"))
        }
    }
}

fn set_up(state: &State, setup: &Setup) -> Result<Answer, String> {
    let plugin = PathBuf::from(std::ffi::OsStr::from_bytes(&setup.plugin));
    let staging = PathBuf::from(std::ffi::OsStr::from_bytes(&setup.staging));
    let outcome = state
        .confinement
        .get()
        .cloned()
        .ok_or("setup before confinement")?;
    let loaded = load_for_child(&plugin, &state.host)?;
    let info = loaded.info().clone();
    state
        .loaded
        .set(Loaded {
            plugin: loaded,
            staging: Staging::new(staging),
            confined: outcome == Outcome::Enforced,
        })
        .map_err(|_| "a second setup".to_string())?;
    Ok(Answer::Loaded {
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
    })
}
