//! Scanning what `backup_path` stores, and uploading the files' content.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::error::{SpaceError, SpaceResult};
use crate::fsmeta::{capture, Fingerprint};
use crate::hash::{sha256_file, EMPTY_SHA256};
use crate::manifest::{Data, Meta, Node, RawPath};
use crate::object::BlobCache;
use stowage::Backend;

/// How often a file that keeps changing is hashed again before the backup
/// gives up on it.
const ATTEMPTS: usize = 3;

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

/// What was stored for one file: size, checksum, and the metadata of
/// the version that was read.
type Stored = (u64, String, Meta);

/// Hashes and stores one file's content. A file that changes while this
/// runs is read again, up to 3 times.
pub fn store_file(
    backend: &Backend,
    blobs: &BlobCache,
    path: &Path,
    seen: Fingerprint,
) -> SpaceResult<Stored> {
    let mut before = seen;
    for _ in 0..ATTEMPTS {
        let (sha256, size) = sha256_file(path).map_err(|e| SpaceError::local(path, e))?;
        let (now, meta) = fingerprint(path)?;
        if now != before || size != now.size() {
            before = now;
            continue;
        }
        if size == 0 {
            return Ok((0, EMPTY_SHA256.to_string(), meta));
        }
        let stored = blobs.ensure(backend, &sha256, size, path, || {
            Ok(fingerprint(path)?.0 == before)
        })?;
        if stored {
            return Ok((size, sha256, meta));
        }
        before = fingerprint(path)?.0;
    }
    Err(SpaceError::SourceChanged {
        path: path.to_path_buf(),
    })
}

fn fingerprint(path: &Path) -> SpaceResult<(Fingerprint, Meta)> {
    let m = fs::symlink_metadata(path).map_err(|e| SpaceError::local(path, e))?;
    if !m.is_file() {
        return Err(SpaceError::SourceChanged {
            path: path.to_path_buf(),
        });
    }
    Ok((Fingerprint::of(&m), capture(&m)))
}

/// Stores the content of every file in `scanned`, on up to `workers`
/// threads, and fills in sizes and checksums. Stops at the first error.
/// `progress(done, total)` hears the bytes of files stored so far, from any
/// of the worker threads.
pub fn store_all(
    backend: &Backend,
    blobs: &BlobCache,
    scanned: &mut [Scanned],
    workers: usize,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> SpaceResult<()> {
    let jobs: Vec<(usize, PathBuf, Fingerprint)> = scanned
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.file.as_ref().map(|(p, f)| (i, p.clone(), *f)))
        .collect();
    let total: u64 = jobs.iter().map(|(_, _, f)| f.size()).sum();
    let done = std::sync::atomic::AtomicU64::new(0);
    progress(0, total);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let results: Mutex<Vec<(usize, Stored)>> = Mutex::new(Vec::with_capacity(jobs.len()));
    let first_error: Mutex<Option<SpaceError>> = Mutex::new(None);
    let workers = workers.clamp(1, jobs.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let Some((index, path, seen)) = jobs.get(next.fetch_add(1, Ordering::Relaxed))
                else {
                    return;
                };
                match store_file(backend, blobs, path, *seen) {
                    Ok(stored) => {
                        let now = done.fetch_add(seen.size(), Ordering::Relaxed) + seen.size();
                        progress(now, total);
                        results
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .push((*index, stored));
                    }
                    Err(e) => {
                        stop.store(true, Ordering::Relaxed);
                        first_error
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .get_or_insert(e);
                        return;
                    }
                }
            });
        }
    });
    if let Some(e) = first_error
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
    {
        return Err(e);
    }
    for (index, (size, sha256, meta)) in results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
    {
        scanned[index].node.data = Data::File { size, sha256 };
        scanned[index].node.meta = Some(meta);
    }
    Ok(())
}
