//! Prefix backends (`wrap+URL`, the fixture-wrap plugin) stacked on the real
//! file plugin.

use std::fs;
use std::path::PathBuf;

use serde_json::json;
use stowage_tests::files::dir_names;
use stowage_tests::{cli_with, file_url, ls_entries, tempdir, work_with_file, Cli, EXIT_INVALID};

fn setup() -> (tempfile::TempDir, Cli) {
    cli_with(&["file", "wrap", "memory"])
}

#[test]
fn wrap_stores_w_dot_name_in_the_inner_backend() {
    let (_p, cli) = setup();
    let work = tempdir();
    let store = work.path().join("d");
    let inner = file_url(&store);
    let url = format!("wrap+{inner}");
    let src = work.path().join("obj");
    fs::write(&src, b"wrapped").unwrap();

    let (out, doc) = cli.run_json(["put", &url, src.to_str().unwrap()]);
    out.ok();
    assert_eq!(doc["items"][0]["name"], "obj", "{out}");
    assert_eq!(dir_names(&store), vec!["w.obj"]);
    assert_eq!(fs::read(store.join("w.obj")).unwrap(), b"wrapped");

    // An inner object without the mark is invisible through the prefix.
    fs::write(store.join("plain"), b"p").unwrap();
    let (out, doc) = cli.run_json(["ls", &url]);
    out.ok();
    assert_eq!(ls_entries(&doc), vec![("obj".to_string(), 7)]);
    let (out, doc) = cli.run_json(["ls", &inner]);
    out.ok();
    assert_eq!(
        ls_entries(&doc),
        vec![("plain".to_string(), 1), ("w.obj".to_string(), 7)]
    );

    let back = work.path().join("back");
    cli.run(["get", &url, "obj", "-o", back.to_str().unwrap()])
        .ok();
    assert_eq!(fs::read(&back).unwrap(), b"wrapped");

    // stat / rm with several names go through query(_list) / delete(_list).
    let (out, doc) = cli.run_json(["stat", &url, "obj", "plain"]);
    out.ok();
    assert_eq!(
        doc["items"],
        json!([
            {"name": "obj", "size": 7, "missing": false, "ok": true, "code": 0, "error": null},
            {"name": "plain", "size": null, "missing": true, "ok": true, "code": 0, "error": null},
        ]),
        "{out}"
    );
    cli.run(["rm", &url, "obj"]).ok();
    assert_eq!(dir_names(&store), vec!["plain"]);
}

/// A fresh store `<work>/d` reached through `prefixes` (`wrap+`...), and a
/// local file `<work>/obj` holding `content`.
fn through(prefixes: &str, content: &[u8]) -> (tempfile::TempDir, PathBuf, String, PathBuf) {
    let (work, src) = work_with_file("obj", content);
    let store = work.path().join("d");
    let url = format!("{prefixes}{}", file_url(&store));
    (work, store, url, src)
}

#[test]
fn stacked_prefixes_nest() {
    let (_p, cli) = setup();
    let (work, store, url, src) = through("wrap+wrap+", b"twice");
    cli.run(["put", &url, src.to_str().unwrap()]).ok();
    assert_eq!(dir_names(&store), vec!["w.w.obj"]);
    let (out, doc) = cli.run_json(["ls", &url]);
    out.ok();
    assert_eq!(ls_entries(&doc), vec![("obj".to_string(), 5)]);
    // One level down shows the inner mark.
    let (out, doc) = cli.run_json(["ls", &format!("wrap+{}", file_url(&store))]);
    out.ok();
    assert_eq!(ls_entries(&doc), vec![("w.obj".to_string(), 5)]);
    let back = work.path().join("back");
    cli.run(["get", &url, "obj", "-o", back.to_str().unwrap()])
        .ok();
    assert_eq!(fs::read(&back).unwrap(), b"twice");
    cli.run(["rm", &url, "obj"]).ok();
    assert_eq!(dir_names(&store), Vec::<String>::new());
}

#[test]
fn mv_through_a_prefix_consumes_the_local_file() {
    let (_p, cli) = setup();
    let (_work, store, url, src) = through("wrap+", b"moved");
    cli.run(["mv", &url, src.to_str().unwrap()]).ok();
    assert!(!src.exists());
    assert_eq!(fs::read(store.join("w.obj")).unwrap(), b"moved");
}

#[test]
fn prefix_over_another_plugins_scheme() {
    // wrap (one plugin) over memory (another): both in one process.
    let (_p, cli) = setup();
    let (_work, src) = work_with_file("obj", b"m");
    cli.run(["put", "wrap+memory:///m", src.to_str().unwrap()])
        .ok();
    let (out, doc) = cli.run_json(["ls", "wrap+memory:///m"]);
    out.ok();
    assert_eq!(ls_entries(&doc), vec![]);
}

#[test]
fn prefix_matching_is_case_insensitive() {
    let (_p, cli) = setup();
    let work = tempdir();
    let store = work.path().join("d");
    let src = work.path().join("obj");
    fs::write(&src, b"case").unwrap();
    for (i, prefix) in ["WRAP", "Wrap"].iter().enumerate() {
        let url = format!("{prefix}+{}", file_url(&store));
        cli.run([
            "put",
            &url,
            src.to_str().unwrap(),
            "--name",
            &format!("n{i}"),
        ])
        .ok();
    }
    assert_eq!(dir_names(&store), vec!["w.n0", "w.n1"]);
    let out = cli.run(["ls", &format!("WRAP+WRAP+FILE://{}", store.display())]);
    out.ok();
}

#[test]
fn unknown_inner_scheme_is_named_with_the_registered_ones() {
    let (_p, cli) = setup();
    let out = cli.run(["ls", "wrap+nope:///x"]);
    out.expect_code(EXIT_INVALID);
    assert!(out.err.contains("nope"), "names the inner scheme\n{out}");
    assert!(out.err.contains("file"), "lists registered schemes\n{out}");
    assert!(
        out.err.contains("memory"),
        "lists registered schemes\n{out}"
    );
    cli.run_json(["ls", "wrap+wrap+nope:///x"])
        .0
        .expect_json_error(EXIT_INVALID, "nope");
}

#[test]
fn a_prefix_alone_is_not_a_url() {
    let (_p, cli) = setup();
    let out = cli.run(["ls", "wrap://x"]);
    out.expect_code(EXIT_INVALID);
}
