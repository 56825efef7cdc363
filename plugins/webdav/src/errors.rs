//! Mapping HTTP answers and transport failures to stowage error codes.

use std::error::Error as _;
use std::fmt::Display;

use reqwest::StatusCode;
use stowage_backend_api::{BackendError, ErrorCode};

/// An HTTP status that is not success, while doing `what`.
pub fn status_error(status: StatusCode, what: impl Display) -> BackendError {
    let code = match status.as_u16() {
        401 | 403 => ErrorCode::PERMISSION_DENIED,
        404 | 410 => ErrorCode::NOT_FOUND,
        507 => ErrorCode::NO_SPACE,
        408 | 425 | 429 => ErrorCode::TRANSIENT,
        s if s >= 500 => ErrorCode::TRANSIENT,
        _ => ErrorCode::GENERIC,
    };
    let hint = if status == StatusCode::UNAUTHORIZED {
        " (check STOWAGE_WEBDAV_USER / STOWAGE_WEBDAV_PASSWORD or ~/.netrc)"
    } else {
        ""
    };
    BackendError::new(code, format!("{what}: the server answered {status}{hint}"))
}

/// A transport failure (connect, reset, timeout, TLS) while doing `what`:
/// transient, except a request that could not even be built.
pub fn transport_error(e: &reqwest::Error, what: impl Display) -> BackendError {
    let mut detail = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    if e.is_builder() {
        BackendError::invalid_input(format!("{what}: {detail}"))
    } else if e.is_timeout() {
        BackendError::transient(format!(
            "{what}: the server did not answer in time ({detail})"
        ))
    } else {
        BackendError::transient(format!("{what}: {detail}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        let cases = [
            (401, ErrorCode::PERMISSION_DENIED),
            (403, ErrorCode::PERMISSION_DENIED),
            (404, ErrorCode::NOT_FOUND),
            (507, ErrorCode::NO_SPACE),
            (503, ErrorCode::TRANSIENT),
            (429, ErrorCode::TRANSIENT),
            (409, ErrorCode::GENERIC),
        ];
        for (status, code) in cases {
            let e = status_error(StatusCode::from_u16(status).unwrap(), "put x");
            assert_eq!(e.code(), code, "{status}");
            assert_eq!(e.is_retryable(), code == ErrorCode::TRANSIENT);
        }
        assert!(status_error(StatusCode::UNAUTHORIZED, "x")
            .message()
            .contains("netrc"));
    }
}
