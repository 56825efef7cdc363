//! `stowage check`: names, sizes and SHA-256 of content between two stores
//! or a store and a local directory, with rclone's report and exit codes
//! 0 (identical), 56 (differs) and 52 (missing).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use stowage_tests::files::write_data;
use stowage_tests::{
    cli_with, file_url, require_tool, tempdir, Cli, EXIT_NOT_FOUND, EXIT_VALIDATION,
};

/// A directory `dir` with objects `a`, `b`, `c` of different sizes.
fn objects(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    for (i, name) in ["a", "b", "c"].iter().enumerate() {
        write_data(&dir.join(name), 1000 + i as u64 * 33_333, i as u64);
    }
}

/// A `file://` store holding a copy of `local`'s objects, put by the CLI.
fn store_of(cli: &Cli, local: &Path, store: &Path) -> String {
    let url = file_url(store);
    let mut args = vec!["put".to_string(), url.clone()];
    for e in fs::read_dir(local).unwrap() {
        args.push(e.unwrap().path().to_str().unwrap().to_string());
    }
    cli.run(&args).ok();
    url
}

/// A temporary directory holding `local` (see [`objects`]) and a store
/// `store` with a copy of its objects (see [`store_of`]): the two sides
/// of a check, identical so far. Returns the directory, `local` and the
/// store's URL.
fn local_and_store(cli: &Cli) -> (tempfile::TempDir, PathBuf, String) {
    let work = tempdir();
    let local = work.path().join("local");
    objects(&local);
    let url = store_of(cli, &local, &work.path().join("store"));
    (work, local, url)
}

fn status_of<'a>(doc: &'a Value, name: &str) -> &'a str {
    doc["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("no item {name}: {doc:#}"))["status"]
        .as_str()
        .unwrap()
}

fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

#[test]
fn identical_sides_exit_0_with_the_real_checksums() {
    if !require_tool("sha256sum") {
        return;
    }
    let (_p, cli) = cli_with(&["file"]);
    let (_work, local, url) = local_and_store(&cli);
    let (out, doc) = cli.run_json(["check", local.to_str().unwrap(), &url]);
    out.ok();
    assert_eq!(doc["data"]["identical"], 3, "{out}");
    let b = doc["items"].as_array().unwrap()[1].clone();
    assert_eq!(b["name"], "b");
    let expected = sha256sum(&local.join("b"));
    assert_eq!(b["src_sha256"], expected.as_str(), "{out}");
    assert_eq!(b["dst_sha256"], expected.as_str(), "{out}");

    let out = cli.run(["check", &url, local.to_str().unwrap()]);
    out.ok();
    assert!(out.out.contains("= a\n= b\n= c\n"), "{out}");
}

#[test]
fn same_size_different_content_is_56_unless_size_only() {
    let (_p, cli) = cli_with(&["file"]);
    let (_work, local, url) = local_and_store(&cli);
    // Same size, one byte changed, in the local copy.
    let mut bytes = fs::read(local.join("b")).unwrap();
    bytes[500] ^= 1;
    fs::write(local.join("b"), bytes).unwrap();

    let (out, doc) = cli.run_json(["check", &url, local.to_str().unwrap()]);
    out.expect_code(EXIT_VALIDATION);
    assert_eq!(status_of(&doc, "b"), "differs");
    assert_eq!(status_of(&doc, "a"), "identical");
    assert_eq!(doc["code"], EXIT_VALIDATION);
    let out = cli.run(["check", &url, local.to_str().unwrap()]);
    assert!(out.out.contains("* b (content)"), "{out}");

    // Sizes only: the change is not seen.
    cli.run(["check", "--size-only", &url, local.to_str().unwrap()])
        .ok();
    // A size change is.
    write_data(&local.join("c"), 7, 7);
    let out = cli.run(["check", "--size-only", &url, local.to_str().unwrap()]);
    out.expect_code(EXIT_VALIDATION);
    assert!(out.out.contains("* c (size"), "{out}");
}

#[test]
fn missing_objects_on_either_side_are_52_and_differences_win() {
    let (_p, cli) = cli_with(&["file"]);
    let (_work, local, url) = local_and_store(&cli);
    fs::remove_file(local.join("a")).unwrap();
    write_data(&local.join("z"), 10, 1);

    let (out, doc) = cli.run_json(["check", &url, local.to_str().unwrap()]);
    out.expect_code(EXIT_NOT_FOUND);
    assert_eq!(status_of(&doc, "a"), "missing-in-dst");
    assert_eq!(status_of(&doc, "z"), "missing-in-src");
    assert_eq!(doc["data"]["identical"], 2, "{out}");
    let out = cli.run(["check", &url, local.to_str().unwrap()]);
    assert!(
        out.out.contains("- a\n") && out.out.contains("+ z\n"),
        "{out}"
    );

    // A glob leaves the missing ones out.
    cli.run(["check", &url, local.to_str().unwrap(), "--glob", "[bc]"])
        .ok();

    // Missing and differing: 56.
    write_data(&local.join("b"), 5, 5);
    cli.run(["check", &url, local.to_str().unwrap()])
        .expect_code(EXIT_VALIDATION);
}

#[test]
fn a_local_side_that_does_not_exist_is_not_found() {
    let work = tempdir();
    let (_p, cli) = cli_with(&["file"]);
    let gone = work.path().join("gone");
    let out = cli.run(["check", gone.to_str().unwrap(), &file_url(work.path())]);
    out.expect_code(EXIT_NOT_FOUND);
    assert!(out.err.contains("gone"), "{out}");
}

#[test]
fn an_iso_and_a_directory_after_copy_are_identical() {
    if !require_tool("xorriso") {
        return;
    }
    let work = tempdir();
    let (_p, cli) = cli_with(&["file", "xorriso"]);
    let local = work.path().join("local");
    objects(&local);
    let iso = format!("xorriso://{}:/d", work.path().join("i.iso").display());
    cli.run(["copy", &file_url(&local), &iso]).ok();
    let (out, doc) = cli.run_json(["check", &iso, local.to_str().unwrap()]);
    out.ok();
    assert_eq!(doc["data"]["identical"], 3, "{out}");
}
