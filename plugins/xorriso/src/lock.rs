//! Exclusive lock on the medium for a backend's lifetime: xorriso itself does not
//! stop two writers from appending sessions to one image at once.
//!
//! xorriso does not lock image files: two processes committing to one image both "succeed"
//! and the second overwrites the first's session. We take `flock(LOCK_EX | LOCK_NB)` on the
//! image file itself before xorriso loads it, and hold it until the backend is closed. A
//! second backend (another process, or another open file description in this one) fails at
//! once with [`ErrorKind::InUse`](crate::ErrorKind::InUse) instead of waiting or racing.
//!
//! Locking the image (not a sidecar file) works on read-only media and leaves no extra
//! files; a missing image is created empty first (an empty file is a blank medium to
//! xorriso) and removed again at close if nothing was ever committed. After taking the lock
//! we check that the path still names the locked inode, so a concurrent compaction (which
//! renames a new image over the old one) or removal cannot hand us a stale file.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A held `flock` on an image file or drive node.
#[derive(Debug)]
pub struct MediumLock {
    file: File,
    path: PathBuf,
    /// We created the (empty) image file.
    pub created: bool,
    /// The image file can be opened for writing.
    pub writable: bool,
}

impl MediumLock {
    /// Lock the image file at `path`, creating it empty if it does not exist.
    pub fn image(path: &Path) -> Result<Self> {
        for _ in 0..10 {
            let (file, created, writable) = open_or_create(path)?;
            try_flock(&file, path)?;
            // Same inode still at the path?
            let ours = file
                .metadata()
                .map_err(|e| Error::io(format!("cannot stat {path:?}"), e))?;
            match std::fs::metadata(path) {
                Ok(now) if now.dev() == ours.dev() && now.ino() == ours.ino() => {
                    if !ours.is_file() {
                        return Err(Error::InvalidUrl {
                            url: path.display().to_string(),
                            reason: "not a regular file (use an image file or an optical drive)"
                                .into(),
                        });
                    }
                    return Ok(MediumLock {
                        file,
                        path: path.to_path_buf(),
                        created,
                        writable,
                    });
                }
                _ => continue, // replaced or removed under us: try again
            }
        }
        Err(Error::InUse {
            path: path.to_path_buf(),
        })
    }

    /// Lock a drive's device node (xorriso also opens drives with O_EXCL).
    pub fn drive(path: &Path) -> Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => Error::NoDrive {
                    path: path.to_path_buf(),
                },
                _ => Error::io(format!("cannot open the drive {path:?}"), e),
            })?;
        try_flock(&file, path)?;
        Ok(MediumLock {
            file,
            path: path.to_path_buf(),
            created: false,
            writable: true,
        })
    }

    /// The locked path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Size of the locked file now.
    pub fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    /// The locked file (for fsync, truncation and head backups on rollback).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Move the lock to `new` (an image about to be renamed over ours): lock it first, so
    /// there is no moment where the path is unlocked.
    pub fn lock_replacement(&self, new: &Path) -> Result<MediumLock> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(new)
            .map_err(|e| Error::io(format!("cannot open {new:?}"), e))?;
        try_flock(&file, new)?;
        Ok(MediumLock {
            file,
            path: self.path.clone(),
            created: false,
            writable: true,
        })
    }

    /// Remove the image file if we created it and it is still empty (nothing committed).
    /// Called while the lock is held, just before it is released.
    pub fn remove_if_created_empty(&self) {
        if !self.created {
            return;
        }
        let ours = match self.file.metadata() {
            Ok(m) => m,
            Err(_) => return,
        };
        if ours.len() != 0 {
            return;
        }
        if let Ok(now) = std::fs::metadata(&self.path) {
            if now.dev() == ours.dev() && now.ino() == ours.ino() {
                match std::fs::remove_file(&self.path) {
                    Ok(()) => log::debug!("removed the empty image {:?} we created", self.path),
                    Err(e) => log::warn!("cannot remove the empty image {:?}: {e}", self.path),
                }
            }
        }
    }
}

impl Drop for MediumLock {
    /// Unlock explicitly: a child process forked by another thread holds a copy of our
    /// descriptor until its `exec`, and merely closing ours would leave the lock held by that
    /// copy for a moment (a spurious InUse for whoever opens the medium next).
    fn drop(&mut self) {
        // SAFETY: flock on a descriptor we own; no memory is passed.
        unsafe {
            libc::flock(self.file.as_raw_fd(), libc::LOCK_UN);
        }
    }
}

fn open_or_create(path: &Path) -> Result<(File, bool, bool)> {
    let rw = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOCTTY)
        .open(path);
    match rw {
        Ok(f) => return Ok((f, false, true)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) if is_read_only(&e) => {
            let f = OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_CLOEXEC | libc::O_NOCTTY)
                .open(path)
                .map_err(|e| Error::io(format!("cannot open {path:?}"), e))?;
            return Ok((f, false, false));
        }
        Err(e) if e.raw_os_error() == Some(libc::EISDIR) => {
            return Err(Error::InvalidUrl {
                url: path.display().to_string(),
                reason: "is a directory; give the path of an image file inside it".into(),
            })
        }
        Err(e) => return Err(Error::io(format!("cannot open {path:?}"), e)),
    }
    match OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => {
            log::info!("creating a new image {path:?}");
            Ok((f, true, true))
        }
        // Someone else created it between our two opens: open theirs (the lock decides).
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => open_or_create(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Error::io(
            format!(
                "cannot create the image {path:?}: its directory {:?} does not exist",
                path.parent().unwrap_or(Path::new("/"))
            ),
            e,
        )),
        Err(e) => Err(Error::io(format!("cannot create the image {path:?}"), e)),
    }
}

/// EACCES, EPERM (immutable file), EROFS (read-only mount).
pub fn is_read_only(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EROFS)
    )
}

fn try_flock(file: &File, path: &Path) -> Result<()> {
    loop {
        // SAFETY: flock on a file descriptor we own; no memory is passed.
        let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if r == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EWOULDBLOCK) => {
                return Err(Error::InUse {
                    path: path.to_path_buf(),
                })
            }
            _ => return Err(Error::io(format!("cannot lock {path:?}"), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn second_lock_is_refused_and_created_file_removed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("img.iso");
        let a = MediumLock::image(&p).unwrap();
        assert!(a.created && a.writable);
        let e = MediumLock::image(&p).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InUse, "{e}");
        a.remove_if_created_empty();
        drop(a);
        assert!(!p.exists());
        let missing = dir.path().join("no/such/dir/img.iso");
        let e = MediumLock::image(&missing).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
        let e = MediumLock::image(dir.path()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    }
}
