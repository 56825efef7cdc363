//! Collect and stage indicators: the empty files a peer and the master use
//! to coordinate: the peer writes the collect indicator when its collect
//! run is done, the master writes the stage indicator once it has staged.

use std::ffi::OsStr;
use std::os::fd::AsFd;
use std::path::Path;

use rustix::fs::{fchmod, fchown, statat, AtFlags, FileType, Gid, Mode, Uid};
use rustix::io::Errno;
use stowage_fs_common::TempFile;

use crate::dir::open_dir;
use crate::error::PeerError;
use crate::ownership::{check_mode, Ownership};

/// Written by a peer into its collect directory when collection is done.
pub const DEFAULT_COLLECT_INDICATOR: &str = "cback.collect";
/// Written by the master into a peer's collect directory once staged.
pub const DEFAULT_STAGE_INDICATOR: &str = "cback.stage";
/// The indicator names [`crate::stage()`] skips by default.
pub const DEFAULT_INDICATORS: &[&str] = &[DEFAULT_COLLECT_INDICATOR, DEFAULT_STAGE_INDICATOR];

/// Longest file name Linux accepts (`NAME_MAX`).
const NAME_MAX: usize = 255;

/// Accepts only one plain path component: non-empty, at most 255 bytes, no
/// `/`, no NUL, not `.` or `..`. Cedar accepted `../x`, `/etc/passwd` and
/// `sub/x`, so checks and writes could land outside the collect directory.
pub fn validate_indicator_name(name: &str) -> Result<(), PeerError> {
    let bad = |reason: &str| PeerError::invalid("indicator name", name, reason);
    match crate::dir::component_problem(name) {
        Some(reason) => Err(bad(reason)),
        None if name.len() > NAME_MAX => Err(bad("longer than 255 bytes")),
        None => Ok(()),
    }
}

/// Whether the collect indicator `name` is present in `collect_dir`: true
/// only for a regular file. A directory, a symlink (even to a regular file)
/// or anything else of that name is `false`; so is a missing collect
/// directory (as in Cedar, which never raised). Other failures to look
/// (e.g. permission denied on the collect directory) are errors, where
/// Cedar answered `False`.
pub fn check_collect_indicator(collect_dir: &Path, name: &str) -> Result<bool, PeerError> {
    validate_indicator_name(name)?;
    let dir = match open_dir("collect directory", collect_dir) {
        Ok(dir) => dir,
        Err(PeerError::DirectoryNotFound { .. } | PeerError::NotADirectory { .. }) => {
            return Ok(false)
        }
        Err(e) => return Err(e),
    };
    match statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(FileType::from_raw_mode(st.st_mode) == FileType::RegularFile),
        Err(Errno::NOENT) => Ok(false),
        Err(e) => Err(PeerError::Io {
            op: "look for the collect indicator",
            path: collect_dir.join(name),
            source: e.into(),
        }),
    }
}

/// Writes the empty stage indicator `name` into `collect_dir`.
///
/// The collect directory must exist and be a directory (or a symlink to
/// one that root or the running user owns). Ownership that the current
/// user cannot set is refused before anything is written. The indicator is
/// created atomically: an empty temporary file, created `0600` (with
/// `mode`) or `0666` less the umask (without), gets the ownership
/// (`fchown`) and then `mode` (`fchmod`), is flushed to disk and renamed
/// over `name`. It never exists with wider permissions than asked for. An
/// existing indicator is therefore *replaced* by a new empty file (Cedar
/// truncated it in place); a symlink of that name is replaced, not written
/// through; a directory of that name is an error and is left alone.
pub fn write_stage_indicator(
    collect_dir: &Path,
    name: &str,
    ownership: Option<Ownership>,
    mode: Option<u32>,
) -> Result<(), PeerError> {
    validate_indicator_name(name)?;
    if let Some(mode) = mode {
        check_mode(mode)?;
    }
    let dir = open_dir("collect directory", collect_dir)?;
    if let Some(ownership) = &ownership {
        crate::ownership::ensure_permitted(ownership, collect_dir)?;
    }
    let target = collect_dir.join(name);
    let io = |op| PeerError::io(op, target.clone());
    let temp = TempFile::create_in(
        dir.as_fd(),
        name.as_bytes(),
        if mode.is_some() { 0o600 } else { 0o666 },
    )
    .map_err(PeerError::io("create a temporary file in", collect_dir))?;
    if let Some(o) = ownership.filter(|o| !o.is_empty()) {
        fchown(
            temp.file(),
            o.uid.map(Uid::from_raw),
            o.gid.map(Gid::from_raw),
        )
        .map_err(|e| io("change the owner of")(e.into()))?;
    }
    if let Some(mode) = mode {
        fchmod(temp.file(), Mode::from_raw_mode(mode))
            .map_err(|e| io("change the mode of")(e.into()))?;
    }
    temp.persist(OsStr::new(name), true)
        .map_err(io("rename a temporary file to"))?;
    rustix::fs::fsync(&dir)
        .map_err(|e| PeerError::io("flush to disk directory", collect_dir)(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn indicator_names() {
        for good in [
            "cback.collect",
            "cback.stage",
            ".hidden",
            "a b",
            "ünï",
            "back\\slash",
            "...",
        ] {
            validate_indicator_name(good).unwrap();
        }
        let long = "x".repeat(256);
        for bad in [
            "",
            ".",
            "..",
            "/",
            "a/b",
            "/etc/passwd",
            "../x",
            "sub/",
            "a\0b",
            long.as_str(),
        ] {
            let e = validate_indicator_name(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad:?}");
            assert!(e.to_string().starts_with("invalid indicator name"), "{e}");
        }
    }
}
