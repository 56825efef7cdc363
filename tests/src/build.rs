//! Locating the workspace and building what the tests run.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The main workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The cargo target directory: `CARGO_TARGET_DIR` if set (relative to the
/// workspace root when relative), else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => workspace_root().join(dir),
        _ => workspace_root().join("target"),
    }
}

fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Runs cargo with `args` in the workspace root, quietly; panics with the
/// whole output when it fails.
fn run_cargo(args: &[&str]) -> Result<(), String> {
    let out = cargo_command(args)
        .output()
        .map_err(|e| format!("running {:?} {args:?}: {e}", cargo()))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "`cargo {}` failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

/// `cargo ARGS` in the workspace root, without `RUST_LOG` (which would
/// make the inner build write into the outer one's output).
pub fn cargo_command(args: &[&str]) -> Command {
    let mut cmd = Command::new(cargo());
    cmd.args(args)
        .current_dir(workspace_root())
        .env_remove("RUST_LOG");
    cmd
}

/// Runs `cmd`; panics with its whole output when it fails.
pub fn checked_output(cmd: &mut Command) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The standard output of `cargo ARGS` run in the workspace root; panics
/// with the whole output when cargo fails.
pub fn cargo_stdout(args: &[&str]) -> String {
    let out = checked_output(&mut cargo_command(args));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn once(
    cell: &'static OnceLock<Result<PathBuf, String>>,
    f: fn() -> Result<PathBuf, String>,
) -> PathBuf {
    match cell.get_or_init(f) {
        Ok(dir) => dir.clone(),
        Err(e) => panic!("{e}"),
    }
}

/// The real plugins: (short name, file name).
pub const REAL_PLUGINS: [(&str, &str); 3] = [
    ("file", "libstowage_file.so"),
    ("xorriso", "libstowage_xorriso.so"),
    ("local-peer", "libstowage_local_peer.so"),
];

/// Builds the `stowage` binary and the real plugins (debug), once per test
/// process, and returns the directory holding them (`target/debug`).
pub fn build_plugins() -> PathBuf {
    static CELL: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    once(&CELL, || {
        run_cargo(&[
            "build",
            "--quiet",
            "-p",
            "stowage-cli",
            "-p",
            "stowage-file",
            "-p",
            "stowage-xorriso",
            "-p",
            "stowage-local-peer",
        ])?;
        let dir = target_dir().join("debug");
        let files = REAL_PLUGINS.iter().map(|(_, f)| *f);
        for f in std::iter::once("stowage").chain(files) {
            if !dir.join(f).is_file() {
                return Err(format!("{} missing after the build", dir.join(f).display()));
            }
        }
        Ok(dir)
    })
}

/// Builds the fixture plugins (`tests/fixtures`, a workspace of its own)
/// into `target/fixtures`, once per test process, and returns
/// `target/fixtures/debug`.
pub fn build_fixtures() -> PathBuf {
    static CELL: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    once(&CELL, || {
        let target = target_dir().join("fixtures");
        let target = target.to_str().ok_or("target dir is not UTF-8")?;
        run_cargo(&[
            "build",
            "--quiet",
            "--manifest-path",
            "tests/fixtures/Cargo.toml",
            "--target-dir",
            target,
        ])?;
        Ok(target_dir().join("fixtures").join("debug"))
    })
}

/// The `stowage` binary (built on first use).
pub fn stowage_bin() -> PathBuf {
    build_plugins().join("stowage")
}
