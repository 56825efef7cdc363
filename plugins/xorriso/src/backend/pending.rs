//! Pending changes: puts and deletes recorded since the last commit, and how a call's
//! changes are recorded and, after a failed commit, withdrawn again.

use super::change::Change;
use super::state::Inner;
use super::XorrisoBackend;
use crate::config::CommitPolicy;
use crate::error::Error;

impl XorrisoBackend {
    /// Record `changes` as pending (replacing pending changes of the same names) and commit if
    /// the policy says so. On a failed commit the changes of *this call* are withdrawn (the
    /// earlier pending state of those names is restored) and returned with the error; other
    /// pending changes stay for the next commit.
    pub(super) fn apply(
        &self,
        inner: &mut Inner,
        changes: Vec<(String, Change)>,
    ) -> std::result::Result<(), (Error, Vec<Change>)> {
        let mut prev: Vec<(String, Option<Change>)> = Vec::new();
        for (name, ch) in changes {
            if let Change::Put(s) = &ch {
                inner.pending_bytes += s.size;
            }
            let old = inner.pending.insert(name.clone(), ch);
            if let Some(Change::Put(s)) = &old {
                inner.pending_bytes -= s.size;
            }
            prev.push((name, old));
        }
        let due = match self.cfg.commit {
            CommitPolicy::Each => true,
            CommitPolicy::Batch {
                max_changes,
                max_bytes,
            } => inner.pending.len() >= max_changes || inner.pending_bytes >= max_bytes,
        };
        if !due {
            for (_, old) in prev {
                if let Some(Change::Put(s)) = old {
                    self.staging.discard(&s);
                }
            }
            return Ok(());
        }
        match self.commit_pending(inner) {
            Ok(dropped) => {
                for (_, old) in prev {
                    if let Some(Change::Put(s)) = old {
                        self.staging.discard(&s);
                    }
                }
                match dropped {
                    None => Ok(()),
                    Some(e) => Err((e, Vec::new())),
                }
            }
            Err(e) => {
                let mut ours = Vec::new();
                for (name, old) in prev.into_iter().rev() {
                    let mine = match old {
                        Some(o) => {
                            if let Change::Put(s) = &o {
                                inner.pending_bytes += s.size;
                            }
                            inner.pending.insert(name, o)
                        }
                        None => inner.pending.remove(&name),
                    };
                    if let Some(m) = mine {
                        if let Change::Put(s) = &m {
                            inner.pending_bytes -= s.size;
                        }
                        ours.push(m);
                    }
                }
                Err((e, ours))
            }
        }
    }
}
