//! Host-wide locks: `flock` on files in a local lock directory, keyed by a
//! hash of the store URL (and the space name).
//!
//! Every handle on a store holds the store lock shared; garbage collection
//! needs it exclusively, so it never runs while another handle could be
//! uploading. A space is held exclusively by a writer and shared by
//! readers. The kernel drops a dead process's locks, so `kill -9` leaves
//! nothing to clean. Locks do not reach other machines.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::{fchmod, fstat, openat, unlinkat, AtFlags, Mode, OFlags, CWD};
use rustix::io::Errno;
use rustix::process::geteuid;

use crate::error::{SpaceError, SpaceResult};
use crate::hash::sha256_hex;
use crate::time::{iso8601, now_unix};

/// Environment variable naming the lock directory.
pub const LOCK_DIR_ENV: &str = "STOWAGE_LOCK_DIR";

/// The directory for lock files: `$STOWAGE_LOCK_DIR`; else, for root,
/// `/run/lock/stowage-spaces` (when `/run/lock` exists); else
/// `$XDG_RUNTIME_DIR/stowage-spaces`; else `/tmp/stowage-spaces-<uid>`.
///
/// Each user has their own: a lock directory must belong to the user (or
/// root) and not be writable by anyone else, and lock files are 0600, so
/// no other user can hold, block or remove a lock.
pub fn lock_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(LOCK_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let uid = geteuid().as_raw();
    if uid == 0 && Path::new("/run/lock").is_dir() {
        return PathBuf::from("/run/lock/stowage-spaces");
    }
    if let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute())
    {
        return runtime.join("stowage-spaces");
    }
    PathBuf::from(format!("/tmp/stowage-spaces-{uid}"))
}

fn unsafe_dir(dir: &Path, detail: String) -> SpaceError {
    SpaceError::UnsafePath {
        path: dir.to_path_buf(),
        detail: format!("{detail}; refusing it as a lock directory"),
    }
}

/// Opens the lock directory (creating it 0700), refusing one that another
/// user owns or could write to.
fn open_lock_dir(dir: &Path) -> SpaceResult<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = match openat(CWD, dir, flags, Mode::empty()) {
        Err(Errno::NOENT) => {
            match fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
            {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(SpaceError::local(dir, e)),
            }
            openat(CWD, dir, flags, Mode::empty())
        }
        other => other,
    };
    let fd = fd.map_err(|e| match e {
        Errno::LOOP | Errno::NOTDIR => unsafe_dir(dir, "not a directory (or a symlink)".into()),
        e => SpaceError::local(dir, e.into()),
    })?;
    let st = fstat(&fd).map_err(|e| SpaceError::local(dir, e.into()))?;
    let me = geteuid().as_raw();
    if st.st_uid != me && st.st_uid != 0 {
        return Err(unsafe_dir(
            dir,
            format!(
                "owned by uid {}, neither this user ({me}) nor root",
                st.st_uid
            ),
        ));
    }
    if st.st_mode & 0o022 != 0 && st.st_uid == me {
        // Ours, made shared (1777) by an older stowage: made private.
        // Other users' files left in it are refused or replaced below.
        log::warn!(
            "{}: made private (it was mode {:04o})",
            dir.display(),
            st.st_mode & 0o7777
        );
        fchmod(&fd, Mode::from_raw_mode(0o700)).map_err(|e| SpaceError::local(dir, e.into()))?;
    } else if st.st_mode & 0o022 != 0 {
        return Err(unsafe_dir(
            dir,
            format!(
                "writable by group or others (mode {:04o})",
                st.st_mode & 0o7777
            ),
        ));
    }
    Ok(fd)
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

/// Opens (creating, 0600) the lock file at `path`, read-write, through
/// its checked directory.
fn open_lock_file(path: &Path) -> SpaceResult<File> {
    let (dir, name) = split(path)?;
    let dir_fd = open_lock_dir(dir)?;
    let fd = openat(
        &dir_fd,
        name,
        OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
    .map_err(|e| SpaceError::local(path, e.into()))?;
    let st = fstat(&fd).map_err(|e| SpaceError::local(path, e.into()))?;
    if st.st_uid != geteuid().as_raw() && dir_is_mine(&dir_fd) {
        // Left by another user when the directory was shared: ours to
        // replace (only we can write the directory now).
        log::warn!(
            "{}: replacing a lock file of uid {}",
            path.display(),
            st.st_uid
        );
        drop(fd);
        unlinkat(&dir_fd, name, AtFlags::empty()).map_err(|e| SpaceError::local(path, e.into()))?;
        return open_lock_file(path);
    }
    if st.st_uid != geteuid().as_raw() {
        return Err(SpaceError::UnsafePath {
            path: path.to_path_buf(),
            detail: format!("lock file owned by uid {}, not by this user", st.st_uid),
        });
    }
    if st.st_mode & 0o077 != 0 {
        // Made by an older stowage (0644): ours, so made private.
        fchmod(&fd, Mode::from_raw_mode(0o600)).map_err(|e| SpaceError::local(path, e.into()))?;
    }
    Ok(File::from(fd))
}

fn dir_is_mine(dir: &OwnedFd) -> bool {
    fstat(dir).is_ok_and(|st| st.st_uid == geteuid().as_raw())
}

fn split(path: &Path) -> SpaceResult<(&Path, &std::ffi::OsStr)> {
    match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => Ok((dir, name)),
        _ => Err(SpaceError::InvalidInput(format!(
            "{}: not a lock file path",
            path.display()
        ))),
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
    pub fn try_lock(path: &Path, exclusive: bool) -> SpaceResult<Option<Self>> {
        let file = open_lock_file(path)?;
        if flock(&file, op(exclusive)).map_err(|e| SpaceError::local(path, e))? {
            Ok(Some(Self {
                file,
                path: path.to_path_buf(),
            }))
        } else {
            Ok(None)
        }
    }

    /// Takes the lock, polling for up to `wait`.
    pub fn lock_within(path: &Path, exclusive: bool, wait: Duration) -> SpaceResult<Option<Self>> {
        let file = open_lock_file(path)?;
        let start = Instant::now();
        loop {
            if flock(&file, op(exclusive)).map_err(|e| SpaceError::local(path, e))? {
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
        let written = split(&info)
            .map_err(|e| io::Error::other(e.to_string()))
            .and_then(|(dir, name)| {
                let dir_fd = open_lock_dir(dir).map_err(|e| io::Error::other(e.to_string()))?;
                let fd = openat(
                    &dir_fd,
                    name,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::TRUNC
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o644),
                )?;
                File::from(fd).write_all(text.as_bytes())
            });
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
