//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::ffi::CString;
use std::fs::{self, File, FileTimes, Permissions};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A fixed past mtime with a nanosecond part, to check it is preserved.
pub fn old_mtime() -> SystemTime {
    UNIX_EPOCH + Duration::new(1_000_000_000, 123_456_789)
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// True when running as root. Otherwise says loudly that the test is
/// skipped, or fails if `STOWAGE_REQUIRE_TOOLS` is set.
pub fn require_root(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var_os("STOWAGE_REQUIRE_TOOLS").is_some() {
        panic!("{test}: needs root, and STOWAGE_REQUIRE_TOOLS is set");
    }
    // Written to stderr directly: libtest captures `eprintln!` of passing
    // tests, and a skip must be visible.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: needs root (ownership / privilege tests); \
         set STOWAGE_REQUIRE_TOOLS to make this a failure"
    );
    false
}

/// Writes `contents` to `path` with `mode` and the fixed old mtime.
pub fn write_file(path: &Path, contents: &[u8], mode: u32) {
    fs::write(path, contents).unwrap();
    File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_times(FileTimes::new().set_modified(old_mtime()))
        .unwrap();
    fs::set_permissions(path, Permissions::from_mode(mode)).unwrap();
}

pub fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o644) };
    assert_eq!(
        rc,
        0,
        "mkfifo {path:?}: {}",
        std::io::Error::last_os_error()
    );
}

pub fn link(target: impl AsRef<Path>, at: &Path) {
    symlink(target, at).unwrap();
}

pub fn mode_of(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

pub fn owner_of(path: &Path) -> (u32, u32) {
    let m = fs::symlink_metadata(path).unwrap();
    (m.uid(), m.gid())
}

/// Names in `dir`, sorted, as lossy strings.
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A temporary directory with `collect/` and `target/` inside, both 0755.
pub struct Dirs {
    pub _root: tempfile::TempDir,
    pub collect: PathBuf,
    pub target: PathBuf,
}

pub fn dirs() -> Dirs {
    let root = tempfile::tempdir().unwrap();
    fs::set_permissions(root.path(), Permissions::from_mode(0o755)).unwrap();
    let collect = root.path().join("collect");
    let target = root.path().join("target");
    fs::create_dir(&collect).unwrap();
    fs::create_dir(&target).unwrap();
    Dirs {
        _root: root,
        collect,
        target,
    }
}
