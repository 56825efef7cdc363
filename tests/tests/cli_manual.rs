//! Manual pages per command and examples in `--help`, from the real
//! binary: every page has its sections, renders with man(1) when it is
//! installed, and no help text points into the source repository.

use std::fs;
use std::process::Command;

use stowage_tests::{find_in_path, plugin_dir_with, tempdir, Cli};

const COMMANDS: &[&str] = &[
    "plugins",
    "ls",
    "put",
    "get",
    "rm",
    "stat",
    "mv",
    "iso",
    "peer",
    "test",
    "space",
    "remote",
    "completions",
    "man",
];

#[test]
fn every_command_has_a_page_with_examples_urls_environment_and_exit_status() {
    let plugins = plugin_dir_with(&[]);
    let cli = Cli::new(plugins.path());
    let dir = tempdir();
    cli.run(["man", "--dir", dir.path().to_str().unwrap()]).ok();
    let mut pages: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    let expected = [
        "stowage.1",
        "stowage-space-backup.1",
        "stowage-remote-add.1",
    ]
    .map(String::from)
    .into_iter()
    .chain(COMMANDS.iter().map(|c| format!("stowage-{c}.1")));
    for page in expected {
        assert!(pages.contains(&page), "{page} missing from {pages:?}");
    }
    for page in &pages {
        let text = fs::read_to_string(dir.path().join(page)).unwrap();
        for section in [
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH URLS",
            ".SH ENVIRONMENT",
            "EXIT STATUS",
        ] {
            assert!(text.contains(section), "{page} lacks {section}");
        }
        assert!(text.contains("STOWAGE_PLUGIN_PATH"), "{page}");
        assert!(
            !text.contains("docs/") && !text.contains(".md"),
            "{page} points into the repo"
        );
    }
    for c in COMMANDS {
        let text = fs::read_to_string(dir.path().join(format!("stowage-{c}.1"))).unwrap();
        assert!(
            text.contains(".SH EXAMPLES"),
            "stowage-{c}.1 has no examples"
        );
    }
    // One page on stdout, as `stowage man put | man -l -` reads it.
    let out = cli.run(["man", "space", "backup"]);
    out.ok();
    assert!(out.out.contains("STOWAGE-SPACE-BACKUP"), "{out}");
    cli.run(["man", "nosuch"]).expect_code(2);

    if find_in_path("man").is_none() {
        eprintln!("SKIPPED: man(1) not installed; the pages were not rendered");
        return;
    }
    let rendered = Command::new("man")
        .arg("-l")
        .arg(dir.path().join("stowage-put.1"))
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .expect("running man");
    let text = String::from_utf8_lossy(&rendered.stdout);
    assert!(
        rendered.status.success(),
        "man failed: {}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    assert!(text.contains("stowage put file:///srv/backup"), "{text}");
}

#[test]
fn every_help_shows_examples_and_nothing_from_the_source_tree() {
    let plugins = plugin_dir_with(&[]);
    let cli = Cli::new(plugins.path());
    let top = cli.run(["--help"]);
    top.ok();
    assert!(!top.out.contains("docs/"), "{top}");
    let leaves = [
        "space list",
        "space backup",
        "space backup-value",
        "space restore",
        "space restore-value",
        "space revert",
        "space show",
        "space verify",
        "space rm",
        "space drop",
        "space gc",
        "iso info",
        "iso compact",
        "peer stage",
        "peer collected",
        "peer mark-staged",
        "remote list",
        "remote show",
        "remote add",
        "remote remove",
    ];
    for c in COMMANDS.iter().chain(&leaves) {
        let mut args: Vec<&str> = c.split(' ').collect();
        args.push("--help");
        let out = cli.run(&args);
        out.ok();
        let examples = out.out.split("Examples:").nth(1).unwrap_or_default();
        let count = examples.lines().filter(|l| l.contains("stowage ")).count();
        assert!(
            (2..=3).contains(&count),
            "{c} --help shows {count} examples\n{out}"
        );
        assert!(
            !out.out.contains("docs/") && !out.out.contains(".md"),
            "{out}"
        );
    }
}
