//! Copy-then-rename: the only way content reaches a final name.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use rustix::fs::{openat, Mode, OFlags, CWD};

use crate::temp::{temp_name, TempFile};

/// Which side of a copy failed, so that the message names the right file.
#[derive(Debug)]
pub enum CopyError {
    /// Opening or reading the source failed.
    Source(io::Error),
    /// Creating, writing, flushing or renaming the destination failed.
    Target(io::Error),
}

impl CopyError {
    /// The underlying error.
    pub fn io(&self) -> &io::Error {
        match self {
            CopyError::Source(e) | CopyError::Target(e) => e,
        }
    }
}

/// A fresh hidden temporary path in the same directory as `target` (see
/// [`temp_name`]), for callers that must name the file before creating it.
pub fn temp_path_beside(target: &Path) -> PathBuf {
    let dir = target.parent().unwrap_or(Path::new("."));
    let base = target.file_name().map(OsStr::as_bytes).unwrap_or(b"");
    dir.join(temp_name(base))
}

/// Opens `path` as a directory descriptor.
pub(crate) fn open_dir(path: &Path) -> io::Result<std::os::fd::OwnedFd> {
    let path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    Ok(openat(
        CWD,
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Copies `source` to `target` through a temporary file beside `target`:
/// `target` either keeps its old content or has the complete new one, never
/// a part. With `sync`, the data is synced before the rename. `progress`
/// receives `(done, total)` as the copy advances. Returns the number of
/// bytes copied.
///
/// The new file is created with mode `0666` less the umask, as `cp` and
/// `open(2)` make new files: never the source's mode, so a private umask
/// keeps a copy of a world-readable file private.
///
/// # Errors
/// [`CopyError::Source`] when the source cannot be opened or read,
/// [`CopyError::Target`] when the copy cannot be written; the target is
/// then untouched and no temporary file is left.
pub fn copy_atomically(
    source: &Path,
    target: &Path,
    sync: bool,
    progress: Option<&dyn Fn(u64, u64)>,
) -> Result<u64, CopyError> {
    let mut input = File::open(source).map_err(CopyError::Source)?;
    let total = input.metadata().map_err(CopyError::Source)?.len();
    let name = target.file_name().ok_or_else(|| {
        CopyError::Target(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the destination has no file name",
        ))
    })?;
    let dir = open_dir(target.parent().unwrap_or(Path::new("."))).map_err(CopyError::Target)?;
    let temp =
        TempFile::create_in(dir.as_fd(), name.as_bytes(), 0o666).map_err(CopyError::Target)?;
    let report = |done| {
        if let Some(p) = progress {
            p(done, total)
        }
    };
    report(0);
    let bytes = copy_file_data(&mut input, temp.file(), &report)?;
    temp.persist(name, sync).map_err(CopyError::Target)?;
    Ok(bytes)
}

/// Copies the rest of `input` into `output` and returns the bytes copied: `copy_file_range` (in-kernel,
/// reflinks where the filesystem offers them) in 16 MiB steps, each one
/// reported. When it fails, the rest goes through plain reads and writes,
/// which also tells which side the failure is on.
pub fn copy_file_data(
    input: &mut File,
    mut output: &File,
    report: &dyn Fn(u64),
) -> Result<u64, CopyError> {
    const STEP: usize = 16 << 20;
    let mut done: u64 = 0;
    loop {
        // SAFETY: both descriptors are open for the duration of the call;
        // null offsets mean "use and advance the file positions".
        let n = unsafe {
            libc::copy_file_range(
                input.as_raw_fd(),
                std::ptr::null_mut(),
                output.as_raw_fd(),
                std::ptr::null_mut(),
                STEP,
                0,
            )
        };
        if n < 0 {
            break;
        }
        if n == 0 {
            return Ok(done);
        }
        done += n as u64;
        report(done);
    }
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(done),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Source(e)),
        };
        output.write_all(&buf[..n]).map_err(CopyError::Target)?;
        done += n as u64;
        report(done);
    }
}

/// The file name of `path` as raw bytes.
pub(crate) fn file_name_bytes(path: &Path) -> Vec<u8> {
    path.file_name()
        .map(|n| n.to_os_string().into_vec())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::temp::is_temp_name;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn temp_paths_are_hidden_and_bounded() {
        let long = "x".repeat(255);
        let t = temp_path_beside(&Path::new("/d").join(&long));
        assert_eq!(t.parent(), Some(Path::new("/d")));
        let name = file_name_bytes(&t);
        assert!(is_temp_name(&name));
        assert!(name.len() <= 255);
    }

    #[test]
    fn copy_replaces_whole_file_with_a_new_files_mode() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        let dst = dir.path().join("dst");
        fs::write(&src, b"new content").unwrap();
        fs::set_permissions(&src, fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(&dst, b"old").unwrap();
        assert_eq!(copy_atomically(&src, &dst, true, None).unwrap(), 11);
        assert_eq!(fs::read(&dst).unwrap(), b"new content");
        // Not the source's 0755: at most 0666 (less the umask).
        assert_eq!(fs::metadata(&dst).unwrap().permissions().mode() & 0o111, 0);
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 2, "no temporary file is left behind");
    }

    #[test]
    fn reported_copy_is_whole_and_reports_every_step() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        let dst = dir.path().join("dst");
        let data: Vec<u8> = (0..(40u32 << 20) / 4)
            .flat_map(|i| i.to_le_bytes())
            .collect();
        fs::write(&src, &data).unwrap();
        let seen = std::cell::RefCell::new(Vec::new());
        let n = copy_atomically(
            &src,
            &dst,
            false,
            Some(&|d, t| seen.borrow_mut().push((d, t))),
        )
        .unwrap();
        assert_eq!(n, data.len() as u64);
        assert_eq!(fs::read(&dst).unwrap(), data);
        let seen = seen.into_inner();
        assert_eq!(seen.first(), Some(&(0, n)));
        assert_eq!(seen.last(), Some(&(n, n)));
        assert!(seen.len() >= 3, "{seen:?}");
    }

    #[test]
    fn failed_copy_names_its_side_and_leaves_target_alone() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("dst");
        fs::write(&dst, b"old").unwrap();
        let e = copy_atomically(&dir.path().join("missing"), &dst, false, None).unwrap_err();
        assert!(matches!(e, CopyError::Source(_)), "{e:?}");
        let src = dir.path().join("src");
        fs::write(&src, b"x").unwrap();
        let e = copy_atomically(&src, &dir.path().join("no/such/dir/x"), false, None).unwrap_err();
        assert!(matches!(e, CopyError::Target(_)), "{e:?}");
        assert_eq!(fs::read(&dst).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
