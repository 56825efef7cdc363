//! [`FileIdentity`]: what tells one version of a file from any other, taken
//! from `fstat`, so that "is this still the file I wrote (or hashed)?" is
//! answered without reading it again.

use std::fmt;

use rustix::fs::Stat;

/// The parts of a file's `stat` that any change to it moves: a write or
/// truncation (size, mtime, ctime), a `chmod`, `chown`, link or
/// `utimensat` (ctime, which nobody can set back), a replacement (device
/// and inode). Reads do not (atime is left out).
///
/// Limit: before Linux 6.13 a same-size write in the same clock tick as
/// the `fstat` that made an identity could leave both times unchanged;
/// later kernels give such a write a fresh timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileIdentity {
    dev: u64,
    ino: u64,
    size: u64,
    /// Seconds and nanoseconds.
    mtime: (i64, i64),
    /// Seconds and nanoseconds.
    ctime: (i64, i64),
}

/// How a file differs from an identity taken earlier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Another file stands under the name (device or inode differ).
    Replaced,
    /// The size changed.
    Resized {
        /// The size in the identity.
        was: u64,
        /// The size now.
        now: u64,
    },
    /// Written to, or its metadata changed, at the same size.
    Touched {
        /// The modification time moved.
        mtime: bool,
        /// The change time moved.
        ctime: bool,
    },
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Change::Replaced => f.write_str("it was replaced by another file"),
            Change::Resized { was, now } => write!(f, "it has {now} bytes instead of {was}"),
            Change::Touched { mtime, ctime } => {
                let moved = match (mtime, ctime) {
                    (true, true) => "modification time and change time",
                    (true, false) => "modification time",
                    _ => "change time",
                };
                write!(f, "its {moved} moved")
            }
        }
    }
}

impl FileIdentity {
    /// The identity of the file `st` describes.
    #[allow(clippy::unnecessary_cast)] // the field types vary between architectures
    pub fn of(st: &Stat) -> Self {
        Self {
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            size: u64::try_from(st.st_size).unwrap_or(0),
            mtime: (st.st_mtime as i64, st.st_mtime_nsec as i64),
            ctime: (st.st_ctime as i64, st.st_ctime_nsec as i64),
        }
    }

    /// The file's size, in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// How `now` differs from `self`, or `None` when it is the same
    /// version of the same file.
    pub fn change_to(&self, now: &FileIdentity) -> Option<Change> {
        if (now.dev, now.ino) != (self.dev, self.ino) {
            return Some(Change::Replaced);
        }
        if now.size != self.size {
            return Some(Change::Resized {
                was: self.size,
                now: now.size,
            });
        }
        let (mtime, ctime) = (now.mtime != self.mtime, now.ctime != self.ctime);
        (mtime || ctime).then_some(Change::Touched { mtime, ctime })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::fs::fstat;
    use std::io::Write;

    #[test]
    fn a_write_a_chmod_and_a_replacement_are_changes_a_read_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"one").unwrap();
        let identity = |p: &std::path::Path| {
            FileIdentity::of(&fstat(std::fs::File::open(p).unwrap()).unwrap())
        };
        let first = identity(&path);
        let _ = std::fs::read(&path).unwrap();
        assert_eq!(first.change_to(&identity(&path)), None);

        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"two")
            .unwrap();
        assert_eq!(
            first.change_to(&identity(&path)),
            Some(Change::Resized { was: 3, now: 6 })
        );

        let grown = identity(&path);
        std::thread::sleep(std::time::Duration::from_millis(20));
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let change = grown.change_to(&identity(&path));
        assert!(
            matches!(change, Some(Change::Touched { ctime: true, .. })),
            "{change:?}"
        );

        let other = dir.path().join("g");
        std::fs::write(&other, b"onetwo").unwrap();
        std::fs::rename(&other, &path).unwrap();
        assert_eq!(grown.change_to(&identity(&path)), Some(Change::Replaced));
        assert_eq!(
            Change::Replaced.to_string(),
            "it was replaced by another file"
        );
    }
}
