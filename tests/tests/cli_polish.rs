//! Completions, the manual page, version and ABI reporting, and the
//! progress bar (checked on a real pseudo-terminal with `script`).

use std::process::Command;

use stowage_tests::files::write_data;
use stowage_tests::{plugin_dir_with, require_tool, stowage_bin, tempdir, Cli};

#[test]
fn completions_for_each_shell_name_the_commands() {
    let plugins = plugin_dir_with(&["file"]);
    let cli = Cli::new(plugins.path());
    for shell in ["bash", "zsh", "fish"] {
        let out = cli.run(["completions", shell]);
        out.ok();
        for word in ["plugins", "put", "get", "space", "plugin-dir"] {
            assert!(out.out.contains(word), "{shell} completions lack {word}");
        }
    }
    cli.run(["completions", "tcsh"]).expect_code(2);
}

#[test]
fn the_manual_page_renders() {
    let plugins = plugin_dir_with(&["file"]);
    let out = Cli::new(plugins.path()).run(["man"]);
    out.ok();
    assert!(
        out.out.starts_with(".ie") || out.out.contains(".TH stowage 1"),
        "{out}"
    );
    assert!(
        out.out.contains("plugin\\-dir"),
        "roff escapes dashes: {out}"
    );
    assert!(
        !out.out.contains("__probe-plugin"),
        "hidden commands stay hidden"
    );
}

#[test]
fn version_and_plugins_show_the_abi() {
    let plugins = plugin_dir_with(&["file"]);
    let cli = Cli::new(plugins.path());
    let out = cli.run(["--version"]);
    out.ok();
    assert!(out.out.contains("plugin ABI v1"), "{out}");
    let (_, doc) = cli.run_json(["plugins"]);
    assert_eq!(doc["data"]["plugins"][0]["abi_version"], 1);
    assert!(cli.run(["plugins"]).out.contains("(ABI v1)"));
}

/// Runs `stowage ARGS` under a pseudo-terminal; returns what the terminal
/// showed.
fn on_a_terminal(plugins: &std::path::Path, cache: &std::path::Path, args: &str) -> String {
    let command = format!(
        "XDG_CACHE_HOME={} {} --plugin-dir {} {args}",
        cache.display(),
        stowage_bin().display(),
        plugins.display()
    );
    let out = Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .output()
        .expect("running script");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_progress_bar_shows_on_a_terminal_only() {
    if !require_tool("script") {
        return;
    }
    let plugins = plugin_dir_with(&["file"]);
    let work = tempdir();
    let big = work.path().join("big");
    write_data(&big, 100 << 20, 7);
    let store = work.path().join("store");
    let args = format!("put file://{} {}", store.display(), big.display());

    let shown = on_a_terminal(plugins.path(), work.path(), &args);
    // The plugin reports within the object, so intermediate steps appear.
    assert!(shown.contains("16.00 MiB/100.00 MiB"), "{shown}");
    assert!(shown.contains("stored"), "{shown}");

    let quiet = on_a_terminal(plugins.path(), work.path(), &format!("-q {args}"));
    assert!(!quiet.contains("MiB/"), "-q draws no bar: {quiet}");

    // Through a pipe: no bar, only the result line.
    let out = Cli::new(plugins.path()).run(args.split(' '));
    out.ok();
    assert!(
        !out.err.contains("MiB/") && !out.out.contains("MiB/"),
        "{out}"
    );

    let back = work.path().join("back");
    let shown = on_a_terminal(
        plugins.path(),
        work.path(),
        &format!("get file://{} big -o {}", store.display(), back.display()),
    );
    assert!(shown.contains("MiB/100.00 MiB"), "{shown}");
}

#[test]
fn space_backups_show_progress_on_a_terminal() {
    if !require_tool("script") {
        return;
    }
    let plugins = plugin_dir_with(&["file"]);
    let work = tempdir();
    let tree = work.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    for i in 0..4 {
        write_data(&tree.join(format!("f{i}")), 8 << 20, i);
    }
    let store = work.path().join("store");
    let args = format!(
        "space backup file://{} s1 {}",
        store.display(),
        tree.display()
    );
    let shown = on_a_terminal(plugins.path(), work.path(), &args);
    assert!(shown.contains("MiB/32.00 MiB"), "{shown}");
    let out = Cli::new(plugins.path()).run(
        format!(
            "space backup file://{} s2 {}",
            store.display(),
            tree.display()
        )
        .split(' '),
    );
    out.ok();
    assert!(!out.err.contains("MiB/"), "{out}");
}
