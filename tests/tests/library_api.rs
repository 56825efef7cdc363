//! The host library used in-process, as a tool author embeds it: real
//! plugin files loaded into this test process.

use std::path::Path;
use std::sync::Arc;

use stowage::plugin::LoadOptions;
use stowage::{Backend, Error, ErrorCode, Registry, RetryPolicy, SearchPath};
use stowage_tests::files::read_counters;
use stowage_tests::{file_url, plugin_dir_with, scratch, tempdir, Scratch};

fn registry(plugins: &Path) -> Registry {
    let registry = Registry::load_with(
        &SearchPath::new(vec![plugins.to_path_buf()]),
        &LoadOptions::default(),
    );
    assert!(
        registry.rejected().is_empty(),
        "unexpected rejections: {:?}",
        registry.rejected()
    );
    registry
}

/// A file backend on a fresh store (`<work>/store`), one attempt per
/// operation, to share between threads; the plugin directory and the work
/// directory must outlive it.
fn shared_file_backend() -> (tempfile::TempDir, tempfile::TempDir, Arc<Backend>) {
    let plugins = plugin_dir_with(&["file"]);
    let registry = registry(plugins.path());
    let work = tempdir();
    let backend = registry
        .open(&file_url(&work.path().join("store")))
        .unwrap()
        .with_retry(fast(1));
    (plugins, work, Arc::new(backend))
}

/// A registry with the flaky fixture alone, and its plugin directory.
fn flaky_registry() -> (tempfile::TempDir, Registry) {
    let plugins = plugin_dir_with(&["flaky"]);
    let registry = registry(plugins.path());
    (plugins, registry)
}

fn fast(attempts: u32) -> RetryPolicy {
    RetryPolicy::new(
        attempts,
        std::time::Duration::from_millis(1),
        std::time::Duration::from_millis(5),
    )
    .unwrap()
}

#[test]
fn a_panicking_plugin_is_an_error_and_the_process_keeps_working() {
    let plugins = plugin_dir_with(&["panic", "file"]);
    let registry = registry(plugins.path());
    let work = tempdir();
    let src = work.path().join("src");
    std::fs::write(&src, b"payload").unwrap();

    let panicky = registry.open("panic:///anywhere").unwrap();
    let err = panicky.put(&src, "obj").unwrap_err();
    assert_eq!(err.code(), ErrorCode::PANIC, "{err}");
    assert!(err.to_string().contains("panic"), "{err}");
    // Poisoned: later calls fail the same way, without running plugin code.
    let err = panicky.list().unwrap_err();
    assert_eq!(err.code(), ErrorCode::PANIC, "{err}");
    assert!(err.to_string().contains("panicked earlier"), "{err}");

    // A panic in open is an error too.
    let err = registry.open("panic:///x?in=open").unwrap_err();
    assert_eq!(err.code(), ErrorCode::PANIC, "{err}");

    // Same process, another plugin: business as usual.
    let store = work.path().join("store");
    let file = registry.open(&file_url(&store)).unwrap();
    assert_eq!(file.put(&src, "obj").unwrap(), 7);
    file.get("obj", &work.path().join("back")).unwrap();
    assert_eq!(std::fs::read(work.path().join("back")).unwrap(), b"payload");
    file.close().unwrap();
}

#[test]
fn invalid_names_never_reach_a_plugin() {
    let (_plugins, registry) = flaky_registry();
    let Scratch { work, src, .. } = scratch(b"x");
    let store = work.path().join("d");
    let backend = registry
        .open(&format!("flaky://{}", store.display()))
        .unwrap();
    let long = "n".repeat(256);
    for bad in ["", ".", "..", "a/b", "a\0b", long.as_str()] {
        let err = backend.put(&src, bad).unwrap_err();
        assert!(matches!(err, Error::InvalidName { .. }), "{bad:?}: {err}");
        assert_eq!(err.code(), ErrorCode::INVALID_INPUT);
        assert!(backend.get(bad, &work.path().join("out")).is_err());
        assert!(backend.delete(bad).is_err());
        assert!(backend.query(bad).is_err());
    }
    let counters = read_counters(&store.join(".flaky-counters"));
    for op in ["put", "get", "delete", "query", "query_list"] {
        assert_eq!(
            counters.get(op),
            None,
            "{op} reached the plugin: {counters:?}"
        );
    }
    assert!(!work.path().join("out").exists());
}

#[test]
fn transient_errors_are_retried_with_cleanup_in_between() {
    let (_plugins, registry) = flaky_registry();
    let Scratch { work, src, .. } = scratch(b"abc");
    let store = work.path().join("d");
    let url = format!("flaky://{}?fail=3&error=transient&ops=put", store.display());
    let backend = registry.open(&url).unwrap().with_retry(fast(5));
    backend.put(&src, "obj").unwrap();
    let c = read_counters(&store.join(".flaky-counters"));
    assert_eq!((c["put"], c["retry_cleanup"]), (4, 3), "{c:?}");

    let url = format!("flaky://{}?fail=1&error=notfound", store.display());
    let backend = registry.open(&url).unwrap().with_retry(fast(5));
    let err = backend.get("obj", &work.path().join("out")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::NOT_FOUND);
    let c = read_counters(&store.join(".flaky-counters"));
    assert_eq!(c.get("get"), Some(&1), "not found is attempted once: {c:?}");
    assert_eq!(c.get("retry_cleanup"), None, "{c:?}");
}

/// 8 threads × 1,001 mixed operations (put, query, get; delete every
/// other object) on distinct names through one backend handle: nothing
/// lost, nothing corrupted.
#[test]
fn eight_threads_share_one_backend() {
    let (_plugins, work, backend) = shared_file_backend();
    let scratch = work.path().join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let backend = Arc::clone(&backend);
            let scratch = scratch.clone();
            std::thread::spawn(move || {
                let mut ops = 0u32;
                for i in 0..286 {
                    let name = format!("t{t}-obj{i}");
                    let content = format!("thread {t} object {i} {}", "x".repeat(i * 7));
                    let src = scratch.join(format!("src-{t}"));
                    std::fs::write(&src, &content).unwrap();
                    assert_eq!(backend.put(&src, &name).unwrap(), content.len() as u64);
                    assert_eq!(backend.query(&name).unwrap(), Some(content.len() as u64));
                    let out = scratch.join(format!("out-{t}"));
                    backend.get(&name, &out).unwrap();
                    assert_eq!(std::fs::read_to_string(&out).unwrap(), content);
                    ops += 3;
                    if i % 2 == 1 {
                        backend.delete(&name).unwrap();
                        ops += 1;
                    }
                }
                ops
            })
        })
        .collect();
    let total: u32 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(total, 8 * (286 * 3 + 143));
    let mut listed = backend.list().unwrap();
    listed.sort();
    let mut expected: Vec<(String, u64)> = (0..8)
        .flat_map(|t| {
            (0..286).step_by(2).map(move |i| {
                let content = format!("thread {t} object {i} {}", "x".repeat(i * 7));
                (format!("t{t}-obj{i}"), content.len() as u64)
            })
        })
        .collect();
    expected.sort();
    assert_eq!(listed, expected);
    backend.close().unwrap();
}

/// Concurrent puts of different contents to one name end with exactly one
/// complete version.
#[test]
fn concurrent_puts_to_one_name_leave_one_whole_version() {
    let (_plugins, work, backend) = shared_file_backend();
    let versions: Vec<Vec<u8>> = (0..8u8)
        .map(|t| vec![b'a' + t; 256 * 1024 + t as usize])
        .collect();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let backend = Arc::clone(&backend);
            let src = work.path().join(format!("v{t}"));
            std::fs::write(&src, &versions[t]).unwrap();
            std::thread::spawn(move || {
                for _ in 0..20 {
                    // The size check may see another thread's version: that
                    // is a validation failure, not corruption.
                    match backend.put(&src, "contested") {
                        Ok(_) => {}
                        Err(e) => assert_eq!(e.code(), ErrorCode::VALIDATION_FAILED, "{e}"),
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let out = work.path().join("out");
    backend.get("contested", &out).unwrap();
    let got = std::fs::read(&out).unwrap();
    assert!(
        versions.contains(&got),
        "a mixed or partial version: {} bytes",
        got.len()
    );
    assert_eq!(
        backend.list().unwrap().len(),
        1,
        "no temporary object is listed"
    );
}
