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
//!
//! Files: `hello.rs` (the handshake), `ext.rs` (the extension calls that
//! cross), `wire.rs` (descriptors and errors as they travel); the frames,
//! requests, replies and operations are here.

mod ext;
mod hello;
mod wire;

pub use ext::{ExtCall, WireOwner, WireStageReport};
pub use hello::{Hello, BUILD, PROTOCOL_VERSION};
pub use wire::{WireDescriptor, WireError};

use serde::{Deserialize, Serialize};

/// The environment variable that names the child's socket descriptor.
pub const SOCKET_ENV: &str = "STOWAGE_ISOLATE_FD";

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
    /// The host's umask, sent (unanswered) before a request that may
    /// create files, when it differs from the one the child last got (the
    /// child keeps it): the umask is per process, and a caller may change
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
    /// A put succeeded; what a query of the object said right after it.
    Stored(Result<Option<u64>, WireError>),
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
        /// Query the object right after the put, and answer
        /// [`Answer::Stored`] (`stowage.put-query/1`), not
        /// [`Answer::Done`].
        query: bool,
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
