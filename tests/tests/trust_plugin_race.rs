//! The plugin trust check cannot be raced. A user who owns a directory
//! above root's plugin directory swaps that directory for one of their own,
//! holding their plugin under the same file name, over and over, while root
//! loads plugins: through the CLI (whose probe child loads each new file
//! first) and in-process through the library. The attacker's plugin leaves
//! a marker when its constructor runs; it must never run.
//!
//! What stops it: every directory up to `/` is checked (the attacker's
//! parent directory is refused by name), and the file is opened once and
//! loaded through that descriptor, never again by path.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use stowage::plugin::LoadOptions;
use stowage::{Registry, SearchPath};
use stowage_tests::attacker::{can_attack, give_to_nobody, Attacker};
use stowage_tests::{copy_plugin_as, rejected_reason, tempdir, Cli};

/// Loads per side of the attack, at most.
const TRIES: usize = 300;
/// And at most this long.
const BUDGET: Duration = Duration::from_secs(60);

/// The environment variable the marker fixture writes to.
const MARKER_ENV: &str = "STOWAGE_FIXTURE_CTOR_MARKER";

/// The plugin file name both directories use.
const PLUGIN: &str = "libfixture_memory.so";

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

/// Swaps `plugins` (root's) and `evil` (the attacker's) back and forth.
const SWAP: &str =
    "while :; do mv plugins good && mv evil plugins; mv plugins evil; mv good plugins; done";

#[test]
fn swapping_a_parent_directory_never_runs_the_attackers_plugin() {
    if !can_attack("swapping_a_parent_directory_never_runs_the_attackers_plugin") {
        return;
    }
    let base = tempdir();
    chmod(base.path(), 0o755);
    let marker = base.path().join("constructor-ran");
    // The attacker owns the directory above root's plugin directory.
    let parent = base.path().join("parent");
    fs::create_dir(&parent).unwrap();
    chmod(&parent, 0o755);
    let plugins = parent.join("plugins");
    fs::create_dir(&plugins).unwrap();
    chmod(&plugins, 0o755);
    copy_plugin_as(&plugins, "memory", PLUGIN);
    // Their directory holds their plugin, under the same name.
    let evil = parent.join("evil");
    fs::create_dir(&evil).unwrap();
    let evil_plugin = copy_plugin_as(&evil, "marker-ctor", PLUGIN);
    give_to_nobody(&evil_plugin);
    give_to_nobody(&evil);
    give_to_nobody(&parent);

    // The marker itself works: loaded on purpose, the constructor writes it.
    let own = tempdir();
    chmod(own.path(), 0o755);
    copy_plugin_as(own.path(), "marker-ctor", PLUGIN);
    let witness = base.path().join("witness");
    Cli::new(own.path())
        .env(MARKER_ENV, &witness)
        .run(["plugins"])
        .ok();
    assert!(witness.exists(), "the marker fixture left no marker");

    let attacker = Attacker::start(&parent, SWAP);
    let cli = Cli::new(&plugins).env(MARKER_ENV, &marker);
    let started = Instant::now();
    let mut refusals = 0usize;
    let mut tries = 0usize;
    while tries < TRIES && started.elapsed() < BUDGET && !marker.exists() {
        tries += 1;
        let (out, doc) = cli.run_json(["plugins"]);
        out.ok();
        if let Some(reason) = rejected_reason(&doc, PLUGIN) {
            assert!(
                reason.contains(&parent.display().to_string()) || reason.contains("cannot"),
                "{reason}"
            );
            refusals += 1;
        }
    }
    // In-process too: no probe child, the host's own dlopen.
    // SAFETY: this test binary runs this one test; nothing else reads the
    // environment concurrently.
    unsafe { std::env::set_var(MARKER_ENV, &marker) };
    let options = LoadOptions::default();
    let search = SearchPath::new(vec![plugins.clone()]);
    let mut in_process = 0usize;
    while in_process < TRIES && started.elapsed() < 2 * BUDGET && !marker.exists() {
        in_process += 1;
        let registry = Registry::load_with(&search, &options);
        assert!(
            registry.plugins().is_empty(),
            "a plugin was loaded from under a directory another user owns"
        );
    }
    attacker.stop();
    let ran = fs::read_to_string(&marker).unwrap_or_default();
    assert!(
        ran.is_empty(),
        "the attacker's constructor ran (pid uid per line) after {tries} CLI loads and {in_process} in-process loads:\n{ran}"
    );
    assert!(refusals > 0, "no load was refused in {tries} tries");
    eprintln!(
        "{tries} CLI loads ({refusals} refused) and {in_process} in-process loads under attack"
    );
    // Give the directories back so the temporary directory goes away.
    for dir in [&parent, &parent.join("plugins"), &parent.join("evil")] {
        let _ = std::os::unix::fs::chown(dir, Some(0), Some(0));
    }
}
