//! Plugin side of the backend vtable: wraps an author's [`Backend`] so that
//! each call is guarded, a panicked backend stays poisoned, and close is
//! idempotent.

use std::ffi::OsStr;
use std::mem::ManuallyDrop;
use std::os::unix::ffi::OsStrExt;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{ROption, RResult, RSlice, RStr, RVec};

use crate::abi::{BackendObject, ListEntry, RawBackend, RawBackend_TO};
use crate::author::Backend;
use crate::error::{BackendError, ErrorCode, Result};
use crate::extension::Extension;
use crate::guard::{guard, guard_ffi};

/// Invariant: once `poisoned` is set it stays set, and once `closed` is set
/// the author's backend sees no further call except its destructor.
pub(crate) struct Adapter {
    backend: ManuallyDrop<Box<dyn Backend>>,
    poisoned: AtomicBool,
    closed: AtomicBool,
}

impl Adapter {
    pub(crate) fn into_object(backend: Box<dyn Backend>) -> BackendObject {
        let adapter = Adapter {
            backend: ManuallyDrop::new(backend),
            poisoned: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        };
        RawBackend_TO::from_value(adapter, TD_Opaque)
    }

    /// Runs one operation of the author's backend.
    fn call<T>(&self, op: &str, f: impl FnOnce(&dyn Backend) -> Result<T>) -> Result<T> {
        if self.poisoned.load(Ordering::Acquire) {
            return Err(BackendError::new(
                ErrorCode::PANIC,
                format!("{op} refused: the backend panicked earlier and is unusable"),
            ));
        }
        if self.closed.load(Ordering::Acquire) {
            return Err(BackendError::generic(format!(
                "{op} refused: the backend is closed"
            )));
        }
        let result = guard(op, || f(&**self.backend));
        if matches!(&result, Err(e) if e.code() == ErrorCode::PANIC) {
            self.poisoned.store(true, Ordering::Release);
        }
        result
    }
}

fn path(bytes: RSlice<'_, u8>) -> &Path {
    Path::new(OsStr::from_bytes(bytes.as_slice()))
}

fn names<'a>(list: RSlice<'a, RStr<'a>>) -> Vec<&'a str> {
    list.iter().map(|n| n.as_str()).collect()
}

impl RawBackend for Adapter {
    fn put(&self, local: RSlice<'_, u8>, name: RStr<'_>) -> RResult<(), BackendError> {
        self.call("put", |b| b.put(path(local), name.as_str()))
            .into()
    }

    fn get(&self, name: RStr<'_>, local: RSlice<'_, u8>) -> RResult<(), BackendError> {
        self.call("get", |b| b.get(name.as_str(), path(local)))
            .into()
    }

    fn list(&self) -> RResult<RVec<ListEntry>, BackendError> {
        self.call("list", |b| {
            let entries = b.list()?;
            Ok(entries
                .into_iter()
                .map(|(name, size)| ListEntry {
                    name: name.into(),
                    size,
                })
                .collect())
        })
        .into()
    }

    fn delete(&self, name: RStr<'_>) -> RResult<(), BackendError> {
        self.call("delete", |b| b.delete(name.as_str())).into()
    }

    fn delete_list(&self, list: RSlice<'_, RStr<'_>>) -> RResult<(), BackendError> {
        self.call("delete_list", |b| b.delete_list(&names(list)))
            .into()
    }

    fn query(&self, name: RStr<'_>) -> RResult<ROption<u64>, BackendError> {
        self.call("query", |b| b.query(name.as_str()).map(ROption::from))
            .into()
    }

    fn query_list(&self, list: RSlice<'_, RStr<'_>>) -> RResult<RVec<ROption<u64>>, BackendError> {
        self.call("query_list", |b| {
            let asked = names(list);
            let sizes = b.query_list(&asked)?;
            if sizes.len() != asked.len() {
                return Err(BackendError::generic(format!(
                    "query_list answered {} sizes for {} names",
                    sizes.len(),
                    asked.len()
                )));
            }
            Ok(sizes.into_iter().map(ROption::from).collect())
        })
        .into()
    }

    fn move_in(&self, local: RSlice<'_, u8>, name: RStr<'_>) -> RResult<(), BackendError> {
        self.call("move_in", |b| b.move_in(path(local), name.as_str()))
            .into()
    }

    fn retry_cleanup(&self) -> RResult<(), BackendError> {
        self.call("retry_cleanup", |b| b.retry_cleanup()).into()
    }

    fn close(&self) -> RResult<(), BackendError> {
        if self.closed.load(Ordering::Acquire) {
            return RResult::ROk(());
        }
        let result = self.call("close", |b| match b.close() {
            Err(e) if e.is_unsupported() => Ok(()),
            other => other,
        });
        // A failed close may be retried; a successful one is final.
        if result.is_ok() {
            self.closed.store(true, Ordering::Release);
        }
        result.into()
    }

    fn extension(&self, id: RStr<'_>) -> ROption<Extension> {
        if self.poisoned.load(Ordering::Acquire) {
            return ROption::RNone;
        }
        guard_ffi("extension", || Ok(self.backend.extension(id.as_str())))
            .into_result()
            .ok()
            .flatten()
            .into()
    }
}

impl Drop for Adapter {
    fn drop(&mut self) {
        let needs_close =
            !self.closed.load(Ordering::Acquire) && !self.poisoned.load(Ordering::Acquire);
        if needs_close {
            if let Err(e) = self.call("close", |b| b.close()) {
                if !e.is_unsupported() {
                    log::warn!(target: "stowage::plugin", "closing a dropped backend failed: {e}");
                }
            }
        }
        // SAFETY: `backend` is never used again after this point.
        let backend = unsafe { ManuallyDrop::take(&mut self.backend) };
        // The destructor runs inside the host's call to drop the object; it
        // must not unwind into it.
        if panic::catch_unwind(AssertUnwindSafe(move || drop(backend))).is_err() {
            log::error!(target: "stowage::plugin", "a backend panicked while being dropped");
        }
    }
}
