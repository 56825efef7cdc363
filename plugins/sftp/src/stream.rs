//! `stowage.stream/1` and `stowage.location/1` for the `sftp` backend.
//!
//! A stream writer uploads to a hidden temporary name in the directory,
//! as `put` does, and commit renames it over the object's name (atomic
//! with the `posix-rename@openssh.com` extension), after checking that the
//! server holds every byte sent. Each chunk goes out as pipelined write
//! requests; memory stays at one chunk. Abort, or a writer dropped
//! unfinished, closes and removes the temporary file; a connection lost
//! meanwhile leaves it for the sweep of stale temporaries at a later close.
//!
//! The extensions share the store's connection.

use std::sync::Arc;

use futures::future::try_join_all;
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::{FileAttributes, OpenFlags};
use stowage_backend_api::{BackendError, ErrorCode, Extension, Result};
use stowage_location_ext::LocationService;
use stowage_net_common::{block_on, temp_name};
use stowage_stream_ext::{StreamRead, StreamService, StreamWrite};

use crate::connection::Connection;
use crate::store::{is_missing, SftpStore};
use crate::transfer::read_range;

/// The extension `id` on `store`'s connection.
pub fn extension(id: &str, store: &SftpStore) -> Option<Extension> {
    match id {
        stowage_stream_ext::ID => Some(stowage_stream_ext::serve(SftpStream(Arc::new(
            store.sibling(),
        )))),
        stowage_location_ext::ID => Some(stowage_location_ext::serve(SftpStream(Arc::new(
            store.sibling(),
        )))),
        _ => None,
    }
}

struct SftpStream(Arc<SftpStore>);

impl StreamService for SftpStream {
    type Writer = SftpWriter;
    type Reader = SftpReader;

    fn open_writer(&self, name: &str) -> Result<SftpWriter> {
        block_on(self.open_writer_async(name))?
    }

    fn open_reader(&self, name: &str) -> Result<SftpReader> {
        block_on(self.open_reader_async(name))?
    }
}

async fn create(conn: &Connection, path: &str) -> Result<String, SftpError> {
    conn.sftp
        .open(
            path,
            OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE,
            FileAttributes::default(),
        )
        .await
        .map(|h| h.handle)
}

impl SftpStream {
    async fn open_writer_async(&self, name: &str) -> Result<SftpWriter> {
        let store = &self.0;
        let target = store.object_path(name)?;
        let conn = store.connection().await?;
        let temp = store.cfg().path_of(&temp_name(name));
        let handle = match create(&conn, &temp).await {
            Err(e) if is_missing(&e) => {
                // The directory does not exist yet: the first write creates it.
                store.make_dir(&conn).await?;
                create(&conn, &temp).await
            }
            other => other,
        }
        .map_err(|e| store.failed(&conn, &e, format_args!("creating {temp}")))?;
        Ok(SftpWriter {
            store: Arc::clone(store),
            conn,
            handle: Some(handle),
            temp,
            target,
            written: 0,
        })
    }

    async fn open_reader_async(&self, name: &str) -> Result<SftpReader> {
        let store = &self.0;
        let path = store.object_path(name)?;
        let conn = store.connection().await?;
        let handle = conn
            .sftp
            .open(path.as_str(), OpenFlags::READ, FileAttributes::default())
            .await
            .map_err(|e| store.failed(&conn, &e, format_args!("opening {path}")))?
            .handle;
        let attrs = match conn.sftp.fstat(handle.as_str()).await {
            Ok(a) => a.attrs,
            Err(e) => {
                let _ = conn.sftp.close(handle.as_str()).await;
                return Err(store.failed(&conn, &e, format_args!("reading the size of {path}")));
            }
        };
        if attrs.is_dir() {
            let _ = conn.sftp.close(handle.as_str()).await;
            return Err(BackendError::not_found(format!(
                "{path}: a directory, not an object"
            )));
        }
        Ok(SftpReader {
            store: Arc::clone(store),
            conn,
            handle: Some(handle),
            path,
            size: attrs.size.unwrap_or(0),
            done: 0,
        })
    }
}

impl LocationService for SftpStream {
    fn exists(&self) -> Result<bool> {
        block_on(async {
            let store = &self.0;
            let conn = store.connection().await?;
            let dir = store.cfg().dir_path();
            match conn.sftp.stat(dir).await {
                Ok(a) => Ok(a.attrs.is_dir()),
                Err(e) if is_missing(&e) => Ok(false),
                Err(e) => Err(store.failed(&conn, &e, format_args!("looking up {dir}"))),
            }
        })?
    }
}

/// Invariant: `handle` is `Some` while the temporary file is open.
pub struct SftpWriter {
    store: Arc<SftpStore>,
    conn: Arc<Connection>,
    handle: Option<String>,
    temp: String,
    target: String,
    written: u64,
}

impl SftpWriter {
    async fn write_async(&mut self, chunk: &[u8]) -> Result<()> {
        let handle = self
            .handle
            .as_deref()
            .ok_or_else(|| BackendError::generic("the stream writer is spent"))?;
        let piece = self.conn.write_len.max(1) as usize;
        let conn = &self.conn;
        let start = self.written;
        let writes = chunk.chunks(piece).enumerate().map(|(i, data)| {
            let offset = start + (i * piece) as u64;
            conn.sftp.write(handle, offset, data.to_vec())
        });
        try_join_all(writes).await.map_err(|e| {
            self.store
                .failed(conn, &e, format_args!("writing {}", self.temp))
        })?;
        self.written += chunk.len() as u64;
        Ok(())
    }

    async fn commit_async(&mut self) -> Result<u64> {
        let handle = self
            .handle
            .take()
            .ok_or_else(|| BackendError::generic("the stream writer is spent"))?;
        let (conn, store, temp) = (&self.conn, &self.store, self.temp.as_str());
        conn.sftp
            .close(handle.as_str())
            .await
            .map_err(|e| store.failed(conn, &e, format_args!("closing {temp}")))?;
        let stored = conn
            .sftp
            .lstat(temp)
            .await
            .map_err(|e| store.failed(conn, &e, format_args!("checking {temp}")))?
            .attrs
            .size;
        if stored != Some(self.written) {
            return Err(BackendError::new(
                ErrorCode::VALIDATION_FAILED,
                format!(
                    "{temp}: the server stored {stored:?} bytes of {}",
                    self.written
                ),
            ));
        }
        store.rename_over(conn, temp, &self.target).await?;
        // Renamed: nothing left to remove.
        self.temp.clear();
        Ok(self.written)
    }

    /// Closes the handle if open and removes the temporary file.
    async fn discard(&mut self) {
        if let Some(handle) = self.handle.take() {
            let _ = self.conn.sftp.close(handle.as_str()).await;
        }
        if !self.temp.is_empty() && !self.conn.is_closed() {
            if let Err(e) = self.conn.sftp.remove(self.temp.as_str()).await {
                log::debug!("sftp: cannot remove {}: {e}", self.temp);
            }
            self.temp.clear();
        }
    }
}

impl StreamWrite for SftpWriter {
    fn write(&mut self, chunk: &[u8]) -> Result<()> {
        block_on(self.write_async(chunk))?
    }

    fn commit(&mut self) -> Result<u64> {
        let result = block_on(self.commit_async())?;
        if result.is_err() {
            block_on(self.discard())?;
        }
        result
    }

    fn abort(&mut self) -> Result<()> {
        block_on(self.discard())
    }
}

/// One object being read.
pub struct SftpReader {
    store: Arc<SftpStore>,
    conn: Arc<Connection>,
    handle: Option<String>,
    path: String,
    size: u64,
    done: u64,
}

impl SftpReader {
    async fn read_async(&mut self, buf: &mut [u8]) -> Result<usize> {
        let Some(handle) = self.handle.as_deref() else {
            return Ok(0);
        };
        let want = (buf.len() as u64).min(self.size - self.done) as usize;
        if want == 0 {
            return Ok(0);
        }
        let piece = self.conn.read_len.max(1) as usize;
        let conn = &self.conn;
        let start = self.done;
        let reads = (0..want).step_by(piece).map(|at| {
            let len = piece.min(want - at) as u64;
            read_range(conn, handle, start + at as u64, len)
        });
        let pieces = try_join_all(reads).await.map_err(|e| {
            self.store
                .failed(conn, &e, format_args!("reading {}", self.path))
        })?;
        let mut at = 0;
        for (_, data) in pieces {
            buf[at..at + data.len()].copy_from_slice(&data);
            at += data.len();
        }
        self.done += at as u64;
        Ok(at)
    }
}

impl StreamRead for SftpReader {
    fn size(&self) -> Option<u64> {
        Some(self.size)
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        block_on(self.read_async(buf))?
    }
}

impl Drop for SftpReader {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            let conn = Arc::clone(&self.conn);
            let _ = block_on(async move {
                let _ = conn.sftp.close(handle.as_str()).await;
            });
        }
    }
}
