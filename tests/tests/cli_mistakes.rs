//! Everyday mistakes that used to lose data silently, performed for real
//! through the `stowage` command: two files with one base name in one
//! `put`, and `get -o` onto a symlink, a FIFO or a device.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;
use std::process::Command;

use stowage_tests::files::{assert_same_content, write_data};
use stowage_tests::{cli_with, file_store, Cli, FileStore, EXIT_INVALID, EXIT_USAGE};

fn setup() -> (tempfile::TempDir, Cli) {
    cli_with(&["file"])
}

/// A store (see [`file_store`]) into which `cli` put `obj` (4 KiB of seed
/// 7), and the local file it came from.
fn store_with_object(cli: &Cli) -> (FileStore, PathBuf) {
    let scene = file_store();
    let src = scene.path("obj");
    write_data(&src, 4096, 7);
    cli.run(["put", &scene.url, src.to_str().unwrap()]).ok();
    (scene, src)
}

#[test]
fn put_of_two_files_with_one_name_stores_nothing() {
    let (_p, cli) = setup();
    let scene = file_store();
    let (store, url) = (&scene.store, scene.url.as_str());
    for dir in ["a", "b", "c"] {
        scene.local_dir(dir);
    }
    let a = scene.data_file("a/x", 100, 1);
    let b = scene.data_file("b/x", 200, 2);
    let other = scene.data_file("c/y", 300, 3);

    let out = cli.run([
        "put",
        url,
        a.to_str().unwrap(),
        other.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    out.expect_code(EXIT_INVALID);
    assert!(
        !out.out.contains("stored"),
        "nothing may be reported stored\n{out}"
    );
    for needle in ["x", a.to_str().unwrap(), b.to_str().unwrap()] {
        assert!(
            out.err.contains(needle),
            "the collision must name {needle}\n{out}"
        );
    }
    // Refused before anything was stored: not even the innocent `y`.
    let stored: Vec<_> = fs::read_dir(store)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        stored.iter().all(|n| n.to_string_lossy().starts_with('.')),
        "objects were stored: {stored:?}"
    );

    // JSON names the collision too, and mv is refused the same way,
    // leaving both local files in place.
    let (out, doc) = cli.run_json(["mv", url, a.to_str().unwrap(), b.to_str().unwrap()]);
    out.expect_code(EXIT_INVALID);
    assert!(doc.to_string().contains(a.to_str().unwrap()), "{out}");
    assert!(a.exists() && b.exists(), "mv removed a local file\n{out}");

    // --name stays a one-file option (a usage error).
    cli.run([
        "put",
        url,
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--name",
        "z",
    ])
    .expect_code(EXIT_USAGE);
}

#[test]
fn get_onto_a_symlink_writes_through_it() {
    let (_p, cli) = setup();
    let (scene, src) = store_with_object(&cli);
    let (work, url) = (&scene.work, scene.url.as_str());
    let target = work.path().join("target");
    fs::write(&target, b"old content that is longer than nothing").unwrap();
    let link = work.path().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();

    cli.run(["get", url, "obj", "-o", link.to_str().unwrap()])
        .ok();
    let meta = fs::symlink_metadata(&link).unwrap();
    assert!(meta.file_type().is_symlink(), "the symlink was replaced");
    assert_same_content(&src, &target);
}

#[test]
fn get_onto_a_dangling_symlink_is_refused() {
    let (_p, cli) = setup();
    let (scene, _src) = store_with_object(&cli);
    let (work, url) = (&scene.work, scene.url.as_str());
    let link = work.path().join("link");
    let nowhere = work.path().join("nowhere");
    std::os::unix::fs::symlink(&nowhere, &link).unwrap();

    let out = cli.run(["get", url, "obj", "-o", link.to_str().unwrap()]);
    out.expect_code(EXIT_INVALID);
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(
        !nowhere.exists(),
        "a file was created through a dangling link"
    );
}

#[test]
fn get_onto_a_link_to_stdout_streams_and_keeps_the_link() {
    let (_p, cli) = setup();
    let (scene, src) = store_with_object(&cli);
    let (work, url) = (&scene.work, scene.url.as_str());
    // Our own link to /dev/stdout: the system's must never be at stake.
    let link = work.path().join("stdout-link");
    std::os::unix::fs::symlink("/dev/stdout", &link).unwrap();

    let out = cli.run(["get", url, "obj", "-o", link.to_str().unwrap()]);
    out.ok();
    let expected = fs::read(&src).unwrap();
    assert!(
        out.stdout.starts_with(&expected),
        "the object's bytes must reach stdout through the link\n{out}"
    );
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn get_dash_streams_to_stdout() {
    let (_p, cli) = setup();
    let (scene, src) = store_with_object(&cli);
    let (work, url) = (&scene.work, scene.url.as_str());

    let out = cli.run(["get", url, "obj", "-o", "-"]);
    out.ok();
    assert_eq!(
        out.stdout,
        fs::read(&src).unwrap(),
        "stdout must be exactly the object"
    );
    assert!(!work.path().join("-").exists());

    // Several names cannot share stdout.
    cli.run(["get", url, "obj", "obj", "-o", "-"])
        .expect_code(EXIT_INVALID);
}

#[test]
fn get_onto_a_fifo_writes_into_it() {
    let (_p, cli) = setup();
    let (scene, src) = store_with_object(&cli);
    let (work, url) = (&scene.work, scene.url.as_str());
    let fifo = work.path().join("fifo");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("running mkfifo");
    assert!(made.success());

    let reader_path = fifo.clone();
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        fs::File::open(&reader_path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .expect("reading the FIFO");
        bytes
    });
    cli.run(["get", url, "obj", "-o", fifo.to_str().unwrap()])
        .ok();
    // Checked before joining: a replaced FIFO never gets a writer, and
    // the reader would wait forever.
    assert!(
        fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(),
        "the FIFO was replaced"
    );
    let received = reader.join().unwrap();
    assert_eq!(received, fs::read(&src).unwrap());
}

#[test]
fn get_onto_a_device_writes_into_it() {
    let (_p, cli) = setup();
    let (scene, _src) = store_with_object(&cli);
    let (work, url) = (&scene.work, scene.url.as_str());
    // A private null device (as root); the system's /dev/null is never used.
    let null = work.path().join("null");
    let made = Command::new("mknod")
        .arg(&null)
        .args(["c", "1", "3"])
        .status();
    if !matches!(made, Ok(s) if s.success()) {
        eprintln!("SKIPPED: cannot mknod a character device here (not root?)");
        return;
    }
    let before = fs::symlink_metadata(&null).unwrap();
    cli.run(["get", url, "obj", "-o", null.to_str().unwrap()])
        .ok();
    let after = fs::symlink_metadata(&null).unwrap();
    assert!(
        after.file_type().is_char_device(),
        "the device was replaced by a file"
    );
    assert_eq!((before.ino(), before.rdev()), (after.ino(), after.rdev()));
}

#[test]
fn get_of_several_names_into_a_missing_directory_is_one_error() {
    let (_p, cli) = setup();
    let scene = file_store();
    let (work, url) = (&scene.work, scene.url.as_str());
    for (name, seed) in [("one", 1), ("two", 2)] {
        let f = work.path().join(name);
        write_data(&f, 10, seed);
        cli.run(["put", url, f.to_str().unwrap()]).ok();
    }
    let missing = work.path().join("missing");
    let out = cli.run(["get", url, "one", "two", "-o", missing.to_str().unwrap()]);
    out.expect_code(EXIT_INVALID);
    assert_eq!(
        out.err.matches("error").count(),
        1,
        "one error, not one per name\n{out}"
    );
    assert!(out.err.contains("missing"), "{out}");
    assert!(!missing.exists());

    // Into an existing directory, as always.
    let dir = work.path().join("dir");
    fs::create_dir(&dir).unwrap();
    cli.run(["get", url, "one", "two", "-o", dir.to_str().unwrap()])
        .ok();
    assert_same_content(&work.path().join("one"), &dir.join("one"));
    assert_same_content(&work.path().join("two"), &dir.join("two"));
}
