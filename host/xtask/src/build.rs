//! Building what is installed: the `stowage` binary and the plugins.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The packages whose cdylibs are the shipped plugins.
pub const PLUGIN_PACKAGES: &[&str] = &["stowage-file", "stowage-local-peer", "stowage-xorriso"];

/// Which cargo profile to build and install.
#[derive(Clone, Copy, Debug)]
pub enum Profile {
    Release,
    Debug,
}

/// What a build produced.
pub struct Built {
    /// The workspace root.
    pub root: PathBuf,
    /// `target/release` or `target/debug`.
    pub dir: PathBuf,
    /// The plugin file names in `dir`.
    pub plugins: Vec<String>,
}

impl Built {
    /// The `stowage` binary.
    pub fn binary(&self) -> PathBuf {
        self.dir.join("stowage")
    }
}

/// Builds the binary and the plugins with `profile`.
pub fn build(profile: Profile) -> Result<Built, String> {
    let root = workspace_root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args(["build", "--quiet", "-p", "stowage-cli"]);
    for p in PLUGIN_PACKAGES {
        cmd.args(["-p", p]);
    }
    if let Profile::Release = profile {
        cmd.arg("--release");
    }
    let status = cmd
        .status()
        .map_err(|e| format!("running cargo build: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build failed ({status})"));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(|t| root.join(t))
        .unwrap_or_else(|| root.join("target"));
    let dir = target.join(match profile {
        Profile::Release => "release",
        Profile::Debug => "debug",
    });
    let plugins: Vec<String> = PLUGIN_PACKAGES
        .iter()
        .map(|p| format!("lib{}.so", p.replace('-', "_")))
        .collect();
    for f in plugins.iter().map(String::as_str).chain(["stowage"]) {
        if !dir.join(f).is_file() {
            return Err(format!(
                "{} is missing after the build",
                dir.join(f).display()
            ));
        }
    }
    Ok(Built { root, dir, plugins })
}

/// The workspace root: two levels above this crate's manifest.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}
