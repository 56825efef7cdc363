//! `webdav://` and `webdavs://` URL parsing and credentials.

use std::path::Path;
use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use stowage_backend_api::location::PathUrl;
use stowage_backend_api::{BackendError, Result};
use stowage_net_common::QueryParamsExt;

use crate::netrc;

/// Bytes kept as they are in a path segment: RFC 3986 unreserved.
pub const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Basic-auth credentials. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub user: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Credentials {{ user: {:?}, password: <hidden> }}",
            self.user
        )
    }
}

/// What a WebDAV URL asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DavConfig {
    /// `http://HOST[:PORT]/path/` or `https://...`: the collection, with
    /// a final `/`, path segments percent-encoded.
    pub base: String,
    /// Host name, for `~/.netrc`.
    pub host: String,
    /// Basic auth, if any.
    pub credentials: Option<Credentials>,
    /// `?timeout=`: connecting, and any stretch without progress.
    pub timeout: Duration,
}

impl DavConfig {
    /// `webdav://HOST[:PORT]/PATH` (plain HTTP) or `webdavs://...` (TLS).
    /// Credentials come from `STOWAGE_WEBDAV_USER` / `STOWAGE_WEBDAV_PASSWORD`,
    /// else from `~/.netrc`; never from the URL.
    pub fn from_url(url: &str) -> Result<Self> {
        let parsed = PathUrl::parse(url)?;
        let http = match parsed.scheme.as_str() {
            "webdav" => "http",
            "webdavs" => "https",
            other => {
                return Err(BackendError::invalid_input(format!(
                    "{other}: not a WebDAV scheme"
                )))
            }
        };
        let mut params = parsed.params();
        let timeout = params.take_timeout()?;
        params.finish()?;
        let (authority, path) = parsed.authority_and_path()?;
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((u, _)) if u.contains(':') => {
                return Err(BackendError::invalid_input(format!(
                    "{}: passwords in the URL are not supported; use STOWAGE_WEBDAV_USER and \
                     STOWAGE_WEBDAV_PASSWORD, or ~/.netrc",
                    parsed.scheme
                )))
            }
            Some((u, hp)) => (Some(u.to_string()), hp.to_string()),
            None => (None, authority.clone()),
        };
        let host = hostport
            .strip_prefix('[')
            .and_then(|h| h.split_once(']').map(|(h, _)| h))
            .unwrap_or_else(|| hostport.split(':').next().unwrap_or(""))
            .to_string();
        if host.is_empty() {
            return Err(BackendError::invalid_input(format!(
                "{}: the URL has no host",
                parsed.scheme
            )));
        }
        let path = path
            .to_str()
            .ok_or_else(|| BackendError::invalid_input("webdav: the path is not valid UTF-8"))?;
        let mut base = format!("{http}://{hostport}/");
        for segment in path.split('/').filter(|s| !s.is_empty()) {
            base.push_str(&utf8_percent_encode(segment, SEGMENT).to_string());
            base.push('/');
        }
        let credentials = credentials(&host, user.as_deref(), home_netrc().as_deref())?;
        Ok(Self {
            base,
            host,
            credentials,
            timeout,
        })
    }

    /// The URL of object `name`.
    pub fn object_url(&self, name: &str) -> String {
        format!("{}{}", self.base, utf8_percent_encode(name, SEGMENT))
    }
}

fn home_netrc() -> Option<std::path::PathBuf> {
    std::env::var_os("HOME").map(|h| Path::new(&h).join(".netrc"))
}

/// From the environment, else the netrc file (if readable).
fn credentials(
    host: &str,
    user: Option<&str>,
    netrc_path: Option<&Path>,
) -> Result<Option<Credentials>> {
    let env_user = std::env::var("STOWAGE_WEBDAV_USER")
        .ok()
        .filter(|u| !u.is_empty());
    let env_password = std::env::var("STOWAGE_WEBDAV_PASSWORD").ok();
    match (env_user, env_password) {
        (Some(user), Some(password)) => return Ok(Some(Credentials { user, password })),
        (Some(_), None) => {
            return Err(BackendError::invalid_input(
                "webdav: STOWAGE_WEBDAV_USER is set but STOWAGE_WEBDAV_PASSWORD is not",
            ))
        }
        _ => {}
    }
    let Some(text) = netrc_path.and_then(|p| std::fs::read_to_string(p).ok()) else {
        return Ok(None);
    };
    Ok(netrc::lookup(&text, host, user).map(|(user, password)| Credentials { user, password }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let c = DavConfig::from_url("webdav://127.0.0.1:8080/a b/c").unwrap();
        assert_eq!(c.base, "http://127.0.0.1:8080/a%20b/c/");
        assert_eq!(c.host, "127.0.0.1");
        assert_eq!(
            c.object_url("x%46:é"),
            "http://127.0.0.1:8080/a%20b/c/x%2546%3A%C3%A9"
        );
        let c = DavConfig::from_url("webdavs://dav.example/?timeout=5s").unwrap();
        assert_eq!(c.base, "https://dav.example/");
        assert_eq!(c.timeout, Duration::from_secs(5));
        let e = DavConfig::from_url("webdav://u:s3cret-pw@h/x").unwrap_err();
        assert!(!e.message().contains("s3cret-pw"), "{e}");
        assert!(DavConfig::from_url("webdav:///x").is_err());
        assert!(DavConfig::from_url("webdav://h/x?colour=red").is_err());
    }

    #[test]
    fn netrc_credentials_and_hidden_password() {
        let dir = tempfile::tempdir().unwrap();
        let netrc = dir.path().join("netrc");
        std::fs::write(&netrc, "machine h login alice password s3cret\n").unwrap();
        let c = credentials("h", None, Some(&netrc)).unwrap();
        let c = c.expect("found in netrc");
        assert_eq!(c.user, "alice");
        assert!(!format!("{c:?}").contains("s3cret"));
        assert_eq!(credentials("other", None, Some(&netrc)).unwrap(), None);
    }
}
