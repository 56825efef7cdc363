//! Copying one file of the collect directory into the target directory,
//! both held open by descriptor.
//!
//! The source is opened relative to the collect directory with
//! `O_NOFOLLOW`, checked on its descriptor (a regular file, one hard link
//! unless hard links are allowed), and copied into a temporary file of the
//! target directory created `0600` with a random `O_EXCL` name. Its
//! `fstat` (size, mtime, ctime) before and after the copy must agree, and a
//! file changed in the last two seconds (when timestamps may not yet show
//! a write in progress) is read again and compared with the copy: a file
//! that changes while it is copied is copied once more, and if it changes
//! again it fails, never staged torn. The copy then gets its owner
//! (`fchown`), its mode (`fchmod`, after `fchown`, which clears setuid and
//! setgid) and the source's mtime on its descriptor, is flushed, and only
//! then renamed to the final name: at no moment does it exist with wider
//! permissions or another owner than the ones asked for.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{
    fchmod, fchown, fstat, ftruncate, futimens, openat, Gid, Mode, OFlags, Stat, Timestamps, Uid,
};
use stowage_fs_common::{copy_file_data, CopyError, TempFile};

use crate::error::PeerError;
use crate::ownership::Ownership;

/// What a stage applies to each copy.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CopyRules {
    pub(crate) ownership: Option<Ownership>,
    /// The mode of every copy; `None`: the source's permission bits.
    pub(crate) mode: Option<u32>,
    /// Copy files with more than one hard link (refused by default: a hard
    /// link can make any file of the filesystem look like the peer's).
    pub(crate) allow_hardlinks: bool,
}

/// The two directories of a stage, open, with their paths for messages.
pub(crate) struct StageDirs<'a> {
    pub(crate) collect: &'a OwnedFd,
    pub(crate) collect_path: &'a Path,
    pub(crate) target: &'a OwnedFd,
    pub(crate) target_path: &'a Path,
}

/// The parts of `fstat` that change when a file is written.
fn version(st: &Stat) -> (i64, i64, i64, i64, i64) {
    (
        st.st_size,
        st.st_mtime,
        st.st_mtime_nsec as i64,
        st.st_ctime,
        st.st_ctime_nsec as i64,
    )
}

/// Whether the file changed so recently that its timestamps may not show a
/// write still in progress: they tick at the kernel's clock granularity
/// (milliseconds), so a write in the same tick as the first `fstat` leaves
/// them unchanged.
fn recently_changed(st: &Stat) -> bool {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    now - st.st_ctime < 2
}

/// Reads `source` again and compares it with the copy, byte for byte.
fn same_content(source: &File, copy: &File) -> std::io::Result<bool> {
    use std::os::unix::fs::FileExt;
    let mut a = vec![0u8; 1 << 20];
    let mut b = vec![0u8; 1 << 20];
    let mut offset = 0u64;
    loop {
        let n = source.read_at(&mut a, offset)?;
        let m = read_full_at(copy, &mut b[..n.max(1)], offset)?;
        if n != m || a[..n] != b[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
        offset += n as u64;
    }
}

fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64)? {
            0 => break,
            n => done += n,
        }
    }
    Ok(done)
}

/// Copies the entry `name`; returns the bytes copied.
pub(crate) fn copy_entry(
    dirs: &StageDirs<'_>,
    name: &OsStr,
    rules: CopyRules,
) -> Result<u64, PeerError> {
    let source_path = dirs.collect_path.join(name);
    let target_path = dirs.target_path.join(name);
    let io = |op| PeerError::io(op, source_path.clone());
    // O_NOFOLLOW: the entry was not a symlink at scan time and must not have
    // become one. O_NONBLOCK: a FIFO swapped in since the scan must not
    // block the open (it is then refused below).
    let fd = openat(
        dirs.collect,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io("open")(e.into()))?;
    let mut src = File::from(fd);
    let before = fstat(&src).map_err(|e| io("stat")(e.into()))?;
    if rustix::fs::FileType::from_raw_mode(before.st_mode) != rustix::fs::FileType::RegularFile {
        return Err(PeerError::NotRegularFile { path: source_path });
    }
    if before.st_nlink > 1 && !rules.allow_hardlinks {
        return Err(PeerError::HardLinked {
            path: source_path,
            links: before.st_nlink as u64,
        });
    }
    let final_mode = rules.mode.unwrap_or(before.st_mode & 0o7777);

    // Created 0600: nobody else can read the data before owner and mode are set.
    let temp = TempFile::create_in(dirs.target.as_fd(), name.as_bytes(), 0o600).map_err(
        PeerError::io("create a temporary file in", dirs.target_path),
    )?;
    let copy_error = |e: CopyError| PeerError::Copy {
        from: source_path.clone(),
        to: target_path.clone(),
        source: match e {
            CopyError::Source(e) | CopyError::Target(e) => e,
        },
    };
    let mut seen_stat = before;
    let mut seen = version(&seen_stat);
    let mut bytes;
    let mut attempt = 0;
    loop {
        bytes = copy_file_data(&mut src, temp.file(), &|_| {}).map_err(copy_error)?;
        let after_stat = fstat(&src).map_err(|e| io("stat")(e.into()))?;
        let after = version(&after_stat);
        let stable = after == seen
            && bytes as i64 == after.0
            && (!recently_changed(&after_stat)
                || same_content(&src, temp.file()).map_err(io("read again"))?);
        if stable {
            break;
        }
        attempt += 1;
        if attempt == 2 {
            return Err(PeerError::Changed { path: source_path });
        }
        log::info!(
            "{} changed while it was copied; copying it again",
            source_path.display()
        );
        seen = after;
        seen_stat = after_stat;
        src.seek(SeekFrom::Start(0)).map_err(io("rewind"))?;
        ftruncate(temp.file(), 0)
            .map_err(|e| PeerError::io("truncate", target_path.clone())(e.into()))?;
        temp.file()
            .seek(SeekFrom::Start(0))
            .map_err(PeerError::io("rewind", target_path.clone()))?;
    }
    let on_temp = |op| PeerError::io(op, target_path.clone());
    if let Some(o) = rules.ownership {
        let uid = o.uid.map(Uid::from_raw);
        let gid = o.gid.map(Gid::from_raw);
        fchown(temp.file(), uid, gid).map_err(|e| on_temp("change the owner of")(e.into()))?;
    }
    fchmod(temp.file(), Mode::from_raw_mode(final_mode))
        .map_err(|e| on_temp("change the mode of")(e.into()))?;
    let times = Timestamps {
        last_access: rustix::fs::Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_OMIT,
        },
        last_modification: rustix::fs::Timespec {
            tv_sec: seen_stat.st_mtime as _,
            tv_nsec: seen_stat.st_mtime_nsec as _,
        },
    };
    futimens(temp.file(), &times).map_err(|e| on_temp("set the modification time of")(e.into()))?;
    temp.persist(name, true)
        .map_err(on_temp("rename a temporary file to"))?;
    Ok(bytes)
}
