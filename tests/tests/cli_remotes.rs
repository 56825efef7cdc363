//! Named remotes through the `stowage` command: `stowage remote ...`, the
//! configuration file's places, `NAME:` and `NAME:sub/dir` as URLs, and the
//! file refused when another user could have changed it or could read its
//! secrets.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use stowage_tests::files::assert_same_content;
use stowage_tests::{
    file_url, plugin_dir_with, tempdir, Cli, EXIT_INVALID, EXIT_NOT_FOUND, EXIT_PERMISSION,
};

/// A `Cli` whose configuration lives under `config_home`.
fn setup(config_home: &Path) -> (tempfile::TempDir, Cli) {
    let plugins = plugin_dir_with(&["file"]);
    let cli = Cli::new(plugins.path()).env("XDG_CONFIG_HOME", config_home);
    (plugins, cli)
}

fn config_file(config_home: &Path) -> std::path::PathBuf {
    config_home.join("stowage/config.toml")
}

#[test]
fn a_remote_name_stands_for_its_url_everywhere() {
    let work = tempdir();
    let (_p, cli) = setup(work.path());
    let store = work.path().join("store");
    let url = format!("{}?fsync=each", file_url(&store));
    cli.run(["remote", "add", "disk", &url]).ok();
    let file = config_file(work.path());
    let mode = fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "a new configuration file is private");
    assert!(fs::read_to_string(&file).unwrap().contains("[remote.disk]"));

    let src = work.path().join("obj");
    fs::write(&src, b"remote data").unwrap();
    cli.run(["put", "disk:", src.to_str().unwrap()]).ok();
    assert_same_content(&src, &store.join("obj"));
    // NAME:sub/dir goes below the remote's location, before its parameters.
    cli.run(["put", "disk:host1/etc", src.to_str().unwrap()])
        .ok();
    assert_same_content(&src, &store.join("host1/etc/obj"));
    let out = cli.run(["ls", "disk:host1/etc"]);
    out.ok();
    assert!(out.out.contains("obj"), "{out}");
    let back = work.path().join("back");
    cli.run(["get", "disk:", "obj", "-o", back.to_str().unwrap()])
        .ok();
    assert_same_content(&src, &back);
    cli.run([
        "space",
        "backup",
        "disk:spaces",
        "s1",
        src.to_str().unwrap(),
    ])
    .ok();
    cli.run(["space", "list", "disk:spaces"]).ok();

    let out = cli.run(["remote", "list"]);
    out.ok();
    assert!(out.out.contains("disk") && out.out.contains(&url), "{out}");
    let (out, doc) = cli.run_json(["remote", "show", "disk"]);
    out.ok();
    assert_eq!(doc["data"]["url"], url.as_str());

    // Mistakes are named, not guessed at.
    cli.run(["ls", "nosuch:"]).expect_code(EXIT_INVALID);
    cli.run(["ls", "disk:../elsewhere"])
        .expect_code(EXIT_INVALID);
    cli.run(["remote", "add", "disk", &url])
        .expect_code(EXIT_INVALID);
    cli.run(["remote", "add", "9bad", &url])
        .expect_code(EXIT_INVALID);
    cli.run(["remote", "add", "bad-url", "not a url"])
        .expect_code(EXIT_INVALID);
    cli.run(["remote", "remove", "disk"]).ok();
    cli.run(["remote", "remove", "disk"])
        .expect_code(EXIT_NOT_FOUND);
    cli.run(["ls", "disk:"]).expect_code(EXIT_INVALID);
}

#[test]
fn config_flag_and_environment_choose_the_file() {
    let work = tempdir();
    let (_p, cli) = setup(&work.path().join("unused"));
    let store_a = work.path().join("a");
    let store_b = work.path().join("b");
    fs::create_dir(&store_a).unwrap();
    fs::create_dir(&store_b).unwrap();
    fs::write(store_a.join("in-a"), b"a").unwrap();
    fs::write(store_b.join("in-b"), b"b").unwrap();
    let conf_a = work.path().join("a.toml");
    let conf_b = work.path().join("b.toml");
    for (conf, store) in [(&conf_a, &store_a), (&conf_b, &store_b)] {
        fs::write(conf, format!("[remote.r]\nurl = \"{}\"\n", file_url(store))).unwrap();
    }
    let via_env = cli.clone().env("STOWAGE_CONFIG", &conf_a);
    let out = via_env.run(["ls", "r:"]);
    out.ok();
    assert!(out.out.contains("in-a"), "{out}");
    // --config wins over STOWAGE_CONFIG.
    let out = via_env.run(["--config", conf_b.to_str().unwrap(), "ls", "r:"]);
    out.ok();
    assert!(out.out.contains("in-b"), "{out}");
}

#[test]
fn a_configuration_others_can_write_is_refused() {
    let work = tempdir();
    let (_p, cli) = setup(work.path());
    let mine = work.path().join("mine");
    let theirs = work.path().join("theirs");
    fs::create_dir(&mine).unwrap();
    fs::create_dir(&theirs).unwrap();
    fs::write(theirs.join("planted"), b"x").unwrap();
    cli.run(["remote", "add", "backup", &file_url(&mine)]).ok();
    let file = config_file(work.path());
    // The directories on the way must be reachable for the attacker.
    for dir in [work.path(), &work.path().join("stowage")] {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    }
    fs::set_permissions(&file, fs::Permissions::from_mode(0o666)).unwrap();

    // The attack, for real: another user points root's remote elsewhere.
    let evil = format!("[remote.backup]\nurl = \"{}\"\n", file_url(&theirs));
    let status = Command::new("setpriv")
        .args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "sh",
            "-c",
        ])
        .arg("printf '%s' \"$1\" > \"$2\"")
        .args(["sh", &evil, file.to_str().unwrap()])
        .status()
        .expect("running setpriv");
    assert!(
        status.success(),
        "nobody could not write the world-writable file"
    );
    assert!(fs::read_to_string(&file).unwrap().contains("theirs"));

    let out = cli.run(["ls", "backup:"]);
    out.expect_code(EXIT_PERMISSION);
    assert!(
        !out.out.contains("planted"),
        "the planted remote was used\n{out}"
    );
    assert!(
        out.err.contains(&format!("chmod go-w {}", file.display())),
        "{out}"
    );
    // Full URLs do not need the file and keep working.
    cli.run(["ls", &file_url(&mine)]).ok();

    // A configuration directory others can write is refused as well.
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    fs::set_permissions(
        work.path().join("stowage"),
        fs::Permissions::from_mode(0o777),
    )
    .unwrap();
    let out = cli.run(["ls", "backup:"]);
    out.expect_code(EXIT_PERMISSION);
    assert!(out.err.contains("chmod go-w"), "{out}");
}

#[test]
fn secrets_need_a_private_file_and_are_never_shown() {
    let work = tempdir();
    let (_p, cli) = setup(work.path());
    // A network URL (no plugin needed: remotes are only text until used).
    let secret_url = "sftp://bob:hunter2@backup.example/srv/host1";
    cli.run(["remote", "add", "s", secret_url]).ok();
    let file = config_file(work.path());

    for args in [&["remote", "show", "s"][..], &["remote", "list"][..]] {
        let out = cli.run(args);
        out.ok();
        assert!(!out.all_text().contains("hunter2"), "{out}");
        let (out, _) = cli.run_json(args);
        assert!(!out.all_text().contains("hunter2"), "{out}");
    }

    // Readable by others: refused with the chmod to run, secret unshown.
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    let out = cli.run(["remote", "list"]);
    out.expect_code(EXIT_PERMISSION);
    assert!(
        out.err.contains(&format!("chmod 600 {}", file.display())),
        "{out}"
    );
    assert!(!out.all_text().contains("hunter2"), "{out}");
}
