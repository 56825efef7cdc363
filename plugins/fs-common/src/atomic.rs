//! Copy-then-rename: the only way content reaches a final name.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// Names starting with this are in-flight temporary files: never listed,
/// never accepted as object names.
pub const TEMP_PREFIX: &str = ".stowage-partial-";

/// Whether `name` is one of our temporary names.
pub fn is_temp_name(name: &[u8]) -> bool {
    name.starts_with(TEMP_PREFIX.as_bytes())
}

/// A fresh hidden temporary path in the same directory as `target`, so that
/// the final `rename` stays on one filesystem and is atomic. The target's
/// file name is kept in it for whoever finds a leftover after a crash.
pub fn temp_path_beside(target: &Path) -> PathBuf {
    let dir = target.parent().unwrap_or(Path::new("."));
    let mut name = OsString::from(TEMP_PREFIX);
    name.push(format!("{:016x}-", rand::random::<u64>()));
    // Keep the whole temporary name within NAME_MAX (255 bytes).
    let base = target.file_name().map(OsStr::as_bytes).unwrap_or(b"");
    let room = 255usize.saturating_sub(name.len());
    name.push(OsStr::from_bytes(&base[..base.len().min(room)]));
    dir.join(name)
}

/// Copies `source` to `target` through a temporary file beside `target`:
/// `target` either keeps its old content or has the complete new one, never
/// a part. With `sync`, the temporary file is synced before the rename.
/// Returns the number of bytes copied.
///
/// The copy is `std::fs::copy` (`copy_file_range` on Linux: in-kernel, no
/// user-space buffer, reflinks where the filesystem offers them).
pub fn copy_atomically(source: &Path, target: &Path, sync: bool) -> io::Result<u64> {
    let temp = temp_path_beside(target);
    let result = (|| {
        let bytes = fs::copy(source, &temp)?;
        if sync {
            fs::File::open(&temp)?.sync_all()?;
        }
        fs::rename(&temp, target)?;
        Ok(bytes)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// The file name of `path` as raw bytes.
pub(crate) fn file_name_bytes(path: &Path) -> Vec<u8> {
    path.file_name()
        .map(|n| n.to_os_string().into_vec())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_are_hidden_and_bounded() {
        let long = "x".repeat(255);
        let t = temp_path_beside(&Path::new("/d").join(&long));
        assert_eq!(t.parent(), Some(Path::new("/d")));
        let name = file_name_bytes(&t);
        assert!(is_temp_name(&name));
        assert!(name.len() <= 255);
        assert_ne!(
            temp_path_beside(Path::new("/d/a")),
            temp_path_beside(Path::new("/d/a"))
        );
    }

    #[test]
    fn copy_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        let dst = dir.path().join("dst");
        fs::write(&src, b"new content").unwrap();
        fs::write(&dst, b"old").unwrap();
        assert_eq!(copy_atomically(&src, &dst, true).unwrap(), 11);
        assert_eq!(fs::read(&dst).unwrap(), b"new content");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 2, "no temporary file is left behind");
    }

    #[test]
    fn failed_copy_leaves_target_alone() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("dst");
        fs::write(&dst, b"old").unwrap();
        assert!(copy_atomically(&dir.path().join("missing"), &dst, false).is_err());
        assert_eq!(fs::read(&dst).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
