//! Mapping OpenDAL errors to stowage error codes.

use std::fmt::Display;

use opendal::ErrorKind;
use stowage_backend_api::{BackendError, ErrorCode};

/// An OpenDAL failure while doing `what`.
///
/// Not found and permission denied (403, bad keys, a bad signature) are
/// permanent; rate limiting (`SlowDown`, 503), 5xx (`InternalError`),
/// resets and timeouts are transient, as is an object that changed while
/// being read. A missing bucket is "not found", named as such.
pub fn s3_error(e: &opendal::Error, what: impl Display) -> BackendError {
    let text = one_line(&e.to_string());
    let code = match e.kind() {
        // OpenDAL files S3's NoSuchBucket under "config invalid".
        _ if text.contains("NoSuchBucket") => ErrorCode::NOT_FOUND,
        ErrorKind::NotFound => ErrorCode::NOT_FOUND,
        ErrorKind::PermissionDenied => ErrorCode::PERMISSION_DENIED,
        ErrorKind::ConfigInvalid => ErrorCode::INVALID_INPUT,
        ErrorKind::RateLimited | ErrorKind::ConditionNotMatch => ErrorCode::TRANSIENT,
        _ if e.is_temporary() => ErrorCode::TRANSIENT,
        _ if text.contains("QuotaExceeded") || text.contains("EntityTooLarge") => {
            ErrorCode::NO_SPACE
        }
        _ => ErrorCode::GENERIC,
    };
    BackendError::new(code, format!("{what}: {text}{}", hint(&text)))
}

/// What to check, for the S3 error codes a user can fix.
fn hint(text: &str) -> &'static str {
    if text.contains("NoSuchBucket") {
        " (the bucket does not exist)"
    } else if text.contains("InvalidAccessKeyId")
        || text.contains("SignatureDoesNotMatch")
        || text.contains("AccessDenied")
    {
        " (check the credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or ~/.aws/credentials)"
    } else {
        ""
    }
}

/// A failed response to one of our own signed requests (`status`, the
/// error document `body`) while doing `what`, coded as [`s3_error`]
/// codes OpenDAL's failures: 404 not found, 401/403 permission denied,
/// 408/412/429/5xx transient, a quota no space.
pub fn http_error(status: http::StatusCode, body: &str, what: impl Display) -> BackendError {
    let text = format!("HTTP {status}: {}", crate::xml::error_code(body));
    let code = match status.as_u16() {
        404 => ErrorCode::NOT_FOUND,
        401 | 403 => ErrorCode::PERMISSION_DENIED,
        408 | 412 | 429 | 500..=599 => ErrorCode::TRANSIENT,
        _ if text.contains("QuotaExceeded") || text.contains("EntityTooLarge") => {
            ErrorCode::NO_SPACE
        }
        _ => ErrorCode::GENERIC,
    };
    BackendError::new(code, format!("{what}: {text}{}", hint(&text)))
}

/// A failure of a download stream: OpenDAL's error inside an I/O error,
/// else a transient transport failure.
pub fn stream_error(e: &std::io::Error, what: impl Display) -> BackendError {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<opendal::Error>())
    {
        Some(inner) => s3_error(inner, what),
        None => BackendError::transient(format!("{what}: {e}")),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_statuses() {
        let doc = |code: &str| format!("<Error><Code>{code}</Code></Error>");
        let cases = [
            (404, doc("NoSuchKey"), ErrorCode::NOT_FOUND, "NoSuchKey"),
            (
                404,
                doc("NoSuchBucket"),
                ErrorCode::NOT_FOUND,
                "bucket does not exist",
            ),
            (
                403,
                doc("AccessDenied"),
                ErrorCode::PERMISSION_DENIED,
                "check the credentials",
            ),
            (503, doc("SlowDown"), ErrorCode::TRANSIENT, "SlowDown"),
            (412, doc("PreconditionFailed"), ErrorCode::TRANSIENT, "412"),
            (
                400,
                doc("QuotaExceeded"),
                ErrorCode::NO_SPACE,
                "QuotaExceeded",
            ),
            (400, "not xml".to_string(), ErrorCode::GENERIC, "not xml"),
        ];
        for (status, body, code, shown) in cases {
            let status = http::StatusCode::from_u16(status).unwrap();
            let e = http_error(status, &body, "get x");
            assert_eq!(e.code(), code, "{status}: {e}");
            assert!(e.message().starts_with("get x: HTTP "), "{e}");
            assert!(e.message().contains(shown), "{e}");
        }
    }

    #[test]
    fn kinds() {
        let cases = [
            (
                opendal::Error::new(ErrorKind::NotFound, "x"),
                ErrorCode::NOT_FOUND,
            ),
            (
                opendal::Error::new(ErrorKind::PermissionDenied, "AccessDenied"),
                ErrorCode::PERMISSION_DENIED,
            ),
            (
                opendal::Error::new(ErrorKind::RateLimited, "SlowDown"),
                ErrorCode::TRANSIENT,
            ),
            (
                opendal::Error::new(ErrorKind::Unexpected, "InternalError").set_temporary(),
                ErrorCode::TRANSIENT,
            ),
            (
                opendal::Error::new(ErrorKind::Unexpected, "weird"),
                ErrorCode::GENERIC,
            ),
        ];
        for (e, code) in cases {
            let b = s3_error(&e, "put x");
            assert_eq!(b.code(), code, "{e}");
            assert_eq!(b.is_retryable(), code == ErrorCode::TRANSIENT);
            assert!(b.message().starts_with("put x: ") && !b.message().contains('\n'));
        }
        let e = opendal::Error::new(ErrorKind::PermissionDenied, "InvalidAccessKeyId");
        assert!(s3_error(&e, "ls").message().contains("credentials"));
    }
}
