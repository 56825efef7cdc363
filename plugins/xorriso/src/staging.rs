//! Private, stable copies of put sources, kept until the commit that stores them succeeds.
//!
//! xorriso's `-map` only records a path; the content is read at commit time, not when
//! the file is mapped.
//! A source changed before the commit would store the new content, and a deleted one a
//! zero-filled file. So every put first copies its source here, and `-map` points at the
//! copy. How the copy is made:
//!
//! 1. `FICLONE` (reflink): instant and space-free on btrfs, XFS, bcachefs…; the clone is
//!    copy-on-write, so later in-place changes to the source do not reach it.
//! 2. Otherwise a full copy (`std::fs::copy`, which uses `copy_file_range`).
//!
//! Hard links are never used for put: they share the inode, so a caller rewriting the file in
//! place would change what gets committed. Only `move_in` renames the source in (the caller
//! gives it up), falling back to a copy across filesystems.
//!
//! The staging directory is `.<image name>.stowage-staging` beside the image (same filesystem,
//! so reflinks and renames work), or a private temporary directory if that one cannot be
//! created (read-only directory, optical drives). It is only ever used under the medium's
//! lock, so leftovers found at open come from a crashed run and are removed.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// `FICLONE` = `_IOW(0x94, 9, int)`.
const FICLONE: u64 = 0x4004_9409;

/// A staged copy of a put source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staged {
    pub path: PathBuf,
    pub size: u64,
}

/// How `stage_move` got the file in, so a failed move can be undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveKind {
    /// The source was renamed into staging (rename it back on failure).
    Renamed,
    /// The source was copied; remove it once the move has succeeded.
    Copied,
}

/// The staging directory of one backend.
#[derive(Debug)]
pub struct Staging {
    dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    counter: AtomicU64,
}

impl Staging {
    /// Use `preferred` (created if needed, emptied if left over), else a temporary directory.
    pub fn new(preferred: Option<PathBuf>) -> Result<Self> {
        if let Some(dir) = preferred {
            match prepare_dir(&dir) {
                Ok(()) => {
                    return Ok(Staging {
                        dir,
                        _temp: None,
                        counter: AtomicU64::new(0),
                    })
                }
                Err(e) => {
                    log::info!("cannot use {dir:?} for staging ({e}); using a temporary directory")
                }
            }
        }
        let t = tempfile::Builder::new()
            .prefix("stowage-xorriso-staging-")
            .tempdir()
            .map_err(|e| Error::io("cannot create a temporary staging directory", e))?;
        Ok(Staging {
            dir: t.path().to_path_buf(),
            _temp: Some(t),
            counter: AtomicU64::new(0),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn next_path(&self) -> PathBuf {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        self.dir.join(format!("put-{n:08}"))
    }

    /// Make a stable private copy of `src`.
    pub fn stage_copy(&self, src: &Path) -> Result<Staged> {
        let input = File::open(src)
            .map_err(|e| Error::io(format!("put: cannot read the local file {src:?}"), e))?;
        let meta = input
            .metadata()
            .map_err(|e| Error::io(format!("put: cannot stat {src:?}"), e))?;
        if !meta.is_file() {
            return Err(Error::io(
                format!("put: {src:?} is not a regular file"),
                io::Error::from_raw_os_error(libc::EISDIR),
            ));
        }
        let dst = self.next_path();
        let out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&dst)
            .map_err(|e| Error::io(format!("cannot create the staged copy {dst:?}"), e))?;
        let result = clone_or_copy(&input, &out, src, &dst);
        let size = result.and_then(|()| {
            out.metadata()
                .map(|m| m.len())
                .map_err(|e| Error::io(format!("cannot stat {dst:?}"), e))
        });
        match size {
            Ok(size) => Ok(Staged { path: dst, size }),
            Err(e) => {
                let _ = std::fs::remove_file(&dst);
                Err(e)
            }
        }
    }

    /// Take over `src` for `move_in`: rename it in, or copy it if it is on another filesystem.
    pub fn stage_move(&self, src: &Path) -> Result<(Staged, MoveKind)> {
        let meta = std::fs::metadata(src)
            .map_err(|e| Error::io(format!("move: cannot stat the local file {src:?}"), e))?;
        if !meta.is_file() {
            return Err(Error::io(
                format!("move: {src:?} is not a regular file"),
                io::Error::from_raw_os_error(libc::EISDIR),
            ));
        }
        let dst = self.next_path();
        match std::fs::rename(src, &dst) {
            Ok(()) => {
                let size = std::fs::metadata(&dst)
                    .map_err(|e| Error::io(format!("cannot stat {dst:?}"), e))?
                    .len();
                Ok((Staged { path: dst, size }, MoveKind::Renamed))
            }
            Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
                Ok((self.stage_copy(src)?, MoveKind::Copied))
            }
            Err(e) => Err(Error::io(
                format!("move: cannot move {src:?} into staging"),
                e,
            )),
        }
    }

    /// Copy a staged file to `dst` (get of a not yet committed put).
    pub fn copy_out(&self, staged: &Staged, dst: &Path) -> Result<u64> {
        let input = File::open(&staged.path)
            .map_err(|e| Error::io(format!("cannot read the staged copy {:?}", staged.path), e))?;
        let out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(dst)
            .map_err(|e| Error::io(format!("get: cannot create {dst:?}"), e))?;
        clone_or_copy(&input, &out, &staged.path, dst)?;
        out.sync_all()
            .map_err(|e| Error::io(format!("get: cannot sync {dst:?}"), e))?;
        out.metadata()
            .map(|m| m.len())
            .map_err(|e| Error::io(format!("get: cannot stat {dst:?}"), e))
    }

    /// Forget a staged file.
    pub fn discard(&self, staged: &Staged) {
        if let Err(e) = std::fs::remove_file(&staged.path) {
            if e.kind() != io::ErrorKind::NotFound {
                log::warn!("cannot remove the staged copy {:?}: {e}", staged.path);
            }
        }
    }

    /// Remove the directory (a temporary one goes with `Drop`).
    pub fn remove(&self) {
        if self._temp.is_none() {
            if let Err(e) = std::fs::remove_dir_all(&self.dir) {
                if e.kind() != io::ErrorKind::NotFound {
                    log::warn!("cannot remove the staging directory {:?}: {e}", self.dir);
                }
            }
        }
    }
}

fn prepare_dir(dir: &Path) -> io::Result<()> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.is_dir() {
        return Err(io::Error::other("exists and is not a directory"));
    }
    let mut n = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        std::fs::remove_file(entry.path())?;
        n += 1;
    }
    if n > 0 {
        log::warn!(
            "removed {n} staged file(s) left in {dir:?} by an earlier run that did not close; \
             those puts were never committed"
        );
    }
    Ok(())
}

fn clone_or_copy(input: &File, out: &File, src: &Path, dst: &Path) -> Result<()> {
    // SAFETY: FICLONE takes the source descriptor as its argument; both descriptors are open.
    let r = unsafe { libc::ioctl(out.as_raw_fd(), FICLONE as _, input.as_raw_fd()) };
    if r == 0 {
        log::trace!("reflinked {src:?} to {dst:?}");
        return Ok(());
    }
    let mut reader = input;
    let mut writer = out;
    io::copy(&mut reader, &mut writer)
        .map(|_| ())
        .map_err(|e| Error::io(format!("cannot copy {src:?} to {dst:?}"), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_is_stable_and_leftovers_are_cleaned() {
        let d = tempfile::tempdir().unwrap();
        let sd = d.path().join(".img.iso.stowage-staging");
        std::fs::create_dir(&sd).unwrap();
        std::fs::write(sd.join("put-00000007"), b"old").unwrap();
        let st = Staging::new(Some(sd.clone())).unwrap();
        assert_eq!(std::fs::read_dir(&sd).unwrap().count(), 0);
        let src = d.path().join("src");
        std::fs::write(&src, b"hello").unwrap();
        let s = st.stage_copy(&src).unwrap();
        assert_eq!(s.size, 5);
        std::fs::write(&src, b"HELLO WORLD").unwrap();
        assert_eq!(std::fs::read(&s.path).unwrap(), b"hello");
        let (m, kind) = st.stage_move(&src).unwrap();
        assert_eq!(kind, MoveKind::Renamed);
        assert!(!src.exists());
        assert_eq!(m.size, 11);
        let e = st.stage_copy(&d.path().join("missing")).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::NotFound);
        st.remove();
        assert!(!sd.exists());
    }
}
