//! put / get / ls / rm / stat / mv through the `stowage` command with the
//! real `file` plugin loaded from disk, on real files.

use std::fs;
use std::path::Path;

use serde_json::json;
use stowage_tests::files::{assert_same_content, dir_names, write_data};
use stowage_tests::{
    cli_with, file_store, file_store_at, file_store_holding, find_json_error, listing, tempdir,
    Cli, FileStore, EXIT_INVALID, EXIT_NOT_FOUND, EXIT_USAGE,
};

const MIB: u64 = 1 << 20;

/// `items` as the JSON document shows succeeded items: each with
/// `"ok": true, "code": 0, "error": null`.
fn succeeded(mut items: serde_json::Value) -> serde_json::Value {
    for item in items.as_array_mut().expect("an array of items") {
        item["ok"] = json!(true);
        item["code"] = json!(0);
        item["error"] = serde_json::Value::Null;
    }
    items
}

fn setup() -> (tempfile::TempDir, Cli) {
    cli_with(&["file"])
}

/// `ls --json` of `url`, as (name, size) pairs; also checks it is sorted.
fn ls(cli: &Cli, url: &str) -> Vec<(String, u64)> {
    let entries = listing(cli, url);
    let mut sorted = entries.clone();
    sorted.sort();
    assert_eq!(entries, sorted, "ls --json of {url} is not sorted by name");
    entries
}

#[test]
fn put_ls_stat_get_rm_small_files() {
    let (_p, cli) = setup();
    let scene = file_store();
    let (store, url) = (&scene.store, &scene.url);
    let src = scene.local_dir("src");
    let empty = src.join("empty.bin");
    let mib1 = src.join("one-mib-plus-one.bin");
    write_data(&empty, 0, 1);
    write_data(&mib1, MIB + 1, 2);

    // put, JSON: one entry per file, in argument order.
    let (out, doc) = cli.run_json(["put", url, empty.to_str().unwrap(), mib1.to_str().unwrap()]);
    out.ok();
    assert_eq!(
        doc["items"],
        succeeded(json!([
            {"file": empty.to_str().unwrap(), "name": "empty.bin", "size": 0},
            {"file": mib1.to_str().unwrap(), "name": "one-mib-plus-one.bin", "size": MIB + 1},
        ])),
        "{out}"
    );
    assert_same_content(&empty, &store.join("empty.bin"));
    assert_same_content(&mib1, &store.join("one-mib-plus-one.bin"));

    // ls: JSON sorted by name, text as `SIZE  NAME` lines.
    assert_eq!(
        ls(&cli, url),
        vec![
            ("empty.bin".to_string(), 0),
            ("one-mib-plus-one.bin".to_string(), MIB + 1)
        ]
    );
    let out = cli.run(["ls", url]);
    out.ok();
    let lines: Vec<&str> = out.out.lines().collect();
    assert_eq!(
        lines,
        vec![
            "0  empty.bin".to_string(),
            format!("{}  one-mib-plus-one.bin", MIB + 1)
        ],
        "{out}"
    );

    // stat: sizes.
    let (out, doc) = cli.run_json(["stat", url, "one-mib-plus-one.bin", "empty.bin"]);
    out.ok();
    assert_eq!(
        doc["items"],
        succeeded(json!([
            {"name": "one-mib-plus-one.bin", "size": MIB + 1, "missing": false},
            {"name": "empty.bin", "size": 0, "missing": false},
        ])),
        "{out}"
    );

    // get several names into a directory.
    let back = scene.local_dir("back");
    let (out, doc) = cli.run_json([
        "get",
        url,
        "empty.bin",
        "one-mib-plus-one.bin",
        "-o",
        back.to_str().unwrap(),
    ]);
    out.ok();
    let arr = doc["items"].as_array().expect("get --json has items");
    assert_eq!(arr.len(), 2, "{out}");
    assert_eq!(arr[0]["name"], "empty.bin");
    assert_eq!(arr[0]["size"], 0);
    assert_eq!(arr[1]["name"], "one-mib-plus-one.bin");
    assert_eq!(arr[1]["size"], MIB + 1);
    for e in arr {
        let path = Path::new(e["path"].as_str().expect("get entry has a path"));
        assert_eq!(path.parent(), Some(back.as_path()), "{out}");
    }
    assert_same_content(&empty, &back.join("empty.bin"));
    assert_same_content(&mib1, &back.join("one-mib-plus-one.bin"));

    // rm, then the store is empty (no leftovers of any kind).
    let (out, doc) = cli.run_json(["rm", url, "empty.bin", "one-mib-plus-one.bin"]);
    out.ok();
    assert_eq!(
        doc["items"],
        succeeded(json!([
            {"name": "empty.bin", "deleted": true},
            {"name": "one-mib-plus-one.bin", "deleted": true},
        ])),
        "{out}"
    );
    assert_eq!(ls(&cli, url), vec![]);
    assert_eq!(dir_names(store), Vec::<String>::new());
}

#[test]
fn large_64_mib_roundtrip() {
    let (_p, cli) = setup();
    let scene = file_store();
    let (store, url) = (&scene.store, &scene.url);
    let big = scene.data_file("big.bin", 64 * MIB, 3);
    cli.run(["put", url, big.to_str().unwrap()]).ok();
    assert_same_content(&big, &store.join("big.bin"));
    assert_eq!(ls(&cli, url), vec![("big.bin".to_string(), 64 * MIB)]);
    let back = scene.path("big.back");
    let (out, doc) = cli.run_json(["get", url, "big.bin", "-o", back.to_str().unwrap()]);
    out.ok();
    assert_eq!(doc["items"][0]["size"], 64 * MIB, "{out}");
    assert_eq!(doc["items"][0]["path"], back.to_str().unwrap(), "{out}");
    assert_same_content(&big, &back);
}

#[test]
fn put_with_name_and_get_to_a_file_path() {
    let (_p, cli) = setup();
    let scene = file_store();
    let url = &scene.url;
    let src = scene.local_file("local.txt", b"hello");
    let (out, doc) = cli.run_json(["put", url, src.to_str().unwrap(), "--name", "remote.txt"]);
    out.ok();
    assert_eq!(
        doc["items"],
        succeeded(json!([{"file": src.to_str().unwrap(), "name": "remote.txt", "size": 5}]))
    );
    assert_eq!(dir_names(&scene.store), vec!["remote.txt"]);
    let dst = scene.path("copy.txt");
    cli.run(["get", url, "remote.txt", "-o", dst.to_str().unwrap()])
        .ok();
    assert_eq!(fs::read(&dst).unwrap(), b"hello");
}

#[test]
fn put_name_with_several_files_is_refused() {
    let (_p, cli) = setup();
    let scene = file_store();
    let store = &scene.store;
    let a = scene.local_file("a", b"a");
    let b = scene.local_file("b", b"b");
    let out = cli.run([
        "put",
        &scene.url,
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--name",
        "x",
    ]);
    assert!(
        out.code == EXIT_USAGE || out.code == EXIT_INVALID,
        "expected a usage (2) or input (23) error\n{out}"
    );
    assert!(
        !store.exists(),
        "nothing may be stored: {:?}",
        dir_names(store)
    );
}

#[test]
fn get_without_output_writes_into_the_cwd() {
    let (_p, cli) = setup();
    let scene = file_store_holding(&[("obj", b"data")]);
    let cwd = scene.local_dir("cwd");
    cli.clone().cwd(&cwd).run(["get", &scene.url, "obj"]).ok();
    assert_eq!(fs::read(cwd.join("obj")).unwrap(), b"data");
}

#[test]
fn get_of_a_missing_name_is_52_and_creates_nothing() {
    let (_p, cli) = setup();
    let scene = file_store_holding(&[("present", b"x")]);
    let url = &scene.url;
    let out_dir = scene.local_dir("out");

    let dst = out_dir.join("dst");
    let out = cli.run(["get", url, "missing", "-o", dst.to_str().unwrap()]);
    out.expect_code(EXIT_NOT_FOUND);
    assert!(
        out.err.contains("missing"),
        "stderr names the object\n{out}"
    );
    assert_eq!(dir_names(&out_dir), Vec::<String>::new());

    // Default output directory (the cwd), JSON mode.
    let (out, doc) = cli.clone().cwd(&out_dir).run_json(["get", url, "missing"]);
    out.expect_code(EXIT_NOT_FOUND);
    let err = find_json_error(&doc).unwrap_or_else(|| panic!("no JSON error\n{out}"));
    assert_eq!(err["code"], 52, "{out}");
    assert_eq!(err["kind"], "not found", "{out}");
    assert!(!out.err.is_empty(), "errors also go to stderr\n{out}");
    assert_eq!(dir_names(&out_dir), Vec::<String>::new());
}

#[test]
fn relative_file_url_is_relative_to_the_cwd() {
    let (_p, cli) = setup();
    let work = tempdir();
    let src = work.path().join("f.txt");
    fs::write(&src, b"relative").unwrap();
    let cli = cli.cwd(work.path());
    cli.run(["put", "file://rel/dir", src.to_str().unwrap()])
        .ok();
    assert_eq!(
        fs::read(work.path().join("rel/dir/f.txt")).unwrap(),
        b"relative"
    );
    assert_eq!(ls(&cli, "file://rel/dir"), vec![("f.txt".to_string(), 8)]);
}

#[test]
fn stat_of_a_missing_name_reports_missing_with_status_0() {
    let (_p, cli) = setup();
    let scene = file_store_holding(&[("here", b"abc")]);
    let url = &scene.url;
    let (out, doc) = cli.run_json(["stat", url, "here", "gone"]);
    out.ok();
    assert_eq!(
        doc["items"],
        succeeded(json!([
            {"name": "here", "size": 3, "missing": false},
            {"name": "gone", "size": null, "missing": true},
        ])),
        "{out}"
    );
    let out = cli.run(["stat", url, "gone"]);
    out.ok();
    assert!(out.out.contains("gone"), "{out}");
}

#[test]
fn mv_moves_local_files_into_the_backend() {
    let (_p, cli) = setup();
    let scene = file_store();
    let (store, url) = (&scene.store, &scene.url);
    let a = scene.data_file("a.bin", 1000, 4);
    let b = scene.data_file("b.bin", 3000, 5);
    let a_copy = fs::read(&a).unwrap();
    let (out, doc) = cli.run_json(["mv", url, a.to_str().unwrap(), b.to_str().unwrap()]);
    out.ok();
    assert_eq!(
        doc["items"],
        succeeded(json!([
            {"file": a.to_str().unwrap(), "name": "a.bin", "size": 1000},
            {"file": b.to_str().unwrap(), "name": "b.bin", "size": 3000},
        ])),
        "{out}"
    );
    assert!(!a.exists() && !b.exists(), "mv removes the local files");
    assert_eq!(fs::read(store.join("a.bin")).unwrap(), a_copy);
    assert_eq!(
        ls(&cli, url),
        vec![("a.bin".into(), 1000), ("b.bin".into(), 3000)]
    );

    // With --name.
    let c = scene.local_file("c", b"cc");
    cli.run(["mv", url, c.to_str().unwrap(), "--name", "renamed"])
        .ok();
    assert!(!c.exists());
    assert_eq!(fs::read(store.join("renamed")).unwrap(), b"cc");
}

#[test]
fn put_over_an_existing_name_replaces_it() {
    let (_p, cli) = setup();
    let scene = file_store();
    let (store, url) = (&scene.store, &scene.url);
    let long = scene.data_file("long", 100_000, 6);
    let short = scene.data_file("short", 10, 7);
    cli.run(["put", url, long.to_str().unwrap(), "--name", "obj"])
        .ok();
    assert_same_content(&long, &store.join("obj"));
    cli.run(["put", url, short.to_str().unwrap(), "--name", "obj"])
        .ok();
    assert_same_content(&short, &store.join("obj"));
    assert_eq!(ls(&cli, url), vec![("obj".to_string(), 10)]);
    let back = scene.path("back");
    cli.run(["get", url, "obj", "-o", back.to_str().unwrap()])
        .ok();
    assert_same_content(&short, &back);
}

#[test]
fn no_temporary_file_ever_shows() {
    let (_p, cli) = setup();
    let scene = file_store();
    let (store, url) = (&scene.store, &scene.url);
    let mut args = vec!["put".to_string(), url.clone()];
    for i in 0..20 {
        let f = scene.path(&format!("f{i:02}"));
        write_data(&f, 4096 * i, i);
        args.push(f.to_str().unwrap().to_string());
    }
    cli.run(&args).ok();
    // Replace a few, delete a few.
    cli.run(&args[..5]).ok();
    cli.run(["rm", url, "f18", "f19"]).ok();
    let expected: Vec<String> = (0..18).map(|i| format!("f{i:02}")).collect();
    let listed: Vec<String> = ls(&cli, url).into_iter().map(|(n, _)| n).collect();
    assert_eq!(listed, expected);
    // Nothing else in the directory either: no partial files left behind.
    assert_eq!(dir_names(store), expected);
}

#[test]
fn rm_of_a_missing_name_does_not_create_anything() {
    let (_p, cli) = setup();
    let FileStore { store, url, .. } = &file_store();
    let out = cli.run(["rm", url, "nothing"]);
    // Deleting a missing name: success or not found, per the contract.
    assert!(out.code == 0 || out.code == EXIT_NOT_FOUND, "{out}");
    assert!(!store.exists());
}

#[test]
fn ls_of_a_location_that_does_not_exist_is_empty() {
    let (_p, cli) = setup();
    let FileStore { store, url, .. } = &file_store_at("not-yet");
    assert_eq!(ls(&cli, url), vec![]);
    let out = cli.run(["ls", url]);
    out.ok();
    assert_eq!(out.out, "", "{out}");
    assert!(!store.exists(), "ls must not create the location");
}
