//! Deleting objects: recorded as pending deletes, or forgotten if only ever staged.

use std::collections::BTreeMap;

use super::change::Change;
use super::{validate_name, XorrisoBackend};
use crate::error::Result;

impl XorrisoBackend {
    /// Delete `name`. A missing name is not an error. Deleting only hides the data in the
    /// next session; the space is reclaimed only by [`compact`](Self::compact).
    pub fn delete(&self, name: &str) -> Result<()> {
        self.delete_list(&[name])
    }

    /// Delete several names in one batch; missing names are skipped.
    pub fn delete_list(&self, names: &[&str]) -> Result<()> {
        for n in names {
            validate_name(n)?;
        }
        let mut inner = self.open_inner()?;
        self.check_writable(&inner)?;
        let committed: BTreeMap<String, u64> = if names.len() == 1 {
            self.committed_one(&mut inner, names[0])?
                .map(|s| (names[0].to_string(), s))
                .into_iter()
                .collect()
        } else {
            self.committed(&mut inner)?
        };
        let mut changes = Vec::new();
        for &n in names {
            if changes.iter().any(|(c, _): &(String, Change)| c == n) {
                continue;
            }
            if committed.contains_key(n) {
                if !matches!(inner.pending.get(n), Some(Change::Delete)) {
                    changes.push((n.to_string(), Change::Delete));
                }
            } else if let Some(Change::Put(s)) = inner.pending.remove(n) {
                // Only ever staged: forget it, nothing to hide on the medium.
                inner.pending_bytes -= s.size;
                self.staging.discard(&s);
            } else {
                log::debug!("delete: {n:?} does not exist in {}", self.location());
            }
        }
        if changes.is_empty() {
            return Ok(());
        }
        self.apply(&mut inner, changes).map_err(|(e, _)| e)
    }
}
