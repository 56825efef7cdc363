//! Staging: copying the regular files of a peer's collect directory into a
//! local target directory, as Cedar Backup's `stagePeer` did, with the
//! differences listed below.
//!
//! What differs from Cedar's `stagePeer`:
//! - the directory is scanned first and the names sorted (byte order);
//! - symlinks, subdirectories, other non-regular entries and indicator files
//!   are skipped and reported instead of aborting the stage part-way;
//! - each file goes to a hidden temporary file in the target directory that
//!   gets ownership, mode and the source's mtime, is flushed to disk and is
//!   renamed over the final name: no torn file is ever visible and a symlink
//!   at the target name is replaced, not written through;
//! - a file that cannot be staged is reported and the others are still
//!   staged; ownership the caller may not set is refused before anything is
//!   copied;
//! - names are joined as raw OS bytes (Cedar rewrote `\` to `/`).

use std::ffi::OsString;
use std::fs::{self, File, FileTimes, OpenOptions, Permissions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{fchown, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use stowage_fs_common::is_temp_name;

use crate::atomic::{sync_dir, TempFile};
use crate::dir::require_dir;
use crate::error::PeerError;
use crate::indicator::validate_indicator_name;
use crate::ownership::{check_mode, Ownership};
use crate::report::{EntryName, FailedEntry, SkipReason, SkippedEntry, StageReport};

/// Copies every regular file of `collect_dir` (not recursively) into
/// `target_dir` and reports what was staged, skipped and failed.
///
/// Checks, in Cedar's order, before anything is read or written:
/// `target_dir` is absolute (and so is `collect_dir`); `collect_dir` exists
/// and is a directory (a symlink to one is fine); `target_dir` likewise.
/// Then: the indicator names and `mode` are valid, the two directories are
/// not the same, and `ownership` is one the current user may set.
///
/// Each staged file gets `ownership` (`chown`), then `mode` (`chmod`; without
/// it the source's permission bits, including setuid/setgid/sticky), and the
/// source's modification time. Entries named like one of `indicators` are
/// skipped whatever their type. Stowage's in-flight temporary files
/// (`.stowage-partial-*`: a put into the collect directory in progress, or
/// the leftover of an interrupted one) are skipped as `Temporary`.
///
/// Result:
/// - `Ok(report)` when at least one file was staged and none failed;
/// - [`PeerError::StageFailed`] when any file failed (the others were still
///   staged; the error carries the report);
/// - [`PeerError::NothingToStage`] when nothing failed and nothing was
///   staged (empty collect directory, or only skipped entries), as in Cedar.
pub fn stage(
    collect_dir: &Path,
    target_dir: &Path,
    ownership: Option<Ownership>,
    mode: Option<u32>,
    indicators: &[&str],
) -> Result<StageReport, PeerError> {
    if !target_dir.is_absolute() {
        return Err(PeerError::NotAbsolute {
            what: "target directory",
            path: target_dir.to_path_buf(),
        });
    }
    if !collect_dir.is_absolute() {
        return Err(PeerError::NotAbsolute {
            what: "collect directory",
            path: collect_dir.to_path_buf(),
        });
    }
    let collect_meta = require_dir("collect directory", collect_dir)?;
    let target_meta = require_dir("target directory", target_dir)?;
    for name in indicators {
        validate_indicator_name(name)?;
    }
    if let Some(mode) = mode {
        check_mode(mode)?;
    }
    if (collect_meta.dev(), collect_meta.ino()) == (target_meta.dev(), target_meta.ino()) {
        return Err(PeerError::SameDirectory {
            collect_dir: collect_dir.to_path_buf(),
            target_dir: target_dir.to_path_buf(),
        });
    }
    let ownership = ownership.filter(|o| !o.is_empty());
    if let Some(ownership) = &ownership {
        crate::ownership::ensure_permitted(ownership, target_dir)?;
    }

    let entries = scan(collect_dir)?;
    let mut report = StageReport::new(collect_dir, target_dir);
    for (name, file_type) in entries {
        let skip = if indicators.iter().any(|i| i.as_bytes() == name.as_bytes()) {
            Some(SkipReason::Indicator)
        } else if is_temp_name(name.as_bytes()) {
            Some(SkipReason::Temporary)
        } else if file_type.is_symlink() {
            Some(SkipReason::Symlink)
        } else if file_type.is_dir() {
            Some(SkipReason::Directory)
        } else if !file_type.is_file() {
            Some(SkipReason::NotRegular)
        } else {
            None
        };
        let name = EntryName::new(name);
        if let Some(reason) = skip {
            log::debug!("skipping {name:?} in {collect_dir:?}: {reason}");
            report.skipped.push(SkippedEntry { name, reason });
            continue;
        }
        match copy_file(
            &collect_dir.join(name.as_os_str()),
            &target_dir.join(name.as_os_str()),
            target_dir,
            ownership,
            mode,
        ) {
            Ok(bytes) => report.push_staged(name, bytes),
            Err(e) => {
                log::warn!("{e}");
                report.failed.push(FailedEntry {
                    name,
                    kind: e.kind(),
                    os_error: e.os_error(),
                    message: e.to_string(),
                });
            }
        }
    }
    if report.copied > 0 {
        sync_dir(target_dir)?;
    }
    if !report.failed.is_empty() {
        Err(PeerError::StageFailed {
            report: Box::new(report),
        })
    } else if report.copied == 0 {
        Err(PeerError::NothingToStage {
            report: Box::new(report),
        })
    } else {
        Ok(report)
    }
}

/// Lists the directory (entry types without following symlinks), sorted by
/// the raw bytes of the names.
fn scan(dir: &Path) -> Result<Vec<(OsString, fs::FileType)>, PeerError> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(PeerError::io("read directory", dir))? {
        let entry = entry.map_err(PeerError::io("read directory", dir))?;
        let file_type = entry
            .file_type()
            .map_err(PeerError::io("stat", entry.path()))?;
        entries.push((entry.file_name(), file_type));
    }
    entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    Ok(entries)
}

/// Copies one regular file atomically; returns the bytes copied.
fn copy_file(
    source: &Path,
    target: &Path,
    target_dir: &Path,
    ownership: Option<Ownership>,
    mode: Option<u32>,
) -> Result<u64, PeerError> {
    // O_NOFOLLOW: the entry was not a symlink at scan time and must not have
    // become one. O_NONBLOCK: a FIFO swapped in since the scan must not
    // block the open (it is then refused below).
    let mut src = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(source)
        .map_err(PeerError::io("open", source))?;
    let meta = src.metadata().map_err(PeerError::io("stat", source))?;
    if !meta.file_type().is_file() {
        return Err(PeerError::NotRegularFile {
            path: source.to_path_buf(),
        });
    }
    let final_mode = mode.unwrap_or(meta.mode() & 0o7777);

    // Created 0600: nobody else can read the data before the mode is set.
    let temp = TempFile::create(target_dir, "stage", 0o600)?;
    let copy_error = |e| PeerError::Copy {
        from: source.to_path_buf(),
        to: target.to_path_buf(),
        source: e,
    };
    let bytes = io::copy(&mut src, &mut temp.file()).map_err(copy_error)?;
    let dst: &File = temp.file();
    if let Some(o) = ownership {
        fchown(dst, o.uid, o.gid).map_err(PeerError::io("change the owner of", temp.path()))?;
    }
    // After chown, which clears setuid/setgid bits.
    dst.set_permissions(Permissions::from_mode(final_mode))
        .map_err(PeerError::io("change the mode of", temp.path()))?;
    let mtime = meta.modified().map_err(PeerError::io("stat", source))?;
    dst.set_times(FileTimes::new().set_modified(mtime))
        .map_err(PeerError::io("set the modification time of", temp.path()))?;
    temp.persist(target)?;
    Ok(bytes)
}
