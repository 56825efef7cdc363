//! The backend extension calls that cross the process boundary, and the
//! peer extension's types as they travel.

use serde::{Deserialize, Serialize};

use super::WireError;

/// A backend extension call (the extensions that make sense across
/// processes).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum ExtCall {
    /// Whether the backend offers extension `id`.
    Offers {
        /// The versioned id.
        id: String,
    },
    /// `stowage.xorriso/1` `info`.
    XorrisoInfo,
    /// `stowage.xorriso/1` `compact`.
    XorrisoCompact,
    /// `stowage.peer/1` `stage` (sent to a child started for this call,
    /// confined with the target directory writable).
    PeerStage {
        /// The target directory.
        target_dir: Vec<u8>,
        /// Owner to give the staged files.
        owner: WireOwner,
        /// Mode to give them.
        mode: Option<u32>,
    },
    /// `stowage.peer/1` `check_collect_indicator`.
    PeerCheckIndicator {
        /// Indicator file name.
        name: String,
    },
    /// `stowage.peer/1` `write_stage_indicator`.
    PeerWriteIndicator {
        /// Indicator file name.
        name: String,
        /// Owner.
        owner: WireOwner,
        /// Mode.
        mode: Option<u32>,
    },
    /// `stowage.stream/1` `open_writer`; answered with [`Answer::Stream`].
    StreamOpenWriter {
        /// Object name.
        name: String,
    },
    /// A writer's `write`.
    StreamWrite {
        /// The writer, as [`Answer::Stream`] named it.
        stream: u64,
        /// The bytes.
        #[serde(with = "serde_bytes")]
        chunk: Vec<u8>,
    },
    /// A writer's `commit`; answered with [`Answer::Committed`].
    StreamCommit {
        /// The writer.
        stream: u64,
    },
    /// A writer's `abort` (also sent when the host drops a writer it
    /// neither committed nor aborted).
    StreamAbort {
        /// The writer.
        stream: u64,
    },
    /// `stowage.stream/1` `open_reader`; answered with [`Answer::Stream`].
    StreamOpenReader {
        /// Object name.
        name: String,
    },
    /// A reader's `read`; answered with [`Answer::Chunk`].
    StreamRead {
        /// The reader.
        stream: u64,
        /// At most this many bytes.
        max: u64,
    },
    /// The host dropped a reader.
    StreamCloseReader {
        /// The reader.
        stream: u64,
    },
    /// `stowage.location/1` `exists`; answered with [`Answer::Flag`].
    LocationExists,
}

/// `stowage.peer/1`'s `Ownership` on the wire.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct WireOwner {
    /// User id.
    pub uid: Option<u32>,
    /// Group id.
    pub gid: Option<u32>,
}

/// `stowage.peer/1`'s `StageReport` on the wire.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WireStageReport {
    /// Files copied.
    pub copied: u64,
    /// Bytes copied.
    pub bytes: u64,
    /// (name, bytes) of each staged file.
    pub staged: Vec<(Vec<u8>, u64)>,
    /// (name, reason) of each skipped entry.
    pub skipped: Vec<(Vec<u8>, String)>,
    /// (name, error) of each failed entry.
    pub failed: Vec<(Vec<u8>, WireError)>,
    /// An error that stopped the stage.
    pub error: Option<WireError>,
}

impl ExtCall {
    /// The call's name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            ExtCall::Offers { .. } => "extension",
            ExtCall::XorrisoInfo => "iso info",
            ExtCall::XorrisoCompact => "iso compact",
            ExtCall::PeerStage { .. } => "peer stage",
            ExtCall::PeerCheckIndicator { .. } => "peer collected",
            ExtCall::PeerWriteIndicator { .. } => "peer mark-staged",
            ExtCall::StreamOpenWriter { .. } => "stream open_writer",
            ExtCall::StreamWrite { .. } => "stream write",
            ExtCall::StreamCommit { .. } => "stream commit",
            ExtCall::StreamAbort { .. } => "stream abort",
            ExtCall::StreamOpenReader { .. } => "stream open_reader",
            ExtCall::StreamRead { .. } => "stream read",
            ExtCall::StreamCloseReader { .. } => "stream close",
            ExtCall::LocationExists => "location exists",
        }
    }
}
