//! `stowage.stream/1` and `stowage.location/1` of an isolated backend, the
//! host's half.
//!
//! Each chunk crosses as one request frame and is acknowledged, so the
//! plugin's error for a chunk is the error of that `write`, as in process,
//! and at most one chunk per stream is in flight (memory stays bounded).
//! A stream lives in the child that opened it: when that child dies, the
//! stream fails and stays failed (its bytes are gone; a stream cannot be
//! replayed), and no new child is started for it.

use std::sync::Arc;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{ROption, RResult, RSlice, RSliceMut, RStr};
use stowage_backend_api::BackendError;
use stowage_location_ext::abi::LocationV1;
use stowage_stream_ext::abi::{
    ReaderObject, StreamReaderV1, StreamReaderV1_TO, StreamV1, StreamWriterV1, StreamWriterV1_TO,
    WriterObject,
};

use crate::child_stream::CHUNK_MAX;
use crate::link::Link;
use crate::live::Live;
use crate::protocol::{Answer, ExtCall, Request};
use crate::remote_ops::unexpected;

/// `stowage.stream/1` of a backend in a child.
pub(crate) struct RemoteStream {
    pub(crate) link: Arc<Link>,
}

/// One stream and the child it lives in.
struct Pinned {
    link: Arc<Link>,
    live: Arc<Live>,
    stream: u64,
}

impl Pinned {
    /// Runs `call` in the stream's child. A dead child is final for the
    /// stream: its error is not retryable.
    fn call(&self, call: ExtCall, writes: bool) -> Result<Answer, BackendError> {
        let name = call.name();
        let request = Request::Extension(call);
        self.link
            .request_on(&self.live, name, &request, &[], writes, false)
            .unwrap_or_else(|lost| {
                Err(BackendError::new(
                    lost.code(),
                    format!(
                        "{}; the stream is lost and cannot be replayed",
                        lost.message()
                    ),
                )
                .with_retryable(false))
            })
    }
}

fn open(link: &Arc<Link>, call: ExtCall) -> Result<(Pinned, Option<u64>), BackendError> {
    let live = link.live()?;
    let name = call.name();
    let answer = link
        .request_on(&live, name, &Request::Extension(call), &[], false, false)
        .unwrap_or_else(Err)?;
    match answer {
        Answer::Stream { stream, size } => Ok((
            Pinned {
                link: link.clone(),
                live,
                stream,
            },
            size,
        )),
        other => Err(unexpected(name, &other)),
    }
}

impl StreamV1 for RemoteStream {
    fn open_writer(&self, name: RStr<'_>) -> RResult<WriterObject, BackendError> {
        let call = ExtCall::StreamOpenWriter {
            name: name.to_string(),
        };
        open(&self.link, call)
            .map(|(pinned, _)| {
                StreamWriterV1_TO::from_value(
                    RemoteWriter {
                        pinned,
                        finished: false,
                    },
                    TD_Opaque,
                )
            })
            .into()
    }

    fn open_reader(&self, name: RStr<'_>) -> RResult<ReaderObject, BackendError> {
        let call = ExtCall::StreamOpenReader {
            name: name.to_string(),
        };
        open(&self.link, call)
            .map(|(pinned, size)| {
                StreamReaderV1_TO::from_value(RemoteReader { pinned, size }, TD_Opaque)
            })
            .into()
    }
}

/// Invariant: once `finished`, the child's writer is gone (committed or
/// aborted); dropped before that, it is aborted.
struct RemoteWriter {
    pinned: Pinned,
    finished: bool,
}

impl StreamWriterV1 for RemoteWriter {
    fn write(&mut self, chunk: RSlice<'_, u8>) -> RResult<(), BackendError> {
        for piece in chunk.as_slice().chunks(CHUNK_MAX) {
            let call = ExtCall::StreamWrite {
                stream: self.pinned.stream,
                chunk: piece.to_vec(),
            };
            match self.pinned.call(call, false) {
                Ok(Answer::Done) => {}
                Ok(other) => return RResult::RErr(unexpected("stream write", &other)),
                Err(e) => return RResult::RErr(e),
            }
        }
        RResult::ROk(())
    }

    fn commit(&mut self) -> RResult<u64, BackendError> {
        self.finished = true;
        let call = ExtCall::StreamCommit {
            stream: self.pinned.stream,
        };
        match self.pinned.call(call, true) {
            Ok(Answer::Committed(size)) => RResult::ROk(size),
            Ok(other) => RResult::RErr(unexpected("stream commit", &other)),
            Err(e) => RResult::RErr(e),
        }
    }

    fn abort(&mut self) -> RResult<(), BackendError> {
        if self.finished {
            return RResult::ROk(());
        }
        self.finished = true;
        let call = ExtCall::StreamAbort {
            stream: self.pinned.stream,
        };
        match self.pinned.call(call, false) {
            Ok(_) => RResult::ROk(()),
            Err(e) => RResult::RErr(e),
        }
    }
}

impl Drop for RemoteWriter {
    fn drop(&mut self) {
        if let RResult::RErr(e) = self.abort() {
            log::debug!("aborting a dropped stream writer: {e}");
        }
    }
}

struct RemoteReader {
    pinned: Pinned,
    size: Option<u64>,
}

impl StreamReaderV1 for RemoteReader {
    fn size(&self) -> ROption<u64> {
        self.size.into()
    }

    fn read(&mut self, mut buf: RSliceMut<'_, u8>) -> RResult<u64, BackendError> {
        let buf = buf.as_mut_slice();
        let call = ExtCall::StreamRead {
            stream: self.pinned.stream,
            max: buf.len() as u64,
        };
        match self.pinned.call(call, false) {
            Ok(Answer::Chunk(bytes)) if bytes.len() <= buf.len() => {
                buf[..bytes.len()].copy_from_slice(&bytes);
                RResult::ROk(bytes.len() as u64)
            }
            Ok(other) => RResult::RErr(unexpected("stream read", &other)),
            Err(e) => RResult::RErr(e),
        }
    }
}

impl Drop for RemoteReader {
    fn drop(&mut self) {
        let call = ExtCall::StreamCloseReader {
            stream: self.pinned.stream,
        };
        if let Err(e) = self.pinned.call(call, false) {
            log::debug!("closing a dropped stream reader: {e}");
        }
    }
}

/// `stowage.location/1` of a backend in a child.
pub(crate) struct RemoteLocation {
    pub(crate) link: Arc<Link>,
}

impl LocationV1 for RemoteLocation {
    fn exists(&self) -> RResult<bool, BackendError> {
        match self.link.call_ext(ExtCall::LocationExists) {
            Ok(Answer::Flag(exists)) => RResult::ROk(exists),
            Ok(other) => RResult::RErr(unexpected("location exists", &other)),
            Err(e) => RResult::RErr(e),
        }
    }
}
