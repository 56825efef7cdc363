//! A `put` whose puts are committed at close (the xorriso plugin batches
//! them into one session): when that commit fails, every put it discarded
//! is reported as not stored, in text, `--json` and `--json-lines`, even
//! though a "stored" line was printed before the close.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use stowage_tests::files::write_data;
use stowage_tests::{cli_with, listing, require_tool, tempdir, Cli, EXIT_NO_SPACE};

/// The files of one batch: 3 × 400 KiB fit in the 2 MiB tmpfs as staged
/// copies, but not, with the session's padding, in what is left for the
/// image, so xorriso's commit at close fails with a full medium.
const BATCH: [&str; 3] = ["one", "two", "three"];
const BATCH_FILE_SIZE: u64 = 400 << 10;

/// A tmpfs of a fixed size, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// `None` (after a loud skip) when this process cannot mount.
    fn mount(size: &str) -> Option<Self> {
        let dir = tempdir();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if mounted {
            return Some(Self { dir });
        }
        if std::env::var_os("STOWAGE_REQUIRE_MOUNT").is_some() {
            panic!("cannot mount a tmpfs (STOWAGE_REQUIRE_MOUNT is set)");
        }
        eprintln!("\n*** SKIPPED: cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN) ***\n");
        None
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

fn batch_files(dir: &Path) -> Vec<PathBuf> {
    BATCH
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let path = dir.join(name);
            write_data(&path, BATCH_FILE_SIZE, 40 + i as u64);
            path
        })
        .collect()
}

fn put_args<'a>(url: &'a str, files: &'a [PathBuf]) -> Vec<&'a str> {
    let mut args = vec!["put", url];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    args
}

/// An image on a 2 MiB tmpfs that already holds one committed session
/// (the object `first`), the xorriso CLI, and the batch files beside it.
struct FullMedium {
    _plugins: tempfile::TempDir,
    cli: Cli,
    /// `xorriso://<tmpfs>/full.iso`.
    url: String,
    work: tempfile::TempDir,
    /// The [`BATCH`] files in `work`.
    files: Vec<PathBuf>,
    /// Declared last, so unmounted after everything else is dropped.
    _medium: Tmpfs,
}

/// A [`FullMedium`]; `None` (after a loud skip) without xorriso or when
/// this process cannot mount.
fn full_medium() -> Option<FullMedium> {
    if !require_tool("xorriso") {
        return None;
    }
    let medium = Tmpfs::mount("2m")?;
    let (plugins, cli) = cli_with(&["xorriso"]);
    let url = format!("xorriso://{}", medium.dir.path().join("full.iso").display());
    let work = tempdir();
    let first = work.path().join("first");
    std::fs::write(&first, b"committed before").unwrap();
    cli.run(["put", &url, first.to_str().unwrap()]).ok();
    let files = batch_files(work.path());
    Some(FullMedium {
        _plugins: plugins,
        cli,
        url,
        work,
        files,
        _medium: medium,
    })
}

/// Asserts `item` is a put of a batch file that ended not stored.
#[track_caller]
fn assert_not_stored(item: &Value) {
    assert_eq!(item["ok"], false, "{item}");
    assert_eq!(item["code"], EXIT_NO_SPACE, "{item}");
    assert_eq!(item["error"]["code"], EXIT_NO_SPACE, "{item}");
    let message = item["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("not stored: the commit at close failed: "),
        "{item}"
    );
}

#[test]
fn a_failed_commit_at_close_reports_every_put_of_the_batch_as_not_stored() {
    let Some(scene) = full_medium() else {
        return;
    };
    let FullMedium {
        cli, url, files, ..
    } = &scene;

    // Text: each "stored" line is followed by a correction naming it.
    let out = cli.run(put_args(url, files));
    out.expect_code(EXIT_NO_SPACE);
    for (file, name) in files.iter().zip(BATCH) {
        let stored = format!("stored {} as {name} ", file.display());
        assert!(out.out.contains(&stored), "{out}");
        assert!(
            out.out
                .contains(&format!("{name}: NOT stored (the commit at close failed)")),
            "{name} is not reported as not stored\n{out}"
        );
    }
    assert!(out.err.contains("discarded"), "{out}");

    // --json: every item carries its final state; the close error is the
    // command's.
    let (out, doc) = cli.run_json(put_args(url, files));
    out.expect_code(EXIT_NO_SPACE);
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["code"], EXIT_NO_SPACE);
    assert_eq!(doc["error"]["code"], EXIT_NO_SPACE);
    let items = doc["items"].as_array().unwrap();
    assert_eq!(items.len(), BATCH.len(), "{doc}");
    for (item, name) in items.iter().zip(BATCH) {
        assert_eq!(item["name"], name);
        assert_not_stored(item);
    }

    // --json-lines: each item line as it was done, then an amended line
    // with its final state, then the document with no items.
    let out = cli
        .clone()
        .global(["--json-lines"])
        .run(put_args(url, files));
    out.expect_code(EXIT_NO_SPACE);
    let lines: Vec<Value> = out
        .out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2 * BATCH.len() + 1, "{out}");
    for (i, name) in BATCH.iter().enumerate() {
        assert_eq!(lines[i]["name"], *name, "{out}");
        assert_eq!(lines[i]["ok"], true, "{out}");
        let amended = &lines[BATCH.len() + i];
        assert_eq!(amended["name"], *name, "{out}");
        assert_eq!(amended["amended"], true, "{out}");
        assert_not_stored(amended);
    }
    let closing = lines.last().unwrap();
    assert_eq!(closing["code"], EXIT_NO_SPACE);
    assert_eq!(closing["items"], serde_json::json!([]));

    // The medium kept its last session: the earlier object, nothing else.
    assert_eq!(
        listing(cli, url),
        vec![("first".to_string(), b"committed before".len() as u64)]
    );
}

#[test]
fn a_successful_commit_at_close_keeps_every_put_stored() {
    if !require_tool("xorriso") {
        return;
    }
    let (_plugins, cli) = cli_with(&["xorriso"]);
    let work = tempdir();
    let url = format!("xorriso://{}", work.path().join("roomy.iso").display());
    let files = batch_files(work.path());
    let (out, doc) = cli.run_json(put_args(&url, &files));
    out.ok();
    let items = doc["items"].as_array().unwrap();
    assert_eq!(items.len(), BATCH.len(), "{doc}");
    for (item, name) in items.iter().zip(BATCH) {
        assert_eq!(item["name"], name, "{doc}");
        assert_eq!(item["ok"], true, "{doc}");
        assert_eq!(item["size"], BATCH_FILE_SIZE, "{doc}");
    }
    let mut expected: Vec<(String, u64)> = BATCH
        .iter()
        .map(|n| (n.to_string(), BATCH_FILE_SIZE))
        .collect();
    expected.sort();
    assert_eq!(listing(&cli, &url), expected);
}

/// `mv` onto a medium whose commit at close fails keeps every local file:
/// the sources go only after the close succeeded (before, xorriso consumed
/// them into staging and the failed commit lost them).
#[test]
fn a_failed_commit_at_close_keeps_the_files_mv_was_moving() {
    let Some(scene) = full_medium() else {
        return;
    };
    let FullMedium {
        cli,
        url,
        work,
        files,
        ..
    } = &scene;
    let mut args = put_args(url, files);
    args[0] = "mv";
    let out = cli.run(args);
    out.expect_code(EXIT_NO_SPACE);
    for file in files {
        assert!(file.exists(), "{} was lost\n{out}", file.display());
    }

    // A move whose close succeeds removes the local file.
    let roomy = format!("xorriso://{}", work.path().join("roomy.iso").display());
    let out = cli.run(["mv", &roomy, files[0].to_str().unwrap()]);
    out.ok();
    assert!(!files[0].exists(), "{out}");
    assert!(listing(cli, &roomy).iter().any(|(n, _)| n == BATCH[0]));
}
