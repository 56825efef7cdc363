//! Putting entries back: fetch and verify everything first, then replace
//! each live object by renaming a complete copy over it.
//!
//! Order of a restore:
//! 1. conflicts are checked (a directory where the backup has a file, a
//!    file or symlink where it has a directory): refused, nothing touched;
//! 2. every content object is fetched into a staging area beside the
//!    destination and its SHA-256 checked: a missing or corrupted object
//!    stops the restore here, nothing live touched;
//! 3. each object is moved into place by `rename` over the live one, with
//!    owner, permissions and modification time already set; directories
//!    are created when missing and get their metadata last.
//!
//! Files present in a live directory but not in the backup are left alone.

use std::fs;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{SpaceError, SpaceResult};
use crate::fsmeta::apply;
use crate::manifest::{Data, Entry, Meta, Node};
use crate::object::fetch_verified;
use crate::temp::{temp_path_beside, TempPath};
use stowage::Backend;

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

/// A staging directory, removed with whatever is left in it.
struct Staging(PathBuf);

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn local(path: &Path) -> impl FnOnce(io::Error) -> SpaceError + '_ {
    move |e| SpaceError::local(path, e)
}

fn conflict(path: &Path, what: &str) -> SpaceError {
    SpaceError::InvalidInput(format!(
        "{}: {what}; not replaced (nothing was restored)",
        path.display()
    ))
}

/// Refuses destinations whose live type cannot be replaced by rename.
fn check_conflict(dest: &Path, data: &Data) -> SpaceResult<()> {
    let live = match fs::symlink_metadata(dest) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(SpaceError::local(dest, e)),
    };
    match data {
        Data::Dir if !live.is_dir() => Err(conflict(
            dest,
            "the backup holds a directory but a non-directory is there",
        )),
        Data::File { .. } | Data::Symlink { .. } if live.is_dir() => Err(conflict(
            dest,
            "a directory is there where the backup holds a file or symlink",
        )),
        _ => Ok(()),
    }
}

/// Restores `entry` (named `name` in `space`) to `dest`.
///
/// # Errors
/// [`SpaceError::Damaged`] before anything live is touched when content is
/// missing or corrupted; conflicts as invalid input; local I/O errors.
pub fn restore_entry(
    backend: &Backend,
    space: &str,
    name: &str,
    entry: &Entry,
    dest: &Path,
) -> SpaceResult<RestoreReport> {
    let damaged = |fault: crate::object::Fault, data: &Data| {
        let (sha, size) = data.content().unwrap_or(("", 0));
        fault.into_error(name, space, sha, size)
    };
    // 1. Conflicts.
    check_conflict(dest, &entry.root.data)?;
    for node in &entry.tree {
        check_conflict(&dest.join(&node.path.0), &node.data)?;
    }
    if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(local(parent))?;
    }
    let mut report = RestoreReport {
        path: dest.to_path_buf(),
        ..RestoreReport::default()
    };

    // 2. Fetch and verify.
    if entry.tree.is_empty() {
        if let Data::File { size, sha256 } = &entry.root.data {
            let temp = TempPath::new(temp_path_beside(dest, "restore"));
            fetch_verified(backend, sha256, *size, temp.path())
                .map_err(|f| damaged(f, &entry.root.data))?;
            place_file(temp, dest, meta(&entry.root)?)?;
            report.files = 1;
            report.bytes = *size;
            return Ok(report);
        }
    }
    let staging = Staging(temp_path_beside(dest, "restore"));
    let mut staged: Vec<Option<PathBuf>> = Vec::with_capacity(entry.tree.len() + 1);
    let nodes: Vec<&Node> = std::iter::once(&entry.root).chain(&entry.tree).collect();
    for (i, node) in nodes.iter().enumerate() {
        if let Data::File { size, sha256 } = &node.data {
            if staged.iter().all(Option::is_none) {
                fs::DirBuilder::new()
                    .mode(0o700)
                    .create(&staging.0)
                    .map_err(local(&staging.0))?;
            }
            let path = staging.0.join(i.to_string());
            fetch_verified(backend, sha256, *size, &path).map_err(|f| damaged(f, &node.data))?;
            staged.push(Some(path));
        } else {
            staged.push(None);
        }
    }

    // 3. Into place, directories' metadata last (children first).
    let mut dirs = Vec::new();
    for (node, staged) in nodes.iter().zip(staged) {
        let target = if node.path.is_empty() {
            dest.to_path_buf()
        } else {
            dest.join(&node.path.0)
        };
        let m = meta(node)?;
        match &node.data {
            Data::Dir => {
                ensure_dir(&target)?;
                dirs.push((target, m));
                report.dirs += 1;
            }
            Data::File { size, .. } => {
                let Some(from) = staged else { continue };
                move_file(&from, &target, m)?;
                report.files += 1;
                report.bytes += size;
            }
            Data::Symlink { target: link } => {
                place_symlink(&link.0, &target, m)?;
                report.symlinks += 1;
            }
            Data::Value { .. } => {}
        }
    }
    for (dir, m) in dirs.iter().rev() {
        apply(dir, m, false).map_err(local(dir))?;
    }
    Ok(report)
}

fn meta(node: &Node) -> SpaceResult<&Meta> {
    node.meta.as_ref().ok_or_else(|| {
        SpaceError::InvalidInput(format!("{}: no metadata recorded", node.path.0.display()))
    })
}

fn ensure_dir(path: &Path) -> SpaceResult<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(conflict(
            path,
            "not a directory (changed during the restore)",
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => fs::DirBuilder::new()
            .mode(0o700)
            .create(path)
            .map_err(local(path)),
        Err(e) => Err(SpaceError::local(path, e)),
    }
}

/// Gives `temp` its metadata and renames it over `dest`.
fn place_file(temp: TempPath, dest: &Path, m: &Meta) -> SpaceResult<()> {
    apply(temp.path(), m, false).map_err(local(temp.path()))?;
    temp.rename_onto(dest).map_err(local(dest))
}

/// Moves a staged file to `dest`: a rename when on one filesystem, else a
/// copy beside `dest` first.
fn move_file(from: &Path, dest: &Path, m: &Meta) -> SpaceResult<()> {
    let temp = TempPath::new(temp_path_beside(dest, "restore"));
    match fs::rename(from, temp.path()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            fs::copy(from, temp.path()).map_err(local(temp.path()))?;
        }
        Err(e) => return Err(SpaceError::local(temp.path(), e)),
    }
    place_file(temp, dest, m)
}

fn place_symlink(link: &Path, dest: &Path, m: &Meta) -> SpaceResult<()> {
    let temp = TempPath::new(temp_path_beside(dest, "restore"));
    std::os::unix::fs::symlink(link, temp.path()).map_err(local(temp.path()))?;
    apply(temp.path(), m, true).map_err(local(temp.path()))?;
    temp.rename_onto(dest).map_err(local(dest))
}
