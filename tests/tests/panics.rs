//! A panicking plugin (fixture-panic) never takes the host down: every panic
//! becomes a backend error (exit 50) carrying the panic message. In-process
//! checks (the host surviving a panic and going on) belong to the library
//! API tests; these are the command-level ones.

use stowage_tests::{cli_with, file_url, find_json_error, work_with_file, Cli, EXIT_BACKEND};

fn setup() -> (tempfile::TempDir, Cli) {
    cli_with(&["file", "panic"])
}

#[test]
fn a_panic_in_put_is_a_backend_error_with_the_message() {
    let (_p, cli) = setup();
    let (_work, src) = work_with_file("f", b"x");
    let out = cli.run(["put", "panic:///x", src.to_str().unwrap()]);
    assert_eq!(out.signal, None, "{out}");
    out.expect_code(EXIT_BACKEND);
    assert!(out.err.contains("fixture panic in put"), "{out}");
    assert!(out.err.to_lowercase().contains("panic"), "{out}");
    assert!(src.exists(), "the local file is untouched");

    let (out, doc) = cli.run_json(["put", "panic:///x", src.to_str().unwrap()]);
    out.expect_code(EXIT_BACKEND);
    let err = find_json_error(&doc).unwrap_or_else(|| panic!("no JSON error\n{out}"));
    assert_eq!(err["code"], 50, "{out}");
    assert!(
        err["message"]
            .as_str()
            .unwrap_or("")
            .contains("fixture panic in put"),
        "{out}"
    );
}

#[test]
fn every_operation_panicking_is_contained() {
    let (_p, cli) = setup();
    let (work, src) = work_with_file("f", b"x");
    let dst = work.path().join("dst");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["ls", "panic:///x"], "fixture panic in list"),
        (
            vec!["get", "panic:///x", "n", "-o", dst.to_str().unwrap()],
            "fixture panic in get",
        ),
        (vec!["rm", "panic:///x", "n"], "fixture panic in delete"),
        (vec!["stat", "panic:///x", "n"], "fixture panic in query"),
        (
            vec!["mv", "panic:///x", src.to_str().unwrap()],
            // mv puts a copy and removes the local file after the close.
            "fixture panic in put",
        ),
    ];
    for (args, message) in cases {
        let out = cli.run(&args);
        assert_eq!(out.signal, None, "{out}");
        out.expect_code(EXIT_BACKEND);
        assert!(out.err.contains(message), "expected {message:?}\n{out}");
        assert!(!dst.exists(), "get created a file");
        assert!(src.exists(), "mv lost the local file");
    }
}

#[test]
fn a_panic_in_open_is_a_backend_error() {
    let (_p, cli) = setup();
    let out = cli.run(["ls", "panic:///x?in=open"]);
    assert_eq!(out.signal, None, "{out}");
    out.expect_code(EXIT_BACKEND);
    assert!(out.err.contains("fixture panic in open"), "{out}");
}

#[test]
fn the_panic_plugin_is_listed_normally_and_others_keep_working() {
    let (_p, cli) = setup();
    let (out, doc) = cli.run_json(["plugins"]);
    out.ok();
    let names: Vec<&str> = doc["data"]["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(
        names.contains(&"fixture-panic") && names.contains(&"file"),
        "{out}"
    );
    // The file plugin in the same directory is unaffected.
    let (work, src) = work_with_file("f", b"x");
    cli.run([
        "put",
        &file_url(&work.path().join("s")),
        src.to_str().unwrap(),
    ])
    .ok();
}
