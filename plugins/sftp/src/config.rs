//! `sftp://` URL parsing.

use std::path::PathBuf;
use std::time::Duration;

use stowage_backend_api::location::PathUrl;
use stowage_backend_api::{BackendError, Result};
use stowage_net_common::QueryParamsExt;

/// What to do with a host key that `known_hosts` does not list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostKeyPolicy {
    /// Refuse it, showing its fingerprint and how to accept it (default).
    Strict,
    /// Record it in `known_hosts` and go on, like OpenSSH's
    /// `StrictHostKeyChecking=accept-new`; a changed key is still refused.
    AcceptNew,
}

/// What an `sftp://` URL asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SftpConfig {
    /// The login name; the local user's name when the URL has none.
    pub user: String,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// TCP port, 22 by default.
    pub port: u16,
    /// The directory: relative to the login directory unless it starts
    /// with `/`; empty for the login directory itself.
    pub dir: String,
    /// `?identity=FILE`: a private key tried after the agent's.
    pub identity: Option<PathBuf>,
    /// `?known_hosts=FILE`, else `~/.ssh/known_hosts`.
    pub known_hosts: Option<PathBuf>,
    /// `?host_key=strict|accept-new`.
    pub host_key: HostKeyPolicy,
    /// `?timeout=`: connecting, and each request's answer.
    pub timeout: Duration,
}

impl SftpConfig {
    /// `sftp://[USER@]HOST[:PORT]/rel/path` (relative to the login
    /// directory) or `sftp://[USER@]HOST[:PORT]//abs/path`, as duplicity
    /// writes them.
    pub fn from_url(url: &str) -> Result<Self> {
        let parsed = PathUrl::parse(url)?;
        let mut params = parsed.params();
        let identity = params.take("identity").map(PathBuf::from);
        let known_hosts = params.take("known_hosts").map(PathBuf::from);
        let host_key = match params
            .take_choice("host_key", &["strict", "accept-new"])?
            .as_deref()
        {
            Some("accept-new") => HostKeyPolicy::AcceptNew,
            _ => HostKeyPolicy::Strict,
        };
        let timeout = params.take_timeout()?;
        params.finish()?;

        let (authority, path) = parsed.authority_and_path()?;
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((user, _)) if user.contains(':') => {
                return Err(BackendError::invalid_input(
                    "sftp: passwords in the URL are not supported; authenticate with a key \
                     (ssh-agent, ?identity=FILE or ~/.ssh/id_*)",
                ))
            }
            Some((user, hostport)) => (Some(user.to_string()), hostport),
            None => (None, authority.as_str()),
        };
        let (host, port) = split_host_port(hostport)?;
        let user = match user {
            Some(u) if !u.is_empty() => u,
            _ => local_user_name()?,
        };
        let path = path
            .into_os_string()
            .into_string()
            .map_err(|_| BackendError::invalid_input("sftp: the path is not valid UTF-8"))?;
        // `/rel` is relative to the login directory, `//abs` absolute.
        let dir = match path.strip_prefix('/') {
            Some(rest) => rest.trim_end_matches('/').to_string(),
            None => String::new(),
        };
        let dir = if dir.is_empty() && path.starts_with("//") {
            "/".to_string()
        } else {
            dir
        };
        Ok(Self {
            user,
            host,
            port,
            dir,
            identity,
            known_hosts,
            host_key,
            timeout,
        })
    }

    /// The remote path of entry `name` in the directory.
    pub fn path_of(&self, name: &str) -> String {
        match self.dir.as_str() {
            "" => name.to_string(),
            "/" => format!("/{name}"),
            dir => format!("{dir}/{name}"),
        }
    }

    /// The directory as SFTP sees it (`.` for the login directory).
    pub fn dir_path(&self) -> &str {
        if self.dir.is_empty() {
            "."
        } else {
            &self.dir
        }
    }
}

fn split_host_port(hostport: &str) -> Result<(String, u16)> {
    let bad = || BackendError::invalid_input(format!("sftp: invalid host {hostport:?}"));
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        match after.strip_prefix(':') {
            Some(p) => (host, Some(p)),
            None if after.is_empty() => (host, None),
            None => return Err(bad()),
        }
    } else {
        match hostport.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err(BackendError::invalid_input("sftp: the URL has no host"));
    }
    let port = match port {
        None => 22,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| BackendError::invalid_input(format!("sftp: invalid port {p:?}")))?,
    };
    Ok((host.to_string(), port))
}

fn local_user_name() -> Result<String> {
    let uid = nix::unistd::getuid();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(user)) => Ok(user.name),
        _ => std::env::var("USER").map_err(|_| {
            BackendError::invalid_input(format!(
                "sftp: the URL names no user and uid {uid} has no name; write sftp://USER@HOST/..."
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicity_forms() {
        let c = SftpConfig::from_url("sftp://bob@example.org:2222/backups/host1").unwrap();
        assert_eq!(
            (c.user.as_str(), c.host.as_str(), c.port, c.dir.as_str()),
            ("bob", "example.org", 2222, "backups/host1")
        );
        assert_eq!(c.path_of("x"), "backups/host1/x");
        assert_eq!(c.host_key, HostKeyPolicy::Strict);
        let c = SftpConfig::from_url("sftp://bob@h//srv/backup/").unwrap();
        assert_eq!((c.port, c.dir.as_str()), (22, "/srv/backup"));
        assert_eq!(c.path_of("x"), "/srv/backup/x");
        let c = SftpConfig::from_url("sftp://bob@h").unwrap();
        assert_eq!((c.dir.as_str(), c.dir_path()), ("", "."));
        assert_eq!(c.path_of("x"), "x");
        let c = SftpConfig::from_url("sftp://bob@h//").unwrap();
        assert_eq!(c.path_of("x"), "/x");
        let c = SftpConfig::from_url("sftp://bob@[::1]:22/d").unwrap();
        assert_eq!(c.host, "::1");
    }

    #[test]
    fn parameters() {
        let c = SftpConfig::from_url(
            "sftp://u@h/d?identity=/k/id&known_hosts=/k/kh&host_key=accept-new&timeout=5s",
        )
        .unwrap();
        assert_eq!(c.identity, Some(PathBuf::from("/k/id")));
        assert_eq!(c.known_hosts, Some(PathBuf::from("/k/kh")));
        assert_eq!(c.host_key, HostKeyPolicy::AcceptNew);
        assert_eq!(c.timeout, Duration::from_secs(5));
        for bad in [
            "sftp://u@h/d?host_key=yes",
            "sftp://u@h/d?colour=blue",
            "sftp://u@h:0/d",
            "sftp://u@h:x/d",
            "sftp://u@/d",
            "sftp://u@[::1/d",
        ] {
            assert!(SftpConfig::from_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_are_refused_without_echo() {
        let err = SftpConfig::from_url("sftp://u:hunter2@h/d").unwrap_err();
        assert!(!err.message().contains("hunter2"));
        assert_eq!(err.code(), stowage_backend_api::ErrorCode::INVALID_INPUT);
    }
}
