//! `--jobs N` on the multi-object commands (`put`, `mv`, `get`, `rm`,
//! `stat`, `space backup`): several objects in flight on one backend
//! handle, yet every item reported in input order, the same document as
//! one at a time, and no new work after a failure that fails everything.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use stowage_tests::files::{dir_entries, write_data};
use stowage_tests::{cli_with, file_url, tempdir, Cli, EXIT_BACKEND, EXIT_NOT_FOUND};

/// `count` local files `f00`, `f01`... of different sizes in `dir`, with
/// every third name missing from disk; returns all the paths, in order.
fn files_with_gaps(dir: &Path, count: usize) -> Vec<PathBuf> {
    fs::create_dir_all(dir).unwrap();
    (0..count)
        .map(|i| {
            let path = dir.join(format!("f{i:02}"));
            if i % 3 != 1 {
                // Later files are smaller, so with several jobs they tend
                // to finish first.
                write_data(&path, ((count - i) as u64) * 9_000, i as u64);
            }
            path
        })
        .collect()
}

fn strs(paths: &[PathBuf]) -> Vec<&str> {
    paths.iter().map(|p| p.to_str().unwrap()).collect()
}

fn items(doc: &Value) -> &Vec<Value> {
    doc["items"].as_array().expect("items")
}

/// Each item's `name` and whether it succeeded.
fn outcomes(doc: &Value) -> Vec<(String, bool)> {
    items(doc)
        .iter()
        .map(|i| (i["name"].as_str().unwrap().to_string(), i["ok"] == true))
        .collect()
}

/// Runs `args` with `--jobs N` appended and `--json`; returns the document.
fn run_jobs(cli: &Cli, args: &[&str], jobs: &str, code: i32) -> Value {
    let mut argv = args.to_vec();
    argv.extend(["--jobs", jobs]);
    let (out, doc) = cli.run_json(&argv);
    out.expect_code(code);
    doc
}

#[test]
fn put_reports_in_input_order_and_as_one_job_would() {
    let (_plugins, cli) = cli_with(&["file"]);
    let work = tempdir();
    let files = files_with_gaps(&work.path().join("src"), 24);
    let store = work.path().join("store");
    let url = file_url(&store);
    let mut args = vec!["put", url.as_str()];
    args.extend(strs(&files));

    let one = run_jobs(&cli, &args, "1", EXIT_NOT_FOUND);
    fs::remove_dir_all(&store).unwrap();
    let four = run_jobs(&cli, &args, "4", EXIT_NOT_FOUND);
    assert_eq!(one, four, "--jobs 1 and --jobs 4 differ");

    let expected: Vec<(String, bool)> = (0..24).map(|i| (format!("f{i:02}"), i % 3 != 1)).collect();
    assert_eq!(outcomes(&four), expected);
    let stored = dir_entries(&store);
    assert_eq!(stored.len(), 16, "{stored:?}");
    for (name, _) in expected.iter().filter(|(_, ok)| *ok) {
        assert!(stored.contains_key(name), "{name} not stored");
    }

    // The text lines come in input order too.
    fs::remove_dir_all(&store).unwrap();
    let mut argv = args.clone();
    argv.extend(["--jobs", "4"]);
    let out = cli.run(&argv);
    out.expect_code(EXIT_NOT_FOUND);
    let stored_lines: Vec<&str> = out.out.lines().collect();
    let expected_lines: Vec<String> = files
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 1)
        .map(|(_, f)| format!("stored {} as ", f.display()))
        .collect();
    assert_eq!(stored_lines.len(), expected_lines.len(), "{out}");
    for (line, start) in stored_lines.iter().zip(&expected_lines) {
        assert!(
            line.starts_with(start),
            "{line:?} is not {start:?}...\n{out}"
        );
    }
}

#[test]
fn get_stat_rm_report_in_input_order_and_as_one_job_would() {
    let (_plugins, cli) = cli_with(&["file"]);
    let work = tempdir();
    let files = files_with_gaps(&work.path().join("src"), 18);
    let store = work.path().join("store");
    let url = file_url(&store);
    let present: Vec<&str> = strs(&files)
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 1)
        .map(|(_, f)| f)
        .collect();
    let mut put = vec!["put", url.as_str()];
    put.extend(&present);
    cli.run(&put).ok();

    let names: Vec<String> = (0..18).map(|i| format!("f{i:02}")).collect();
    let expected: Vec<(String, bool)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.clone(), i % 3 != 1))
        .collect();
    let out_dir = work.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    let mut get = vec!["get", url.as_str(), "-o", out_dir.to_str().unwrap()];
    get.extend(names.iter().map(String::as_str));
    let one = run_jobs(&cli, &get, "1", EXIT_NOT_FOUND);
    fs::remove_dir_all(&out_dir).unwrap();
    fs::create_dir(&out_dir).unwrap();
    let four = run_jobs(&cli, &get, "4", EXIT_NOT_FOUND);
    assert_eq!(one, four, "get: --jobs 1 and --jobs 4 differ");
    assert_eq!(outcomes(&four), expected);
    for (name, _) in expected.iter().filter(|(_, ok)| *ok) {
        let fetched = fs::read(out_dir.join(name)).unwrap();
        assert_eq!(fetched, fs::read(store.join(name)).unwrap(), "{name}");
    }

    let mut stat = vec!["stat", url.as_str()];
    stat.extend(names.iter().map(String::as_str));
    let one = run_jobs(&cli, &stat, "1", 0);
    let four = run_jobs(&cli, &stat, "4", 0);
    assert_eq!(one, four, "stat: --jobs 1 and --jobs 4 differ");
    let missing: Vec<(String, bool)> = items(&four)
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().to_string(),
                i["missing"] == false,
            )
        })
        .collect();
    assert_eq!(missing, expected);

    let mut rm = vec!["rm", url.as_str()];
    rm.extend(names.iter().map(String::as_str));
    let four = run_jobs(&cli, &rm, "4", EXIT_NOT_FOUND);
    assert_eq!(outcomes(&four), expected);
    assert!(dir_entries(&store).is_empty(), "{:?}", dir_entries(&store));
}

#[test]
fn a_failure_that_fails_everything_stops_new_work() {
    let (_plugins, cli) = cli_with(&["file", "panic"]);
    let work = tempdir();
    let files: Vec<PathBuf> = (0..40)
        .map(|i| {
            let path = work.path().join(format!("g{i:02}"));
            fs::write(&path, b"x").unwrap();
            path
        })
        .collect();
    let mut args = vec!["put", "panic:///x"];
    args.extend(strs(&files));
    let doc = run_jobs(&cli, &args, "4", EXIT_BACKEND);
    let items = items(&doc);
    assert_eq!(items.len(), 40, "every item is reported");
    let names: Vec<&str> = items.iter().map(|i| i["name"].as_str().unwrap()).collect();
    let expected: Vec<String> = (0..40).map(|i| format!("g{i:02}")).collect();
    assert_eq!(names, expected, "in input order");
    let message = |i: &Value| i["error"]["message"].as_str().unwrap_or("").to_string();
    // Four jobs take g00..g03 at once; whichever panics first poisons the
    // backend, and the others already running are refused by it.
    let tried: Vec<&Value> = items
        .iter()
        .filter(|i| !message(i).starts_with("not started"))
        .collect();
    assert!(
        tried
            .iter()
            .any(|i| message(i).contains("fixture panic in put")),
        "{doc}"
    );
    assert!(
        tried.iter().all(|i| {
            let m = message(i);
            m.contains("fixture panic in put") || m.contains("panicked earlier")
        }),
        "{doc}"
    );
    // The first failure stops new work; at most the other jobs already
    // running still finish.
    assert!(
        tried.len() <= 4,
        "{} puts were tried after the first panic\n{doc}",
        tried.len()
    );
    assert!(items.iter().all(|i| i["ok"] == false), "{doc}");
    assert!(files.iter().all(|f| f.exists()));
}

#[test]
fn mv_removes_only_what_was_stored() {
    let (_plugins, cli) = cli_with(&["file"]);
    let work = tempdir();
    let files = files_with_gaps(&work.path().join("src"), 12);
    let url = file_url(&work.path().join("store"));
    let mut args = vec!["mv", url.as_str()];
    args.extend(strs(&files));
    let doc = run_jobs(&cli, &args, "4", EXIT_NOT_FOUND);
    let expected: Vec<(String, bool)> = (0..12).map(|i| (format!("f{i:02}"), i % 3 != 1)).collect();
    assert_eq!(outcomes(&doc), expected);
    assert!(
        files.iter().all(|f| !f.exists()),
        "every existing file moved"
    );
    assert_eq!(dir_entries(&work.path().join("store")).len(), 8);
}

#[test]
fn space_backup_with_jobs_restores_whole() {
    let (_plugins, cli) = cli_with(&["file"]);
    let work = tempdir();
    let cli = cli.env("XDG_CONFIG_HOME", work.path().join("config"));
    let tree = work.path().join("tree");
    for d in 0..4 {
        let dir = tree.join(format!("d{d}"));
        fs::create_dir_all(&dir).unwrap();
        for f in 0..15u64 {
            write_data(&dir.join(format!("f{f}")), (f + 1) * 7_001 + d, f * 10 + d);
        }
    }
    let url = file_url(&work.path().join("store"));
    for jobs in ["1", "4"] {
        let space = format!("s{jobs}");
        let backup = [
            "space",
            "backup",
            &url,
            &space,
            tree.to_str().unwrap(),
            "--name",
            "t",
            "--jobs",
            jobs,
        ];
        cli.run(backup).ok();
        let to = work.path().join(format!("restored-{jobs}"));
        cli.run([
            "space",
            "restore",
            &url,
            &space,
            "t",
            "--to",
            to.to_str().unwrap(),
        ])
        .ok();
        for d in 0..4 {
            let sub = format!("d{d}");
            assert_eq!(
                fs::read_dir(tree.join(&sub)).unwrap().count(),
                dir_entries(&to.join(&sub)).len(),
                "--jobs {jobs}: {sub}"
            );
            for (name, _) in dir_entries(&tree.join(&sub)) {
                let a = fs::read(tree.join(&sub).join(&name)).unwrap();
                let b = fs::read(to.join(&sub).join(&name)).unwrap();
                assert!(a == b, "--jobs {jobs}: {sub}/{name} differs");
            }
        }
    }
}
