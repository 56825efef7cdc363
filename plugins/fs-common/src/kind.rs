//! [`ErrorKind`]: the error classes every plugin library reports, and the
//! one mapping of them onto the ABI's error codes.

use std::io;

use stowage_backend_api::{BackendError, ErrorCode};

/// Stable error categories of the plugins' libraries, mapped one-to-one onto
/// the ABI's [`ErrorCode`]s by [`ErrorKind::code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Anything not covered below (code 50).
    Generic,
    /// `EACCES`/`EPERM`/`EROFS`, or something only root may do (51).
    PermissionDenied,
    /// The object, a local file, a directory or the drive does not exist (52).
    NotFound,
    /// The medium, a filesystem or a quota is full (53).
    NoSpace,
    /// A bad URL, setting, name, mode, user, group or path argument (23).
    InvalidInput,
    /// The operation is impossible for this target (57).
    Unsupported,
    /// Worth retrying after `retry_cleanup` (58).
    Transient,
    /// A check failed: size or checksum mismatch, wrong volume id, a file
    /// that changed while it was read (56).
    ValidationFailed,
    /// Another user of the location holds it (60).
    InUse,
}

impl ErrorKind {
    /// Every kind.
    pub const ALL: [ErrorKind; 9] = [
        ErrorKind::Generic,
        ErrorKind::PermissionDenied,
        ErrorKind::NotFound,
        ErrorKind::NoSpace,
        ErrorKind::InvalidInput,
        ErrorKind::Unsupported,
        ErrorKind::Transient,
        ErrorKind::ValidationFailed,
        ErrorKind::InUse,
    ];

    /// The ABI code of this kind.
    pub fn code(self) -> ErrorCode {
        match self {
            ErrorKind::Generic => ErrorCode::GENERIC,
            ErrorKind::PermissionDenied => ErrorCode::PERMISSION_DENIED,
            ErrorKind::NotFound => ErrorCode::NOT_FOUND,
            ErrorKind::NoSpace => ErrorCode::NO_SPACE,
            ErrorKind::InvalidInput => ErrorCode::INVALID_INPUT,
            ErrorKind::Unsupported => ErrorCode::UNSUPPORTED,
            ErrorKind::Transient => ErrorCode::TRANSIENT,
            ErrorKind::ValidationFailed => ErrorCode::VALIDATION_FAILED,
            ErrorKind::InUse => ErrorCode::IN_USE,
        }
    }

    /// The kind's stable `snake_case` name, as reports write it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Generic => "generic",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::NotFound => "not_found",
            ErrorKind::NoSpace => "no_space",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Transient => "transient",
            ErrorKind::ValidationFailed => "validation_failed",
            ErrorKind::InUse => "in_use",
        }
    }

    /// The kind of an ABI code; codes without a kind are [`ErrorKind::Generic`].
    pub fn of_code(code: ErrorCode) -> Self {
        Self::ALL
            .into_iter()
            .find(|k| k.code() == code)
            .unwrap_or(ErrorKind::Generic)
    }

    /// Classifies an I/O error the way [`BackendError::from_io`] does (its
    /// errno first, then its [`io::ErrorKind`]): one classification for the
    /// whole project.
    pub fn from_io(err: &io::Error) -> Self {
        Self::of_code(BackendError::from_io(err, "").code())
    }
}

/// The error that crosses the ABI for a plugin library's error of `kind`
/// whose text is `message`: the kind's code, and, when it came from a
/// system call (`os`: the error and what was being done), the errno too,
/// through [`BackendError::from_io`] (whose message is then `context:
/// error`, which must be what `message` says). When the errno's own class
/// differs from `kind`, the kind wins and the errno is dropped.
pub fn backend_error(
    kind: ErrorKind,
    message: String,
    os: Option<(&io::Error, String)>,
    retryable: bool,
) -> BackendError {
    let code = kind.code();
    let error = match os {
        Some((source, context)) => {
            let e = BackendError::from_io(source, context);
            if e.code() == code {
                e
            } else {
                BackendError::new(code, message)
            }
        }
        None => BackendError::new(code, message),
    };
    error.with_retryable(retryable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_errnos_classify() {
        for kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::of_code(kind.code()), kind);
        }
        let os = |errno| ErrorKind::from_io(&io::Error::from_raw_os_error(errno));
        assert_eq!(os(libc::EACCES), ErrorKind::PermissionDenied);
        assert_eq!(os(libc::EPERM), ErrorKind::PermissionDenied);
        assert_eq!(os(libc::ENOENT), ErrorKind::NotFound);
        assert_eq!(os(libc::ENOSPC), ErrorKind::NoSpace);
        assert_eq!(os(libc::EDQUOT), ErrorKind::NoSpace);
        assert_eq!(os(libc::EIO), ErrorKind::Generic);
        let e = io::Error::new(io::ErrorKind::PermissionDenied, "no");
        assert_eq!(ErrorKind::from_io(&e), ErrorKind::PermissionDenied);
        assert_eq!(
            ErrorKind::from_io(&io::Error::other("no")),
            ErrorKind::Generic
        );
    }
}
