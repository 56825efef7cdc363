//! The local half of transfers: the source of a put, the destination of a get.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use stowage_backend_api::{BackendError, Result};
use stowage_fs_common::temp_path_beside;

/// Opens the local file a put reads, with its size. A missing file is
/// "not found", an unreadable one "permission denied", a directory invalid
/// input.
///
/// # Errors
/// As above, naming the path.
pub fn open_source(local: &Path) -> Result<(File, u64)> {
    let context = || format!("reading local file {}", local.display());
    let file = File::open(local).map_err(|e| BackendError::from_io(&e, context()))?;
    let meta = file
        .metadata()
        .map_err(|e| BackendError::from_io(&e, context()))?;
    if !meta.is_file() {
        return Err(BackendError::invalid_input(format!(
            "{}: not a regular file",
            local.display()
        )));
    }
    Ok((file, meta.len()))
}

/// A new file beside a get's destination: the download goes here and is
/// renamed over the destination once complete, so an existing file is
/// replaced whole or not at all. Removed on drop unless committed.
#[derive(Debug)]
pub struct LocalTemp {
    path: PathBuf,
    target: PathBuf,
    file: Option<File>,
}

impl LocalTemp {
    /// Creates the temporary file beside `target` (same directory, so the
    /// final rename is atomic).
    ///
    /// # Errors
    /// Invalid input when `target` has no file name; the I/O error's code
    /// when the file cannot be created.
    pub fn create(target: &Path) -> Result<Self> {
        if target.file_name().is_none() {
            return Err(BackendError::invalid_input(format!(
                "{}: the destination needs a file name",
                target.display()
            )));
        }
        let path = temp_path_beside(target);
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| BackendError::from_io(&e, format!("creating {}", path.display())))?;
        Ok(Self {
            path,
            target: target.to_path_buf(),
            file: Some(file),
        })
    }

    /// The open temporary file.
    pub fn file(&self) -> &File {
        self.file.as_ref().expect("the file is open until commit")
    }

    /// Renames the temporary file over the destination.
    ///
    /// # Errors
    /// The I/O error's code, naming the destination; the temporary file is
    /// then removed.
    pub fn commit(mut self) -> Result<()> {
        drop(self.file.take());
        fs::rename(&self.path, &self.target)
            .map_err(|e| BackendError::from_io(&e, format!("writing {}", self.target.display())))?;
        // Nothing left to clean up.
        self.path = PathBuf::new();
        Ok(())
    }
}

impl Drop for LocalTemp {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            drop(self.file.take());
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn commit_replaces_and_drop_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("dest");
        fs::write(&dest, b"old content").unwrap();
        let t = LocalTemp::create(&dest).unwrap();
        t.file().write_all(b"new").unwrap();
        t.commit().unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"new");
        let t = LocalTemp::create(&dest).unwrap();
        t.file().write_all(b"abandoned").unwrap();
        drop(t);
        assert_eq!(fs::read(&dest).unwrap(), b"new");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn sources() {
        let dir = tempfile::tempdir().unwrap();
        let err = open_source(&dir.path().join("missing")).unwrap_err();
        assert_eq!(err.code(), stowage_backend_api::ErrorCode::NOT_FOUND);
        assert!(open_source(dir.path()).is_err());
        fs::write(dir.path().join("f"), b"abc").unwrap();
        assert_eq!(open_source(&dir.path().join("f")).unwrap().1, 3);
    }
}
