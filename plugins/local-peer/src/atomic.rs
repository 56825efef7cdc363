//! Private helpers for atomic replacement of a file: a hidden temporary file
//! in the destination directory, removed unless it was renamed into place.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use stowage_fs_common::temp_path_beside;

use crate::error::PeerError;

/// A freshly created temporary file; deleted on drop unless
/// [`TempFile::persist`] renamed it.
pub(crate) struct TempFile {
    path: PathBuf,
    file: Option<File>,
}

impl TempFile {
    /// Creates a fresh random temporary name of `stowage_fs_common` beside
    /// `dir/tag` with `O_CREAT|O_EXCL` (so a symlink or an existing file
    /// there is never opened) and the given creation mode (further masked by
    /// the umask). Every stowage component (and [`crate::stage()`])
    /// recognises a leftover as a temporary file.
    pub(crate) fn create(dir: &Path, tag: &str, mode: u32) -> Result<Self, PeerError> {
        let mut attempts = 0;
        loop {
            let path = temp_path_beside(&dir.join(tag));
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&path)
            {
                Ok(file) => {
                    return Ok(TempFile {
                        path,
                        file: Some(file),
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 100 => {
                    attempts += 1;
                }
                Err(e) => {
                    return Err(PeerError::Io {
                        op: "create a temporary file in",
                        path: dir.to_path_buf(),
                        source: e,
                    })
                }
            }
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn file(&self) -> &File {
        self.file
            .as_ref()
            .expect("temporary file already persisted")
    }

    /// Flushes the data to disk, closes the file and renames it to `target`,
    /// replacing whatever non-directory entry is there (a symlink is
    /// replaced, not written through).
    pub(crate) fn persist(mut self, target: &Path) -> Result<(), PeerError> {
        let file = self.file.take().expect("temporary file already persisted");
        file.sync_all()
            .map_err(PeerError::io("flush to disk", &self.path))?;
        drop(file);
        fs::rename(&self.path, target)
            .map_err(PeerError::io("rename a temporary file to", target))?;
        self.path = PathBuf::new();
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        drop(self.file.take());
        if !self.path.as_os_str().is_empty() {
            if let Err(e) = fs::remove_file(&self.path) {
                log::warn!("cannot remove temporary file {:?}: {e}", self.path);
            }
        }
    }
}

/// Flushes a directory's entries (new names, renames) to disk.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), PeerError> {
    stowage_fs_common::fsync_dir(dir).map_err(PeerError::io("flush to disk directory", dir))
}
