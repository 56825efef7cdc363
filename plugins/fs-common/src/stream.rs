//! `stowage.stream/1` and `stowage.location/1` for a [`LocalStore`].
//!
//! A stream writer is a put whose source arrives in chunks: the same
//! private temporary file in the store directory (created by descriptor
//! with `O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0666 less the umask), the same
//! rename into place on commit, the same durability rule (`each`: the file
//! and the directory synced before commit returns; `close`: the barrier at
//! close covers it). Abort, or a writer dropped unfinished, removes the
//! temporary file; a writer killed with the process leaves it for the
//! sweep at a later close ([`crate::STALE_TEMPORARY_AGE`]).
//!
//! A reader opens the object relative to the store's directory descriptor
//! with `O_NOFOLLOW`: only the regular files `list` shows are readable (a
//! symlink, FIFO or device planted in the store is refused, and opening a
//! FIFO never blocks).

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use rustix::fs::{fstat, openat, FileType, Mode, OFlags};
use stowage_backend_api::{BackendError, Extension, Result};
use stowage_location_ext::LocationService;
use stowage_stream_ext::{StreamRead, StreamService, StreamWrite};

use crate::atomic::{copy_file_data, open_dir, CopyError};
use crate::descriptor::StoreDescriptor;
use crate::durability::Durability;
use crate::store::{ensure_dir, record_write, LocalStore};
use crate::temp::TempFile;

impl LocalStore {
    /// The store's extensions: `stowage.stream/1`,
    /// `stowage.descriptor/1` and `stowage.location/1`.
    pub fn store_extension(&self, id: &str) -> Option<Extension> {
        let (dir, durability, dirty) = self.stream_parts();
        let stream = StoreStream {
            dir: dir.clone(),
            durability,
            dirty,
        };
        match id {
            stowage_stream_ext::ID => Some(stowage_stream_ext::serve(stream)),
            stowage_descriptor_ext::ID => Some(stowage_descriptor_ext::serve(StoreDescriptor {
                stream,
                progress: self.progress(),
            })),
            stowage_location_ext::ID => Some(stowage_location_ext::serve(StoreLocation { dir })),
            _ => None,
        }
    }
}

pub(crate) struct StoreStream {
    dir: PathBuf,
    durability: Durability,
    dirty: Arc<AtomicBool>,
}

fn local_error(e: &io::Error, what: &str, path: &Path) -> BackendError {
    BackendError::from_io(e, format!("{what} {}", path.display()))
}

impl StoreStream {
    fn store_dir(&self) -> Result<OwnedFd> {
        open_dir(&self.dir).map_err(|e| local_error(&e, "opening", &self.dir))
    }
}

impl StreamService for StoreStream {
    type Writer = StoreWriter;
    type Reader = StoreReader;

    fn open_writer(&self, name: &str) -> Result<StoreWriter> {
        LocalStore::check_name(name)?;
        ensure_dir(&self.dir)?;
        let dir = self.store_dir()?;
        let temp = TempFile::create_in(dir.as_fd(), name.as_bytes(), 0o666)
            .map_err(|e| local_error(&e, "creating a temporary file in", &self.dir))?;
        Ok(StoreWriter {
            temp: Some(temp),
            name: name.to_owned(),
            written: 0,
            dir: self.dir.clone(),
            durability: self.durability,
            dirty: Arc::clone(&self.dirty),
        })
    }

    fn open_reader(&self, name: &str) -> Result<StoreReader> {
        LocalStore::check_name(name)?;
        let path = self.dir.join(name);
        let dir = self.store_dir()?;
        let fd = openat(
            &dir,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| match e {
            rustix::io::Errno::LOOP => not_a_file(&path),
            e => local_error(&e.into(), "reading", &path),
        })?;
        let stat = fstat(&fd).map_err(|e| local_error(&e.into(), "reading", &path))?;
        if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
            return Err(not_a_file(&path));
        }
        Ok(StoreReader {
            file: File::from(fd),
            size: u64::try_from(stat.st_size).unwrap_or(0),
            path,
        })
    }
}

fn not_a_file(path: &Path) -> BackendError {
    BackendError::not_found(format!("{}: not a regular file", path.display()))
}

/// Invariant: `temp` is `Some` until commit or abort.
pub struct StoreWriter {
    temp: Option<TempFile>,
    name: String,
    written: u64,
    dir: PathBuf,
    durability: Durability,
    dirty: Arc<AtomicBool>,
}

impl StoreWriter {
    fn temp(&self) -> Result<&TempFile> {
        self.temp
            .as_ref()
            .ok_or_else(|| BackendError::generic("the stream writer is spent"))
    }

    fn target(&self) -> PathBuf {
        self.dir.join(&self.name)
    }
}

impl StoreWriter {
    /// Appends what `input` holds from its position to its end, copied in
    /// the kernel where the filesystems allow (see [`copy_file_data`]);
    /// `report(done)` hears each step.
    pub(crate) fn copy_from(&mut self, input: &mut File, report: &dyn Fn(u64)) -> Result<()> {
        let copied = copy_file_data(input, self.temp()?.file(), report);
        match copied {
            Ok(n) => {
                self.written += n;
                Ok(())
            }
            Err(CopyError::Source(e)) => Err(BackendError::from_io(&e, "reading the local file")),
            Err(CopyError::Target(e)) => Err(local_error(&e, "storing", &self.target())),
        }
    }
}

impl StreamWrite for StoreWriter {
    fn write(&mut self, chunk: &[u8]) -> Result<()> {
        let mut file = self.temp()?.file();
        file.write_all(chunk)
            .map_err(|e| local_error(&e, "storing", &self.target()))?;
        self.written += chunk.len() as u64;
        Ok(())
    }

    fn commit(&mut self) -> Result<u64> {
        let temp = self.temp.take().ok_or_else(|| {
            BackendError::generic("the stream writer was already committed or aborted")
        })?;
        let target = self.target();
        temp.persist(self.name.as_ref(), self.durability == Durability::Each)
            .map_err(|e| local_error(&e, "storing", &target))?;
        record_write(&self.dir, self.durability, &self.dirty, &target)?;
        Ok(self.written)
    }

    fn abort(&mut self) -> Result<()> {
        // Dropping the temporary file removes it.
        drop(self.temp.take());
        Ok(())
    }
}

/// An object opened for reading.
pub struct StoreReader {
    file: File,
    size: u64,
    path: PathBuf,
}

impl StreamRead for StoreReader {
    fn size(&self) -> Option<u64> {
        Some(self.size)
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        loop {
            match self.file.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other.map_err(|e| local_error(&e, "reading", &self.path)),
            }
        }
    }
}

/// Whether the store's directory exists.
struct StoreLocation {
    dir: PathBuf,
}

impl LocationService for StoreLocation {
    fn exists(&self) -> Result<bool> {
        match std::fs::metadata(&self.dir) {
            Ok(m) => Ok(m.is_dir()),
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    || e.raw_os_error() == Some(libc::ENOTDIR) =>
            {
                Ok(false)
            }
            Err(e) => Err(local_error(&e, "looking up", &self.dir)),
        }
    }
}

#[cfg(test)]
mod tests;
