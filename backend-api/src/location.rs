//! Helpers for plugins to read their URL the way duplicity does.
//!
//! The host has already checked the URL's syntax. Path-like schemes (`file`,
//! `xorriso`, `local-peer`) need the raw text, though: a general URL parser
//! lower-cases or rejects what is a relative path to them (`file://Rel/dir`
//! means the directory `Rel/dir` under the current one).

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use crate::error::{BackendError, Result};

/// A URL split into its parts without interpreting the authority.
///
/// Invariant: `rest` is the text after `scheme://` up to (not including) the
/// first `?` or `#`, still percent-encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathUrl {
    /// The lower-cased scheme.
    pub scheme: String,
    rest: String,
    query: Vec<(String, String)>,
}

impl PathUrl {
    /// Splits `url`, which must look like `scheme://...`.
    ///
    /// # Errors
    /// Invalid input when `://` is missing, a fragment is present, or the
    /// query is malformed.
    pub fn parse(url: &str) -> Result<Self> {
        let (scheme, after) = url.split_once("://").ok_or_else(|| {
            BackendError::invalid_input(format!(
                "URL must look like scheme://location, got {}",
                redact(url)
            ))
        })?;
        if after.contains('#') {
            return Err(BackendError::invalid_input(
                "URL fragments (#...) are not supported",
            ));
        }
        let (rest, query) = match after.split_once('?') {
            Some((rest, q)) => (rest, parse_query(q)?),
            None => (after, Vec::new()),
        };
        Ok(Self {
            scheme: scheme.to_ascii_lowercase(),
            rest: rest.to_string(),
            query,
        })
    }

    /// The location as a local path, duplicity style: `scheme:///abs` is the
    /// absolute `/abs`, `scheme://rel/dir` the relative `rel/dir`.
    ///
    /// # Errors
    /// Invalid input for an empty path or bad percent-encoding.
    pub fn local_path(&self) -> Result<PathBuf> {
        if self.rest.is_empty() {
            return Err(BackendError::invalid_input(format!(
                "{}:// URL has no path",
                self.scheme
            )));
        }
        Ok(PathBuf::from(OsString::from_vec(percent_decode(
            &self.rest,
        )?)))
    }

    /// The authority (up to the first `/`, percent-decoded) and the rest as
    /// a path starting with `/` (empty when there is none).
    pub fn authority_and_path(&self) -> Result<(String, PathBuf)> {
        let (auth, path) = match self.rest.find('/') {
            Some(i) => (&self.rest[..i], &self.rest[i..]),
            None => (self.rest.as_str(), ""),
        };
        let auth = String::from_utf8(percent_decode(auth)?)
            .map_err(|_| BackendError::invalid_input("the URL authority is not valid UTF-8"))?;
        Ok((
            auth,
            PathBuf::from(OsString::from_vec(percent_decode(path)?)),
        ))
    }

    /// The raw, still percent-encoded text between `://` and `?`.
    pub fn raw_location(&self) -> &str {
        &self.rest
    }

    /// Query parameters, for [`QueryParams`] to consume.
    pub fn params(&self) -> QueryParams {
        QueryParams {
            scheme: self.scheme.clone(),
            left: self.query.clone(),
        }
    }
}

/// Query parameters a plugin consumes one by one; what is left is an error.
#[derive(Debug)]
pub struct QueryParams {
    scheme: String,
    left: Vec<(String, String)>,
}

impl QueryParams {
    /// Removes and returns parameter `key`, refusing it when given more
    /// than once.
    ///
    /// # Errors
    /// Invalid input naming the repeated key.
    pub fn take_unique(&mut self, key: &str) -> Result<Option<String>> {
        if self.left.iter().filter(|(k, _)| k == key).count() > 1 {
            return Err(BackendError::invalid_input(format!(
                "{}: URL parameter {key:?} given more than once",
                self.scheme
            )));
        }
        Ok(self.take(key))
    }

    /// Removes and returns parameter `key` (the last one if repeated).
    pub fn take(&mut self, key: &str) -> Option<String> {
        let mut found = None;
        self.left.retain(|(k, v)| {
            if k == key {
                found = Some(v.clone());
                false
            } else {
                true
            }
        });
        found
    }

    /// Parameter `key` as one of `allowed`, or `None` when absent.
    ///
    /// # Errors
    /// Invalid input naming the key, the value and the allowed values.
    pub fn take_choice(&mut self, key: &str, allowed: &[&str]) -> Result<Option<String>> {
        match self.take(key) {
            None => Ok(None),
            Some(v) if allowed.contains(&v.as_str()) => Ok(Some(v)),
            Some(v) => Err(BackendError::invalid_input(format!(
                "{}: invalid value {v:?} for ?{key}= (expected one of: {})",
                self.scheme,
                allowed.join(", ")
            ))),
        }
    }

    /// Fails if any parameter was not consumed.
    ///
    /// # Errors
    /// Invalid input naming the unknown parameters.
    pub fn finish(self) -> Result<()> {
        if self.left.is_empty() {
            return Ok(());
        }
        let keys: Vec<&str> = self.left.iter().map(|(k, _)| k.as_str()).collect();
        Err(BackendError::invalid_input(format!(
            "{}: unknown URL parameter(s): {}",
            self.scheme,
            keys.join(", ")
        )))
    }
}

/// Splits a query (the text after `?`) into percent-decoded `key=value`
/// pairs, in order; a pair without `=` has an empty value.
///
/// # Errors
/// Invalid input for bad percent-encoding or a key or value that is not
/// UTF-8.
pub fn parse_query(q: &str) -> Result<Vec<(String, String)>> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = String::from_utf8(percent_decode(k)?)
                .map_err(|_| BackendError::invalid_input("URL parameter is not UTF-8"))?;
            let v = String::from_utf8(percent_decode(v)?)
                .map_err(|_| BackendError::invalid_input("URL parameter is not UTF-8"))?;
            Ok((k, v))
        })
        .collect()
}

/// Decodes `%XX` escapes.
///
/// # Errors
/// Invalid input for a `%` not followed by two hex digits.
pub fn percent_decode(s: &str) -> Result<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    BackendError::invalid_input(format!("bad percent-encoding in {s:?}"))
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// `url` with any `user:password@` removed, for messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, after)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    match after[..end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &after[at + 1..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicity_paths() {
        let abs = PathUrl::parse("file:///srv/a%20b?fsync=each").unwrap();
        assert_eq!(abs.local_path().unwrap(), PathBuf::from("/srv/a b"));
        let rel = PathUrl::parse("FILE://Rel/dir").unwrap();
        assert_eq!(rel.scheme, "file");
        assert_eq!(rel.local_path().unwrap(), PathBuf::from("Rel/dir"));
        assert!(PathUrl::parse("file:rel").is_err());
        assert!(PathUrl::parse("file://").unwrap().local_path().is_err());
        assert!(PathUrl::parse("file:///x%zz")
            .unwrap()
            .local_path()
            .is_err());
    }

    #[test]
    fn authority_keeps_case() {
        let u = PathUrl::parse("local-peer://Host1/var/collect").unwrap();
        let (a, p) = u.authority_and_path().unwrap();
        assert_eq!(a, "Host1");
        assert_eq!(p, PathBuf::from("/var/collect"));
    }

    #[test]
    fn params_are_consumed_or_refused() {
        let u = PathUrl::parse("file:///x?fsync=none&b=1").unwrap();
        let mut p = u.params();
        assert_eq!(
            p.take_choice("fsync", &["none", "each", "close"]).unwrap(),
            Some("none".into())
        );
        let err = p.finish().unwrap_err();
        assert!(err.message().contains("unknown URL parameter(s): b"));
        let mut p = PathUrl::parse("file:///x?a=1&a=2").unwrap().params();
        assert!(p
            .take_unique("a")
            .unwrap_err()
            .message()
            .contains("more than once"));
        let mut p = PathUrl::parse("file:///x?fsync=bad").unwrap().params();
        assert!(p.take_choice("fsync", &["none"]).is_err());
    }

    #[test]
    fn redaction() {
        assert_eq!(redact("sftp://u:p%40w@host/p"), "sftp://host/p");
        assert_eq!(redact("file:///a@b"), "file:///a@b");
    }
}
