//! Backend URLs: `scheme://...` and `prefix+...+scheme://...`.

use crate::error::{Error, Result};
use crate::redact::{redact_url, secrets};

/// A syntactically valid backend URL, split into its handler chain.
///
/// Invariant: `url` parses with the `url` crate and starts with
/// `<handlers joined by '+'>://`; `handlers` are lower case and each is a
/// valid handler name. Which of them are prefixes is decided by the registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    url: String,
    handlers: Vec<String>,
}

impl Target {
    /// Parses and checks `url`.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] naming what is wrong.
    pub fn parse(url: &str) -> Result<Self> {
        // Redacted before anything looks at the text: whatever fails below
        // shows only this.
        let shown = redact_url(url);
        let invalid = |reason: String| Error::InvalidUrl {
            url: shown.clone(),
            reason,
        };
        let Some((scheme_part, _)) = url.split_once("://") else {
            return Err(invalid(
                "expected scheme://location (e.g. file:///srv/backup)".into(),
            ));
        };
        let handlers: Vec<String> = scheme_part
            .split('+')
            .map(str::to_ascii_lowercase)
            .collect();
        for h in &handlers {
            check_handler_name(h).map_err(|reason| invalid(reason.to_string()))?;
        }
        // The whole URL must be well-formed even when a prefix will strip a
        // part of it (duplicity parses the whole URL first, too).
        url::Url::parse(url).map_err(|e| invalid(e.to_string()))?;
        Ok(Self {
            url: url.to_string(),
            handlers,
        })
    }

    /// The URL as given (contains credentials if the user gave any).
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The URL with `user:password@` removed: the only form to show.
    pub fn redacted(&self) -> String {
        redact_url(&self.url)
    }

    /// The lower-cased names before `://`, split at `+`.
    pub fn handlers(&self) -> &[String] {
        &self.handlers
    }

    /// The URL without its first handler: what a prefix backend receives.
    pub fn strip_first_handler(&self) -> Option<Target> {
        if self.handlers.len() < 2 {
            return None;
        }
        let plus = self.url.find('+')?;
        Some(Target {
            url: self.url[plus + 1..].to_string(),
            handlers: self.handlers[1..].to_vec(),
        })
    }

    /// The password (raw and percent-decoded) and user info, so that
    /// messages coming back from plugins can be scrubbed of them.
    pub fn secrets(&self) -> Vec<String> {
        secrets(&self.url)
    }
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Target({})", self.redacted())
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// RFC 3986 scheme syntax without `+` (which separates prefixes):
/// a letter, then letters, digits, `-` or `.`.
pub fn check_handler_name(name: &str) -> std::result::Result<(), &'static str> {
    let mut chars = name.chars();
    match chars.next() {
        None => return Err("empty scheme or prefix name"),
        Some(c) if !c.is_ascii_alphabetic() => {
            return Err("scheme and prefix names must start with a letter")
        }
        Some(_) => {}
    }
    if chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') {
        Ok(())
    } else {
        Err("scheme and prefix names may contain only letters, digits, '-' and '.'")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains() {
        let t = Target::parse("Wrap+WRAP+file:///srv/x").unwrap();
        assert_eq!(t.handlers(), ["wrap", "wrap", "file"]);
        let inner = t.strip_first_handler().unwrap();
        assert_eq!(inner.as_str(), "WRAP+file:///srv/x");
        assert_eq!(
            inner.strip_first_handler().unwrap().as_str(),
            "file:///srv/x"
        );
        assert!(inner
            .strip_first_handler()
            .unwrap()
            .strip_first_handler()
            .is_none());
    }

    #[test]
    fn bad_urls() {
        for bad in [
            "/plain/path",
            "file:rel",
            "1x://a",
            "a++b://x",
            "+file:///x",
            "fi_le:///x",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
        assert!(Target::parse("file://rel/dir").is_ok());
        assert!(Target::parse("xorriso:///srv/img.iso:/dir").is_ok());
    }

    #[test]
    fn credentials_never_shown() {
        let t = Target::parse("sftp://user:p%40ss@host/p").unwrap();
        assert_eq!(t.redacted(), "sftp://host/p");
        assert_eq!(format!("{t:?}"), "Target(sftp://host/p)");
        let msg = crate::redact::scrub("login user:p%40ss failed, p@ss wrong", &t.secrets());
        assert!(!msg.contains("p@ss") && !msg.contains("p%40ss"), "{msg}");
        let err = Target::parse("sftp://u:secret@host:notaport/p").unwrap_err();
        assert!(!err.to_string().contains("secret"));
    }
}
