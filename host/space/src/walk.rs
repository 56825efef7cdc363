//! Scanning what `backup_path` stores.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{SpaceError, SpaceResult};
use crate::fsmeta::{capture, Fingerprint};
use crate::manifest::{Data, Node, RawPath};

/// A node found by the scan; files still need their content stored.
pub struct Scanned {
    pub node: Node,
    /// For files: where it is and which version was seen.
    pub file: Option<(PathBuf, Fingerprint)>,
}

/// A path inside the tree that was not backed up, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    /// The path.
    pub path: PathBuf,
    /// "fifo", "socket", "device", ...
    pub reason: String,
}

fn special_kind(ft: &fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_fifo() {
        "fifo"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_block_device() || ft.is_char_device() {
        "device"
    } else {
        "unknown file type"
    }
}

fn node_for(abs: &Path, rel: PathBuf, m: &fs::Metadata) -> SpaceResult<Option<Scanned>> {
    let ft = m.file_type();
    let (data, file) = if ft.is_symlink() {
        let target = fs::read_link(abs).map_err(|e| SpaceError::local(abs, e))?;
        (
            Data::Symlink {
                target: RawPath(target),
            },
            None,
        )
    } else if ft.is_dir() {
        (Data::Dir, None)
    } else if ft.is_file() {
        let data = Data::File {
            size: m.len(),
            sha256: String::new(),
        };
        (data, Some((abs.to_path_buf(), Fingerprint::of(m))))
    } else {
        return Ok(None);
    };
    Ok(Some(Scanned {
        node: Node {
            path: RawPath(rel),
            data,
            meta: Some(capture(m)),
        },
        file,
    }))
}

/// Everything at and below `top`, parents before children, entries of a
/// directory sorted by name; symlinks are recorded, never followed.
///
/// # Errors
/// `top` is missing or a special file; a directory cannot be read.
pub fn scan(top: &Path) -> SpaceResult<(Vec<Scanned>, Vec<Skipped>)> {
    let m = fs::symlink_metadata(top).map_err(|e| SpaceError::local(top, e))?;
    let Some(root) = node_for(top, PathBuf::new(), &m)? else {
        return Err(SpaceError::InvalidInput(format!(
            "{}: a {} cannot be backed up (only files, directories and symlinks)",
            top.display(),
            special_kind(&m.file_type())
        )));
    };
    let mut out = vec![root];
    let mut skipped = Vec::new();
    if m.is_dir() {
        walk_dir(top, Path::new(""), &mut out, &mut skipped)?;
    }
    Ok((out, skipped))
}

fn walk_dir(
    top: &Path,
    rel: &Path,
    out: &mut Vec<Scanned>,
    skipped: &mut Vec<Skipped>,
) -> SpaceResult<()> {
    let dir = top.join(rel);
    let mut names: Vec<_> = fs::read_dir(&dir)
        .map_err(|e| SpaceError::local(&dir, e))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .map_err(|e| SpaceError::local(&dir, e))?;
    names.sort();
    for name in names {
        let child_rel = rel.join(&name);
        let abs = top.join(&child_rel);
        let m = match fs::symlink_metadata(&abs) {
            Ok(m) => m,
            // Removed since the listing: not part of this backup.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(SpaceError::local(&abs, e)),
        };
        match node_for(&abs, child_rel.clone(), &m)? {
            Some(s) => {
                let is_dir = s.node.data == Data::Dir;
                out.push(s);
                if is_dir {
                    walk_dir(top, &child_rel, out, skipped)?;
                }
            }
            None => {
                log::warn!(
                    "{}: a {} is not backed up",
                    abs.display(),
                    special_kind(&m.file_type())
                );
                skipped.push(Skipped {
                    path: abs,
                    reason: special_kind(&m.file_type()).to_string(),
                });
            }
        }
    }
    Ok(())
}
