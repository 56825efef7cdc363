//! One running child as the host holds it: the conversation of one
//! request (with the child's log records, progress and host calls served
//! in between) and the end of the child.

use std::collections::HashMap;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use abi_stable::std_types::RStr;
use stowage_backend_api::abi::HostObject;
use stowage_backend_api::{BackendError, BackendHandle, Host};

use crate::execute::execute;
use crate::files::Staging;
use crate::frame::FrameError;
use crate::protocol::{Answer, Hello, HostAnswer, HostCall, Request, Up, WireError};
use crate::spawn::Spawned;

/// Why a conversation with a child ended without a reply: the child is
/// unusable and must be replaced.
#[derive(Debug)]
pub enum Failure {
    /// The socket closed: the child ended.
    Died,
    /// No reply, log record or progress report within the time allowed.
    TimedOut(Duration),
    /// The child sent something that is not a valid frame.
    Garbage(String),
    /// The child refused the handshake, or the host could not talk to it.
    Broken(String),
}

/// A running child.
pub struct Live {
    spawned: Spawned,
    /// The child's staging directory (the host created it; removed when
    /// the child is gone).
    staging: PathBuf,
    /// The host's own staging for inner backends' gets, private to it.
    host_staging: Staging,
    inner: HashMap<u64, BackendHandle>,
    next_inner: u64,
    /// Writes the child acknowledged since the last successful close.
    pub unclosed_writes: bool,
}

impl Live {
    /// Wraps a spawned child and does the handshake.
    pub fn new(
        spawned: Spawned,
        staging: PathBuf,
        host_staging: PathBuf,
        timeout: Duration,
    ) -> Result<Self, Box<(Self, Failure)>> {
        let live = Self {
            spawned,
            staging,
            host_staging: Staging::new(host_staging),
            inner: HashMap::new(),
            next_inner: 0,
            unclosed_writes: false,
        };
        match live.handshake(timeout) {
            Ok(()) => Ok(live),
            Err(f) => Err(Box::new((live, f))),
        }
    }

    fn handshake(&self, timeout: Duration) -> Result<(), Failure> {
        let channel = &self.spawned.channel;
        channel
            .send_raw(&Hello::ours().encode(), &[])
            .map_err(frame_failure)?;
        let (bytes, _) = channel
            .recv_raw(Some(Instant::now() + timeout))
            .map_err(frame_failure)?;
        Hello::decode(&bytes)
            .and_then(|h| h.check("plugin child"))
            .map_err(Failure::Broken)
    }

    /// Sends `request` and serves the child until its reply. `timeout`
    /// runs from the last sign of life (a log record, a progress report or
    /// a host call restart it).
    pub fn converse(
        &mut self,
        request: &Request,
        fds: &[BorrowedFd<'_>],
        host: &HostObject,
        timeout: Duration,
    ) -> Result<Result<Answer, BackendError>, Failure> {
        if let Some(mask) = process_umask() {
            self.spawned
                .channel
                .send(&Request::Umask(mask), &[])
                .map_err(frame_failure)?;
        }
        self.spawned
            .channel
            .send(request, fds)
            .map_err(frame_failure)?;
        let mut progress = None;
        loop {
            let deadline = Instant::now() + timeout;
            let (up, fds) = match self.spawned.channel.recv::<Up>(Some(deadline), Up::fds) {
                Ok(m) => m,
                Err(FrameError::TimedOut) => return Err(Failure::TimedOut(timeout)),
                Err(e) => return Err(frame_failure(e)),
            };
            match up {
                Up::Reply(result) => return Ok(result.map_err(BackendError::from)),
                Up::Log {
                    level,
                    target,
                    message,
                } => host.log(level, RStr::from_str(&target), RStr::from_str(&message)),
                Up::Progress { done, total } => {
                    let sink =
                        progress.get_or_insert_with(|| Host::from_raw(host.clone()).progress());
                    if let Some(sink) = sink {
                        sink.report(done, total);
                    }
                }
                Up::HostCall(call) => {
                    let answer = self.serve_host_call(call, fds, host);
                    self.spawned
                        .channel
                        .send(&Request::HostAnswer(answer.map_err(WireError::from)), &[])
                        .map_err(frame_failure)?;
                }
            }
        }
    }

    fn serve_host_call(
        &mut self,
        call: HostCall,
        fds: Vec<OwnedFd>,
        host: &HostObject,
    ) -> Result<HostAnswer, BackendError> {
        match call {
            HostCall::OpenBackend { url } => {
                let handle = Host::from_raw(host.clone()).open_backend(&url)?;
                let id = self.next_inner;
                self.next_inner += 1;
                self.inner.insert(id, handle);
                Ok(HostAnswer::Opened { id })
            }
            HostCall::Inner { id, op } => {
                let handle = self.inner.get(&id).ok_or_else(|| {
                    BackendError::generic(format!("no inner backend with id {id}"))
                })?;
                execute(handle, op, fds, &self.host_staging, false).map(HostAnswer::Inner)
            }
            HostCall::DropInner { id } => {
                self.inner.remove(&id);
                Ok(HostAnswer::Done)
            }
        }
    }

    /// Ends the child after `failure` (killing its group) and says what
    /// happened to it, in words.
    pub fn bury(mut self, failure: &Failure) -> String {
        let status = self.spawned.kill();
        match failure {
            Failure::Died => match status {
                Some(s) => describe_status(s),
                None => "ended".into(),
            },
            Failure::TimedOut(t) => format!(
                "timed out: no reply and no progress for {} s; killed",
                t.as_secs()
            ),
            Failure::Garbage(what) => {
                format!("sent an invalid frame on the protocol socket ({what}); killed")
            }
            Failure::Broken(what) => format!("{what}; killed"),
        }
    }

    /// A normal end: the socket closes, the child closes its backend if
    /// nobody did and exits; whatever remains after `grace` is killed.
    pub fn shut_down(mut self, grace: Duration) {
        self.inner.clear();
        self.spawned.channel.shutdown();
        self.spawned.finish(grace);
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        // `bury` and `shut_down` reaped the child already; this only
        // catches a Live dropped any other way.
        let _ = self.spawned.child.try_wait().map(|s| {
            if s.is_none() {
                self.spawned.kill();
            }
        });
        remove_dirs(&self.staging, self.host_staging.dir());
    }
}

fn remove_dirs(a: &std::path::Path, b: &std::path::Path) {
    for dir in [a, b] {
        if let Err(e) = std::fs::remove_dir_all(dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                log::debug!("cannot remove {}: {e}", dir.display());
            }
        }
    }
}

fn frame_failure(e: FrameError) -> Failure {
    match e {
        FrameError::Closed => Failure::Died,
        FrameError::TimedOut => Failure::Broken("no handshake in time".into()),
        FrameError::Garbage(what) => Failure::Garbage(what),
        FrameError::Io(e) => Failure::Broken(format!("socket error: {e}")),
    }
}

/// "was killed by SIGSEGV (signal 11)", "exited with status 0".
pub fn describe_status(s: ExitStatus) -> String {
    if let Some(sig) = s.signal() {
        let name = match sig {
            libc::SIGSEGV => "SIGSEGV",
            libc::SIGABRT => "SIGABRT",
            libc::SIGBUS => "SIGBUS",
            libc::SIGILL => "SIGILL",
            libc::SIGFPE => "SIGFPE",
            libc::SIGKILL => "SIGKILL",
            libc::SIGTERM => "SIGTERM",
            libc::SIGXCPU => "SIGXCPU",
            _ => "",
        };
        let core = if s.core_dumped() { ", core dumped" } else { "" };
        if name.is_empty() {
            format!("was killed by signal {sig}{core}")
        } else {
            format!("was killed by {name} (signal {sig}){core}")
        }
    } else {
        format!("exited with status {}", s.code().unwrap_or(-1))
    }
}

/// This process's umask, read without changing it (`umask(2)` can only be
/// read by setting it, which would race with other threads).
fn process_umask() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
    u32::from_str_radix(line.trim(), 8).ok()
}
