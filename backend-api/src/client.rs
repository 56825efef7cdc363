//! The calling side of the backend vtable: a safe Rust view of a backend
//! object, used by the host and by prefix plugins for their inner backend.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use abi_stable::std_types::{RSlice, RStr};

use crate::abi::BackendObject;
use crate::error::Result;
use crate::extension::{Extension, ExtensionRef, LayoutMismatch};

/// An open backend across the ABI.
///
/// The methods mirror [`Backend`](crate::Backend) one to one: no retries, no
/// fallbacks, no name validation; a missing optional operation answers
/// [`ErrorCode::UNSUPPORTED`](crate::ErrorCode::UNSUPPORTED). The host adds
/// those layers on top; a prefix plugin forwards "unsupported" unchanged so
/// the host can fall back once, at the outermost level.
///
/// Dropping the handle closes the backend if nobody did (errors are logged).
pub struct BackendHandle {
    object: BackendObject,
}

fn bytes(path: &Path) -> RSlice<'_, u8> {
    RSlice::from_slice(path.as_os_str().as_bytes())
}

impl BackendHandle {
    /// Wraps a backend object.
    pub fn new(object: BackendObject) -> Self {
        Self { object }
    }

    /// See [`Backend::put`](crate::Backend::put).
    pub fn put(&self, local: &Path, name: &str) -> Result<()> {
        self.object.put(bytes(local), RStr::from_str(name)).into()
    }

    /// See [`Backend::get`](crate::Backend::get).
    pub fn get(&self, name: &str, local: &Path) -> Result<()> {
        self.object.get(RStr::from_str(name), bytes(local)).into()
    }

    /// See [`Backend::list`](crate::Backend::list).
    pub fn list(&self) -> Result<Vec<(String, u64)>> {
        let entries = self.object.list().into_result()?;
        Ok(entries
            .into_iter()
            .map(|e| (e.name.into_string(), e.size))
            .collect())
    }

    /// See [`Backend::delete`](crate::Backend::delete).
    pub fn delete(&self, name: &str) -> Result<()> {
        self.object.delete(RStr::from_str(name)).into()
    }

    /// See [`Backend::delete_list`](crate::Backend::delete_list).
    pub fn delete_list(&self, names: &[&str]) -> Result<()> {
        let raw: Vec<RStr<'_>> = names.iter().map(|n| RStr::from_str(n)).collect();
        self.object.delete_list(RSlice::from_slice(&raw)).into()
    }

    /// See [`Backend::query`](crate::Backend::query).
    pub fn query(&self, name: &str) -> Result<Option<u64>> {
        self.object
            .query(RStr::from_str(name))
            .into_result()
            .map(|o| o.into_option())
    }

    /// See [`Backend::query_list`](crate::Backend::query_list).
    pub fn query_list(&self, names: &[&str]) -> Result<Vec<Option<u64>>> {
        let raw: Vec<RStr<'_>> = names.iter().map(|n| RStr::from_str(n)).collect();
        let sizes = self
            .object
            .query_list(RSlice::from_slice(&raw))
            .into_result()?;
        Ok(sizes.into_iter().map(|s| s.into_option()).collect())
    }

    /// See [`Backend::move_in`](crate::Backend::move_in).
    pub fn move_in(&self, local: &Path, name: &str) -> Result<()> {
        self.object
            .move_in(bytes(local), RStr::from_str(name))
            .into()
    }

    /// See [`Backend::retry_cleanup`](crate::Backend::retry_cleanup).
    pub fn retry_cleanup(&self) -> Result<()> {
        self.object.retry_cleanup().into()
    }

    /// See [`Backend::close`](crate::Backend::close). Idempotent.
    pub fn close(&self) -> Result<()> {
        self.object.close().into()
    }

    /// The raw extension `id`, if the backend offers it.
    pub fn extension(&self, id: &str) -> Option<Extension> {
        self.object.extension(RStr::from_str(id)).into_option()
    }

    /// Extension `id` checked against type `T`: `Ok(None)` when the backend
    /// does not offer it, an error when it offers an incompatible layout.
    pub fn extension_as<T: abi_stable::StableAbi>(
        &self,
        id: &str,
    ) -> std::result::Result<Option<ExtensionRef<T>>, LayoutMismatch> {
        self.extension(id).map(Extension::downcast).transpose()
    }
}

impl std::fmt::Debug for BackendHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BackendHandle")
    }
}
