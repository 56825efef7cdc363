//! The temporary scenes the CLI tests share: a `file://` store inside a
//! fresh temporary directory, with room beside it for local files.

use std::path::PathBuf;

use crate::cli::Cli;
use crate::{file_url, ls_entries, tempdir};

/// A `file://` store `<work>/<dir>` inside a temporary directory, and the
/// directory itself for local files beside it (sources, `get` outputs).
pub struct FileStore {
    /// The temporary directory (removed on drop).
    pub work: tempfile::TempDir,
    /// The store's directory, `<work>/<dir>`.
    pub store: PathBuf,
    /// `file://<store>`.
    pub url: String,
}

impl FileStore {
    /// `<work>/<name>`: a local path beside the store, not created.
    pub fn path(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    /// Writes `content` to the local file `<work>/<name>` and returns its
    /// path.
    pub fn local_file(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, content)
            .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        path
    }

    /// Writes `size` bytes of the deterministic test data of `seed` (see
    /// [`crate::files::write_data`]) to the local file `<work>/<name>` and
    /// returns its path.
    pub fn data_file(&self, name: &str, size: u64, seed: u64) -> PathBuf {
        let path = self.path(name);
        crate::files::write_data(&path, size, seed);
        path
    }

    /// Creates the local directory `<work>/<name>` and returns its path.
    pub fn local_dir(&self, name: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
        path
    }
}

/// A [`FileStore`] at `<work>/store`, not created: the plugin creates it
/// on the first put.
pub fn file_store() -> FileStore {
    file_store_at("store")
}

/// A [`FileStore`] at `<work>/<dir>`, not created.
pub fn file_store_at(dir: &str) -> FileStore {
    let work = tempdir();
    let store = work.path().join(dir);
    let url = file_url(&store);
    FileStore { work, store, url }
}

/// A [`FileStore`] at `<work>/store` that exists and already holds
/// `objects` (name, content), written directly, not through the CLI.
pub fn file_store_holding(objects: &[(&str, &[u8])]) -> FileStore {
    let scene = file_store();
    std::fs::create_dir(&scene.store).expect("creating the store directory");
    for (name, content) in objects {
        std::fs::write(scene.store.join(name), content)
            .unwrap_or_else(|e| panic!("writing object {name:?}: {e}"));
    }
    scene
}

/// `ls --json URL` through `cli`, which must succeed, as (name, size)
/// pairs in the order printed.
pub fn listing(cli: &Cli, url: &str) -> Vec<(String, u64)> {
    let (out, doc) = cli.run_json(["ls", url]);
    out.ok();
    ls_entries(&doc)
}
