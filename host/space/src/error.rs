//! The errors of backup spaces.

use std::path::PathBuf;

use stowage_backend_api::{BackendError, ErrorCode};

/// Everything a backup store or space can fail with.
///
/// Each variant maps to one stable [`ErrorCode`] (see [`SpaceError::code`]),
/// so the CLI's exit statuses follow the rest of stowage: invalid input 23,
/// not found 52, damaged data 56, in use 60 (exit 50).
#[derive(Debug, thiserror::Error)]
pub enum SpaceError {
    /// A space name the rules refuse (see [`validate_space_name`](super::validate_space_name)).
    #[error("invalid space name {name:?}: {reason}")]
    InvalidSpaceName {
        /// The name, as given.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },

    /// Other invalid input: an empty entry name, a path that cannot be
    /// backed up (a FIFO, a device), a non-UTF-8 name.
    #[error("{0}")]
    InvalidInput(String),

    /// The space does not exist.
    #[error("backup space {space:?} does not exist")]
    NoSuchSpace {
        /// The space.
        space: String,
    },

    /// The space exists with the other persistence setting.
    #[error("backup space {space:?} exists and is {}; it cannot be reopened as {}", persistence(*existing), persistence(!*existing))]
    PersistenceMismatch {
        /// The space.
        space: String,
        /// The stored setting.
        existing: bool,
    },

    /// An entry of that name is already in the space.
    #[error("Named backup {name:?} already in backup space {space:?}")]
    NameExists {
        /// The entry name.
        name: String,
        /// The space.
        space: String,
    },

    /// Something was already backed up from that path.
    #[error("Path {} already in backup space {space:?} (as {name:?})", path.display())]
    PathExists {
        /// The original path.
        path: PathBuf,
        /// The entry that holds it.
        name: String,
        /// The space.
        space: String,
    },

    /// No entry of that name.
    #[error("no backup named {name:?} in backup space {space:?}")]
    NoSuchName {
        /// The entry name.
        name: String,
        /// The space.
        space: String,
    },

    /// Nothing was backed up from that path.
    #[error("nothing was backed up from {} in backup space {space:?}", path.display())]
    NoSuchPath {
        /// The path.
        path: PathBuf,
        /// The space.
        space: String,
    },

    /// A value entry used as a filesystem object, or the reverse.
    #[error("Named backup {name:?} in backup space {space:?} is not a {expected}")]
    WrongKind {
        /// The entry name.
        name: String,
        /// The space.
        space: String,
        /// "value object" or "filesystem object".
        expected: &'static str,
    },

    /// A stored object is missing or its content does not match its
    /// checksum. Nothing local was changed.
    #[error("backup {name:?} in space {space:?} is damaged: object {object} {problem}; nothing was restored")]
    Damaged {
        /// The entry name.
        name: String,
        /// The space.
        space: String,
        /// The backend object.
        object: String,
        /// "is missing", "has N bytes, expected M", "fails its SHA-256 check".
        problem: String,
    },

    /// No manifest of the space can be read and verified.
    #[error("backup space {space:?} is unreadable: {detail}")]
    BadManifest {
        /// The space.
        space: String,
        /// What is wrong.
        detail: String,
    },

    /// A manifest is not authenticated by this store's key: forged,
    /// written with another key (the key was not moved along with the
    /// store), or written by an older stowage without authentication and
    /// not explicitly trusted. Nothing was restored.
    #[error("backup space {space:?}: {detail}; nothing was restored")]
    Unauthenticated {
        /// The space.
        space: String,
        /// What failed, and what to do.
        detail: String,
    },

    /// The space was written by a newer stowage, in a manifest format this
    /// one does not know: it is neither read nor changed (nor removed).
    #[error("backup space {space:?} has manifest format version {version}, newer than this stowage knows ({known}); use a newer stowage")]
    NewerFormat {
        /// The space.
        space: String,
        /// The version found.
        version: u32,
        /// The newest version this stowage knows.
        known: u32,
    },

    /// The store key cannot be read or created.
    #[error("store key {}: {detail}", path.display())]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },

    /// A restore's destination path goes through a symbolic link (or a
    /// non-directory) that a restore will not follow, a backup's source
    /// goes through a symbolic link (above it, or met where its scan had
    /// listed a directory), or a lock directory is unsafe: nothing was
    /// written or read through it.
    #[error("{}: {detail}", path.display())]
    UnsafePath {
        /// The offending path.
        path: PathBuf,
        /// Why it is refused.
        detail: String,
    },

    /// Another handle (in this or another process) holds the space.
    #[error("backup space {space:?} is in use{holder}", holder = holder_text(holder))]
    InUse {
        /// The space.
        space: String,
        /// Who holds it, when known ("pid 12 on host, since ...").
        holder: Option<String>,
    },

    /// The store is busy: garbage collection needs it alone but other
    /// handles have it open, or a collection kept it from being opened.
    #[error("the backup store {url} is busy: {detail}")]
    StoreBusy {
        /// The URL, credentials removed.
        url: String,
        /// What could not be done and why.
        detail: String,
    },

    /// The handle was closed, or opened read-only, and cannot do this.
    #[error("backup space {space:?}: {what}")]
    NotWritable {
        /// The space.
        space: String,
        /// Why ("closed", "opened read-only").
        what: &'static str,
    },

    /// A file changed while it was being backed up, several times over.
    #[error("{}: changed while it was being backed up; try again", path.display())]
    SourceChanged {
        /// The file.
        path: PathBuf,
    },

    /// A local file problem.
    #[error("{}: {source}", path.display())]
    Local {
        /// The local path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    /// The backend failed.
    #[error(transparent)]
    Backend(#[from] stowage::Error),
}

fn persistence(persistent: bool) -> &'static str {
    if persistent {
        "persistent"
    } else {
        "not persistent"
    }
}

fn holder_text(holder: &Option<String>) -> String {
    match holder {
        Some(h) => format!(" (held by {h})"),
        None => " by another handle or process".to_string(),
    }
}

impl SpaceError {
    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            SpaceError::InvalidSpaceName { .. }
            | SpaceError::InvalidInput(_)
            | SpaceError::PersistenceMismatch { .. }
            | SpaceError::NameExists { .. }
            | SpaceError::PathExists { .. }
            | SpaceError::WrongKind { .. }
            | SpaceError::NotWritable { .. }
            | SpaceError::UnsafePath { .. } => ErrorCode::INVALID_INPUT,
            SpaceError::NoSuchSpace { .. }
            | SpaceError::NoSuchName { .. }
            | SpaceError::NoSuchPath { .. } => ErrorCode::NOT_FOUND,
            SpaceError::Damaged { .. }
            | SpaceError::BadManifest { .. }
            | SpaceError::Unauthenticated { .. } => ErrorCode::VALIDATION_FAILED,
            SpaceError::InUse { .. } | SpaceError::StoreBusy { .. } => ErrorCode::IN_USE,
            SpaceError::SourceChanged { .. }
            | SpaceError::NewerFormat { .. }
            | SpaceError::KeyFile { .. } => ErrorCode::GENERIC,
            SpaceError::Local { source, .. } => BackendError::from_io(source, "").code(),
            SpaceError::Backend(e) => e.code(),
        }
    }

    /// Whether the backend reported that an object does not exist.
    pub(crate) fn is_backend_not_found(&self) -> bool {
        matches!(self, SpaceError::Backend(e) if e.code() == ErrorCode::NOT_FOUND)
    }

    /// A [`SpaceError::Local`] for `path`.
    pub fn local(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        SpaceError::Local {
            path: path.into(),
            source,
        }
    }
}

/// Result type of backup spaces.
pub type SpaceResult<T> = std::result::Result<T, SpaceError>;
