//! The probe cache: verdicts are kept until a plugin file changes; a
//! corrupt or unwritable cache is a warning, never fatal.

use super::*;

fn set_mtime(path: &Path, t: SystemTime) {
    fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(t))
        .unwrap_or_else(|e| panic!("setting the mtime of {}: {e}", path.display()));
}

#[test]
fn probe_verdicts_are_cached_until_the_file_changes() {
    let plugins = scanner_dir(false);
    let cli = Cli::new(plugins.path()).global(["-vv"]);
    let all = so_files(plugins.path());
    let cache_file = cli.cache_home().join("stowage/plugin-probes.json");
    assert!(!cache_file.exists());

    // First run: every file is probed, the verdicts are written.
    let out = cli.run(["plugins"]);
    out.ok();
    assert_eq!(probed(&out), all, "{out}");
    let cache: Value = serde_json::from_slice(&fs::read(&cache_file).unwrap()).unwrap();
    assert_eq!(cache["format"], 3);
    let entries = cache["entries"].as_object().expect("cache entries");
    assert_eq!(entries.len(), all.len(), "{cache:#}");
    let entry = |name: &str| &entries[plugins.path().join(name).to_str().unwrap()];
    assert_eq!(
        entry("libstowage_file.so")["verdict"]["accepted"]["name"],
        "file"
    );
    // What a command needs to know without loading it: its schemes.
    assert_eq!(
        entry("libstowage_file.so")["verdict"]["accepted"]["schemes"][0]["name"],
        "file"
    );
    let abort = entry("libfixture_abort_ctor.so");
    assert!(
        abort["verdict"]["rejected"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("SIGABRT")),
        "{cache:#}"
    );
    for field in ["size", "mtime_ns", "ctime_ns", "inode", "device", "host"] {
        assert!(!abort["key"][field].is_null(), "no {field} in {abort}");
    }

    // Second run: no child process at all.
    let out = cli.run(["plugins"]);
    out.ok();
    assert_eq!(probed(&out), Vec::<PathBuf>::new(), "{out}");

    // Changed files, and only they, are probed again: a new mtime (touch),
    // a new size (appended bytes), a new inode (replaced by a copy with the
    // same size and mtime).
    let touched = plugins.path().join("libstowage_file.so");
    set_mtime(&touched, SystemTime::now() + Duration::from_secs(5));
    let grown = plugins.path().join("libfixture_bad_scheme.so");
    let mut bytes = fs::read(&grown).unwrap();
    bytes.extend_from_slice(b"appended");
    fs::write(&grown, bytes).unwrap();
    let replaced = plugins.path().join("libfixture_abort_ctor.so");
    let mtime = fs::metadata(&replaced).unwrap().modified().unwrap();
    let copy = plugins.path().join("abort.tmp");
    fs::copy(&replaced, &copy).unwrap();
    set_mtime(&copy, mtime);
    fs::rename(&copy, &replaced).unwrap();
    let out = cli.run_json(["plugins"]).0;
    let mut expected = vec![touched, grown, replaced];
    expected.sort();
    assert_eq!(probed(&out), expected, "{out}");
    // The new verdicts are the same (trailing bytes do not matter to ELF).
    let doc = out.json();
    assert!(loaded_plugin(&doc, "file").is_some(), "{out}");
    assert!(
        rejected_reason(&doc, "libfixture_abort_ctor.so").is_some_and(|r| r.contains("SIGABRT"))
    );
    assert!(rejected_reason(&doc, "libfixture_bad_scheme.so")
        .is_some_and(|r| r.contains("Bad Scheme!")));

    // A change of the inode alone (a chmod to the same mode; a re-link)
    // moves the ctime, which no user can set back: probed again.
    let chmodded = plugins.path().join("libstowage_file.so");
    let mode = fs::metadata(&chmodded).unwrap().permissions();
    fs::set_permissions(&chmodded, mode).unwrap();
    let out = cli.run(["plugins"]);
    out.ok();
    assert_eq!(probed(&out), vec![chmodded], "{out}");

    // --rescan probes everything again, cache or not.
    let out = cli.run(["plugins", "--rescan"]);
    out.ok();
    assert_eq!(probed(&out), all, "{out}");
    let out = cli.run(["plugins"]);
    assert_eq!(probed(&out), Vec::<PathBuf>::new(), "{out}");
}

#[test]
fn a_corrupt_probe_cache_is_ignored_with_a_warning() {
    let plugins = scanner_dir(false);
    let all = so_files(plugins.path());
    let (work, src) = work_with_file("f", b"x");
    // Entries of the wrong shape under this version's own format number.
    let format = {
        let cli = Cli::new(plugins.path());
        cli.run(["plugins"]).ok();
        let written = fs::read(cli.cache_home().join("stowage/plugin-probes.json")).unwrap();
        serde_json::from_slice::<Value>(&written).unwrap()["format"].clone()
    };
    let misshapen = format!("{{\"format\": {format}, \"entries\": 42}}");

    for garbage in [
        &b"\x00\x01 not json at all"[..],
        b"{\"format\": 1, \"entries\": {\"/x.so\": ",
        misshapen.as_bytes(),
    ] {
        let cli = Cli::new(plugins.path()).global(["-vv"]);
        let cache_file = cli.cache_home().join("stowage/plugin-probes.json");
        fs::create_dir_all(cache_file.parent().unwrap()).unwrap();
        fs::write(&cache_file, garbage).unwrap();

        let store = work.path().join(format!("s{}", garbage.len()));
        let out = put_survives(&cli, &store, &src);
        assert!(
            out.err.contains("ignoring the corrupt plugin probe cache"),
            "no warning for {garbage:?}\n{out}"
        );
        assert_eq!(probed(&out), all, "{out}");
        assert_eq!(dir_names(&store), vec!["f"]);
        // Rewritten whole, and used by the next run.
        let cache: Value = serde_json::from_slice(&fs::read(&cache_file).unwrap())
            .unwrap_or_else(|e| panic!("the cache was not rewritten: {e}"));
        assert_eq!(cache["entries"].as_object().unwrap().len(), all.len());
        let out = cli.run(["ls", &file_url(&store)]);
        out.ok();
        assert!(!out.err.contains("corrupt"), "{out}");
        assert_eq!(probed(&out), Vec::<PathBuf>::new(), "{out}");
    }
}

/// A cache another stowage version wrote (another format number) is not
/// corrupt: it is replaced without a warning, and every plugin probed.
#[test]
fn a_cache_in_another_format_is_replaced_quietly() {
    let plugins = scanner_dir(false);
    let all = so_files(plugins.path());
    let (work, src) = work_with_file("f", b"x");
    let cli = Cli::new(plugins.path()).global(["-vv"]);
    let cache_file = cli.cache_home().join("stowage/plugin-probes.json");
    fs::create_dir_all(cache_file.parent().unwrap()).unwrap();
    fs::write(
        &cache_file,
        br#"{"format": 1, "entries": {"/x.so": {"key": {"size": 1}}}}"#,
    )
    .unwrap();
    let out = put_survives(&cli, &work.path().join("s"), &src);
    assert!(!out.err.contains("corrupt"), "{out}");
    assert!(!out.err.contains("WARN  stowage::plugin::cache"), "{out}");
    assert_eq!(probed(&out), all, "{out}");
    let cache: Value = serde_json::from_slice(&fs::read(&cache_file).unwrap()).unwrap();
    assert_eq!(cache["entries"].as_object().unwrap().len(), all.len());
}

#[test]
fn an_unwritable_probe_cache_is_a_warning() {
    let plugins = scanner_dir(false);
    let all = so_files(plugins.path());
    let (work, src) = work_with_file("f", b"x");
    // XDG_CACHE_HOME is a regular file: the cache can be neither read nor
    // created below it.
    let not_a_dir = work.path().join("cache-is-a-file");
    fs::write(&not_a_dir, b"").unwrap();
    let cli = Cli::new(plugins.path())
        .global(["-vv"])
        .env("XDG_CACHE_HOME", &not_a_dir);
    let store = work.path().join("s");

    for run in 0..2 {
        let out = put_survives(&cli, &store, &src);
        assert!(
            out.err.contains("cannot write the plugin probe cache"),
            "run {run}: no warning\n{out}"
        );
        // Nothing is cached, so every run probes again, and still works.
        assert_eq!(probed(&out), all, "run {run}\n{out}");
        assert_eq!(dir_names(&store), vec!["f"]);
    }
    let (out, doc) = cli.run_json(["plugins"]);
    out.expect_code(EXIT_OK);
    check_reason(&doc, &BAD[0], &out);
}
