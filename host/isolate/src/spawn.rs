//! Starting a child: `stowage __serve-plugin` with its socket at fd 3, in
//! its own process group, killed when the host dies, without new
//! privileges, under resource limits, optionally as another user.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::frame::Channel;
use crate::protocol::SOCKET_ENV;

/// The descriptor number the child finds its socket at.
const CHILD_SOCKET_FD: i32 = 3;

/// The variables a child inherits, by exact name: what the C library, the
/// Rust runtime and the network plugins read (`HOME` for `~/.ssh`,
/// `~/.netrc` and `~/.aws`; `USER` for sftp's default login; the agent's
/// socket; TLS trust roots; proxies).
const INHERITED: &[&str] = &[
    "HOME",
    "USER",
    "LOGNAME",
    "PATH",
    "LANG",
    "LANGUAGE",
    "TZ",
    "RUST_LOG",
    "RUST_BACKTRACE",
    "SSH_AUTH_SOCK",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
];

/// The variables a child inherits, by prefix: the locale, the S3 plugin's
/// credentials and region (`AWS_*`), and stowage's own (`STOWAGE_*`, e.g.
/// the WebDAV plugin's user and password).
const INHERITED_PREFIXES: &[&str] = &["LC_", "AWS_", "STOWAGE_"];

/// What of the host's environment `vars` a child gets: the allowlist
/// above, nothing else (a token or password in the host's environment for
/// some other program stays out of a plugin's reach). `TMPDIR` is set to
/// the child's staging directory separately.
pub fn child_environment(
    vars: impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    vars.filter(|(name, _)| {
        name.to_str().is_some_and(|n| {
            INHERITED.contains(&n) || INHERITED_PREFIXES.iter().any(|p| n.starts_with(p))
        })
    })
    .collect()
}

/// Resource limits of a child (soft and hard); `None` leaves the host's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `RLIMIT_AS`: address space in bytes.
    pub address_space: Option<u64>,
    /// `RLIMIT_NPROC`: processes of the child's real user (the kernel does
    /// not apply it to root: see docs/isolation.md).
    pub processes: Option<u64>,
    /// `RLIMIT_NOFILE`: open descriptors.
    pub open_files: Option<u64>,
}

impl Default for Limits {
    /// 4 GiB of address space, 256 processes, 1024 open files.
    fn default() -> Self {
        Self {
            address_space: Some(4 << 30),
            processes: Some(256),
            open_files: Some(1024),
        }
    }
}

/// An unprivileged user to run children as (when the host is root).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct User {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
}

/// How to start a child.
#[derive(Clone, Debug)]
pub struct SpawnSpec {
    /// The `stowage` executable.
    pub program: PathBuf,
    /// Arguments (the hidden subcommand).
    pub args: Vec<String>,
    /// Limits.
    pub limits: Limits,
    /// Drop to this user after fork.
    pub user: Option<User>,
    /// Let the child's stderr through (debugging); otherwise it is
    /// discarded, as its logs travel over the socket.
    pub stderr: bool,
    /// The child's `TMPDIR`: its staging directory, the one place it may
    /// create temporary files when confined.
    pub tmpdir: PathBuf,
}

/// A running child and the host's end of its socket.
#[derive(Debug)]
pub struct Spawned {
    /// The process (its pid is also its process group id).
    pub child: Child,
    /// The host's end.
    pub channel: Channel,
}

type Job = Box<dyn FnOnce() + Send>;

/// `PR_SET_PDEATHSIG` fires when the *thread* that forked the child ends,
/// not the process: children are therefore forked by one thread that lives
/// as long as the process, whatever thread asked for them.
fn spawner() -> &'static Mutex<mpsc::Sender<Job>> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("stowage-isolate-spawner".into())
            .spawn(move || {
                for job in rx {
                    job();
                }
            })
            .expect("cannot start the thread that starts plugin children");
        Mutex::new(tx)
    })
}

/// Starts a child as `spec` says.
pub fn spawn(spec: &SpawnSpec) -> io::Result<Spawned> {
    let (host_end, child_end) = UnixStream::pair()?;
    let spec = spec.clone();
    let child_end: OwnedFd = child_end.into();
    let (tx, rx) = mpsc::channel();
    let job: Job = Box::new(move || {
        let _ = tx.send(start(&spec, child_end));
    });
    spawner()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send(job)
        .map_err(|_| io::Error::other("the spawner thread is gone"))?;
    let child = rx
        .recv()
        .map_err(|_| io::Error::other("the spawner thread is gone"))??;
    Ok(Spawned {
        child,
        channel: Channel::read_ahead(host_end.into()),
    })
}

fn start(spec: &SpawnSpec, child_end: OwnedFd) -> io::Result<Child> {
    let parent = std::process::id() as libc::pid_t;
    let socket = child_end.as_raw_fd();
    let limits = spec.limits;
    let user = spec.user;
    let mut command = Command::new(&spec.program);
    command
        .args(&spec.args)
        .env_clear()
        .envs(child_environment(std::env::vars_os()))
        .env(SOCKET_ENV, CHILD_SOCKET_FD.to_string())
        .env("TMPDIR", &spec.tmpdir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(if spec.stderr {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .process_group(0);
    // SAFETY: the closure runs between fork and exec and only makes
    // async-signal-safe system calls (prctl, getppid, setrlimit, dup2,
    // fcntl, setgroups, setgid, setuid); it allocates nothing.
    unsafe {
        command.pre_exec(move || {
            // First: a change of user clears the parent-death signal.
            if let Some(u) = user {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(u.gid) != 0
                    || libc::setuid(u.uid) != 0
                {
                    return Err(io::Error::last_os_error());
                }
            }
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The host may have died before the line above took effect.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            let set = |resource, value: Option<u64>| -> io::Result<()> {
                if let Some(v) = value {
                    let limit = libc::rlimit {
                        rlim_cur: v,
                        rlim_max: v,
                    };
                    if libc::setrlimit(resource, &limit) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
                Ok(())
            };
            set(libc::RLIMIT_AS, limits.address_space)?;
            set(libc::RLIMIT_NPROC, limits.processes)?;
            set(libc::RLIMIT_NOFILE, limits.open_files)?;
            if socket == CHILD_SOCKET_FD {
                if libc::fcntl(socket, libc::F_SETFD, 0) != 0 {
                    return Err(io::Error::last_os_error());
                }
            } else if libc::dup2(socket, CHILD_SOCKET_FD) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command.spawn();
    drop(child_end);
    child
}

/// Kills the child's whole process group (whatever it forked too) and
/// reaps the child. The group is killed before the leader is reaped, so
/// its id cannot have been reused.
pub fn kill(child: &mut Child) -> Option<std::process::ExitStatus> {
    let pgid = child.id() as libc::pid_t;
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
    child.wait().ok()
}

/// Waits up to `grace` for the child to end by itself (it does once its
/// socket closes), then kills what is left of its group.
pub fn finish(child: &mut Child, grace: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + grace;
    let pid = rustix::process::Pid::from_raw(child.id() as i32);
    loop {
        let exited = rustix::process::waitid(
            rustix::process::WaitId::Pid(pid?),
            rustix::process::WaitIdOptions::EXITED
                | rustix::process::WaitIdOptions::NOWAIT
                | rustix::process::WaitIdOptions::NOHANG,
        );
        match exited {
            Ok(Some(_)) | Err(_) => return kill(child),
            Ok(None) if Instant::now() >= deadline => return kill(child),
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_allowlist_reaches_a_child() {
        let host = [
            ("HOME", "/root"),
            ("LC_ALL", "C.UTF-8"),
            ("AWS_SECRET_ACCESS_KEY", "for s3"),
            ("STOWAGE_WEBDAV_PASSWORD", "for webdav"),
            ("GITHUB_TOKEN", "not for plugins"),
            ("DATABASE_PASSWORD", "not for plugins"),
            ("LD_PRELOAD", "/tmp/evil.so"),
            ("PATHOLOGICAL", "a prefix of PATH is not PATH"),
        ]
        .map(|(k, v)| (k.into(), v.into()));
        let names: Vec<_> = child_environment(host.into_iter())
            .into_iter()
            .map(|(k, _)| k.into_string().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "HOME",
                "LC_ALL",
                "AWS_SECRET_ACCESS_KEY",
                "STOWAGE_WEBDAV_PASSWORD"
            ]
        );
    }
}
