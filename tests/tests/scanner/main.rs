//! The plugin scanner (the out-of-process probe and its cache): every kind of bad plugin file
//! next to the real file plugin. Files that would crash, end or hang the
//! process that loads them are probed in a child (`stowage __probe-plugin`)
//! and rejected with the reason the child's fate gives; the host keeps
//! running, and the good plugins work in the very same invocation. Verdicts
//! are cached in `$XDG_CACHE_HOME/stowage/plugin-probes.json` until a file
//! changes; a corrupt or unwritable cache is a warning, never fatal.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use stowage_tests::files::dir_names;

mod cache;
use stowage_tests::{
    copy_plugin_as, file_url, loaded_plugin, ls_entries, plugin_file, rejected_reason, tempdir,
    work_with_file, Cli, Output, EXIT_BACKEND, EXIT_OK,
};

/// A file in the scanner's plugin directory that must be rejected, and the
/// fragments its reason must contain.
struct Bad {
    file: &'static str,
    reason: &'static [&'static str],
}

/// Every fixture and junk file the host must refuse, with its reason. The
/// hanging constructor is kept apart: it costs the probe timeout (10 s).
const BAD: &[Bad] = &[
    Bad {
        file: "libfixture_abort_ctor.so",
        reason: &["loading it killed the probe process with SIGABRT"],
    },
    Bad {
        file: "libfixture_exit_ctor.so",
        reason: &["ended the probe process", "before it could report"],
    },
    Bad {
        file: "libfixture_wrong_abi_major.so",
        reason: &["library version mismatch", "library:2.0.0"],
    },
    Bad {
        file: "libfixture_wrong_abi_field.so",
        reason: &["speaks stowage ABI version 2, this host speaks 1"],
    },
    Bad {
        // See `older_layout_reason_carries_the_expected_and_found_values`
        // for what it should also say.
        file: "libfixture_older_layout.so",
        reason: &[
            "incompatible ABI layout",
            "incompatible type size",
            "different prefix",
        ],
    },
    Bad {
        file: "libfixture_bad_scheme.so",
        reason: &["invalid scheme name \"Bad Scheme!\""],
    },
    Bad {
        file: "libfixture_no_root.so",
        reason: &["not a stowage plugin"],
    },
    Bad {
        file: "libzeroed.so",
        reason: &["loading it killed the probe process with SIGSEGV"],
    },
    Bad {
        file: "libtruncated.so",
        reason: &["truncated: a loadable segment ends at byte"],
    },
    Bad {
        file: "libnotes.so",
        reason: &["not an ELF file"],
    },
];

const HANG: Bad = Bad {
    file: "libfixture_hang_ctor.so",
    reason: &["loading it hung", "killed after 10 s"],
};

/// Where the program header table ends and where the last loadable
/// segment's bytes end in the ELF image `elf` (64-bit little-endian).
fn elf_extent(elf: &[u8]) -> (usize, usize) {
    let u16_at = |at: usize| usize::from(u16::from_le_bytes([elf[at], elf[at + 1]]));
    let u64_at = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&elf[at..at + 8]);
        usize::try_from(u64::from_le_bytes(b)).expect("offset fits usize")
    };
    let (phoff, phentsize, phnum) = (u64_at(32), u16_at(54), u16_at(56));
    let load_end = (0..phnum)
        .map(|i| phoff + i * phentsize)
        // PT_LOAD: p_offset at +8, p_filesz at +32.
        .filter(|&ph| u32::from_le_bytes([elf[ph], elf[ph + 1], elf[ph + 2], elf[ph + 3]]) == 1)
        .map(|ph| u64_at(ph + 8) + u64_at(ph + 32))
        .max()
        .expect("the plugin has loadable segments");
    (phoff + phentsize * phnum, load_end)
}

/// Writes `bytes` as a plugin file (mode 0755).
fn write_plugin(dir: &Path, name: &str, bytes: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    fs::write(&path, bytes).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// A plugin directory with the real file plugin, the always-transient
/// fixture, the duplicate-scheme fixture (under a name sorting after the
/// file plugin, so the real one keeps `file`), every file of [`BAD`], and
/// the hanging constructor when `hang`.
fn scanner_dir(hang: bool) -> tempfile::TempDir {
    let dir = stowage_tests::plugin_dir_with(&["file", "always-transient"]);
    let d = dir.path();
    for fixture in [
        "abort-ctor",
        "exit-ctor",
        "wrong-abi-major",
        "wrong-abi-field",
        "older-layout",
        "bad-scheme",
        "no-root",
    ] {
        let src = plugin_file(fixture);
        copy_plugin_as(d, fixture, src.file_name().unwrap().to_str().unwrap());
    }
    if hang {
        copy_plugin_as(d, "hang-ctor", HANG.file);
    }
    copy_plugin_as(d, "dup-scheme", "libzz_dup_scheme.so");

    let real = fs::read(plugin_file("file")).unwrap();
    let (headers_end, load_end) = elf_extent(&real);
    // Overwritten with zeros after its headers: the ELF pre-check passes
    // (headers intact, length unchanged), the dynamic section is gone, and
    // the dynamic loader crashes relocating it (SIGSEGV with glibc).
    let mut zeroed = real.clone();
    zeroed[headers_end..load_end].fill(0);
    write_plugin(d, "libzeroed.so", &zeroed);
    // Cut in the middle of its loadable segments: the pre-check must catch
    // it before `mmap` turns it into a SIGBUS.
    write_plugin(d, "libtruncated.so", &real[..load_end / 2]);
    write_plugin(d, "libnotes.so", b"release notes, not a library\n");
    dir
}

fn assert_no_signal(out: &Output) {
    assert_eq!(out.signal, None, "the host was killed by a signal\n{out}");
}

/// The absolute paths the host was asked to probe, from `-vv` output.
fn probed(out: &Output) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = out
        .err
        .lines()
        .filter_map(|l| {
            l.split_once("probing ")?
                .1
                .strip_suffix(" in a child process")
        })
        .map(PathBuf::from)
        .collect();
    paths.sort();
    paths
}

fn so_files(dir: &Path) -> Vec<PathBuf> {
    dir_names(dir)
        .into_iter()
        .filter(|n| n.ends_with(".so"))
        .map(|n| dir.join(n))
        .collect()
}

/// Puts `src` into the file store `store` through `cli`: the process
/// survives the plugin scan and succeeds.
fn put_survives(cli: &Cli, store: &Path, src: &Path) -> Output {
    let out = cli.run(["put", &file_url(store), src.to_str().unwrap()]);
    assert_no_signal(&out);
    out.ok();
    out
}

/// Checks that the JSON string `value` (a path) ends with `suffix`.
fn assert_ends_with(value: &Value, suffix: &str, out: &Output) {
    assert!(
        value.as_str().is_some_and(|v| v.ends_with(suffix)),
        "{value} does not end with {suffix}\n{out}"
    );
}

/// Checks that a line of `text` that `kind` accepts names `bad`'s file
/// with every fragment of its reason.
fn line_names(text: &str, kind: impl Fn(&str) -> bool, bad: &Bad, out: &Output) {
    let line = text
        .lines()
        .find(|l| kind(l) && l.contains(bad.file))
        .unwrap_or_else(|| panic!("no line about {}\n{out}", bad.file));
    for fragment in bad.reason {
        assert!(line.contains(fragment), "{line:?} lacks {fragment:?}");
    }
}

fn check_reason(doc: &Value, bad: &Bad, out: &Output) {
    let reason = rejected_reason(doc, bad.file)
        .unwrap_or_else(|| panic!("{} not listed as rejected\n{out}", bad.file));
    for fragment in bad.reason {
        assert!(
            reason.contains(fragment),
            "{}: reason {reason:?} lacks {fragment:?}\n{out}",
            bad.file
        );
    }
    eprintln!("rejected {}: {reason}", bad.file);
}

fn loaded_names(doc: &Value) -> Vec<String> {
    let mut names: Vec<String> = doc["data"]["plugins"]
        .as_array()
        .expect("a plugins array")
        .iter()
        .map(|p| p["name"].as_str().expect("a plugin name").to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn every_bad_plugin_is_rejected_with_its_reason_and_the_good_ones_work() {
    let plugins = scanner_dir(true);
    let cli = Cli::new(plugins.path());
    let work = tempdir();
    let store = work.path().join("store");
    let src = work.path().join("backup.vol1");
    fs::write(&src, b"the same run stores this").unwrap();

    // The first run probes every file (the hanging one until the 10 s
    // timeout) and still does its work.
    let started = Instant::now();
    let out = cli.run(["put", &file_url(&store), src.to_str().unwrap()]);
    let first = started.elapsed();
    eprintln!("first run (probes everything, one hangs): {first:.2?}");
    assert_no_signal(&out);
    out.ok();
    assert_eq!(dir_names(&store), vec!["backup.vol1"], "{out}");
    for bad in BAD.iter().chain([&HANG]) {
        line_names(&out.err, |l| l.contains("not loaded"), bad, &out);
    }
    assert!(
        out.err.contains("libstowage_file.so") && out.err.contains("libzz_dup_scheme.so"),
        "the scheme conflict warning names both files\n{out}"
    );

    // Later runs use the cached verdicts: nothing is probed again, not even
    // the hanging file.
    let started = Instant::now();
    let (out, doc) = cli.clone().global(["-vv"]).run_json(["plugins"]);
    eprintln!("second run (cached verdicts): {:.2?}", started.elapsed());
    assert_no_signal(&out);
    out.ok();
    assert_eq!(probed(&out), Vec::<PathBuf>::new(), "re-probed\n{out}");
    assert_eq!(
        loaded_names(&doc),
        vec!["file", "fixture-always-transient", "fixture-dup-scheme"],
        "{out}"
    );
    for bad in BAD.iter().chain([&HANG]) {
        check_reason(&doc, bad, &out);
    }
    assert_eq!(
        doc["data"]["rejected"].as_array().unwrap().len(),
        BAD.len() + 1,
        "{out}"
    );
    let conflicts = doc["data"]["conflicts"]
        .as_array()
        .expect("a conflicts array");
    assert_eq!(conflicts.len(), 1, "{out}");
    let c = &conflicts[0];
    assert_eq!(
        (&c["handler"], &c["kind"]),
        (&"file".into(), &"scheme".into())
    );
    assert_ends_with(&c["winner"], "/libstowage_file.so", &out);
    assert_ends_with(&c["loser"], "/libzz_dup_scheme.so", &out);

    // Text mode: one line per rejected file, with its reason; the conflict.
    let out = cli.run(["plugins"]);
    assert_no_signal(&out);
    out.ok();
    for bad in BAD.iter().chain([&HANG]) {
        line_names(&out.out, |l| l.starts_with("rejected: "), bad, &out);
    }
    assert!(
        out.out
            .lines()
            .any(|l| l.starts_with("conflict: scheme \"file\"")
                && l.contains("libzz_dup_scheme.so")
                && l.ends_with("libstowage_file.so wins")),
        "{out}"
    );

    // The good plugins keep working next to all of it.
    let (out, doc) = cli.run_json(["ls", &file_url(&store)]);
    out.ok();
    assert_eq!(ls_entries(&doc), vec![("backup.vol1".to_string(), 24)]);
    let fetched = work.path().join("fetched");
    cli.run([
        "get",
        &file_url(&store),
        "backup.vol1",
        "-o",
        fetched.to_str().unwrap(),
    ])
    .ok();
    stowage_tests::files::assert_same_content(&src, &fetched);

    // A loaded plugin that never works costs only its own retries.
    let out = cli
        .clone()
        .global(["--retries", "3"])
        .run(["ls", "transient:///anywhere"]);
    assert_no_signal(&out);
    out.expect_code(EXIT_BACKEND);
    assert!(
        out.err.contains("failed after 3 attempts")
            && out
                .err
                .contains("fixture-always-transient: list is never available"),
        "{out}"
    );
}

#[test]
fn the_first_plugin_in_search_order_keeps_a_duplicated_scheme() {
    let work = tempdir();
    let store = file_url(&work.path().join("s"));

    // In one directory, files load in name order: the impostor
    // (libfixture_dup_scheme.so) comes before libstowage_file.so and wins.
    let both = stowage_tests::plugin_dir_with(&["dup-scheme", "file"]);
    let cli = Cli::new(both.path());
    let (out, doc) = cli.run_json(["plugins"]);
    out.ok();
    let c = &doc["data"]["conflicts"][0];
    assert_ends_with(&c["winner"], "/libfixture_dup_scheme.so", &out);
    assert_ends_with(&c["loser"], "/libstowage_file.so", &out);
    assert!(
        out.err.contains("libfixture_dup_scheme.so") && out.err.contains("libstowage_file.so"),
        "the warning names both files\n{out}"
    );
    let out = cli.run(["ls", &store]);
    out.expect_code(EXIT_BACKEND);
    assert!(
        out.err
            .contains("fixture-dup-scheme: not the real file plugin"),
        "{out}"
    );

    // Directories come before names: the first directory wins even though
    // the impostor's name would sort first.
    let real = stowage_tests::plugin_dir_with(&["file"]);
    let impostor = stowage_tests::plugin_dir_with(&["dup-scheme"]);
    let cli = Cli::with_dirs(&[real.path(), impostor.path()]);
    let (out, doc) = cli.run_json(["plugins"]);
    out.ok();
    let c = &doc["data"]["conflicts"][0];
    assert_ends_with(&c["winner"], "/libstowage_file.so", &out);
    assert!(loaded_plugin(&doc, "fixture-dup-scheme").is_some(), "{out}");
    cli.run(["ls", &store]).ok();
}

/// Sets the modification time of `path` to `t`.
#[test]

fn older_layout_reason_carries_the_expected_and_found_values() {
    let plugins = stowage_tests::plugin_dir_with(&["older-layout"]);
    let (out, doc) = Cli::new(plugins.path()).run_json(["plugins"]);
    let reason = rejected_reason(&doc, "libfixture_older_layout.so").expect("rejected");
    assert!(reason.contains("too many fields"), "{out}");
    assert!(
        !reason.contains("Expected: Found:"),
        "values missing\n{out}"
    );
    assert!(reason.contains('6') && reason.contains('5'), "{out}");
}

#[test]

fn a_constructor_that_forks_cannot_stall_the_scan() {
    // The fixture's helper lives 30 s; the probe timeout is 10 s.
    let plugins = stowage_tests::plugin_dir_with(&["file", "fork-ctor"]);
    let cli = Cli::new(plugins.path());
    let mut child = cli
        .command(["--json", "plugins"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(15) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("`stowage plugins` still running after 15 s: stalled by the forked helper");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(loaded_plugin(&doc, "file").is_some());
    assert!(rejected_reason(&doc, "libfixture_fork_ctor.so").is_some());
}

#[test]

fn a_probe_that_cannot_start_is_not_cached_as_the_files_verdict() {
    use stowage::plugin::{LoadOptions, Prober};
    use stowage::Registry;

    let plugins = stowage_tests::plugin_dir_with(&["file"]);
    let file = plugins.path().join("libstowage_file.so");
    let work = tempdir();
    let cache_file = work.path().join("probes.json");
    let prober = |program: PathBuf| Prober {
        program,
        args: vec!["__probe-plugin".into()],
        timeout: Duration::from_secs(10),
    };
    let options = |program: PathBuf| LoadOptions {
        prober: Some(prober(program)),
        cache_file: Some(cache_file.clone()),
        ..LoadOptions::default()
    };

    // The probe cannot even start (think EAGAIN from fork under a process
    // limit): this run cannot load the file, fair enough...
    let broken = Registry::load_files(
        std::slice::from_ref(&file),
        Vec::new(),
        &options(work.path().join("no-such-program")),
    );
    assert!(broken.rejected()[0]
        .reason
        .contains("cannot start the plugin probe"));

    // ...but the next run, with a working probe, must not inherit that.
    let fixed = Registry::load_files(
        std::slice::from_ref(&file),
        Vec::new(),
        &options(stowage_tests::stowage_bin()),
    );
    assert_eq!(fixed.rejected(), &[], "a host-side failure was cached");
    assert_eq!(fixed.plugins().len(), 1);
}
