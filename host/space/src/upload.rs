//! Storing the content of the files a backup scanned: each source is
//! opened once, relative to its directory's descriptor (never through a
//! symlink, neither in its parents nor at its own name), its metadata is
//! `fstat` of that descriptor, and what was hashed is what gets stored, so
//! a file swapped or changed meanwhile cannot put other content under its
//! hash. Small files are copied to memory while they are hashed. A bigger
//! one is hashed and stored from that one descriptor while a read lease
//! shows nobody could write it ([`ReadLease`]): when the lease was broken,
//! the object just stored is deleted and the file read again. A file no
//! lease can be taken on is copied to a private temporary file while it is
//! hashed, and that copy is stored.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use rustix::fs::{fstat, FileType};
use rustix::io::Errno;

use crate::error::{SpaceError, SpaceResult};
use crate::fsat::{file_type, Cursor, Dir};
use crate::fsmeta::{capture, size_of};
use crate::hash::sha256_copy;
use crate::inner::StoreInner;
use crate::lease::ReadLease;
use crate::manifest::{Data, Meta};
use crate::object::{Content, Unchanged};
use crate::sync::locked;
use crate::temp::{create_private, TempPath};
use crate::walk::{Scanned, Source};
use stowage_fs_common::FileIdentity;

/// How often a file that keeps changing is read again before the backup
/// gives up on it.
const ATTEMPTS: usize = 3;

/// Files up to this size are copied into memory rather than to a
/// temporary file.
const IN_MEMORY: u64 = 1 << 20;

/// What was stored for one file: size, checksum, and the metadata of
/// the version that was read.
type Stored = (u64, String, Meta);

/// A consistent copy of one version of a file, or the file itself while
/// nobody can write it.
pub(crate) enum Copy {
    Memory(Vec<u8>),
    File(TempPath),
    Leased {
        lease: ReadLease,
        /// `/proc/self/fd/N` of the leased descriptor: the same inode,
        /// whatever happens to the path it was opened by.
        path: PathBuf,
        hashed: FileIdentity,
    },
}

/// One version of a file, read once: a private copy, its checksum and
/// the metadata of the version read.
pub(crate) struct Snapshot {
    pub copy: Copy,
    pub sha256: String,
    pub size: u64,
    pub meta: Meta,
}

impl Snapshot {
    /// The copy, as content to store.
    pub fn content(&self) -> Content<'_> {
        match &self.copy {
            Copy::Memory(bytes) => Content::Bytes(bytes),
            Copy::File(temp) => Content::File(temp.path()),
            Copy::Leased { path, .. } => Content::Leased {
                path,
                unchanged: self,
            },
        }
    }
}

impl Unchanged for Snapshot {
    /// Whether the content is still what was hashed: always for a copy;
    /// for a leased file, when its lease holds and its `fstat` is the same.
    fn unchanged(&self) -> bool {
        match &self.copy {
            Copy::Memory(_) | Copy::File(_) => true,
            Copy::Leased { lease, hashed, .. } => {
                lease.held() && fstat(lease.file()).is_ok_and(|st| FileIdentity::of(&st) == *hashed)
            }
        }
    }
}

/// Opens `name` in `dir` once (not following a symlink, not blocking on a
/// FIFO swapped in) and hashes it, copying it unless it is big and can be
/// leased. `Ok(None)` when it is not a regular file any more or changed
/// while it was read (its `fstat` differs before and after, or its lease
/// was broken).
pub(crate) fn snapshot(
    store: &StoreInner,
    dir: &Dir,
    name: &OsStr,
) -> SpaceResult<Option<Snapshot>> {
    let path = dir.path().join(name);
    let local = |e| SpaceError::local(&path, e);
    let file = match dir.open_file(name) {
        Ok(f) => f,
        // Replaced by a symlink since the scan: not what was scanned.
        Err(Errno::LOOP) => return Ok(None),
        Err(e) => return Err(local(e.into())),
    };
    let before = fstat(&file).map_err(|e| local(e.into()))?;
    if file_type(&before) != FileType::RegularFile {
        return Ok(None);
    }
    let hashed = FileIdentity::of(&before);
    let meta = capture(&before);
    let size = size_of(&before);
    let leased = if size > IN_MEMORY {
        ReadLease::take(file)
    } else {
        Err(file)
    };
    let snap = match leased {
        Ok(lease) => {
            let (sha256, size) = sha256_copy(lease.file(), size, |_| Ok(())).map_err(local)?;
            let path = PathBuf::from(format!("/proc/self/fd/{}", lease.file().as_raw_fd()));
            Snapshot {
                copy: Copy::Leased {
                    lease,
                    path,
                    hashed,
                },
                sha256,
                size,
                meta,
            }
        }
        Err(mut file) => {
            let (copy, sha256, size) = copy_hashing(store, &mut file, size).map_err(local)?;
            let after = fstat(&file).map_err(|e| local(e.into()))?;
            if FileIdentity::of(&after) != hashed {
                return Ok(None);
            }
            Snapshot {
                copy,
                sha256,
                size,
                meta,
            }
        }
    };
    if snap.size != size || !snap.unchanged() {
        return Ok(None);
    }
    Ok(Some(snap))
}

/// Stores the content of file `name` in `dir` from a [`snapshot`]: what
/// was hashed is what is stored. A file that keeps changing is read again,
/// up to 3 times.
pub fn store_file(store: &StoreInner, dir: &Dir, name: &OsStr) -> SpaceResult<Stored> {
    for _ in 0..ATTEMPTS {
        let Some(snap) = snapshot(store, dir, name)? else {
            continue;
        };
        match store.blobs.ensure(
            &store.backend,
            store.temp_dir(),
            &snap.sha256,
            snap.size,
            snap.content(),
            false,
        ) {
            Ok(()) => return Ok((snap.size, snap.sha256, snap.meta)),
            // Changed while it was stored: nothing is left under the hash.
            Err(SpaceError::SourceChanged { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(SpaceError::SourceChanged {
        path: dir.path().join(name),
    })
}

/// Stores the content of the file at `source`, its directory found
/// through `cursor`.
fn store_source(
    store: &StoreInner,
    cursor: &mut Cursor<'_>,
    source: &Source,
) -> SpaceResult<Stored> {
    match cursor.at(&source.dir)? {
        Some(dir) => store_file(store, dir, &source.name),
        // Its directory was removed since the scan, and with it the file.
        None => Err(SpaceError::local(
            cursor.path_of(&source.dir).join(&source.name),
            Errno::NOENT.into(),
        )),
    }
}

/// Copies `file` (expected to hold `expected` bytes) to memory or a
/// private temporary file, hashing what it reads.
fn copy_hashing(
    store: &StoreInner,
    file: &mut File,
    expected: u64,
) -> io::Result<(Copy, String, u64)> {
    let mut out: Option<(TempPath, File)> = None;
    let mut memory = Vec::new();
    if expected > IN_MEMORY {
        out = Some(create_private(store.temp_dir(), "source")?);
    } else {
        memory.reserve_exact(expected as usize);
    }
    let (sha256, total) = sha256_copy(file, expected, |chunk| match &mut out {
        Some((_, f)) => f.write_all(chunk),
        None => {
            memory.extend_from_slice(chunk);
            Ok(())
        }
    })?;
    let copy = match out {
        Some((temp, _)) => Copy::File(temp),
        None => Copy::Memory(memory),
    };
    Ok((copy, sha256, total))
}

/// Stores the content of every file in `scanned` (found under `base`), on
/// up to `workers` threads, and fills in sizes, checksums and metadata.
/// Stops at the first error. `progress(done, total)` hears the bytes of
/// files stored so far, from any of the worker threads.
pub fn store_all(
    store: &StoreInner,
    base: &Dir,
    scanned: &mut [Scanned],
    progress: &(dyn Fn(u64, u64) + Sync),
) -> SpaceResult<()> {
    let workers = store.workers;
    let jobs: Vec<(usize, &Source)> = scanned
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.file.as_ref().map(|f| (i, f)))
        .collect();
    let total: u64 = jobs.iter().map(|(_, f)| f.size).sum();
    let done = std::sync::atomic::AtomicU64::new(0);
    progress(0, total);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let results: Mutex<Vec<(usize, Stored)>> = Mutex::new(Vec::with_capacity(jobs.len()));
    let first_error: Mutex<Option<SpaceError>> = Mutex::new(None);
    let workers = workers.clamp(1, jobs.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                // Each worker's own: jobs come in scan order, so a worker
                // mostly finds the directory it needs already open.
                let mut cursor = Cursor::new(base);
                loop {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let Some((index, source)) = jobs.get(next.fetch_add(1, Ordering::Relaxed))
                    else {
                        return;
                    };
                    match store_source(store, &mut cursor, source) {
                        Ok(stored) => {
                            let now = done.fetch_add(source.size, Ordering::Relaxed) + source.size;
                            progress(now, total);
                            locked(&results).push((*index, stored));
                        }
                        Err(e) => {
                            stop.store(true, Ordering::Relaxed);
                            locked(&first_error).get_or_insert(e);
                            return;
                        }
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
