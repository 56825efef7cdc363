//! Committing the pending changes as one session, and rolling back a failed commit.

use super::change::Change;
use super::state::Inner;
use super::XorrisoBackend;
use crate::config::Target;
use crate::dialog::{Message, Severity};
use crate::error::{Error, Result};
use crate::medium::{is_missing_removal, HeadBackup};
use crate::quote;

impl XorrisoBackend {
    /// Write all pending changes as one session now.
    pub fn commit(&self) -> Result<()> {
        let mut inner = self.open_inner()?;
        self.commit_locked(&mut inner)
    }

    pub(super) fn commit_locked(&self, inner: &mut Inner) -> Result<()> {
        match self.commit_pending(inner)? {
            None => Ok(()),
            Some(dropped) => Err(dropped),
        }
    }

    /// Commit the pending changes. `Err`: nothing changed on the medium (rolled back).
    /// `Ok(Some(e))`: committed, but puts whose staged copies were tampered with were
    /// dropped first; `e` says which.
    pub(super) fn commit_pending(&self, inner: &mut Inner) -> Result<Option<Error>> {
        if inner.pending.is_empty() {
            return Ok(None);
        }
        self.check_writable(inner)?;
        // A staged copy changed or removed behind our back cannot be committed faithfully:
        // drop that change (so the others can go ahead) and say so.
        let mut dropped = None;
        let mut broken: Vec<(String, String)> = Vec::new();
        for (name, ch) in &inner.pending {
            if let Change::Put(s) = ch {
                if let Err(why) = self.staging.verify(s) {
                    broken.push((name.clone(), why));
                }
            }
        }
        if !broken.is_empty() {
            for (n, _) in &broken {
                if let Some(Change::Put(s)) = inner.pending.remove(n) {
                    inner.pending_bytes -= s.size;
                    self.staging.discard(&s);
                }
            }
            let broken: Vec<String> = broken
                .iter()
                .map(|(n, why)| format!("{n:?} ({why})"))
                .collect();
            let e = Error::StagingTampered {
                details: broken.join(", "),
            };
            log::error!("{e}");
            dropped = Some(e);
            if inner.pending.is_empty() {
                return Ok(dropped);
            }
        }
        if inner.dialog.is_none() {
            self.respawn(inner)?;
        }
        let guard = match (&self.cfg.target, inner.lock.as_ref()) {
            (Target::Image(_), Some(l)) => Some(
                HeadBackup::capture(l)
                    .map_err(|e| Error::io("commit: cannot read the image head for rollback", e))?,
            ),
            _ => None,
        };
        let started = std::time::Instant::now();
        match self.commit_inner(inner) {
            Ok(()) => {
                let n = inner.pending.len();
                for (_, ch) in std::mem::take(&mut inner.pending) {
                    if let Change::Put(s) = ch {
                        self.staging.discard(&s);
                    }
                }
                inner.pending_bytes = 0;
                inner.blank = false;
                log::info!(
                    "committed {n} change(s) to {} in {:.2?}",
                    self.cfg.target.display(),
                    started.elapsed()
                );
                Ok(dropped)
            }
            Err(e) => {
                log::warn!(
                    "commit to {} failed: {e}; rolling back",
                    self.cfg.target.display()
                );
                if let Some(d) = inner.dialog.take() {
                    d.kill();
                }
                if let (Some(g), Some(l)) = (guard, inner.lock.as_ref()) {
                    if let Err(re) = g.restore(l) {
                        log::error!(
                            "rolling back {} after a failed commit failed: {re}",
                            self.cfg.target.display()
                        );
                    }
                }
                if let Err(re) = self.respawn(inner) {
                    log::warn!("cannot restart xorriso after the failed commit: {re}");
                }
                Err(e)
            }
        }
    }

    fn commit_inner(&self, inner: &mut Inner) -> Result<()> {
        // 1. Stage the changes in xorriso's tree.
        let mut cmds = Vec::new();
        for (name, ch) in &inner.pending {
            if let Change::Delete = ch {
                cmds.push(format!("-rm {} --", quote::arg(&self.cfg.iso_path(name))));
            }
        }
        for (name, ch) in &inner.pending {
            if let Change::Put(s) = ch {
                cmds.push(format!(
                    "-map {} {}",
                    quote::path_arg(&s.path),
                    quote::arg(&self.cfg.iso_path(name))
                ));
            }
        }
        if inner.blank {
            if let Some(v) = self.cfg.volid_for_new_medium() {
                cmds.push(format!("-volid {}", quote::arg(v)));
            }
        }
        let reply = self.run(inner, &cmds, "commit (recording changes)")?;
        let bad: Vec<&Message> = reply
            .at_least(Severity::Sorry)
            .filter(|m| !is_missing_removal(m))
            .collect();
        if !bad.is_empty() {
            return Err(self.xorriso_error("commit (recording changes)", &reply, Severity::Sorry));
        }
        #[cfg(test)]
        if inner.vanish_staged_before_write {
            for ch in inner.pending.values() {
                if let Change::Put(s) = ch {
                    let _ = std::fs::remove_file(&s.path);
                }
            }
        }
        // 2. Commit; a MISHAP (source unreadable, "Filling with 0s") cancels the write.
        let cmds = [
            "-abort_on MISHAP".to_string(),
            "-commit".to_string(),
            "-abort_on NEVER".to_string(),
        ];
        let d = inner.dialog.as_mut().ok_or_else(|| Error::Protocol {
            op: "commit".into(),
            detail: "no xorriso process".into(),
        })?;
        let reply = d.run(&cmds, "commit")?;
        if reply.exited.is_some() || reply.worst() >= Some(Severity::Sorry) {
            if reply.exited.is_some() {
                inner.dialog = None;
            }
            let mut e = self.xorriso_error("commit", &reply, Severity::Sorry);
            if let (Error::Xorriso { message, .. }, Some(st)) = (&mut e, &reply.exited) {
                if message.is_empty() {
                    *message = format!("xorriso ended ({st})");
                }
            }
            return Err(e);
        }
        // 3. Check what the new session holds.
        let listing = self.committed(inner)?;
        for (name, ch) in &inner.pending {
            match ch {
                Change::Put(s) => {
                    let got = listing.get(name).copied();
                    if got != Some(s.size) {
                        return Err(Error::SizeMismatch {
                            what: format!("after the commit, {name:?} on the medium"),
                            expected: s.size,
                            actual: got.unwrap_or(0),
                        });
                    }
                }
                Change::Delete => {
                    if listing.contains_key(name) {
                        return Err(Error::Protocol {
                            op: "commit".into(),
                            detail: format!(
                                "{name:?} is still listed after its deletion was committed"
                            ),
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;

    fn loud_skip(what: &str) {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "SKIPPED: {what}");
    }

    fn have_xorriso() -> bool {
        let ok = std::process::Command::new("xorriso")
            .arg("-version")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !ok {
            if std::env::var_os("STOWAGE_REQUIRE_TOOLS").is_some() {
                panic!("xorriso is required (STOWAGE_REQUIRE_TOOLS is set) but not installed");
            }
            loud_skip("xorriso is not installed");
        }
        ok
    }

    /// A staged copy that vanishes before the commit must not become a zero-filled file:
    /// xorriso's MISHAP ("Filling with 0s") cancels the write and the image keeps its last
    /// good session.
    #[test]
    fn mishap_is_an_error_and_rolls_back() {
        if !have_xorriso() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("m.iso");
        let url = format!("xorriso://{}", img.display());
        let cfg = Config::parse(&url, &Default::default(), Path::new("/")).unwrap();
        let src = dir.path().join("src");
        std::fs::write(&src, b"first").unwrap();
        let b = XorrisoBackend::open_with(cfg.clone()).unwrap();
        b.put(&src, "a").unwrap();
        b.close().unwrap();
        let size_after_first = std::fs::metadata(&img).unwrap().len();

        let b = XorrisoBackend::open_with(cfg.clone()).unwrap();
        std::fs::write(&src, vec![7u8; 100_000]).unwrap();
        b.put(&src, "b").unwrap();
        b.lock_inner().unwrap().vanish_staged_before_write = true;
        let e = b.commit().unwrap_err();
        assert!(e.to_string().contains("MISHAP"), "{e}");
        assert!(e.to_string().contains("Filling with 0s"), "{e}");
        // Still usable, the last good session is loaded.
        assert_eq!(b.query("a").unwrap(), Some(5));
        assert_eq!(std::fs::metadata(&img).unwrap().len(), size_after_first);
        // At close the put is dropped: its staged copy is gone.
        let e = b.close().unwrap_err();
        assert!(e.to_string().contains("NOT stored"), "{e}");
        assert_eq!(std::fs::metadata(&img).unwrap().len(), size_after_first);
        let b = XorrisoBackend::open_with(cfg).unwrap();
        assert_eq!(b.list().unwrap(), vec![("a".to_string(), 5)]);
        assert_eq!(b.info().unwrap().sessions, 1);
        b.close().unwrap();
    }
}
