//! Backup spaces under concurrency: 8 threads on one space handle, and a
//! second writer (another handle, another process) refused.

mod spaces_support;

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::sync::Mutex;

use spaces_support::*;
use stowage_space::SpaceError;

const THREADS: usize = 8;
const OPS: usize = 500;

#[test]
fn eight_threads_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    let url = file_url(&store_dir);
    let store = open_store(&url).unwrap();
    let space = store.space("busy", true).unwrap();
    // What must be in the space at the end: name -> content.
    let expected: Mutex<BTreeMap<String, Vec<u8>>> = Mutex::new(BTreeMap::new());
    let started = std::time::Instant::now();
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let space = &space;
            let expected = &expected;
            let work = dir.path().join(format!("t{t}"));
            fs::create_dir_all(&work).unwrap();
            scope.spawn(move || {
                let mut mine: Vec<(String, Vec<u8>, bool)> = Vec::new();
                for op in 0..OPS {
                    // Shared content across threads exercises the per-object
                    // upload lock and dedup.
                    let content = bytes((op % 37) as u64 + (t as u64 % 2) * 1000, 200 + op % 300);
                    match op % 6 {
                        0 | 3 => {
                            let name = format!("v-{t}-{op}");
                            space.backup_value(&content, &name).unwrap();
                            mine.push((name, content, false));
                        }
                        1 | 4 => {
                            let path = work.join(format!("f{op}"));
                            fs::write(&path, &content).unwrap();
                            let name = format!("f-{t}-{op}");
                            space.backup_path(&path, Some(&name)).unwrap();
                            mine.push((name, content, true));
                        }
                        2 => {
                            let (name, content, is_file) = &mine[op / 2 % mine.len()];
                            if *is_file {
                                let to = work.join(format!("restored{op}"));
                                space.restore_name(name, Some(&to)).unwrap();
                                assert_eq!(&fs::read(&to).unwrap(), content);
                            } else {
                                assert_eq!(&space.restore_value(name).unwrap(), content);
                            }
                        }
                        _ => {
                            // Delete an earlier value, then check a duplicate
                            // name is refused.
                            let i = mine.iter().position(|(_, _, f)| !f).unwrap();
                            let (name, _, _) = mine.remove(i);
                            space.delete(&name).unwrap();
                            let (other, _, _) = &mine[0];
                            assert!(matches!(
                                space.backup_value(b"x", other).unwrap_err(),
                                SpaceError::NameExists { .. }
                            ));
                        }
                    }
                }
                let mut expected = expected.lock().unwrap();
                for (name, content, _) in mine {
                    expected.insert(name, content);
                }
            });
        }
    });
    let elapsed = started.elapsed();
    let expected = expected.into_inner().unwrap();
    let names: Vec<String> = space.entries().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, expected.keys().cloned().collect::<Vec<_>>());
    assert!(space.verify().unwrap().is_empty());
    space.close().unwrap();
    drop(space);
    drop(store);

    // A fresh handle reads the same from the backend.
    let store = open_store(&url).unwrap();
    let space = store.open_space_read_only("busy").unwrap();
    assert_eq!(space.entries().len(), expected.len());
    for (name, content) in &expected {
        if name.starts_with("v-") {
            assert_eq!(&space.restore_value(name).unwrap(), content, "{name}");
        } else {
            let to = dir.path().join("check");
            space.restore_name(name, Some(&to)).unwrap();
            assert_eq!(&fs::read(&to).unwrap(), content, "{name}");
        }
    }
    assert!(space.verify().unwrap().is_empty());
    eprintln!(
        "{THREADS} threads x {OPS} operations in {elapsed:?}: {} entries at generation {}",
        expected.len(),
        space.info().generation
    );
    // Only the current manifest is left.
    let manifests = objects(&store_dir)
        .into_iter()
        .filter(|o| o.starts_with("space-"))
        .count();
    assert_eq!(manifests, 1);
}

#[test]
fn a_second_handle_in_process_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let url = file_url(&dir.path().join("store"));
    let one = open_store(&url).unwrap();
    let two = open_store(&url).unwrap();
    let writer = one.space("s", true).unwrap();
    let e = two.space("s", true).unwrap_err();
    assert!(matches!(e, SpaceError::InUse { .. }), "{e}");
    assert!(
        e.to_string()
            .contains(&format!("pid {}", std::process::id())),
        "{e}"
    );
    // Readers wait for the writer too; then share.
    assert!(two.open_space_read_only("s").is_err());
    // gc needs the store alone.
    assert!(matches!(
        two.gc().unwrap_err(),
        SpaceError::StoreBusy { .. }
    ));
    writer.close().unwrap();
    let r1 = two.open_space_read_only("s").unwrap();
    let r2 = one.open_space_read_only("s").unwrap();
    assert!(matches!(
        r1.backup_value(b"x", "y").unwrap_err(),
        SpaceError::NotWritable { .. }
    ));
    assert!(one.open_space("s").is_err());
    drop((r1, r2));
    one.open_space("s").unwrap().close().unwrap();
}

#[test]
fn a_second_process_is_refused_while_the_first_writes() {
    let dir = tempfile::tempdir().unwrap();
    let url = file_url(&dir.path().join("store"));
    let cache = dir.path().join("cache");
    let file = dir.path().join("f");
    fs::write(&file, b"data").unwrap();
    // The first writer opens the space, then reads its value from stdin:
    // it holds the space until we close its input.
    let mut first = cli(&cache)
        .args([
            "-v",
            "space",
            "backup-value",
            &url,
            "shared",
            "big",
            "--from",
            "-",
        ])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(first.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut l = String::new();
        assert!(
            stderr.read_line(&mut l).unwrap() > 0,
            "first writer ended: {seen}"
        );
        seen.push_str(&l);
        if l.contains("for writing") {
            break;
        }
    }
    let file_arg = file.to_str().unwrap();
    for args in [
        vec!["space", "backup", &url, "shared", file_arg],
        vec!["space", "show", &url, "shared"],
    ] {
        let o = run(cli(&cache).args(&args));
        let (code, _, err) = outcome(&o);
        assert_eq!(code, 50, "{args:?}: {err}");
        assert!(err.contains("in use") && err.contains("pid"), "{err}");
    }
    let mut stdin = first.stdin.take().unwrap();
    stdin.write_all(&bytes(1, 1 << 20)).unwrap();
    drop(stdin);
    assert!(first.wait().unwrap().success());
    let o = run(cli(&cache)
        .args(["space", "backup", &url, "shared"])
        .arg(&file));
    assert_eq!(outcome(&o).0, 0, "{:?}", outcome(&o));
    let o = run(cli(&cache).args(["--json", "space", "show", &url, "shared"]));
    let v: serde_json::Value = serde_json::from_str(&outcome(&o).1).unwrap();
    assert_eq!(v["data"]["space"]["entries"], 2);
}
