//! Read leases (`F_SETLEASE`, `F_RDLCK`): while one is held, nobody has
//! the file open for writing. Taking it fails when someone does (a
//! writable descriptor or a shared writable mapping, which `fstat` times
//! cannot reveal), and a later open for writing or a truncate breaks it,
//! which [`ReadLease::held`] then reports. So a file read under a lease
//! that is still held afterwards cannot have changed in between.

use std::fs::File;
use std::os::fd::AsRawFd;

/// `F_SETSIG` of `<asm-generic/fcntl.h>` (the libc crate lacks it).
const F_SETSIG: libc::c_int = 10;

/// A read lease on an open, read-only file; released on drop (and by the
/// kernel when the descriptor closes).
pub struct ReadLease {
    file: File,
}

impl ReadLease {
    /// Takes a read lease on `file`, or gives the file back when the
    /// kernel refuses one: someone has it open for writing, the caller
    /// neither owns it nor has `CAP_LEASE`, or the filesystem has no
    /// leases.
    pub fn take(file: File) -> Result<Self, File> {
        let fd = file.as_raw_fd();
        // A lease break is announced by a signal to the holder, SIGIO by
        // default, which would end the process: SIGURG is ignored unless
        // handled, and nobody is its owner. Whether the lease still holds
        // is asked with F_GETLEASE instead.
        // SAFETY: fcntl on a descriptor `file` keeps open; no pointers.
        let quiet = unsafe { libc::fcntl(fd, F_SETSIG, libc::SIGURG) } == 0;
        // SAFETY: as above.
        if !quiet || unsafe { libc::fcntl(fd, libc::F_SETLEASE, libc::F_RDLCK) } != 0 {
            return Err(file);
        }
        // SAFETY: as above. 0 clears the owner, so no signal is sent at
        // all; should that fail, the ignored SIGURG is.
        unsafe { libc::fcntl(fd, libc::F_SETOWN, 0) };
        Ok(Self { file })
    }

    /// The file.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Whether the lease is still held: nobody has opened the file for
    /// writing or truncated it since it was taken.
    pub fn held(&self) -> bool {
        // SAFETY: fcntl on a descriptor we keep open; no pointers.
        unsafe { libc::fcntl(self.file.as_raw_fd(), libc::F_GETLEASE) == libc::F_RDLCK }
    }
}

impl Drop for ReadLease {
    fn drop(&mut self) {
        // SAFETY: fcntl on a descriptor we keep open; no pointers.
        unsafe { libc::fcntl(self.file.as_raw_fd(), libc::F_SETLEASE, libc::F_UNLCK) };
    }
}
