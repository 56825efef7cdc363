//! Plugin discovery: junk files in a plugin directory are rejected with a
//! reason and do not stop the good plugins; two plugins exporting the same
//! root-module type both load; duplicate schemes are a reported conflict.

use std::fs;
use std::path::Path;

use serde_json::Value;
use stowage_tests::files::dir_names;
use stowage_tests::{
    cli_with, copy_plugin_as, file_url, ls_entries, plugin_dir_with, plugin_file, put_fresh,
    tempdir, work_with_file, Cli, Scratch, EXIT_INVALID, EXIT_NOT_FOUND,
};

/// The `plugins` entry named `name`, if loaded.
fn plugin<'a>(doc: &'a Value, name: &str) -> Option<&'a Value> {
    doc["data"]["plugins"]
        .as_array()
        .expect("plugins --json has a plugins array")
        .iter()
        .find(|p| p["name"] == name)
}

fn schemes(p: &Value) -> Vec<String> {
    p["schemes"]
        .as_array()
        .expect("schemes array")
        .iter()
        .map(|s| s["name"].as_str().expect("scheme name").to_string())
        .collect()
}

/// The `rejected` entry whose file name is `file_name`.
fn rejected<'a>(doc: &'a Value, file_name: &str) -> Option<&'a Value> {
    doc["data"]["rejected"].as_array()?.iter().find(|r| {
        r["file"]
            .as_str()
            .is_some_and(|f| Path::new(f).file_name() == Some(file_name.as_ref()))
    })
}

/// A plugin directory with the file and memory plugins and every kind of
/// junk file a plugin directory may hold (not ELF, wrong class, no root
/// module).
fn junk_dir() -> tempfile::TempDir {
    let dir = plugin_dir_with(&["file", "memory", "no-root"]);
    fs::write(dir.path().join("libx.so"), "this is not a shared library\n").unwrap();
    fs::write(dir.path().join("libempty.so"), b"").unwrap();
    let real = fs::read(plugin_file("file")).unwrap();
    fs::write(dir.path().join("libtruncated.so"), &real[..4096]).unwrap();
    dir
}

const JUNK: &[&str] = &[
    "libx.so",
    "libempty.so",
    "libtruncated.so",
    "libfixture_no_root.so",
];

#[test]
fn junk_files_are_rejected_with_reasons_and_good_plugins_still_work() {
    let plugins = junk_dir();
    let cli = Cli::new(plugins.path());

    let (out, doc) = cli.run_json(["plugins"]);
    out.ok();
    let file = plugin(&doc, "file").unwrap_or_else(|| panic!("file plugin not loaded\n{out}"));
    assert_eq!(schemes(file), vec!["file"]);
    assert!(
        file["file"]
            .as_str()
            .is_some_and(|f| f.ends_with("libstowage_file.so")),
        "{out}"
    );
    assert_eq!(file["abi_version"], 1, "{out}");
    assert!(
        file["version"].is_string() && file["description"].is_string(),
        "{out}"
    );
    let memory =
        plugin(&doc, "fixture-memory").unwrap_or_else(|| panic!("memory not loaded\n{out}"));
    assert_eq!(schemes(memory), vec!["memory"]);
    assert_eq!(doc["data"]["plugins"].as_array().unwrap().len(), 2, "{out}");

    for junk in JUNK {
        let r =
            rejected(&doc, junk).unwrap_or_else(|| panic!("{junk} not listed as rejected\n{out}"));
        let reason = r["reason"].as_str().unwrap_or("");
        assert!(
            !reason.trim().is_empty(),
            "{junk} rejected without a reason\n{out}"
        );
    }
    assert_eq!(
        doc["data"]["rejected"].as_array().unwrap().len(),
        JUNK.len(),
        "{out}"
    );

    // Text mode names every rejected file too.
    let out = cli.run(["plugins"]);
    out.ok();
    for junk in JUNK {
        assert!(out.all_text().contains(junk), "{junk} not mentioned\n{out}");
    }

    // The good plugins work in a run that also sees the junk.
    let Scratch {
        work: _work, store, ..
    } = put_fresh(&cli, b"works");
    let (out, doc) = cli.run_json(["ls", &file_url(&store)]);
    out.ok();
    assert_eq!(ls_entries(&doc), vec![("src".to_string(), 5)]);
}

#[test]
fn the_truncated_plugin_does_not_crash_any_command() {
    let plugins = junk_dir();
    let cli = Cli::new(plugins.path());
    let work = tempdir();
    let out = cli.run(["ls", &file_url(work.path())]);
    assert_eq!(
        out.signal, None,
        "killed by a signal (SIGBUS on a truncated .so?)\n{out}"
    );
    out.ok();
}

#[test]
fn same_root_module_type_in_two_plugins_dispatches_to_each() {
    let (_plugins, cli) = cli_with(&["file", "memory"]);
    let (work, src) = work_with_file("obj", b"data");
    let dir = work.path().join("d");

    // memory:// keeps objects in memory: nothing reaches the disk...
    let memory_url = format!("memory://{}", dir.display());
    cli.run(["put", &memory_url, src.to_str().unwrap()]).ok();
    assert!(
        !dir.exists(),
        "memory:// wrote to disk: {:?}",
        dir_names(&dir)
    );
    // ...and each process starts empty; its own error text proves whose
    // code answered.
    let (out, doc) = cli.run_json(["ls", &memory_url]);
    out.ok();
    assert_eq!(ls_entries(&doc), vec![]);
    // A get of a missing name into `<work>/<file>`: not found.
    let get_missing = |url: &str, name: &str, file: &str| {
        let dest = work.path().join(file);
        let out = cli.run(["get", url, name, "-o", dest.to_str().unwrap()]);
        out.expect_code(EXIT_NOT_FOUND);
        out
    };
    let out = get_missing(&memory_url, "obj", "x");
    assert!(
        out.err.contains("fixture-memory:"),
        "memory plugin's message expected\n{out}"
    );

    // file:// with the same location goes to the file plugin.
    let file_url = file_url(&dir);
    cli.run(["put", &file_url, src.to_str().unwrap()]).ok();
    assert_eq!(dir_names(&dir), vec!["obj"]);
    let out = get_missing(&file_url, "nope", "y");
    assert!(
        !out.err.contains("fixture-memory"),
        "file:// answered by memory\n{out}"
    );
}

#[test]
fn two_copies_of_one_plugin_conflict_and_the_first_in_order_wins() {
    let plugins = tempdir();
    let first = copy_plugin_as(plugins.path(), "file", "liba_file.so");
    let second = copy_plugin_as(plugins.path(), "file", "libb_file.so");
    let cli = Cli::new(plugins.path());

    let (out, doc) = cli.run_json(["plugins"]);
    out.ok();
    let conflicts = doc["data"]["conflicts"]
        .as_array()
        .unwrap_or_else(|| panic!("no conflicts\n{out}"));
    let c = conflicts
        .iter()
        .find(|c| c["handler"] == "file")
        .unwrap_or_else(|| panic!("no conflict for the file scheme\n{out}"));
    assert_eq!(c["kind"], "scheme", "{out}");
    let mentions = |v: &Value, p: &Path| {
        v.as_str().is_some_and(|s| {
            s == p.to_str().unwrap() || s.ends_with(p.file_name().unwrap().to_str().unwrap())
        })
    };
    assert!(
        mentions(&c["winner"], &first),
        "liba wins (sorted order)\n{out}"
    );
    assert!(mentions(&c["loser"], &second), "libb loses\n{out}");

    // The stderr or text output warns about it as well.
    let out = cli.run(["plugins"]);
    out.ok();
    assert!(out.all_text().contains("libb_file.so"), "{out}");

    // And file:// still works.
    let Scratch {
        work: _work, store, ..
    } = put_fresh(&cli, b"1");
    assert_eq!(dir_names(&store), vec!["src"]);
}

#[test]
fn fixtures_are_not_on_the_default_search_path() {
    // Without --plugin-dir the host searches its own directory
    // (target/debug): the real file plugin is there, the fixtures never.
    let cli = Cli::with_dirs(&[]);
    let (out, doc) = cli.run_json(["plugins"]);
    out.ok();
    assert!(plugin(&doc, "file").is_some(), "{out}");
    for p in doc["data"]["plugins"].as_array().unwrap() {
        assert!(
            !p["name"].as_str().unwrap_or("").starts_with("fixture-"),
            "a fixture on the default path\n{out}"
        );
    }
}

#[test]
fn unknown_scheme_lists_registered_schemes_and_rejected_files() {
    let plugins = junk_dir();
    let cli = Cli::new(plugins.path());
    let out = cli.run(["ls", "nope:///x"]);
    out.expect_code(EXIT_INVALID);
    assert!(out.err.contains("nope"), "names the scheme\n{out}");
    for scheme in ["file", "memory"] {
        assert!(out.err.contains(scheme), "lists {scheme}\n{out}");
    }
    for junk in JUNK {
        assert!(out.err.contains(junk), "mentions rejected {junk}\n{out}");
    }
    cli.run_json(["ls", "nope:///x"])
        .0
        .expect_json_error(EXIT_INVALID, "nope");
}

#[test]
fn credentials_in_urls_never_appear_in_output() {
    let plugins = junk_dir();
    let cli = Cli::new(plugins.path());
    let (_work, src) = work_with_file("f", b"x");
    let url = "nope://user:secret@host/x";
    let runs = [
        cli.run(["ls", url]),
        cli.run_json(["ls", url]).0,
        cli.run(["put", url, src.to_str().unwrap()]),
        cli.run_json(["get", url, "n"]).0,
        cli.clone().global(["-vvv"]).run(["stat", url, "n"]),
        cli.run(["ls", "nope://user:secret@host:99999/x"]),
        cli.run(["ls", "wrap+nope://user:secret@host/x"]),
    ];
    for out in &runs {
        assert_eq!(out.code, EXIT_INVALID, "{out}");
        assert!(
            !out.all_text().contains("secret"),
            "the password leaked\n{out}"
        );
    }
}

#[test]
fn credentials_are_scrubbed_from_plugin_messages_and_logs() {
    // flaky:// treats `user:secret@host/d` as a relative path, so its own
    // error messages contain the password; the host must scrub it.
    let plugins = plugin_dir_with(&["flaky"]);
    let work = tempdir();
    let cli = Cli::new(plugins.path()).cwd(work.path());
    let url = "flaky://user:secret@host/d?fail=1&error=transient";
    let runs = [
        cli.clone().global(["-vvv"]).run(["get", url, "missing"]),
        cli.run_json(["get", url, "missing"]).0,
        cli.clone()
            .global(["-vvv", "--retries", "1"])
            .run(["ls", url]),
    ];
    for out in &runs {
        assert_ne!(out.code, 0, "{out}");
        assert!(
            !out.all_text().contains("secret"),
            "the password leaked\n{out}"
        );
    }
}
