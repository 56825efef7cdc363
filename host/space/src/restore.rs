//! Putting entries back: fetch and verify everything first, then replace
//! each live object by renaming a complete, synced copy over it.
//!
//! Order of a restore:
//! 1. the destination is walked from `/` through directory descriptors
//!    (see `fsat.rs`): a symlink in a parent is refused, never followed;
//!    conflicts (a directory where the backup has a file, a file or
//!    symlink where it has a directory) are refused; nothing touched;
//! 2. every content object is fetched into a private staging directory of
//!    the store and its SHA-256 checked: a missing or corrupted object
//!    stops the restore here, nothing live touched;
//! 3. missing parents are created (with their recorded owner and
//!    permissions when restoring to the origin); each file is copied into
//!    a new temporary file beside its destination, given its owner,
//!    permissions and modification time through its descriptor, synced,
//!    and renamed over the live one; symlinks likewise with the `*at`
//!    calls; directories are created when missing and get their metadata
//!    last, children first.
//!
//! Files present in a live directory but not in the backup are left alone.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use rustix::fs::{fsync, openat, renameat, symlinkat, unlinkat, AtFlags, FileType, Mode, OFlags};
use serde::Serialize;

use crate::error::{SpaceError, SpaceResult};
use crate::fsat::{file_type, open_creating, open_existing, temp_name, Dir, Walk};
use crate::fsmeta::{apply_fd, apply_symlink_at};
use crate::inner::StoreInner;
use crate::manifest::{Data, Entry, Meta, Node};
use crate::object::{fetch_verified, Fault};

/// What a restore wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RestoreReport {
    /// Where the entry went.
    pub path: PathBuf,
    /// Regular files written.
    pub files: u64,
    /// Directories created or updated.
    pub dirs: u64,
    /// Symlinks written.
    pub symlinks: u64,
    /// Bytes of file content written.
    pub bytes: u64,
}

fn conflict(path: &Path, what: &str) -> SpaceError {
    SpaceError::InvalidInput(format!(
        "{}: {what}; not replaced (nothing was restored)",
        path.display()
    ))
}

/// Refuses a live object whose type cannot be replaced by rename.
fn check_conflict(dir: &Dir, name: &OsStr, data: &Data) -> SpaceResult<()> {
    let Some(st) = dir.stat(name)? else {
        return Ok(());
    };
    let is_dir = file_type(&st) == FileType::Directory;
    match data {
        Data::Dir if !is_dir => Err(conflict(
            &dir.path().join(name),
            "the backup holds a directory but a non-directory is there",
        )),
        Data::File { .. } | Data::Symlink { .. } if is_dir => Err(conflict(
            &dir.path().join(name),
            "a directory is there where the backup holds a file or symlink",
        )),
        _ => Ok(()),
    }
}

/// `node`'s directory (relative to the entry's top) and its own name.
fn split_node(node: &Node) -> SpaceResult<(&Path, &OsStr)> {
    let path = &node.path.0;
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => Ok((parent, name)),
        _ => Err(SpaceError::InvalidInput(format!(
            "tree path {} has no name",
            path.display()
        ))),
    }
}

/// One restore of one entry.
pub(crate) struct Restore<'a> {
    /// The store (backend, staging directory).
    pub store: &'a StoreInner,
    /// The space, for messages.
    pub space: &'a str,
    /// The entry name.
    pub name: &'a str,
    /// The entry.
    pub entry: &'a Entry,
    /// Where it goes: absolute, plain components, not `/`.
    pub dest: &'a Path,
    /// Owner and permissions for missing parents of `dest`, top first
    /// (the entry's recorded parents when restoring to its origin).
    pub parents: &'a [Meta],
}

impl Restore<'_> {
    /// Restores the entry.
    ///
    /// # Errors
    /// [`SpaceError::Damaged`] before anything live is touched when content
    /// is missing or corrupted; [`SpaceError::UnsafePath`] for a symlink
    /// on the way; conflicts as invalid input; local I/O errors.
    pub fn run(&self) -> SpaceResult<RestoreReport> {
        let (parent, top_name) = match (self.dest.parent(), self.dest.file_name()) {
            (Some(p), Some(n)) => (p, n),
            _ => {
                return Err(SpaceError::InvalidInput(format!(
                    "{}: cannot restore onto /",
                    self.dest.display()
                )))
            }
        };
        let nodes: Vec<&Node> = std::iter::once(&self.entry.root)
            .chain(&self.entry.tree)
            .collect();

        // 1. Conflicts, through descriptors.
        if let Some(live_parent) = open_existing(parent, Walk::Restore)? {
            self.check_conflicts(&live_parent, top_name)?;
        }

        // 2. Fetch and verify into the store's private staging directory.
        let staging = tempfile::Builder::new()
            .prefix("restore-")
            .tempdir_in(self.store.temp_dir())
            .map_err(|e| SpaceError::local(self.store.temp_dir(), e))?;
        let mut staged: Vec<Option<PathBuf>> = Vec::with_capacity(nodes.len());
        for (i, node) in nodes.iter().enumerate() {
            let Data::File { size, sha256 } = &node.data else {
                staged.push(None);
                continue;
            };
            let path = staging.path().join(i.to_string());
            fetch_verified(&self.store.backend, sha256, *size, &path)
                .map_err(|f| self.damaged(f, &node.data))?;
            staged.push(Some(path));
        }

        // 3. Into place.
        let parent_dir = open_creating(parent, self.parents)?;
        let mut report = RestoreReport {
            path: self.dest.to_path_buf(),
            ..RestoreReport::default()
        };
        let mut dirs: Vec<(&Path, &Meta)> = Vec::new();
        // The directory of the previous node: trees list siblings together.
        let mut current: Option<(&Path, Dir)> = None;
        for (node, staged) in nodes.iter().zip(&staged) {
            let meta = meta(node)?;
            let (dir, name) = if node.path.is_empty() {
                (&parent_dir, top_name)
            } else {
                let (rel, name) = split_node(node)?;
                if current.as_ref().map(|(r, _)| *r) != Some(rel) {
                    let top = parent_dir.descend(Path::new(top_name))?;
                    let dir = top
                        .map(|t| t.descend(rel))
                        .transpose()?
                        .flatten()
                        .ok_or_else(|| {
                            conflict(&self.dest.join(rel), "vanished during the restore")
                        })?;
                    current = Some((rel, dir));
                }
                let Some((_, dir)) = &current else {
                    unreachable!("set just above")
                };
                (dir, name)
            };
            match &node.data {
                Data::Dir => {
                    ensure_dir(dir, name)?;
                    dirs.push((&node.path.0, meta));
                    report.dirs += 1;
                }
                Data::File { size, .. } => {
                    let Some(from) = staged else { continue };
                    place_file(dir, name, from, meta)?;
                    report.files += 1;
                    report.bytes += size;
                }
                Data::Symlink { target } => {
                    place_symlink(dir, name, &target.0, meta)?;
                    report.symlinks += 1;
                }
                Data::Value { .. } => {}
            }
        }
        drop(current);
        // Directories' metadata last, children first; each synced, so the
        // renames into it are durable too.
        for (rel, meta) in dirs.iter().rev() {
            let top = parent_dir.descend(Path::new(top_name))?;
            let dir = top
                .map(|t| t.descend(rel))
                .transpose()?
                .flatten()
                .ok_or_else(|| conflict(&self.dest.join(rel), "vanished during the restore"))?;
            apply_fd(dir.fd(), meta).map_err(|e| SpaceError::local(dir.path(), e))?;
            fsync(dir.fd()).map_err(|e| SpaceError::local(dir.path(), e.into()))?;
        }
        fsync(parent_dir.fd()).map_err(|e| SpaceError::local(parent_dir.path(), e.into()))?;
        Ok(report)
    }

    fn check_conflicts(&self, parent: &Dir, top_name: &OsStr) -> SpaceResult<()> {
        check_conflict(parent, top_name, &self.entry.root.data)?;
        if self.entry.tree.is_empty() {
            return Ok(());
        }
        let Some(top) = parent.child(top_name)? else {
            return Ok(());
        };
        for node in &self.entry.tree {
            let (rel, name) = split_node(node)?;
            if let Some(dir) = top.descend(rel)? {
                check_conflict(&dir, name, &node.data)?;
            }
        }
        Ok(())
    }

    fn damaged(&self, fault: Fault, data: &Data) -> SpaceError {
        let (sha, size) = data.content().unwrap_or(("", 0));
        fault.into_error(self.name, self.space, sha, size)
    }
}

fn meta(node: &Node) -> SpaceResult<&Meta> {
    node.meta.as_ref().ok_or_else(|| {
        SpaceError::InvalidInput(format!("{}: no metadata recorded", node.path.0.display()))
    })
}

/// Makes sure `name` in `dir` is a directory (created 0700 when missing;
/// its metadata comes last).
fn ensure_dir(dir: &Dir, name: &OsStr) -> SpaceResult<()> {
    match dir.stat(name)? {
        Some(st) if file_type(&st) == FileType::Directory => Ok(()),
        Some(_) => Err(dir.refuse(name, "is not a directory (changed during the restore)")),
        None => match rustix::fs::mkdirat(dir.fd(), name, Mode::from_raw_mode(0o700)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => Ok(()),
            Err(e) => Err(SpaceError::local(dir.path().join(name), e.into())),
        },
    }
}

/// A temporary name in a directory, removed unless it was renamed.
struct TempEntry<'a> {
    dir: &'a Dir,
    name: OsString,
    armed: bool,
}

impl<'a> TempEntry<'a> {
    fn new(dir: &'a Dir, beside: &OsStr) -> Self {
        Self {
            dir,
            name: temp_name(beside),
            armed: true,
        }
    }

    /// Renames it over `name` in the same directory.
    fn publish(mut self, name: &OsStr) -> SpaceResult<()> {
        renameat(self.dir.fd(), &self.name, self.dir.fd(), name)
            .map_err(|e| SpaceError::local(self.dir.path().join(name), e.into()))?;
        self.armed = false;
        Ok(())
    }
}

impl Drop for TempEntry<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = unlinkat(self.dir.fd(), &self.name, AtFlags::empty());
        }
    }
}

/// Copies the staged file `from` to a new file beside `name` in `dir`,
/// gives it its owner, permissions and time through its descriptor, syncs
/// it, and renames it over `name`.
fn place_file(dir: &Dir, name: &OsStr, from: &Path, meta: &Meta) -> SpaceResult<()> {
    let temp = TempEntry::new(dir, name);
    let shown = dir.path().join(name);
    let local = |e: io::Error| SpaceError::local(&shown, e);
    let fd = openat(
        dir.fd(),
        &temp.name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
    .map_err(|e| local(e.into()))?;
    let mut out = File::from(fd);
    let mut src = File::open(from).map_err(|e| SpaceError::local(from, e))?;
    io::copy(&mut src, &mut out).map_err(local)?;
    apply_fd(out.as_fd(), meta).map_err(local)?;
    out.sync_all().map_err(local)?;
    temp.publish(name)
}

/// Makes a symlink beside `name` in `dir`, gives it its owner and time
/// (not following it), and renames it over `name`.
fn place_symlink(dir: &Dir, name: &OsStr, target: &Path, meta: &Meta) -> SpaceResult<()> {
    let temp = TempEntry::new(dir, name);
    let shown = dir.path().join(name);
    symlinkat(target, dir.fd(), &temp.name).map_err(|e| SpaceError::local(&shown, e.into()))?;
    apply_symlink_at(dir.fd(), &temp.name, meta).map_err(|e| SpaceError::local(&shown, e))?;
    temp.publish(name)
}
