//! The one error value that crosses the ABI.

use std::fmt;
use std::io;

use abi_stable::std_types::RString;
use abi_stable::StableAbi;

/// What kind of failure a [`BackendError`] reports.
///
/// An open set of numbers, not a Rust `enum`: an `enum` that crosses the ABI
/// can never gain a variant, while new codes can be added here at any time.
/// Readers must therefore accept values they do not know and treat them like
/// [`ErrorCode::GENERIC`].
///
/// The numbers of the codes duplicity also has are duplicity's, so that the
/// `stowage` command can use them as exit statuses unchanged.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ErrorCode(pub u32);

impl ErrorCode {
    /// Invalid input: a malformed URL or name, a bad parameter. Permanent.
    pub const INVALID_INPUT: Self = Self(23);
    /// Any failure without a more specific code.
    pub const GENERIC: Self = Self(50);
    /// The backend was refused access (EACCES, EPERM, HTTP 403...).
    pub const PERMISSION_DENIED: Self = Self(51);
    /// The named object (or the location) does not exist.
    pub const NOT_FOUND: Self = Self(52);
    /// The medium, filesystem or quota is full.
    pub const NO_SPACE: Self = Self(53);
    /// The stored object does not match what was sent (size or checksum).
    pub const VALIDATION_FAILED: Self = Self(56);
    /// The backend does not implement this operation or extension.
    pub const UNSUPPORTED: Self = Self(57);
    /// A connection or transient failure: a dropped link, a dead helper process.
    pub const TRANSIENT: Self = Self(58);
    /// The plugin panicked; the panic was caught at the ABI boundary.
    pub const PANIC: Self = Self(59);
    /// The location is held by another user (a lock is taken).
    pub const IN_USE: Self = Self(60);

    /// A short lower-case name for the code, `"code-N"` for unknown ones.
    pub fn name(self) -> String {
        let known = match self {
            Self::INVALID_INPUT => "invalid input",
            Self::GENERIC => "backend error",
            Self::PERMISSION_DENIED => "permission denied",
            Self::NOT_FOUND => "not found",
            Self::NO_SPACE => "no space",
            Self::VALIDATION_FAILED => "validation failed",
            Self::UNSUPPORTED => "unsupported",
            Self::TRANSIENT => "transient",
            Self::PANIC => "panic",
            Self::IN_USE => "in use",
            Self(n) => return format!("code-{n}"),
        };
        known.to_string()
    }

    /// Whether errors of this code are retryable unless the plugin says
    /// otherwise. Only [`ErrorCode::TRANSIENT`] is.
    pub fn retryable_by_default(self) -> bool {
        self == Self::TRANSIENT
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// An error reported by a plugin (or by the host on a plugin's behalf).
///
/// Invariant: the fields are fixed for ABI v1; anything a later version wants
/// to add travels in the message or through an extension. The plugin decides
/// `retryable`; the host decides what to do about it.
#[repr(C)]
#[derive(StableAbi, Clone, PartialEq, Eq)]
pub struct BackendError {
    code: ErrorCode,
    retryable: bool,
    os_error: i32,
    message: RString,
}

/// Result type of every operation in this crate.
pub type Result<T, E = BackendError> = std::result::Result<T, E>;

impl BackendError {
    /// An error with `code` and `message`; retryable as
    /// [`ErrorCode::retryable_by_default`] says.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            retryable: code.retryable_by_default(),
            os_error: 0,
            message: RString::from(message.into()),
        }
    }

    /// [`ErrorCode::GENERIC`].
    pub fn generic(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::GENERIC, message)
    }

    /// [`ErrorCode::INVALID_INPUT`].
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::INVALID_INPUT, message)
    }

    /// [`ErrorCode::NOT_FOUND`].
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NOT_FOUND, message)
    }

    /// [`ErrorCode::TRANSIENT`], retryable.
    pub fn transient(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::TRANSIENT, message)
    }

    /// [`ErrorCode::UNSUPPORTED`] for the operation or extension `what`.
    pub fn unsupported(what: &str) -> Self {
        Self::new(
            ErrorCode::UNSUPPORTED,
            format!("{what} is not supported by this backend"),
        )
    }

    /// Maps an I/O error: EACCES/EPERM/EROFS → permission denied,
    /// ENOENT/ENOTDIR → not found, ENOSPC/EDQUOT/EFBIG → no space,
    /// EINVAL/ENAMETOOLONG/EISDIR → invalid input,
    /// EINTR/EAGAIN/EIO-free transient kinds → transient; anything else
    /// generic. `context` says what was being done, e.g. `"writing /x/y"`.
    pub fn from_io(err: &io::Error, context: impl fmt::Display) -> Self {
        let errno = err.raw_os_error().unwrap_or(0);
        let code = match errno {
            libc_errno::EACCES | libc_errno::EPERM | libc_errno::EROFS => {
                ErrorCode::PERMISSION_DENIED
            }
            libc_errno::ENOENT | libc_errno::ENOTDIR => ErrorCode::NOT_FOUND,
            libc_errno::ENOSPC | libc_errno::EDQUOT | libc_errno::EFBIG => ErrorCode::NO_SPACE,
            libc_errno::EINVAL | libc_errno::ENAMETOOLONG | libc_errno::EISDIR => {
                ErrorCode::INVALID_INPUT
            }
            libc_errno::EINTR | libc_errno::EAGAIN | libc_errno::ETIMEDOUT => ErrorCode::TRANSIENT,
            _ => match err.kind() {
                io::ErrorKind::NotFound => ErrorCode::NOT_FOUND,
                io::ErrorKind::PermissionDenied => ErrorCode::PERMISSION_DENIED,
                io::ErrorKind::TimedOut | io::ErrorKind::Interrupted => ErrorCode::TRANSIENT,
                _ => ErrorCode::GENERIC,
            },
        };
        let mut e = Self::new(code, format!("{context}: {err}"));
        e.os_error = errno;
        e
    }

    /// The same error with the retryable flag set to `retryable`.
    pub fn with_retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    /// The same error with `context: ` put in front of the message.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = RString::from(format!("{context}: {}", self.message));
        self
    }

    /// The code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// Whether the plugin considers a new attempt useful.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    /// The OS error number behind the error, 0 when there is none.
    pub fn os_error(&self) -> i32 {
        self.os_error
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        self.message.as_str()
    }

    /// Whether this error says "unsupported" (the host then falls back).
    pub fn is_unsupported(&self) -> bool {
        self.code == ErrorCode::UNSUPPORTED
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendError")
            .field("code", &self.code)
            .field("retryable", &self.retryable)
            .field("os_error", &self.os_error)
            .field("message", &self.message.as_str())
            .finish()
    }
}

impl std::error::Error for BackendError {}

/// The errno values this crate maps, for Linux. Kept local so the API crate
/// needs no libc dependency.
mod libc_errno {
    pub const EPERM: i32 = 1;
    pub const ENOENT: i32 = 2;
    pub const ENOTDIR: i32 = 20;
    pub const EISDIR: i32 = 21;
    pub const EFBIG: i32 = 27;
    pub const EINTR: i32 = 4;
    pub const EAGAIN: i32 = 11;
    pub const EACCES: i32 = 13;
    pub const EINVAL: i32 = 22;
    pub const ENOSPC: i32 = 28;
    pub const EROFS: i32 = 30;
    pub const ENAMETOOLONG: i32 = 36;
    pub const ETIMEDOUT: i32 = 110;
    pub const EDQUOT: i32 = 122;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_map_to_codes() {
        let cases = [
            (13, ErrorCode::PERMISSION_DENIED),
            (1, ErrorCode::PERMISSION_DENIED),
            (2, ErrorCode::NOT_FOUND),
            (28, ErrorCode::NO_SPACE),
            (122, ErrorCode::NO_SPACE),
            (5, ErrorCode::GENERIC),
        ];
        for (errno, code) in cases {
            let e = BackendError::from_io(&io::Error::from_raw_os_error(errno), "doing x");
            assert_eq!(e.code(), code, "errno {errno}");
            assert_eq!(e.os_error(), errno);
            assert!(e.message().starts_with("doing x: "));
            assert!(!e.is_retryable());
        }
    }

    #[test]
    fn unknown_codes_have_a_name() {
        assert_eq!(ErrorCode(9999).name(), "code-9999");
        assert!(BackendError::transient("x").is_retryable());
        assert!(!BackendError::generic("x").is_retryable());
    }
}
