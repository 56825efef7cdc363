//! The private spool directory objects pass through between two stores:
//! mode 0700 in `$TMPDIR`, removed when dropped (return, error, panic) and
//! when the process is interrupted (SIGINT, SIGTERM, SIGHUP): those signals
//! are blocked in every thread and waited for by one, which removes the
//! directory before exiting with 128 + the signal.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use stowage::Error;

/// A private temporary directory.
///
/// Invariant: while it exists, its path is registered with the signal
/// waiter, which removes it on an interrupting signal.
pub struct SpoolDir {
    dir: Option<tempfile::TempDir>,
    registered: Arc<Mutex<Option<PathBuf>>>,
}

fn interrupting() -> SigSet {
    let mut set = SigSet::empty();
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(sig);
    }
    set
}

impl SpoolDir {
    /// Creates the directory. Call it before starting worker threads: they
    /// inherit the blocked signals.
    pub fn new() -> Result<Self, Error> {
        let dir = tempfile::Builder::new()
            .prefix("stowage-spool-")
            .tempdir()
            .map_err(|source| Error::Local {
                path: std::env::temp_dir(),
                source,
            })?;
        let registered = Arc::new(Mutex::new(Some(dir.path().to_path_buf())));
        let set = interrupting();
        match nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None) {
            Ok(()) => {
                let waiting = Arc::clone(&registered);
                std::thread::spawn(move || wait_and_clean(&set, &waiting));
            }
            Err(e) => log::warn!(
                "cannot block signals; an interrupted run may leave {}: {e}",
                dir.path().display()
            ),
        }
        Ok(Self {
            dir: Some(dir),
            registered,
        })
    }

    /// `<dir>/<index>`: the spool file of the `index`th object (objects are
    /// named by position, never by their names).
    pub fn file(&self, index: usize) -> PathBuf {
        self.path().join(format!("{index}"))
    }

    /// Runs `f` on spool file `index` (see [`SpoolDir::file`]) and removes
    /// the file afterwards, whatever `f` did with it.
    pub fn through<T>(&self, index: usize, f: impl FnOnce(&Path) -> T) -> T {
        let file = self.file(index);
        let result = f(&file);
        if let Err(e) = std::fs::remove_file(&file) {
            if e.kind() != std::io::ErrorKind::NotFound {
                log::warn!("cannot remove the spool file {}: {e}", file.display());
            }
        }
        result
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir
            .as_ref()
            .map_or(Path::new("/nonexistent"), |d| d.path())
    }
}

fn wait_and_clean(set: &SigSet, registered: &Mutex<Option<PathBuf>>) {
    let Ok(sig) = set.wait() else { return };
    let path = registered.lock().ok().and_then(|mut p| p.take());
    if let Some(path) = path {
        let _ = std::fs::remove_dir_all(&path);
    }
    eprintln!("stowage: interrupted by {sig}");
    std::process::exit(128 + sig as i32);
}

impl Drop for SpoolDir {
    fn drop(&mut self) {
        // Unregister first, so the waiter never removes a directory of the
        // same name made later by someone else.
        if let Ok(mut p) = self.registered.lock() {
            p.take();
        }
        if let Some(dir) = self.dir.take() {
            let path = dir.path().to_path_buf();
            if let Err(e) = dir.close() {
                log::warn!("cannot remove the spool directory {}: {e}", path.display());
            }
        }
    }
}
