//! The private spool directory objects pass through between two stores:
//! mode 0700 in `$TMPDIR`, removed when dropped (return, error, panic) and
//! when the process is interrupted (SIGINT, SIGTERM, SIGHUP).
//!
//! [`on_interrupt`] registers one more thing to undo on such a signal (a
//! stream writer to abort, so its temporary object goes too).
//!
//! Interruption is handled with a self-pipe: the signal handler only writes
//! the signal's number to a pipe (async-signal-safe), and a thread reading
//! it removes the directory and exits with 128 + the signal. Signals are
//! not blocked instead, because a blocked mask is inherited across `exec`:
//! the programs plugins run (xorriso) would then ignore an interrupt.

use std::io::Read;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, OnceLock};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use stowage::Error;

/// A private temporary directory.
///
/// Invariant: while it exists, its path is in [`REGISTERED`], which the
/// signal thread removes on an interrupting signal.
pub struct SpoolDir {
    dir: Option<tempfile::TempDir>,
}

/// The spool directory to remove on an interrupting signal.
static REGISTERED: Mutex<Option<PathBuf>> = Mutex::new(None);

/// What else to undo on an interrupting signal (an unfinished stream
/// writer to abort), run before the spool directory is removed.
static ON_INTERRUPT: Mutex<Option<Box<dyn FnOnce() + Send>>> = Mutex::new(None);

/// The write end of the self-pipe, for the handler; -1 before set-up.
static PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(sig: nix::libc::c_int) {
    let fd = PIPE.load(Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: `fd` is the pipe's write end, kept open for the life of
        // the process (leaked below); write(2) is async-signal-safe.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let _ = nix::unistd::write(fd, &[u8::try_from(sig).unwrap_or(u8::MAX)]);
    }
}

/// Installs the handlers and the thread, once per process.
fn watch_signals() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let (mut reader, writer) = match std::io::pipe() {
            Ok(p) => p,
            Err(e) => {
                log::warn!("cannot watch signals; an interrupted run may leave its spool: {e}");
                return;
            }
        };
        PIPE.store(writer.as_raw_fd(), Ordering::SeqCst);
        std::mem::forget(writer);
        std::thread::spawn(move || {
            let mut byte = [0u8; 1];
            if reader.read_exact(&mut byte).is_err() {
                return;
            }
            if let Some(undo) = ON_INTERRUPT.lock().ok().and_then(|mut u| u.take()) {
                undo();
            }
            if let Some(path) = REGISTERED.lock().ok().and_then(|mut p| p.take()) {
                let _ = std::fs::remove_dir_all(&path);
            }
            eprintln!("stowage: interrupted by signal {}", byte[0]);
            std::process::exit(128 + i32::from(byte[0]));
        });
        let action = SigAction::new(
            SigHandler::Handler(on_signal),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
            // SAFETY: the handler only loads an atomic and calls write(2).
            if let Err(e) = unsafe { sigaction(sig, &action) } {
                log::warn!("cannot handle {sig}: {e}");
            }
        }
    });
}

/// Runs `undo` if an interrupting signal ends the process while the
/// returned guard lives (one at a time; a later call replaces it).
pub fn on_interrupt(undo: impl FnOnce() + Send + 'static) -> InterruptGuard {
    if let Ok(mut u) = ON_INTERRUPT.lock() {
        *u = Some(Box::new(undo));
    }
    watch_signals();
    InterruptGuard(())
}

/// Unregisters the `undo` of [`on_interrupt`] when dropped.
pub struct InterruptGuard(());

impl Drop for InterruptGuard {
    fn drop(&mut self) {
        if let Ok(mut u) = ON_INTERRUPT.lock() {
            u.take();
        }
    }
}

impl SpoolDir {
    /// Creates the directory and has it removed on an interrupting signal.
    pub fn new() -> Result<Self, Error> {
        let dir = tempfile::Builder::new()
            .prefix("stowage-spool-")
            .tempdir()
            .map_err(|source| Error::Local {
                path: std::env::temp_dir(),
                source,
            })?;
        if let Ok(mut p) = REGISTERED.lock() {
            *p = Some(dir.path().to_path_buf());
        }
        watch_signals();
        Ok(Self { dir: Some(dir) })
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

impl Drop for SpoolDir {
    fn drop(&mut self) {
        // Unregister first, so the waiter never removes a directory of the
        // same name made later by someone else.
        if let Ok(mut p) = REGISTERED.lock() {
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
