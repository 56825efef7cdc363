//! Reading and applying inode metadata: mode, owner, modification time.

use std::ffi::OsStr;
use std::fs::Metadata;
use std::io;
use std::os::fd::BorrowedFd;
use std::os::unix::fs::MetadataExt;

use rustix::fs::{
    chownat, fchmod, fchown, futimens, utimensat, AtFlags, Gid, Mode, Timespec, Timestamps, Uid,
    UTIME_OMIT,
};
use rustix::io::Errno;

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

fn mtime_only(meta: &Meta) -> Timestamps {
    Timestamps {
        last_access: Timespec {
            tv_sec: 0,
            tv_nsec: UTIME_OMIT,
        },
        last_modification: Timespec {
            tv_sec: meta.mtime,
            tv_nsec: meta.mtime_nsec.min(999_999_999).into(),
        },
    }
}

/// Without the privilege to give files away, `EPERM` from a chown is
/// ignored: the file keeps the restoring user as owner.
fn owner_result(result: rustix::io::Result<()>, meta: &Meta) -> io::Result<()> {
    match result {
        Err(Errno::PERM) => {
            log::debug!(
                "cannot give a restored file to {}:{}; owner left as is",
                meta.uid,
                meta.gid
            );
            Ok(())
        }
        other => other.map_err(io::Error::from),
    }
}

/// Applies owner, then permissions (after `chown`, which clears setuid
/// and setgid), then the modification time, through the descriptor of a
/// file or directory itself: nothing is looked up by name.
pub fn apply_fd(fd: BorrowedFd<'_>, meta: &Meta) -> io::Result<()> {
    owner_result(
        fchown(
            fd,
            Some(Uid::from_raw(meta.uid)),
            Some(Gid::from_raw(meta.gid)),
        ),
        meta,
    )?;
    fchmod(fd, Mode::from_raw_mode(meta.mode & 0o7777))?;
    futimens(fd, &mtime_only(meta))?;
    Ok(())
}

/// Gives the symlink `name` in directory `dir` its owner and modification
/// time (symlinks have no permissions), without following it.
pub fn apply_symlink_at(dir: BorrowedFd<'_>, name: &OsStr, meta: &Meta) -> io::Result<()> {
    owner_result(
        chownat(
            dir,
            name,
            Some(Uid::from_raw(meta.uid)),
            Some(Gid::from_raw(meta.gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        ),
        meta,
    )?;
    utimensat(dir, name, &mtime_only(meta), AtFlags::SYMLINK_NOFOLLOW)?;
    Ok(())
}
