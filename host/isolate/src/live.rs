//! One running child as the host holds it: any number of requests in
//! flight at once (each caller serves its own request's log records,
//! progress and host calls on its own thread, where an in-process plugin
//! would have made them), and the end of the child.

use std::fs::File;
use std::os::fd::BorrowedFd;
use std::os::unix::fs::FileExt;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, ExitStatus};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use abi_stable::std_types::RStr;
use stowage_backend_api::abi::HostObject;
use stowage_backend_api::{BackendError, Host, Progress};

pub use crate::demux::Failure;
use crate::demux::{frame_failure, Demux, Event};
use crate::host_calls::HostCalls;
use crate::protocol::{Answer, Hello, Request};
use crate::spawn::{self, Spawned};

/// The host services the messages about a request are served with.
pub struct Services {
    /// Logs, host calls.
    pub host: HostObject,
    /// The progress sink, looked up on the first report and kept: a
    /// lookup checks the extension's layout, which costs more than a small
    /// put.
    progress: OnceLock<Option<Progress>>,
}

impl Services {
    /// Serves with `host`.
    pub fn new(host: HostObject) -> Self {
        Self {
            host,
            progress: OnceLock::new(),
        }
    }

    fn progress(&self) -> Option<&Progress> {
        self.progress
            .get_or_init(|| Host::from_raw(self.host.clone()).progress())
            .as_ref()
    }
}

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
    /// that reads the child's messages while no request is in flight.
    /// `host`: the services of the backend the child will serve, for what
    /// the plugin does outside any request.
    pub fn new(
        spawned: Spawned,
        staging: PathBuf,
        host_staging: PathBuf,
        host: HostObject,
        timeout: Duration,
    ) -> Result<Self, Box<(Self, Failure)>> {
        let Spawned { child, channel } = spawned;
        let shaken = handshake(&channel, timeout);
        let calls = Arc::new(HostCalls::new(host_staging));
        let live = Self {
            demux: Arc::new(Demux::new(channel, host, calls.clone())),
            child: Mutex::new(child),
            staging,
            calls,
            epitaph: Mutex::new(None),
            unclosed_writes: AtomicBool::new(false),
        };
        if let Err(f) = shaken {
            return Err(Box::new((live, f)));
        }
        let demux = live.demux.clone();
        let reader = std::thread::Builder::new()
            .name("stowage-isolate-idle-reader".into())
            .spawn(move || demux.read_while_idle());
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
        services: &Services,
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
        let host = &services.host;
        loop {
            match pending.next(timeout)? {
                Event::Reply(result) => return Ok(result.map_err(BackendError::from)),
                Event::Log {
                    level,
                    target,
                    message,
                } => host.log(level, RStr::from_str(&target), RStr::from_str(&message)),
                Event::Progress { done, total } => {
                    if let Some(sink) = services.progress() {
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
        self.demux.close();
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
        self.demux.close();
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
/// read by setting it, which would race with other threads); `None` when
/// `/proc` cannot say. It is asked for on every isolated put (public so
/// that the benchmark can time that): `/proc/self/status` stays open and is read again from
/// its start with one `pread` (the kernel renders it afresh), which costs
/// half of opening and reading it each time.
pub fn process_umask() -> Option<u32> {
    static STATUS: OnceLock<Option<File>> = OnceLock::new();
    let status = STATUS
        .get_or_init(|| File::open("/proc/self/status").ok())
        .as_ref()?;
    let mut buf = [0u8; 4096];
    let n = status.read_at(&mut buf, 0).ok()?;
    umask_in_status(buf.get(..n)?)
}

/// The `Umask:` line of a `/proc/PID/status` text (bytes: the process name
/// before it need not be UTF-8).
fn umask_in_status(status: &[u8]) -> Option<u32> {
    let line = status
        .split(|&b| b == b'\n')
        .find_map(|l| l.strip_prefix(b"Umask:"))?;
    let digits = std::str::from_utf8(line).ok()?;
    u32::from_str_radix(digits.trim(), 8).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_umask_is_read_afresh_each_time() {
        // Other tests of this process only ever lose group and other bits
        // meanwhile, which none of them checks.
        let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o027));
        let first = process_umask();
        rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
        let second = process_umask();
        rustix::process::umask(old);
        assert_eq!((first, second), (Some(0o027), Some(0o077)));
        assert_eq!(
            umask_in_status(b"Name:\t\xff\nUmask:\t0022\nState:\tR\n"),
            Some(0o022)
        );
    }
}
