//! The state behind the backend's mutex, and running commands in its xorriso process
//! (starting a new one when the old one is gone).

use std::collections::BTreeMap;
use std::sync::MutexGuard;

use super::change::Change;
use super::XorrisoBackend;
use crate::dialog::{Dialog, Reply, Severity};
use crate::error::{Error, Result};
use crate::lock::MediumLock;
use crate::medium::{classify, spawn_loaded};

pub(super) struct Inner {
    pub(super) dialog: Option<Dialog>,
    pub(super) lock: Option<MediumLock>,
    /// The medium had no session when loaded (volume id is set at the first commit).
    pub(super) blank: bool,
    /// Why the medium cannot be written, if it cannot.
    pub(super) read_only: Option<String>,
    pub(super) pending: BTreeMap<String, Change>,
    pub(super) pending_bytes: u64,
    pub(super) closed: bool,
    /// Tests: remove the staged copies after `-map` and before `-commit` (provokes a MISHAP).
    #[cfg(test)]
    pub(super) vanish_staged_before_write: bool,
}

impl XorrisoBackend {
    pub(super) fn lock_inner(&self) -> Result<MutexGuard<'_, Inner>> {
        self.inner.lock().map_err(|_| Error::Protocol {
            op: "lock".into(),
            detail: "an earlier operation panicked; the backend state is unknown".into(),
        })
    }

    /// Lock the state of an open backend.
    pub(super) fn open_inner(&self) -> Result<MutexGuard<'_, Inner>> {
        let g = self.lock_inner()?;
        if g.closed {
            return Err(Error::Closed {
                target: self.cfg.target.display(),
            });
        }
        Ok(g)
    }

    pub(super) fn check_writable(&self, inner: &Inner) -> Result<()> {
        match &inner.read_only {
            Some(reason) => Err(Error::ReadOnly {
                path: self.cfg.target.path().to_path_buf(),
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    pub(super) fn location(&self) -> String {
        format!("{}:{}", self.cfg.target.display(), self.cfg.iso_dir)
    }

    // ----- talking to xorriso -------------------------------------------------------------

    /// Run commands, starting a new xorriso first if the old one is gone. A death during the
    /// commands is [`Error::XorrisoDied`] (transient).
    pub(super) fn run(&self, inner: &mut Inner, cmds: &[String], during: &str) -> Result<Reply> {
        if inner.dialog.is_none() {
            self.respawn(inner)?;
        }
        let d = inner.dialog.as_mut().ok_or_else(|| Error::Protocol {
            op: during.into(),
            detail: "no xorriso process".into(),
        })?;
        let reply = d.run(cmds, during)?;
        if let Some(status) = &reply.exited {
            inner.dialog = None;
            return Err(Error::XorrisoDied {
                target: self.cfg.target.display(),
                during: during.into(),
                status: status.clone(),
                last: reply
                    .worst_message()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default(),
            });
        }
        Ok(reply)
    }

    /// Kill the current process (if any) and start a new one on the last good session.
    pub(super) fn respawn(&self, inner: &mut Inner) -> Result<()> {
        if let Some(d) = inner.dialog.take() {
            d.kill();
        }
        let lock = inner.lock.as_ref().ok_or_else(|| Error::Closed {
            target: self.cfg.target.display(),
        })?;
        let (d, status) = spawn_loaded(&self.cfg, &self.exe, lock)?;
        inner.blank = status.blank;
        inner.dialog = Some(d);
        Ok(())
    }

    pub(super) fn xorriso_error(&self, op: &str, reply: &Reply, min: Severity) -> Error {
        Error::Xorriso {
            op: op.into(),
            target: self.cfg.target.display(),
            kind: classify(&reply.messages, reply.exited.is_some()),
            message: reply.problem_text(min),
        }
    }
}
