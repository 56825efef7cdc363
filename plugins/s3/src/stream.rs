//! `stowage.stream/1` and `stowage.location/1` for the `s3` backend.
//!
//! A stream writer is OpenDAL's multipart [`Writer`] with the URL's
//! `?chunk=` and `?concurrency=`: memory stays at about chunk ×
//! concurrency whatever the stream's length, the object appears whole at
//! commit (CompleteMultipartUpload), and abort (or a writer dropped
//! unfinished) aborts the upload. Unlike `put`, a streamed object carries
//! no `stowage-crc32c` metadata (S3 takes metadata when the upload starts,
//! before the bytes are known); S3 still verifies each part's CRC-32C on
//! upload, and a later get of such an object has no whole-object checksum
//! to verify.
//!
//! A stream reader reads the version it stat'ed (`If-Match` on its ETag),
//! `?chunk=` × `?concurrency=` ahead, and verifies the stored CRC-32C at
//! the end when the object has one, as `get` does.

use futures::TryStreamExt;
use opendal::{Buffer, Writer};
use stowage_backend_api::{BackendError, ErrorCode, Extension, Result};
use stowage_location_ext::LocationService;
use stowage_net_common::block_on;
use stowage_stream_ext::{StreamRead, StreamService, StreamWrite};

use crate::errors::{s3_error, stream_error};
use crate::read::{ByteStream, EndCheck, ObjectRead, Reading};

/// The extension `id` for the store that `reading` reads (its operator,
/// chunk and concurrency serve the writers too).
pub fn extension(id: &str, reading: &Reading) -> Option<Extension> {
    let service = S3Stream {
        reading: reading.clone(),
    };
    match id {
        stowage_stream_ext::ID => Some(stowage_stream_ext::serve(service)),
        stowage_location_ext::ID => Some(stowage_location_ext::serve(service)),
        _ => None,
    }
}

struct S3Stream {
    reading: Reading,
}

impl StreamService for S3Stream {
    type Writer = S3Writer;
    type Reader = S3Reader;

    fn open_writer(&self, name: &str) -> Result<S3Writer> {
        let what = format!("put {name}");
        let writer = block_on(async {
            self.reading
                .op
                .writer_with(name)
                .chunk(self.reading.chunk)
                .concurrent(self.reading.concurrency)
                .await
        })?
        .map_err(|e| s3_error(&e, &what))?;
        Ok(S3Writer {
            writer: Some(writer),
            what,
            written: 0,
        })
    }

    fn open_reader(&self, name: &str) -> Result<S3Reader> {
        let ObjectRead { stream, check } = block_on(self.reading.open(name))??;
        Ok(S3Reader {
            stream,
            pending: bytes::Bytes::new(),
            check,
        })
    }
}

impl LocationService for S3Stream {
    /// The bucket answers a listing. A prefix is no object of its own in
    /// a flat store: it "exists" as soon as the bucket does.
    fn exists(&self) -> Result<bool> {
        let listed = block_on(async {
            let mut lister = self.reading.op.lister_with("/").limit(1).await?;
            lister.try_next().await.map(|_| ())
        })?;
        match listed {
            Ok(()) => Ok(true),
            Err(e) => {
                let e = s3_error(&e, "s3: looking up the bucket");
                if e.code() == ErrorCode::NOT_FOUND {
                    Ok(false)
                } else {
                    Err(e)
                }
            }
        }
    }
}

/// Invariant: `writer` is `Some` until commit or abort.
pub struct S3Writer {
    writer: Option<Writer>,
    what: String,
    written: u64,
}

impl S3Writer {
    fn writer(&mut self) -> Result<&mut Writer> {
        self.writer
            .as_mut()
            .ok_or_else(|| BackendError::generic("the stream writer is spent"))
    }
}

impl StreamWrite for S3Writer {
    fn write(&mut self, chunk: &[u8]) -> Result<()> {
        let what = self.what.clone();
        let writer = self.writer()?;
        block_on(writer.write(Buffer::from(chunk.to_vec())))?.map_err(|e| s3_error(&e, &what))?;
        self.written += chunk.len() as u64;
        Ok(())
    }

    fn commit(&mut self) -> Result<u64> {
        let mut writer = self
            .writer
            .take()
            .ok_or_else(|| BackendError::generic("the stream writer is spent"))?;
        match block_on(writer.close())? {
            Ok(_) => Ok(self.written),
            Err(e) => {
                let err = s3_error(&e, &self.what);
                abort(&self.what, &mut writer);
                Err(err)
            }
        }
    }

    fn abort(&mut self) -> Result<()> {
        if let Some(mut writer) = self.writer.take() {
            abort(&self.what, &mut writer);
        }
        Ok(())
    }
}

/// Aborts the multipart upload so no hidden parts stay billed; when the
/// server is away, a lifecycle rule has to (logged).
fn abort(what: &str, writer: &mut Writer) {
    match block_on(writer.abort()) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => log::warn!(
            "s3: {what}: cannot abort the multipart upload ({e}); a bucket lifecycle rule \
             (AbortIncompleteMultipartUpload) removes it"
        ),
        Err(e) => log::warn!("s3: {what}: {e}"),
    }
}

/// One object being read. Invariant: every chunk taken from `stream` has
/// been shown to `check`.
pub struct S3Reader {
    stream: ByteStream,
    /// Received and not yet handed out.
    pending: bytes::Bytes,
    check: EndCheck,
}

impl StreamRead for S3Reader {
    fn size(&self) -> Option<u64> {
        Some(self.check.size())
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.pending.is_empty() {
            let next = block_on(self.stream.try_next())?
                .map_err(|e| stream_error(&e, self.check.what()))?;
            match next {
                Some(chunk) => {
                    self.check.saw(&chunk);
                    self.pending = chunk;
                }
                None => {
                    self.check.finish()?;
                    return Ok(0);
                }
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending.split_to(n));
        Ok(n)
    }
}
