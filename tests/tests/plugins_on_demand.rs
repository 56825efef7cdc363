//! A command loads only the plugins its URLs need: the others on the
//! search path are known from their cached probe verdicts (name and
//! schemes) and never loaded, in process or in an isolation child.
//! `stowage plugins` still loads every one, error messages about unknown
//! schemes still list every scheme and what was searched, and a changed
//! plugin file is probed again.
//!
//! The witness is fixture-marker-ctor, whose library constructor appends
//! `pid uid` to `$STOWAGE_FIXTURE_CTOR_MARKER` whenever any process loads it.

use std::fs;
use std::path::{Path, PathBuf};

use stowage_tests::{copy_plugin_as, file_url, plugin_dir_with, tempdir, Cli, EXIT_INVALID};

/// The marker's lines (one per process that loaded the plugin).
fn loads(marker: &Path) -> usize {
    fs::read_to_string(marker).map_or(0, |s| s.lines().count())
}

/// A plugin directory with `file` and the marker plugin, a store, the
/// marker file, and a `Cli` with `extra` global flags.
struct Scene {
    _work: tempfile::TempDir,
    plugins: tempfile::TempDir,
    marker: PathBuf,
    store: String,
    cli: Cli,
}

fn scene(extra: &[&str]) -> Scene {
    let work = tempdir();
    let plugins = plugin_dir_with(&["file", "marker-ctor"]);
    let marker = work.path().join("marker");
    let store_dir = work.path().join("store");
    fs::create_dir(&store_dir).unwrap();
    let cli = Cli::new(plugins.path())
        .global(extra)
        .env("STOWAGE_FIXTURE_CTOR_MARKER", &marker);
    Scene {
        store: file_url(&store_dir),
        _work: work,
        plugins,
        marker,
        cli,
    }
}

#[test]
fn ls_file_never_loads_another_plugin_once_probed() {
    for extra in [&["--isolate=never"][..], &[][..]] {
        let s = scene(extra);
        // The first run probes both files (a child loads each once).
        s.cli.run(["ls", &s.store]).ok();
        let probed = loads(&s.marker);
        assert_eq!(
            probed, 1,
            "{extra:?}: only the probe loads the marker plugin"
        );
        for _ in 0..3 {
            s.cli.run(["ls", &s.store]).ok();
        }
        assert_eq!(loads(&s.marker), probed, "{extra:?}: ls file:// loaded it");

        // Opening its scheme loads it (in the host, or in its child).
        let out = s.cli.run(["ls", "marker-ctor:///x"]);
        assert!(out.err.contains("must never be opened"), "{extra:?}\n{out}");
        assert_eq!(loads(&s.marker), probed + 1, "{extra:?}");

        // The listing loads every plugin, as it always did (in process
        // here; an isolated one is described by a confined child, which
        // may not write the marker).
        s.cli.run(["plugins"]).ok();
        if extra.contains(&"--isolate=never") {
            assert!(loads(&s.marker) > probed + 1, "plugins did not load it");
        }
    }
}

#[test]
fn an_unknown_scheme_still_names_every_scheme_and_what_was_searched() {
    let s = scene(&[]);
    s.cli.run(["ls", &s.store]).ok();
    let before = loads(&s.marker);
    let (out, doc) = s.cli.run_json(["ls", "nope:///x"]);
    out.expect_json_error(EXIT_INVALID, "nope");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("registered schemes: file, marker-ctor"),
        "{message}"
    );
    assert!(message.contains("directories searched"), "{message}");
    assert!(message.contains("fixture-marker-ctor"), "{message}");
    assert_eq!(loads(&s.marker), before, "nothing is loaded to say so");
}

#[test]
fn a_junk_library_is_rejected_once_and_does_not_stop_ls() {
    let s = scene(&["--isolate=never"]);
    fs::write(s.plugins.path().join("libjunk.so"), b"not a library").unwrap();
    let junk = s.plugins.path().join("libjunk.so");
    fs::set_permissions(&junk, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    for _ in 0..2 {
        let out = s.cli.clone().global(["-vv"]).run(["ls", &s.store]);
        out.ok();
        assert!(out.err.contains("libjunk.so not loaded"), "{out}");
    }
    // The second run took the verdict from the cache: no probe child.
    let out = s.cli.clone().global(["-vv"]).run(["ls", &s.store]);
    assert!(!out.err.contains("probing"), "probed again\n{out}");
}

#[test]
fn a_changed_plugin_file_is_probed_again() {
    let s = scene(&[]);
    s.cli.run(["ls", &s.store]).ok();
    s.cli.run(["ls", &s.store]).ok();
    assert_eq!(loads(&s.marker), 1);
    // Replaced by a fresh copy (new inode, times): its cached verdict no
    // longer applies, so it is probed (loaded in a probe child) again...
    let file = s.plugins.path().join("libfixture_marker_ctor.so");
    fs::remove_file(&file).unwrap();
    copy_plugin_as(s.plugins.path(), "marker-ctor", "libfixture_marker_ctor.so");
    s.cli.run(["ls", &s.store]).ok();
    assert_eq!(loads(&s.marker), 2, "not probed again after the change");
    // ...once.
    s.cli.run(["ls", &s.store]).ok();
    assert_eq!(loads(&s.marker), 2);
    // The same for a plugin that is needed: the file plugin replaced by a
    // marker plugin under its name is refused as what it now is.
    let file_plugin = s.plugins.path().join("libstowage_file.so");
    fs::remove_file(&file_plugin).unwrap();
    copy_plugin_as(s.plugins.path(), "marker-ctor", "libstowage_file.so");
    let out = s.cli.run(["ls", &s.store]);
    out.expect_code(EXIT_INVALID);
    assert!(out.err.contains("scheme \"file\" is not handled"), "{out}");
}
