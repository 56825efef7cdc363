//! Reading one object, for `get` and for the stream reader alike: the
//! version that was stat'ed (`If-Match` on its ETag, so a replacement in
//! between fails the read as transient instead of mixing versions),
//! `chunk` × `concurrency` bytes ahead, and at the end a check that every
//! byte arrived and that the CRC-32C matches the `stowage-crc32c` metadata
//! when the object carries it.

use crc_fast::{CrcAlgorithm, Digest};
use opendal::{FuturesBytesStream, Operator};
use stowage_backend_api::{BackendError, ErrorCode, Result};

use crate::errors::s3_error;

/// The user metadata key holding an object's CRC-32C (8 hex digits),
/// written by every put and checked by every get.
pub(crate) const CHECKSUM_KEY: &str = "stowage-crc32c";

/// An object opened for reading.
pub(crate) struct ObjectRead {
    /// Its bytes, in order.
    pub stream: FuturesBytesStream,
    /// Fed every chunk of `stream`; says at the end whether the read holds.
    pub check: EndCheck,
}

/// Opens object `name` of `op` for reading (see the module doc).
pub(crate) async fn open(
    op: &Operator,
    name: &str,
    chunk: usize,
    concurrency: usize,
) -> Result<ObjectRead> {
    let what = format!("get {name}");
    let meta = op.stat(name).await.map_err(|e| s3_error(&e, &what))?;
    let expected_crc = meta
        .user_metadata()
        .and_then(|m| m.get(CHECKSUM_KEY).map(str::to_string));
    let size = meta.content_length();
    let mut reader = op.reader_with(name).chunk(chunk).concurrent(concurrency);
    if let Some(etag) = meta.etag() {
        reader = reader.if_match(etag);
    }
    let reader = reader.await.map_err(|e| s3_error(&e, &what))?;
    let stream = reader
        .into_bytes_stream(0..size)
        .await
        .map_err(|e| s3_error(&e, &what))?;
    Ok(ObjectRead {
        stream,
        check: EndCheck {
            size,
            done: 0,
            digest: Digest::new(CrcAlgorithm::Crc32Iscsi),
            expected_crc,
            what,
        },
    })
}

/// What a read must have seen by its end. Invariant: `done` counts the
/// bytes given to [`EndCheck::saw`], which are also in `digest`.
pub(crate) struct EndCheck {
    size: u64,
    done: u64,
    digest: Digest,
    expected_crc: Option<String>,
    what: String,
}

impl EndCheck {
    /// The object's size, as stat'ed.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes seen so far.
    pub fn done(&self) -> u64 {
        self.done
    }

    /// What the read is, for messages ("get NAME").
    pub fn what(&self) -> &str {
        &self.what
    }

    /// Counts and hashes the next chunk.
    pub fn saw(&mut self, chunk: &[u8]) {
        self.digest.update(chunk);
        self.done += chunk.len() as u64;
    }

    /// The end of the object: every byte arrived (else transient), and the
    /// checksum holds (else validation failed, 56).
    pub fn finish(&mut self) -> Result<()> {
        if self.done != self.size {
            return Err(BackendError::transient(format!(
                "{}: received {} of {} bytes",
                self.what, self.done, self.size
            )));
        }
        if let Some(expected) = self.expected_crc.take() {
            let got = format!("{:08x}", self.digest.finalize());
            if !expected.eq_ignore_ascii_case(&got) {
                return Err(BackendError::new(
                    ErrorCode::VALIDATION_FAILED,
                    format!(
                        "{}: the content's CRC-32C is {got}, the stored object's {expected}",
                        self.what
                    ),
                ));
            }
        }
        Ok(())
    }
}
