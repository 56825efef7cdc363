//! The `sftp` backend: objects are regular files in one remote directory.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::{FileAttributes, StatusCode};
use stowage_backend_api::{BackendError, Progress, Result};
use stowage_fs_common::{is_temp_name, STALE_TEMPORARY_AGE, TEMP_PREFIX};
use stowage_net_common::{open_source, temp_name, Reporter};

use crate::config::SftpConfig;
use crate::connection::Connection;
use crate::errors::{breaks_connection, sftp_error};
use crate::transfer::{download, upload, TransferError};

/// How many small requests (stat, remove) one call keeps in flight.
pub(crate) const PARALLEL_REQUESTS: usize = 32;

/// A directory on an SFTP server.
///
/// Invariants: an object appears under its name only complete (upload to
/// a hidden temporary name, then an atomic rename over the name); one
/// connection is shared by all threads and replaced when it breaks.
pub struct SftpStore {
    cfg: SftpConfig,
    progress: Option<Progress>,
    /// The live connection, if any. Never held across an `.await`.
    /// Shared with the stream extension's handle on the same store.
    conn: Arc<Mutex<Option<Arc<Connection>>>>,
    /// Serialises connecting, so that threads arriving together share one.
    connecting: Arc<tokio::sync::Mutex<()>>,
}

pub(crate) fn is_missing(e: &SftpError) -> bool {
    matches!(e, SftpError::Status(s) if s.status_code == StatusCode::NoSuchFile)
}

impl SftpStore {
    /// A store for `cfg`; connects on first use.
    pub fn new(cfg: SftpConfig, progress: Option<Progress>) -> Self {
        Self {
            cfg,
            progress,
            conn: Arc::new(Mutex::new(None)),
            connecting: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Another handle on the same store and connection, for the stream
    /// and location extensions (which outlive the `&self` they came from).
    pub(crate) fn sibling(&self) -> Self {
        Self {
            cfg: self.cfg.clone(),
            progress: None,
            conn: Arc::clone(&self.conn),
            connecting: Arc::clone(&self.connecting),
        }
    }

    /// The store's settings.
    pub(crate) fn cfg(&self) -> &SftpConfig {
        &self.cfg
    }

    pub(crate) fn slot(&self) -> std::sync::MutexGuard<'_, Option<Arc<Connection>>> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn live(&self) -> Option<Arc<Connection>> {
        self.slot().as_ref().filter(|c| !c.is_closed()).cloned()
    }

    pub(crate) async fn connection(&self) -> Result<Arc<Connection>> {
        if let Some(c) = self.live() {
            return Ok(c);
        }
        let _one_at_a_time = self.connecting.lock().await;
        if let Some(c) = self.live() {
            return Ok(c);
        }
        let conn = Arc::new(Connection::open(&self.cfg).await?);
        *self.slot() = Some(conn.clone());
        Ok(conn)
    }

    /// Maps `e`; a broken session is dropped so the next call reconnects.
    pub(crate) fn failed(
        &self,
        conn: &Arc<Connection>,
        e: &SftpError,
        what: impl std::fmt::Display,
    ) -> BackendError {
        if breaks_connection(e) {
            let mut slot = self.slot();
            if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, conn)) {
                *slot = None;
            }
        }
        sftp_error(e, what)
    }

    fn transfer_failed(&self, conn: &Arc<Connection>, e: TransferError) -> BackendError {
        match e {
            TransferError::Sftp(e, what) => self.failed(conn, &e, what),
            TransferError::Other(e) => e,
        }
    }

    pub(crate) fn object_path(&self, name: &str) -> Result<String> {
        if is_temp_name(name.as_bytes()) {
            return Err(BackendError::invalid_input(format!(
                "{name:?}: names starting with {TEMP_PREFIX:?} are reserved for temporary files"
            )));
        }
        Ok(self.cfg.path_of(name))
    }

    /// Creates the directory and its missing parents.
    pub(crate) async fn make_dir(&self, conn: &Arc<Connection>) -> Result<()> {
        let dir = self.cfg.dir.as_str();
        let mut prefix = String::new();
        for part in dir.split('/') {
            if part.is_empty() {
                prefix.push('/');
                continue;
            }
            prefix.push_str(part);
            match conn
                .sftp
                .mkdir(prefix.as_str(), FileAttributes::default())
                .await
            {
                Ok(_) => {}
                // Already there (or made by another thread meanwhile)?
                Err(e) => match conn.sftp.stat(prefix.as_str()).await {
                    Ok(a) if a.attrs.is_dir() => {}
                    _ => {
                        return Err(self.failed(
                            conn,
                            &e,
                            format_args!("creating directory {prefix}"),
                        ))
                    }
                },
            }
            prefix.push('/');
        }
        Ok(())
    }

    pub(crate) async fn put_async(&self, local: &Path, name: &str) -> Result<()> {
        let target = self.object_path(name)?;
        let (file, size) = open_source(local)?;
        let conn = self.connection().await?;
        let temp = self.cfg.path_of(&temp_name(name));
        let mut progress = Reporter::start(self.progress.as_ref(), size);
        let mut uploaded = upload(&conn, &file, size, &temp, &mut progress).await;
        if matches!(&uploaded, Err(TransferError::Sftp(e, _)) if is_missing(e)) {
            // The directory does not exist yet: the first put creates it.
            self.make_dir(&conn).await?;
            uploaded = upload(&conn, &file, size, &temp, &mut progress).await;
        }
        let result = match uploaded {
            Ok(()) => self.rename_over(&conn, &temp, &target).await,
            Err(e) => Err(self.transfer_failed(&conn, e)),
        };
        if result.is_err() && self.live().is_some_and(|c| Arc::ptr_eq(&c, &conn)) {
            // Best effort; a temporary left by a lost connection is swept
            // by a later close once it is stale.
            let _ = conn.sftp.remove(temp.as_str()).await;
        }
        result
    }

    /// Moves the completed temporary file over the object's name.
    pub(crate) async fn rename_over(
        &self,
        conn: &Arc<Connection>,
        temp: &str,
        target: &str,
    ) -> Result<()> {
        let what = format_args!("renaming {temp} to {target}");
        if conn.posix_rename {
            return conn
                .posix_rename(temp, target)
                .await
                .map_err(|e| self.failed(conn, &e, what));
        }
        // Plain SFTP v3 rename refuses an existing target: there is a short
        // window without the object. Servers without posix-rename are rare.
        match conn.sftp.remove(target).await {
            Ok(_) => {}
            Err(e) if is_missing(&e) => {}
            Err(e) => return Err(self.failed(conn, &e, format_args!("replacing {target}"))),
        }
        conn.sftp
            .rename(temp, target)
            .await
            .map(|_| ())
            .map_err(|e| self.failed(conn, &e, what))
    }

    pub(crate) async fn get_async(&self, name: &str, local: &Path) -> Result<()> {
        let source = self.object_path(name)?;
        let conn = self.connection().await?;
        let temp = download(&conn, &source, local, self.progress.as_ref())
            .await
            .map_err(|e| self.transfer_failed(&conn, e))?;
        temp.commit()
    }

    /// Every entry of the directory with its attributes; a missing
    /// directory is empty.
    async fn entries(&self, conn: &Arc<Connection>) -> Result<Vec<(String, FileAttributes)>> {
        let dir = self.cfg.dir_path();
        let handle = match conn.sftp.opendir(dir).await {
            Ok(h) => h.handle,
            Err(e) if is_missing(&e) => return Ok(Vec::new()),
            Err(e) => return Err(self.failed(conn, &e, format_args!("listing {dir}"))),
        };
        let mut out = Vec::new();
        let result = loop {
            match conn.sftp.readdir(handle.as_str()).await {
                Ok(names) => out.extend(names.files.into_iter().map(|f| (f.filename, f.attrs))),
                Err(SftpError::Status(s)) if s.status_code == StatusCode::Eof => break Ok(out),
                Err(e) => break Err(self.failed(conn, &e, format_args!("listing {dir}"))),
            }
        };
        let _ = conn.sftp.close(handle.as_str()).await;
        result
    }

    pub(crate) async fn list_async(&self) -> Result<Vec<(String, u64)>> {
        let conn = self.connection().await?;
        Ok(self
            .entries(&conn)
            .await?
            .into_iter()
            .filter(|(name, attrs)| !is_temp_name(name.as_bytes()) && attrs.is_regular())
            .map(|(name, attrs)| (name, attrs.size.unwrap_or(0)))
            .collect())
    }

    pub(crate) async fn query_async(
        &self,
        conn: &Arc<Connection>,
        name: &str,
    ) -> Result<Option<u64>> {
        let path = self.object_path(name)?;
        match conn.sftp.lstat(path.as_str()).await {
            Ok(a) if a.attrs.is_regular() => Ok(Some(a.attrs.size.unwrap_or(0))),
            Ok(_) => Ok(None),
            Err(e) if is_missing(&e) => Ok(None),
            Err(e) => Err(self.failed(conn, &e, format_args!("querying {path}"))),
        }
    }

    pub(crate) async fn delete_async(&self, conn: &Arc<Connection>, name: &str) -> Result<()> {
        let path = self.object_path(name)?;
        conn.sftp
            .remove(path.as_str())
            .await
            .map(|_| ())
            .map_err(|e| self.failed(conn, &e, format_args!("deleting {path}")))
    }

    /// Removes temporary files of puts that died long ago. Best effort.
    pub(crate) async fn sweep_stale_temporaries(&self, conn: &Arc<Connection>) {
        let Ok(entries) = self.entries(conn).await else {
            return;
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        for (name, attrs) in entries {
            let age = attrs
                .mtime
                .map(|m| now.saturating_sub(Duration::from_secs(m.into())));
            if is_temp_name(name.as_bytes()) && age.is_some_and(|a| a > STALE_TEMPORARY_AGE) {
                let path = self.cfg.path_of(&name);
                match conn.sftp.remove(path.as_str()).await {
                    Ok(_) => log::info!("sftp: removed {path}, left by an interrupted put"),
                    Err(e) => log::debug!("sftp: cannot remove {path}: {e}"),
                }
            }
        }
    }
}
