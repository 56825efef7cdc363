//! The caller's side of `stowage.stream/1`: [`Stream`] on an open backend,
//! [`StreamWriter`] as `std::io::Write`, [`StreamReader`] as
//! `std::io::Read`.

use std::io;

use abi_stable::std_types::{RSlice, RSliceMut, RStr};
use stowage_backend_api::{BackendError, ExtensionRef};

use crate::abi::{self, ReaderObject, StreamObject, WriterObject};

/// The stream operations of an open backend.
pub struct Stream {
    ext: ExtensionRef<StreamObject>,
}

impl Stream {
    /// Looks the extension up through `find`, which is given the id and
    /// fetches it from the backend, typically
    /// `Stream::lookup(|id| backend.extension_as(id))` with a
    /// `stowage::Backend`. `Ok(None)` when the backend does not offer it.
    ///
    /// # Errors
    /// Whatever `find` reports, e.g. a layout mismatch.
    pub fn lookup<E>(
        find: impl FnOnce(&'static str) -> Result<Option<ExtensionRef<StreamObject>>, E>,
    ) -> Result<Option<Self>, E> {
        Ok(find(abi::ID)?.map(|ext| Stream { ext }))
    }

    /// Starts writing the object `name` (validated by the caller, as for
    /// `put`). Nothing is visible under `name` until
    /// [`StreamWriter::commit`].
    ///
    /// # Errors
    /// The backend cannot start the object (permissions, space, a dead
    /// connection).
    pub fn writer(&self, name: &str) -> Result<StreamWriter, BackendError> {
        let inner = self.ext.open_writer(RStr::from_str(name)).into_result()?;
        Ok(StreamWriter {
            inner: Some(inner),
            written: 0,
        })
    }

    /// Opens the object `name` (validated by the caller) for reading.
    ///
    /// # Errors
    /// Not found, permission denied, or the backend is gone.
    pub fn reader(&self, name: &str) -> Result<StreamReader, BackendError> {
        let inner = self.ext.open_reader(RStr::from_str(name)).into_result()?;
        Ok(StreamReader { inner })
    }
}

/// One object being written.
///
/// Invariant: `inner` is `Some` until the writer is committed or aborted;
/// dropping a writer that still holds it aborts the object.
pub struct StreamWriter {
    inner: Option<WriterObject>,
    written: u64,
}

impl StreamWriter {
    /// Appends `chunk`, with the backend's typed error.
    ///
    /// # Errors
    /// The backend failed to take the chunk, or the writer is spent.
    pub fn send(&mut self, chunk: &[u8]) -> Result<(), BackendError> {
        let inner = self.inner.as_mut().ok_or_else(spent)?;
        inner.write(RSlice::from_slice(chunk)).into_result()?;
        self.written += chunk.len() as u64;
        Ok(())
    }

    /// Bytes accepted so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Publishes the object under its name and returns its size.
    ///
    /// # Errors
    /// The backend could not publish it; the object is then not stored.
    pub fn commit(mut self) -> Result<u64, BackendError> {
        let mut inner = self.inner.take().ok_or_else(spent)?;
        inner.commit().into_result()
    }

    /// Discards what was written.
    ///
    /// # Errors
    /// The backend could not clean up after itself (e.g. a temporary
    /// object it could not remove); the store is still unchanged.
    pub fn abort(mut self) -> Result<(), BackendError> {
        match self.inner.take() {
            Some(mut inner) => inner.abort().into_result(),
            None => Ok(()),
        }
    }
}

impl io::Write for StreamWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send(buf).map_err(io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for StreamWriter {
    fn drop(&mut self) {
        if let Some(mut inner) = self.inner.take() {
            if let Err(e) = inner.abort().into_result() {
                log::warn!("aborting an unfinished stream: {e}");
            }
        }
    }
}

/// One object being read.
pub struct StreamReader {
    inner: ReaderObject,
}

impl StreamReader {
    /// The object's size when the backend knows it up front.
    pub fn size(&self) -> Option<u64> {
        self.inner.size().into_option()
    }

    /// Fills the start of `buf`, with the backend's typed error; 0 means
    /// the end of the object.
    ///
    /// # Errors
    /// The backend failed to read.
    pub fn receive(&mut self, buf: &mut [u8]) -> Result<usize, BackendError> {
        let n = self
            .inner
            .read(RSliceMut::from_mut_slice(buf))
            .into_result()?;
        // A plugin may not claim more than it was given room for.
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= buf.len())
            .ok_or_else(|| {
                BackendError::generic(format!(
                    "the backend claims to have read {n} bytes into a buffer of {}",
                    buf.len()
                ))
            })
    }
}

impl io::Read for StreamReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.receive(buf).map_err(io::Error::other)
    }
}

/// The typed error behind an `io::Error` from a [`StreamWriter`] or
/// [`StreamReader`], or `err` mapped by its errno (an error from the other
/// side of a copy, e.g. reading standard input) with `context`.
pub fn backend_error(err: io::Error, context: &str) -> BackendError {
    match err.get_ref().and_then(|e| e.downcast_ref::<BackendError>()) {
        Some(e) => e.clone(),
        None => BackendError::from_io(&err, context),
    }
}

fn spent() -> BackendError {
    BackendError::generic("the stream writer was already committed or aborted")
}
