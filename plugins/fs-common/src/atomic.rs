//! Copy-then-rename: the only way content reaches a final name.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// Names starting with this are in-flight temporary files: never listed,
/// never accepted as object names.
pub const TEMP_PREFIX: &str = ".stowage-partial-";

/// Whether `name` is one of our temporary names.
pub fn is_temp_name(name: &[u8]) -> bool {
    name.starts_with(TEMP_PREFIX.as_bytes())
}

/// A fresh hidden temporary path in the same directory as `target`, so that
/// the final `rename` stays on one filesystem and is atomic. The target's
/// file name is kept in it for whoever finds a leftover after a crash.
pub fn temp_path_beside(target: &Path) -> PathBuf {
    let dir = target.parent().unwrap_or(Path::new("."));
    let mut name = OsString::from(TEMP_PREFIX);
    name.push(format!("{:016x}-", rand::random::<u64>()));
    // Keep the whole temporary name within NAME_MAX (255 bytes).
    let base = target.file_name().map(OsStr::as_bytes).unwrap_or(b"");
    let room = 255usize.saturating_sub(name.len());
    name.push(OsStr::from_bytes(&base[..base.len().min(room)]));
    dir.join(name)
}

/// Copies `source` to `target` through a temporary file beside `target`:
/// `target` either keeps its old content or has the complete new one, never
/// a part. With `sync`, the temporary file is synced before the rename.
/// `progress` receives `(done, total)` as the copy advances. Returns the
/// number of bytes copied.
///
/// The copy is `copy_file_range` (in-kernel, no user-space buffer, reflinks
/// where the filesystem offers them), through `std::fs::copy` when nobody
/// watches and in 16 MiB steps when somebody does.
pub fn copy_atomically(
    source: &Path,
    target: &Path,
    sync: bool,
    progress: Option<&dyn Fn(u64, u64)>,
) -> io::Result<u64> {
    let temp = temp_path_beside(target);
    let result = (|| {
        let bytes = match progress {
            None => fs::copy(source, &temp)?,
            Some(report) => copy_reporting(source, &temp, report)?,
        };
        if sync {
            fs::File::open(&temp)?.sync_all()?;
        }
        fs::rename(&temp, target)?;
        Ok(bytes)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// What `std::fs::copy` does (content and permission bits), in steps that
/// are reported.
fn copy_reporting(source: &Path, target: &Path, report: &dyn Fn(u64, u64)) -> io::Result<u64> {
    const STEP: usize = 16 << 20;
    let mut input = fs::File::open(source)?;
    let meta = input.metadata()?;
    let total = meta.len();
    let mut output = fs::File::create(target)?;
    output.set_permissions(meta.permissions())?;
    let mut done: u64 = 0;
    report(0, total);
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
            let err = io::Error::last_os_error();
            let unsupported = matches!(
                err.raw_os_error(),
                Some(libc::EXDEV | libc::ENOSYS | libc::EINVAL | libc::EOPNOTSUPP)
            );
            if done == 0 && unsupported {
                // Not between these filesystems: let std pick (splice or
                // read/write) for the rest.
                let n = io::copy(&mut input, &mut output)?;
                report(n, total);
                return Ok(n);
            }
            return Err(err);
        }
        if n == 0 {
            return Ok(done);
        }
        done += n as u64;
        report(done, total);
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

    #[test]
    fn temp_names_are_hidden_and_bounded() {
        let long = "x".repeat(255);
        let t = temp_path_beside(&Path::new("/d").join(&long));
        assert_eq!(t.parent(), Some(Path::new("/d")));
        let name = file_name_bytes(&t);
        assert!(is_temp_name(&name));
        assert!(name.len() <= 255);
        assert_ne!(
            temp_path_beside(Path::new("/d/a")),
            temp_path_beside(Path::new("/d/a"))
        );
    }

    #[test]
    fn copy_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        let dst = dir.path().join("dst");
        fs::write(&src, b"new content").unwrap();
        fs::write(&dst, b"old").unwrap();
        assert_eq!(copy_atomically(&src, &dst, true, None).unwrap(), 11);
        assert_eq!(fs::read(&dst).unwrap(), b"new content");
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
    fn failed_copy_leaves_target_alone() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("dst");
        fs::write(&dst, b"old").unwrap();
        assert!(copy_atomically(&dir.path().join("missing"), &dst, false, None).is_err());
        assert_eq!(fs::read(&dst).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
