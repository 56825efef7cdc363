//! `cargo xtask install` and `cargo xtask dist`: the installed stowage
//! finds its plugins from anywhere with a clean environment, and a put and
//! a get work through it.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use stowage_tests::{tempdir, workspace_root};

fn cargo_xtask(args: &[&str]) -> Output {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(workspace_root())
        .arg("xtask")
        .args(args)
        .output()
        .expect("running cargo xtask");
    assert!(
        out.status.success(),
        "cargo xtask {args:?} failed\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `PREFIX/bin/stowage ARGS` in `cwd` with nothing of this environment.
fn installed(prefix: &Path, cwd: &Path, home: &Path, args: &[&str]) -> Output {
    Command::new(prefix.join("bin/stowage"))
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("HOME", home)
        .env("PATH", "/usr/bin:/bin")
        .output()
        .expect("running the installed stowage")
}

#[test]
fn install_into_a_prefix_and_use_it_from_elsewhere() {
    let work = tempdir();
    let prefix = work.path().join("prefix");
    cargo_xtask(&["install", "--prefix", prefix.to_str().unwrap(), "--debug"]);

    for file in [
        "bin/stowage",
        "lib/stowage/plugins/libstowage_file.so",
        "lib/stowage/plugins/libstowage_local_peer.so",
        "lib/stowage/plugins/libstowage_xorriso.so",
        "share/man/man1/stowage.1",
        "share/man/man1/stowage-put.1",
        "share/man/man1/stowage-space-backup.1",
        "share/bash-completion/completions/stowage",
        "share/zsh/site-functions/_stowage",
        "share/fish/vendor_completions.d/stowage.fish",
    ] {
        assert!(prefix.join(file).is_file(), "{file} not installed");
    }

    let elsewhere = work.path().join("elsewhere");
    let home = work.path().join("home");
    fs::create_dir(&elsewhere).unwrap();
    fs::create_dir(&home).unwrap();
    let out = installed(&prefix, &elsewhere, &home, &["plugins"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plugin_dir = prefix.join("bin/../lib/stowage/plugins");
    for name in ["file", "local-peer", "xorriso"] {
        assert!(
            text.contains(&format!("{name} 0.")),
            "{name} not loaded:\n{text}"
        );
    }
    assert!(text.contains(plugin_dir.to_str().unwrap()), "{text}");
    assert!(!text.contains("rejected"), "{text}");

    let src = elsewhere.join("data.bin");
    fs::write(&src, b"installed round trip").unwrap();
    let url = format!("file://{}", work.path().join("store").display());
    let out = installed(&prefix, &elsewhere, &home, &["put", &url, "data.bin"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = installed(
        &prefix,
        &elsewhere,
        &home,
        &["get", &url, "data.bin", "-o", "back.bin"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        fs::read(elsewhere.join("back.bin")).unwrap(),
        b"installed round trip"
    );
}

#[test]
fn dist_packs_the_install_layout() {
    let out = cargo_xtask(&["dist", "--debug"]);
    let tarball = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(tarball.ends_with("-linux.tar.gz"), "{tarball}");
    let listing = Command::new("tar")
        .args(["-tzf", &tarball])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    for file in [
        "/bin/stowage",
        "/lib/stowage/plugins/libstowage_file.so",
        "/share/man/man1/stowage-get.1",
        "/share/bash-completion/completions/stowage",
    ] {
        assert!(
            listing.lines().any(|l| l.ends_with(file)),
            "{file} not in\n{listing}"
        );
    }
}
