//! Expectations several checks share: how a missing name must be answered,
//! and how a check that went through a host fallback ends.

use stowage::{BackendError, Error, ErrorCode};

use crate::describe::{attempts, error_text, raw_error_text};
use crate::stop::{ensure, Checked, Stop};

/// The host answered `not found` for a missing name, after a single
/// attempt (not found is permanent: retrying it is a bug).
pub(crate) fn host_not_found_once(e: &Error, what: &str) -> Result<(), Stop> {
    ensure!(
        e.code() == ErrorCode::NOT_FOUND,
        "{what}: expected not found (52), got {}",
        error_text(e)
    );
    ensure!(
        attempts(e) == 1,
        "{what} was attempted {} times: not found must not be retried",
        attempts(e)
    );
    Ok(())
}

/// The plugin answered `not found`, marked permanent, for a missing name
/// or file; `Ok` answers are refused unless `success_allowed`.
pub(crate) fn plugin_not_found(
    result: Result<(), BackendError>,
    what: &str,
    success_allowed: bool,
) -> Result<(), Stop> {
    match result {
        Ok(()) if success_allowed => Ok(()),
        Ok(()) => Err(Stop::Fail(format!("the plugin's {what} succeeded"))),
        Err(e) => {
            ensure!(
                e.code() == ErrorCode::NOT_FOUND && !e.is_retryable(),
                "plugin {what}: expected not found (52), not retryable; got {}",
                raw_error_text(&e)
            );
            Ok(())
        }
    }
}

/// Ends a check of an optional operation whose host fallback has just been
/// exercised: a pass when the backend has the operation itself, else a
/// skip saying what the fallback did.
pub(crate) fn native_or_fallback(native: bool, operation: &str, fallback: &str) -> Checked {
    if native {
        Ok(String::new())
    } else {
        Err(Stop::Skip(format!(
            "backend has no {operation} (the host's fallback{fallback})"
        )))
    }
}

/// A host error as the failure of `what`: `<what>: <code>: <message>`.
pub(crate) fn host_failed(what: &str) -> impl FnOnce(Error) -> Stop + '_ {
    move |e| Stop::Fail(format!("{what}: {}", error_text(&e)))
}
