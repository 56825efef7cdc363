//! Checks on the directories the peer operations work in.

use std::fs::{self, Metadata};
use std::io;
use std::path::Path;

use crate::error::PeerError;

/// Stats `path` following symlinks and requires a directory.
pub(crate) fn require_dir(what: &'static str, path: &Path) -> Result<Metadata, PeerError> {
    match fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Ok(meta),
        Ok(_) => Err(PeerError::NotADirectory {
            what,
            path: path.to_path_buf(),
        }),
        Err(e)
            if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR) =>
        {
            Err(PeerError::DirectoryNotFound {
                what,
                path: path.to_path_buf(),
            })
        }
        Err(e) => Err(PeerError::Io {
            op: "access",
            path: path.to_path_buf(),
            source: e,
        }),
    }
}
