//! Temporary files and names: hidden, random, removed unless kept.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::error::{SpaceError, SpaceResult};

/// A fresh hidden path beside `target` (same directory, so a rename onto
/// `target` is atomic). Nothing is created.
pub fn temp_path_beside(target: &Path, tag: &str) -> PathBuf {
    let dir = target.parent().unwrap_or(Path::new("."));
    let base = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut keep: String = base.chars().take(100).collect();
    keep.retain(|c| c != '/');
    dir.join(format!(
        ".stowage-{tag}-{:016x}-{keep}",
        rand::random::<u64>()
    ))
}

/// A path that is removed (if it exists) when dropped, unless kept.
#[derive(Debug)]
pub struct TempPath {
    path: PathBuf,
    armed: bool,
}

impl TempPath {
    /// Claims `path` (which should not exist yet).
    pub fn new(path: PathBuf) -> Self {
        Self { path, armed: true }
    }

    /// A fresh name in `dir`.
    pub fn in_dir(dir: &Path, tag: &str) -> Self {
        Self::new(temp_path_beside(&dir.join("x"), tag))
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Creates a new private (0600) file with a fresh name in `dir`.
pub fn create_private(dir: &Path, tag: &str) -> io::Result<(TempPath, File)> {
    let temp = TempPath::in_dir(dir, tag);
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(temp.path())?;
    Ok((temp, file))
}

/// Writes `bytes` to a new private file in `dir`.
pub fn write_temp(dir: &Path, bytes: &[u8]) -> SpaceResult<TempPath> {
    let (temp, mut f) = create_private(dir, "value").map_err(|e| SpaceError::local(dir, e))?;
    f.write_all(bytes)
        .map_err(|e| SpaceError::local(temp.path(), e))?;
    Ok(temp)
}
