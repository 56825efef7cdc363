//! [`serve`]: the plugin's side of `stowage.stream/1` in plain Rust.

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{ROption, RResult, RSlice, RSliceMut, RStr};
use stowage_backend_api::extension::guarded;
use stowage_backend_api::{BackendError, Extension};

use crate::abi::{
    self, ReaderObject, StreamReaderV1, StreamReaderV1_TO, StreamV1, StreamV1_TO, StreamWriterV1,
    StreamWriterV1_TO, WriterObject,
};

/// What a plugin implements to offer `stowage.stream/1`. Names arrive
/// validated, as for `put`.
pub trait StreamService: Send + Sync + 'static {
    /// The plugin's writer.
    type Writer: StreamWrite;
    /// The plugin's reader.
    type Reader: StreamRead;

    /// Starts the object `name`; nothing is visible under it until
    /// [`StreamWrite::commit`].
    fn open_writer(&self, name: &str) -> Result<Self::Writer, BackendError>;

    /// Opens the object `name` for reading.
    fn open_reader(&self, name: &str) -> Result<Self::Reader, BackendError>;
}

/// One object being written, on the plugin's side.
///
/// The service wrapper calls [`StreamWrite::abort`] when the caller drops
/// a writer it neither committed nor aborted, so an implementation only
/// has to clean up in `abort`.
pub trait StreamWrite: Send + 'static {
    /// Appends `chunk`.
    fn write(&mut self, chunk: &[u8]) -> Result<(), BackendError>;
    /// Publishes the object atomically and returns its size.
    fn commit(&mut self) -> Result<u64, BackendError>;
    /// Discards what was written; the store stays as it was.
    fn abort(&mut self) -> Result<(), BackendError>;
}

/// One object being read, on the plugin's side.
pub trait StreamRead: Send + 'static {
    /// The size, when known up front.
    fn size(&self) -> Option<u64>;
    /// Fills the start of `buf`; 0 means the end.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, BackendError>;
}

/// `service` as the extension object a backend hands out for
/// [`abi::ID`]; each call runs under the ABI's panic guard.
pub fn serve(service: impl StreamService) -> Extension {
    let object: abi::StreamObject = StreamV1_TO::from_value(Served(service), TD_Opaque);
    Extension::new(object)
}

struct Served<S>(S);

impl<S: StreamService> StreamV1 for Served<S> {
    fn open_writer(&self, name: RStr<'_>) -> RResult<WriterObject, BackendError> {
        guarded("open_writer", || {
            let writer = self.0.open_writer(name.as_str())?;
            Ok(StreamWriterV1_TO::from_value(
                ServedWriter {
                    writer,
                    finished: false,
                },
                TD_Opaque,
            ))
        })
    }

    fn open_reader(&self, name: RStr<'_>) -> RResult<ReaderObject, BackendError> {
        guarded("open_reader", || {
            let reader = self.0.open_reader(name.as_str())?;
            Ok(StreamReaderV1_TO::from_value(
                ServedReader(reader),
                TD_Opaque,
            ))
        })
    }
}

/// Invariant: once `finished`, the plugin's writer is never called again;
/// a writer dropped before that is aborted.
struct ServedWriter<W: StreamWrite> {
    writer: W,
    finished: bool,
}

impl<W: StreamWrite> ServedWriter<W> {
    fn refuse_when_finished(&self) -> Result<(), BackendError> {
        if self.finished {
            return Err(BackendError::generic(
                "the stream writer was already committed or aborted",
            ));
        }
        Ok(())
    }
}

impl<W: StreamWrite> StreamWriterV1 for ServedWriter<W> {
    fn write(&mut self, chunk: RSlice<'_, u8>) -> RResult<(), BackendError> {
        guarded("stream write", || {
            self.refuse_when_finished()?;
            self.writer.write(chunk.as_slice())
        })
    }

    fn commit(&mut self) -> RResult<u64, BackendError> {
        guarded("stream commit", || {
            self.refuse_when_finished()?;
            self.finished = true;
            self.writer.commit()
        })
    }

    fn abort(&mut self) -> RResult<(), BackendError> {
        guarded("stream abort", || {
            if self.finished {
                return Ok(());
            }
            self.finished = true;
            self.writer.abort()
        })
    }
}

impl<W: StreamWrite> Drop for ServedWriter<W> {
    fn drop(&mut self) {
        if !self.finished {
            // The result has nowhere to go (the caller is gone), and a
            // panic may not unwind across the ABI.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                if let Err(e) = self.writer.abort() {
                    log::warn!("aborting an abandoned stream writer: {e}");
                }
            }));
        }
    }
}

struct ServedReader<R>(R);

impl<R: StreamRead> StreamReaderV1 for ServedReader<R> {
    fn size(&self) -> ROption<u64> {
        // `size` cannot fail, and a panic must not cross: treat one as
        // "unknown".
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.0.size()))
            .ok()
            .flatten()
            .into()
    }

    fn read(&mut self, buf: RSliceMut<'_, u8>) -> RResult<u64, BackendError> {
        guarded("stream read", || {
            let mut buf = buf;
            self.0.read(buf.as_mut_slice()).map(|n| n as u64)
        })
    }
}
