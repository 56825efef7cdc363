//! Errors of the xorriso backend.
//!
//! Every failure is one variant of [`Error`] whose text names what was wrong (the path, the
//! object name, both volume ids, the xorriso message). [`Error::kind`] folds them into the
//! small, stable set of categories the host maps to its ABI codes, and [`Error::retryable`]
//! tells the host whether another attempt (after `retry_cleanup`) can help.

use std::io;
use std::path::PathBuf;

use stowage_backend_api::BackendError;
pub use stowage_fs_common::ErrorKind;

/// Everything that can go wrong in the xorriso backend.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL could not be understood.
    #[error("invalid xorriso URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it was refused.
        reason: String,
    },

    /// An environment variable or URL parameter has a value we refuse.
    #[error("invalid setting {name}={value:?}: {reason}")]
    InvalidSetting {
        /// The name concerned.
        name: String,
        /// The rejected text.
        value: String,
        /// Why it was refused.
        reason: String,
    },

    /// An object name the ISO filesystem cannot hold faithfully.
    #[error("invalid object name {name:?}: {reason}")]
    InvalidName {
        /// The name concerned.
        name: String,
        /// Why it was refused.
        reason: String,
    },

    /// `XORRISO_PATH` names something that is not an executable.
    #[error("XORRISO_PATH={path:?} is not usable: {reason}")]
    BadXorrisoPath {
        /// The path concerned.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },

    /// No `xorriso` in `PATH` and no `XORRISO_PATH`.
    #[error(
        "the xorriso program was not found in PATH; install xorriso (Debian: apt-get install xorriso) or set XORRISO_PATH"
    )]
    XorrisoNotInstalled,

    /// The xorriso process could not be started.
    #[error("cannot start {path:?}: {source}")]
    Spawn {
        /// The path concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The xorriso process ended while we talked to it (retryable: `retry_cleanup` respawns it).
    #[error("the xorriso process for {target} died during {during} ({status}){last}")]
    XorrisoDied {
        /// The medium (xorriso drive address).
        target: String,
        /// What the dialog was doing.
        during: String,
        /// How the process ended.
        status: String,
        /// The last problem message it printed, prefixed with ": ", or empty.
        last: String,
    },

    /// xorriso reported a problem event of severity SORRY or worse (or a refused WARNING).
    #[error("xorriso {op} on {target} failed: {message}")]
    Xorriso {
        /// The operation that failed.
        op: String,
        /// The medium (xorriso drive address).
        target: String,
        /// The error class.
        kind: ErrorKind,
        /// The message, as given.
        message: String,
    },

    /// The object does not exist in the backup directory.
    #[error("{name:?} not found in {location}")]
    NotFound {
        /// The name concerned.
        name: String,
        /// Where it was looked for.
        location: String,
    },

    /// The optical drive named in the URL does not exist.
    #[error("optical drive {path:?} does not exist")]
    NoDrive {
        /// The path concerned.
        path: PathBuf,
    },

    /// Another backend holds the lock on the medium.
    #[error(
        "{path:?} is in use by another stowage xorriso backend (in this or another process); it holds an exclusive lock on it"
    )]
    InUse {
        /// The path concerned.
        path: PathBuf,
    },

    /// The target exists but is not an ISO 9660 image; it is never overwritten.
    #[error(
        "{path:?} exists and is not an ISO 9660 image ({size} bytes): refusing to use it as a backup medium (it would be overwritten)"
    )]
    NotIso {
        /// The path concerned.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
    },

    /// The medium's volume id does not match `XORRISO_ASSERT_VOLID`.
    #[error(
        "volume id mismatch on {target}: XORRISO_ASSERT_VOLID requires {expected:?} but the medium has {found:?}"
    )]
    VolidMismatch {
        /// The medium (xorriso drive address).
        target: String,
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },

    /// The medium cannot be written.
    #[error("{path:?} is read-only ({reason}); only list, query and get work on it")]
    ReadOnly {
        /// The path concerned.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },

    /// A file came back with the wrong size.
    #[error("{what}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// What the value or path is (for the message).
        what: String,
        /// What was expected.
        expected: u64,
        /// What was found.
        actual: u64,
    },

    /// A local I/O error, with what we were doing.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The operation does not exist for this kind of target.
    #[error("{op} is not supported: {reason}")]
    Unsupported {
        /// The operation that failed.
        op: String,
        /// Why it was refused.
        reason: String,
    },

    /// The backend was closed.
    #[error("the xorriso backend for {target} is closed")]
    Closed {
        /// The medium (xorriso drive address).
        target: String,
    },

    /// xorriso said something we did not expect.
    #[error("unexpected xorriso output during {op}: {detail}")]
    Protocol {
        /// The operation that failed.
        op: String,
        /// What was unexpected.
        detail: String,
    },

    /// The staging directory beside the image exists but is not private to us.
    #[error(
        "refusing to stage puts in {path:?}: {reason}; remove it (it is only used while a \
         backend is open) or fix its owner and mode"
    )]
    StagingNotPrivate {
        /// The staging directory.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// Staged copies were changed or removed behind our back; those puts were dropped.
    #[error(
        "staged copies were changed or removed by someone else, so these puts were dropped and are NOT stored (put them again): {details}"
    )]
    StagingTampered {
        /// Which staged files differ and how.
        details: String,
    },

    /// A commit failed and the pending changes could not be kept.
    #[error(
        "{source}; {lost} pending change(s) were discarded and are NOT on the medium: {names}"
    )]
    ChangesLost {
        /// The underlying error.
        #[source]
        source: Box<Error>,
        /// How many changes were lost.
        lost: usize,
        /// The names of the lost changes.
        names: String,
    },
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The stable category of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidUrl { .. }
            | Error::InvalidSetting { .. }
            | Error::InvalidName { .. }
            | Error::BadXorrisoPath { .. }
            | Error::NotIso { .. } => ErrorKind::InvalidInput,
            Error::XorrisoNotInstalled => ErrorKind::NotFound,
            Error::Spawn { source, .. } => io_kind(source),
            Error::XorrisoDied { .. } => ErrorKind::Transient,
            Error::Xorriso { kind, .. } => *kind,
            Error::NotFound { .. } | Error::NoDrive { .. } => ErrorKind::NotFound,
            Error::InUse { .. } => ErrorKind::InUse,
            Error::VolidMismatch { .. } | Error::SizeMismatch { .. } => ErrorKind::ValidationFailed,
            Error::ReadOnly { .. } | Error::StagingNotPrivate { .. } => ErrorKind::PermissionDenied,
            Error::Io { source, .. } => io_kind(source),
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::Closed { .. } | Error::Protocol { .. } | Error::StagingTampered { .. } => {
                ErrorKind::Generic
            }
            Error::ChangesLost { source, .. } => source.kind(),
        }
    }

    /// Whether another attempt (after `retry_cleanup`) can succeed.
    pub fn retryable(&self) -> bool {
        self.kind() == ErrorKind::Transient
    }

    /// The OS error number behind this error, if there is one.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Spawn { source, .. } | Error::Io { source, .. } => source.raw_os_error(),
            Error::ChangesLost { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// Category of a local I/O error: the project's one classification.
pub(crate) fn io_kind(e: &io::Error) -> ErrorKind {
    ErrorKind::from_io(e)
}

/// Same message, code from [`Error::kind`], retryable flag from [`Error::retryable`]; an
/// OS error keeps its errno through [`BackendError::from_io`] (with our kind's code, which
/// can be more precise than the errno's).
pub fn to_abi(err: Error) -> BackendError {
    let os = match (&err, err.raw_os_error()) {
        (Error::Io { context, source }, Some(_)) => Some((source, context.clone())),
        _ => None,
    };
    stowage_fs_common::backend_error(err.kind(), err.to_string(), os, err.retryable())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_retry() {
        let died = Error::XorrisoDied {
            target: "stdio:/x".into(),
            during: "list".into(),
            status: "killed by signal 9".into(),
            last: String::new(),
        };
        assert_eq!(died.kind(), ErrorKind::Transient);
        assert!(died.retryable());
        assert_eq!(Error::XorrisoNotInstalled.kind(), ErrorKind::NotFound);
        assert!(!Error::XorrisoNotInstalled.retryable());
        let e = Error::io("x", io::Error::from_raw_os_error(libc::ENOSPC));
        assert_eq!(e.kind(), ErrorKind::NoSpace);
        let e = Error::io("x", io::Error::from_raw_os_error(libc::EROFS));
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        let m = Error::VolidMismatch {
            target: "stdio:/i.iso".into(),
            expected: "OTHER".into(),
            found: "BKP1".into(),
        };
        let t = m.to_string();
        assert!(t.contains("OTHER") && t.contains("BKP1"), "{t}");
        assert_eq!(m.kind(), ErrorKind::ValidationFailed);
    }
}
