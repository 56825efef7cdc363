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
//! * [`Cli`]: runs `stowage --plugin-dir DIR ...` and captures the exit
//!   code, stdout and stderr; [`Output::json`] parses `--json` output.
//! * [`files`]: deterministic test data, content comparison, directory
//!   listings.
//! * [`require_tool`]: skip (loudly) or, with `STOWAGE_REQUIRE_TOOLS` set,
//!   fail when an external program is missing.

mod build;
mod cli;
pub mod files;
mod plugins;
pub mod servers;

pub use build::{build_fixtures, build_plugins, stowage_bin, target_dir, workspace_root};
pub use cli::{Cli, Output};
pub use plugins::{copy_plugin_as, loaded_plugin, plugin_dir_with, plugin_file, rejected_reason};

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

/// Every `"error"` object in a `--json` document, per-entry ones first:
/// the `"error"` of each entry of the result array (a bare array, or the
/// `"results"` array printed next to a top-level error), then the top-level
/// `{"error": {...}}` (a whole-command failure, or a failed close).
pub fn json_errors(doc: &serde_json::Value) -> Vec<&serde_json::Value> {
    let entries = doc
        .as_array()
        .or_else(|| doc.get("results").and_then(|r| r.as_array()));
    let mut errors: Vec<&serde_json::Value> = entries
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.get("error"))
        .collect();
    errors.extend(doc.get("error"));
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
/// When the document is not an array of `{"name", "size"}` objects.
pub fn ls_entries(doc: &serde_json::Value) -> Vec<(String, u64)> {
    doc.as_array()
        .unwrap_or_else(|| panic!("ls --json is not an array: {doc}"))
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
