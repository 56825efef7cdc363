//! Support library for the stowage integration tests.
//!
//! The tests in `tests/tests/` run the real `stowage` binary against real
//! plugin libraries loaded from disk, on real files in temporary
//! directories. This crate gives them:
//!
//! * [`build_plugins`] / [`build_fixtures`]: build the host binary and the
//!   `file` plugin (into `target/debug`) and the fixture plugins (a separate
//!   workspace, `tests/fixtures`, into `target/fixtures/debug`, never on the
//!   host's default plugin path), once per test process. Cargo's own lock on
//!   the target directory serialises concurrent test binaries.
//! * [`plugin_dir_with`]: a temporary plugin directory holding copies of
//!   chosen plugin files, so every test decides exactly what the host sees.
//! * [`file_store`] / [`FileStore`], [`scratch`] / [`Scratch`]: a `file://`
//!   store in a temporary directory, with local files beside it.
//! * [`Cli`]: runs `stowage --plugin-dir DIR ...` and captures the exit
//!   code, stdout and stderr; [`Output::json`] parses `--json` output.
//! * [`files`]: deterministic test data, content comparison, directory
//!   listings.
//! * [`require_tool`]: skip (loudly) or, with `STOWAGE_REQUIRE_TOOLS` set,
//!   fail when an external program is missing.
//! * [`attacker`]: the unprivileged user of the security tests.

#![deny(missing_docs)]

pub mod attacker;
mod build;
mod cli;
pub mod files;
mod plugins;
mod scene;
pub mod servers;

pub use build::{
    build_fixtures, build_plugins, cargo_command, cargo_stdout, checked_output, stowage_bin,
    target_dir, workspace_root,
};
pub use cli::{Cli, Output};
pub use plugins::{copy_plugin_as, loaded_plugin, plugin_dir_with, plugin_file, rejected_reason};
pub use scene::{file_store, file_store_at, file_store_holding, listing, FileStore};

use std::path::{Path, PathBuf};

/// Exit status: success.
pub const EXIT_OK: i32 = 0;
/// Exit status: command-line usage error.
pub const EXIT_USAGE: i32 = 2;
/// Exit status: invalid URL or input (bad name, unknown scheme, `--retries 0`).
pub const EXIT_INVALID: i32 = 23;
/// Exit status: backend error (also panic, unsupported, transient).
pub const EXIT_BACKEND: i32 = 50;
/// Exit status: permission denied.
pub const EXIT_PERMISSION: i32 = 51;
/// Exit status: not found.
pub const EXIT_NOT_FOUND: i32 = 52;
/// Exit status: no space.
pub const EXIT_NO_SPACE: i32 = 53;
/// Exit status: validation failed.
pub const EXIT_VALIDATION: i32 = 56;

/// A fresh temporary directory (removed on drop).
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("stowage-test-")
        .tempdir()
        .expect("creating a temporary directory")
}

/// A fresh temporary directory holding one file, `name`, with `content`:
/// the usual local source of a put. Returns the directory (removed on
/// drop) and the file's path.
pub fn work_with_file(name: &str, content: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let work = tempdir();
    let path = work.path().join(name);
    std::fs::write(&path, content).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    (work, path)
}

/// The usual scene of a put: a `file://` store that does not exist yet
/// and a local source file, both inside one temporary directory.
pub struct Scratch {
    /// The temporary directory (removed on drop).
    pub work: tempfile::TempDir,
    /// `<work>/store`, not created.
    pub store: PathBuf,
    /// `file://<work>/store`.
    pub url: String,
    /// `<work>/src`.
    pub src: PathBuf,
}

/// A [`Scratch`] whose source file holds `content`.
pub fn scratch(content: &[u8]) -> Scratch {
    let (work, src) = work_with_file("src", content);
    let store = work.path().join("store");
    let url = file_url(&store);
    Scratch {
        work,
        store,
        url,
        src,
    }
}

/// A [`Scratch`] whose source (holding `content`) `cli` has put into the
/// store; panics unless the put succeeded.
pub fn put_fresh(cli: &Cli, content: &[u8]) -> Scratch {
    let scene = scratch(content);
    cli.run(["put", &scene.url, scene.src.to_str().expect("UTF-8 path")])
        .ok();
    scene
}

/// A [`Cli`] seeing exactly the plugins `names` (see [`plugin_file`]),
/// with the plugin directory, which must outlive the runs.
pub fn cli_with(names: &[&str]) -> (tempfile::TempDir, Cli) {
    let plugins = plugin_dir_with(names);
    let cli = Cli::new(plugins.path());
    (plugins, cli)
}

/// The host library's registry of exactly the plugins in `dir`, loaded
/// with the default options (the way a tool embedding the library loads
/// them).
pub fn registry_of(dir: &Path) -> stowage::Registry {
    stowage::Registry::load_with(
        &stowage::SearchPath::new(vec![dir.to_path_buf()]),
        &stowage::plugin::LoadOptions::default(),
    )
}

/// `file://` URL of an absolute directory (no percent-encoding needed for
/// the temp paths the tests use).
pub fn file_url(dir: &Path) -> String {
    assert!(dir.is_absolute(), "{} is not absolute", dir.display());
    format!("file://{}", dir.display())
}

/// Whether program `name` is on `PATH`.
///
/// When it is missing this prints a loud `SKIPPED: <name> not installed`
/// and returns false, so the caller can return early; when the environment
/// variable `STOWAGE_REQUIRE_TOOLS` is set it panics instead (CI sets it, so
/// nothing is skipped there silently).
pub fn require_tool(name: &str) -> bool {
    if find_in_path(name).is_some() {
        return true;
    }
    if std::env::var_os("STOWAGE_REQUIRE_TOOLS").is_some() {
        panic!("{name} not installed, and STOWAGE_REQUIRE_TOOLS is set");
    }
    eprintln!("\n*** SKIPPED: {name} not installed ***\n");
    false
}

/// The first executable `name` in `PATH`.
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| {
            p.metadata()
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// Every error object in a `--json` document (see docs/cli.md for its
/// shape), per-item ones first: the `"error"` of each failed item, then
/// the document's `"error"` (a whole-command failure, or a failed close).
pub fn json_errors(doc: &serde_json::Value) -> Vec<&serde_json::Value> {
    let items = doc.get("items").and_then(|r| r.as_array());
    let mut errors: Vec<&serde_json::Value> = items
        .into_iter()
        .flatten()
        .filter_map(|item| item.get("error"))
        .filter(|e| !e.is_null())
        .collect();
    errors.extend(doc.get("error").filter(|e| !e.is_null()));
    errors
}

/// The first error of [`json_errors`]: the first failed entry's, else the
/// top-level one.
pub fn find_json_error(doc: &serde_json::Value) -> Option<&serde_json::Value> {
    json_errors(doc).into_iter().next()
}

/// `[(name, size)]` from `ls --json` output, in the order printed.
///
/// # Panics
/// When the document's items are not `{"name", "size"}` objects.
pub fn ls_entries(doc: &serde_json::Value) -> Vec<(String, u64)> {
    doc["items"]
        .as_array()
        .unwrap_or_else(|| panic!("ls --json has no items: {doc}"))
        .iter()
        .map(|e| {
            (
                e["name"]
                    .as_str()
                    .unwrap_or_else(|| panic!("no name in {e}"))
                    .to_string(),
                e["size"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("no size in {e}")),
            )
        })
        .collect()
}
