//! Where each installed file goes under a prefix, and the dist tarball.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::build::Built;

/// Completion scripts: (shell, path under the prefix), where each shell
/// looks for them in a prefix.
const COMPLETIONS: &[(&str, &str)] = &[
    ("bash", "share/bash-completion/completions/stowage"),
    ("zsh", "share/zsh/site-functions/_stowage"),
    ("fish", "share/fish/vendor_completions.d/stowage.fish"),
];

/// Installs under `prefix`: bin/stowage, lib/stowage/plugins/*.so (where
/// the binary looks for them), the manual pages and the completions.
/// Every directory and file is made not writable by group or others, as
/// the plugin trust check requires.
pub fn install(built: &Built, prefix: &Path) -> Result<(), String> {
    let bin = prefix.join("bin");
    let plugins = prefix.join("lib/stowage/plugins");
    let man = prefix.join("share/man/man1");
    for dir in [&bin, &plugins, &man] {
        make_dir(dir)?;
    }
    let stowage = bin.join("stowage");
    copy(&built.binary(), &stowage, 0o755)?;
    for p in &built.plugins {
        copy(&built.dir.join(p), &plugins.join(p), 0o644)?;
    }
    run(&stowage, &["man", "--dir", path_str(&man)?], None)?;
    for (shell, place) in COMPLETIONS {
        let file = prefix.join(place);
        if let Some(dir) = file.parent() {
            make_dir(dir)?;
        }
        let script = fs::File::create(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        run(&stowage, &["completions", shell], Some(script))?;
        set_mode(&file, 0o644)?;
    }
    Ok(())
}

/// The install layout in `target/dist/stowage-VERSION-ARCH-linux/`, packed
/// as a `.tar.gz` beside it; returns the tarball.
pub fn dist(built: &Built) -> Result<PathBuf, String> {
    let name = format!(
        "stowage-{}-{}-linux",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH
    );
    let out = built.root.join("target/dist");
    let staging = out.join(&name);
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(|e| format!("{}: {e}", staging.display()))?;
    }
    install(built, &staging)?;
    let tarball = out.join(format!("{name}.tar.gz"));
    let status = Command::new("tar")
        .current_dir(&out)
        .args(["--owner=0", "--group=0", "-czf"])
        .arg(&tarball)
        .arg(&name)
        .status()
        .map_err(|e| format!("running tar: {e}"))?;
    if !status.success() {
        return Err(format!("tar failed ({status})"));
    }
    Ok(tarball)
}

fn make_dir(dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    set_mode(dir, 0o755)
}

fn copy(from: &Path, to: &Path, mode: u32) -> Result<(), String> {
    // A new file renamed into place: a running stowage keeps its mapping.
    let tmp = to.with_extension("xtask-new");
    fs::copy(from, &tmp).map_err(|e| format!("{} -> {}: {e}", from.display(), tmp.display()))?;
    set_mode(&tmp, mode)?;
    fs::rename(&tmp, to).map_err(|e| format!("{}: {e}", to.display()))
}

fn set_mode(path: &Path, mode: u32) -> Result<(), String> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn run(program: &Path, args: &[&str], stdout: Option<fs::File>) -> Result<(), String> {
    let mut cmd = Command::new(program);
    cmd.args(args);
    if let Some(file) = stdout {
        cmd.stdout(file);
    }
    let status = cmd
        .status()
        .map_err(|e| format!("running {}: {e}", program.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{} {args:?} failed ({status})", program.display()))
    }
}

fn path_str(path: &Path) -> Result<&str, String> {
    path.to_str()
        .ok_or_else(|| format!("{}: not UTF-8", path.display()))
}
