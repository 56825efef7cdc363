//! Walking a restore's destination through directory descriptors.
//!
//! Every directory is opened relative to its parent's descriptor with
//! `O_NOFOLLOW | O_DIRECTORY`, and everything done inside it (create,
//! rename, chown, chmod, utimes) is relative to that descriptor: no path
//! string is resolved twice, so a directory swapped for a symlink by
//! whoever owns its parent cannot redirect a write. A symlink met on the
//! way is an error naming it, never followed.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{mkdirat, openat, statat, AtFlags, FileType, Mode, OFlags, Stat, CWD};
use rustix::io::Errno;

use crate::error::{SpaceError, SpaceResult};
use crate::fsmeta::apply_fd;
use crate::manifest::Meta;

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// An open directory and the path it was reached by (for messages).
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

/// The error for a destination that goes through something a restore will
/// not go through.
pub fn unsafe_path(path: &Path, detail: &str) -> SpaceError {
    SpaceError::UnsafePath {
        path: path.to_path_buf(),
        detail: format!("{detail}; nothing was written through it"),
    }
}

/// What the file type of `st` is.
pub fn file_type(st: &Stat) -> FileType {
    FileType::from_raw_mode(st.st_mode)
}

impl Dir {
    /// `/`.
    pub fn root() -> SpaceResult<Self> {
        let fd = openat(CWD, "/", DIR_FLAGS, Mode::empty())
            .map_err(|e| SpaceError::local("/", e.into()))?;
        Ok(Self {
            fd,
            path: PathBuf::from("/"),
        })
    }

    /// The descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The path it was reached by.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `lstat` of `name` in this directory; `None` when it does not exist.
    pub fn stat(&self, name: &OsStr) -> SpaceResult<Option<Stat>> {
        match statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(st)),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(SpaceError::local(self.path.join(name), e.into())),
        }
    }

    /// The subdirectory `name`; `None` when it does not exist.
    ///
    /// # Errors
    /// [`SpaceError::UnsafePath`] when `name` is a symlink or not a
    /// directory.
    pub fn child(&self, name: &OsStr) -> SpaceResult<Option<Self>> {
        let path = self.path.join(name);
        match openat(&self.fd, name, DIR_FLAGS, Mode::empty()) {
            Ok(fd) => Ok(Some(Self { fd, path })),
            Err(Errno::NOENT) => Ok(None),
            Err(Errno::LOOP | Errno::NOTDIR) => {
                let what = match self.stat(name)? {
                    Some(st) if file_type(&st) == FileType::Symlink => {
                        "is a symbolic link, which a restore does not follow"
                    }
                    _ => "is not a directory",
                };
                Err(unsafe_path(&path, what))
            }
            Err(e) => Err(SpaceError::local(path, e.into())),
        }
    }

    /// The subdirectory `name`, created when missing: with `meta` (owner,
    /// permissions) when given, else with the default permissions.
    pub fn child_or_create(&self, name: &OsStr, meta: Option<&Meta>) -> SpaceResult<Self> {
        if let Some(dir) = self.child(name)? {
            return Ok(dir);
        }
        let path = self.path.join(name);
        let mode = if meta.is_some() { 0o700 } else { 0o777 };
        match mkdirat(&self.fd, name, Mode::from_raw_mode(mode)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(SpaceError::local(path, e.into())),
        }
        let dir = self
            .child(name)?
            .ok_or_else(|| SpaceError::local(&path, io::ErrorKind::NotFound.into()))?;
        if let Some(meta) = meta {
            apply_fd(dir.fd(), meta).map_err(|e| SpaceError::local(&path, e))?;
        }
        Ok(dir)
    }

    /// Walks `rel` (plain components) down from this directory; `None`
    /// when a component is missing.
    pub fn descend(&self, rel: &Path) -> SpaceResult<Option<Self>> {
        let mut names = plain_components(rel)?.into_iter();
        let Some(first) = names.next() else {
            return self.reopen().map(Some);
        };
        let Some(mut dir) = self.child(&first)? else {
            return Ok(None);
        };
        for name in names {
            match dir.child(&name)? {
                Some(next) => dir = next,
                None => return Ok(None),
            }
        }
        Ok(Some(dir))
    }

    fn reopen(&self) -> SpaceResult<Self> {
        let fd = openat(&self.fd, ".", DIR_FLAGS, Mode::empty())
            .map_err(|e| SpaceError::local(&self.path, e.into()))?;
        Ok(Self {
            fd,
            path: self.path.clone(),
        })
    }
}

/// The components of `path` below its root, which must all be plain names.
fn plain_components(path: &Path) -> SpaceResult<Vec<OsString>> {
    path.components()
        .filter(|c| !matches!(c, Component::RootDir))
        .map(|c| match c {
            Component::Normal(n) => Ok(n.to_os_string()),
            _ => Err(SpaceError::InvalidInput(format!(
                "{}: not a plain path (`.` or `..` inside)",
                path.display()
            ))),
        })
        .collect()
}

/// Opens the absolute directory `path` from `/`; `None` when a component
/// is missing.
pub fn open_existing(path: &Path) -> SpaceResult<Option<Dir>> {
    Dir::root()?.descend(path)
}

/// Opens the absolute directory `path` from `/`, creating what is missing:
/// component `i` (from the top) with `metas[i]` when there is one.
pub fn open_creating(path: &Path, metas: &[Meta]) -> SpaceResult<Dir> {
    let mut dir = Dir::root()?;
    for (i, name) in plain_components(path)?.iter().enumerate() {
        dir = dir.child_or_create(name, metas.get(i))?;
    }
    Ok(dir)
}

/// `path` made absolute lexically: `.` dropped, `..` removes the previous
/// component (a restore never goes through symlinks, so this is where the
/// kernel would go too).
pub fn lexically_normal(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// A fresh hidden name beside `name` in the same directory.
pub fn temp_name(name: &OsStr) -> OsString {
    let keep = &name.as_bytes()[..name.len().min(100)];
    let mut out = format!(".stowage-restore-{:016x}-", rand::random::<u64>()).into_bytes();
    out.extend_from_slice(keep);
    OsString::from_vec(out)
}
