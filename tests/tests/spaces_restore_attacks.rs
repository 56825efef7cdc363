//! Restores attacked for real: root restores into directories an ordinary
//! user (`nobody`) owns, or from a store that user can write. Each test
//! performs the attack and checks that nothing outside the user's reach
//! was written, chowned or chmodded.

mod spaces_support;

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use spaces_support::*;
use stowage_space::{BackupStore, StoreOptions};

/// Item 1: alice (nobody) replaces the directory holding a backed-up file
/// with a symlink to a root-owned directory. The restore must stop at the
/// symlink, naming it, and write nothing in root's directory.
#[test]
fn a_symlink_in_a_parent_is_not_followed() {
    let Some((top, cache)) = attack_dirs() else {
        return;
    };
    let url = file_url(&top.path().join("store"));
    let home = top.path().join("home");
    nobody_dir(&home);
    nobody_dir(&home.join("docs"));
    let victim = top.path().join("victim");
    fs::create_dir(&victim).unwrap();
    let file = home.join("docs/notes");
    fs::write(&file, b"alice's notes").unwrap();
    let (uid, gid) = nobody();
    std::os::unix::fs::chown(&file, Some(uid), Some(gid)).unwrap();
    let f = file.to_str().unwrap();
    assert_eq!(space_cli(cache.path(), &["backup", &url, "s", f]).0, 0);

    // The attack: docs/ becomes a symlink to root's directory.
    let status = as_nobody("sh")
        .arg("-c")
        .arg("rm -rf docs && ln -s ../victim docs")
        .current_dir(&home)
        .status()
        .unwrap();
    assert!(status.success());

    for cmd in [vec!["restore", &url, "s", f], vec!["revert", &url, "s"]] {
        let (code, _, err) = space_cli(cache.path(), &cmd);
        assert_ne!(code, 0, "{cmd:?} succeeded through the symlink");
        assert!(
            err.contains(&home.join("docs").display().to_string()) && err.contains("symbolic link"),
            "{cmd:?}: the error names the symlink: {err}"
        );
        if cmd[0] == "restore" {
            assert_eq!(code, 23, "{err}");
        }
    }
    assert!(
        fs::read_dir(&victim).unwrap().next().is_none(),
        "something was written in root's directory"
    );
}

/// Item 2: while root restores a tree into alice's directory again and
/// again, alice replaces every temporary name she sees with a symlink to a
/// root-only file. Metadata goes through descriptors, so the file keeps
/// its owner and mode 0600 whatever she manages.
#[test]
fn metadata_never_lands_on_a_swapped_name() {
    if !can_attack() {
        return;
    }
    let top = shared_tempdir();
    let url = file_url(&top.path().join("store"));
    let secret = top.path().join("secret");
    fs::write(&secret, b"root only").unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    let docs = top.path().join("docs");
    nobody_dir(&docs);
    for i in 0..20 {
        let f = docs.join(format!("f{i}"));
        fs::write(&f, bytes(i, 2000)).unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let store = open_store(&url).unwrap();
    let space = store.space("race", true).unwrap();
    space.backup_path(&docs, Some("docs")).unwrap();

    // Replace every hidden temporary with a symlink to the secret.
    let script = format!(
        r#"
import os, time
end = time.time() + 60
d = {docs:?}
struck = 0
while time.time() < end and not os.path.exists(os.path.join(d, "stop")):
    try:
        names = os.listdir(d)
    except OSError:
        continue
    for n in names:
        if n.startswith(".stowage-") and not n.endswith(".x"):
            p = os.path.join(d, n)
            try:
                os.rename(p, p + ".x")
                os.symlink({secret:?}, p)
                struck += 1
            except OSError:
                pass
print(struck)
"#,
        docs = docs.display().to_string(),
        secret = secret.display().to_string(),
    );
    let attacker = start_attacker(&script);
    let started = Instant::now();
    let mut tries = 0;
    while tries < 300 && started.elapsed() < Duration::from_secs(45) {
        // Errors are allowed (alice may break the restore of her own
        // files); the secret must stay untouched.
        let _ = space.restore_name("docs", None);
        tries += 1;
        let m = fs::symlink_metadata(&secret).unwrap();
        assert_eq!(
            (m.mode() & 0o7777, m.uid()),
            (0o600, 0),
            "after {tries} restores the secret was changed"
        );
    }
    let struck = finish_attacker(attacker, &docs.join("stop"));
    assert!(tries >= 100, "only {tries} restores ran");
    assert!(struck > 0, "the attacker never swapped a temporary name");
    eprintln!("{tries} restores, {struck} names swapped");
    space.close().unwrap();
}

/// Forges, as someone who can write the store, an object and a manifest
/// asking for `/…/rootshell`, setuid root. Returns the manifest's name.
fn forge(store_dir: &Path, target: &Path, version: u32, mac: Option<&str>) -> String {
    let content = b"#!/bin/sh\necho pwned\n";
    let sha = sha256_hex(content);
    fs::write(store_dir.join(format!("obj-{sha}")), content).unwrap();
    let mac = mac.map(|m| format!(r#","mac":"{m}""#)).unwrap_or_default();
    let manifest = format!(
        r#"{{"format":"stowage-space","version":{version},"space":"evil","generation":99,"persistent":true,"created":1,"modified":1,"entries":{{"x":{{"origin":{origin:?},"created":1,"root":{{"kind":"file","size":{size},"sha256":"{sha}","meta":{{"mode":2541,"uid":0,"gid":0,"mtime":1}}}}}}}}{mac}}}"#,
        origin = target.display().to_string(),
        size = content.len(),
    );
    let name = format!("space-evil.manifest.99.{}", sha256_hex(manifest.as_bytes()));
    fs::write(store_dir.join(&name), manifest).unwrap();
    name
}

/// Item 3: whoever can write the store forges a manifest restoring a
/// setuid-root shell. Unauthenticated or wrongly authenticated, it is
/// refused with exit 56 and nothing is created.
#[test]
fn a_forged_manifest_restores_nothing() {
    let Some((top, cache)) = attack_dirs() else {
        return;
    };
    let store_dir = top.path().join("store");
    nobody_dir(&store_dir);
    let url = file_url(&store_dir);
    let shell = top.path().join("rootshell");
    let forged = [(1, None), (2, None), (2, Some("00".repeat(32)))];
    for (version, mac) in forged {
        for f in fs::read_dir(&store_dir).unwrap() {
            fs::remove_file(f.unwrap().path()).unwrap();
        }
        forge(&store_dir, &shell, version, mac.as_deref());
        for cmd in [
            vec!["revert", &url, "evil"],
            vec!["restore", &url, "evil", "x"],
        ] {
            let (code, _, err) = space_cli(cache.path(), &cmd);
            assert_eq!(code, 56, "version {version}, {cmd:?}: {err}");
            assert!(err.contains("nothing was restored"), "{err}");
            assert!(
                !shell.exists(),
                "version {version}: the forged file was created"
            );
        }
    }

    // Trusting unauthenticated manifests explicitly: restored, but never
    // setuid, and owned by the restoring user.
    for f in fs::read_dir(&store_dir).unwrap() {
        fs::remove_file(f.unwrap().path()).unwrap();
    }
    forge(&store_dir, &shell, 1, None);
    let options = StoreOptions {
        trust_unauthenticated: true,
        ..options(&url)
    };
    let store = BackupStore::open_with(&registry(), &url, &options).unwrap();
    let space = store.open_space_read_only("evil").unwrap();
    space.restore_name("x", None).unwrap();
    let m = fs::symlink_metadata(&shell).unwrap();
    assert_eq!(m.mode() & 0o7000, 0, "mode {:o}", m.mode());
    assert_eq!(m.uid(), 0);
}

/// Item 3 (independently of authentication): origins with `..` are
/// refused when the manifest is read.
#[test]
fn origins_with_dot_dot_are_refused() {
    let top = tempfile::tempdir().unwrap();
    let store_dir = top.path().join("store");
    fs::create_dir(&store_dir).unwrap();
    let url = file_url(&store_dir);
    forge(&store_dir, &top.path().join("a/../b"), 1, None);
    let options = StoreOptions {
        trust_unauthenticated: true,
        ..options(&url)
    };
    let store = BackupStore::open_with(&registry(), &url, &options).unwrap();
    let err = store.open_space_read_only("evil").unwrap_err();
    assert_eq!(err.code().0, 56, "{err}");
    assert!(err.to_string().contains(".."), "{err}");
}

/// Item 4: a deleted private directory comes back with its recorded
/// owner and permissions, not 0755 root.
#[test]
fn missing_parents_come_back_as_they_were() {
    let top = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let url = file_url(&top.path().join("store"));
    let ssh = top.path().join("home/.ssh");
    fs::create_dir_all(&ssh).unwrap();
    fs::set_permissions(&ssh, fs::Permissions::from_mode(0o700)).unwrap();
    if is_root() {
        std::os::unix::fs::chown(&ssh, Some(1234), Some(4321)).unwrap();
    }
    let key = ssh.join("id_ed25519");
    fs::write(&key, b"secret key").unwrap();
    let k = key.to_str().unwrap();
    assert_eq!(space_cli(cache.path(), &["backup", &url, "s", k]).0, 0);
    fs::remove_dir_all(&ssh).unwrap();
    let (code, _, err) = space_cli(cache.path(), &["restore", &url, "s", k]);
    assert_eq!(code, 0, "{err}");
    let m = fs::metadata(&ssh).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o700, "mode {:o}", m.mode() & 0o7777);
    if is_root() {
        assert_eq!((m.uid(), m.gid()), (1234, 4321));
    }
    assert_eq!(fs::read(&key).unwrap(), b"secret key");
}

/// A restore onto a destination whose last component is a symlink
/// replaces the link (never writes through it).
#[test]
fn a_symlink_at_the_destination_is_replaced_not_followed() {
    let top = tempfile::tempdir().unwrap();
    let url = file_url(&top.path().join("store"));
    let target = top.path().join("elsewhere");
    fs::write(&target, b"untouched").unwrap();
    let file = top.path().join("f");
    fs::write(&file, b"backed up").unwrap();
    let store = open_store(&url).unwrap();
    let space = store.space("s", true).unwrap();
    space.backup_path(&file, None).unwrap();
    fs::remove_file(&file).unwrap();
    symlink(&target, &file).unwrap();
    space.restore_path(&file, None).unwrap();
    assert_eq!(fs::read(&target).unwrap(), b"untouched");
    assert!(fs::symlink_metadata(&file).unwrap().is_file());
    assert_eq!(fs::read(&file).unwrap(), b"backed up");
    space.close().unwrap();
}

/// SHA-256 hex, for forging.
fn sha256_hex(bytes: &[u8]) -> String {
    let out = std::process::Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(bytes)?;
            c.wait_with_output()
        })
        .unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}
