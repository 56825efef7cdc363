//! One running child as the host holds it: any number of requests in
//! flight at once (each caller serves its own request's log records,
//! progress and host calls on its own thread, where an in-process plugin
//! would have made them), and the end of the child.

use std::os::fd::BorrowedFd;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, ExitStatus};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use abi_stable::std_types::RStr;
use stowage_backend_api::abi::HostObject;
use stowage_backend_api::{BackendError, Host};

pub use crate::demux::Failure;
use crate::demux::{frame_failure, Demux, Event};
use crate::host_calls::HostCalls;
use crate::protocol::{Answer, Hello, Request};
use crate::spawn::{self, Spawned};

/// A running child.
pub struct Live {
    demux: Arc<Demux>,
    child: Mutex<Child>,
    /// The child's staging directory (the host created it; removed when
    /// the child is gone).
    staging: PathBuf,
    calls: Arc<HostCalls>,
    /// What became of the child, once it is buried.
    epitaph: Mutex<Option<String>>,
    /// Writes the child acknowledged since the last successful close.
    pub unclosed_writes: AtomicBool,
}

impl Live {
    /// Wraps a spawned child, does the handshake and starts the thread
    /// that reads the child's messages. `host`: the services of the backend
    /// the child will serve, for what the plugin does outside any request.
    pub fn new(
        spawned: Spawned,
        staging: PathBuf,
        host_staging: PathBuf,
        host: HostObject,
        timeout: Duration,
    ) -> Result<Self, Box<(Self, Failure)>> {
        let Spawned { child, channel } = spawned;
        let shaken = handshake(&channel, timeout);
        let live = Self {
            demux: Arc::new(Demux::new(channel)),
            child: Mutex::new(child),
            staging,
            calls: Arc::new(HostCalls::new(host_staging)),
            epitaph: Mutex::new(None),
            unclosed_writes: AtomicBool::new(false),
        };
        if let Err(f) = shaken {
            return Err(Box::new((live, f)));
        }
        let (demux, calls) = (live.demux.clone(), live.calls.clone());
        let reader = std::thread::Builder::new()
            .name("stowage-isolate-reader".into())
            .spawn(move || demux.read(host, calls));
        if let Err(e) = reader {
            let failure = Failure::Broken(format!("cannot start its reader thread: {e}"));
            return Err(Box::new((live, failure)));
        }
        Ok(live)
    }

    /// Sends `request` and serves what the child sends about it until its
    /// reply. `timeout` runs from the request's last sign of life (a log
    /// record, a progress report or a host call restart it); when it
    /// passes, the child is unusable for every caller.
    pub fn converse(
        &self,
        request: &Request,
        fds: &[BorrowedFd<'_>],
        host: &HostObject,
        timeout: Duration,
    ) -> Result<Result<Answer, BackendError>, Failure> {
        // Only what may create files needs the caller's umask: reading it
        // costs a read of /proc, on every call.
        let umask = if request.creates_files() {
            process_umask()
        } else {
            None
        };
        let pending = self.demux.start(umask, request, fds)?;
        let mut progress = None;
        loop {
            let event = match pending.events.recv_timeout(timeout) {
                Ok(event) => event,
                Err(RecvTimeoutError::Timeout) => {
                    self.demux.forget(pending.id);
                    self.demux.end(Failure::TimedOut(timeout));
                    return Err(self.demux.ended());
                }
                Err(RecvTimeoutError::Disconnected) => return Err(self.demux.ended()),
            };
            match event {
                Event::Reply(result) => return Ok(result.map_err(BackendError::from)),
                Event::Log {
                    level,
                    target,
                    message,
                } => host.log(level, RStr::from_str(&target), RStr::from_str(&message)),
                Event::Progress { done, total } => {
                    let sink =
                        progress.get_or_insert_with(|| Host::from_raw(host.clone()).progress());
                    if let Some(sink) = sink {
                        sink.report(done, total);
                    }
                }
                Event::HostCall { call, body, fds } => {
                    let answer = self.calls.serve(host, body, fds);
                    self.demux.answer(call, answer);
                }
            }
        }
    }

    /// Ends the child after `failure` (killing its group) and says what
    /// happened to it, in words. Every caller that saw the failure calls
    /// this; the first one buries the child (`true`), the others learn the
    /// same words.
    pub fn bury(&self, failure: &Failure) -> (String, bool) {
        let mut epitaph = self.epitaph.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(words) = &*epitaph {
            return (words.clone(), false);
        }
        self.demux.end(failure.clone());
        let status = spawn::kill(&mut self.child.lock().unwrap_or_else(|p| p.into_inner()));
        let words = match failure {
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
        };
        *epitaph = Some(words.clone());
        (words, true)
    }

    /// A normal end: the socket closes, the child closes its backend if
    /// nobody did and exits; whatever remains after `grace` is killed.
    pub fn shut_down(&self, grace: Duration) {
        self.calls.clear();
        self.demux.channel().shutdown();
        spawn::finish(
            &mut self.child.lock().unwrap_or_else(|p| p.into_inner()),
            grace,
        );
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        // `bury` and `shut_down` reaped the child already; this only
        // catches a Live dropped any other way.
        let child = self.child.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Ok(None) = child.try_wait() {
            spawn::kill(child);
        }
        self.demux.channel().shutdown();
        remove_dirs(&self.staging, self.calls.staging_dir());
    }
}

fn handshake(channel: &crate::frame::Channel, timeout: Duration) -> Result<(), Failure> {
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

fn remove_dirs(a: &std::path::Path, b: &std::path::Path) {
    for dir in [a, b] {
        if let Err(e) = std::fs::remove_dir_all(dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                log::debug!("cannot remove {}: {e}", dir.display());
            }
        }
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
