//! Pipelined transfers: many read or write requests in flight on one
//! session, as OpenSSH's own client does, so throughput is not bound to one
//! round trip per request.

use std::fs::File;
use std::future::Future;
use std::os::unix::fs::FileExt;
use std::path::Path;

use futures::stream::{FuturesUnordered, StreamExt};
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::{FileAttributes, OpenFlags, StatusCode};
use stowage_backend_api::{BackendError, ErrorCode, Progress, Result};
use stowage_net_common::{LocalTemp, Reporter};

use crate::connection::Connection;

/// Bytes in flight per transfer at most (requests × request size).
const IN_FLIGHT_BYTES: u64 = 8 << 20;

/// A failure of a transfer: either from the session (the caller decides
/// whether the connection survives) or local / a verdict.
pub enum TransferError {
    /// The SFTP session answered with an error, or did not answer.
    Sftp(SftpError, String),
    /// A local I/O failure or a size check.
    Other(BackendError),
}

impl TransferError {
    fn sftp(what: impl Into<String>) -> impl FnOnce(SftpError) -> Self {
        let what = what.into();
        move |e| Self::Sftp(e, what)
    }
}

/// A remote file open on the session: `handle` names it to the server,
/// `path` to the user.
#[derive(Clone, Copy)]
struct OpenFile<'a> {
    conn: &'a Connection,
    handle: &'a str,
    path: &'a str,
}

impl OpenFile<'_> {
    /// What a failed request on this file becomes.
    fn failed(&self, doing: &str) -> impl FnOnce(SftpError) -> TransferError {
        TransferError::sftp(format!("{doing} {}", self.path))
    }
}

fn requests(len: u32) -> usize {
    (IN_FLIGHT_BYTES / u64::from(len.max(1))).max(1) as usize
}

/// Writes `size` bytes of `local` to the remote file `path` (created or
/// truncated), then checks the remote size.
pub async fn upload(
    conn: &Connection,
    local: &File,
    size: u64,
    path: &str,
    progress: &mut Reporter<'_>,
) -> Result<(), TransferError> {
    let handle = conn
        .sftp
        .open(
            path,
            OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE,
            FileAttributes::default(),
        )
        .await
        .map_err(TransferError::sftp(format!("creating {path}")))?
        .handle;
    let remote = OpenFile {
        conn,
        handle: &handle,
        path,
    };
    let written = write_all(remote, local, size, progress).await;
    let closed = conn.sftp.close(handle.as_str()).await;
    written?;
    closed.map_err(TransferError::sftp(format!("closing {path}")))?;
    let stored = conn
        .sftp
        .lstat(path)
        .await
        .map_err(TransferError::sftp(format!("checking {path}")))?
        .attrs
        .size;
    if stored != Some(size) {
        return Err(TransferError::Other(BackendError::new(
            ErrorCode::VALIDATION_FAILED,
            format!("{path}: the server stored {stored:?} bytes of {size}"),
        )));
    }
    Ok(())
}

/// Runs requests over `[0, size)` in `chunk`-byte pieces, at most
/// `limit` at a time: `start(offset, len)` issues one, `finish` consumes
/// its answer and says how many bytes it completed.
async fn pipeline<Fut, T>(
    size: u64,
    chunk: u32,
    mut start: impl FnMut(u64, u64) -> Result<Fut, TransferError>,
    mut finish: impl FnMut(T) -> Result<u64, TransferError>,
    progress: &mut Reporter<'_>,
) -> Result<(), TransferError>
where
    Fut: Future<Output = Result<T, TransferError>>,
{
    let limit = requests(chunk);
    let chunk = u64::from(chunk);
    let mut in_flight = FuturesUnordered::new();
    let (mut offset, mut done) = (0u64, 0u64);
    loop {
        while in_flight.len() < limit && offset < size {
            let len = chunk.min(size - offset);
            in_flight.push(start(offset, len)?);
            offset += len;
        }
        match in_flight.next().await {
            None => return Ok(()),
            Some(answer) => {
                done += finish(answer?)?;
                progress.at(done);
            }
        }
    }
}

async fn write_all(
    remote: OpenFile<'_>,
    local: &File,
    size: u64,
    progress: &mut Reporter<'_>,
) -> Result<(), TransferError> {
    let start = |offset: u64, len: u64| {
        let mut buf = vec![0u8; len as usize];
        local.read_exact_at(&mut buf, offset).map_err(|e| {
            TransferError::Other(BackendError::from_io(
                &e,
                "reading the local file (did it shrink while being stored?)",
            ))
        })?;
        Ok(async move {
            remote
                .conn
                .sftp
                .write(remote.handle, offset, buf)
                .await
                .map(|_| len)
                .map_err(remote.failed("writing"))
        })
    };
    pipeline(size, remote.conn.write_len, start, Ok, progress).await
}

/// Reads the whole remote file `path` into a new [`LocalTemp`] beside
/// `local`, which the caller commits. A missing `path` fails before
/// anything local is created.
pub async fn download(
    conn: &Connection,
    path: &str,
    local: &Path,
    progress: Option<&Progress>,
) -> Result<LocalTemp, TransferError> {
    let handle = conn
        .sftp
        .open(path, OpenFlags::READ, FileAttributes::default())
        .await
        .map_err(TransferError::sftp(format!("opening {path}")))?
        .handle;
    let result = async {
        let attrs = conn
            .sftp
            .fstat(handle.as_str())
            .await
            .map_err(TransferError::sftp(format!("reading the size of {path}")))?
            .attrs;
        if attrs.is_dir() {
            return Err(TransferError::Other(BackendError::not_found(format!(
                "{path}: a directory, not an object"
            ))));
        }
        let size = attrs.size.unwrap_or(0);
        let temp = LocalTemp::create(local).map_err(TransferError::Other)?;
        let mut reporter = Reporter::start(progress, size);
        let remote = OpenFile {
            conn,
            handle: &handle,
            path,
        };
        read_all(remote, temp.file(), size, &mut reporter).await?;
        Ok(temp)
    }
    .await;
    let _ = conn.sftp.close(handle.as_str()).await;
    result
}

async fn read_all(
    remote: OpenFile<'_>,
    local: &File,
    size: u64,
    progress: &mut Reporter<'_>,
) -> Result<(), TransferError> {
    let OpenFile { conn, handle, path } = remote;
    let start = |offset: u64, len: u64| {
        Ok(async move {
            read_range(conn, handle, offset, len)
                .await
                .map_err(remote.failed("reading"))
        })
    };
    let finish = |(at, data): (u64, Vec<u8>)| {
        local.write_all_at(&data, at).map_err(|e| {
            TransferError::Other(BackendError::from_io(&e, "writing the local copy"))
        })?;
        Ok(data.len() as u64)
    };
    pipeline(size, conn.read_len, start, finish, progress).await?;
    // The handle pins the file the server opened, so its size cannot change
    // under us; anything past `size` means the object grew in place.
    match conn.sftp.read(handle, size, 1).await {
        Err(SftpError::Status(s)) if s.status_code == StatusCode::Eof => Ok(()),
        Ok(d) if d.data.is_empty() => Ok(()),
        Ok(_) => Err(TransferError::Other(BackendError::transient(format!(
            "{path} grew while being read"
        )))),
        Err(e) => Err(TransferError::Sftp(e, format!("reading {path}"))),
    }
}

/// Reads `[offset, offset + len)` whole, asking again after short answers.
pub(crate) async fn read_range(
    conn: &Connection,
    handle: &str,
    offset: u64,
    len: u64,
) -> Result<(u64, Vec<u8>), SftpError> {
    let mut data = Vec::with_capacity(len as usize);
    while (data.len() as u64) < len {
        let at = offset + data.len() as u64;
        let want = (len - data.len() as u64) as u32;
        match conn.sftp.read(handle, at, want).await {
            Ok(d) if !d.data.is_empty() => data.extend_from_slice(&d.data),
            Ok(_) => return Err(short(at)),
            Err(SftpError::Status(s)) if s.status_code == StatusCode::Eof => return Err(short(at)),
            Err(e) => return Err(e),
        }
    }
    Ok((offset, data))
}

fn short(at: u64) -> SftpError {
    SftpError::UnexpectedBehavior(format!("the file ended at byte {at}, before its size"))
}
