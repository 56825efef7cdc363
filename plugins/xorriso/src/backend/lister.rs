//! Listing and querying: the committed files in the backup directory, overlaid with the
//! pending changes.

use std::collections::BTreeMap;

use super::change::Change;
use super::state::Inner;
use super::{validate_name, XorrisoBackend};
use crate::dialog::Severity;
use crate::error::Result;
use crate::medium::only_missing_path;
use crate::quote;
use crate::report;

impl XorrisoBackend {
    /// The committed regular files directly in the backup directory.
    pub(super) fn committed(&self, inner: &mut Inner) -> Result<BTreeMap<String, u64>> {
        let cmd = format!(
            "-find {} -maxdepth 1 -type f -exec report_lba --",
            quote::arg(&self.cfg.iso_dir)
        );
        let reply = self.run(inner, &[cmd], "list")?;
        if reply.worst() >= Some(Severity::Sorry) {
            if only_missing_path(&reply) {
                return Ok(BTreeMap::new()); // the directory does not exist yet
            }
            return Err(self.xorriso_error("list", &reply, Severity::Sorry));
        }
        Ok(report::files_in_dir(&reply.results, &self.cfg.iso_dir))
    }

    /// The committed size of one name.
    pub(super) fn committed_one(&self, inner: &mut Inner, name: &str) -> Result<Option<u64>> {
        let cmd = format!(
            "-find {} -maxdepth 0 -type f -exec report_lba --",
            quote::arg(&self.cfg.iso_path(name))
        );
        let reply = self.run(inner, &[cmd], "query")?;
        if reply.worst() >= Some(Severity::Sorry) {
            if only_missing_path(&reply) {
                return Ok(None);
            }
            return Err(self.xorriso_error("query", &reply, Severity::Sorry));
        }
        Ok(report::files_in_dir(&reply.results, &self.cfg.iso_dir)
            .get(name)
            .copied())
    }

    /// All objects with their sizes, pending changes included, sorted by name.
    pub fn list(&self) -> Result<Vec<(String, u64)>> {
        let mut inner = self.open_inner()?;
        let mut map = self.committed(&mut inner)?;
        for (name, ch) in &inner.pending {
            match ch {
                Change::Put(s) => {
                    map.insert(name.clone(), s.size);
                }
                Change::Delete => {
                    map.remove(name);
                }
            }
        }
        Ok(map.into_iter().collect())
    }

    /// Size of `name`, `None` if it does not exist.
    pub fn query(&self, name: &str) -> Result<Option<u64>> {
        validate_name(name)?;
        let mut inner = self.open_inner()?;
        match inner.pending.get(name) {
            Some(Change::Put(s)) => Ok(Some(s.size)),
            Some(Change::Delete) => Ok(None),
            None => self.committed_one(&mut inner, name),
        }
    }

    /// Sizes of exactly the names asked for, in the same order (`None` = missing).
    pub fn query_list(&self, names: &[&str]) -> Result<Vec<(String, Option<u64>)>> {
        for n in names {
            validate_name(n)?;
        }
        if names.len() == 1 {
            return Ok(vec![(names[0].to_string(), self.query(names[0])?)]);
        }
        let all: BTreeMap<String, u64> = self.list()?.into_iter().collect();
        Ok(names
            .iter()
            .map(|n| (n.to_string(), all.get(*n).copied()))
            .collect())
    }
}
