//! Temporary files: the one way every plugin creates a file before it gets
//! its final name.
//!
//! A temporary file is created inside a directory the caller holds open
//! (a descriptor, so a directory swapped for a symlink after it was opened
//! changes nothing), under a fresh random name, with `O_CREAT|O_EXCL|
//! O_NOFOLLOW` (an existing file or symlink of that name is never opened;
//! a squatted name is simply skipped for another random one), and with the
//! creation mode the caller asks for (the umask applies on top). It is
//! removed on drop unless [`TempFile::persist`] renamed it into place.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{openat, renameat, unlinkat, AtFlags, Mode, OFlags};

/// Names starting with this are in-flight temporary files: never listed,
/// never accepted as object names.
pub const TEMP_PREFIX: &str = ".stowage-partial-";

/// Hex digits of the random part of a temporary name.
const RANDOM_DIGITS: usize = 16;

/// Longest file name Linux accepts (`NAME_MAX`).
const NAME_MAX: usize = 255;

/// How many random names are tried before giving up: each clash means
/// someone created a file under a name nobody could guess in advance.
const ATTEMPTS: usize = 16;

/// Whether `name` is reserved for temporary files (starts with
/// [`TEMP_PREFIX`]): hidden from listings and refused as an object name.
pub fn is_temp_name(name: &[u8]) -> bool {
    name.starts_with(TEMP_PREFIX.as_bytes())
}

/// Whether `name` has exactly the shape of a name [`temp_name`] makes:
/// [`TEMP_PREFIX`], 16 lower-case hex digits, `-`, then anything. Only such
/// names are ever swept as leftovers; a user's `.stowage-partial-notes` is
/// not one.
pub fn is_generated_temp_name(name: &[u8]) -> bool {
    let Some(rest) = name.strip_prefix(TEMP_PREFIX.as_bytes()) else {
        return false;
    };
    rest.len() > RANDOM_DIGITS
        && rest[..RANDOM_DIGITS]
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
        && rest[RANDOM_DIGITS] == b'-'
}

/// A fresh temporary name: [`TEMP_PREFIX`], 64 random bits in hex, `-`, and
/// as much of `hint` (usually the final name, for whoever finds a leftover)
/// as fits in `NAME_MAX`.
pub fn temp_name(hint: &[u8]) -> OsString {
    let mut name = format!("{TEMP_PREFIX}{:016x}-", rand::random::<u64>()).into_bytes();
    let room = NAME_MAX.saturating_sub(name.len());
    name.extend_from_slice(&hint[..hint.len().min(room)]);
    OsStr::from_bytes(&name).to_os_string()
}

/// A temporary file in a directory held open by descriptor.
#[derive(Debug)]
pub struct TempFile {
    dir: OwnedFd,
    name: OsString,
    file: Option<File>,
}

impl TempFile {
    /// Creates a temporary file in `dir` (a directory descriptor) with
    /// creation mode `mode` (the umask applies), named after `hint`.
    ///
    /// # Errors
    /// The directory refuses the creation, or [`ATTEMPTS`] random names in a
    /// row were taken.
    pub fn create_in(dir: BorrowedFd<'_>, hint: &[u8], mode: u32) -> io::Result<Self> {
        let dir = dir.try_clone_to_owned()?;
        let flags =
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mut last = io::Error::from(io::ErrorKind::AlreadyExists);
        for _ in 0..ATTEMPTS {
            let name = temp_name(hint);
            match openat(&dir, name.as_os_str(), flags, Mode::from_raw_mode(mode)) {
                Ok(fd) => {
                    return Ok(TempFile {
                        dir,
                        name,
                        file: Some(File::from(fd)),
                    })
                }
                Err(rustix::io::Errno::EXIST) => {
                    log::debug!("temporary name {name:?} is taken; trying another");
                    last = io::Error::from(rustix::io::Errno::EXIST);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(last)
    }

    /// The temporary name (inside the directory).
    pub fn name(&self) -> &OsStr {
        &self.name
    }

    /// The open file.
    pub fn file(&self) -> &File {
        // Only `persist` takes the file, and it consumes `self`.
        self.file
            .as_ref()
            .unwrap_or_else(|| unreachable!("persisted"))
    }

    /// Renames the file to `target` in the same directory, replacing
    /// whatever non-directory entry is there (a symlink is replaced, not
    /// written through). With `sync`, the data is flushed to disk first.
    ///
    /// # Errors
    /// Flushing or renaming failed; the temporary file is then removed.
    pub fn persist(mut self, target: &OsStr, sync: bool) -> io::Result<()> {
        if sync {
            self.file().sync_all()?;
        }
        drop(self.file.take());
        renameat(&self.dir, self.name.as_os_str(), &self.dir, target)?;
        self.name.clear();
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        drop(self.file.take());
        if !self.name.is_empty() {
            if let Err(e) = unlinkat(&self.dir, self.name.as_os_str(), AtFlags::empty()) {
                log::warn!("cannot remove temporary file {:?}: {e}", self.name);
            }
        }
    }
}

impl AsFd for TempFile {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file().as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    fn open_dir(path: &std::path::Path) -> OwnedFd {
        openat(
            rustix::fs::CWD,
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap()
    }

    #[test]
    fn names_are_random_bounded_and_recognised() {
        let long = vec![b'x'; 255];
        let name = temp_name(&long);
        assert!(name.len() <= 255);
        assert!(is_temp_name(name.as_bytes()));
        assert!(is_generated_temp_name(name.as_bytes()));
        assert_ne!(temp_name(b"a"), temp_name(b"a"));
        for similar in [
            ".stowage-partial-notes",
            ".stowage-partial-0123456789abcdef",
            ".stowage-partial-0123456789ABCDEF-x",
            ".stowage-partial-0123456789abcdeg-x",
        ] {
            assert!(!is_generated_temp_name(similar.as_bytes()), "{similar}");
        }
        assert!(is_generated_temp_name(
            b".stowage-partial-0123456789abcdef-x"
        ));
    }

    #[test]
    fn created_private_and_removed_unless_persisted() {
        let dir = tempfile::tempdir().unwrap();
        let fd = open_dir(dir.path());
        let temp = TempFile::create_in(fd.as_fd(), b"obj", 0o600).unwrap();
        let path = dir.path().join(temp.name());
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        drop(temp);
        assert!(!path.exists());
        let temp = TempFile::create_in(fd.as_fd(), b"obj", 0o600).unwrap();
        io::Write::write_all(&mut temp.file(), b"data").unwrap();
        temp.persist(OsStr::new("obj"), true).unwrap();
        assert_eq!(fs::read(dir.path().join("obj")).unwrap(), b"data");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
