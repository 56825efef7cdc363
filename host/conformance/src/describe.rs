//! Observations in words: error codes, errors and query answers as the
//! details of a check's result show them.

use stowage::{BackendError, Error, ErrorCode};

/// `not found (52)`.
pub(crate) fn code_text(code: ErrorCode) -> String {
    format!("{} ({})", code.name(), code.0)
}

/// A host error with its code: `not found (52): message`.
pub(crate) fn error_text(e: &Error) -> String {
    format!("{}: {e}", code_text(e.code()))
}

/// A plugin error with its code and retryable flag.
pub(crate) fn raw_error_text(e: &BackendError) -> String {
    let retry = if e.is_retryable() { ", retryable" } else { "" };
    format!("{}{retry}: {}", code_text(e.code()), e.message())
}

/// A query answer in words: `missing`, `N bytes`, or the error.
pub(crate) trait Said {
    /// The answer in words.
    fn said(&self) -> String;
}

impl Said for Option<u64> {
    fn said(&self) -> String {
        match self {
            Some(size) => format!("{size} bytes"),
            None => "missing".into(),
        }
    }
}

impl Said for Result<Option<u64>, Error> {
    fn said(&self) -> String {
        match self {
            Ok(answer) => answer.said(),
            Err(e) => format!("error {}", error_text(e)),
        }
    }
}

impl Said for Result<Option<u64>, BackendError> {
    fn said(&self) -> String {
        match self {
            Ok(answer) => answer.said(),
            Err(e) => format!("error {}", raw_error_text(e)),
        }
    }
}

/// How many attempts the host made for `e` (1 when no plugin call was
/// made or the error is not an operation's).
pub(crate) fn attempts(e: &Error) -> u32 {
    match e {
        Error::Backend { attempts, .. } => *attempts,
        _ => 1,
    }
}
