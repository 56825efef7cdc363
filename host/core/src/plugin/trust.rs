//! ssh-style StrictModes for plugin files: code that others can write is
//! code that others can run as us.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Refuses `file` when it, or a directory through which it is reached, is
/// writable by group or others, or owned by a user other than root and us.
/// For a symlink, that is the directory holding the link as well as the
/// file it points to and that file's directory: whoever can write any of
/// them could swap the code between this check and the load.
///
/// Returns the reason, naming the offending path and the fix.
pub fn check_trusted(file: &Path) -> Result<(), String> {
    let resolve = |p: &Path| std::fs::canonicalize(p).map_err(|e| format!("cannot resolve: {e}"));
    let holder = match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => resolve(dir)?,
        _ => resolve(Path::new("."))?,
    };
    check_one(&holder, "directory")?;
    let real = resolve(file)?;
    check_one(&real, "file")?;
    if let Some(dir) = real.parent() {
        if dir != holder {
            check_one(dir, "directory")?;
        }
    }
    Ok(())
}

fn check_one(path: &Path, what: &str) -> Result<(), String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot stat {}: {e}", path.display()))?;
    let mode = meta.mode() & 0o7777;
    // A sticky, world-writable directory (like /tmp) still lets anyone
    // create files in it, so it is no safer for plugins.
    if mode & 0o022 != 0 {
        return Err(format!(
            "refusing to load: the {what} {} is writable by {} (mode {mode:04o}); fix it with `chmod go-w {}` or pass --allow-insecure-plugins",
            path.display(),
            if mode & 0o002 != 0 { "everyone" } else { "its group" },
            path.display()
        ));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != 0 && meta.uid() != me {
        return Err(format!(
            "refusing to load: the {what} {} is owned by uid {}, neither root nor the current user; fix it with `chown` or pass --allow-insecure-plugins",
            path.display(),
            meta.uid()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn writable_files_and_dirs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let file = dir.path().join("libp.so");
        std::fs::write(&file, b"x").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(check_trusted(&file), Ok(()));

        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
        let err = check_trusted(&file).unwrap_err();
        assert!(
            err.contains("writable by everyone") && err.contains("chmod go-w"),
            "{err}"
        );

        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o775)).unwrap();
        let err = check_trusted(&file).unwrap_err();
        assert!(
            err.contains("directory") && err.contains("its group"),
            "{err}"
        );
    }
}
