//! Mapping SSH and SFTP failures to stowage error codes.

use std::fmt::Display;

use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::StatusCode;
use stowage_backend_api::{BackendError, ErrorCode};

/// An SFTP failure while doing `what`.
///
/// Status codes from the server map to not found, permission denied,
/// unsupported, or a generic failure ("no space" when the server's message
/// says so: SFTP v3 has no code for it). Everything that means the session
/// itself is gone or stalled — a request without answer within the
/// timeout, a closed channel — is transient, and the connection is dropped
/// (see [`breaks_connection`]).
pub fn sftp_error(e: &SftpError, what: impl Display) -> BackendError {
    match e {
        SftpError::Status(status) => {
            let code = match status.status_code {
                StatusCode::NoSuchFile => ErrorCode::NOT_FOUND,
                StatusCode::PermissionDenied => ErrorCode::PERMISSION_DENIED,
                StatusCode::OpUnsupported => ErrorCode::UNSUPPORTED,
                StatusCode::NoConnection | StatusCode::ConnectionLost => ErrorCode::TRANSIENT,
                StatusCode::Failure if says_no_space(&status.error_message) => ErrorCode::NO_SPACE,
                _ => ErrorCode::GENERIC,
            };
            let detail = if status.error_message.is_empty() {
                status.status_code.to_string()
            } else {
                status.error_message.clone()
            };
            BackendError::new(code, format!("{what}: {detail}"))
        }
        SftpError::Timeout => {
            BackendError::transient(format!("{what}: the server did not answer in time"))
        }
        SftpError::IO(m) | SftpError::UnexpectedBehavior(m) => {
            BackendError::transient(format!("{what}: the SFTP session failed: {m}"))
        }
        SftpError::Limited(m) => BackendError::generic(format!("{what}: {m}")),
        SftpError::UnexpectedPacket => {
            BackendError::transient(format!("{what}: unexpected answer from the server"))
        }
    }
}

/// Whether the session is unusable after `e` (so the next attempt must
/// reconnect).
pub fn breaks_connection(e: &SftpError) -> bool {
    match e {
        SftpError::Status(s) => matches!(
            s.status_code,
            StatusCode::NoConnection | StatusCode::ConnectionLost
        ),
        SftpError::Timeout
        | SftpError::IO(_)
        | SftpError::UnexpectedBehavior(_)
        | SftpError::UnexpectedPacket => true,
        SftpError::Limited(_) => false,
    }
}

fn says_no_space(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("no space") || m.contains("quota")
}

/// An SSH-level failure (connecting, key exchange, channel) while doing
/// `what`: transient, since the network or the server may come back.
pub fn ssh_error(e: &russh::Error, what: impl Display) -> BackendError {
    BackendError::transient(format!("{what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use russh_sftp::protocol::Status;

    fn status(code: StatusCode, message: &str) -> SftpError {
        SftpError::Status(Status {
            id: 1,
            status_code: code,
            error_message: message.into(),
            language_tag: String::new(),
        })
    }

    #[test]
    fn codes() {
        let cases = [
            (
                status(StatusCode::NoSuchFile, "No such file"),
                ErrorCode::NOT_FOUND,
                false,
            ),
            (
                status(StatusCode::PermissionDenied, ""),
                ErrorCode::PERMISSION_DENIED,
                false,
            ),
            (
                status(StatusCode::Failure, "No space left on device"),
                ErrorCode::NO_SPACE,
                false,
            ),
            (
                status(StatusCode::Failure, "Failure"),
                ErrorCode::GENERIC,
                false,
            ),
            (
                status(StatusCode::ConnectionLost, ""),
                ErrorCode::TRANSIENT,
                true,
            ),
            (SftpError::Timeout, ErrorCode::TRANSIENT, true),
            (SftpError::IO("reset".into()), ErrorCode::TRANSIENT, true),
        ];
        for (e, code, breaks) in cases {
            let b = sftp_error(&e, "get x");
            assert_eq!(b.code(), code, "{e:?}");
            assert_eq!(b.is_retryable(), code == ErrorCode::TRANSIENT);
            assert!(b.message().starts_with("get x: "));
            assert_eq!(breaks_connection(&e), breaks, "{e:?}");
        }
    }
}
