//! Client authentication: ssh-agent, then `?identity=`, then the default
//! key files, as OpenSSH tries them.

use std::path::PathBuf;
use std::sync::Arc;

use russh::client::{AuthResult, Handle};
use russh::keys::agent::client::AgentClient;
use russh::keys::ssh_key::HashAlg;
use russh::keys::{load_secret_key, PrivateKeyWithHashAlg};
use stowage_backend_api::{BackendError, ErrorCode, Result};

use crate::config::SftpConfig;
use crate::errors::ssh_error;
use crate::host_key::HostKeyCheck;

/// The key files tried when nothing else worked, in OpenSSH's order.
const DEFAULT_KEYS: [&str; 3] = ["id_ed25519", "id_ecdsa", "id_rsa"];

/// Authenticates as `cfg.user`; permission denied (never retried) when no
/// key is accepted, naming every key tried.
pub async fn authenticate(ssh: &mut Handle<HostKeyCheck>, cfg: &SftpConfig) -> Result<()> {
    let mut tried = Vec::new();
    let rsa_hash = ssh
        .best_supported_rsa_hash()
        .await
        .map_err(|e| ssh_error(&e, "sftp: negotiating the RSA signature hash"))?
        .flatten();

    if std::env::var_os("SSH_AUTH_SOCK").is_some() {
        match AgentClient::connect_env().await {
            Ok(mut agent) => {
                let identities = agent.request_identities().await.unwrap_or_else(|e| {
                    log::warn!("sftp: ssh-agent did not list its keys: {e}");
                    Vec::new()
                });
                for identity in identities {
                    let key = identity.public_key().into_owned();
                    tried.push(format!("agent key {}", key.fingerprint(HashAlg::Sha256)));
                    let hash = key.algorithm().is_rsa().then_some(rsa_hash).flatten();
                    match ssh
                        .authenticate_publickey_with(&cfg.user, key, hash, &mut agent)
                        .await
                    {
                        Ok(AuthResult::Success) => return Ok(()),
                        Ok(AuthResult::Failure { .. }) => {}
                        Err(e) => log::warn!("sftp: ssh-agent could not sign: {e}"),
                    }
                }
            }
            Err(e) => log::warn!("sftp: SSH_AUTH_SOCK is set but ssh-agent is unreachable: {e}"),
        }
    }

    for (path, explicit) in key_files(cfg) {
        let key = match load_secret_key(&path, None) {
            Ok(key) => key,
            Err(e) if explicit => {
                return Err(BackendError::invalid_input(format!(
                    "sftp: cannot use ?identity={}: {e} (an encrypted key must be loaded into \
                     ssh-agent)",
                    path.display()
                )))
            }
            Err(e) => {
                log::warn!("sftp: skipping {}: {e}", path.display());
                continue;
            }
        };
        tried.push(path.display().to_string());
        let key = PrivateKeyWithHashAlg::new(Arc::new(key), rsa_hash);
        match ssh.authenticate_publickey(&cfg.user, key).await {
            Ok(AuthResult::Success) => return Ok(()),
            Ok(AuthResult::Failure { .. }) => {}
            Err(e) => return Err(ssh_error(&e, "sftp: authenticating")),
        }
    }

    let tried = if tried.is_empty() {
        "no key was available (no ssh-agent, no ?identity=, no ~/.ssh/id_ed25519, id_ecdsa or \
         id_rsa)"
            .to_string()
    } else {
        format!("tried {}", tried.join(", "))
    };
    Err(BackendError::new(
        ErrorCode::PERMISSION_DENIED,
        format!(
            "sftp: {}@{}:{} refused every key: {tried}",
            cfg.user, cfg.host, cfg.port
        ),
    ))
}

/// `?identity=` (explicit: an unusable one is an error), then the default
/// files that exist.
fn key_files(cfg: &SftpConfig) -> Vec<(PathBuf, bool)> {
    let mut files: Vec<(PathBuf, bool)> = cfg.identity.iter().map(|p| (p.clone(), true)).collect();
    if let Some(ssh_dir) = home_dir().map(|h| h.join(".ssh")) {
        files.extend(
            DEFAULT_KEYS
                .iter()
                .map(|name| ssh_dir.join(name))
                .filter(|p| p.is_file() && Some(p) != cfg.identity.as_ref())
                .map(|p| (p, false)),
        );
    }
    files
}

/// `$HOME`, else the password database's home of the current user.
pub fn home_dir() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return Some(PathBuf::from(home));
    }
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.dir)
}

/// `~/.ssh/known_hosts` unless the URL names a file.
pub fn known_hosts_path(cfg: &SftpConfig) -> Result<PathBuf> {
    if let Some(p) = &cfg.known_hosts {
        return Ok(p.clone());
    }
    home_dir()
        .map(|h| h.join(".ssh").join("known_hosts"))
        .ok_or_else(|| {
            BackendError::invalid_input(
                "sftp: no home directory to find ~/.ssh/known_hosts; set ?known_hosts=FILE",
            )
        })
}
