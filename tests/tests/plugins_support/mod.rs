//! Shared by the `plugins_*` tests: running the `stowage` command (or any
//! program) as another user, the way an attacker or an unprivileged user
//! would.

#![allow(dead_code)] // each test file uses its own part

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use stowage_tests::{plugin_dir_with, registry_of, require_tool, tempdir, Cli};

/// uid/gid 65534: `nobody`/`nogroup` on Debian and most distributions.
pub const NOBODY: u32 = 65534;

/// Whether the test runs as root; when not, a loud skip (or a failure with
/// `STOWAGE_REQUIRE_TOOLS` set), since acting as another user needs root.
pub fn require_root(what: &str) -> bool {
    if rustix_free_geteuid() == 0 {
        return true;
    }
    if std::env::var_os("STOWAGE_REQUIRE_TOOLS").is_some() {
        panic!("{what} needs root, and STOWAGE_REQUIRE_TOOLS is set");
    }
    eprintln!("\n*** SKIPPED: {what} needs root (it acts as the user nobody) ***\n");
    false
}

fn rustix_free_geteuid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

/// `cmd` run as `nobody:nogroup` without supplementary groups, through
/// `setpriv`, with the same arguments and environment.
pub fn as_nobody(cmd: &Command) -> Command {
    let mut wrapped = Command::new("setpriv");
    wrapped
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => wrapped.env(key, v),
            None => wrapped.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        wrapped.current_dir(dir);
    }
    wrapped
}

/// `chmod MODE PATH`.
pub fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

/// `chown nobody:nogroup PATH`.
pub fn give_to_nobody(path: &Path) {
    std::os::unix::fs::chown(path, Some(NOBODY), Some(NOBODY))
        .unwrap_or_else(|e| panic!("chown nobody {}: {e}", path.display()));
}

/// The text of a finished command's stdout and stderr.
pub fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Whether `name` contains `needle` (for readable assertions on OS strings).
pub fn contains(haystack: &str, needle: impl AsRef<OsStr>) -> bool {
    haystack.contains(needle.as_ref().to_string_lossy().as_ref())
}

/// Whether `xorriso` and `isoinfo` are installed (a loud skip when not).
pub fn xorriso_tools() -> bool {
    require_tool("xorriso") && require_tool("isoinfo")
}

/// `isoinfo -R -x /PATH`: the file's bytes as an independent reader sees
/// them.
pub fn isoinfo_read(image: &Path, iso_path: &str) -> Vec<u8> {
    let out = Command::new("isoinfo")
        .args(["-R", "-i"])
        .arg(image)
        .args(["-x", iso_path])
        .output()
        .expect("running isoinfo");
    assert!(out.status.success(), "isoinfo failed: {out:?}");
    out.stdout
}

/// Whether `isoinfo -R -f` lists `iso_path` in `image` (false when there
/// is no image at all).
pub fn isoinfo_lists(image: &Path, iso_path: &str) -> bool {
    let out = Command::new("isoinfo")
        .args(["-R", "-f", "-i"])
        .arg(image)
        .output()
        .expect("running isoinfo");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l == iso_path)
}

/// `work/collect` and `work/target`, created.
pub fn peer_dirs(work: &Path) -> (PathBuf, PathBuf) {
    let collect = work.join("collect");
    let target = work.join("target");
    std::fs::create_dir(&collect).unwrap();
    std::fs::create_dir(&target).unwrap();
    (collect, target)
}

/// An ISO image (not created) in a fresh temporary directory, and a plugin
/// directory holding the xorriso plugin: the scene of the xorriso tests.
pub struct IsoScene {
    /// The plugin directory (removed on drop).
    pub plugins: tempfile::TempDir,
    /// The temporary directory holding the image and the local files.
    pub work: tempfile::TempDir,
    /// `<work>/<image name>`.
    pub image: PathBuf,
}

impl IsoScene {
    /// The image `<work>/<image_name>`, seen by a host with exactly
    /// `plugins` (which should include `xorriso`).
    pub fn new(plugins: &[&str], image_name: &str) -> Self {
        let work = tempdir();
        let image = work.path().join(image_name);
        Self {
            plugins: plugin_dir_with(plugins),
            work,
            image,
        }
    }

    /// `xorriso://<image><rest>`: `rest` is empty, a `:/directory` or a
    /// `?query`.
    pub fn url(&self, rest: &str) -> String {
        format!("xorriso://{}{rest}", self.image.display())
    }

    /// The `stowage` command with this scene's plugins.
    pub fn cli(&self) -> Cli {
        Cli::new(self.plugins.path())
    }

    /// The host library's registry of this scene's plugins.
    pub fn registry(&self) -> stowage::Registry {
        registry_of(self.plugins.path())
    }

    /// Writes `content` to the local file `<work>/<name>`; returns its path.
    pub fn local_file(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.work.path().join(name);
        std::fs::write(&path, content)
            .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        path
    }
}
