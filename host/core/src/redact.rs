//! Credentials in URL text, found on the raw text before any parsing, so
//! that no message shows them, whether or not the text is a valid URL.
//!
//! The rule: in `scheme://rest`, the user information is everything from
//! after `://` to the **last** `@` of `rest`, unless `rest` starts with `/`
//! (an empty authority, as in `file:///srv/a@b`). The last `@`, not the
//! first `@` before `/`, `?` or `#`: a password may hold any of those
//! (`file://bob:hunter2#x@localhost/tmp`), and a URL parser would then cut
//! the authority short and put the password into the host, the port or the
//! fragment, and into its error messages. Text without `://` is not a URL
//! stowage accepts; when a `:` comes before its last `@`
//! (`sftp:bob:pw@host`) everything up to that `@` is treated as user
//! information too. Over-redacting an `@` in a path only shortens what is
//! shown; under-redacting would show a password.

use std::ops::Range;

use stowage_backend_api::location::percent_decode;

/// What replaces the user information in text that has no `://`.
const HIDDEN: &str = "***";

/// The byte range of the user information in `text` (without the `@`).
fn userinfo(text: &str) -> Option<Range<usize>> {
    match text.find("://") {
        Some(i) => {
            let start = i + "://".len();
            let rest = &text[start..];
            if rest.starts_with('/') {
                return None;
            }
            let at = rest.rfind('@')?;
            Some(start..start + at)
        }
        None => {
            let at = text.rfind('@')?;
            text[..at].contains(':').then_some(0..at)
        }
    }
}

/// `text` without its user information (`user:password@`): the only form
/// of a URL, valid or not, that may be shown or logged.
///
/// ```
/// use stowage::redact_url;
/// assert_eq!(redact_url("sftp://bob:pw@host/p"), "sftp://host/p");
/// assert_eq!(redact_url("file://bob:hunter2#x@localhost/tmp"), "file://localhost/tmp");
/// assert_eq!(redact_url("file:///srv/a@b"), "file:///srv/a@b");
/// ```
pub fn redact_url(text: &str) -> String {
    match userinfo(text) {
        Some(range) if range.start == 0 => format!("{HIDDEN}{}", &text[range.end..]),
        Some(range) => format!("{}{}", &text[..range.start], &text[range.end + 1..]),
        None => text.to_string(),
    }
}

/// The user information of `text` and its password, raw and
/// percent-decoded: what must be scrubbed from messages that come back
/// from plugins (which may quote the URL, or the password alone).
pub(crate) fn secrets(text: &str) -> Vec<String> {
    let Some(range) = userinfo(text) else {
        return Vec::new();
    };
    let userinfo = &text[range];
    let mut secrets = Vec::new();
    if let Some((_, password)) = userinfo.split_once(':') {
        if !password.is_empty() {
            secrets.push(password.to_string());
            if let Ok(decoded) = percent_decode(password) {
                secrets.push(String::from_utf8_lossy(&decoded).into_owned());
            }
        }
    }
    if !userinfo.is_empty() {
        secrets.push(userinfo.to_string());
    }
    // Longest first, so that scrubbing the user information is not
    // defeated by an earlier replacement of the password inside it.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets
}

/// Replaces each secret in `message` by `***`.
pub(crate) fn scrub(message: &str, secrets: &[String]) -> String {
    let mut out = message.to_string();
    for s in secrets {
        if !s.is_empty() {
            out = out.replace(s.as_str(), HIDDEN);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_information_ends_at_the_last_at_sign() {
        let cases = [
            ("file://bob:hunter2#x@localhost/tmp", "file://localhost/tmp"),
            ("file://bob:hunter2/x@localhost/tmp", "file://localhost/tmp"),
            ("sftp://u:p%40ss@host/p", "sftp://host/p"),
            ("sftp://u:p@ss@host/p?q#f", "sftp://host/p?q#f"),
            ("file:///srv/a@b", "file:///srv/a@b"),
            ("file://rel/dir", "file://rel/dir"),
            ("sftp:bob:pw@host", "***@host"),
            ("/home/a@b", "/home/a@b"),
        ];
        for (text, shown) in cases {
            assert_eq!(redact_url(text), shown, "{text}");
        }
    }

    #[test]
    fn secrets_are_scrubbed_from_messages() {
        let found = secrets("sftp://user:p%40ss/x@host/p");
        let msg = scrub("login user:p%40ss/x failed, p@ss/x wrong", &found);
        assert!(!msg.contains("p@ss") && !msg.contains("p%40ss"), "{msg}");
        assert!(secrets("file:///a@b").is_empty());
    }
}
