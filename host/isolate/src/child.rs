//! The child: `stowage __serve-plugin`. Loads one plugin, opens one
//! backend, and serves the host's requests until the host closes the
//! socket.

use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::RArc;
use stowage::plugin::{load_for_child, ChildPlugin};
use stowage_backend_api::abi::{HostObject, RawHost_TO};
use stowage_backend_api::{BackendError, BackendHandle};
use stowage_stream_ext::Stream;

use crate::child_conn::{exit, protocol_violation, serving, Conn};
use crate::child_ext::extension_call;
use crate::child_host::{ChildHost, ForwardingLogger};
use crate::child_stream::{stream_of, Streams};
use crate::confine::{self, Outcome};
use crate::execute::execute;
use crate::files::Staging;
use crate::frame::{Channel, FrameError};
use crate::protocol::{
    Answer, Down, Hello, Op, Request, RequestId, Setup, Up, WireDescriptor, SOCKET_ENV,
};
use crate::streamed::{try_streamed, UMASK};

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
    /// The backend's `stowage.stream/1`, looked up once.
    stream: OnceLock<Option<Stream>>,
    backend: OnceLock<BackendHandle>,
    /// The backend was closed: puts and gets no longer take the stream
    /// extension (which knows nothing of the close) but go to the backend,
    /// which refuses them as it would in process.
    closed: AtomicBool,
}

struct Loaded {
    plugin: ChildPlugin,
    staging: Staging,
    /// Landlock is in force (a put's source must then be copied).
    confined: bool,
}

type Job = (RequestId, Request, Vec<OwnedFd>);

/// Reads the host's frames on this thread and hands each request to one
/// of [`WORKERS`] threads, so that a slow request does not hold up the
/// others and a plugin's host call is answered while it waits. Returns
/// when the host closes the socket, after the requests in flight ended.
fn serve(conn: &Arc<Conn>) -> i32 {
    let host = RawHost_TO::from_ptr(RArc::new(ChildHost { conn: conn.clone() }), TD_Opaque);
    let state = Arc::new(State {
        conn: conn.clone(),
        host,
        confinement: OnceLock::new(),
        loaded: OnceLock::new(),
        streams: Streams::default(),
        stream: OnceLock::new(),
        backend: OnceLock::new(),
        closed: AtomicBool::new(false),
    });
    let (jobs, queue) = mpsc::channel::<Job>();
    let queue = Arc::new(Mutex::new(queue));
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    loop {
        let (Down { id, request }, fds) = match conn.channel().recv::<Down>(None, Down::fds) {
            Ok(r) => r,
            Err(FrameError::Closed) => break,
            Err(e) => protocol_violation(&e.to_string()),
        };
        match request {
            Request::HostAnswer { call, answer } => conn.answered(call, answer),
            Request::Umask(mask) => {
                rustix::process::umask(rustix::fs::Mode::from_raw_mode(mask & 0o777));
                UMASK.store(mask & 0o777, Ordering::Relaxed);
            }
            // Landlock binds the thread that applies it and the threads it
            // starts afterwards: confine here, on the main thread, before
            // the workers exist, and let a worker load the plugin.
            Request::Setup(setup) if workers.is_empty() => {
                conn.max_level.store(setup.max_log_level, Ordering::Relaxed);
                log::set_max_level(stowage_backend_api::levels::max_level_from_abi(
                    setup.max_log_level,
                ));
                let plugin = PathBuf::from(std::ffi::OsStr::from_bytes(&setup.plugin));
                let staging = PathBuf::from(std::ffi::OsStr::from_bytes(&setup.staging));
                match confine::apply(&setup.confinement, &plugin, &staging) {
                    Ok(outcome) => {
                        let _ = state.confinement.set(outcome);
                        workers = start_workers(&state, &queue);
                        if workers.is_empty()
                            || jobs.send((id, Request::Setup(setup), fds)).is_err()
                        {
                            eprintln!("stowage plugin child: cannot start a worker thread");
                            return exit::PROTOCOL;
                        }
                    }
                    Err(e) => {
                        if !conn.reply(id, Err(BackendError::generic(e))) {
                            break;
                        }
                    }
                }
            }
            request => {
                if jobs.send((id, request, fds)).is_err() {
                    break;
                }
            }
        }
    }
    // The host is gone: open host calls fail, the workers finish what they
    // hold and stop; dropping the backend then closes it if the host never
    // did, as dropping an in-process backend would.
    conn.hang_up();
    drop(jobs);
    for worker in workers {
        let _ = worker.join();
    }
    drop(state);
    exit::DONE
}

fn start_workers(
    state: &Arc<State>,
    queue: &Arc<Mutex<mpsc::Receiver<Job>>>,
) -> Vec<JoinHandle<()>> {
    (0..WORKERS)
        .filter_map(|n| {
            let (state, queue) = (state.clone(), queue.clone());
            std::thread::Builder::new()
                .name(format!("stowage-plugin-worker-{n}"))
                .spawn(move || work(&state, &queue))
                .ok()
        })
        .collect()
}

fn work(state: &State, queue: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        let job = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
        let Ok((id, request, fds)) = job else {
            return;
        };
        let result = serving(id, || run(state, request, fds));
        if !state.conn.reply(id, result) {
            return;
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
            let stream = state
                .stream
                .get_or_init(|| stream_of(backend).ok().flatten());
            let stream = stream
                .as_ref()
                .filter(|_| !state.closed.load(Ordering::Acquire));
            if let Some(result) = try_streamed(stream, &op, &mut fds, loaded.confined, &report) {
                return result;
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
