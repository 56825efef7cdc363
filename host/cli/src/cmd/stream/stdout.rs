//! `stowage get URL NAME -o -` through the backend's stream reader: the
//! object's bytes go to standard output as they are read, with no spool
//! file.

use std::io::{self, Write};
use std::path::PathBuf;

use stowage::{Backend, Error};
use stowage_backend_api::BackendError;
use stowage_stream_ext::StreamReader;

use super::{failed, stream_of, CHUNK};

/// Writes object `name` to standard output through the stream reader;
/// `None` when the backend offers none, or a writer only (the caller
/// spools instead). Returns the bytes written.
pub fn fetch(backend: &Backend, name: &str) -> Option<Result<u64, Error>> {
    match stream_of(backend)?.reader(name) {
        Ok(reader) => Some(copy_out(backend, reader, name)),
        Err(e) if e.is_unsupported() => None,
        Err(e) => Some(Err(failed("get", name, backend, e))),
    }
}

fn copy_out(backend: &Backend, mut reader: StreamReader, name: &str) -> Result<u64, Error> {
    let mut out = io::stdout().lock();
    let mut buf = vec![0u8; CHUNK];
    let mut done: u64 = 0;
    let stdout_error = |source| Error::Local {
        path: PathBuf::from("<stdout>"),
        source,
    };
    loop {
        let n = reader
            .receive(&mut buf)
            .map_err(|e| failed("get", name, backend, e))?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n]).map_err(stdout_error)?;
        done += n as u64;
    }
    out.flush().map_err(stdout_error)?;
    if let Some(size) = reader.size().filter(|&size| size != done) {
        return Err(failed(
            "get",
            name,
            backend,
            BackendError::generic(format!(
                "the object has {size} bytes, but the stream ended after {done}"
            )),
        ));
    }
    Ok(done)
}
