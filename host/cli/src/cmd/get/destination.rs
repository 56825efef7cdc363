//! Where `get` writes an object, and how.
//!
//! A destination that exists and is not a regular file or a directory (a
//! symlink, a FIFO, a device such as `/dev/stdout`) is written through:
//! opened for writing, never replaced. Plugins fetch into a path they may
//! rename over, so for such destinations the object is fetched into a
//! private temporary directory first and copied from there.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use stowage::Error;

/// What `-o` says, checked once for the whole command.
#[derive(Debug)]
pub enum Output {
    /// No `-o`: each object into the current directory under its name.
    CurrentDir,
    /// `-o -`: the object's bytes on standard output.
    Stdout,
    /// `-o DIR` for an existing directory: `DIR/NAME` for each name.
    Dir(PathBuf),
    /// `-o PATH`, one name, PATH not a directory.
    Path(PathBuf),
}

impl Output {
    /// Checks `-o` against the names: several names (or patterns) need an
    /// existing directory (one error, not one per name), and `-` takes
    /// one name.
    pub fn new(output: Option<&Path>, several: bool) -> Result<Self, Error> {
        let Some(path) = output else {
            return Ok(Self::CurrentDir);
        };
        if path.as_os_str() == "-" {
            if several {
                return Err(Error::InvalidInput(
                    "-o - writes one object to standard output; give exactly one NAME and no --glob"
                        .into(),
                ));
            }
            return Ok(Self::Stdout);
        }
        // A symlink to a directory is a directory here, as it always was.
        if path.is_dir() {
            return Ok(Self::Dir(path.to_path_buf()));
        }
        if several {
            let why = match path.symlink_metadata() {
                Err(e) if e.kind() == io::ErrorKind::NotFound => "does not exist",
                _ => "is not a directory",
            };
            return Err(Error::InvalidInput(format!(
                "-o {}: {why}; several names need an existing directory",
                path.display()
            )));
        }
        Ok(Self::Path(path.to_path_buf()))
    }

    /// The path `name` goes to (`None` for standard output).
    pub fn path_for(&self, name: &str) -> Option<PathBuf> {
        match self {
            Self::CurrentDir => Some(PathBuf::from(name)),
            Self::Stdout => None,
            Self::Dir(dir) => Some(dir.join(name)),
            Self::Path(path) => Some(path.clone()),
        }
    }
}

/// How to deliver to one destination path.
pub enum Delivery {
    /// Missing or a regular file: the plugin fetches into it directly.
    Direct,
    /// Something to write through; the object is copied into it.
    WriteThrough,
}

/// Decides how to deliver to `path` from what is there now (not
/// following a final symlink).
pub fn delivery(path: &Path) -> Delivery {
    match path.symlink_metadata() {
        Ok(m) if !m.file_type().is_file() && !m.file_type().is_dir() => Delivery::WriteThrough,
        _ => Delivery::Direct,
    }
}

/// Opens an existing destination for writing, following a symlink but
/// never creating the file it points to (a dangling link is an error).
pub fn open_existing(path: &Path) -> Result<File, Error> {
    OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::InvalidInput(format!(
                "{}: a symlink to nothing; not writing through it",
                path.display()
            )),
            _ => Error::Local {
                path: path.to_path_buf(),
                source: e,
            },
        })
}

/// A private (0700) temporary directory in `$TMPDIR` and the path inside
/// it that a plugin fetches into; removed when dropped.
pub struct Spool {
    dir: tempfile::TempDir,
}

impl Spool {
    /// Creates the directory.
    pub fn new() -> Result<Self, Error> {
        let dir = tempfile::Builder::new()
            .prefix(".stowage-get-")
            .tempdir()
            .map_err(|source| Error::Local {
                path: std::env::temp_dir(),
                source,
            })?;
        Ok(Self { dir })
    }

    /// Where the plugin fetches to.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("object")
    }

    /// Copies the fetched object into `out`; returns the bytes copied.
    pub fn copy_into(&self, out: &mut impl io::Write, out_name: &Path) -> Result<u64, Error> {
        let path = self.path();
        let mut file = File::open(&path).map_err(|source| Error::Local {
            path: path.clone(),
            source,
        })?;
        let copied = io::copy(&mut file, out).map_err(|source| Error::Local {
            path: out_name.to_path_buf(),
            source,
        })?;
        out.flush().map_err(|source| Error::Local {
            path: out_name.to_path_buf(),
            source,
        })?;
        Ok(copied)
    }
}
