//! Collect and stage indicators: the empty files a peer and the master use
//! to coordinate: the peer writes the collect indicator when its collect
//! run is done, the master writes the stage indicator once it has staged.

use std::fs::{self, Permissions};
use std::io;
use std::os::unix::fs::{fchown, PermissionsExt};
use std::path::Path;

use crate::atomic::{sync_dir, TempFile};
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
    if name.is_empty() {
        Err(bad("must not be empty"))
    } else if name == "." || name == ".." {
        Err(bad("must not be . or .."))
    } else if name.contains('/') {
        Err(bad("must be a plain file name, without /"))
    } else if name.contains('\0') {
        Err(bad("must not contain NUL"))
    } else if name.len() > NAME_MAX {
        Err(bad("longer than 255 bytes"))
    } else {
        Ok(())
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
    let path = collect_dir.join(name);
    match fs::symlink_metadata(&path) {
        Ok(meta) => Ok(meta.file_type().is_file()),
        Err(e)
            if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR) =>
        {
            Ok(false)
        }
        Err(e) => Err(PeerError::Io {
            op: "look for the collect indicator",
            path,
            source: e,
        }),
    }
}

/// Writes the empty stage indicator `name` into `collect_dir`.
///
/// The collect directory must exist and be a directory (or a symlink to
/// one). Ownership that the current user cannot set is refused before
/// anything is written. The indicator is created atomically: an empty
/// temporary file gets the ownership (`chown`) and then `mode` (`chmod`;
/// without it, `0666` less the umask, as `open(2)` makes it), is flushed to
/// disk and renamed over `name`. An existing indicator is therefore
/// *replaced* by a new empty file (Cedar truncated it in place); a symlink of
/// that name is replaced, not written through; a directory of that name is
/// an error and is left alone.
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
    crate::dir::require_dir("collect directory", collect_dir)?;
    if let Some(ownership) = &ownership {
        crate::ownership::ensure_permitted(ownership, collect_dir)?;
    }
    let target = collect_dir.join(name);
    let temp = TempFile::create(collect_dir, "indicator", 0o666)?;
    if let Some(o) = ownership.filter(|o| !o.is_empty()) {
        fchown(temp.file(), o.uid, o.gid)
            .map_err(PeerError::io("change the owner of", temp.path()))?;
    }
    if let Some(mode) = mode {
        temp.file()
            .set_permissions(Permissions::from_mode(mode))
            .map_err(PeerError::io("change the mode of", temp.path()))?;
    }
    temp.persist(&target)?;
    sync_dir(collect_dir)
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
