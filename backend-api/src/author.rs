//! The safe authoring layer: what a plugin author implements.

use std::path::Path;

use abi_stable::std_types::RStr;

use crate::abi::HostObject;
use crate::client::BackendHandle;
use crate::descriptor::Descriptor;
use crate::error::{BackendError, Result};
use crate::ext::progress;
use crate::extension::{Extension, ExtensionRef};

/// A storage backend, written as plain Rust.
///
/// Names reaching these methods are already validated by the host: UTF-8,
/// one flat path component of 1 to 255 bytes, no `/` or NUL, not `.` or `..`.
///
/// The operations follow duplicity's backend contract. The required four are
/// `put`, `get`, `list` and `delete`; every other method has a default that
/// answers [`ErrorCode::UNSUPPORTED`](crate::ErrorCode::UNSUPPORTED), and
/// the host then falls back (`delete_list` → `delete` each, `query_list` →
/// `query` each, `move_in` → `put` and remove the local file; a missing
/// `retry_cleanup` or `close` is simply skipped).
///
/// `Send + Sync` with `&self` methods: the host may call one backend from
/// several threads at once. Serialise inside (a `Mutex`) if the backend
/// cannot work concurrently. A panic in any method is caught and reported
/// as [`ErrorCode::PANIC`](crate::ErrorCode::PANIC); the backend is then
/// poisoned and every later call fails with that code.
pub trait Backend: Send + Sync + 'static {
    /// Stores the local file under `name`, replacing any object of that name
    /// completely. A failed put must leave no partial object under `name`.
    fn put(&self, local: &Path, name: &str) -> Result<()>;

    /// Writes object `name` to `local`, replacing an existing file only once
    /// the new content is complete. A missing name is
    /// [`ErrorCode::NOT_FOUND`](crate::ErrorCode::NOT_FOUND) and creates no
    /// file.
    fn get(&self, name: &str, local: &Path) -> Result<()>;

    /// Every object with its size, each exactly once, in any order. A
    /// location that does not exist yet is empty, not an error.
    fn list(&self) -> Result<Vec<(String, u64)>>;

    /// Removes `name`. A missing name is success or `NOT_FOUND`.
    fn delete(&self, name: &str) -> Result<()>;

    /// Removes each of `names`; missing names are skipped, present ones
    /// removed.
    fn delete_list(&self, names: &[&str]) -> Result<()> {
        let _ = names;
        Err(BackendError::unsupported("delete_list"))
    }

    /// The size of `name`, `None` when it does not exist.
    fn query(&self, name: &str) -> Result<Option<u64>> {
        let _ = name;
        Err(BackendError::unsupported("query"))
    }

    /// [`Backend::query`] for each name, same order and length.
    fn query_list(&self, names: &[&str]) -> Result<Vec<Option<u64>>> {
        let _ = names;
        Err(BackendError::unsupported("query_list"))
    }

    /// Moves `local` into the backend as `name`: on success the local file is
    /// gone, on failure it is untouched.
    fn move_in(&self, local: &Path, name: &str) -> Result<()> {
        let _ = (local, name);
        Err(BackendError::unsupported("move_in"))
    }

    /// Repairs state between two attempts of a failed operation (reconnect,
    /// respawn a helper process).
    fn retry_cleanup(&self) -> Result<()> {
        Err(BackendError::unsupported("retry_cleanup"))
    }

    /// Ends the session: commit, flush, make durable. Called at most once by
    /// the authoring layer (a second close succeeds without reaching here);
    /// called on drop if the host never called it.
    fn close(&self) -> Result<()> {
        Err(BackendError::unsupported("close"))
    }

    /// A backend-level extension by versioned id (e.g. `stowage.peer/1`).
    fn extension(&self, id: &str) -> Option<Extension> {
        let _ = id;
        None
    }
}

/// What [`Plugin::open`] is asked to open.
#[derive(Clone, Copy, Debug)]
pub struct OpenRequest<'a> {
    /// The scheme or prefix the URL selected (lower case).
    pub handler: &'a str,
    /// True when `handler` is a prefix: `url` is then the inner URL, to be
    /// opened with [`Host::open_backend`].
    pub as_prefix: bool,
    /// The URL: complete for a scheme, without the prefix for a prefix.
    pub url: &'a str,
}

/// A plugin: a descriptor and a factory of backends.
///
/// Export it with [`export_plugin!`](crate::export_plugin). Every method runs
/// under `catch_unwind`.
pub trait Plugin: 'static {
    /// Who the plugin is and which schemes and prefixes it opens.
    fn descriptor() -> Descriptor;

    /// Opens a backend for `request`. Validate the URL here and answer
    /// [`ErrorCode::INVALID_INPUT`](crate::ErrorCode::INVALID_INPUT) naming
    /// what is wrong; cheap checks only, since a location that does not
    /// exist yet must still open (it is created on first put).
    fn open(request: OpenRequest<'_>, host: &Host) -> Result<Box<dyn Backend>>;

    /// A plugin-level extension by versioned id.
    fn extension(id: &str) -> Option<Extension> {
        let _ = id;
        None
    }
}

/// The host services, as a plugin sees them.
///
/// Cheap to clone; usable from any thread.
#[derive(Clone)]
pub struct Host {
    raw: HostObject,
}

impl Host {
    /// Wraps the raw host object (done by the authoring layer).
    pub fn from_raw(raw: HostObject) -> Self {
        Self { raw }
    }

    /// The raw host object, e.g. to hand on to another component.
    pub fn raw(&self) -> &HostObject {
        &self.raw
    }

    /// Opens a backend for `url` through the host's registry: what a prefix
    /// backend does with its inner URL. The handle has no retry layer.
    pub fn open_backend(&self, url: &str) -> Result<BackendHandle> {
        self.raw
            .open_backend(RStr::from_str(url))
            .into_result()
            .map(BackendHandle::new)
    }

    /// A host-level extension by versioned id.
    pub fn extension(&self, id: &str) -> Option<Extension> {
        self.raw.extension(RStr::from_str(id)).into_option()
    }

    /// The host's progress sink (`stowage.progress/1`), if it has one.
    /// Look it up once (at open) and keep it.
    pub fn progress(&self) -> Option<Progress> {
        let ext = self.extension(progress::ID)?;
        match ext.downcast::<progress::ProgressObject>() {
            Ok(sink) => Some(Progress { sink }),
            Err(e) => {
                log::debug!("the host's {} is unusable: {e}", progress::ID);
                None
            }
        }
    }
}

/// Where a plugin reports transfer progress; see
/// [`ext::progress`](crate::ext::progress).
pub struct Progress {
    sink: ExtensionRef<progress::ProgressObject>,
}

impl Progress {
    /// `done` of `total` bytes (0 when unknown) of the object being moved on
    /// this thread.
    pub fn report(&self, done: u64, total: u64) {
        self.sink.report(progress::Transfer { done, total });
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}
