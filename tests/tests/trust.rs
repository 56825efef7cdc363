//! StrictModes for plugin files: a plugin file, or the directory holding
//! it, that others can write (or that another user owns) is code others can
//! run as us. Such files are refused with a reason naming the path and the
//! fix; `--allow-insecure-plugins` loads them for that one run. The other
//! plugins keep working either way.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use serde_json::Value;
use stowage_tests::files::dir_names;
use stowage_tests::{
    copy_plugin_as, file_url, loaded_plugin, plugin_dir_with, rejected_reason, tempdir,
    work_with_file, Cli, EXIT_INVALID,
};

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

/// A directory holding only the memory fixture: the plugin that must keep
/// working while another one is refused.
fn memory_dir() -> tempfile::TempDir {
    plugin_dir_with(&["memory"])
}

/// Checks that `cli` refuses `plugin` with a reason containing every
/// fragment, in JSON, in text and in the unknown-scheme error, while the
/// memory plugin works in the same run; then that `--allow-insecure-plugins`
/// loads it for one run only.
fn assert_refused_then_allowed(cli: &Cli, plugin: &Path, fragments: &[&str]) {
    let name = plugin.file_name().unwrap().to_str().unwrap();
    let (work, src) = work_with_file("obj", b"payload");
    let store = work.path().join("store");

    let (out, doc) = cli.run_json(["plugins"]);
    out.ok();
    let reason = rejected_reason(&doc, name)
        .unwrap_or_else(|| panic!("{name} not rejected\n{out}"))
        .to_string();
    eprintln!("rejected {name}: {reason}");
    for fragment in fragments {
        assert!(reason.contains(fragment), "{reason:?} lacks {fragment:?}");
    }
    assert!(loaded_plugin(&doc, "file").is_none(), "{out}");
    assert!(loaded_plugin(&doc, "fixture-memory").is_some(), "{out}");

    let out = cli.run(["plugins"]);
    out.ok();
    assert!(
        out.out
            .lines()
            .any(|l| l.starts_with("rejected: ") && l.ends_with(&reason)),
        "{out}"
    );

    // The run that refused it still does its work with the others...
    let memory = format!("memory://{}", work.path().display());
    cli.run(["put", &memory, src.to_str().unwrap()]).ok();
    // ...and a URL for the refused plugin says why it is unknown.
    let out = cli.run(["ls", &file_url(&store)]);
    out.expect_code(EXIT_INVALID);
    assert!(out.err.contains(&reason), "{out}");

    // Allowed for one run: it loads and works.
    let allowed = cli.clone().global(["--allow-insecure-plugins"]);
    let (out, doc) = allowed.run_json(["plugins"]);
    out.ok();
    assert!(loaded_plugin(&doc, "file").is_some(), "{out}");
    assert_eq!(doc["data"]["rejected"], Value::Array(vec![]), "{out}");
    allowed
        .run(["put", &file_url(&store), src.to_str().unwrap()])
        .ok();
    assert_eq!(dir_names(&store), vec!["obj"]);

    // The next run without the flag refuses it again.
    let (out, doc) = cli.run_json(["plugins"]);
    out.ok();
    assert_eq!(rejected_reason(&doc, name), Some(reason.as_str()), "{out}");
}

/// A fresh temporary directory with mode 0755 (whatever the umask).
fn dir_0755() -> TempDir {
    let dir = tempdir();
    chmod(dir.path(), 0o755);
    dir
}

fn canonical(p: &Path) -> String {
    fs::canonicalize(p).unwrap().display().to_string()
}

#[test]
fn a_world_writable_plugin_file_is_refused_unless_allowed() {
    let (_good, _dir, plugin, cli) = file_plugin_in_dir(|_, plugin| chmod(plugin, 0o666));
    let path = canonical(&plugin);
    assert_refused_then_allowed(
        &cli,
        &plugin,
        &[
            &format!("the file {path} is writable by everyone (mode 0666)"),
            &format!("fix it with `chmod go-w {path}`"),
            "--allow-insecure-plugins",
        ],
    );
}

/// The file plugin in a fresh 0755 directory, after `change(dir, plugin)`,
/// and the memory fixture in another: the two directories (to keep), the
/// plugin file, and a CLI seeing both directories.
fn file_plugin_in_dir(change: impl FnOnce(&Path, &Path)) -> (TempDir, TempDir, PathBuf, Cli) {
    let good = memory_dir();
    let dir = dir_0755();
    let plugin = copy_plugin_as(dir.path(), "file", "libstowage_file.so");
    change(dir.path(), &plugin);
    let cli = Cli::with_dirs(&[good.path(), dir.path()]);
    (good, dir, plugin, cli)
}

#[test]
fn a_group_writable_plugin_directory_is_refused_unless_allowed() {
    let (_good, dir, plugin, cli) = file_plugin_in_dir(|dir, _| chmod(dir, 0o775));
    let path = canonical(dir.path());
    assert_refused_then_allowed(
        &cli,
        &plugin,
        &[
            &format!("the directory {path} is writable by its group (mode 0775)"),
            &format!("fix it with `chmod go-w {path}`"),
        ],
    );
}

#[test]
fn a_sticky_world_writable_directory_like_tmp_is_refused() {
    let (_good, dir, plugin, cli) = file_plugin_in_dir(|dir, _| chmod(dir, 0o1777));
    let path = canonical(dir.path());
    assert_refused_then_allowed(
        &cli,
        &plugin,
        &[&format!(
            "the directory {path} is writable by everyone (mode 1777)"
        )],
    );
}

#[test]
fn a_symlink_is_judged_by_the_file_it_points_to() {
    let good = memory_dir();
    // The link sits in a safe directory; its target is world-writable.
    let elsewhere = dir_0755();
    let target = copy_plugin_as(elsewhere.path(), "file", "real-file-plugin.so");
    chmod(&target, 0o666);
    let links = dir_0755();
    let link = links.path().join("libstowage_file.so");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let cli = Cli::with_dirs(&[good.path(), links.path()]);
    let path = canonical(&target);
    assert_refused_then_allowed(
        &cli,
        &link,
        &[&format!("the file {path} is writable by everyone")],
    );

    // Made safe, the same link loads.
    chmod(&target, 0o755);
    let (out, doc) = cli.run_json(["plugins"]);
    out.ok();
    assert!(loaded_plugin(&doc, "file").is_some(), "{out}");
}

/// Whether this process runs as root (a new file is owned by its creator).
fn running_as_root() -> bool {
    let probe = tempdir();
    let f = probe.path().join("uid");
    fs::write(&f, b"").unwrap();
    fs::metadata(&f).unwrap().uid() == 0
}

/// Like [`stowage_tests::require_tool`], for root: skips loudly, or fails
/// when `STOWAGE_REQUIRE_TOOLS` is set.
fn require_root(what: &str) -> bool {
    if running_as_root() {
        return true;
    }
    if std::env::var_os("STOWAGE_REQUIRE_TOOLS").is_some() {
        panic!("{what} needs root, and STOWAGE_REQUIRE_TOOLS is set");
    }
    eprintln!("\n*** SKIPPED: {what} needs root (chown to another user) ***\n");
    false
}

/// uid/gid 65534: `nobody` on Debian and most distributions.
const NOBODY: u32 = 65534;

#[test]
fn a_plugin_owned_by_another_user_is_refused_unless_allowed() {
    if !require_root("a_plugin_owned_by_another_user_is_refused_unless_allowed") {
        return;
    }
    let (good, dir, plugin, cli) = file_plugin_in_dir(|_, plugin| {
        std::os::unix::fs::chown(plugin, Some(NOBODY), Some(NOBODY)).unwrap()
    });
    let path = canonical(&plugin);
    assert_refused_then_allowed(
        &cli,
        &plugin,
        &[
            &format!("the file {path} is owned by uid {NOBODY}, neither root nor the current user"),
            "fix it with `chown`",
        ],
    );

    // A root-owned file in a directory another user owns is refused too:
    // that user could replace it.
    std::os::unix::fs::chown(&plugin, Some(0), Some(0)).unwrap();
    std::os::unix::fs::chown(dir.path(), Some(NOBODY), Some(NOBODY)).unwrap();
    let path = canonical(dir.path());
    let cli = Cli::with_dirs(&[good.path(), dir.path()]);
    assert_refused_then_allowed(
        &cli,
        &plugin,
        &[&format!(
            "the directory {path} is owned by uid {NOBODY}, neither root nor the current user"
        )],
    );
    // Give it back so the temporary directory can be removed as usual.
    std::os::unix::fs::chown(dir.path(), Some(0), Some(0)).unwrap();
}

#[test]

fn a_symlink_in_a_world_writable_directory_is_refused() {
    let safe = dir_0755();
    let target = copy_plugin_as(safe.path(), "file", "real-file-plugin.so");
    let open = tempdir();
    chmod(open.path(), 0o777);
    let link = open.path().join("libstowage_file.so");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let (out, doc) = Cli::new(open.path()).run_json(["plugins"]);
    out.ok();
    let reason = rejected_reason(&doc, "libstowage_file.so")
        .unwrap_or_else(|| panic!("the link in a 0777 directory was loaded\n{out}"));
    assert!(reason.contains(&canonical(open.path())), "{out}");
}
