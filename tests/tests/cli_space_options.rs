//! The store options of `stowage space ...` through the real CLI:
//! `--key-file`, `verify --repair` and `--trust-unauthenticated`.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use stowage_tests::{cli_with, file_store, tempdir, Cli, FileStore};

/// Exit status of damaged or unauthenticated data (`VALIDATION_FAILED`).
const EXIT_VALIDATION: i32 = 56;

/// A store scene (see [`file_store`]) and a CLI seeing the file plugin,
/// its configuration (default key files) under `<work>/config` so that a
/// test never reads the user's keys. The plugin directory must outlive
/// the runs.
fn setup() -> (FileStore, tempfile::TempDir, Cli) {
    let scene = file_store();
    let (plugins, cli) = cli_with(&["file"]);
    let cli = cli.env("XDG_CONFIG_HOME", scene.path("config"));
    (scene, plugins, cli)
}

/// The one content object (`obj-…`) in `store`.
fn only_object(store: &Path) -> PathBuf {
    let objects: Vec<PathBuf> = fs::read_dir(store)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("obj-"))
        .collect();
    assert_eq!(objects.len(), 1, "{objects:?}");
    objects.into_iter().next().unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    let dir = tempdir();
    let file = dir.path().join("data");
    fs::write(&file, bytes).unwrap();
    let out = std::process::Command::new("sha256sum")
        .arg(&file)
        .output()
        .expect("sha256sum runs");
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

#[test]
fn the_key_file_given_by_flag_authenticates_the_manifests() {
    let (scene, _p, cli) = setup();
    let (work, url) = (&scene.work, scene.url.as_str());
    let data = scene.local_file("notes.txt", b"remember the milk\n");
    let key = work.path().join("keys/main.key");
    let other = work.path().join("keys/other.key");
    fs::create_dir_all(key.parent().unwrap()).unwrap();
    let key_arg = key.to_str().unwrap();

    cli.run([
        "space",
        "backup",
        "--key-file",
        key_arg,
        url,
        "s",
        data.to_str().unwrap(),
    ])
    .ok();
    let m = fs::metadata(&key).expect("the key file was created where the flag said");
    assert_eq!(m.mode() & 0o777, 0o600, "mode {:o}", m.mode());
    assert!(
        !work.path().join("config/stowage").exists(),
        "no default key file was made"
    );

    // The same key reads the space (the flag also works after the command).
    let show = cli.run(["--json", "space", "show", url, "s", "--key-file", key_arg]);
    show.ok();
    assert_eq!(show.json()["items"].as_array().unwrap().len(), 1);

    // Another key refuses the manifest as unauthenticated.
    let refused = cli.run([
        "space",
        "show",
        "--key-file",
        other.to_str().unwrap(),
        url,
        "s",
    ]);
    refused.expect_code(EXIT_VALIDATION);
    // So does the default key (none was made for this store yet).
    cli.run(["space", "show", url, "s"])
        .expect_code(EXIT_VALIDATION);
}

#[test]
fn verify_repair_stores_a_damaged_object_again_from_the_live_file() {
    let (scene, _p, cli) = setup();
    let (store, url) = (&scene.store, scene.url.as_str());
    let data = scene.local_file("report.txt", b"the quarterly numbers, all of them\n");
    cli.run(["space", "backup", url, "s", data.to_str().unwrap()])
        .ok();

    let object = only_object(store);
    fs::write(&object, b"the quarterly numbers, none of them\n").unwrap();
    cli.run(["space", "verify", url, "s"])
        .expect_code(EXIT_VALIDATION);

    let repaired = cli.run(["--json", "space", "verify", "--repair", url, "s"]);
    repaired.ok();
    let doc = repaired.json();
    assert_eq!(
        doc["data"]["repaired"].as_array().unwrap().len(),
        1,
        "{doc}"
    );
    assert_eq!(doc["data"]["unrepaired"], serde_json::json!([]), "{doc}");
    assert_eq!(fs::read(&object).unwrap(), fs::read(&data).unwrap());
    cli.run(["space", "verify", url, "s"]).ok();

    // Text output names what was repaired.
    fs::write(&object, b"damaged again").unwrap();
    let text = cli.run(["space", "verify", "--repair", url, "s"]);
    text.ok();
    assert!(
        text.all_text().contains("repaired: "),
        "{}",
        text.all_text()
    );

    // A live file that changed cannot repair: left unrepaired, exit 56.
    fs::write(&object, b"damaged once more").unwrap();
    fs::write(&data, b"something else entirely\n").unwrap();
    let left = cli.run(["--json", "space", "verify", "--repair", url, "s"]);
    left.expect_code(EXIT_VALIDATION);
    let doc = left.json();
    assert_eq!(doc["data"]["repaired"], serde_json::json!([]), "{doc}");
    assert_eq!(
        doc["data"]["unrepaired"].as_array().unwrap().len(),
        1,
        "{doc}"
    );
    assert_eq!(fs::read(&object).unwrap(), b"damaged once more");
}

/// Writes, as an older stowage would have, an unauthenticated (format
/// version 1) manifest of space `old` whose entry `x` is a setuid file
/// at `origin`.
fn write_v1_space(store: &Path, origin: &Path, content: &[u8]) {
    let sha = sha256_hex(content);
    fs::create_dir_all(store).unwrap();
    fs::write(store.join(format!("obj-{sha}")), content).unwrap();
    let mode = 0o104755; // a regular file, setuid, rwxr-xr-x
    let manifest = format!(
        r#"{{"format":"stowage-space","version":1,"space":"old","generation":3,"persistent":true,"created":1,"modified":1,"entries":{{"x":{{"origin":{origin:?},"created":1,"root":{{"kind":"file","size":{size},"sha256":"{sha}","meta":{{"mode":{mode},"uid":0,"gid":0,"mtime":1}}}}}}}}}}"#,
        origin = origin.display().to_string(),
        size = content.len(),
    );
    let name = format!("space-old.manifest.3.{}", sha256_hex(manifest.as_bytes()));
    fs::write(store.join(name), manifest).unwrap();
}

#[test]
fn unauthenticated_manifests_are_read_only_when_trusted_and_without_privileges() {
    let (scene, _p, cli) = setup();
    let (work, store, url) = (&scene.work, &scene.store, scene.url.as_str());
    let target = work.path().join("restored/tool");
    fs::create_dir_all(target.parent().unwrap()).unwrap();
    write_v1_space(store, &target, b"#!/bin/sh\necho old tool\n");

    let refused = cli.run(["space", "restore", url, "old", "x"]);
    refused.expect_code(EXIT_VALIDATION);
    assert!(
        !target.exists(),
        "restored from an unauthenticated manifest"
    );

    cli.run([
        "space",
        "restore",
        "--trust-unauthenticated",
        url,
        "old",
        "x",
    ])
    .ok();
    assert_eq!(fs::read(&target).unwrap(), b"#!/bin/sh\necho old tool\n");
    let m = fs::metadata(&target).unwrap();
    assert_eq!(
        m.mode() & 0o7000,
        0,
        "special bits kept: mode {:o}",
        m.mode()
    );
    assert_eq!(m.permissions().mode() & 0o777, 0o755);
    assert_eq!(
        m.uid(),
        unsafe { libc::geteuid() },
        "owned by the restoring user"
    );
}
