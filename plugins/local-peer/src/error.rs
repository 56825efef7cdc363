//! Typed errors of the local-peer operations.
//!
//! Cedar Backup raised bare `ValueError`/`OSError` with message text only. Every failure here is a [`PeerError`] variant with a
//! stable [`ErrorKind`], the OS error number when there is one, and a message
//! that names the path and what was wrong with it.

use std::io;
use std::path::PathBuf;

use stowage_backend_api::BackendError;
pub use stowage_fs_common::ErrorKind;
use stowage_peer_ext::{InvalidSpec, Ownership};

use crate::report::StageReport;

/// Every error of this crate.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// A user-supplied value (URL, query parameter, peer name, indicator
    /// name, mode, user, group) was rejected. `what` names the parameter,
    /// `value` is the rejected text.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidInput {
        /// What the value or path is (for the message).
        what: String,
        /// The rejected text.
        value: String,
        /// Why it was refused.
        reason: String,
    },

    /// A path argument that must be absolute was relative.
    #[error("{what} {path:?} must be an absolute path")]
    NotAbsolute {
        /// What the value or path is (for the message).
        what: &'static str,
        /// The path concerned.
        path: PathBuf,
    },

    /// A directory that must exist does not (`ENOENT`, or a path component
    /// is not a directory).
    #[error("{what} {path:?} does not exist")]
    DirectoryNotFound {
        /// What the value or path is (for the message).
        what: &'static str,
        /// The path concerned.
        path: PathBuf,
    },

    /// A path that must be a directory (or a symlink to one) is something
    /// else.
    #[error("{what} {path:?} is not a directory")]
    NotADirectory {
        /// What the value or path is (for the message).
        what: &'static str,
        /// The path concerned.
        path: PathBuf,
    },

    /// The staging target resolves to the collect directory itself.
    #[error("target directory {target_dir:?} is the collect directory {collect_dir:?}")]
    SameDirectory {
        /// The collect directory.
        collect_dir: PathBuf,
        /// The target directory.
        target_dir: PathBuf,
    },

    /// A path expected to be a regular file turned out to be something else
    /// (a directory, a FIFO, ...) when it was opened.
    #[error("{path:?} is not a regular file")]
    NotRegularFile {
        /// The path concerned.
        path: PathBuf,
    },

    /// A file of the collect directory has more than one hard link: it may
    /// be any file of the filesystem made to look like the peer's, so it is
    /// not copied unless hard links are allowed.
    #[error(
        "{path:?} has {links} hard links; refusing to stage it \
         (allow_hardlinks=yes, or --allow-hardlinks, stages such files)"
    )]
    HardLinked {
        /// The file.
        path: PathBuf,
        /// Its number of hard links.
        links: u64,
    },

    /// A file changed while it was copied, twice in a row: its copy would
    /// be a mix of old and new content, so it is not staged.
    #[error("{path:?} changed while it was being staged (twice); not staged")]
    Changed {
        /// The file.
        path: PathBuf,
    },

    /// Ownership was requested that the current (non-root) user cannot set.
    /// Detected before anything is written.
    #[error(
        "cannot set ownership {ownership} on files in {path:?}: running as uid {euid}; \
         only root may give files away or use a group it is not a member of"
    )]
    OwnershipNotPermitted {
        /// The path concerned.
        path: PathBuf,
        /// The ownership requested.
        ownership: Ownership,
        /// The effective uid of this process.
        euid: u32,
    },

    /// An operating-system call failed on `path`.
    #[error("cannot {op} {path:?}: {source}")]
    Io {
        /// The operation that failed.
        op: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// Copying a file failed (reading `from` or writing its temporary copy
    /// next to `to`).
    #[error("cannot copy {from:?} to {to:?}: {source}")]
    Copy {
        /// The file being read.
        from: PathBuf,
        /// The file being written.
        to: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The collect directory held no regular file to stage: it was empty or
    /// every entry was skipped. As in Cedar, this is an error. The report
    /// lists what was skipped.
    #[error(
        "nothing to stage: no regular file to copy in collect directory {:?} ({} entries skipped{})",
        .report.collect_dir, .report.skipped.len(), .report.changed_note()
    )]
    NothingToStage {
        /// What was staged, skipped and failed.
        report: Box<StageReport>,
    },

    /// At least one file could not be staged. The others were staged (each
    /// one completely or not at all); the report says which is which.
    #[error(
        "staging from {:?} into {:?}: {} of {} file(s) failed, {} staged; first failure: {}",
        .report.collect_dir,
        .report.target_dir,
        .report.failed.len(),
        .report.failed.len() + .report.staged.len(),
        .report.staged.len(),
        .report.failed.first().map(|f| f.message.as_str()).unwrap_or("?")
    )]
    StageFailed {
        /// What was staged, skipped and failed.
        report: Box<StageReport>,
    },
}

impl PeerError {
    /// The stable class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            PeerError::InvalidInput { .. }
            | PeerError::NotAbsolute { .. }
            | PeerError::NotADirectory { .. }
            | PeerError::SameDirectory { .. }
            | PeerError::NotRegularFile { .. } => ErrorKind::InvalidInput,
            PeerError::DirectoryNotFound { .. } => ErrorKind::NotFound,
            PeerError::OwnershipNotPermitted { .. } | PeerError::HardLinked { .. } => {
                ErrorKind::PermissionDenied
            }
            PeerError::Changed { .. } => ErrorKind::ValidationFailed,
            PeerError::Io { source, .. } | PeerError::Copy { source, .. } => {
                ErrorKind::from_io(source)
            }
            // Not NotFound: the collect directory exists, and NotFound is
            // what a caller may take for "peer directory missing".
            PeerError::NothingToStage { .. } => ErrorKind::Generic,
            // The class of the first failure (entries are in name order).
            PeerError::StageFailed { report } => report
                .failed
                .first()
                .map(|f| f.kind)
                .unwrap_or(ErrorKind::Generic),
        }
    }

    /// Whether retrying the same call could help. Local filesystem failures
    /// are not transient in a way a retry loop can fix, so never.
    pub fn retryable(&self) -> bool {
        false
    }

    /// The OS error number behind this error, if any (for a failed stage:
    /// that of the first failed file).
    pub fn os_error(&self) -> Option<i32> {
        match self {
            PeerError::Io { source, .. } | PeerError::Copy { source, .. } => source.raw_os_error(),
            PeerError::StageFailed { report } => report.failed.first().and_then(|f| f.os_error),
            _ => None,
        }
    }

    /// The stage report carried by [`PeerError::NothingToStage`] and
    /// [`PeerError::StageFailed`].
    pub fn report(&self) -> Option<&StageReport> {
        match self {
            PeerError::NothingToStage { report } | PeerError::StageFailed { report } => {
                Some(report)
            }
            _ => None,
        }
    }

    pub(crate) fn invalid(
        what: impl Into<String>,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        PeerError::InvalidInput {
            what: what.into(),
            value: value.into(),
            reason: reason.into(),
        }
    }

    /// A closure for `map_err` wrapping an [`io::Error`] with the operation
    /// and path.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| PeerError::Io { op, path, source }
    }
}

/// The error of [`crate::stage()`]; the same type as every other operation's.
pub type StageError = PeerError;

impl From<InvalidSpec> for PeerError {
    fn from(e: InvalidSpec) -> Self {
        PeerError::InvalidInput {
            what: e.what.to_string(),
            value: e.value,
            reason: e.reason,
        }
    }
}

/// Same message, code of its [`ErrorKind`], never retryable; an error from a
/// system call keeps its errno (see [`stowage_fs_common::backend_error`]). A
/// failed stage's errnos stay in its report.
impl From<PeerError> for BackendError {
    fn from(err: PeerError) -> Self {
        let os = match &err {
            PeerError::Io { op, path, source } => Some((source, format!("cannot {op} {path:?}"))),
            PeerError::Copy { from, to, source } => {
                Some((source, format!("cannot copy {from:?} to {to:?}")))
            }
            _ => None,
        };
        stowage_fs_common::backend_error(err.kind(), err.to_string(), os, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(errno: i32) -> PeerError {
        PeerError::Io {
            op: "open",
            path: "/x".into(),
            source: io::Error::from_raw_os_error(errno),
        }
    }

    #[test]
    fn io_errors_keep_errno_and_class() {
        assert_eq!(os(libc::EACCES).kind(), ErrorKind::PermissionDenied);
        assert_eq!(os(libc::EIO).os_error(), Some(libc::EIO));
        assert!(!os(libc::EIO).retryable());
    }

    #[test]
    fn messages_name_path_and_problem() {
        let e = os(libc::EACCES);
        let msg = e.to_string();
        assert!(msg.contains("/x") && msg.contains("open"), "{msg}");
        let e = PeerError::DirectoryNotFound {
            what: "collect directory",
            path: "/srv/collect".into(),
        };
        assert_eq!(
            e.to_string(),
            "collect directory \"/srv/collect\" does not exist"
        );
        assert_eq!(e.kind(), ErrorKind::NotFound);
        let e = PeerError::invalid(
            "ignore_failure",
            "hourly",
            "must be one of none, all, daily, weekly",
        );
        assert_eq!(
            e.to_string(),
            "invalid ignore_failure \"hourly\": must be one of none, all, daily, weekly"
        );
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
    }
}
