//! Choosing objects through the `stowage` command: `--glob` on get, rm
//! and stat (names given as arguments stay literal, always), `put` of a
//! directory, and `ls -l` / `ls --human` columns.

use std::fs;

use stowage_tests::files::dir_names;
use stowage_tests::{
    cli_with, file_store, file_store_holding, Cli, FileStore, EXIT_INVALID, EXIT_NOT_FOUND,
};

fn setup() -> (tempfile::TempDir, Cli) {
    cli_with(&["file"])
}

/// A store holding `a1`, `a2`, `b1` and an object literally named `a*`.
fn store_with_a_star() -> FileStore {
    file_store_holding(&[
        ("a1", b"one"),
        ("a2", b"two"),
        ("b1", b"three"),
        ("a*", b"star"),
    ])
}

/// The lines of `stowage ls ARGS...`, which must succeed.
fn ls_lines(cli: &Cli, args: &[&str]) -> Vec<String> {
    let out = cli.run(["ls"].iter().chain(args));
    out.ok();
    out.out.lines().map(str::to_string).collect()
}

#[test]
fn names_are_literal_and_globs_match_the_listing() {
    let (_p, cli) = setup();
    let scene = store_with_a_star();
    let FileStore { store, url, .. } = &scene;

    // The literal name `a*` is that one object, never a pattern.
    cli.run(["rm", url, "a*"]).ok();
    assert_eq!(dir_names(store), vec!["a1", "a2", "b1"]);

    let (out, doc) = cli.run_json(["stat", url, "--glob", "a?"]);
    out.ok();
    let names: Vec<&str> = doc["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a1", "a2"], "{out}");

    let dest = scene.local_dir("dest");
    cli.run([
        "get",
        url,
        "b1",
        "--glob",
        "a*",
        "-o",
        dest.to_str().unwrap(),
    ])
    .ok();
    assert_eq!(dir_names(&dest), vec!["a1", "a2", "b1"]);
    // Patterns may match several: -o must be a directory, and not `-`.
    let missing = scene.path("missing");
    cli.run(["get", url, "--glob", "b*", "-o", missing.to_str().unwrap()])
        .expect_code(EXIT_INVALID);
    cli.run(["get", url, "--glob", "b*", "-o", "-"])
        .expect_code(EXIT_INVALID);

    let out = cli.run(["rm", url, "--glob", "a[0-9]", "--glob", "zz*"]);
    out.ok();
    assert!(
        out.err.contains("no object matches --glob \"zz*\""),
        "{out}"
    );
    assert_eq!(dir_names(store), vec!["b1"]);

    // Nothing at all to act on is not found; a bad pattern is invalid.
    let out = cli.run(["rm", url, "--glob", "nothing*"]);
    out.expect_code(EXIT_NOT_FOUND);
    cli.run(["rm", url, "--glob", "[unclosed"])
        .expect_code(EXIT_INVALID);
    assert_eq!(dir_names(store), vec!["b1"]);
    // A name or a pattern is needed.
    cli.run(["rm", url]).expect_code(2);
}

#[test]
fn put_of_a_directory_is_refused_with_a_hint() {
    let (_p, cli) = setup();
    let scene = file_store();
    let store = &scene.store;
    let dir = scene.local_dir("etc");
    fs::write(dir.join("f"), b"x").unwrap();
    let file = scene.local_file("file", b"y");

    let out = cli.run([
        "put",
        &scene.url,
        file.to_str().unwrap(),
        dir.to_str().unwrap(),
    ]);
    out.expect_code(EXIT_INVALID);
    assert!(out.err.contains("is a directory"), "{out}");
    assert!(out.err.contains("space backup"), "{out}");
    assert!(out.err.contains("tar -cf"), "{out}");
    assert!(
        !store.exists() || dir_names(store).is_empty(),
        "nothing may be stored"
    );
}

#[test]
fn long_listings_align_and_humanise_sizes() {
    let (_p, cli) = setup();
    let FileStore { url, .. } = &file_store_holding(&[
        ("small", &[0u8; 5]),
        ("mid", &[0u8; 2000]),
        ("big", &vec![0u8; 3 << 20]),
    ]);

    assert_eq!(
        ls_lines(&cli, &["-l", url]),
        ["3145728  big", "   2000  mid", "      5  small"]
    );
    assert_eq!(
        ls_lines(&cli, &["--human", url]),
        ["3.0M  big", "2.0K  mid", "   5  small"]
    );
    // The default stays `SIZE  NAME`, and JSON keeps exact sizes.
    let out = cli.run(["ls", url]);
    assert_eq!(out.out.lines().next(), Some("3145728  big"), "{out}");
    let (_, doc) = cli.run_json(["ls", "--human", url]);
    assert_eq!(doc["items"][1]["size"], 2000);
}
