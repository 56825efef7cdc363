//! The backend operations on top of one xorriso dialog process.
//!
//! State model: the xorriso process only ever holds the last committed session; changes
//! (puts and deletes) live in [`Inner::pending`] together with their staged copies until a
//! commit sends them all (`-rm`, `-map`), commits once and checks the result. So:
//!
//! * list, query and get see pending changes at once: the committed listing from xorriso is
//!   overlaid with the pending map, and a pending put is served from its staged copy;
//! * if xorriso dies, nothing is lost: `retry_cleanup` (or the next operation) starts a new
//!   process, which loads the last good session, and the pending changes are sent again at the
//!   next commit;
//! * a failed commit is rolled back: the process is killed (it is poisoned: it would commit the failed changes with the next session),
//!   for image files the first 64 KiB (the superblock with the commit point, block 16) and the
//!   length are restored, and a fresh process is started. The pending changes stay pending,
//!   except the ones of the call that triggered the commit, which fails as a whole.
//!
//! Commits happen at `close`, when the batch limits are reached, or for every change with
//! `?commit=each`. One mutex serialises everything that touches xorriso; copying a put's
//! source into staging happens outside it, so puts from several threads copy in parallel.
//!
//! The operations are split by concern: `state` (the locked state and running commands in
//! xorriso), `lister` (list, query), `location` (does the location exist), `reader` (get), `writer` (put, move), `deleter`,
//! `pending` (recording changes and withdrawing them after a failed commit), `commit`
//! (commit and rollback) and `compact`. This file holds the public types, open, info and
//! close.

mod change;
mod commit;
mod compact;
mod deleter;
mod lister;
mod location;
mod pending;
mod reader;
mod state;
mod writer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

use crate::config::{Config, Target};
use crate::dialog::{self, Dialog, Severity};
use crate::error::{Error, Result};
use crate::lock::MediumLock;
use crate::medium::{check_iso_signature, spawn_loaded};
use crate::report::{self, MediaStatus};
use crate::staging::Staging;

use change::Change;
use state::Inner;

/// Longest object name, in bytes (longer Rock Ridge names are silently truncated).
pub const MAX_NAME_BYTES: usize = 255;

/// What [`XorrisoBackend::info`] reports about the medium.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsoInfo {
    /// Sessions on the medium (each commit adds one).
    pub sessions: u32,
    /// Bytes the medium uses: the image file's size, or the drive's readable blocks.
    pub used_bytes: u64,
    /// Bytes still writable (for image files: free space of their filesystem).
    pub free_bytes: u64,
    /// Volume id of the newest session (`None` for a blank medium).
    pub volume_id: Option<String>,
    /// Changes not yet committed, and the bytes of their staged copies.
    pub pending_changes: usize,
    /// Bytes of the changes not committed yet.
    pub pending_bytes: u64,
}

/// What [`XorrisoBackend::compact`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactStats {
    /// Image size before.
    pub old_bytes: u64,
    /// Image size after.
    pub new_bytes: u64,
}

/// A backup store on an ISO 9660 image file or an optical disc, driven through xorriso.
///
/// All methods take `&self`; the type is `Send + Sync` and serialises xorriso access
/// internally.
pub struct XorrisoBackend {
    cfg: Config,
    exe: PathBuf,
    staging: Staging,
    inner: Mutex<Inner>,
    get_counter: AtomicU64,
}

impl std::fmt::Debug for XorrisoBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XorrisoBackend")
            .field("target", &self.cfg.target)
            .field("iso_dir", &self.cfg.iso_dir)
            .finish_non_exhaustive()
    }
}

/// Check a name the way the host does (and refuse what ISO Rock Ridge would mangle).
pub fn validate_name(name: &str) -> Result<()> {
    let bad = |reason: &str| {
        Err(Error::InvalidName {
            name: name.to_string(),
            reason: reason.to_string(),
        })
    };
    if name.is_empty() {
        return bad("empty");
    }
    if name == "." || name == ".." {
        return bad("\".\" and \"..\" are not object names");
    }
    if name.contains('/') || name.contains('\0') {
        return bad("contains '/' or NUL");
    }
    if name.len() > MAX_NAME_BYTES {
        return bad(&format!(
            "{} bytes; ISO Rock Ridge names are limited to {MAX_NAME_BYTES} bytes (xorriso would silently truncate it)",
            name.len()
        ));
    }
    Ok(())
}

impl XorrisoBackend {
    /// Open the store named by `url`, reading the `XORRISO_*` variables from the environment.
    pub fn open(url: &str) -> Result<Self> {
        Self::open_with(Config::from_url(url)?)
    }

    /// Open with an explicit configuration (see [`Config::parse`]).
    pub fn open_with(cfg: Config) -> Result<Self> {
        let exe = dialog::resolve_executable(&cfg.xorriso, cfg.xorriso_from_env)?;
        let lock = match &cfg.target {
            Target::Image(p) => MediumLock::image(p)?,
            Target::Drive(p) => MediumLock::drive(p)?,
        };
        let result = Self::open_locked(cfg, exe, &lock);
        match result {
            Ok((backend, dialog, status)) => {
                {
                    let mut inner = backend.lock_inner()?;
                    inner.blank = status.blank;
                    inner.dialog = Some(dialog);
                    if !lock.writable {
                        inner.read_only = Some("it cannot be opened for writing".into());
                    }
                    inner.lock = Some(lock);
                }
                Ok(backend)
            }
            Err(e) => {
                lock.remove_if_created_empty();
                Err(e)
            }
        }
    }

    fn open_locked(
        cfg: Config,
        exe: PathBuf,
        lock: &MediumLock,
    ) -> Result<(Self, Dialog, MediaStatus)> {
        if let Target::Image(p) = &cfg.target {
            check_iso_signature(p, lock)?;
        }
        let (dialog, status) = spawn_loaded(&cfg, &exe, lock)?;
        let staging_dir = match &cfg.target {
            Target::Image(p) => p.parent().map(|d| {
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default();
                d.join(format!(".{name}.stowage-staging"))
            }),
            Target::Drive(_) => None,
        };
        let staging = Staging::new(staging_dir)?;
        log::info!(
            "opened {} (dir {}, {} session(s){})",
            cfg.target.display(),
            cfg.iso_dir,
            status.sessions,
            if status.blank { ", blank" } else { "" }
        );
        if let (Some(want), false, Some(have)) = (&cfg.volid, status.blank, &status.volume_id) {
            if want != have {
                log::warn!(
                    "?volid={want} is ignored: {} already has the volume id {have:?} (volid names new media only; use XORRISO_ASSERT_VOLID to refuse other media)",
                    cfg.target.display()
                );
            }
        }
        let read_only = if status.appendable_or_blank() {
            None
        } else {
            Some("the medium is closed (not appendable)".to_string())
        };
        let backend = XorrisoBackend {
            cfg,
            exe,
            staging,
            inner: Mutex::new(Inner {
                dialog: None,
                lock: None,
                blank: status.blank,
                read_only,
                pending: BTreeMap::new(),
                pending_bytes: 0,
                closed: false,
                #[cfg(test)]
                vanish_staged_before_write: false,
            }),
            get_counter: AtomicU64::new(0),
        };
        Ok((backend, dialog, status))
    }

    /// The settings this backend runs with.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The staging directory (diagnostics).
    pub fn staging_dir(&self) -> &Path {
        self.staging.dir()
    }

    /// Process id of the current xorriso child, if one runs (diagnostics and tests).
    pub fn xorriso_pid(&self) -> Option<u32> {
        self.lock_inner().ok()?.dialog.as_ref().map(|d| d.pid())
    }

    /// Medium facts: sessions, used and free bytes, volume id, pending changes.
    pub fn info(&self) -> Result<IsoInfo> {
        let mut inner = self.open_inner()?;
        let cmds = [
            "-toc".to_string(),
            "-tell_media_space".to_string(),
            "-pvd_info".to_string(),
        ];
        let reply = self.run(&mut inner, &cmds, "info")?;
        if reply.worst() >= Some(Severity::Failure) {
            return Err(self.xorriso_error("info", &reply, Severity::Failure));
        }
        let st = report::media_status(&reply.results);
        let used_bytes = match (&self.cfg.target, inner.lock.as_ref()) {
            (Target::Image(_), Some(l)) => l.len().unwrap_or(0),
            _ => st.readable_blocks.unwrap_or(0) * 2048,
        };
        Ok(IsoInfo {
            sessions: st.sessions,
            used_bytes,
            free_bytes: st.free_blocks.unwrap_or(0) * 2048,
            volume_id: if st.blank { None } else { st.volume_id },
            pending_changes: inner.pending.len(),
            pending_bytes: inner.pending_bytes,
        })
    }

    // ----- lifecycle ------------------------------------------------------------------------

    /// Kill xorriso and start a new process on the last good session. Pending changes are
    /// kept (they live in this backend and its staging directory, not in xorriso) and are
    /// committed as usual.
    pub fn retry_cleanup(&self) -> Result<()> {
        let mut inner = self.open_inner()?;
        log::info!("restarting xorriso for {}", self.cfg.target.display());
        self.respawn(&mut inner)
    }

    /// Commit pending changes and end xorriso. Calling it again does nothing; any other
    /// operation afterwards fails with a "closed" error. If the final commit fails (after one
    /// retry with a fresh process for a transient error), the pending changes are discarded
    /// and the error says how many were lost.
    pub fn close(&self) -> Result<()> {
        let mut inner = self.lock_inner()?;
        if inner.closed {
            return Ok(());
        }
        let mut result = self.commit_locked(&mut inner);
        if let Err(e) = &result {
            if e.retryable() {
                log::warn!("final commit failed ({e}); retrying once with a new xorriso process");
                result = self
                    .respawn(&mut inner)
                    .and_then(|()| self.commit_locked(&mut inner));
            }
        }
        let result = result.map_err(|e| {
            if inner.pending.is_empty() {
                return e;
            }
            let names: Vec<String> = inner.pending.keys().map(|n| format!("{n:?}")).collect();
            Error::ChangesLost {
                source: Box::new(e),
                lost: names.len(),
                names: names.join(", "),
            }
        });
        for (_, ch) in std::mem::take(&mut inner.pending) {
            if let Change::Put(s) = ch {
                self.staging.discard(&s);
            }
        }
        inner.pending_bytes = 0;
        if let Some(d) = inner.dialog.take() {
            d.finish();
        }
        self.staging.remove();
        if let Some(l) = inner.lock.take() {
            l.remove_if_created_empty();
        }
        inner.closed = true;
        log::info!("closed {}", self.cfg.target.display());
        result
    }
}

impl Drop for XorrisoBackend {
    /// An unclosed backend still commits its pending changes (duplicity's pool workers never
    /// close; losing their deletes was a defect of its xorriso backend).
    fn drop(&mut self) {
        let closed = self.inner.lock().map(|g| g.closed).unwrap_or(true);
        if !closed {
            if let Err(e) = self.close() {
                log::error!("closing {} on drop failed: {e}", self.cfg.target.display());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn names() {
        assert!(validate_name("a*").is_ok());
        assert!(validate_name(&"x".repeat(255)).is_ok());
        assert_eq!(
            validate_name(&"x".repeat(256)).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        for n in ["", ".", "..", "a/b", "a\0b"] {
            assert_eq!(
                validate_name(n).unwrap_err().kind(),
                ErrorKind::InvalidInput
            );
        }
    }
}
