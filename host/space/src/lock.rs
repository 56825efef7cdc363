//! Host-wide locks: `flock` on files in a local lock directory, keyed by a
//! hash of the store URL (and the space name).
//!
//! Every handle on a store holds the store lock shared; garbage collection
//! needs it exclusively, so it never runs while another handle could be
//! uploading. A space is held exclusively by a writer and shared by
//! readers. The kernel drops a dead process's locks, so `kill -9` leaves
//! nothing to clean. Locks do not reach other machines.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::hash::sha256_hex;
use crate::time::{iso8601, now_unix};

/// Environment variable naming the lock directory.
pub const LOCK_DIR_ENV: &str = "STOWAGE_LOCK_DIR";

/// The directory for lock files: `$STOWAGE_LOCK_DIR`, else
/// `/run/lock/stowage-spaces` when `/run/lock` exists, else
/// `/tmp/stowage-spaces`. Shared by all users (mode 1777, like `/tmp`).
pub fn lock_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(LOCK_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if Path::new("/run/lock").is_dir() {
        PathBuf::from("/run/lock/stowage-spaces")
    } else {
        PathBuf::from("/tmp/stowage-spaces")
    }
}

fn ensure_dir(dir: &Path) -> io::Result<()> {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => return Ok(()),
        Ok(_) => {
            return Err(io::Error::other(format!(
                "{} is not a directory",
                dir.display()
            )))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    match fs::DirBuilder::new().mode(0o1777).create(dir) {
        Ok(()) => fs::set_permissions(dir, fs::Permissions::from_mode(0o1777)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// The lock file for a store (`space` = `None`) or one of its spaces.
pub fn lock_path(url: &str, space: Option<&str>) -> PathBuf {
    let key = match space {
        Some(s) => format!("{url}\0{s}"),
        None => url.to_string(),
    };
    let hash = sha256_hex(key.as_bytes());
    let kind = if space.is_some() { "space" } else { "store" };
    lock_dir().join(format!("{}.{kind}.lock", &hash[..40]))
}

/// A held `flock`. Released when dropped (or when the process dies).
#[derive(Debug)]
pub struct FileLock {
    file: File,
    path: PathBuf,
}

fn open_lock_file(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent() {
        ensure_dir(dir)?;
    }
    let rw = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path);
    match rw {
        // Another user's lock file: a read-only descriptor can be locked too.
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path),
        other => other,
    }
}

fn flock(file: &File, op: libc::c_int) -> io::Result<bool> {
    loop {
        // SAFETY: flock on a descriptor we own; no memory is passed.
        if unsafe { libc::flock(file.as_raw_fd(), op | libc::LOCK_NB) } == 0 {
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EWOULDBLOCK) => return Ok(false),
            _ => return Err(e),
        }
    }
}

fn op(exclusive: bool) -> libc::c_int {
    if exclusive {
        libc::LOCK_EX
    } else {
        libc::LOCK_SH
    }
}

impl FileLock {
    /// Takes the lock at `path` without waiting; `Ok(None)` when it is held
    /// in a conflicting mode (by any other open file, in any process).
    pub fn try_lock(path: &Path, exclusive: bool) -> io::Result<Option<Self>> {
        let file = open_lock_file(path)?;
        if flock(&file, op(exclusive))? {
            Ok(Some(Self {
                file,
                path: path.to_path_buf(),
            }))
        } else {
            Ok(None)
        }
    }

    /// Takes the lock, polling for up to `wait`.
    pub fn lock_within(path: &Path, exclusive: bool, wait: Duration) -> io::Result<Option<Self>> {
        let file = open_lock_file(path)?;
        let start = Instant::now();
        loop {
            if flock(&file, op(exclusive))? {
                return Ok(Some(Self {
                    file,
                    path: path.to_path_buf(),
                }));
            }
            if start.elapsed() >= wait {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Tries to turn a shared lock exclusive. On `Ok(false)` the lock is
    /// shared again (the kernel may drop it in between: conversions are
    /// not atomic).
    pub fn try_upgrade(&self, wait_for_shared: Duration) -> io::Result<bool> {
        if flock(&self.file, libc::LOCK_EX)? {
            return Ok(true);
        }
        self.relock_shared(wait_for_shared)?;
        Ok(false)
    }

    /// Makes the lock shared again (waiting up to `wait`).
    pub fn relock_shared(&self, wait: Duration) -> io::Result<()> {
        let start = Instant::now();
        while !flock(&self.file, libc::LOCK_SH)? {
            if start.elapsed() >= wait {
                return Err(io::Error::other(format!(
                    "could not take {} back",
                    self.path.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Records who holds the lock in a file beside it (best effort), for
    /// the "in use" message of the next comer.
    pub fn record_holder(&self) {
        let info = self.path.with_extension("holder");
        let text = format!(
            "pid {} on {}, since {}\n",
            std::process::id(),
            hostname(),
            iso8601(now_unix())
        );
        let written = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&info)
            .and_then(|mut f| f.write_all(text.as_bytes()));
        if let Err(e) = written {
            log::debug!("cannot record the lock holder in {}: {e}", info.display());
        }
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // Unlock explicitly: a child forked by another thread shares the
        // open file description until it execs, and closing our descriptor
        // alone would leave the lock held that long.
        // SAFETY: flock on a descriptor we own; no memory is passed.
        unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
    }
}

/// Who last recorded holding the lock at `path`.
pub fn holder(path: &Path) -> Option<String> {
    let text = fs::read_to_string(path.with_extension("holder")).ok()?;
    let line = text.lines().next()?.trim();
    (!line.is_empty() && line.len() < 300).then(|| line.to_string())
}

fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "this host".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_excludes_shared_shares() {
        let dir = std::env::temp_dir().join(format!("stowage-lock-test-{}", std::process::id()));
        let path = dir.join("a.lock");
        let one = FileLock::try_lock(&path, false).unwrap().unwrap();
        let two = FileLock::try_lock(&path, false).unwrap().unwrap();
        assert!(FileLock::try_lock(&path, true).unwrap().is_none());
        assert!(!one.try_upgrade(Duration::from_secs(1)).unwrap());
        drop(two);
        assert!(one.try_upgrade(Duration::from_secs(1)).unwrap());
        assert!(FileLock::try_lock(&path, false).unwrap().is_none());
        drop(one);
        assert!(FileLock::try_lock(&path, true).unwrap().is_some());
        let _ = fs::remove_dir_all(dir);
    }
}
