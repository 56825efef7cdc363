//! `cargo test` runs stowage's conformance checks, the ones `stowage test`
//! runs, against the plugin this package builds.
//!
//! `verify+` is a prefix, so it needs a scheme underneath: the test loads
//! the plugins of the directories in `STOWAGE_PLUGIN_PATH` (for example an
//! installed stowage's `lib/stowage/plugins`) and tests
//! `verify+file:///<temporary directory>`. Without a `file` plugin there it
//! says SKIPPED loudly and passes. A scheme plugin needs none of this: load
//! only `this_plugin()` and test a URL of your scheme.

use std::path::{Path, PathBuf};
use std::process::Command;

use stowage_conformance::{self as conformance, LoadOptions, Options, Outcome, Registry, SearchPath};

/// Builds the library of this package and returns its path. `cargo test`
/// does not build a `cdylib` for integration tests (they cannot link it),
/// so without this the test would load a stale file, or none. The test
/// binary runs from `<target>/<profile dir>/deps/`; the library is built
/// with the same profile into `<target>/<profile dir>/`.
fn this_plugin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("<target>/<profile dir>");
    let target_dir = profile_dir.parent().expect("<target>");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev",
        Some(other) => other,
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--lib", "--profile", profile, "--manifest-path"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        .status()
        .expect("running cargo build");
    assert!(status.success(), "cargo build of the plugin failed");
    let file = format!("lib{}.so", env!("CARGO_PKG_NAME").replace('-', "_"));
    profile_dir.join(file)
}

/// Our fresh build first, then the `.so` files of `STOWAGE_PLUGIN_PATH`
/// (minus any installed copy of ours).
fn plugin_files() -> Vec<PathBuf> {
    let ours = this_plugin();
    let mut files = vec![ours.clone()];
    let Some(path) = std::env::var_os("STOWAGE_PLUGIN_PATH") else {
        return files;
    };
    for dir in SearchPath::from_env_value(&path).dirs() {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|x| x == "so") && p.file_name() != ours.file_name()
            })
            .collect();
        found.sort();
        files.extend(found);
    }
    files
}

#[test]
fn passes_the_conformance_checks() {
    // Our own build output may be group-writable under some umasks; the
    // trust check is meant for installed plugins.
    let options = LoadOptions {
        allow_insecure: true,
        ..LoadOptions::default()
    };
    let registry = Registry::load_files(&plugin_files(), Vec::new(), &options);
    for rejected in registry.rejected() {
        eprintln!(
            "not loaded: {}: {}",
            rejected.file.display(),
            rejected.reason
        );
    }
    let plugins = registry.plugins();
    let verify = plugins
        .iter()
        .any(|p| p.prefixes.iter().any(|h| h.name == "verify"));
    assert!(verify, "the verify plugin did not load");
    if !plugins
        .iter()
        .any(|p| p.schemes.iter().any(|h| h.name == "file"))
    {
        eprintln!(
            "\n*** SKIPPED: no `file` plugin; set STOWAGE_PLUGIN_PATH to a directory holding libstowage_file.so ***\n"
        );
        return;
    }

    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("verify+file://{}", dir.path().display());
    // `quick` skips the 64 MiB round trip; `only: Some("put.,get.".into())`
    // would run a subset, with the ids `stowage test --list` shows.
    let options = Options {
        quick: true,
        ..Options::default()
    };
    let report = conformance::run(&registry, &url, &options).expect("the run starts");
    for result in &report {
        if result.outcome != Outcome::Pass {
            eprintln!("{result}");
        }
    }
    assert!(report.is_success(), "{}", report.summary());
}
