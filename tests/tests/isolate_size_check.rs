//! The size check after a put, isolated: the child queries the object
//! right after the put and sends both outcomes in one reply
//! (`stowage.put-query/1`), and the host checks that size exactly as it
//! checks its own query's, in process. The fixture `flaky` counts every
//! call its backend gets (`DIR/.flaky-counters`), lies about sizes on
//! request, and fails a chosen operation a chosen number of times.

mod isolate_support;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use isolate_support::{attempts, once, options, registry};
use stowage::put_query::{self, PutQueryObject};
use stowage::{Backend, ErrorCode, RetryPolicy};
use stowage_isolate::Policy;
use stowage_tests::files::read_counters;
use stowage_tests::{plugin_dir_with, tempdir};

/// Runs `check(mode, backend, store, source)` on a `flaky` backend opened
/// with `params` and `retry`, once in process and once isolated, each with
/// a store of its own; the source holds 12 bytes.
fn in_both_modes(params: &str, retry: RetryPolicy, check: impl Fn(&str, &Backend, &Path, &Path)) {
    let plugins = plugin_dir_with(&["flaky"]);
    let work = tempdir();
    let src = work.path().join("src");
    fs::write(&src, b"twelve bytes").unwrap();
    for (mode, policy) in [("in process", Policy::Never), ("isolated", Policy::Always)] {
        let registry = registry(&[plugins.path()], options(policy, &[]));
        let store = work.path().join(mode);
        let backend = registry
            .open(&format!("flaky://{}{params}", store.display()))
            .unwrap()
            .with_retry(retry);
        check(mode, &backend, &store, &src);
        backend.close().unwrap();
    }
}

fn counters(store: &Path) -> BTreeMap<String, u64> {
    read_counters(&store.join(".flaky-counters"))
}

#[test]
fn a_put_is_checked_by_one_query_in_process_and_isolated() {
    in_both_modes("", once(), |mode, backend, store, src| {
        // Isolated, the query comes with the put (the host asks nothing
        // more); in process the host queries after the put.
        let brought = backend
            .raw()
            .extension_as::<PutQueryObject>(put_query::ID)
            .unwrap()
            .is_some();
        assert_eq!(brought, mode == "isolated", "{mode}");
        assert_eq!(backend.put(src, "obj").unwrap(), 12, "{mode}");
        let c = counters(store);
        assert_eq!(
            (c.get("put"), c.get("query")),
            (Some(&1), Some(&1)),
            "{mode}: {c:?}"
        );
    });
}

#[test]
fn a_size_the_backend_misreports_fails_the_put_in_process_and_isolated() {
    in_both_modes("?lie=1", once(), |mode, backend, _, src| {
        let err = backend.put(src, "obj").unwrap_err();
        assert_eq!(err.code(), ErrorCode::VALIDATION_FAILED, "{mode}: {err}");
        assert!(
            err.to_string()
                .contains("sent 12 bytes, the backend holds 13"),
            "{mode}: {err}"
        );
    });
}

/// The query after the put fails (transiently): isolated, that was the
/// child's query, and it counts as the first attempt: the host cleans up
/// and asks again itself under its retry policy, exactly as in process,
/// and the put succeeds.
#[test]
fn a_failed_query_after_the_put_is_retried_as_in_process() {
    let params = "?fail=1&error=transient&ops=query";
    in_both_modes(params, attempts(3), |mode, backend, store, src| {
        assert_eq!(backend.put(src, "obj").unwrap(), 12, "{mode}");
        let c = counters(store);
        assert_eq!(
            (c.get("put"), c.get("query"), c.get("retry_cleanup")),
            (Some(&1), Some(&2), Some(&1)),
            "{mode}: {c:?}"
        );
    });
    // Failing more often than the policy allows fails the put, after as
    // many attempts at the query as in process.
    let params = "?fail=5&error=transient&ops=query";
    in_both_modes(params, attempts(3), |mode, backend, store, src| {
        let err = backend.put(src, "obj").unwrap_err();
        assert_eq!(err.code(), ErrorCode::TRANSIENT, "{mode}: {err}");
        let c = counters(store);
        assert_eq!(
            (c.get("put"), c.get("query"), c.get("retry_cleanup")),
            (Some(&1), Some(&3), Some(&2)),
            "{mode}: {c:?}"
        );
    });
}

/// An in-process prefix that forwards every extension to its inner
/// backend (fixture `pass`), over an isolated inner backend (`flaky`): the
/// inner backend's proxy offers `stowage.put-query/1`, and the prefix
/// hands it on, but the host only trusts the proxy's own. Each put still
/// goes through the prefix's put (which a transforming prefix, one that
/// encrypts say, must not be bypassed by).
#[test]
fn a_prefix_that_forwards_extensions_is_not_bypassed() {
    let system = plugin_dir_with(&["pass"]);
    let others = plugin_dir_with(&["flaky"]);
    let registry = registry(
        &[system.path(), others.path()],
        options(Policy::Untrusted, &[system.path()]),
    );
    let mode = |dir: &Path, file: &str| registry.mode(&dir.join(file));
    assert_eq!(
        (
            mode(system.path(), "libfixture_pass.so"),
            mode(others.path(), "libfixture_flaky.so")
        ),
        (Some("in-process"), Some("isolated"))
    );
    let work = tempdir();
    let src = work.path().join("src");
    fs::write(&src, b"twelve bytes").unwrap();
    let trace = work.path().join("trace");
    // Read by the in-process `pass` only; no other test of this file uses it.
    std::env::set_var("STOWAGE_FIXTURE_PASS_TRACE", &trace);
    let store = work.path().join("store");
    let backend = registry
        .open(&format!("pass+flaky://{}", store.display()))
        .unwrap()
        .with_retry(once());
    let forwarded = backend
        .raw()
        .extension_as::<PutQueryObject>(put_query::ID)
        .unwrap();
    assert!(forwarded.is_some(), "pass forwards the proxy's extension");
    assert_eq!(backend.put(&src, "obj").unwrap(), 12);
    assert_eq!(fs::read_to_string(&trace).unwrap(), "put obj\n");
    let c = counters(&store);
    assert_eq!(
        (c.get("put"), c.get("query")),
        (Some(&1), Some(&1)),
        "{c:?}"
    );
    backend.close().unwrap();
}
