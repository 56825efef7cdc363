//! Compaction: rewriting an image file as one session without hidden data.

use std::collections::BTreeMap;
use std::path::Path;

use super::{CompactStats, XorrisoBackend};
use crate::config::Target;
use crate::dialog::{Dialog, Severity};
use crate::error::{Error, Result};
use crate::medium::{is_missing_path, sync_dir};
use crate::quote;
use crate::report;

impl XorrisoBackend {
    /// Rewrite an image file as one compact session without the data hidden by deletes
    /// and replaced puts: commit pending changes, write a new image with
    /// `-indev img -outdev new -changes_pending yes -commit`, check that it lists the same
    /// objects, fsync it, rename it over the original and reload. Drives are `Unsupported`.
    pub fn compact(&self) -> Result<CompactStats> {
        let Target::Image(img) = &self.cfg.target else {
            return Err(Error::Unsupported {
                op: "compact".into(),
                reason: format!(
                    "{} is an optical drive; discs cannot be rewritten in place (copy to a new disc instead)",
                    self.cfg.target.display()
                ),
            });
        };
        let mut inner = self.open_inner()?;
        self.check_writable(&inner)?;
        self.commit_locked(&mut inner)?;
        let before = self.committed(&mut inner)?;
        let old_bytes = inner.lock.as_ref().and_then(|l| l.len().ok()).unwrap_or(0);
        if old_bytes == 0 {
            return Ok(CompactStats {
                old_bytes,
                new_bytes: 0,
            });
        }
        let dir = img.parent().unwrap_or(Path::new("/")).to_path_buf();
        let name = img
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.stowage-compact"));
        let _ = std::fs::remove_file(&tmp);
        if let Some(d) = inner.dialog.take() {
            d.finish();
        }
        let result = self.compact_into(img, &tmp, &before, inner.lock.as_ref().map(|l| l.file()));
        let result = result.and_then(|new_bytes| {
            let lock = inner.lock.as_ref().ok_or_else(|| Error::Closed {
                target: self.cfg.target.display(),
            })?;
            let new_lock = lock.lock_replacement(&tmp)?;
            new_lock
                .file()
                .sync_all()
                .map_err(|e| Error::io(format!("compact: cannot sync {tmp:?}"), e))?;
            std::fs::rename(&tmp, img)
                .map_err(|e| Error::io(format!("compact: cannot rename {tmp:?} to {img:?}"), e))?;
            sync_dir(&dir);
            inner.lock = Some(new_lock);
            Ok(new_bytes)
        });
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        let respawned = self.respawn(&mut inner);
        let new_bytes = result?;
        respawned?;
        log::info!("compacted {img:?}: {old_bytes} -> {new_bytes} bytes");
        Ok(CompactStats {
            old_bytes,
            new_bytes,
        })
    }

    fn compact_into(
        &self,
        img: &Path,
        tmp: &Path,
        before: &BTreeMap<String, u64>,
        lock: Option<&std::fs::File>,
    ) -> Result<u64> {
        let (mut d, startup) = Dialog::spawn(
            &self.exe,
            &self.cfg.start_args(),
            &self.cfg.target.display(),
            lock,
        )?;
        if startup.worst() >= Some(Severity::Sorry) {
            return Err(self.xorriso_error("compact (start)", &startup, Severity::Sorry));
        }
        let mut img_addr = b"stdio:".to_vec();
        img_addr.extend_from_slice(std::os::unix::ffi::OsStrExt::as_bytes(img.as_os_str()));
        let mut tmp_addr = b"stdio:".to_vec();
        tmp_addr.extend_from_slice(std::os::unix::ffi::OsStrExt::as_bytes(tmp.as_os_str()));
        let cmds = [
            format!("-indev {}", quote::arg_bytes(&img_addr)),
            format!("-outdev {}", quote::arg_bytes(&tmp_addr)),
            "-changes_pending yes".to_string(),
            "-abort_on MISHAP".to_string(),
            "-commit".to_string(),
            "-abort_on NEVER".to_string(),
        ];
        let reply = d.run(&cmds, "compact")?;
        if reply.exited.is_some() || reply.worst() >= Some(Severity::Sorry) {
            return Err(self.xorriso_error("compact", &reply, Severity::Sorry));
        }
        // Load the new image and compare its listing with the old one.
        let cmds = [
            format!("-dev {}", quote::arg_bytes(&tmp_addr)),
            format!(
                "-find {} -maxdepth 1 -type f -exec report_lba --",
                quote::arg(&self.cfg.iso_dir)
            ),
        ];
        let reply = d.run(&cmds, "compact (verify)")?;
        d.finish();
        if reply.exited.is_some() || reply.at_least(Severity::Sorry).any(|m| !is_missing_path(m)) {
            return Err(self.xorriso_error("compact (verify)", &reply, Severity::Sorry));
        }
        let after = report::files_in_dir(&reply.results, &self.cfg.iso_dir);
        if &after != before {
            return Err(Error::Protocol {
                op: "compact".into(),
                detail: format!(
                    "the compacted image lists {} object(s), the original {}; keeping the original",
                    after.len(),
                    before.len()
                ),
            });
        }
        std::fs::metadata(tmp)
            .map(|m| m.len())
            .map_err(|e| Error::io(format!("compact: cannot stat {tmp:?}"), e))
    }
}
