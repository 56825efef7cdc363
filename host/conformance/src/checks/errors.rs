//! Errors and retries: stable codes and messages, permanent errors tried
//! once, retryable ones retried with cleanup in between.

use stowage_backend_api::BackendError;

use crate::context::Ctx;
use crate::describe::{attempts, code_text, error_text, raw_error_text};
use crate::stop::{ensure, fail, skip, Checked, Stop};
use stowage::{Error, ErrorCode};

/// Codes that mean "do not try again".
const PERMANENT: [ErrorCode; 5] = [
    ErrorCode::NOT_FOUND,
    ErrorCode::PERMISSION_DENIED,
    ErrorCode::NO_SPACE,
    ErrorCode::INVALID_INPUT,
    ErrorCode::UNSUPPORTED,
];

/// Checks one error the plugin returned for a provoked situation.
fn sound(what: &str, e: &BackendError, expected: &[ErrorCode]) -> Result<String, String> {
    if !expected.contains(&e.code()) {
        let want: Vec<String> = expected.iter().map(|c| code_text(*c)).collect();
        return Err(format!(
            "{what}: expected {}, got {}",
            want.join(" or "),
            raw_error_text(e)
        ));
    }
    if PERMANENT.contains(&e.code()) && e.is_retryable() {
        return Err(format!(
            "{what}: {} is marked retryable, but it is permanent",
            code_text(e.code())
        ));
    }
    if e.message().trim().is_empty() {
        return Err(format!("{what}: the error has no message"));
    }
    Ok(format!("{what}: {}", e.code().name()))
}

pub(crate) fn codes_and_retryable(ctx: &Ctx<'_, '_>) -> Checked {
    let raw = ctx.raw();
    let name = ctx.name("absent");
    let missing = ctx.path("missing");
    let dest = ctx.path("dest");
    let mut seen = Vec::new();
    let mut check =
        |what: &str, r: Result<(), BackendError>, ok_allowed: bool, codes: &[ErrorCode]| match r {
            Ok(()) if ok_allowed => Ok(()),
            Ok(()) => Err(format!("{what} succeeded")),
            Err(e) => sound(what, &e, codes).map(|s| seen.push(s)),
        };
    let not_found = [ErrorCode::NOT_FOUND];
    let results = [
        check(
            "get of a missing name",
            raw.get(&name, &dest),
            false,
            &not_found,
        ),
        check(
            "put of a missing local file",
            raw.put(&missing, &name),
            false,
            &not_found,
        ),
        check(
            "delete of a missing name",
            raw.delete(&name),
            true,
            &not_found,
        ),
        check(
            "query of a missing name",
            raw.query(&name).map(|_| ()),
            true,
            &[ErrorCode::UNSUPPORTED],
        ),
        check(
            "an unknown extension",
            match raw.extension_as::<u64>("stowage.conformance-none/1") {
                Ok(None) => Ok(()),
                Ok(Some(_)) => Err(BackendError::generic("an unknown extension was offered")),
                Err(e) => Err(BackendError::generic(format!("{e}"))),
            },
            true,
            &[],
        ),
    ];
    for r in results {
        if let Err(m) = r {
            fail!("{m}");
        }
    }
    // The host keeps the plugin's code and flag.
    match ctx.backend().get(&name, &dest) {
        Ok(_) => fail!("the host's get of a missing name succeeded"),
        Err(e) => {
            let kept = e
                .backend_error()
                .is_some_and(|b| b.code() == ErrorCode::NOT_FOUND && !b.is_retryable());
            ensure!(
                kept && e.code() == ErrorCode::NOT_FOUND,
                "the host's error lost the plugin's code or flag: {}",
                error_text(&e)
            );
        }
    }
    Ok(seen.join(", "))
}

pub(crate) fn permanent_attempted_once(ctx: &Ctx<'_, '_>) -> Checked {
    let policy = ctx.options().retry.attempts();
    if policy < 2 {
        skip!("the retry policy makes a single attempt, so retries cannot show");
    }
    let name = ctx.name("absent");
    let dest = ctx.path("dest");
    let mut seen = Vec::new();
    // A permanent error must have been attempted once; says what was seen.
    let once = |op: &str, e: &Error| -> Result<String, Stop> {
        ensure!(
            attempts(e) == 1,
            "{op} of a missing name ({}) was attempted {} times under a {policy}-attempt policy",
            code_text(e.code()),
            attempts(e)
        );
        Ok(format!("{op}: {} once", e.code().name()))
    };
    match ctx.backend().get(&name, &dest) {
        Ok(_) => fail!("get of a missing name succeeded"),
        Err(e) => seen.push(once("get", &e)?),
    }
    match ctx.backend().delete(&name) {
        Ok(()) => seen.push("delete: success".into()),
        Err(e) => seen.push(once("delete", &e)?),
    }
    // Unsupported optional operations: the plugin must say so permanently,
    // or the host would retry instead of falling back.
    let raw = ctx.raw();
    let probes: [(&str, Result<(), BackendError>); 4] = [
        ("query", raw.query(&name).map(|_| ())),
        ("query_list", raw.query_list(&[&name]).map(|_| ())),
        ("delete_list", raw.delete_list(&[&name])),
        ("retry_cleanup", raw.retry_cleanup()),
    ];
    for (op, r) in probes {
        if let Err(e) = r {
            if e.is_unsupported() {
                ensure!(!e.is_retryable(), "{op} answers unsupported as retryable");
                seen.push(format!("{op}: unsupported, permanent"));
            }
        }
    }
    Ok(seen.join(", "))
}

pub(crate) fn transient_retried(ctx: &Ctx<'_, '_>) -> Checked {
    let _ = ctx;
    skip!("needs a backend that fails transiently on demand; covered by the host test suite (flaky fixture plugin)")
}

pub(crate) fn messages_name_context(ctx: &Ctx<'_, '_>) -> Checked {
    let name = ctx.name("absent");
    let dest = ctx.path("dest");
    let url = ctx.backend().url();
    match ctx.backend().get(&name, &dest) {
        Ok(_) => fail!("get of a missing name succeeded"),
        Err(e) => {
            let text = e.to_string();
            for (what, part) in [
                ("the operation", "get"),
                ("the object name", name.as_str()),
                ("the URL", url.as_str()),
            ] {
                ensure!(
                    text.contains(part),
                    "the error message does not name {what} ({part:?}): {text}"
                );
            }
        }
    }
    Ok(String::new())
}
