//! Reading objects (get): from a pending put's staged copy or extracted by xorriso, always
//! through a size-checked, synced temporary file.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use super::change::Change;
use super::{validate_name, XorrisoBackend};
use crate::dialog::Severity;
use crate::error::{Error, Result};
use crate::medium::{check_size, sync_dir};
use crate::quote;

impl XorrisoBackend {
    /// Write object `name` to `local`: into a temporary file beside it, size-checked (and
    /// MD5-checked by xorriso), synced, then renamed over `local`. A missing name is
    /// `NotFound` and creates no local file.
    pub fn get(&self, name: &str, local: &Path) -> Result<()> {
        validate_name(name)?;
        let parent = match local.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let file_name = local.file_name().ok_or_else(|| Error::InvalidSetting {
            name: "get destination".into(),
            value: local.display().to_string(),
            reason: "has no file name".into(),
        })?;
        if local.is_dir() {
            return Err(Error::io(
                format!("get: the destination {local:?} is a directory"),
                std::io::Error::from_raw_os_error(libc::EISDIR),
            ));
        }
        // Keep the temporary name well under NAME_MAX whatever the destination's length.
        let full = file_name.to_string_lossy();
        let mut cut = full.len().min(100);
        while !full.is_char_boundary(cut) {
            cut -= 1;
        }
        let stem = &full[..cut];
        let tmp = parent.join(format!(
            ".{stem}.stowage-get-{}-{}",
            std::process::id(),
            self.get_counter.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_file(&tmp);
        let result = self.get_into(name, &tmp);
        let finish = result.and_then(|()| {
            std::fs::rename(&tmp, local)
                .map_err(|e| Error::io(format!("get: cannot rename {tmp:?} to {local:?}"), e))?;
            sync_dir(&parent);
            Ok(())
        });
        if finish.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        finish
    }

    fn get_into(&self, name: &str, tmp: &Path) -> Result<()> {
        let mut inner = self.open_inner()?;
        let expected = match inner.pending.get(name) {
            Some(Change::Put(s)) => {
                // Copy under the lock: a commit would remove the staged file.
                let n = self.staging.copy_out(s, tmp)?;
                return check_size(name, s.size, n);
            }
            Some(Change::Delete) => None,
            None => self.committed_one(&mut inner, name)?,
        };
        let Some(expected) = expected else {
            return Err(Error::NotFound {
                name: name.into(),
                location: self.location(),
            });
        };
        let cmd = format!(
            "-extract {} {}",
            quote::arg(&self.cfg.iso_path(name)),
            quote::path_arg(tmp)
        );
        let reply = self.run(&mut inner, &[cmd], "get")?;
        drop(inner);
        if reply.worst() >= Some(Severity::Sorry) {
            let mut e = self.xorriso_error("get", &reply, Severity::Sorry);
            if let Error::Xorriso { message, .. } = &mut e {
                *message = format!("extracting {name:?}: {message}");
            }
            return Err(e);
        }
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(tmp)
            .map_err(|e| Error::io(format!("get: xorriso did not produce {tmp:?}"), e))?;
        let actual = f
            .metadata()
            .map_err(|e| Error::io(format!("get: cannot stat {tmp:?}"), e))?
            .len();
        check_size(name, expected, actual)?;
        f.sync_all()
            .map_err(|e| Error::io(format!("get: cannot sync {tmp:?}"), e))
    }
}
