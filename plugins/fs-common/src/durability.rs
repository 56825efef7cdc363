//! When written data must reach stable storage.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

/// A store's durability policy, chosen with `?fsync=` in the URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// `?fsync=each`: every put is durable (file and directory synced)
    /// before it returns.
    Each,
    /// The default: `close()` is a durability barrier. Everything written
    /// since open is synced with one `syncfs` of the store's filesystem.
    /// One call costs about what one `fsync` does, where a file-by-file
    /// barrier would cost one per object.
    Close,
    /// `?fsync=none`: never sync; the OS writes back in its own time.
    None,
}

impl Durability {
    /// Parses the `?fsync=` value (`each`, `close`, `none`).
    pub fn from_param(value: Option<&str>) -> Option<Self> {
        match value {
            None | Some("close") => Some(Self::Close),
            Some("each") => Some(Self::Each),
            Some("none") => Some(Self::None),
            Some(_) => None,
        }
    }

    /// The values `?fsync=` accepts.
    pub const PARAM_VALUES: &'static [&'static str] = &["each", "close", "none"];
}

/// `fsync` on the file or directory at `path`.
pub fn fsync_path(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// `fsync` on a directory, making renames and unlinks in it durable.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    fsync_path(dir)
}

/// `syncfs` on the filesystem holding `path`: every dirty page and inode of
/// that filesystem, ours included, reaches the disk before it returns.
pub fn syncfs_path(path: &Path) -> io::Result<()> {
    let file = File::open(path)?;
    // SAFETY: the descriptor is valid for the lifetime of `file`.
    let rc = unsafe { libc::syncfs(file.as_raw_fd()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
