//! Reading one object, for `get` and for the stream reader alike.
//!
//! One signed request asks for the object's first `chunk` bytes and brings
//! its size, ETag and `stowage-crc32c` metadata with them, so an object no
//! larger than a chunk costs one round trip (OpenDAL would stat it first:
//! two). The rest of a bigger object is read by OpenDAL, `chunk` ×
//! `concurrency` bytes ahead, of that same version (`If-Match` on the
//! ETag, so a replacement in between fails the read as transient instead
//! of mixing versions). Without the signed client, or for an empty object
//! (a range of nothing is refused), the object is stat'ed and read by
//! OpenDAL alone. At the end a check that every byte arrived and that the
//! CRC-32C matches the `stowage-crc32c` metadata when the object carries
//! it.

use std::sync::Arc;

use bytes::Bytes;
use crc_fast::{CrcAlgorithm, Digest};
use futures::stream::{self, BoxStream, StreamExt};
use http::{header, Method, StatusCode};
use opendal::Operator;
use stowage_backend_api::{BackendError, ErrorCode, Result};

use crate::errors::{http_error, s3_error};
use crate::signed::Signed;

/// The user metadata key holding an object's CRC-32C (8 hex digits),
/// written by every put and checked by every get.
pub(crate) const CHECKSUM_KEY: &str = "stowage-crc32c";

/// An object's bytes, in order.
pub(crate) type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// An object opened for reading.
pub(crate) struct ObjectRead {
    /// Its bytes, in order.
    pub stream: ByteStream,
    /// Fed every chunk of `stream`; says at the end whether the read holds.
    pub check: EndCheck,
}

/// How one store reads objects (see the module doc).
#[derive(Clone)]
pub(crate) struct Reading {
    pub op: Operator,
    /// `None`: the client could not be set up; OpenDAL reads alone.
    pub signed: Option<Arc<Signed>>,
    pub chunk: usize,
    pub concurrency: usize,
}

/// The start of an object, from one ranged GET.
struct First {
    body: Bytes,
    size: u64,
    etag: Option<String>,
    crc: Option<String>,
}

impl Reading {
    /// Opens object `name` for reading.
    pub async fn open(&self, name: &str) -> Result<ObjectRead> {
        let what = format!("get {name}");
        if let Some(signed) = &self.signed {
            if let Some(first) = self.first(signed, name, &what).await? {
                return self.after_first(name, first, what).await;
            }
        }
        let meta = self.op.stat(name).await.map_err(|e| s3_error(&e, &what))?;
        let expected_crc = meta
            .user_metadata()
            .and_then(|m| m.get(CHECKSUM_KEY).map(str::to_string));
        let size = meta.content_length();
        let stream = self.rest(name, meta.etag(), 0, size, &what).await?;
        Ok(ObjectRead {
            stream,
            check: EndCheck::new(size, expected_crc, what),
        })
    }

    /// Asks for the first chunk of `name`; `None` when the answer cannot
    /// be used that way (an empty object, a server that ignored the range
    /// of a big one): the caller then stats the object.
    async fn first(&self, signed: &Signed, name: &str, what: &str) -> Result<Option<First>> {
        let url = signed.key_url(&signed.key(name), "");
        let range = format!("bytes=0-{}", self.chunk.saturating_sub(1));
        let response = signed
            .send(Method::GET, &url, &[("range", &range)])
            .await
            .map_err(|e| BackendError::transient(format!("{what}: {e}")))?;
        let status = response.status();
        if status == StatusCode::RANGE_NOT_SATISFIABLE {
            return Ok(None);
        }
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(http_error(status, &body, what));
        }
        let text = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let size = match status {
            StatusCode::PARTIAL_CONTENT => text(header::CONTENT_RANGE.as_str())
                .and_then(|range| range.rsplit_once('/').and_then(|(_, t)| t.parse().ok())),
            // The whole object, range ignored: only worth reading here
            // when it is small.
            _ => response
                .content_length()
                .filter(|&len| len <= self.chunk as u64),
        };
        let Some(size) = size else {
            return Ok(None);
        };
        let etag = text(header::ETAG.as_str());
        let crc = text(&format!("x-amz-meta-{CHECKSUM_KEY}"));
        let body = response
            .bytes()
            .await
            .map_err(|e| BackendError::transient(format!("{what}: {e}")))?;
        Ok(Some(First {
            body,
            size,
            etag,
            crc,
        }))
    }

    /// The object whose first chunk is `first`: that chunk, then the rest
    /// of the same version.
    async fn after_first(&self, name: &str, first: First, what: String) -> Result<ObjectRead> {
        let First {
            body,
            size,
            etag,
            crc,
        } = first;
        let have = body.len() as u64;
        let head = stream::once(async move { Ok(body) });
        let stream: ByteStream = if have < size {
            let rest = self.rest(name, etag.as_deref(), have, size, &what).await?;
            head.chain(rest).boxed()
        } else {
            head.boxed()
        };
        Ok(ObjectRead {
            stream,
            check: EndCheck::new(size, crc, what),
        })
    }

    /// Bytes `from..to` of `name`, of version `etag` when known.
    async fn rest(
        &self,
        name: &str,
        etag: Option<&str>,
        from: u64,
        to: u64,
        what: &str,
    ) -> Result<ByteStream> {
        let mut reader = self
            .op
            .reader_with(name)
            .chunk(self.chunk)
            .concurrent(self.concurrency);
        if let Some(etag) = etag {
            reader = reader.if_match(etag);
        }
        let reader = reader.await.map_err(|e| s3_error(&e, what))?;
        let stream = reader
            .into_bytes_stream(from..to)
            .await
            .map_err(|e| s3_error(&e, what))?;
        Ok(stream.boxed())
    }
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
    /// Expects `size` bytes whose CRC-32C is `expected_crc` (8 hex
    /// digits) when given.
    fn new(size: u64, expected_crc: Option<String>, what: String) -> Self {
        Self {
            size,
            done: 0,
            digest: Digest::new(CrcAlgorithm::Crc32Iscsi),
            expected_crc,
            what,
        }
    }

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
