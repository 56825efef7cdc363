//! The directories the peer operations work in, and the names inside them.
//! Directories are opened once, by
//! descriptor, through `stowage_fs_common::open_dir_resolved` (symlinks
//! followed only when root or the running user owns them).

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

use stowage_fs_common::open_dir_resolved;

use crate::error::PeerError;

/// Opens the absolute directory `path` (`what` names it in errors).
pub(crate) fn open_dir(what: &'static str, path: &Path) -> Result<OwnedFd, PeerError> {
    open_dir_resolved(path).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOTDIR) if fs::metadata(path).is_ok_and(|m| !m.is_dir()) => {
            PeerError::NotADirectory {
                what,
                path: path.to_path_buf(),
            }
        }
        Some(libc::ENOENT | libc::ENOTDIR) => PeerError::DirectoryNotFound {
            what,
            path: path.to_path_buf(),
        },
        _ if e.kind() == io::ErrorKind::NotFound => PeerError::DirectoryNotFound {
            what,
            path: path.to_path_buf(),
        },
        _ => PeerError::Io {
            op: "open",
            path: path.to_path_buf(),
            source: e,
        },
    })
}

/// What keeps `name` from being one plain path component (non-empty, not
/// `.` or `..`, no `/`, no NUL), if anything: the rule for peer names and
/// indicator names alike.
pub(crate) fn component_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("must not be empty")
    } else if name == "." || name == ".." {
        Some("must not be . or ..")
    } else if name.contains('/') {
        Some("must be a plain file name, without /")
    } else if name.contains('\0') {
        Some("must not contain NUL")
    } else {
        None
    }
}
