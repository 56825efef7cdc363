//! A plugin's descriptor and a [`BackendError`] as they travel.

use serde::{Deserialize, Serialize};
use stowage_backend_api::{BackendError, ErrorCode};

/// A plugin's descriptor on the wire.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WireDescriptor {
    /// Plugin name.
    pub name: String,
    /// Plugin version.
    pub version: String,
    /// One line.
    pub description: String,
    /// (name, description) of each scheme.
    pub schemes: Vec<(String, String)>,
    /// (name, description) of each prefix.
    pub prefixes: Vec<(String, String)>,
}

impl From<WireDescriptor> for stowage_backend_api::Descriptor {
    fn from(w: WireDescriptor) -> Self {
        let mut d = Self::new(&w.name, &w.version, &w.description);
        for (n, desc) in &w.schemes {
            d = d.scheme(n, desc);
        }
        for (n, desc) in &w.prefixes {
            d = d.prefix(n, desc);
        }
        d
    }
}

/// A [`BackendError`] on the wire.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WireError {
    /// The code number.
    pub code: u32,
    /// Whether a retry may help.
    pub retryable: bool,
    /// The message.
    pub message: String,
    /// The OS error number behind the error, 0 when there is none.
    pub os_error: i32,
}

impl From<&BackendError> for WireError {
    fn from(e: &BackendError) -> Self {
        Self {
            code: e.code().0,
            retryable: e.is_retryable(),
            message: e.message().to_string(),
            os_error: e.os_error(),
        }
    }
}

impl From<BackendError> for WireError {
    fn from(e: BackendError) -> Self {
        Self::from(&e)
    }
}

impl From<WireError> for BackendError {
    /// An error with an OS error number can only have been made by
    /// [`BackendError::from_io`] (nothing else sets the number, and
    /// `context` and `with_retryable` keep it): its message is a context,
    /// `": "` and the OS error's text, and its code follows from the number.
    /// It is made again the same way, so the number crosses too; anything
    /// that does not fit that shape crosses without it.
    fn from(w: WireError) -> Self {
        if w.os_error != 0 {
            let io = std::io::Error::from_raw_os_error(w.os_error);
            if let Some(context) = w.message.strip_suffix(&format!(": {io}")) {
                let e = BackendError::from_io(&io, context);
                if e.code().0 == w.code {
                    return e.with_retryable(w.retryable);
                }
            }
        }
        BackendError::new(ErrorCode(w.code), w.message).with_retryable(w.retryable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_cross_whole_with_their_os_error() {
        for errno in [
            libc::EACCES,
            libc::ENOENT,
            libc::ENOSPC,
            libc::EIO,
            libc::ECONNRESET,
        ] {
            let io = std::io::Error::from_raw_os_error(errno);
            let original = BackendError::from_io(&io, "writing /x/y")
                .context("plugin")
                .with_retryable(errno == libc::EIO);
            let crossed = BackendError::from(WireError::from(&original));
            assert_eq!(crossed, original);
            assert_eq!(crossed.os_error(), errno);
        }
        let plain = BackendError::not_found("no such object: a: b");
        assert_eq!(BackendError::from(WireError::from(&plain)), plain);
    }
}
