//! Local files across the process boundary: the side that owns the path
//! opens it and passes a descriptor; the side that runs the backend turns
//! the descriptor back into a path the (path-based) ABI can take.
//!
//! Both the host (for the outer backend) and the child (for a prefix
//! plugin's inner backend, served by the host) use the same functions.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use stowage_backend_api::BackendError;

/// Hidden temporary files of a get being published start with this.
pub const GET_TEMP_PREFIX: &str = ".stowage-partial-";

/// Opens the source of a put (following symlinks, as the in-process path
/// does), for sending.
pub fn open_source(local: &Path) -> Result<File, BackendError> {
    File::open(local)
        .map_err(|e| BackendError::from_io(&e, format!("reading local file {}", local.display())))
}

/// A `move_in` as the path owner does it: `store` moves a copy in from
/// the descriptor, then the local file is removed (the other side cannot
/// take over a file it was only lent).
pub fn move_in_via_fd(
    local: &Path,
    store: impl FnOnce(BorrowedFd<'_>) -> Result<(), BackendError>,
) -> Result<(), BackendError> {
    let file = open_source(local)?;
    store(file.as_fd())?;
    fs::remove_file(local).map_err(|e| {
        BackendError::from_io(
            &e,
            format!(
                "removing the local file after storing it: {}",
                local.display()
            ),
        )
    })
}

/// A get as the path owner does it: a private temporary file beside
/// `local` is created and handed to `fetch` as a descriptor; when `fetch`
/// succeeds the file gets the permission bits it returns and is renamed
/// onto `local`, otherwise it is removed. `local` therefore either keeps
/// its old content or has the complete new one.
pub fn publish_get(
    local: &Path,
    fetch: impl FnOnce(BorrowedFd<'_>) -> Result<u32, BackendError>,
) -> Result<(), BackendError> {
    let Some(file_name) = local.file_name() else {
        return Err(BackendError::invalid_input(format!(
            "{}: the destination needs a file name",
            local.display()
        )));
    };
    let dir = local.parent().filter(|d| !d.as_os_str().is_empty());
    let mut temp_name = OsString::from(format!("{GET_TEMP_PREFIX}{:016x}-", rand::random::<u64>()));
    let room = 255usize.saturating_sub(temp_name.len());
    let base = file_name.as_bytes();
    temp_name.push(std::ffi::OsStr::from_bytes(&base[..base.len().min(room)]));
    let temp = dir.unwrap_or(Path::new(".")).join(temp_name);
    let writing = |e: &io::Error| BackendError::from_io(e, format!("writing {}", local.display()));
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(&temp)
        .map_err(|e| writing(&e))?;
    let result = fetch(file.as_fd()).and_then(|mode| {
        file.set_permissions(fs::Permissions::from_mode(mode & 0o7777))
            .and_then(|()| fs::rename(&temp, local))
            .map_err(|e| writing(&e))
    });
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// A private directory for one side's staged files, removed on drop.
#[derive(Debug)]
pub struct Staging {
    dir: PathBuf,
    next: AtomicU64,
}

impl Staging {
    /// Uses `dir`, which exists and is private to this side.
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            next: AtomicU64::new(0),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn fresh(&self, what: &str) -> io::Result<PathBuf> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let dir = self.dir.join(format!("{what}-{n}"));
        fs::create_dir(&dir)?;
        Ok(dir)
    }
}

/// The path through which a backend reads a put's source descriptor.
///
/// Unconfined, that is `/proc/self/fd/N`: the same open file, no copy.
/// Under Landlock reopening it is refused (the check applies to the file's
/// real place), so the content is first copied (reflinked where the
/// filesystem can) into the staging directory.
pub fn serve_put<T>(
    source: OwnedFd,
    name: &str,
    staging: &Staging,
    copy_first: bool,
    run: impl FnOnce(&Path) -> Result<T, BackendError>,
) -> Result<T, BackendError> {
    if !copy_first {
        let path = PathBuf::from(format!("/proc/self/fd/{}", source.as_raw_fd()));
        let result = run(&path);
        drop(source);
        return result;
    }
    let staged = |e: &io::Error| BackendError::from_io(e, "staging the source of a put");
    let dir = staging.fresh("put").map_err(|e| staged(&e))?;
    let path = dir.join(name);
    let result = (|| {
        let from = File::from(source);
        let mode = from.metadata().map_err(|e| staged(&e))?.mode();
        let to = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| staged(&e))?;
        io::copy(&mut &from, &mut &to).map_err(|e| staged(&e))?;
        to.set_permissions(fs::Permissions::from_mode(mode & 0o7777))
            .map_err(|e| staged(&e))?;
        drop(to);
        run(&path)
    })();
    let _ = fs::remove_dir_all(&dir);
    result
}

/// Runs a get into a staged path and copies the result into `dest` (the
/// path owner's temporary file). Returns the permission bits the backend
/// gave the file.
pub fn serve_get(
    dest: OwnedFd,
    name: &str,
    staging: &Staging,
    run: impl FnOnce(&Path) -> Result<(), BackendError>,
) -> Result<u32, BackendError> {
    let staged = |e: &io::Error| BackendError::from_io(e, "handing over the fetched object");
    let dir = staging.fresh("get").map_err(|e| staged(&e))?;
    let path = dir.join(name);
    let result = run(&path).and_then(|()| {
        // The backend made this file; do not follow whatever it left there.
        let from = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| staged(&e))?;
        let meta = from.metadata().map_err(|e| staged(&e))?;
        if !meta.is_file() {
            return Err(BackendError::generic(
                "the backend's get produced no regular file",
            ));
        }
        let to = File::from(dest);
        io::copy(&mut &from, &mut &to).map_err(|e| staged(&e))?;
        Ok(meta.mode() & 0o7777)
    });
    let _ = fs::remove_dir_all(&dir);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn put_and_get_cross_through_descriptors() {
        let dir = tempfile::tempdir().unwrap();
        let staging = Staging::new(dir.path().join("staging"));
        fs::create_dir(staging.dir()).unwrap();
        let src = dir.path().join("src");
        fs::write(&src, b"payload").unwrap();
        fs::set_permissions(&src, fs::Permissions::from_mode(0o640)).unwrap();
        for copy_first in [false, true] {
            let fd: OwnedFd = open_source(&src).unwrap().into();
            let read = serve_put(fd, "obj", &staging, copy_first, |p| {
                Ok((
                    fs::read(p).unwrap(),
                    fs::metadata(p).unwrap().mode() & 0o777,
                ))
            })
            .unwrap();
            assert_eq!(read, (b"payload".to_vec(), 0o640));
        }
        let out = dir.path().join("out");
        publish_get(&out, |fd| {
            let dest = fd.try_clone_to_owned().unwrap();
            serve_get(dest, "obj", &staging, |p| {
                let mut f = File::create(p).unwrap();
                f.write_all(b"fetched").unwrap();
                fs::set_permissions(p, fs::Permissions::from_mode(0o604)).unwrap();
                Ok(())
            })
        })
        .unwrap();
        assert_eq!(fs::read(&out).unwrap(), b"fetched");
        assert_eq!(fs::metadata(&out).unwrap().mode() & 0o777, 0o604);
        // Nothing staged or temporary is left behind.
        assert_eq!(fs::read_dir(staging.dir()).unwrap().count(), 0);
        let failed = publish_get(&dir.path().join("never"), |_| {
            Err(BackendError::not_found("no such object"))
        });
        assert!(failed.is_err());
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
    }
}
