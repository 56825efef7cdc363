//! Plugins that really misbehave (fixture-misbehave), run isolated: each
//! fault fails only its own operation, with a reason naming the plugin and
//! what happened, while the good plugin beside it (the real file plugin,
//! isolated too) keeps working in the same registry.

mod isolate_support;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use isolate_support::{attempts, once, options, registry};
use stowage::{ErrorCode, Registry};
use stowage_isolate::Policy;
use stowage_tests::{plugin_dir_with, tempdir};

struct Run {
    _plugins: tempfile::TempDir,
    registry: Registry,
    work: tempfile::TempDir,
}

fn run_with(configure: impl FnOnce(&mut stowage_isolate::Options)) -> Run {
    let plugins = plugin_dir_with(&["file", "misbehave"]);
    let mut o = options(Policy::Always, &[]);
    configure(&mut o);
    let registry = registry(&[plugins.path()], o);
    assert_eq!(
        registry.plugins().len(),
        2,
        "both plugins load (described in children)"
    );
    Run {
        _plugins: plugins,
        registry,
        work: tempdir(),
    }
}

impl Run {
    fn store(&self) -> String {
        let dir = self.work.path().join("bad");
        fs::create_dir_all(&dir).unwrap();
        format!("misbehave://{}", dir.display())
    }

    fn source(&self) -> std::path::PathBuf {
        let src = self.work.path().join("payload");
        fs::write(&src, b"some payload").unwrap();
        src
    }

    /// Put of `name` through the misbehaving plugin, `n` attempts.
    fn bad_put(&self, name: &str, n: u32) -> Result<(), stowage::Error> {
        let backend = self
            .registry
            .open(&self.store())
            .unwrap()
            .with_retry(attempts(n));
        backend.put(&self.source(), name).map(|_| ())
    }

    /// The good plugin stores and fetches a file, here and now.
    fn good_still_works(&self) {
        let dir = self.work.path().join("good");
        let url = format!("file://{}", dir.display());
        let backend = self.registry.open(&url).unwrap().with_retry(once());
        let src = self.work.path().join("good-src");
        fs::write(&src, b"good data").unwrap();
        backend.put(&src, "ok").unwrap();
        let out = self.work.path().join("good-out");
        backend.get("ok", &out).unwrap();
        assert_eq!(fs::read(&out).unwrap(), b"good data");
        backend.close().unwrap();
    }
}

fn expect_death(err: &stowage::Error, what: &str) {
    let text = err.to_string();
    assert!(
        text.contains("fixture-misbehave"),
        "names the plugin: {text}"
    );
    assert!(text.contains(what), "says {what:?}: {text}");
    let backend = err.backend_error().expect("a backend error");
    assert_eq!(backend.code(), ErrorCode::TRANSIENT, "{text}");
    assert!(backend.is_retryable(), "a dead child is retryable: {text}");
}

#[test]
fn crashes_fail_only_their_own_put() {
    let cases = [
        ("segv", "SIGSEGV (signal 11)"),
        ("abort", "SIGABRT (signal 6)"),
        // Rust's guard page handler reports the overflow and aborts.
        ("recurse", "was killed by SIG"),
        ("exit", "exited with status 0"),
        // Allocation failure under RLIMIT_AS aborts.
        ("alloc", "SIGABRT"),
        ("garbage", "invalid frame"),
    ];
    for (name, what) in cases {
        let run = run_with(|_| {});
        run.good_still_works();
        let err = run.bad_put(name, 1).expect_err(name);
        expect_death(&err, what);
        assert!(err.to_string().contains("during put"), "{err}");
        run.good_still_works();
        // The same plugin serves the next operation from a new child.
        run.bad_put("fine", 1)
            .unwrap_or_else(|e| panic!("after {name}: {e}"));
    }
}

#[test]
fn an_endless_get_is_killed_at_the_op_timeout() {
    let run = run_with(|o| o.op_timeout = Duration::from_secs(2));
    let backend = run.registry.open(&run.store()).unwrap().with_retry(once());
    let started = Instant::now();
    let err = backend
        .get("loop", &run.work.path().join("never"))
        .expect_err("an endless get fails");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    expect_death(&err, "timed out");
    assert!(
        !run.work.path().join("never").exists(),
        "no file from a failed get"
    );
    run.good_still_works();
}

#[test]
fn a_child_that_dies_is_replaced_for_the_retry() {
    let run = run_with(|_| {});
    run.bad_put("segv-once", 3)
        .expect("the retry in a new child succeeds");
    let stored = Path::new(run.store().trim_start_matches("misbehave://")).join("segv-once");
    assert_eq!(fs::read(stored).unwrap(), b"some payload");
}

#[test]
fn three_deaths_break_the_plugin_for_the_run() {
    let run = run_with(|_| {});
    let err = run.bad_put("segv", 5).expect_err("never succeeds");
    let text = err.to_string();
    assert!(text.contains("broken for the rest of this run"), "{text}");
    assert!(
        text.contains("died 3 times") && text.contains("SIGSEGV"),
        "{text}"
    );
    assert!(
        !err.backend_error().unwrap().is_retryable(),
        "a broken plugin is permanent: {text}"
    );
    // Even a harmless operation through a new backend is refused now...
    let again = run.registry.open(&run.store()).err().map(|e| e.to_string());
    assert!(
        again.is_some_and(|t| t.contains("broken")),
        "open refused too"
    );
    // ...while the good plugin is untouched.
    run.good_still_works();
}

#[test]
fn landlock_denies_what_the_url_does_not_name() {
    let run = run_with(|_| {});
    let err = run
        .bad_put("shadow", 1)
        .expect_err("reading /etc/shadow is denied");
    assert_eq!(err.code(), ErrorCode::PERMISSION_DENIED, "{err}");
    assert!(err.to_string().contains("/etc/shadow"), "{err}");

    // Signals to processes outside the sandbox (the host) are refused.
    let err = run
        .bad_put("kill-host", 1)
        .expect_err("the host cannot be signalled");
    assert_eq!(err.code(), ErrorCode::PERMISSION_DENIED, "{err}");

    let outside = tempdir();
    let store = run.store();
    let store_dir = Path::new(store.trim_start_matches("misbehave://"));
    fs::write(
        store_dir.join("escape.to"),
        outside.path().to_str().unwrap(),
    )
    .unwrap();
    let err = run
        .bad_put("escape", 1)
        .expect_err("writing outside the store is denied");
    assert_eq!(err.code(), ErrorCode::PERMISSION_DENIED, "{err}");
    assert!(!outside.path().join("escaped").exists());
    run.good_still_works();

    // The same plugin in process (as root) reads and writes both: the
    // denial above is the confinement's, not the files'.
    let plugins = plugin_dir_with(&["misbehave"]);
    let in_process = registry(&[plugins.path()], options(Policy::Never, &[]));
    // Raw: the fixture stores nothing for these names, which the host's
    // size check would report.
    let backend = in_process.open_raw(&store).unwrap();
    let src = run.source();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        backend
            .put(&src, "shadow")
            .expect("root reads /etc/shadow in process");
        backend
            .put(&src, "escape")
            .expect("and writes outside the store");
        assert!(outside.path().join("escaped").exists());
    }
}
