//! `stowage test` gives the same results for every shipped backend whether
//! its plugin runs isolated (`--isolate=always`, confined) or in process
//! (`--isolate=never`), and prefix plugins pass with their inner backend on
//! either side of the process boundary.

mod isolate_support;

use isolate_support::{options, registry};
use stowage_conformance::{self as conformance, Options, Outcome};
use stowage_isolate::Policy;
use stowage_tests::{plugin_dir_with, require_tool, tempdir, Cli};

/// The report lines of `stowage test URL` under `--isolate=WHEN`.
fn report(plugins: &std::path::Path, when: &str, url: &str) -> String {
    let out = Cli::new(plugins)
        .global([format!("--isolate={when}")])
        .run(["test", url]);
    out.ok();
    let last = out.out.lines().last().unwrap_or_default().to_string();
    assert!(last.contains(" passed, 0 failed"), "{when}: {last}\n{out}");
    out.out
}

fn same_both_ways(plugin: &str, url: &str) {
    let plugins = plugin_dir_with(&[plugin]);
    let isolated = report(plugins.path(), "always", url);
    let in_process = report(plugins.path(), "never", url);
    assert_eq!(isolated, in_process, "{url}");
}

#[test]
fn file_conforms_isolated_as_in_process() {
    let work = tempdir();
    same_both_ways(
        "file",
        &format!("file://{}", work.path().join("s").display()),
    );
}

#[test]
fn local_peer_conforms_isolated_as_in_process() {
    let work = tempdir();
    same_both_ways(
        "local-peer",
        &format!(
            "local-peer://host1{}",
            work.path().join("collect").display()
        ),
    );
}

#[test]
fn xorriso_conforms_isolated_as_in_process() {
    if !require_tool("xorriso") {
        return;
    }
    let work = tempdir();
    same_both_ways(
        "xorriso",
        &format!(
            "xorriso://{}:/backups",
            work.path().join("img.iso").display()
        ),
    );
}

/// `pass+file://` with one plugin in a "system" directory (in process under
/// `untrusted`) and the other isolated.
fn prefix_passes(prefix_isolated: bool) {
    let prefix = plugin_dir_with(&["pass"]);
    let file = plugin_dir_with(&["file"]);
    let system = if prefix_isolated {
        file.path()
    } else {
        prefix.path()
    };
    let registry = registry(
        &[prefix.path(), file.path()],
        options(Policy::Untrusted, &[system]),
    );
    let isolated: Vec<_> = registry
        .plugins()
        .iter()
        .filter(|p| registry.mode(&p.file) == Some("isolated"))
        .map(|p| p.name.clone())
        .collect();
    let expected = if prefix_isolated {
        "fixture-pass"
    } else {
        "file"
    };
    assert_eq!(isolated, [expected]);
    let work = tempdir();
    let url = format!("pass+file://{}", work.path().join("s").display());
    let report = conformance::run(&registry, &url, &Options::default()).unwrap();
    for r in &report {
        assert_ne!(r.outcome, Outcome::Fail, "{r}");
    }
    assert!(report.passed() > 30, "{}", report.summary());
}

#[test]
fn an_isolated_prefix_over_an_in_process_backend_conforms() {
    prefix_passes(true);
}

#[test]
fn an_in_process_prefix_over_an_isolated_backend_conforms() {
    prefix_passes(false);
}
