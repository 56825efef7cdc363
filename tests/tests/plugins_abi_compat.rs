//! Plugins built before the `stowage.peer/1` and `stowage.xorriso/1` types
//! moved out of `stowage-backend-api` (into `stowage-peer-ext` and
//! `stowage-xorriso-ext`) still offer their extensions to a host built now.
//!
//! abi_stable's layout check compares the package each type was recorded
//! under; the extension crates pin it (their `build.rs`). This test builds
//! the local-peer and xorriso plugins from the last commit that still had
//! the types in `stowage-backend-api` (from this repository's own history,
//! into `target/abi-compat`, cached across runs) and drives them through
//! today's `stowage peer` and `stowage iso` commands.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use stowage_tests::{require_tool, stowage_bin, target_dir, tempdir, workspace_root, Cli};

mod plugins_support;
use plugins_support::peer_dirs;

/// The last commit whose `backend-api/src/ext/` held `peer.rs` and `xorriso.rs`.
const BEFORE_THE_MOVE: &str = "3c06af6";

/// Builds the two plugins as they were at [`BEFORE_THE_MOVE`]; `None` (after
/// a loud skip) when this checkout has no such history (a source tarball).
fn plugins_built_before_the_move() -> Option<PathBuf> {
    let root = workspace_root();
    let base = target_dir().join("abi-compat");
    let src = base.join(BEFORE_THE_MOVE);
    if !src.join("Cargo.toml").is_file() {
        let has_commit = Command::new("git")
            .args(["-C", root.to_str()?, "cat-file", "-e"])
            .arg(format!("{BEFORE_THE_MOVE}^{{commit}}"))
            .status()
            .is_ok_and(|s| s.success());
        if !has_commit {
            assert!(
                std::env::var_os("STOWAGE_REQUIRE_TOOLS").is_none(),
                "commit {BEFORE_THE_MOVE} is not in this checkout (STOWAGE_REQUIRE_TOOLS is set)"
            );
            eprintln!("\n*** SKIPPED: commit {BEFORE_THE_MOVE} is not in this checkout ***\n");
            return None;
        }
        fs::create_dir_all(&src).unwrap();
        let archive = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "git -C '{}' archive {BEFORE_THE_MOVE} | tar -x -C '{}'",
                root.display(),
                src.display()
            ))
            .status()
            .unwrap();
        assert!(archive.success(), "extracting {BEFORE_THE_MOVE}");
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--quiet", "--offline", "--lib"])
        .args(["-p", "stowage-local-peer", "-p", "stowage-xorriso"])
        .arg("--manifest-path")
        .arg(src.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(base.join("target"))
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "building the plugins of {BEFORE_THE_MOVE}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(base.join("target").join("debug"))
}

fn plugin_dir(built: &Path, file: &str) -> tempfile::TempDir {
    let dir = tempdir();
    let dst = dir.path().join(file);
    fs::copy(built.join(file), &dst).unwrap();
    fs::set_permissions(&dst, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

#[test]
fn plugins_built_before_the_move_keep_their_extensions() {
    let Some(built) = plugins_built_before_the_move() else {
        return;
    };
    let _ = stowage_bin();

    // stowage.peer/1 from the old local-peer plugin.
    let plugins = plugin_dir(&built, "libstowage_local_peer.so");
    let cli = Cli::new(plugins.path());
    let work = tempdir();
    let (collect, target) = peer_dirs(work.path());
    fs::write(collect.join("data"), b"old plugin").unwrap();
    fs::write(collect.join("cback.collect"), b"").unwrap();
    let url = format!("local-peer://Old{}", collect.display());
    let (_, doc) = cli.run_json(["peer", "collected", &url]);
    assert_eq!(doc["data"]["present"], true, "{doc}");
    let out = cli.run(["peer", "stage", &url, target.to_str().unwrap(), "--json"]);
    out.ok();
    let doc = out.json();
    assert_eq!(doc["data"]["copied"], 1, "{doc}");
    assert_eq!(doc["data"]["staged"][0]["name"], "data", "{doc}");
    assert_eq!(
        doc["data"]["skipped"][0]["reason"], "indicator file",
        "{doc}"
    );
    assert_eq!(fs::read(target.join("data")).unwrap(), b"old plugin");
    cli.run(["peer", "mark-staged", &url, "--mode", "0640"])
        .ok();
    assert!(collect.join("cback.stage").is_file());

    // stowage.xorriso/1 from the old xorriso plugin.
    if !require_tool("xorriso") {
        return;
    }
    let plugins = plugin_dir(&built, "libstowage_xorriso.so");
    let cli = Cli::new(plugins.path());
    let image = work.path().join("old.iso");
    let url = format!("xorriso://{}", image.display());
    cli.run(["put", &url, collect.join("data").to_str().unwrap()])
        .ok();
    let (_, doc) = cli.run_json(["iso", "info", &url]);
    assert_eq!(doc["data"]["sessions"], 1, "{doc}");
    assert_eq!(
        doc["data"]["medium"],
        format!("stdio:{}", image.display()),
        "{doc}"
    );
}
