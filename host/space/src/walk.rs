//! Scanning what `backup_path` stores, through directory descriptors.
//!
//! The source is reached from `/` one component at a time (`fsat.rs`,
//! `O_PATH | O_NOFOLLOW | O_DIRECTORY`): a symlink among its parents is
//! refused, naming it ([`SpaceError::UnsafePath`]), as a restore to it
//! would be. Below it, every directory is opened relative to its parent's
//! descriptor (`O_NOFOLLOW | O_DIRECTORY`) and listed from its own
//! descriptor; its entries are looked at with `fstatat` (not following),
//! symlinks read with `readlinkat`, and a directory's metadata comes from
//! `fstat` of its descriptor. A directory replaced by a symlink between the
//! look and the open is recorded as the symlink it now is, never followed.
//!
//! The scan opens no file: each is opened once, when its content is
//! stored (`upload.rs`), relative to its directory's descriptor, and the
//! metadata recorded is `fstat` of that descriptor.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use rustix::fs::{FileType, Stat};
use rustix::io::Errno;

use crate::error::{SpaceError, SpaceResult};
use crate::fsat::{file_type, plain_components, Child, Dir, Walk};
use crate::fsmeta::{capture, size_of};
use crate::manifest::{Data, Meta, Node, RawPath};

/// How often an entry that keeps changing type under the scan is looked
/// at again before the backup gives up on it.
const ATTEMPTS: usize = 3;

/// A node found by the scan; files still need their content stored.
pub struct Scanned {
    pub node: Node,
    /// For files: where to open it.
    pub file: Option<Source>,
}

/// Where a file found by the scan is: its directory relative to
/// [`Scan::base`], its name there, and its size when scanned.
pub struct Source {
    pub dir: PathBuf,
    pub name: OsString,
    pub size: u64,
}

/// What a scan found.
pub struct Scan {
    /// The directory files are opened under ([`Source::dir`] is relative
    /// to it): the source itself when it is a directory, else its parent.
    pub base: Dir,
    /// The source (path `""`) and everything below it, parents before
    /// children, entries of a directory sorted by name.
    pub nodes: Vec<Scanned>,
    /// Special files inside the tree, not backed up.
    pub skipped: Vec<Skipped>,
    /// Owner and permissions of the directories above the source, top
    /// first, from `fstat` of the descriptors the walk went through.
    pub parents: Vec<Meta>,
}

/// A path inside the tree that was not backed up, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    /// The path.
    pub path: PathBuf,
    /// "fifo", "socket", "device", ...
    pub reason: String,
}

fn special_kind(ft: FileType) -> &'static str {
    match ft {
        FileType::Fifo => "fifo",
        FileType::Socket => "socket",
        FileType::BlockDevice | FileType::CharacterDevice => "device",
        _ => "unknown file type",
    }
}

/// What is at a name, looked at without following it.
enum Found {
    /// A directory, open for listing, and its `fstat`.
    Dir(Dir, Stat),
    /// A symlink: its target and `lstat`.
    Symlink(PathBuf, Stat),
    /// A regular file (not opened) and its `lstat`.
    File(Stat),
    /// Anything else.
    Special(FileType),
}

/// What is at `name` in `dir`; `None` when nothing is (any more).
fn look(dir: &Dir, name: &OsStr) -> SpaceResult<Option<Found>> {
    for _ in 0..ATTEMPTS {
        let Some(st) = dir.stat(name)? else {
            return Ok(None);
        };
        match file_type(&st) {
            FileType::Directory => match dir.child_to_list(name)? {
                Child::Dir(sub) => {
                    let st = sub.meta()?;
                    return Ok(Some(Found::Dir(sub, st)));
                }
                Child::Missing => return Ok(None),
                // Replaced since the stat: look again.
                Child::Symlink | Child::NotDir => {}
            },
            FileType::Symlink => match dir.read_link(name) {
                Ok(target) => return Ok(Some(Found::Symlink(target, st))),
                Err(Errno::NOENT) => return Ok(None),
                // Not a symlink any more: look again.
                Err(Errno::INVAL) => {}
                Err(e) => return Err(SpaceError::local(dir.path().join(name), e.into())),
            },
            FileType::RegularFile => return Ok(Some(Found::File(st))),
            other => return Ok(Some(Found::Special(other))),
        }
    }
    Err(SpaceError::SourceChanged {
        path: dir.path().join(name),
    })
}

/// The node for what was found at `rel`, in directory `dir_rel` (relative
/// to the base) as `name`; for a special file, its type instead.
fn node_for(
    found: &Found,
    rel: PathBuf,
    dir_rel: &Path,
    name: &OsStr,
) -> Result<Scanned, FileType> {
    let (data, meta, file) = match found {
        Found::Dir(_, st) => (Data::Dir, capture(st), None),
        Found::Symlink(target, st) => (
            Data::Symlink {
                target: RawPath(target.clone()),
            },
            capture(st),
            None,
        ),
        Found::File(st) => (
            Data::File {
                size: size_of(st),
                sha256: String::new(),
            },
            capture(st),
            Some(Source {
                dir: dir_rel.to_path_buf(),
                name: name.to_os_string(),
                size: size_of(st),
            }),
        ),
        Found::Special(ft) => return Err(*ft),
    };
    Ok(Scanned {
        node: Node {
            path: RawPath(rel),
            data,
            meta: Some(meta),
        },
        file,
    })
}

/// The directory holding `origin` (absolute, plain), reached from `/`
/// without following symlinks, and the metadata of each directory on the
/// way below `/`.
fn open_parent(origin: &Path, parent: &Path) -> SpaceResult<(Dir, Vec<Meta>)> {
    let mut dir = Dir::root(Walk::Backup)?;
    let mut metas = Vec::new();
    for name in plain_components(parent)? {
        dir = match dir.lookup(&name)? {
            Child::Dir(next) => next,
            Child::Symlink => {
                let why = Walk::Backup.symlink() + " (back up the path it leads to instead)";
                return Err(dir.refuse(&name, &why));
            }
            // As the kernel says it when resolving the path.
            Child::Missing => return Err(SpaceError::local(origin, Errno::NOENT.into())),
            Child::NotDir => return Err(SpaceError::local(origin, Errno::NOTDIR.into())),
        };
        metas.push(capture(&dir.meta()?));
    }
    Ok((dir, metas))
}

/// Everything at and below `origin` (absolute, plain components), parents
/// before children, entries of a directory sorted by name; symlinks are
/// recorded, never followed.
///
/// # Errors
/// `origin` is missing or a special file; a parent of it is a symlink
/// ([`SpaceError::UnsafePath`]); a directory cannot be read.
pub fn scan(origin: &Path) -> SpaceResult<Scan> {
    let (parent_dir, parents, found) = match (origin.parent(), origin.file_name()) {
        (Some(parent), Some(name)) => {
            let (dir, parents) = open_parent(origin, parent)?;
            let found =
                look(&dir, name)?.ok_or_else(|| SpaceError::local(origin, Errno::NOENT.into()))?;
            (dir, parents, found)
        }
        // `/` itself.
        _ => {
            let root = Dir::root(Walk::Backup)?;
            let listed = root.listable()?;
            let st = listed.meta()?;
            (root, Vec::new(), Found::Dir(listed, st))
        }
    };
    let name = origin.file_name().unwrap_or_default();
    let top = node_for(&found, PathBuf::new(), Path::new(""), name).map_err(|ft| {
        SpaceError::InvalidInput(format!(
            "{}: a {} cannot be backed up (only files, directories and symlinks)",
            origin.display(),
            special_kind(ft)
        ))
    })?;
    let mut scan = Scan {
        nodes: vec![top],
        skipped: Vec::new(),
        parents,
        base: parent_dir,
    };
    if let Found::Dir(dir, _) = found {
        scan.base = dir;
        walk_dir(
            &scan.base,
            Path::new(""),
            &mut scan.nodes,
            &mut scan.skipped,
        )?;
    }
    Ok(scan)
}

fn walk_dir(
    dir: &Dir,
    rel: &Path,
    out: &mut Vec<Scanned>,
    skipped: &mut Vec<Skipped>,
) -> SpaceResult<()> {
    for name in dir.names()? {
        let child_rel = rel.join(&name);
        // Removed since the listing: not part of this backup.
        let Some(found) = look(dir, &name)? else {
            continue;
        };
        match node_for(&found, child_rel.clone(), rel, &name) {
            Ok(s) => {
                out.push(s);
                if let Found::Dir(sub, _) = found {
                    walk_dir(&sub, &child_rel, out, skipped)?;
                }
            }
            Err(ft) => {
                let abs = dir.path().join(&name);
                log::warn!("{}: a {} is not backed up", abs.display(), special_kind(ft));
                skipped.push(Skipped {
                    path: abs,
                    reason: special_kind(ft).to_string(),
                });
            }
        }
    }
    Ok(())
}
