//! Reading and applying inode metadata: mode, owner, modification time.

use std::ffi::CString;
use std::fs::{self, Metadata};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::manifest::Meta;

/// The metadata recorded for `m`.
pub fn capture(m: &Metadata) -> Meta {
    Meta {
        mode: m.mode() & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
        mtime: m.mtime(),
        mtime_nsec: u32::try_from(m.mtime_nsec()).unwrap_or(0),
    }
}

/// What identifies one version of a file: if any of it differs, the file
/// was replaced or written to (`ctime` moves on every write).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Fingerprint {
    /// The fingerprint of `m`.
    pub fn of(m: &Metadata) -> Self {
        Self {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }

    /// The size it describes.
    pub fn size(&self) -> u64 {
        self.size
    }
}

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))
}

/// Sets the modification time of `path` itself (a symlink is not
/// followed); the access time is left alone.
pub fn set_mtime(path: &Path, meta: &Meta) -> io::Result<()> {
    let c = c_path(path)?;
    let times = [
        libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
        libc::timespec {
            tv_sec: meta.mtime as libc::time_t,
            tv_nsec: libc::c_long::from(meta.mtime_nsec.min(999_999_999) as i32),
        },
    ];
    // SAFETY: a valid C string and a two-element timespec array.
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Gives `path` (not following a symlink) the recorded owner. Without
/// the privilege to give files away, `EPERM` is ignored: the file keeps
/// the restoring user as owner.
pub fn set_owner(path: &Path, meta: &Meta) -> io::Result<()> {
    match std::os::unix::fs::lchown(path, Some(meta.uid), Some(meta.gid)) {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
            log::debug!(
                "cannot give {} to {}:{} ({e}); owner left as is",
                path.display(),
                meta.uid,
                meta.gid
            );
            Ok(())
        }
        other => other,
    }
}

/// Applies owner, then permissions (after `chown`, which clears setuid
/// and setgid), then the modification time. For symlinks only owner and
/// time apply.
pub fn apply(path: &Path, meta: &Meta, symlink: bool) -> io::Result<()> {
    set_owner(path, meta)?;
    if !symlink {
        fs::set_permissions(path, fs::Permissions::from_mode(meta.mode))?;
    }
    set_mtime(path, meta)
}
