//! The conformance kit against every real plugin: through `stowage test`
//! (what CI and operators run) and through `stowage_conformance` from a
//! test, as a backend author would.

use stowage::plugin::LoadOptions;
use stowage::{Registry, SearchPath};
use stowage_conformance::{self as conformance, Options, Outcome};
use stowage_tests::{plugin_dir_with, require_tool, tempdir, Cli};

/// Runs `stowage test URL` twice (hygiene: the second run must pass too)
/// and checks the closing line.
fn passes_twice(cli: &Cli, url: &str) {
    for round in 1..=2 {
        let out = cli.run(["test", url]);
        out.ok();
        let last = out.out.lines().last().unwrap_or_default().to_string();
        let (passed, rest) = last.split_once(" passed, ").expect("closing line");
        assert!(passed.parse::<u32>().unwrap() > 30, "round {round}: {last}");
        assert!(
            rest.starts_with("0 failed, "),
            "round {round}: {last}\n{out}"
        );
    }
}

#[test]
fn file_plugin_conforms() {
    let plugins = plugin_dir_with(&["file"]);
    let work = tempdir();
    let dir = work.path().join("store");
    passes_twice(
        &Cli::new(plugins.path()),
        &format!("file://{}", dir.display()),
    );
    // Nothing of the runs is left behind.
    let left: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_stacked_prefix_chain_conforms() {
    let plugins = plugin_dir_with(&["file", "pass"]);
    let work = tempdir();
    let url = format!("pass+pass+file://{}", work.path().join("store").display());
    passes_twice(&Cli::new(plugins.path()), &url);
}

#[test]
fn local_peer_plugin_conforms() {
    let plugins = plugin_dir_with(&["local-peer"]);
    let work = tempdir();
    let url = format!(
        "local-peer://host1{}",
        work.path().join("collect").display()
    );
    passes_twice(&Cli::new(plugins.path()), &url);
}

#[test]
fn xorriso_plugin_conforms_at_the_root_and_in_a_directory() {
    if !require_tool("xorriso") {
        return;
    }
    let plugins = plugin_dir_with(&["xorriso"]);
    let cli = Cli::new(plugins.path());
    let work = tempdir();
    let image = work.path().join("img.iso");
    passes_twice(&cli, &format!("xorriso://{}", image.display()));
    passes_twice(&cli, &format!("xorriso://{}:/backups", image.display()));
}

#[test]
fn json_and_only() {
    let plugins = plugin_dir_with(&["file"]);
    let work = tempdir();
    let url = format!("file://{}", work.path().display());
    let (out, doc) = Cli::new(plugins.path()).run_json(["test", &url, "--only", "names.*"]);
    out.ok();
    let checks = doc["items"].as_array().expect("checks as items");
    assert!(!checks.is_empty());
    for c in checks {
        let id = c["id"].as_str().unwrap();
        // hygiene.cleanup always runs; everything else matches the pattern.
        assert!(id.starts_with("names.") || id == "hygiene.cleanup", "{id}");
        assert_ne!(c["outcome"], "fail", "{c}");
    }
}

/// What a backend author puts in their own `cargo test`.
#[test]
fn the_library_runs_the_same_checks() {
    let plugins = plugin_dir_with(&["file"]);
    let registry = Registry::load_with(
        &SearchPath::new(vec![plugins.path().to_path_buf()]),
        &LoadOptions::default(),
    );
    let work = tempdir();
    let url = format!("file://{}", work.path().display());
    let options = Options {
        quick: true,
        ..Options::default()
    };
    let report = conformance::run(&registry, &url, &options).unwrap();
    for r in &report {
        assert_ne!(r.outcome, Outcome::Fail, "{r}");
    }
    assert!(report.is_success(), "{}", report.summary());
    assert!(report.passed() > 30);
}

/// The outcome of `list.empty-location` for `url`, run alone.
fn empty_location_outcome(cli: &Cli, url: &str) -> String {
    let (out, doc) = cli.run_json(["test", url, "--only", "list.empty-location"]);
    out.ok();
    let checks = doc["items"].as_array().expect("checks as items");
    let check = checks
        .iter()
        .find(|c| c["id"] == "list.empty-location")
        .unwrap_or_else(|| panic!("no list.empty-location in {doc}"));
    check["outcome"].as_str().expect("outcome").to_string()
}

/// The kit knows no plugin by name: the absent location is derived on the
/// URL text for any scheme (here `memory`, a fixture, and a directory
/// inside an ISO image), and a URL form without sub-locations (a bare
/// image) makes the check skip, not fail.
#[test]
fn the_empty_location_is_derived_whatever_the_scheme() {
    let plugins = plugin_dir_with(&["file", "memory", "xorriso"]);
    let cli = Cli::new(plugins.path());
    let work = tempdir();
    let file_url = format!("file://{}", work.path().join("store").display());
    assert_eq!(empty_location_outcome(&cli, &file_url), "pass");
    assert_eq!(empty_location_outcome(&cli, "memory://derived"), "pass");
    if !require_tool("xorriso") {
        return;
    }
    let image = work.path().join("img.iso");
    let in_image = format!("xorriso://{}:/backups", image.display());
    assert_eq!(empty_location_outcome(&cli, &in_image), "pass");
    let bare = format!("xorriso://{}", image.display());
    assert_eq!(empty_location_outcome(&cli, &bare), "skip");
}
