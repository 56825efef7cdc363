//! One side of `check`: a store (a URL) or a local directory of files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use stowage::{validate_name, Backend, Error};

use super::spool::SpoolDir;
use crate::context::Context;
use crate::report::Report;

/// A store or a local directory.
pub enum Side {
    Store(Backend),
    Dir(PathBuf),
}

impl Side {
    /// `text` is a URL when it has `://` (remote names are already
    /// replaced by their URLs), else a local directory.
    pub fn open(ctx: &Context, text: &str) -> Result<Self, Error> {
        if text.contains("://") {
            return ctx.open(text).map(Side::Store);
        }
        let dir = PathBuf::from(text);
        let meta = std::fs::metadata(&dir).map_err(|source| Error::Local {
            path: dir.clone(),
            source,
        })?;
        if !meta.is_dir() {
            return Err(Error::InvalidInput(format!(
                "{}: not a directory (a store needs a URL: scheme://...)",
                dir.display()
            )));
        }
        Ok(Side::Dir(dir))
    }

    /// Every object and its size. In a directory, the objects are its
    /// regular files (links followed); other entries, and file names that
    /// are not valid object names, are left out (logged).
    pub fn list(&self) -> Result<BTreeMap<String, u64>, Error> {
        match self {
            Side::Store(b) => Ok(b.list()?.into_iter().collect()),
            Side::Dir(dir) => {
                let local = |source| Error::Local {
                    path: dir.clone(),
                    source,
                };
                let mut found = BTreeMap::new();
                for entry in std::fs::read_dir(dir).map_err(local)? {
                    let entry = entry.map_err(local)?;
                    let path = entry.path();
                    let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                        log::info!("{}: not a UTF-8 name, left out", path.display());
                        continue;
                    };
                    match std::fs::metadata(&path) {
                        Ok(m) if m.is_file() && validate_name(&name).is_ok() => {
                            found.insert(name, m.len());
                        }
                        _ => log::info!("{}: not an object, left out", path.display()),
                    }
                }
                Ok(found)
            }
        }
    }

    /// The SHA-256 (hex) of object `name`, reading it once: a store's
    /// object through spool file `index`, removed afterwards.
    pub fn sha256(&self, name: &str, spool: &SpoolDir, index: usize) -> Result<String, Error> {
        match self {
            Side::Dir(dir) => hash_file(&dir.join(name)),
            Side::Store(b) => spool.through(index, |file| {
                b.get(name, file).and_then(|_| hash_file(file))
            }),
        }
    }

    /// Ends a store's session (its errors are the command's).
    pub fn close(&self, report: &mut Report) {
        if let Side::Store(b) = self {
            report.close(b);
        }
    }
}

fn hash_file(path: &Path) -> Result<String, Error> {
    let local = |source| Error::Local {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(local)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(local)?;
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}
