//! Acquiring the medium and undoing a failed commit.
//!
//! [`spawn_loaded`] starts a fresh xorriso and loads the medium, judging each step on its
//! own: the start arguments (a bad `XORRISO_ARGS`), the volume id assertion, and the load
//! itself, where a non-empty file that is not an ISO image is refused instead of being
//! treated as a blank medium and overwritten at the first commit. [`HeadBackup`] saves what
//! a commit may change in an existing image file (its first 64 KiB, holding the commit
//! point at block 16, and its length) so a failed commit can be undone exactly.
//! [`classify`] maps xorriso's problem events (`FAILURE`, `SORRY`, ... with their message
//! texts) to error kinds.

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::config::Config;
use crate::dialog::{Dialog, Message, Reply, Severity};
use crate::error::{Error, ErrorKind, Result};
use crate::lock::MediumLock;
use crate::report::{self, MediaStatus};

/// Bytes at the start of an image that a commit may rewrite (blocks 0–31).
const HEAD_BYTES: usize = 64 * 1024;

/// Start xorriso and acquire the medium: judge the start arguments (a bad `XORRISO_ARGS`),
/// the volume id assertion, and refuse a non-empty file that is not an ISO image.
pub fn spawn_loaded(cfg: &Config, exe: &Path, lock: &MediumLock) -> Result<(Dialog, MediaStatus)> {
    let target = cfg.target.display();
    let (mut d, startup) = Dialog::spawn(exe, &cfg.start_args(), &target, Some(lock.file()))?;
    if let Some(st) = &startup.exited {
        return Err(if cfg.xorriso_from_env {
            Error::BadXorrisoPath {
                path: exe.to_path_buf(),
                reason: format!("it ended at once ({st}); is it xorriso?"),
            }
        } else {
            Error::Protocol {
                op: "start".into(),
                detail: format!("xorriso ended at once ({st})"),
            }
        });
    }
    if startup.worst() >= Some(Severity::Sorry) {
        let msg = startup.problem_text(Severity::Sorry);
        d.kill();
        return Err(if cfg.extra_args.is_empty() {
            Error::Protocol {
                op: "start".into(),
                detail: msg,
            }
        } else {
            Error::InvalidSetting {
                name: crate::config::ENV_ARGS.into(),
                value: shell_words::join(&cfg.extra_args),
                reason: format!("xorriso rejected it: {msg}"),
            }
        });
    }
    let reply = d.run(&cfg.load_commands(), "load")?;
    if let Some(st) = &reply.exited {
        return Err(Error::XorrisoDied {
            target,
            during: "load".into(),
            status: st.clone(),
            last: reply
                .worst_message()
                .map(|m| format!(": {m}"))
                .unwrap_or_default(),
        });
    }
    if let Some(m) = reply
        .messages
        .iter()
        .find(|m| m.text.contains("-assert_volid") && m.severity >= Severity::Sorry)
    {
        d.kill();
        return Err(Error::VolidMismatch {
            target,
            expected: cfg.assert_volid.clone().unwrap_or_default(),
            found: report::volid_mismatch_found(&m.text).unwrap_or_else(|| m.text.clone()),
        });
    }
    if reply.worst() >= Some(Severity::Sorry) {
        d.kill();
        return Err(Error::Xorriso {
            op: "load".into(),
            target,
            kind: classify(&reply.messages, false),
            message: reply.problem_text(Severity::Sorry),
        });
    }
    if reply
        .messages
        .iter()
        .any(|m| m.text.starts_with("No ISO 9660 image at LBA 0"))
    {
        let size = lock.len().unwrap_or(0);
        if size > 0 {
            d.kill();
            return Err(Error::NotIso {
                path: cfg.target.path().to_path_buf(),
                size,
            });
        }
    }
    let status = report::media_status(&reply.info);
    Ok((d, status))
}

/// Refuse a non-empty image file without an ISO 9660 volume descriptor at block 16 before
/// xorriso sees it (xorriso would treat it as blank and overwrite it at the first commit).
pub fn check_iso_signature(path: &Path, lock: &MediumLock) -> Result<()> {
    let size = lock
        .len()
        .map_err(|e| Error::io(format!("cannot stat {path:?}"), e))?;
    if size == 0 {
        return Ok(());
    }
    let mut sig = [0u8; 6];
    let ok = lock.file().read_exact_at(&mut sig, 32768).is_ok() && &sig[1..6] == b"CD001";
    if ok {
        Ok(())
    } else {
        Err(Error::NotIso {
            path: path.to_path_buf(),
            size,
        })
    }
}

impl MediaStatus {
    pub fn appendable_or_blank(&self) -> bool {
        // Drives report "is closed" for finalised discs; image files are always appendable.
        self.blank || !self.closed_seen
    }
}

/// Bytes at the head of an image and its length before a commit, to undo it.
pub struct HeadBackup {
    head: Vec<u8>,
    len: u64,
}

impl HeadBackup {
    pub fn capture(lock: &MediumLock) -> std::io::Result<Self> {
        let mut f = lock.file();
        let len = f.metadata()?.len();
        let mut head = vec![0u8; (len as usize).min(HEAD_BYTES)];
        f.seek(SeekFrom::Start(0))?;
        f.read_exact(&mut head)?;
        Ok(HeadBackup { head, len })
    }

    /// Put the old superblock back (if the commit point moved) and cut off what the failed
    /// commit appended.
    pub fn restore(self, lock: &MediumLock) -> std::io::Result<()> {
        let mut f = lock.file();
        let mut now = vec![0u8; self.head.len()];
        let n = f.read_at(&mut now, 0)?;
        if n != self.head.len() || now != self.head {
            log::warn!(
                "restoring the superblock of {:?} to the last good session",
                lock.path()
            );
            f.seek(SeekFrom::Start(0))?;
            f.write_all(&self.head)?;
        }
        if f.metadata()?.len() != self.len {
            f.set_len(self.len)?;
        }
        f.sync_all()
    }
}

pub fn check_size(name: &str, expected: u64, actual: u64) -> Result<()> {
    if expected == actual {
        Ok(())
    } else {
        Err(Error::SizeMismatch {
            what: format!("get {name:?}"),
            expected,
            actual,
        })
    }
}

/// Flushes a directory's entries to disk, best effort: the data itself is
/// already durable, and a failure here must not turn a finished write into
/// an error.
pub fn sync_dir(dir: &Path) {
    if let Err(e) = stowage_fs_common::fsync_dir(dir) {
        log::debug!("cannot flush directory {}: {e}", dir.display());
    }
}

/// `Cannot find path '…' in loaded ISO image` (-find, -extract of a missing path).
pub fn is_missing_path(m: &Message) -> bool {
    m.text.starts_with("Cannot find path") && m.text.ends_with("in loaded ISO image")
}

/// `SORRY : Cannot find path '…' in loaded ISO image for removal`: fine for a delete.
pub fn is_missing_removal(m: &Message) -> bool {
    m.severity <= Severity::Sorry
        && m.text.starts_with("Cannot find path")
        && m.text.ends_with("for removal")
}

pub fn only_missing_path(reply: &Reply) -> bool {
    let mut any = false;
    for m in reply.at_least(Severity::Sorry) {
        if !is_missing_path(m) {
            return false;
        }
        any = true;
    }
    any
}

/// Map xorriso problem events to an error kind. `died`: the process ended.
pub fn classify(messages: &[Message], died: bool) -> ErrorKind {
    let bad: Vec<&Message> = messages
        .iter()
        .filter(|m| m.severity >= Severity::Sorry)
        .collect();
    let any = |needle: &str| bad.iter().any(|m| m.text.contains(needle));
    if any("No space left on device")
        || any("exceeds free space on media")
        || any("Disc full")
        || any("Not enough space")
    {
        ErrorKind::NoSpace
    } else if any("Permission denied")
        || any("Read-only file system")
        || any("Operation not permitted")
    {
        ErrorKind::PermissionDenied
    } else if any("MD5") || any("Volume id does not match") {
        ErrorKind::ValidationFailed
    } else if any("Cannot determine attributes of (ISO) source file")
        || any("No such file or directory")
        || bad.iter().any(|m| is_missing_path(m))
    {
        ErrorKind::NotFound
    } else if any("A drive operation is still going on") || any("Burn run failed") {
        ErrorKind::Transient
    } else if any("Filling with 0s") {
        ErrorKind::Generic
    } else if bad.is_empty() && died {
        ErrorKind::Transient
    } else {
        ErrorKind::Generic
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialog::parse_message;

    fn msgs(lines: &[&str]) -> Vec<Message> {
        lines.iter().filter_map(|l| parse_message(l)).collect()
    }

    #[test]
    fn classification() {
        assert_eq!(
            classify(
                &msgs(&["xorriso : FAILURE : Image size 1152s exceeds free space on media 448s"]),
                false
            ),
            ErrorKind::NoSpace
        );
        assert_eq!(
            classify(
                &msgs(&[
                    "libburn : SORRY : Cannot write desired amount of 32768 bytes. Wrote 0. errno=28 No space left on device",
                    "xorriso : FAILURE : libburn indicates failure with writing.",
                ]),
                false
            ),
            ErrorKind::NoSpace
        );
        assert_eq!(
            classify(
                &msgs(&[
                    "libburn : SORRY : Failed to open device (a pseudo-drive) : Permission denied"
                ]),
                false
            ),
            ErrorKind::PermissionDenied
        );
        assert_eq!(
            classify(
                &msgs(&["xorriso : FAILURE : Cannot determine attributes of (ISO) source file '/x' : No such file or directory"]),
                false
            ),
            ErrorKind::NotFound
        );
        assert_eq!(
            classify(
                &msgs(&["libburn : SORRY : A drive operation is still going on (want to write)"]),
                false
            ),
            ErrorKind::Transient
        );
        assert_eq!(
            classify(
                &msgs(&[r#"libisofs: MISHAP : File "/s" can't be opened. Filling with 0s.\n"#]),
                true
            ),
            ErrorKind::Generic
        );
        assert_eq!(classify(&[], true), ErrorKind::Transient);
        assert_eq!(classify(&[], false), ErrorKind::Generic);
    }
}
