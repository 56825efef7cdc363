//! Finding the xorriso program.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Find the xorriso executable: `XORRISO_PATH` (checked, named in errors) or `xorriso` in `PATH`.
pub fn resolve_executable(exe: &Path, from_env: bool) -> Result<PathBuf> {
    let bad = |reason: &str| Error::BadXorrisoPath {
        path: exe.to_path_buf(),
        reason: reason.to_string(),
    };
    if exe.components().count() > 1 || exe.is_absolute() {
        let m = std::fs::metadata(exe).map_err(|e| {
            if from_env {
                bad(&e.to_string())
            } else {
                Error::XorrisoNotInstalled
            }
        })?;
        if m.is_dir() {
            return Err(bad("it is a directory"));
        }
        if m.permissions().mode() & 0o111 == 0 {
            return Err(bad("it is not executable"));
        }
        return Ok(exe.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let cand = dir.join(exe);
        if let Ok(m) = std::fs::metadata(&cand) {
            if m.is_file() && m.permissions().mode() & 0o111 != 0 {
                return Ok(cand);
            }
        }
    }
    if from_env {
        Err(bad("no such program in PATH"))
    } else {
        Err(Error::XorrisoNotInstalled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_executables() {
        let e = resolve_executable(Path::new("no-such-xorriso-4711"), false).unwrap_err();
        assert!(matches!(e, Error::XorrisoNotInstalled), "{e}");
        assert_eq!(e.kind(), crate::ErrorKind::NotFound);
        let e = resolve_executable(Path::new("no-such-xorriso-4711"), true).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("no-such-xorriso-4711"), "{e}");
        let e = resolve_executable(Path::new("/etc/passwd"), true).unwrap_err();
        assert!(e.to_string().contains("not executable"), "{e}");
        let e = resolve_executable(Path::new("/tmp"), true).unwrap_err();
        assert!(e.to_string().contains("directory"), "{e}");
    }
}
