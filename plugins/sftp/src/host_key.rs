//! Checking the server's host key against `known_hosts`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use russh::keys::ssh_key::{HashAlg, PublicKey};
use russh::keys::PublicKeyOrCertificate;
use stowage_backend_api::{BackendError, ErrorCode};

use crate::config::HostKeyPolicy;
use crate::known_hosts::{self, host_entry, Verdict};

/// The russh handler of one connection: it accepts the server only when
/// its key is known (or new and `accept-new` is set), and keeps the reason
/// for a refusal, which russh itself reduces to "unknown key".
pub struct HostKeyCheck {
    host: String,
    port: u16,
    known_hosts: PathBuf,
    policy: HostKeyPolicy,
    refusal: Arc<Mutex<Option<BackendError>>>,
}

impl HostKeyCheck {
    /// A check of `host`:`port` against the file `known_hosts`; the refusal
    /// lands in `refusal`.
    pub fn new(
        host: &str,
        port: u16,
        known_hosts: PathBuf,
        policy: HostKeyPolicy,
        refusal: Arc<Mutex<Option<BackendError>>>,
    ) -> Self {
        Self {
            host: host.to_string(),
            port,
            known_hosts,
            policy,
            refusal,
        }
    }

    fn decide(&self, key: &PublicKey) -> Result<(), BackendError> {
        let entry = host_entry(&self.host, self.port);
        let file = self.known_hosts.display();
        let fingerprint = key.fingerprint(HashAlg::Sha256);
        let algorithm = key.algorithm();
        let verdict = known_hosts::check(&self.known_hosts, &self.host, self.port, key)
            .map_err(|e| BackendError::from_io(&e, format!("sftp: reading {file}")))?;
        match verdict {
            Verdict::Known => Ok(()),
            Verdict::Unknown if self.policy == HostKeyPolicy::AcceptNew => {
                known_hosts::learn(&self.known_hosts, &self.host, self.port, key).map_err(|e| {
                    BackendError::from_io(&e, format!("sftp: adding {entry} to {file}"))
                })?;
                log::warn!(
                    "sftp: permanently added {entry} ({algorithm} {fingerprint}) to {file} \
                     (?host_key=accept-new)"
                );
                Ok(())
            }
            Verdict::Unknown => Err(refused(format!(
                "sftp: the host key of {entry} is unknown: {algorithm} {fingerprint} is not in \
                 {file}. Check that fingerprint with the server's administrator (on the server: \
                 ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), then add the key with \
                 `ssh-keyscan -p {port} {host} >> {file}`, or accept it on first use with \
                 ?host_key=accept-new",
                port = self.port,
                host = self.host,
            ))),
            Verdict::Changed(line) => Err(refused(format!(
                "sftp: WARNING: THE HOST KEY OF {entry} HAS CHANGED. The server shows \
                 {algorithm} {fingerprint}, but {file} line {line} holds another {algorithm} key. \
                 Someone may be intercepting the connection (man-in-the-middle), or the server \
                 was reinstalled. Refusing to connect. If the change is expected, remove the old \
                 key with `ssh-keygen -R '{entry}' -f {file}` and add the new one"
            ))),
            Verdict::Revoked(line) => Err(refused(format!(
                "sftp: the host key of {entry} ({algorithm} {fingerprint}) is marked @revoked in \
                 {file} line {line}; refusing to connect"
            ))),
        }
    }
}

fn refused(message: String) -> BackendError {
    BackendError::new(ErrorCode::PERMISSION_DENIED, message)
}

impl russh::client::Handler for HostKeyCheck {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let decision = match server_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => self.decide(key),
            PublicKeyOrCertificate::Certificate(_) => Err(refused(format!(
                "sftp: {} offered a host certificate; only keys listed in known_hosts are trusted",
                host_entry(&self.host, self.port)
            ))),
        };
        match decision {
            Ok(()) => Ok(true),
            Err(e) => {
                *self.refusal.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                Ok(false)
            }
        }
    }
}
