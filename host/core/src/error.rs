//! The host library's error type.

use std::path::PathBuf;

use stowage_backend_api::{BackendError, ErrorCode};

/// Everything the host library can fail with.
///
/// Invariant: no variant's message contains URL credentials; URLs are
/// stored redacted.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A URL that cannot be used: bad syntax, a bad scheme or prefix name.
    #[error("invalid URL {url}: {reason}")]
    InvalidUrl {
        /// The URL, credentials removed.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// No loaded plugin handles the scheme or prefix.
    #[error("{0}")]
    UnknownScheme(Box<UnknownHandler>),

    /// An object name the contract forbids.
    #[error("invalid object name {name:?}: {reason}")]
    InvalidName {
        /// The name, as given (lossy for non-UTF-8).
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },

    /// Input other than a URL or a name is invalid (an option value).
    #[error("{0}")]
    InvalidInput(String),

    /// A local file problem before any backend call.
    #[error("{path}: {source}")]
    Local {
        /// The local path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    /// Opening a backend failed.
    #[error("opening {url} failed: {source}")]
    Open {
        /// The URL, credentials removed.
        url: String,
        /// What the plugin reported.
        source: BackendError,
    },

    /// A backend operation failed (after retries where they apply).
    #[error("{op}{object} on {url} failed{after}: {source}", object = name.as_deref().map(|n| format!(" of {n:?}")).unwrap_or_default(), after = attempts_text(*attempts))]
    Backend {
        /// The operation: put, get, list...
        op: &'static str,
        /// The object name, if the operation has one.
        name: Option<String>,
        /// The URL, credentials removed.
        url: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last error.
        source: BackendError,
    },
}

/// Details of [`Error::UnknownScheme`].
#[derive(Debug, thiserror::Error)]
#[error("{what} {name:?} is not handled by any loaded plugin (in {url}); registered schemes: {schemes}; registered prefixes: {prefixes}{failed}{searched}")]
pub struct UnknownHandler {
    /// "scheme" or "prefix".
    pub what: &'static str,
    /// The scheme or prefix looked up.
    pub name: String,
    /// The URL, credentials removed.
    pub url: String,
    /// Comma-separated registered schemes, or "none".
    pub schemes: String,
    /// Comma-separated registered prefixes, or "none".
    pub prefixes: String,
    /// "; plugin files that failed to load: ..." or empty.
    pub failed: String,
    /// "; directories searched: DIR (origin): what was there; ..." or
    /// empty (when the registry was given files, not directories).
    pub searched: String,
}

fn attempts_text(attempts: u32) -> String {
    if attempts > 1 {
        format!(" after {attempts} attempts")
    } else {
        String::new()
    }
}

/// Result type of the host library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The stable code of this error, as plugins report them.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::InvalidUrl { .. }
            | Error::UnknownScheme(_)
            | Error::InvalidName { .. }
            | Error::InvalidInput(_) => ErrorCode::INVALID_INPUT,
            Error::Local { source, .. } => BackendError::from_io(source, "").code(),
            Error::Open { source, .. } | Error::Backend { source, .. } => source.code(),
        }
    }

    /// The backend error behind this one, if any.
    pub fn backend_error(&self) -> Option<&BackendError> {
        match self {
            Error::Open { source, .. } | Error::Backend { source, .. } => Some(source),
            _ => None,
        }
    }
}
