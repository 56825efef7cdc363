//! Temporary plugin directories with exactly the plugins a test wants.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::build::{build_fixtures, build_plugins};

/// The built plugin file for `name`.
///
/// `name` is either a file name (`libstowage_file.so`,
/// `libfixture_memory.so`), looked up in `target/debug` and then in
/// `target/fixtures/debug`, or a short name: `file`, `xorriso` and
/// `local-peer` are the real plugins, anything else a fixture (`memory`, `wrap`, `panic`, `flaky`,
/// `no-root` → `libfixture_<name>.so`).
pub fn plugin_file(name: &str) -> PathBuf {
    let path = if name.ends_with(".so") {
        let real = build_plugins().join(name);
        if real.is_file() {
            real
        } else {
            build_fixtures().join(name)
        }
    } else if let Some((_, file)) = crate::build::REAL_PLUGINS.iter().find(|(n, _)| *n == name) {
        build_plugins().join(file)
    } else {
        build_fixtures().join(format!("libfixture_{}.so", name.replace('-', "_")))
    };
    assert!(
        path.is_file(),
        "plugin {name}: {} does not exist",
        path.display()
    );
    path
}

/// A temporary directory (mode 0700) holding copies of the plugins `names`
/// (see [`plugin_file`]) under their own file names.
pub fn plugin_dir_with(names: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("stowage-plugins-")
        .tempdir()
        .expect("creating a plugin directory");
    for name in names {
        let src = plugin_file(name);
        let dst = dir.path().join(src.file_name().expect("plugin file name"));
        copy_private(&src, &dst);
    }
    dir
}

/// Copies a plugin file with mode 0755 whatever the umask: the host
/// refuses plugin files writable by group or others.
fn copy_private(src: &Path, dst: &Path) {
    fs::copy(src, dst)
        .unwrap_or_else(|e| panic!("copying {} to {}: {e}", src.display(), dst.display()));
    fs::set_permissions(dst, fs::Permissions::from_mode(0o755))
        .expect("chmod 755 on a plugin copy");
}

/// Copies plugin `name` (see [`plugin_file`]) into `dir` as `file_name`.
pub fn copy_plugin_as(dir: &Path, name: &str, file_name: &str) -> PathBuf {
    let dst = dir.join(file_name);
    copy_private(&plugin_file(name), &dst);
    dst
}

/// The entry of `stowage plugins --json`'s `data.plugins` array whose `name` is
/// `name`, if that plugin was loaded.
pub fn loaded_plugin<'a>(doc: &'a Value, name: &str) -> Option<&'a Value> {
    doc["data"]["plugins"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == name)
}

/// The reason `stowage plugins --json` gives for rejecting the file named
/// `file_name` (the last component of its path), if it was rejected.
pub fn rejected_reason<'a>(doc: &'a Value, file_name: &str) -> Option<&'a str> {
    doc["data"]["rejected"].as_array()?.iter().find(|r| {
        r["file"]
            .as_str()
            .is_some_and(|f| Path::new(f).file_name() == Some(file_name.as_ref()))
    })?["reason"]
        .as_str()
}
