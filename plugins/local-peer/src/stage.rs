//! Staging: copying the regular files of a peer's collect directory into a
//! local target directory, as Cedar Backup's `stagePeer` did, with the
//! differences listed below.
//!
//! What differs from Cedar's `stagePeer`:
//! - the directory is scanned first and the names sorted (byte order);
//! - symlinks, subdirectories, other non-regular entries and indicator files
//!   are skipped and reported instead of aborting the stage part-way;
//! - both directories are opened once and everything happens relative to
//!   their descriptors; a symlink on their paths is followed only when root
//!   or the running user owns it, so the peer's user cannot redirect a
//!   stage by swapping a directory for a symlink;
//! - each file is copied as `copy.rs` describes: a private temporary file
//!   that gets ownership, mode and the source's mtime on its descriptor,
//!   is flushed and renamed over the final name; a file with more than one
//!   hard link is refused unless allowed, a file that keeps changing while
//!   it is copied fails; no torn or too widely readable file is ever
//!   visible, and a symlink at the target name is replaced, not written
//!   through;
//! - a file that cannot be staged is reported and the others are still
//!   staged (a file that keeps changing is reported as skipped instead of
//!   failed with `changed=skip`); ownership the caller may not set is
//!   refused before anything is copied;
//! - names are joined as raw OS bytes (Cedar rewrote `\` to `/`).

use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{fstat, Dir, FileType};
use stowage_fs_common::is_temp_name;

use crate::copy::{copy_entry, CopyRules, StageDirs};
use crate::dir::open_dir;
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
/// Each staged file gets `ownership` (`fchown`), then `mode` (`fchmod`;
/// without it the source's permission bits, including setuid/setgid/sticky),
/// and the source's modification time. A file with more than one hard link
/// fails (see [`stage_with`] to allow them); so does one that changed
/// twice while it was copied. Entries named like one of `indicators` are
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
    stage_with(collect_dir, target_dir, ownership, mode, indicators, false)
}

/// [`stage()`], copying files with several hard links too when
/// `allow_hardlinks` is set (the `allow_hardlinks=yes` URL parameter,
/// `stowage peer stage --allow-hardlinks`).
pub fn stage_with(
    collect_dir: &Path,
    target_dir: &Path,
    ownership: Option<Ownership>,
    mode: Option<u32>,
    indicators: &[&str],
    allow_hardlinks: bool,
) -> Result<StageReport, PeerError> {
    let options = StageOptions {
        allow_hardlinks,
        ..StageOptions::default()
    };
    stage_with_options(
        collect_dir,
        target_dir,
        ownership,
        mode,
        indicators,
        options,
    )
}

/// What a stage may do beyond [`stage()`]'s defaults (both off).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageOptions {
    /// Copy files with more than one hard link too (`allow_hardlinks=yes`,
    /// `--allow-hardlinks`).
    pub allow_hardlinks: bool,
    /// A file that changed while it was copied, and again while it was
    /// copied once more, is skipped ([`SkipReason::Changed`]) instead of
    /// failing the stage (`changed=skip`, `--skip-changed`). Either way
    /// nothing of it reaches the target directory.
    pub skip_changed: bool,
}

/// [`stage()`] with [`StageOptions`].
///
/// With `skip_changed`, a file that kept changing is reported in
/// `skipped` (reason [`SkipReason::Changed`]) rather than `failed`, so the
/// stage is `Ok` when the other files were staged; see
/// [`StageReport::skipped_changed`] for what it left out. Nothing staged at
/// all is still [`PeerError::NothingToStage`].
pub fn stage_with_options(
    collect_dir: &Path,
    target_dir: &Path,
    ownership: Option<Ownership>,
    mode: Option<u32>,
    indicators: &[&str],
    options: StageOptions,
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
    let collect = open_dir("collect directory", collect_dir)?;
    let target = open_dir("target directory", target_dir)?;
    for name in indicators {
        validate_indicator_name(name)?;
    }
    if let Some(mode) = mode {
        check_mode(mode)?;
    }
    let identity = |fd: &OwnedFd, path: &Path| {
        fstat(fd)
            .map(|st| (st.st_dev, st.st_ino))
            .map_err(|e| PeerError::io("stat", path)(e.into()))
    };
    if identity(&collect, collect_dir)? == identity(&target, target_dir)? {
        return Err(PeerError::SameDirectory {
            collect_dir: collect_dir.to_path_buf(),
            target_dir: target_dir.to_path_buf(),
        });
    }
    let ownership = ownership.filter(|o| !o.is_empty());
    if let Some(ownership) = &ownership {
        crate::ownership::ensure_permitted(ownership, target_dir)?;
    }
    let rules = CopyRules {
        ownership,
        mode,
        allow_hardlinks: options.allow_hardlinks,
    };
    let dirs = StageDirs {
        collect: &collect,
        collect_path: collect_dir,
        target: &target,
        target_path: target_dir,
    };

    let entries = scan(&collect, collect_dir)?;
    let mut report = StageReport::new(collect_dir, target_dir);
    for (name, file_type) in entries {
        let skip = if indicators.iter().any(|i| i.as_bytes() == name.as_bytes()) {
            Some(SkipReason::Indicator)
        } else if is_temp_name(name.as_bytes()) {
            Some(SkipReason::Temporary)
        } else if file_type == FileType::Symlink {
            Some(SkipReason::Symlink)
        } else if file_type == FileType::Directory {
            Some(SkipReason::Directory)
        } else if file_type != FileType::RegularFile {
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
        match copy_entry(&dirs, name.as_os_str(), rules) {
            Ok(bytes) => report.push_staged(name, bytes),
            // Nothing of it is left in the target: the temporary copy was
            // removed when `copy_entry` gave up.
            Err(e @ PeerError::Changed { .. }) if options.skip_changed => {
                log::warn!("{e}; skipped (changed=skip)");
                report.skipped.push(SkippedEntry {
                    name,
                    reason: SkipReason::Changed,
                });
            }
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
        rustix::fs::fsync(&target)
            .map_err(|e| PeerError::io("flush to disk directory", target_dir)(e.into()))?;
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

/// Lists the open directory (entry types without following symlinks),
/// sorted by the raw bytes of the names.
fn scan(dir: &OwnedFd, path: &Path) -> Result<Vec<(OsString, FileType)>, PeerError> {
    let io = |e: rustix::io::Errno| PeerError::io("read directory", path)(e.into());
    let mut entries = Vec::new();
    for entry in Dir::read_from(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = OsStr::from_bytes(entry.file_name().to_bytes());
        if name == "." || name == ".." {
            continue;
        }
        let file_type = match entry.file_type() {
            FileType::Unknown => {
                let st = rustix::fs::statat(dir, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| PeerError::io("stat", path.join(name))(e.into()))?;
                FileType::from_raw_mode(st.st_mode)
            }
            t => t,
        };
        entries.push((name.to_os_string(), file_type));
    }
    entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    Ok(entries)
}
