//! The plugin search path, GStreamer's way: `STOWAGE_PLUGIN_PATH` is
//! searched before the defaults (and wins conflicts), not instead of them;
//! `STOWAGE_PLUGIN_SYSTEM_PATH` replaces the defaults; the per-user
//! directory `$XDG_DATA_HOME/stowage/plugins` is a default, trust-checked
//! like the others; and an unknown scheme's error lists every directory
//! searched and what became of it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::Value;
use stowage_tests::{
    copy_plugin_as, loaded_plugin, plugin_dir_with, rejected_reason, tempdir, Cli, EXIT_INVALID,
};

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// A `Cli` on the default search path (no `--plugin-dir`) with these
/// environment variables.
fn cli_env(vars: &[(&str, &Path)]) -> Cli {
    vars.iter()
        .fold(Cli::with_dirs(&[]), |cli, (k, v)| cli.env(k, v))
}

/// `stowage plugins --json`, which must succeed.
fn plugins(cli: &Cli) -> Value {
    let (out, doc) = cli.run_json(["plugins"]);
    out.ok();
    doc
}

fn file_of(doc: &Value, name: &str) -> PathBuf {
    let p = loaded_plugin(doc, name).unwrap_or_else(|| panic!("{name} not loaded: {doc:#}"));
    PathBuf::from(p["file"].as_str().expect("plugin file"))
}

#[test]
fn plugin_path_adds_in_front_of_the_defaults() {
    let extra = plugin_dir_with(&["memory"]);
    let doc = plugins(&cli_env(&[("STOWAGE_PLUGIN_PATH", extra.path())]));
    assert!(
        file_of(&doc, "fixture-memory").starts_with(extra.path()),
        "{doc:#}"
    );
    // The defaults are still searched: the file plugin beside the binary.
    assert!(!file_of(&doc, "file").starts_with(extra.path()), "{doc:#}");
}

#[test]
fn plugin_path_wins_a_conflict_with_the_defaults() {
    let extra = plugin_dir_with(&["file"]);
    let doc = plugins(&cli_env(&[("STOWAGE_PLUGIN_PATH", extra.path())]));
    assert!(file_of(&doc, "file").starts_with(extra.path()), "{doc:#}");
    let conflicts = doc["data"]["conflicts"].as_array().expect("conflicts");
    assert!(
        conflicts.iter().any(|c| c["handler"] == "file"
            && c["winner"]
                .as_str()
                .is_some_and(|w| w.starts_with(extra.path().to_str().unwrap()))),
        "{doc:#}"
    );
}

#[test]
fn system_path_replaces_the_defaults() {
    let extra = plugin_dir_with(&["memory"]);
    let system = tempdir();
    let cli = cli_env(&[
        ("STOWAGE_PLUGIN_PATH", extra.path()),
        ("STOWAGE_PLUGIN_SYSTEM_PATH", system.path()),
    ]);
    let doc = plugins(&cli);
    assert!(loaded_plugin(&doc, "fixture-memory").is_some(), "{doc:#}");
    assert!(
        loaded_plugin(&doc, "file").is_none(),
        "defaults searched: {doc:#}"
    );

    // The error for an unknown scheme says where it looked, and why each
    // directory gave nothing for it.
    let out = cli.run(["ls", "file:///tmp"]);
    out.expect_code(EXIT_INVALID);
    let shown = |p: &Path| p.display().to_string();
    for needle in [
        "directories searched",
        &format!(
            "{} (STOWAGE_PLUGIN_PATH): loaded fixture-memory",
            shown(extra.path())
        ),
        &format!(
            "{} (STOWAGE_PLUGIN_SYSTEM_PATH): empty",
            shown(system.path())
        ),
    ] {
        assert!(out.err.contains(needle), "lacks {needle:?}\n{out}");
    }
}

#[test]
fn plugin_dir_still_replaces_everything() {
    let extra = plugin_dir_with(&["memory"]);
    let only = plugin_dir_with(&["file"]);
    let cli = Cli::new(only.path()).env("STOWAGE_PLUGIN_PATH", extra.path());
    let doc = plugins(&cli);
    assert!(loaded_plugin(&doc, "fixture-memory").is_none(), "{doc:#}");
    assert!(file_of(&doc, "file").starts_with(only.path()), "{doc:#}");
}

/// `<data>/stowage/plugins` (mode 0700 all the way) holding the memory
/// fixture.
fn user_plugins(data: &Path) -> PathBuf {
    let dir = data.join("stowage").join("plugins");
    fs::create_dir_all(&dir).unwrap();
    chmod(data, 0o700);
    chmod(&data.join("stowage"), 0o700);
    chmod(&dir, 0o700);
    copy_plugin_as(&dir, "memory", "libfixture_memory.so");
    dir
}

#[test]
fn the_per_user_directory_is_a_default() {
    let work = tempdir();
    let data = work.path().join("data");
    let dir = user_plugins(&data);
    let cli = cli_env(&[("XDG_DATA_HOME", &data)]);
    let doc = plugins(&cli);
    assert!(file_of(&doc, "fixture-memory").starts_with(&dir), "{doc:#}");
    assert!(loaded_plugin(&doc, "file").is_some(), "{doc:#}");

    // Without XDG_DATA_HOME, it is under HOME.
    let home = work.path().join("home");
    fs::create_dir(&home).unwrap();
    chmod(&home, 0o700);
    user_plugins(&home.join(".local").join("share"));
    let cli = Cli::with_dirs(&[])
        .env("XDG_DATA_HOME", "")
        .env("HOME", &home);
    let doc = plugins(&cli);
    assert!(
        file_of(&doc, "fixture-memory").starts_with(&home),
        "{doc:#}"
    );
}

#[test]
fn an_untrusted_per_user_directory_is_skipped_and_said_so() {
    let work = tempdir();
    let data = work.path().join("data");
    let dir = user_plugins(&data);
    chmod(&dir, 0o777);
    let cli = cli_env(&[("XDG_DATA_HOME", &data)]);
    let doc = plugins(&cli);
    assert!(loaded_plugin(&doc, "fixture-memory").is_none(), "{doc:#}");
    let reason = rejected_reason(&doc, "libfixture_memory.so").expect("rejected");
    assert!(reason.contains("writable by everyone"), "{reason}");

    let out = cli.run(["ls", "memory://x"]);
    out.expect_code(EXIT_INVALID);
    let expected = format!(
        "{} (per-user default): skipped libfixture_memory.so (not trusted: the directory {}",
        dir.display(),
        dir.display()
    );
    assert!(out.err.contains(&expected), "lacks {expected:?}\n{out}");
}

#[test]
fn root_does_not_load_plugins_from_another_users_home() {
    if !rustix_is_root() {
        eprintln!("\n*** SKIPPED: needs root to give a home to another user ***\n");
        return;
    }
    // A home owned by `nobody`, as after `sudo` kept a user's HOME: the
    // ancestor check refuses the per-user directory.
    let work = tempdir();
    chmod(work.path(), 0o755);
    let home = work.path().join("home");
    fs::create_dir(&home).unwrap();
    user_plugins(&home.join(".local").join("share"));
    let status = std::process::Command::new("chown")
        .args(["-R", "nobody:nogroup"])
        .arg(&home)
        .status()
        .expect("chown");
    assert!(status.success());
    let cli = Cli::with_dirs(&[])
        .env("XDG_DATA_HOME", "")
        .env("HOME", &home);
    let doc = plugins(&cli);
    assert!(loaded_plugin(&doc, "fixture-memory").is_none(), "{doc:#}");
    let reason = rejected_reason(&doc, "libfixture_memory.so").expect("rejected");
    assert!(
        reason.contains("neither root nor the current user"),
        "{reason}"
    );
}

#[test]
fn missing_directories_are_named_as_missing() {
    let work = tempdir();
    let gone = work.path().join("gone");
    let cli = cli_env(&[
        ("STOWAGE_PLUGIN_PATH", &gone),
        ("STOWAGE_PLUGIN_SYSTEM_PATH", work.path()),
    ]);
    let out = cli.run(["ls", "file:///tmp"]);
    out.expect_code(EXIT_INVALID);
    let expected = format!("{} (STOWAGE_PLUGIN_PATH): missing", gone.display());
    assert!(out.err.contains(&expected), "lacks {expected:?}\n{out}");
    cli.run_json(["ls", "file:///tmp"])
        .0
        .expect_json_error(EXIT_INVALID, &expected);
}

fn rustix_is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}
