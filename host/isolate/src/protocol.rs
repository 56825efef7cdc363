//! The messages between the host and an isolation child.
//!
//! Every message travels as one frame (see [`frame`](crate::frame)): a
//! little-endian `u32` length, then the message encoded with postcard. File
//! descriptors ride along with a frame (`SCM_RIGHTS`); a message says how
//! many it carries, and a frame with any other number is refused.
//!
//! The first frame in each direction is a [`Hello`], encoded by hand so that
//! any two builds can read each other's: a host and a child that do not
//! speak the same protocol version and build refuse each other with a
//! message naming both, before any postcard frame is exchanged.

use serde::{Deserialize, Serialize};
use stowage_backend_api::{BackendError, ErrorCode};

/// The environment variable that names the child's socket descriptor.
pub const SOCKET_ENV: &str = "STOWAGE_ISOLATE_FD";

/// The protocol version. Any change to the messages below bumps it.
pub const PROTOCOL_VERSION: u32 = 2;

/// What a peer says about its build in the handshake.
pub const BUILD: &str = concat!("stowage ", env!("CARGO_PKG_VERSION"));

const MAGIC: &[u8; 8] = b"STOWISO\0";

/// The handshake: magic, protocol version, build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// [`PROTOCOL_VERSION`] of the sender.
    pub version: u32,
    /// [`BUILD`] of the sender.
    pub build: String,
}

impl Hello {
    /// This build's hello.
    pub fn ours() -> Self {
        Self {
            version: PROTOCOL_VERSION,
            build: BUILD.to_string(),
        }
    }

    /// Magic, version (u32 LE), build length (u16 LE), build bytes.
    pub fn encode(&self) -> Vec<u8> {
        let build = self.build.as_bytes();
        let len = build.len().min(usize::from(u16::MAX));
        let mut out = Vec::with_capacity(14 + len);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&(len as u16).to_le_bytes());
        out.extend_from_slice(&build[..len]);
        out
    }

    /// The inverse of [`Hello::encode`]; `Err` says what was wrong.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() < 14 || &bytes[..8] != MAGIC {
            return Err("not a stowage isolation handshake".into());
        }
        let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        let len = usize::from(u16::from_le_bytes([bytes[12], bytes[13]]));
        let build = bytes
            .get(14..14 + len)
            .ok_or("truncated handshake")?
            .to_vec();
        Ok(Self {
            version,
            build: String::from_utf8_lossy(&build).into_owned(),
        })
    }

    /// `Ok` when `self` (the peer's) matches ours exactly.
    pub fn check(&self, peer: &str) -> Result<(), String> {
        let ours = Self::ours();
        if self != &ours {
            return Err(format!(
                "the {peer} speaks isolation protocol {} ({}), this process speaks {} ({}); both must come from the same build",
                self.version, self.build, ours.version, ours.build
            ));
        }
        Ok(())
    }
}

/// What the host tells a new child before anything else.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Setup {
    /// The plugin file to load.
    pub plugin: Vec<u8>,
    /// The host's log level (0 off ... 5 trace).
    pub max_log_level: u8,
    /// Filesystem and network confinement to apply before loading.
    pub confinement: Confinement,
    /// The child's private staging directory (created by the host).
    pub staging: Vec<u8>,
}

/// What a child may reach once confined.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Confinement {
    /// Apply Landlock at all.
    pub enabled: bool,
    /// Fail instead of running unconfined when Landlock is unavailable.
    pub required: bool,
    /// Paths the plugin may read, write, create and delete under.
    pub read_write: Vec<Vec<u8>>,
    /// Paths the plugin may read (and execute) only.
    pub read_only: Vec<Vec<u8>>,
    /// Whether the plugin may open network connections.
    pub network: bool,
}

/// An object name list, as sent.
pub type Names = Vec<String>;

/// Identifies one request among those in flight on one child: the host
/// numbers its requests from 1, every message the child sends about a
/// request carries its number, and replies may come in any order. 0 is no
/// request (a record from a thread of the plugin's own, a host answer).
pub type RequestId = u64;

/// No request.
pub const NO_REQUEST: RequestId = 0;

/// A frame from the host to the child.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Down {
    /// The request this frame is, or [`NO_REQUEST`].
    pub id: RequestId,
    /// The message.
    pub request: Request,
}

impl Down {
    /// How many file descriptors travel with this frame.
    pub fn fds(&self) -> usize {
        self.request.fds()
    }
}

/// A frame from the child to the host.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Upward {
    /// The request this frame is about, or [`NO_REQUEST`].
    pub id: RequestId,
    /// The message.
    pub up: Up,
}

impl Upward {
    /// How many file descriptors travel with this frame.
    pub fn fds(&self) -> usize {
        self.up.fds()
    }
}

/// Host → child.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Request {
    /// Load the plugin as [`Setup`] says; answered with [`Answer::Loaded`].
    Setup(Setup),
    /// Open the backend; answered with [`Answer::Done`].
    Open {
        /// Scheme or prefix.
        handler: String,
        /// Whether `handler` is a prefix.
        as_prefix: bool,
        /// The URL as the ABI's `open` takes it.
        url: String,
    },
    /// A backend operation.
    Op(Op),
    /// A backend extension's method.
    Extension(ExtCall),
    /// The answer to a host call the child made ([`Up::HostCall`]).
    HostAnswer {
        /// The call's number, as the child gave it.
        call: u64,
        /// The outcome.
        answer: Result<HostAnswer, WireError>,
    },
    /// The host's umask, sent (unanswered) before each open, operation and
    /// extension call: the umask is per process, and a caller may change
    /// it after the child was forked (backup spaces write under `077`), so
    /// the plugin creates files with the permissions it would get in
    /// process.
    Umask(u32),
}

impl Request {
    /// Whether serving this request may create files (whose permissions
    /// follow the umask): all but the operations that only read or remove.
    pub fn creates_files(&self) -> bool {
        !matches!(
            self,
            Request::Op(
                Op::List
                    | Op::Query { .. }
                    | Op::QueryList { .. }
                    | Op::Delete { .. }
                    | Op::DeleteList { .. }
            ) | Request::Extension(
                ExtCall::Offers { .. }
                    | ExtCall::XorrisoInfo
                    | ExtCall::PeerCheckIndicator { .. }
                    | ExtCall::StreamWrite { .. }
                    | ExtCall::StreamRead { .. }
                    | ExtCall::StreamCloseReader { .. }
                    | ExtCall::LocationExists
            )
        )
    }

    /// How many file descriptors travel with this request.
    pub fn fds(&self) -> usize {
        match self {
            Request::Op(op) => op.fds(),
            _ => 0,
        }
    }
}

/// Child → host.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Up {
    /// The outcome of the frame's request.
    Reply(Result<Answer, WireError>),
    /// A log record from the plugin.
    Log {
        /// 1 error ... 5 trace.
        level: u8,
        /// The record's target.
        target: String,
        /// The message.
        message: String,
    },
    /// Progress of the frame's request.
    Progress {
        /// Bytes done.
        done: u64,
        /// Total, 0 when unknown.
        total: u64,
    },
    /// A host service the plugin asked for while serving the frame's
    /// request (or on a thread of its own); answered with
    /// [`Request::HostAnswer`] naming `call`.
    HostCall {
        /// Numbers the child's open host calls.
        call: u64,
        /// The service.
        body: HostCall,
    },
}

impl Up {
    /// How many file descriptors travel with this message.
    pub fn fds(&self) -> usize {
        match self {
            Up::HostCall {
                body: HostCall::Inner { op, .. },
                ..
            } => op.fds(),
            _ => 0,
        }
    }
}

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

/// A successful reply.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Answer {
    /// The plugin loaded.
    Loaded {
        /// Its descriptor.
        descriptor: WireDescriptor,
        /// Why the child runs unconfined although confinement was asked
        /// for (Landlock unavailable), if it does.
        unconfined: Option<String>,
    },
    /// Done, nothing to return.
    Done,
    /// A get finished: the permission bits of what the plugin wrote.
    Got {
        /// `st_mode & 0o7777` of the file the plugin produced.
        mode: u32,
    },
    /// Listing.
    Listed(Vec<(String, u64)>),
    /// One size.
    Size(Option<u64>),
    /// Sizes.
    Sizes(Vec<Option<u64>>),
    /// Whether an extension is offered.
    Offers(bool),
    /// `stowage.xorriso/1` info.
    IsoInfo(stowage_xorriso_ext::MediumInfo),
    /// A yes or no.
    Flag(bool),
    /// `stowage.peer/1` stage.
    Staged(WireStageReport),
    /// A stream opened in the child.
    Stream {
        /// Names it in later calls.
        stream: u64,
        /// A reader's size, when the backend knows it.
        size: Option<u64>,
    },
    /// Bytes a stream reader read; empty at the end.
    Chunk(#[serde(with = "serde_bytes")] Vec<u8>),
    /// A stream writer committed this many bytes.
    Committed(u64),
    /// `stowage.xorriso/1` compact.
    Compacted {
        /// Image size before.
        bytes_before: u64,
        /// Image size after.
        bytes_after: u64,
    },
}

/// A host service called by the plugin in the child.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum HostCall {
    /// `open_backend` (a prefix plugin's inner URL).
    OpenBackend {
        /// The URL.
        url: String,
    },
    /// An operation on an inner backend opened earlier.
    Inner {
        /// The id [`HostAnswer::Opened`] gave.
        id: u64,
        /// The operation.
        op: Op,
    },
    /// The inner backend is dropped.
    DropInner {
        /// Its id.
        id: u64,
    },
}

/// A backend operation, on the child's backend (host → child) or on an
/// inner backend the host serves (child → host).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Op {
    /// Carries one fd: the source, open for reading.
    Put {
        /// Object name.
        name: String,
        /// The local path as the user named it, for messages only.
        shown: String,
    },
    /// Carries one fd: the caller's private temporary file, open for
    /// writing.
    Get {
        /// Object name.
        name: String,
        /// The local path, for messages.
        shown: String,
    },
    /// List.
    List,
    /// Delete.
    Delete {
        /// Object name.
        name: String,
    },
    /// Delete several.
    DeleteList {
        /// Object names.
        names: Names,
    },
    /// Query.
    Query {
        /// Object name.
        name: String,
    },
    /// Query several.
    QueryList {
        /// Object names.
        names: Names,
    },
    /// Carries one fd, as [`Op::Put`]: the backend's `move_in` takes a
    /// staged copy; the caller removes its own file after success.
    MoveIn {
        /// Object name.
        name: String,
        /// The local path as the user named it, for messages only.
        shown: String,
    },
    /// Between attempts.
    RetryCleanup,
    /// End the session.
    Close,
}

impl Op {
    /// How many file descriptors travel with this operation.
    pub fn fds(&self) -> usize {
        match self {
            Op::Put { .. } | Op::Get { .. } | Op::MoveIn { .. } => 1,
            _ => 0,
        }
    }

    /// The operation's name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Put { .. } => "put",
            Op::Get { .. } => "get",
            Op::List => "list",
            Op::Delete { .. } => "delete",
            Op::DeleteList { .. } => "delete_list",
            Op::Query { .. } => "query",
            Op::QueryList { .. } => "query_list",
            Op::MoveIn { .. } => "move_in",
            Op::RetryCleanup => "retry_cleanup",
            Op::Close => "close",
        }
    }
}

/// A successful host service.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum HostAnswer {
    /// The inner backend's id.
    Opened {
        /// Id for [`HostCall::Inner`].
        id: u64,
    },
    /// An inner operation's result.
    Inner(Answer),
    /// Nothing to say (drop).
    Done,
}

/// A plugin's descriptor on the wire.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WireDescriptor {
    /// Plugin name.
    pub name: String,
    /// Plugin version.
    pub version: String,
    /// One line.
    pub description: String,
    /// (name, description) of each scheme.
    pub schemes: Vec<(String, String)>,
    /// (name, description) of each prefix.
    pub prefixes: Vec<(String, String)>,
}

impl From<WireDescriptor> for stowage_backend_api::Descriptor {
    fn from(w: WireDescriptor) -> Self {
        let mut d = Self::new(&w.name, &w.version, &w.description);
        for (n, desc) in &w.schemes {
            d = d.scheme(n, desc);
        }
        for (n, desc) in &w.prefixes {
            d = d.prefix(n, desc);
        }
        d
    }
}

/// A [`BackendError`] on the wire.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WireError {
    /// The code number.
    pub code: u32,
    /// Whether a retry may help.
    pub retryable: bool,
    /// The message.
    pub message: String,
    /// The OS error number behind the error, 0 when there is none.
    pub os_error: i32,
}

impl From<&BackendError> for WireError {
    fn from(e: &BackendError) -> Self {
        Self {
            code: e.code().0,
            retryable: e.is_retryable(),
            message: e.message().to_string(),
            os_error: e.os_error(),
        }
    }
}

impl From<BackendError> for WireError {
    fn from(e: BackendError) -> Self {
        Self::from(&e)
    }
}

impl From<WireError> for BackendError {
    /// An error with an OS error number can only have been made by
    /// [`BackendError::from_io`] (nothing else sets the number, and
    /// `context` and `with_retryable` keep it): its message is a context,
    /// `": "` and the OS error's text, and its code follows from the number.
    /// It is made again the same way, so the number crosses too; anything
    /// that does not fit that shape crosses without it.
    fn from(w: WireError) -> Self {
        if w.os_error != 0 {
            let io = std::io::Error::from_raw_os_error(w.os_error);
            if let Some(context) = w.message.strip_suffix(&format!(": {io}")) {
                let e = BackendError::from_io(&io, context);
                if e.code().0 == w.code {
                    return e.with_retryable(w.retryable);
                }
            }
        }
        BackendError::new(ErrorCode(w.code), w.message).with_retryable(w.retryable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_cross_whole_with_their_os_error() {
        for errno in [
            libc::EACCES,
            libc::ENOENT,
            libc::ENOSPC,
            libc::EIO,
            libc::ECONNRESET,
        ] {
            let io = std::io::Error::from_raw_os_error(errno);
            let original = BackendError::from_io(&io, "writing /x/y")
                .context("plugin")
                .with_retryable(errno == libc::EIO);
            let crossed = BackendError::from(WireError::from(&original));
            assert_eq!(crossed, original);
            assert_eq!(crossed.os_error(), errno);
        }
        let plain = BackendError::not_found("no such object: a: b");
        assert_eq!(BackendError::from(WireError::from(&plain)), plain);
    }

    #[test]
    fn hello_round_trips_and_mismatches_are_named() {
        let ours = Hello::ours();
        assert_eq!(Hello::decode(&ours.encode()).unwrap(), ours);
        assert!(ours.check("child").is_ok());
        let other = Hello {
            version: PROTOCOL_VERSION + 1,
            build: "stowage 9.9.9".into(),
        };
        let err = Hello::decode(&other.encode())
            .unwrap()
            .check("child")
            .unwrap_err();
        assert!(
            err.contains("stowage 9.9.9") && err.contains(BUILD),
            "{err}"
        );
        assert!(Hello::decode(b"garbage garbage").is_err());
    }
}
