//! The other side of the security tests: an unprivileged local user
//! (`nobody`), running a shell script while the test (root) works.

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// uid and gid 65534: `nobody` and `nogroup` on Debian and most
/// distributions.
pub const NOBODY: u32 = 65534;

/// Whether the tests can act as a second user: they run as root and
/// `setpriv` is installed. Otherwise prints a loud `SKIPPED` and returns
/// false, or panics when `STOWAGE_REQUIRE_TOOLS` is set.
pub fn can_attack(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if root && crate::find_in_path("setpriv").is_some() {
        return true;
    }
    let why = if root {
        "setpriv is not installed"
    } else {
        "not running as root"
    };
    if std::env::var_os("STOWAGE_REQUIRE_TOOLS").is_some() {
        panic!("{test} needs a second user ({why}), and STOWAGE_REQUIRE_TOOLS is set");
    }
    eprintln!("\n*** SKIPPED: {test} needs a second user: {why} ***\n");
    false
}

/// Gives `path` to `nobody`.
pub fn give_to_nobody(path: &Path) {
    std::os::unix::fs::chown(path, Some(NOBODY), Some(NOBODY))
        .unwrap_or_else(|e| panic!("chown nobody {}: {e}", path.display()));
}

/// A script running as `nobody` (no supplementary groups) in `dir`,
/// until it ends or is killed with [`Attacker::stop`].
pub struct Attacker {
    child: Child,
}

impl Attacker {
    /// Starts `sh -c script` as `nobody` in `dir`.
    pub fn start(dir: &Path, script: &str) -> Self {
        let child = Command::new("setpriv")
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
            .args(["sh", "-c", script])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("starting the attacker as nobody");
        Self { child }
    }

    /// Stops the script and waits for it.
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Attacker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
