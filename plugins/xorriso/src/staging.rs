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
//! 2. Otherwise a full copy (`copy_file_range` in the kernel where it can, else read/write).
//!
//! Hard links are never used for put: they share the inode, so a caller rewriting the file in
//! place would change what gets committed. Only `move_in` renames the source in (the caller
//! gives it up), falling back to a copy across filesystems.
//!
//! The staging directory is `.<image name>.stowage-staging` beside the image (same filesystem,
//! so reflinks and renames work), or a private temporary directory if that one cannot be
//! created (read-only directory, optical drives). It is only ever used under the medium's
//! lock, so leftovers found at open come from a crashed run and are removed.
//!
//! The directory must be private: created `0700`, or, when it exists, a real directory (not
//! a symlink) that `fstat` shows owned by us and closed to group and others. Anything else
//! (left by another user to catch our copies, or to swap their content before the commit)
//! is refused with an error naming it. It is held open, and staged files are created and
//! checked relative to that descriptor, so no other user can create, open, link or replace
//! anything in it.
//!
//! Each staged copy's identity ([`FileIdentity`]: device, inode, size, mtime and ctime in
//! nanoseconds) is taken with `fstat` on its descriptor right after it is written, and taken
//! again with `fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW)` just before the commit: a copy
//! written, truncated, chmodded, replaced or removed in between is dropped and reported,
//! never committed. The ctime cannot be set back (every write, `chmod`, `chown` or
//! `utimensat` moves it; only setting the system clock back could), so a rewrite that restores size and mtime (`touch -d`) is caught
//! too. Nothing is read: this replaced a keyed hash taken while copying and a re-read of
//! every staged file before the commit. Only processes running as us or as root can reach
//! the copies at all (the directory is private), and on kernels before Linux 6.13 a change
//! within the clock tick of the `fstat` after staging, keeping the size, can keep the
//! timestamps (later kernels give a file whose times were just read a fresh, finer stamp at
//! its next change).

use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{fstat, openat, statat, unlinkat, AtFlags, Dir, FileType, Mode, OFlags, CWD};

use crate::error::{Error, Result};
use stowage_fs_common::{Change, FileIdentity};

/// `FICLONE` = `_IOW(0x94, 9, int)`.
const FICLONE: u64 = 0x4004_9409;

/// A staged copy of a put source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staged {
    /// The copy's path (what xorriso's `-map` reads).
    pub path: PathBuf,
    /// Its size when it was made.
    pub size: u64,
    /// What `fstat` said right after it was written (see [`Staging::verify`]).
    pub identity: FileIdentity,
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
    /// `dir`, open: staged files are created and checked relative to it.
    fd: OwnedFd,
    _temp: Option<tempfile::TempDir>,
    counter: AtomicU64,
}

impl Staging {
    /// Use `preferred` (created if needed, emptied if left over), else a temporary directory.
    ///
    /// # Errors
    /// `preferred` exists but is not a private directory of ours ([`Error::StagingNotPrivate`]).
    pub fn new(preferred: Option<PathBuf>) -> Result<Self> {
        if let Some(dir) = preferred {
            match prepare_dir(&dir) {
                Ok(fd) => {
                    return Ok(Staging {
                        dir,
                        fd,
                        _temp: None,
                        counter: AtomicU64::new(0),
                    })
                }
                Err(PrepareError::NotPrivate(reason)) => {
                    return Err(Error::StagingNotPrivate { path: dir, reason })
                }
                Err(PrepareError::Io(e)) => {
                    log::info!("cannot use {dir:?} for staging ({e}); using a temporary directory")
                }
            }
        }
        let t = tempfile::Builder::new()
            .prefix("stowage-xorriso-staging-")
            .tempdir()
            .map_err(|e| Error::io("cannot create a temporary staging directory", e))?;
        // Fresh under an unpredictable name; nobody else can have entered it yet.
        std::fs::set_permissions(
            t.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .map_err(|e| Error::io("cannot make the temporary staging directory private", e))?;
        let fd = open_private(t.path())
            .map_err(|e| Error::io("cannot open the temporary staging directory", e))?;
        Ok(Staging {
            dir: t.path().to_path_buf(),
            fd,
            _temp: Some(t),
            counter: AtomicU64::new(0),
        })
    }

    /// Whether the staged copy is still exactly the file that was staged: looked up relative
    /// to the staging directory's descriptor (no symlink followed), a regular file whose
    /// [`FileIdentity`] is the one taken when it was made. Nothing is read. `Err` says what
    /// differs.
    pub fn verify(&self, staged: &Staged) -> std::result::Result<(), String> {
        let name = staged.path.file_name().unwrap_or(OsStr::new(""));
        let st = statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| format!("{:?}: {}", staged.path, io::Error::from(e)))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Err(format!("{:?}: it is no longer a regular file", staged.path));
        }
        match staged.identity.change_to(&FileIdentity::of(&st)) {
            None => Ok(()),
            Some(change @ Change::Touched { .. }) => Err(format!(
                "{:?}: it was modified after it was staged ({change})",
                staged.path
            )),
            Some(change) => Err(format!("{:?}: {change}", staged.path)),
        }
    }

    /// Creates the next staged file, private, relative to the directory's descriptor.
    fn create_next(&self) -> Result<(PathBuf, File)> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let name = format!("put-{n:08}");
        let path = self.dir.join(&name);
        let fd = openat(
            &self.fd,
            name.as_str(),
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| Error::io(format!("cannot create the staged copy {path:?}"), e.into()))?;
        Ok((path, File::from(fd)))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
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
        let (dst, out) = self.create_next()?;
        // The identity is taken after the last write, on the descriptor written through.
        // (On NFS and CIFS, `fstat` flushes pending writes first, so the times it reports are
        // the server's final ones.)
        let identity = clone_or_copy(&input, &out, src, &dst).and_then(|()| {
            fstat(&out)
                .map(|st| FileIdentity::of(&st))
                .map_err(|e| Error::io(format!("cannot stat {dst:?}"), e.into()))
        });
        match identity {
            Ok(identity) => Ok(Staged {
                path: dst,
                size: identity.size(),
                identity,
            }),
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
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let dst = self.dir.join(format!("put-{n:08}"));
        match std::fs::rename(src, &dst) {
            Ok(()) => {
                // What was renamed in, not followed: a symlink (whose target `metadata` saw)
                // goes back where it came from.
                let name = dst.file_name().unwrap_or(OsStr::new(""));
                let st = statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| Error::io(format!("cannot stat {dst:?}"), e.into()));
                let st = match st {
                    Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile => st,
                    other => {
                        if let Err(e) = std::fs::rename(&dst, src) {
                            log::error!("cannot put {src:?} back from {dst:?}: {e}");
                        }
                        return Err(other.err().unwrap_or_else(|| {
                            Error::io(
                                format!("move: {src:?} is not a regular file"),
                                io::Error::from_raw_os_error(libc::EISDIR),
                            )
                        }));
                    }
                };
                let identity = FileIdentity::of(&st);
                let staged = Staged {
                    path: dst,
                    size: identity.size(),
                    identity,
                };
                Ok((staged, MoveKind::Renamed))
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
        let name = staged.path.file_name().unwrap_or(OsStr::new(""));
        match unlinkat(&self.fd, name, AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => {}
            Err(e) => log::warn!("cannot remove the staged copy {:?}: {e}", staged.path),
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

/// Why a preferred staging directory cannot be used.
enum PrepareError {
    /// It exists but is not ours and private: refuse, never fall back silently.
    NotPrivate(String),
    /// It cannot be created or read (read-only directory...): use a temporary one.
    Io(io::Error),
}

impl From<io::Error> for PrepareError {
    fn from(e: io::Error) -> Self {
        PrepareError::Io(e)
    }
}

impl From<rustix::io::Errno> for PrepareError {
    fn from(e: rustix::io::Errno) -> Self {
        PrepareError::Io(e.into())
    }
}

/// Opens `dir` without following a symlink and checks with `fstat` that it is a directory
/// owned by us and closed to group and others.
fn open_private(dir: &Path) -> io::Result<OwnedFd> {
    match open_checked(dir) {
        Ok(fd) => Ok(fd),
        Err(PrepareError::Io(e)) => Err(e),
        Err(PrepareError::NotPrivate(reason)) => Err(io::Error::other(reason)),
    }
}

fn open_checked(dir: &Path) -> std::result::Result<OwnedFd, PrepareError> {
    let fd = match openat(
        CWD,
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR) => {
            return Err(PrepareError::NotPrivate(
                "it is a symlink or not a directory".into(),
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let st = fstat(&fd)?;
    let me = rustix::process::geteuid().as_raw();
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        return Err(PrepareError::NotPrivate("it is not a directory".into()));
    }
    if st.st_uid != me {
        return Err(PrepareError::NotPrivate(format!(
            "it is owned by uid {}, not by uid {me} who runs stowage",
            st.st_uid
        )));
    }
    if st.st_mode & 0o077 != 0 {
        return Err(PrepareError::NotPrivate(format!(
            "its mode {:04o} lets group or others in (it must be 0700)",
            st.st_mode & 0o7777
        )));
    }
    Ok(fd)
}

fn prepare_dir(dir: &Path) -> std::result::Result<OwnedFd, PrepareError> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e.into()),
    }
    let fd = open_checked(dir)?;
    let mut names = Vec::new();
    for entry in Dir::read_from(&fd)? {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(OsStr::from_bytes(name).to_os_string());
        }
    }
    for name in &names {
        unlinkat(&fd, name.as_os_str(), AtFlags::empty())?;
    }
    if !names.is_empty() {
        log::warn!(
            "removed {} staged file(s) left in {dir:?} by an earlier run that did not close; \
             those puts were never committed",
            names.len()
        );
    }
    Ok(fd)
}

/// Reflinks `input` into `out`, or copies it (`std::io::copy` between two files uses
/// `copy_file_range`, so the data stays in the kernel where the filesystem allows).
fn clone_or_copy(input: &File, out: &File, src: &Path, dst: &Path) -> Result<()> {
    // SAFETY: FICLONE takes the source descriptor as its argument; both descriptors are open.
    let r = unsafe { libc::ioctl(out.as_raw_fd(), FICLONE as _, input.as_raw_fd()) };
    if r == 0 {
        log::trace!("reflinked {src:?} to {dst:?}");
        return Ok(());
    }
    let (mut reader, mut writer) = (input, out);
    io::copy(&mut reader, &mut writer)
        .map(drop)
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
        // Open to others: refused, naming it.
        std::fs::set_permissions(&sd, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let e = Staging::new(Some(sd.clone())).unwrap_err();
        assert!(matches!(e, Error::StagingNotPrivate { .. }), "{e}");
        assert!(e.to_string().contains(".img.iso.stowage-staging"), "{e}");
        std::fs::set_permissions(&sd, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        let st = Staging::new(Some(sd.clone())).unwrap();
        assert_eq!(std::fs::read_dir(&sd).unwrap().count(), 0);
        let src = d.path().join("src");
        std::fs::write(&src, b"hello").unwrap();
        let s = st.stage_copy(&src).unwrap();
        assert_eq!(s.size, 5);
        st.verify(&s).unwrap();
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

    /// Lets the kernel's coarse clock tick past the staging, so a change cannot get the same
    /// timestamps as the staged copy on kernels without fine-grained timestamps for queried
    /// files (before Linux 6.13); see the README's Staging section.
    fn next_tick() {
        std::thread::sleep(std::time::Duration::from_millis(30));
    }

    /// Every way of changing a staged copy behind our back is caught without reading it, a
    /// same-size rewrite with its mtime set back included; reads are not changes.
    #[test]
    fn verify_catches_every_change_but_no_read() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let st = Staging::new(Some(d.path().join(".i.iso.stowage-staging"))).unwrap();
        let src = d.path().join("src");
        std::fs::write(&src, b"original content").unwrap();
        let check = |tamper: &dyn Fn(&Path), expected: &str| {
            let s = st.stage_copy(&src).unwrap();
            st.verify(&s).unwrap();
            next_tick();
            tamper(&s.path);
            let why = st.verify(&s).err().unwrap_or_default();
            assert!(why.contains(expected), "expected {expected:?}, got {why:?}");
            st.discard(&s);
        };
        // Reads: xorriso's -map, a get of the pending put, anyone's read.
        let s = st.stage_copy(&src).unwrap();
        next_tick();
        assert_eq!(std::fs::read(&s.path).unwrap(), b"original content");
        st.copy_out(&s, &d.path().join("out")).unwrap();
        st.verify(&s).unwrap();
        // A same-size rewrite whose mtime is set back (what `touch -d` does).
        check(
            &|p| {
                let mtime = std::fs::metadata(p).unwrap().modified().unwrap();
                std::fs::write(p, b"swapped content!").unwrap();
                File::options()
                    .write(true)
                    .open(p)
                    .unwrap()
                    .set_modified(mtime)
                    .unwrap();
                assert_eq!(std::fs::metadata(p).unwrap().modified().unwrap(), mtime);
            },
            "its change time moved",
        );
        check(
            &|p| std::fs::write(p, b"swapped content!").unwrap(),
            "its modification time and change time moved",
        );
        check(
            &|p| {
                let perms = std::fs::Permissions::from_mode(0o644);
                std::fs::set_permissions(p, perms).unwrap();
            },
            "its change time moved",
        );
        check(
            &|p| std::fs::write(p, b"longer than the original").unwrap(),
            "has 24 bytes instead of 16",
        );
        check(
            &|p| {
                let other = p.with_file_name("other");
                std::fs::write(&other, b"original content").unwrap();
                std::fs::rename(&other, p).unwrap();
            },
            "replaced by another file",
        );
        check(&|p| std::fs::remove_file(p).unwrap(), "No such file");
        check(
            &|p| {
                std::fs::remove_file(p).unwrap();
                std::os::unix::fs::symlink("/etc/hostname", p).unwrap();
            },
            "no longer a regular file",
        );
    }

    /// `move_in` of a symlink to a file renames the symlink in, sees it is one, and puts it
    /// back.
    #[test]
    fn moving_a_symlink_in_puts_it_back() {
        let d = tempfile::tempdir().unwrap();
        let st = Staging::new(Some(d.path().join(".i.iso.stowage-staging"))).unwrap();
        let target = d.path().join("target");
        std::fs::write(&target, b"data").unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = st.stage_move(&link).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(std::fs::read_dir(st.dir()).unwrap().count(), 0);
        let (m, kind) = st.stage_move(&target).unwrap();
        assert_eq!((kind, m.size), (MoveKind::Renamed, 4));
        st.verify(&m).unwrap();
    }
}
