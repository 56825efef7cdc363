//! `stowage copy`: objects from one backend to another through a private
//! spool directory that never outlives the command.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use stowage_tests::files::{assert_same_content, dir_entries, dir_names, write_data};
use stowage_tests::{cli_with, file_url, require_tool, tempdir, Cli, EXIT_NOT_FOUND};

/// A source directory with objects `names`, each of a different size.
fn source(root: &Path, names: &[&str]) -> PathBuf {
    let dir = root.join("src");
    fs::create_dir(&dir).unwrap();
    for (i, name) in names.iter().enumerate() {
        write_data(&dir.join(name), (i as u64) * 70_001, i as u64 + 1);
    }
    dir
}

/// A `Cli` (file and xorriso plugins) whose `$TMPDIR` is `tmp`.
fn cli(tmp: &Path) -> (tempfile::TempDir, Cli) {
    let (plugins, cli) = cli_with(&["file", "xorriso"]);
    fs::create_dir_all(tmp).unwrap();
    (plugins, cli.env("TMPDIR", tmp))
}

fn items(doc: &Value) -> &Vec<Value> {
    doc["items"].as_array().expect("items")
}

fn copied_flags(doc: &Value) -> Vec<(String, Option<bool>)> {
    items(doc)
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().to_string(),
                i["copied"].as_bool(),
            )
        })
        .collect()
}

#[test]
fn file_to_xorriso_to_file_round_trip() {
    if !require_tool("xorriso") {
        return;
    }
    let work = tempdir();
    let tmp = work.path().join("tmp");
    let (_plugins, cli) = cli(&tmp);
    let names = ["empty", "a b", "vol-1.tar", "vol-2.tar"];
    let src = source(work.path(), &names);
    let iso = format!(
        "xorriso://{}:/host1",
        work.path().join("year.iso").display()
    );
    let back = work.path().join("back");

    let (out, doc) = cli.run_json(["copy", &file_url(&src), &iso, "--jobs", "3"]);
    out.ok();
    assert_eq!(doc["data"]["copied"], 4, "{out}");
    let ls = cli.run(["ls", &iso]);
    ls.ok();
    for name in names {
        assert!(ls.out.contains(name), "{name} not in the image\n{ls}");
    }

    cli.run(["copy", &iso, &file_url(&back)]).ok();
    assert_eq!(dir_entries(&back), dir_entries(&src));
    for name in names {
        assert_same_content(&src.join(name), &back.join(name));
    }
    assert!(
        dir_names(&tmp).is_empty(),
        "spool left: {:?}",
        dir_names(&tmp)
    );
}

#[test]
fn update_skips_objects_of_the_same_size() {
    let work = tempdir();
    let tmp = work.path().join("tmp");
    let (_plugins, cli) = cli(&tmp);
    let src = source(work.path(), &["a", "b", "c"]);
    let dst = work.path().join("dst");
    cli.run(["copy", &file_url(&src), &file_url(&dst)]).ok();

    // b changes size and d is new: copied; a and c are skipped.
    write_data(&src.join("b"), 12_345, 99);
    write_data(&src.join("d"), 10, 7);
    let (out, doc) = cli.run_json(["copy", "--update", &file_url(&src), &file_url(&dst)]);
    out.ok();
    assert_eq!(
        copied_flags(&doc),
        [
            ("a".into(), Some(false)),
            ("b".into(), Some(true)),
            ("c".into(), Some(false)),
            ("d".into(), Some(true)),
        ],
        "{out}"
    );
    assert_eq!(doc["data"]["unchanged"], 2);
    assert_same_content(&src.join("b"), &dst.join("b"));
    assert_same_content(&src.join("d"), &dst.join("d"));

    // Without --update everything is copied again.
    let (out, doc) = cli.run_json(["copy", &file_url(&src), &file_url(&dst)]);
    out.ok();
    assert_eq!(doc["data"]["copied"], 4, "{out}");
}

#[test]
fn missing_names_fail_alone_with_exit_52() {
    let work = tempdir();
    let tmp = work.path().join("tmp");
    let (_plugins, cli) = cli(&tmp);
    let src = source(work.path(), &["a", "b"]);
    let dst = work.path().join("dst");
    let (out, doc) = cli.run_json(["copy", &file_url(&src), &file_url(&dst), "a", "nope", "b"]);
    out.expect_code(EXIT_NOT_FOUND);
    assert_eq!(doc["code"], EXIT_NOT_FOUND);
    let items = items(&doc);
    assert_eq!(items.len(), 3, "{out}");
    assert_eq!(items[1]["name"], "nope");
    assert_eq!(items[1]["code"], EXIT_NOT_FOUND, "{out}");
    assert_eq!(dir_names(&dst), ["a", "b"]);
    assert!(out.err.contains("nope"), "{out}");
    assert!(
        dir_names(&tmp).is_empty(),
        "spool left: {:?}",
        dir_names(&tmp)
    );

    // A name is literal even when it looks like a pattern.
    let out = cli.run(["copy", &file_url(&src), &file_url(&dst), "*"]);
    out.expect_code(EXIT_NOT_FOUND);
}

#[test]
fn globs_choose_from_the_source_listing() {
    let work = tempdir();
    let tmp = work.path().join("tmp");
    let (_plugins, cli) = cli(&tmp);
    let src = source(
        work.path(),
        &["2024-a.tar", "2025-a.tar", "2025-b.tar", "notes"],
    );
    let dst = work.path().join("dst");
    let (out, doc) = cli.run_json([
        "copy",
        &file_url(&src),
        &file_url(&dst),
        "--glob",
        "2025-*",
        "notes",
    ]);
    out.ok();
    assert_eq!(items(&doc).len(), 3, "{out}");
    assert_eq!(dir_names(&dst), ["2025-a.tar", "2025-b.tar", "notes"]);

    let out = cli.run(["copy", &file_url(&src), &file_url(&dst), "--glob", "1999-*"]);
    out.expect_code(EXIT_NOT_FOUND);
    assert!(out.err.contains("1999-*"), "{out}");
}

#[test]
fn an_interrupted_copy_removes_its_spool() {
    let work = tempdir();
    let tmp = work.path().join("tmp");
    let (_plugins, cli) = cli(&tmp);
    let src = work.path().join("src");
    fs::create_dir(&src).unwrap();
    for i in 0..8 {
        write_data(&src.join(format!("big{i}")), 64 << 20, i);
    }
    let dst = work.path().join("dst");
    let mut child = cli
        .command(["copy", "--jobs", "1", &file_url(&src), &file_url(&dst)])
        .spawn()
        .expect("spawning stowage copy");
    // Wait until a spool file exists, then interrupt.
    let start = Instant::now();
    let spool = loop {
        let found = fs::read_dir(&tmp)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("stowage-spool-")
            });
        if let Some(dir) = found {
            if fs::read_dir(&dir)
                .map(|mut d| d.next().is_some())
                .unwrap_or(false)
            {
                break dir;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no spool file appeared"
        );
        if let Some(status) = child.try_wait().unwrap() {
            panic!("copy ended ({status}) before it could be interrupted");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(128 + libc::SIGINT), "{out:?}");
    assert!(!spool.exists(), "the spool {} was left", spool.display());
    // Only the spool is copy's to remove; an isolated plugin's per-process
    // staging directories of an interrupted host are swept by the next
    // start of stowage (see docs/isolation.md).
    let spools: Vec<String> = dir_names(&tmp)
        .into_iter()
        .filter(|n| n.starts_with("stowage-spool-"))
        .collect();
    assert!(spools.is_empty(), "{spools:?}");
}
