//! One SSH connection with its SFTP session.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client::Handle;
use russh::Disconnect;
use russh_sftp::client::rawsession::Limits;
use russh_sftp::client::{Config as SftpSessionConfig, RawSftpSession};
use stowage_backend_api::{BackendError, Result};

use crate::auth::{authenticate, known_hosts_path};
use crate::config::SftpConfig;
use crate::errors::{sftp_error, ssh_error};
use crate::host_key::HostKeyCheck;

/// OpenSSH's atomic rename-over (`rename(2)` semantics).
const POSIX_RENAME: &str = "posix-rename@openssh.com";

/// The largest read or write request we send; servers may lower it
/// (`limits@openssh.com`). 255 KiB is what OpenSSH's own client uses
/// against its server.
const MAX_IO_LEN: u64 = 255 * 1024;
/// What every server must accept (SFTP v3 draft).
const SAFE_IO_LEN: u64 = 32 * 1024;

/// Our SSH receive window: large enough that downloads are not paced by
/// window adjustments on a fast link.
const WINDOW: u32 = 16 << 20;

/// AES-GCM first: with AES instructions it moves bulk data faster than
/// ChaCha20-Poly1305 (russh's first choice), which stays as a fallback.
const CIPHERS: &[russh::cipher::Name] = &[
    russh::cipher::AES_256_GCM,
    russh::cipher::AES_128_GCM,
    russh::cipher::CHACHA20_POLY1305,
    russh::cipher::AES_256_CTR,
    russh::cipher::AES_128_CTR,
];

/// A live, authenticated connection.
pub struct Connection {
    ssh: Handle<HostKeyCheck>,
    /// The SFTP session; requests may be issued from many tasks at once.
    pub sftp: RawSftpSession,
    /// Whether the server offers [`POSIX_RENAME`].
    pub posix_rename: bool,
    /// Bytes per read request.
    pub read_len: u32,
    /// Bytes per write request.
    pub write_len: u32,
}

impl Connection {
    /// Connects, checks the host key, authenticates and starts SFTP, each
    /// step bounded by the URL's timeout.
    pub async fn open(cfg: &SftpConfig) -> Result<Self> {
        let within = |what: &'static str| {
            let t = cfg.timeout;
            move |_| {
                BackendError::transient(format!(
                    "sftp: {what} {}:{} took longer than {t:?}",
                    cfg.host, cfg.port
                ))
            }
        };
        let refusal = Arc::new(Mutex::new(None));
        let check = HostKeyCheck::new(
            &cfg.host,
            cfg.port,
            known_hosts_path(cfg)?,
            cfg.host_key,
            refusal.clone(),
        );
        let ssh_config = Arc::new(russh::client::Config {
            preferred: russh::Preferred {
                cipher: std::borrow::Cow::Borrowed(CIPHERS),
                ..Default::default()
            },
            window_size: WINDOW,
            nodelay: true,
            // A dead peer is noticed even when no request is waiting.
            keepalive_interval: Some(cfg.timeout),
            keepalive_max: 2,
            ..Default::default()
        });
        let connected = tokio::time::timeout(
            cfg.timeout,
            russh::client::connect(ssh_config, (cfg.host.as_str(), cfg.port), check),
        )
        .await
        .map_err(within("connecting to"))?;
        let mut ssh = match connected {
            Ok(ssh) => ssh,
            Err(e) => {
                // A refused host key is permanent and explains itself.
                if let Some(refused) = refusal.lock().unwrap_or_else(|p| p.into_inner()).take() {
                    return Err(refused);
                }
                return Err(ssh_error(
                    &e,
                    format_args!("sftp: connecting to {}:{}", cfg.host, cfg.port),
                ));
            }
        };
        tokio::time::timeout(cfg.timeout, authenticate(&mut ssh, cfg))
            .await
            .map_err(within("authenticating to"))??;

        let sftp = tokio::time::timeout(cfg.timeout, async {
            let channel = ssh
                .channel_open_session()
                .await
                .map_err(|e| ssh_error(&e, "sftp: opening a channel"))?;
            channel
                .request_subsystem(true, "sftp")
                .await
                .map_err(|e| ssh_error(&e, "sftp: starting the sftp subsystem"))?;
            let session_config = SftpSessionConfig {
                request_timeout_secs: cfg.timeout.as_secs_f64().ceil().max(1.0) as u64,
                ..Default::default()
            };
            let sftp = RawSftpSession::new_with_config(channel.into_stream(), session_config);
            let version = sftp
                .init()
                .await
                .map_err(|e| sftp_error(&e, "sftp: starting the session"))?;
            Ok::<_, BackendError>((sftp, version))
        })
        .await
        .map_err(within("starting SFTP on"))?;
        let (mut sftp, version) = sftp?;
        let has = |name: &str| version.extensions.get(name).is_some_and(|v| v == "1");
        let posix_rename = has(POSIX_RENAME);
        let (read_len, write_len) = if has("limits@openssh.com") {
            let limits = Limits::from(
                sftp.limits()
                    .await
                    .map_err(|e| sftp_error(&e, "sftp: asking the server's limits"))?,
            );
            sftp.set_limits(limits);
            (
                limits.read_len.unwrap_or(SAFE_IO_LEN).min(MAX_IO_LEN),
                limits.write_len.unwrap_or(SAFE_IO_LEN).min(MAX_IO_LEN),
            )
        } else {
            (SAFE_IO_LEN, SAFE_IO_LEN)
        };
        log::debug!(
            "sftp: connected to {}:{} as {} (posix-rename: {posix_rename}, read {read_len} B, \
             write {write_len} B per request)",
            cfg.host,
            cfg.port,
            cfg.user
        );
        Ok(Self {
            ssh,
            sftp,
            posix_rename,
            read_len: read_len as u32,
            write_len: write_len as u32,
        })
    }

    /// Whether the SSH session has ended (peer gone, disconnected).
    pub fn is_closed(&self) -> bool {
        self.ssh.is_closed()
    }

    /// Says goodbye; errors do not matter any more.
    pub async fn close(&self) {
        let _ = self.sftp.close_session();
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            self.ssh.disconnect(Disconnect::ByApplication, "", "en"),
        )
        .await;
    }

    /// Sends OpenSSH's `posix-rename@openssh.com` (replaces `to`).
    pub async fn posix_rename(
        &self,
        from: &str,
        to: &str,
    ) -> Result<(), russh_sftp::client::error::Error> {
        let mut data = Vec::with_capacity(8 + from.len() + to.len());
        for s in [from, to] {
            data.extend_from_slice(&(s.len() as u32).to_be_bytes());
            data.extend_from_slice(s.as_bytes());
        }
        match self.sftp.extended(POSIX_RENAME, data).await? {
            russh_sftp::protocol::Packet::Status(s)
                if s.status_code == russh_sftp::protocol::StatusCode::Ok =>
            {
                Ok(())
            }
            russh_sftp::protocol::Packet::Status(s) => Err(s.into()),
            _ => Err(russh_sftp::client::error::Error::UnexpectedPacket),
        }
    }
}
