//! The types that cross the ABI under `stowage.stream/1`, frozen once
//! shipped. Callers use [`crate::Stream`] instead.

use abi_stable::sabi_trait;
use abi_stable::std_types::{RBox, ROption, RResult, RSlice, RSliceMut, RStr};

use stowage_backend_api::BackendError;

/// The id of this extension.
pub const ID: &str = "stowage.stream/1";

/// A backend's stream operations.
#[sabi_trait]
pub trait StreamV1: Send + Sync {
    /// Starts writing the object `name`. Nothing is visible under `name`
    /// until the writer commits.
    fn open_writer(&self, name: RStr<'_>) -> RResult<WriterObject, BackendError>;

    /// Opens the object `name` for reading from its start.
    #[sabi(last_prefix_field)]
    fn open_reader(&self, name: RStr<'_>) -> RResult<ReaderObject, BackendError>;
}

/// One object being written. Dropping it without a successful `commit`
/// aborts it.
#[sabi_trait]
pub trait StreamWriterV1: Send {
    /// Appends `chunk` to the object.
    fn write(&mut self, chunk: RSlice<'_, u8>) -> RResult<(), BackendError>;

    /// Publishes the object under its name, atomically, and returns its
    /// size. The writer is spent afterwards, whatever the outcome.
    fn commit(&mut self) -> RResult<u64, BackendError>;

    /// Discards what was written. The writer is spent afterwards.
    #[sabi(last_prefix_field)]
    fn abort(&mut self) -> RResult<(), BackendError>;
}

/// One object being read.
#[sabi_trait]
pub trait StreamReaderV1: Send {
    /// The object's size when the backend knows it up front.
    fn size(&self) -> ROption<u64>;

    /// Fills the start of `buf` and returns how many bytes it wrote; 0
    /// means the end of the object.
    #[sabi(last_prefix_field)]
    fn read(&mut self, buf: RSliceMut<'_, u8>) -> RResult<u64, BackendError>;
}

/// The object travelling under [`ID`].
pub type StreamObject = StreamV1_TO<'static, RBox<()>>;

/// A writer crossing the ABI.
pub type WriterObject = StreamWriterV1_TO<'static, RBox<()>>;

/// A reader crossing the ABI.
pub type ReaderObject = StreamReaderV1_TO<'static, RBox<()>>;
