//! Whether the store's location exists (`stowage.location/1`): the medium
//! has a session, and the backup directory is a directory in it.

use super::change::Change;
use super::XorrisoBackend;
use crate::dialog::Severity;
use crate::error::Result;
use crate::medium::only_missing_path;
use crate::quote;

impl XorrisoBackend {
    /// Whether the location exists now. A blank medium (a new image file,
    /// an empty disc) does not: its first commit creates it. Puts pending
    /// in this session count, since `list` shows them already.
    pub fn location_exists(&self) -> Result<bool> {
        let mut inner = self.open_inner()?;
        if inner.pending.values().any(|c| matches!(c, Change::Put(_))) {
            return Ok(true);
        }
        if inner.blank {
            return Ok(false);
        }
        if self.cfg.iso_dir == "/" {
            return Ok(true);
        }
        // Default action: the path is echoed when it is a directory.
        let cmd = format!(
            "-find {} -maxdepth 0 -type d",
            quote::arg(&self.cfg.iso_dir)
        );
        let reply = self.run(&mut inner, &[cmd], "exists")?;
        if reply.worst() >= Some(Severity::Sorry) {
            if only_missing_path(&reply) {
                return Ok(false);
            }
            return Err(self.xorriso_error("exists", &reply, Severity::Sorry));
        }
        Ok(!reply.results.is_empty())
    }
}
