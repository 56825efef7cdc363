//! Server processes: spawn, readiness, stop by pid.

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (bound and released; the OS does not hand
/// it out again at once).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding a free loopback port")
        .port()
}

/// Polls `ready` until it is true or `deadline` passes.
pub fn wait_for(
    what: &str,
    deadline: Duration,
    mut ready: impl FnMut() -> bool,
) -> Result<(), String> {
    let start = Instant::now();
    while start.elapsed() < deadline {
        if ready() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!("{what} not ready within {deadline:?}"))
}

/// A running server process, killed (by pid) when dropped.
#[derive(Debug)]
pub struct Server {
    name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Server {
    /// Spawns `cmd` with stdout and stderr appended to `log`.
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> Self {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("opening {}: {e}", log.display()));
        let err = out.try_clone().expect("duplicating the log descriptor");
        // Its own process group, so that stopping it also stops the
        // processes it forks (sshd's per-connection children, nginx's
        // workers).
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name} ({cmd:?}): {e}"));
        Self {
            name: name.to_string(),
            child: Some(child),
            log: log.to_path_buf(),
        }
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// What the server wrote so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `port` on 127.0.0.1 accepts connections; panics with
    /// the server's log when it exits or the deadline passes.
    pub fn wait_port(&mut self, port: u16, deadline: Duration) {
        let name = self.name.clone();
        let result = wait_for(&name, deadline, || {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("{name} exited ({status}) while starting:\n{}", self.log());
            }
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        if let Err(e) = result {
            panic!("{e}:\n{}", self.log());
        }
    }

    /// Kills the process and its group at once (SIGKILL) and reaps it: a
    /// crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal_group(&child, libc::SIGKILL);
            let _ = child.wait();
        }
    }

    /// Asks the process to stop (SIGTERM), waits up to 5 s, then kills it.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        signal_group(&child, libc::SIGTERM);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        signal_group(&child, libc::SIGKILL);
        let _ = child.wait();
    }
}

/// Sends `signal` to the process group led by `child` (its pid, since it
/// was spawned with `process_group(0)`).
fn signal_group(child: &Child, signal: libc::c_int) {
    // SAFETY: kill(2) on the group of our own child, which is not reaped
    // yet, so its pid (and group id) cannot have been reused.
    unsafe {
        libc::kill(-(child.id() as libc::pid_t), signal);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
