//! The retry layer, observed through the flaky fixture: it fails a chosen
//! number of times per operation and writes its call counters to
//! `DIR/.flaky-counters` (see tests/fixtures/flaky).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use stowage_tests::files::read_counters;
use stowage_tests::{
    cli_with, find_json_error, tempdir, Cli, Output, EXIT_BACKEND, EXIT_INVALID, EXIT_NOT_FOUND,
    EXIT_PERMISSION, EXIT_VALIDATION,
};

fn setup() -> (tempfile::TempDir, Cli) {
    cli_with(&["flaky", "file"])
}

fn counters(dir: &Path) -> BTreeMap<String, u64> {
    read_counters(&dir.join(".flaky-counters"))
}

fn count(c: &BTreeMap<String, u64>, op: &str) -> u64 {
    c.get(op).copied().unwrap_or(0)
}

/// A flaky store `<work>/d` (not created) and a local file `<work>/obj`.
struct FlakyScene {
    /// The temporary directory (removed on drop).
    _work: tempfile::TempDir,
    /// The store's directory, where the counters go.
    store: PathBuf,
    /// `flaky://<store>?<query>`.
    url: String,
    /// The local file `obj`.
    src: PathBuf,
}

/// A [`FlakyScene`] whose URL carries `query` and whose local file holds
/// `content`.
fn flaky_scene(query: &str, content: &[u8]) -> FlakyScene {
    let work = tempdir();
    let store = work.path().join("d");
    let url = format!("flaky://{}?{query}", store.display());
    let src = work.path().join("obj");
    fs::write(&src, content).unwrap();
    FlakyScene {
        _work: work,
        store,
        url,
        src,
    }
}

/// `stowage --retries RETRIES CMD URL SRC` on `scene`.
fn run_retrying(cli: &Cli, retries: &str, cmd: &str, scene: &FlakyScene) -> Output {
    cli.clone()
        .global(["--retries", retries])
        .run([cmd, &scene.url, scene.src.to_str().unwrap()])
}

#[test]
fn transient_put_succeeds_within_the_retries() {
    let (_p, cli) = setup();
    // Only put fails: the size check's query after it answers at once.
    let scene = flaky_scene("fail=2&error=transient&ops=put", b"third time lucky");
    let FlakyScene { store, .. } = &scene;
    let out = run_retrying(&cli, "5", "put", &scene);
    out.ok();
    let c = counters(store);
    assert_eq!(count(&c, "put"), 3, "{c:?}\n{out}");
    assert_eq!(count(&c, "retry_cleanup"), 2, "{c:?}\n{out}");
    assert_eq!(fs::read(store.join("obj")).unwrap(), b"third time lucky");
}

#[test]
fn transient_put_gives_up_after_the_attempts() {
    let (_p, cli) = setup();
    let scene = flaky_scene("fail=2&error=transient", b"never");
    let FlakyScene {
        store, url, src, ..
    } = &scene;
    let out = run_retrying(&cli, "2", "put", &scene);
    out.expect_code(EXIT_BACKEND);
    let c = counters(store);
    assert_eq!(count(&c, "put"), 2, "{c:?}\n{out}");
    assert_eq!(
        count(&c, "retry_cleanup"),
        1,
        "no cleanup after the last attempt: {c:?}"
    );
    for needle in ["put", "obj", &store.display().to_string(), "2 attempts"] {
        assert!(
            out.err.contains(needle),
            "stderr should name {needle:?}\n{out}"
        );
    }
    assert!(!store.join("obj").exists());

    let (out, doc) =
        cli.clone()
            .global(["--retries", "2"])
            .run_json(["put", url, src.to_str().unwrap()]);
    out.expect_code(EXIT_BACKEND);
    let err = find_json_error(&doc).unwrap_or_else(|| panic!("no JSON error\n{out}"));
    assert_eq!(err["code"], 50, "{out}");
    assert!(
        err["message"].as_str().unwrap_or("").contains("2 attempts"),
        "{out}"
    );
}

#[test]
fn not_found_ends_the_retries_at_once() {
    let (_p, cli) = setup();
    let work = tempdir();
    let store = work.path().join("d");
    fs::create_dir(&store).unwrap();
    fs::write(store.join("obj"), b"here, but the plugin says otherwise").unwrap();
    let url = format!("flaky://{}?error=notfound&fail=1", store.display());
    let dst = work.path().join("dst");
    let out = cli.clone().global(["--retries", "5"]).run([
        "get",
        &url,
        "obj",
        "-o",
        dst.to_str().unwrap(),
    ]);
    out.expect_code(EXIT_NOT_FOUND);
    let c = counters(&store);
    assert_eq!(count(&c, "get"), 1, "exactly one attempt: {c:?}\n{out}");
    assert_eq!(count(&c, "retry_cleanup"), 0, "{c:?}");
    assert!(!dst.exists(), "no local file after a failed get");
}

#[test]
fn permanent_errors_are_not_retried() {
    let (_p, cli) = setup();
    let scene = flaky_scene("error=permission&fail=1", b"x");
    let FlakyScene { store, .. } = &scene;
    let out = run_retrying(&cli, "5", "put", &scene);
    out.expect_code(EXIT_PERMISSION);
    let c = counters(store);
    assert_eq!(count(&c, "put"), 1, "{c:?}\n{out}");
    assert_eq!(count(&c, "retry_cleanup"), 0, "{c:?}");
}

#[test]
fn zero_retries_is_invalid_input_and_calls_nothing() {
    let (_p, cli) = setup();
    let scene = flaky_scene("fail=0", b"x");
    let FlakyScene { store, .. } = &scene;
    let out = run_retrying(&cli, "0", "put", &scene);
    out.expect_code(EXIT_INVALID);
    assert!(out.err.contains("retries"), "{out}");
    assert!(!store.exists(), "the backend must not even be opened");
}

#[test]
fn transient_failures_in_the_size_check_are_retried_too() {
    // Every operation fails twice, including the query of the size check
    // after the put: that query is an operation like any other and gets the
    // same retries, so the put succeeds.
    let (_p, cli) = setup();
    let scene = flaky_scene("fail=2&error=transient", b"checked");
    let FlakyScene { store, .. } = &scene;
    let out = run_retrying(&cli, "5", "put", &scene);
    let c = counters(store);
    out.ok();
    assert_eq!(count(&c, "put"), 3, "{c:?}");
    let query = count(&c, "query");
    assert!(query >= 3, "the size check retried its query: {c:?}");
    assert_eq!(count(&c, "retry_cleanup"), 2 + (query - 1), "{c:?}");
}

/// Runs `args` (with the flaky URL inserted after the command) against a
/// store where only `op` fails `fail` times (transient); asserts success
/// and returns the counters.
fn flaky_run(op: &str, fail: u32, prepare: impl Fn(&Path), args: &[&str]) -> BTreeMap<String, u64> {
    let (_p, cli) = setup();
    let work = tempdir();
    let store = work.path().join("d");
    fs::create_dir(&store).unwrap();
    prepare(&store);
    let url = format!(
        "flaky://{}?fail={fail}&error=transient&ops={op}",
        store.display()
    );
    let mut argv = vec![args[0], &url];
    argv.extend(&args[1..]);
    let out = cli
        .clone()
        .global(["--retries", "5"])
        .cwd(work.path())
        .run(&argv);
    out.ok();
    counters(&store)
}

#[test]
fn every_command_retries_transient_failures() {
    let with_obj = |d: &Path| {
        fs::write(d.join("obj"), b"abc").unwrap();
        fs::write(d.join("other"), b"de").unwrap();
    };
    let c = flaky_run("list", 2, with_obj, &["ls"]);
    assert_eq!(
        (count(&c, "list"), count(&c, "retry_cleanup")),
        (3, 2),
        "ls: {c:?}"
    );

    let c = flaky_run("get", 2, with_obj, &["get", "obj", "-o", "fetched"]);
    assert_eq!(
        (count(&c, "get"), count(&c, "retry_cleanup")),
        (3, 2),
        "get: {c:?}"
    );

    let c = flaky_run("delete", 2, with_obj, &["rm", "obj"]);
    assert_eq!(
        (count(&c, "delete"), count(&c, "retry_cleanup")),
        (3, 2),
        "rm: {c:?}"
    );

    // flaky has no query_list: stat falls back to one query per name, each
    // retried on its own (the first name uses up the two failures).
    let c = flaky_run("query", 2, with_obj, &["stat", "obj", "other"]);
    assert_eq!(
        (count(&c, "query"), count(&c, "retry_cleanup")),
        (4, 2),
        "stat: {c:?}"
    );
}

#[test]
fn mv_falls_back_to_a_retried_put_and_removes_the_local_file() {
    // flaky has no move_in: mv is put (retried) + size check + remove.
    let (_p, cli) = setup();
    let scene = flaky_scene("fail=2&error=transient&ops=put", b"moving");
    let FlakyScene { store, src, .. } = &scene;
    run_retrying(&cli, "3", "mv", &scene).ok();
    assert!(!src.exists());
    assert_eq!(fs::read(store.join("obj")).unwrap(), b"moving");
    let c = counters(store);
    assert_eq!(
        (count(&c, "put"), count(&c, "retry_cleanup")),
        (3, 2),
        "{c:?}"
    );
}

#[test]
fn a_failed_mv_keeps_the_local_file() {
    let (_p, cli) = setup();
    let scene = flaky_scene("fail=9&error=transient&ops=put", b"stay");
    let FlakyScene { src, .. } = &scene;
    run_retrying(&cli, "2", "mv", &scene).expect_code(EXIT_BACKEND);
    assert_eq!(fs::read(src).unwrap(), b"stay");
}

#[test]
fn a_size_mismatch_after_put_is_validation_failed() {
    // lie=1: the backend's query reports one byte more than was stored.
    let (_p, cli) = setup();
    let scene = flaky_scene("lie=1", b"12345");
    let FlakyScene { url, src, .. } = &scene;
    let out = cli.run(["put", url, src.to_str().unwrap()]);
    out.expect_code(EXIT_VALIDATION);
    assert!(out.err.contains("obj"), "{out}");
    let (out, doc) = cli.run_json(["mv", url, src.to_str().unwrap()]);
    out.expect_code(EXIT_VALIDATION);
    assert_eq!(
        find_json_error(&doc).map(|e| e["code"].clone()),
        Some(56.into()),
        "{out}"
    );
}
