//! Out-of-process probing (GStreamer's plugin scanner, ours).
//!
//! Loading a library runs its code. A truncated or overwritten file can
//! kill the loading process with SIGBUS, a constructor can `abort()`,
//! `exit()` or hang. So the first time the host meets a file, a child
//! process (the `stowage` binary in its hidden probe mode) loads it and
//! reports back; only files the child survived and accepted are loaded
//! in-process. What kills the child is reported as the reason, and the
//! host is untouched.

use std::ffi::OsString;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::loader::load;
use super::services::HostServices;
use super::trust::PluginFile;
use super::verdict::Verdict;

/// The line prefix the child writes its verdict behind, so that anything a
/// plugin constructor prints to stdout cannot be mistaken for it.
const MARKER: &str = "STOWAGE-PROBE-RESULT ";

/// Why a probe gave no verdict of its own.
enum ProbeFailure {
    /// Loading the file killed, ended or hung the probe: the file's fault.
    File(String),
    /// The host could not run the probe: nobody's verdict on the file.
    Host(String),
}

/// How to start the child: the program and the arguments before the path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prober {
    /// The executable (for the CLI: itself).
    pub program: PathBuf,
    /// Arguments placed before the plugin path.
    pub args: Vec<OsString>,
    /// How long a probe may take before it is killed.
    pub timeout: Duration,
}

/// The child side: loads `path` in this process and prints the verdict.
/// Returns the process exit status (0 whenever a verdict was printed).
///
/// `path` is opened exactly as named, without the trust check: the host
/// passes `/proc/self/fd/N` of the descriptor it opened and checked, which
/// the child inherits, so the child loads the very file the host checked.
pub fn probe_main(path: &Path) -> i32 {
    let host = HostServices::without_registry();
    let verdict = match PluginFile::open_handed_down(path).and_then(|f| load(f, &host)) {
        Ok(p) => Verdict::Accepted {
            name: p.info.name,
            version: p.info.version,
            description: p.info.description,
            schemes: p.info.schemes,
            prefixes: p.info.prefixes,
        },
        Err(reason) => Verdict::Rejected { reason },
    };
    match serde_json::to_string(&verdict) {
        Ok(json) => {
            println!("{MARKER}{json}");
            0
        }
        Err(_) => 3,
    }
}

fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGTRAP => "SIGTRAP",
        _ => return format!("signal {sig}"),
    };
    format!("{name} (signal {sig})")
}

impl Prober {
    /// Probes `path` in a child process (no trust check: the registry
    /// probes the descriptor its own check opened). `Err` is a failure of
    /// the host (the file could not be opened, the probe could not be
    /// started or waited for): it says nothing about the file, so it must
    /// not be cached as the file's verdict.
    pub fn probe(&self, path: &Path) -> Result<Verdict, String> {
        self.probe_file(&PluginFile::open(path, false)?)
    }

    /// Probes the opened `file`: the child inherits its descriptor and
    /// loads it as `/proc/self/fd/N`, never by path.
    pub(crate) fn probe_file(&self, file: &PluginFile) -> Result<Verdict, String> {
        // The child names the file by the descriptor it was handed.
        let (fd_name, shown) = (
            file.proc_path().display().to_string(),
            file.path().display().to_string(),
        );
        match self.run(file) {
            Ok(Verdict::Rejected { reason }) => Ok(Verdict::Rejected {
                reason: reason.replace(&fd_name, &shown),
            }),
            Ok(v) => Ok(v),
            Err(ProbeFailure::File(reason)) => Ok(Verdict::Rejected { reason }),
            Err(ProbeFailure::Host(reason)) => Err(reason),
        }
    }

    fn run(&self, file: &PluginFile) -> Result<Verdict, ProbeFailure> {
        let fd = file.raw_fd();
        let mut command = Command::new(&self.program);
        // SAFETY: only an fcntl on a descriptor we own, which is
        // async-signal-safe, between fork and exec.
        unsafe {
            command.pre_exec(move || {
                let fd = std::os::fd::BorrowedFd::borrow_raw(fd);
                rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty())?;
                Ok(())
            });
        }
        let mut child = command
            .args(&self.args)
            .arg(file.proc_path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .env("RUST_LOG", "off")
            // Its own process group, so whatever a constructor forks can be
            // killed with it.
            .process_group(0)
            .spawn()
            .map_err(|e| {
                ProbeFailure::Host(format!(
                    "cannot start the plugin probe {}: {e}",
                    self.program.display()
                ))
            })?;
        let group = child.id() as libc::pid_t;
        let kill_group = || {
            // SAFETY: signalling our own child's process group.
            unsafe { libc::kill(-group, libc::SIGKILL) };
        };
        let mut stdout = child
            .stdout
            .take()
            .ok_or_else(|| ProbeFailure::Host("probe has no stdout".into()))?;
        // Read in a thread: a chatty plugin could fill the pipe and block. A
        // helper process forked by a constructor may hold the pipe open
        // after the child exits, so the result is awaited with a deadline.
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let _ = (&mut stdout).take(1 << 20).read_to_end(&mut out);
            let _ = sender.send(out);
        });
        let started = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() > self.timeout => {
                    kill_group();
                    let _ = child.wait();
                    return Err(ProbeFailure::File(format!(
                        "loading it hung: the probe was killed after {} s",
                        self.timeout.as_secs()
                    )));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(2)),
                Err(e) => {
                    kill_group();
                    return Err(ProbeFailure::Host(format!(
                        "waiting for the probe failed: {e}"
                    )));
                }
            }
        };
        let left = self.timeout.saturating_sub(started.elapsed()) + Duration::from_millis(100);
        let out = receiver.recv_timeout(left).unwrap_or_default();
        // Nothing the probe started may outlive it.
        kill_group();
        if let Some(sig) = status.signal() {
            return Err(ProbeFailure::File(format!(
                "loading it killed the probe process with {}{}",
                signal_name(sig),
                if sig == libc::SIGBUS {
                    " (a truncated or overwritten library)"
                } else {
                    ""
                }
            )));
        }
        let text = String::from_utf8_lossy(&out);
        let verdict = text
            .lines()
            .find_map(|l| l.strip_prefix(MARKER))
            .and_then(|json| serde_json::from_str::<Verdict>(json).ok());
        match verdict {
            Some(v) => Ok(v),
            None => Err(ProbeFailure::File(format!(
                "loading it ended the probe process ({status}) before it could report"
            ))),
        }
    }
}
