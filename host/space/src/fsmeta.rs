//! Reading and applying inode metadata: mode, owner, modification time.

use std::ffi::OsStr;
use std::io;
use std::os::fd::BorrowedFd;

use rustix::fs::{
    chownat, fchmod, fchown, futimens, utimensat, AtFlags, Gid, Mode, Stat, Timespec, Timestamps,
    Uid, UTIME_OMIT,
};
use rustix::io::Errno;

use crate::manifest::Meta;

// `struct stat`'s time fields are unsigned on some architectures (the
// kernel's `__kernel_ulong_t` on x86_64) and signed on others; these casts
// read them as the signed values they are, wherever they are not already.
#[allow(clippy::unnecessary_cast)]
fn mtime(st: &Stat) -> (i64, i64) {
    (st.st_mtime as i64, st.st_mtime_nsec as i64)
}

/// The size `st` gives, in bytes.
pub fn size_of(st: &Stat) -> u64 {
    u64::try_from(st.st_size).unwrap_or(0)
}

/// The metadata recorded for `st` (from `fstat` or `fstatat`).
pub fn capture(st: &Stat) -> Meta {
    let (mtime, mtime_nsec) = self::mtime(st);
    Meta {
        mode: st.st_mode & 0o7777,
        uid: st.st_uid,
        gid: st.st_gid,
        mtime,
        mtime_nsec: u32::try_from(mtime_nsec).unwrap_or(0),
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
