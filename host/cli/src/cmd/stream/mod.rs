//! Objects from standard input and to standard output: through the
//! backend's `stowage.stream/1` extension when it offers one (memory and
//! disk stay bounded whatever the stream's length), else through a private
//! spool file, since plugins otherwise take local paths. A backend whose
//! writer (or reader) answers "unsupported" is spooled for that direction.

pub mod stdin;
pub mod stdout;

use stowage::{Backend, Error};
use stowage_backend_api::BackendError;
use stowage_stream_ext::Stream;

/// Bytes moved per call into or out of a stream: memory stays at this,
/// whatever the object's size.
const CHUNK: usize = 1 << 20;

/// The backend's stream extension, `None` when it does not offer one (or
/// offers one this host cannot use, which is logged).
fn stream_of(backend: &Backend) -> Option<Stream> {
    match Stream::lookup(|id| backend.extension_as(id)) {
        Ok(stream) => stream,
        Err(e) => {
            log::warn!(
                "{}: unusable {}: {e}",
                backend.url(),
                stowage_stream_ext::ID
            );
            None
        }
    }
}

/// A stream operation's failure as the host's error (one attempt: a
/// stream is never retried).
fn failed(op: &'static str, name: &str, backend: &Backend, source: BackendError) -> Error {
    Error::Backend {
        op,
        name: Some(name.to_owned()),
        url: backend.url(),
        attempts: 1,
        source,
    }
}
