//! Walking the filesystem through directory descriptors: a restore's
//! destination, a backup's sources.
//!
//! Every directory is opened relative to its parent's descriptor with
//! `O_NOFOLLOW | O_DIRECTORY`, and everything done inside it (create,
//! rename, chown, chmod, utimes; stat, list, open, readlink) is relative to
//! that descriptor: no path string is resolved twice, so a directory
//! swapped for a symlink by whoever owns its parent cannot redirect a write
//! or a read. A symlink met on the way is an error naming it, never
//! followed.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{
    fstat, mkdirat, openat, readlinkat, seek, statat, AtFlags, FileType, Mode, OFlags, RawDir,
    SeekFrom, Stat, CWD,
};
use rustix::io::Errno;

use crate::error::{SpaceError, SpaceResult};
use crate::fsmeta::apply_fd;
use crate::manifest::Meta;

/// A directory a restore works in (creates, renames, chmods and syncs
/// through its descriptor), or a backup lists.
const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// A directory a backup only looks things up in: `O_PATH` needs search
/// permission only, as resolving a path string through it would.
const LOOKUP_FLAGS: OFlags = OFlags::PATH
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// A file a backup reads: not through a symlink, not becoming our
/// controlling terminal, not blocking on a FIFO swapped in.
const FILE_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::NOFOLLOW)
    .union(OFlags::NOCTTY)
    .union(OFlags::NONBLOCK)
    .union(OFlags::CLOEXEC);

/// What a walk is for: how its directories are opened and how its errors
/// read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// A restore writes in the directories it walks.
    Restore,
    /// A backup reads below the directories it walks.
    Backup,
}

impl Walk {
    fn flags(self) -> OFlags {
        match self {
            Walk::Restore => DIR_FLAGS,
            Walk::Backup => LOOKUP_FLAGS,
        }
    }

    fn who(self) -> &'static str {
        match self {
            Walk::Restore => "a restore",
            Walk::Backup => "a backup",
        }
    }

    /// Why a symlink on the way is refused.
    pub fn symlink(self) -> String {
        format!("is a symbolic link, which {} does not follow", self.who())
    }

    fn not_a_directory(self) -> &'static str {
        match self {
            Walk::Restore => "is not a directory",
            Walk::Backup => "is not a directory (or was not when the backup opened it)",
        }
    }

    fn nothing_done(self) -> &'static str {
        match self {
            Walk::Restore => "nothing was written through it",
            Walk::Backup => "nothing was read through it",
        }
    }
}

/// An open directory, the path it was reached by (for messages) and what
/// the walk is for.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
    walk: Walk,
}

/// What is at a name where a directory was expected.
pub enum Child {
    /// The directory, open.
    Dir(Dir),
    /// Nothing.
    Missing,
    /// A symbolic link (not followed).
    Symlink,
    /// Something else that is not a directory.
    NotDir,
}

/// What the file type of `st` is.
pub fn file_type(st: &Stat) -> FileType {
    FileType::from_raw_mode(st.st_mode)
}

impl Dir {
    /// `/`.
    pub fn root(walk: Walk) -> SpaceResult<Self> {
        let fd = openat(CWD, "/", walk.flags(), Mode::empty())
            .map_err(|e| SpaceError::local("/", e.into()))?;
        Ok(Self {
            fd,
            path: PathBuf::from("/"),
            walk,
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

    /// The error for `name` in this directory, which the walk will not go
    /// through: [`SpaceError::UnsafePath`].
    pub fn refuse(&self, name: &OsStr, detail: &str) -> SpaceError {
        SpaceError::UnsafePath {
            path: self.path.join(name),
            detail: format!("{detail}; {}", self.walk.nothing_done()),
        }
    }

    /// `fstat` of the directory itself.
    pub fn meta(&self) -> SpaceResult<Stat> {
        fstat(&self.fd).map_err(|e| SpaceError::local(&self.path, e.into()))
    }

    /// `lstat` of `name` in this directory; `None` when it does not exist.
    pub fn stat(&self, name: &OsStr) -> SpaceResult<Option<Stat>> {
        match statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(st)),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(SpaceError::local(self.path.join(name), e.into())),
        }
    }

    /// The names in this directory (`.` and `..` left out), sorted, read
    /// from its descriptor. The directory must have been opened for
    /// listing ([`Dir::child_to_list`], or a restore's walk).
    pub fn names(&self) -> SpaceResult<Vec<OsString>> {
        let local = |e: Errno| SpaceError::local(&self.path, e.into());
        seek(&self.fd, SeekFrom::Start(0)).map_err(local)?;
        let mut buf: Vec<MaybeUninit<u8>> = vec![MaybeUninit::uninit(); 32 * 1024];
        let mut entries = RawDir::new(&self.fd, &mut buf);
        let mut names = Vec::new();
        while let Some(entry) = entries.next() {
            let entry = entry.map_err(local)?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                names.push(OsStr::from_bytes(name).to_os_string());
            }
        }
        names.sort();
        Ok(names)
    }

    /// Opens the file `name` in this directory for reading, not following
    /// a symlink (`ELOOP`), not blocking on a FIFO, never as a
    /// controlling terminal.
    pub fn open_file(&self, name: &OsStr) -> rustix::io::Result<File> {
        openat(&self.fd, name, FILE_FLAGS, Mode::empty()).map(File::from)
    }

    /// The target of the symlink `name` in this directory (`EINVAL` when it
    /// is not a symlink).
    pub fn read_link(&self, name: &OsStr) -> rustix::io::Result<PathBuf> {
        let target = readlinkat(&self.fd, name, Vec::new())?;
        Ok(PathBuf::from(OsString::from_vec(target.into_bytes())))
    }

    /// What is at `name`, opened with `flags` when it is a directory.
    fn open_child(&self, name: &OsStr, flags: OFlags) -> SpaceResult<Child> {
        let path = self.path.join(name);
        match openat(&self.fd, name, flags, Mode::empty()) {
            Ok(fd) => Ok(Child::Dir(Self {
                fd,
                path,
                walk: self.walk,
            })),
            Err(Errno::NOENT) => Ok(Child::Missing),
            Err(Errno::LOOP | Errno::NOTDIR) => Ok(match self.stat(name)? {
                Some(st) if file_type(&st) == FileType::Symlink => Child::Symlink,
                // Whatever is there now (even a directory swapped back), it
                // was not a directory when it was opened.
                _ => Child::NotDir,
            }),
            Err(e) => Err(SpaceError::local(path, e.into())),
        }
    }

    /// What is at `name`, as the walk opens a directory.
    pub fn lookup(&self, name: &OsStr) -> SpaceResult<Child> {
        self.open_child(name, self.walk.flags())
    }

    /// What is at `name`, a directory opened so that it can be listed.
    pub fn child_to_list(&self, name: &OsStr) -> SpaceResult<Child> {
        self.open_child(name, DIR_FLAGS)
    }

    /// The subdirectory `name`; `None` when it does not exist.
    ///
    /// # Errors
    /// [`SpaceError::UnsafePath`] when `name` is a symlink or not a
    /// directory.
    pub fn child(&self, name: &OsStr) -> SpaceResult<Option<Self>> {
        match self.lookup(name)? {
            Child::Dir(dir) => Ok(Some(dir)),
            Child::Missing => Ok(None),
            Child::Symlink => Err(self.refuse(name, &self.walk.symlink())),
            Child::NotDir => Err(self.refuse(name, self.walk.not_a_directory())),
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
            return self.reopen(self.walk.flags()).map(Some);
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

    /// This directory again, opened so that it can be listed.
    pub fn listable(&self) -> SpaceResult<Self> {
        self.reopen(DIR_FLAGS)
    }

    fn reopen(&self, flags: OFlags) -> SpaceResult<Self> {
        let fd = openat(&self.fd, ".", flags, Mode::empty())
            .map_err(|e| SpaceError::local(&self.path, e.into()))?;
        Ok(Self {
            fd,
            path: self.path.clone(),
            walk: self.walk,
        })
    }
}

/// Directories below a base directory, kept open from one lookup to the
/// next: a series of lookups in one directory, or in neighbouring ones (a
/// scan's order), opens only what differs from the previous one. At most
/// one descriptor per level is held.
pub struct Cursor<'a> {
    base: &'a Dir,
    open: Vec<(OsString, Dir)>,
}

impl<'a> Cursor<'a> {
    /// A cursor at `base`.
    pub fn new(base: &'a Dir) -> Self {
        Self {
            base,
            open: Vec::new(),
        }
    }

    /// The path of `rel` below the base (for messages).
    pub fn path_of(&self, rel: &Path) -> PathBuf {
        self.base.path().join(rel)
    }

    /// The directory `rel` (plain components) below the base; `None` when
    /// a component is missing.
    ///
    /// # Errors
    /// [`SpaceError::UnsafePath`] when a component is a symlink or not a
    /// directory.
    pub fn at(&mut self, rel: &Path) -> SpaceResult<Option<&Dir>> {
        let names = plain_components(rel)?;
        let same = self
            .open
            .iter()
            .zip(&names)
            .take_while(|((open, _), name)| open == *name)
            .count();
        self.open.truncate(same);
        for name in &names[same..] {
            let parent = self.open.last().map_or(self.base, |(_, dir)| dir);
            match parent.child(name)? {
                Some(dir) => self.open.push((name.clone(), dir)),
                None => return Ok(None),
            }
        }
        Ok(Some(self.open.last().map_or(self.base, |(_, dir)| dir)))
    }
}

/// The components of `path` below its root, which must all be plain names.
pub fn plain_components(path: &Path) -> SpaceResult<Vec<OsString>> {
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

/// Opens the absolute directory `path` from `/` for `walk`; `None` when a
/// component is missing.
pub fn open_existing(path: &Path, walk: Walk) -> SpaceResult<Option<Dir>> {
    Dir::root(walk)?.descend(path)
}

/// Opens the absolute directory `path` from `/`, creating what is missing:
/// component `i` (from the top) with `metas[i]` when there is one.
pub fn open_creating(path: &Path, metas: &[Meta]) -> SpaceResult<Dir> {
    let mut dir = Dir::root(Walk::Restore)?;
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
