//! The child's half of `stowage.stream/1`: the writers and readers the
//! host opened, kept here by number between its calls.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use stowage_backend_api::{BackendError, BackendHandle};
use stowage_stream_ext::{Stream, StreamReader, StreamWriter};

use crate::protocol::{Answer, ExtCall};

enum Open {
    Writer(StreamWriter),
    Reader(StreamReader),
}

/// The open streams. Dropping them (the host went away) aborts every
/// writer that was not committed.
#[derive(Default)]
pub(crate) struct Streams {
    next: AtomicU64,
    open: Mutex<HashMap<u64, Open>>,
}

/// The backend's `stowage.stream/1`, or why there is none.
pub(crate) fn stream_of(backend: &BackendHandle) -> Result<Option<Stream>, BackendError> {
    Stream::lookup(|id| backend.extension_as(id)).map_err(|e| BackendError::generic(e.to_string()))
}

impl Streams {
    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Open>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn add(&self, open: Open) -> u64 {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        self.table().insert(n, open);
        n
    }

    /// Takes stream `n` out while one call uses it (the host makes one
    /// call at a time on a stream; a second one finds it missing).
    fn take(&self, n: u64) -> Result<Open, BackendError> {
        self.table()
            .remove(&n)
            .ok_or_else(|| BackendError::generic(format!("no open stream {n}")))
    }

    fn writer(&self, n: u64) -> Result<StreamWriter, BackendError> {
        match self.take(n)? {
            Open::Writer(w) => Ok(w),
            other => {
                self.table().insert(n, other);
                Err(BackendError::generic(format!("stream {n} is no writer")))
            }
        }
    }

    fn reader(&self, n: u64) -> Result<StreamReader, BackendError> {
        match self.take(n)? {
            Open::Reader(r) => Ok(r),
            other => {
                self.table().insert(n, other);
                Err(BackendError::generic(format!("stream {n} is no reader")))
            }
        }
    }

    /// Runs a stream call on `backend`.
    pub(crate) fn serve(
        &self,
        backend: &BackendHandle,
        call: ExtCall,
    ) -> Result<Answer, BackendError> {
        let stream =
            || stream_of(backend)?.ok_or_else(|| BackendError::unsupported(stowage_stream_ext::ID));
        match call {
            ExtCall::StreamOpenWriter { name } => {
                let writer = stream()?.writer(&name)?;
                Ok(Answer::Stream {
                    stream: self.add(Open::Writer(writer)),
                    size: None,
                })
            }
            ExtCall::StreamWrite { stream, chunk } => {
                let mut writer = self.writer(stream)?;
                let sent = writer.send(&chunk);
                self.table().insert(stream, Open::Writer(writer));
                sent.map(|()| Answer::Done)
            }
            ExtCall::StreamCommit { stream } => {
                self.writer(stream)?.commit().map(Answer::Committed)
            }
            ExtCall::StreamAbort { stream } => self.writer(stream)?.abort().map(|()| Answer::Done),
            ExtCall::StreamOpenReader { name } => {
                let reader = stream()?.reader(&name)?;
                let size = reader.size();
                Ok(Answer::Stream {
                    stream: self.add(Open::Reader(reader)),
                    size,
                })
            }
            ExtCall::StreamRead { stream, max } => {
                let mut reader = self.reader(stream)?;
                let mut buf = vec![0u8; usize::try_from(max).unwrap_or(usize::MAX).min(CHUNK_MAX)];
                let read = reader.receive(&mut buf);
                self.table().insert(stream, Open::Reader(reader));
                let n = read?;
                buf.truncate(n);
                Ok(Answer::Chunk(buf))
            }
            ExtCall::StreamCloseReader { stream } => {
                drop(self.reader(stream)?);
                Ok(Answer::Done)
            }
            other => Err(BackendError::generic(format!(
                "not a stream call: {other:?}"
            ))),
        }
    }
}

/// The largest chunk one frame carries: bigger writes and reads are split
/// (a frame may hold at most [`crate::frame::MAX_FRAME`] bytes).
pub const CHUNK_MAX: usize = 4 << 20;
