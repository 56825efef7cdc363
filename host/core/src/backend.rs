//! The host's view of an open backend: names validated, retries, fallbacks
//! for optional operations, and a size check after each put.

use std::path::Path;

use abi_stable::std_types::{ROption, RSlice, RStr};
use stowage_backend_api::{BackendError, BackendHandle, ErrorCode, ExtensionRef, LayoutMismatch};

use crate::error::{Error, Result};
use crate::names::validate_name;
use crate::put_query::{self, PutQuery};
use crate::redact::scrub;
use crate::retry::RetryPolicy;
use crate::target::Target;

/// How many names one `delete_list` call carries (duplicity's batch).
const DELETE_BATCH: usize = 100;

/// An open backend with the host's guarantees on top of the plugin's.
///
/// Invariants: no plugin call happens with an invalid name; errors name the
/// operation, the object and the URL without credentials; only errors the
/// plugin marks retryable are retried.
///
/// `Send + Sync`: share it between threads by reference or in an `Arc`.
pub struct Backend {
    handle: BackendHandle,
    /// `stowage.put-query/1`, when the backend offers it: a put brings the
    /// size check's query with it.
    put_query: Option<PutQuery>,
    target: Target,
    policy: RetryPolicy,
    secrets: Vec<String>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("url", &self.target.redacted())
            .field("policy", &self.policy)
            .finish()
    }
}

impl Backend {
    pub(crate) fn new(handle: BackendHandle, target: Target) -> Self {
        let secrets = target.secrets();
        Self {
            handle,
            put_query: None,
            target,
            policy: RetryPolicy::default(),
            secrets,
        }
    }

    /// The same backend, its puts bringing their size check's query when
    /// the handle offers `stowage.put-query/1`. Only for a handle whose
    /// extensions cannot come from a plugin (the isolation proxy): see
    /// [`put_query`].
    pub(crate) fn with_put_query(mut self) -> Self {
        self.put_query = self.handle.extension_as(put_query::ID).unwrap_or_else(|e| {
            log::debug!("{}: {} not used: {e}", self.url(), put_query::ID);
            None
        });
        self
    }

    /// The same backend with another retry policy.
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The URL, credentials removed.
    pub fn url(&self) -> String {
        self.target.redacted()
    }

    /// The underlying handle, without the host's layers.
    pub fn raw(&self) -> &BackendHandle {
        &self.handle
    }

    fn fail(&self, op: &'static str, name: Option<&str>, e: BackendError, attempts: u32) -> Error {
        let message = scrub(e.message(), &self.secrets);
        Error::Backend {
            op,
            name: name.map(str::to_string),
            url: self.url(),
            attempts,
            source: BackendError::new(e.code(), message).with_retryable(e.is_retryable()),
        }
    }

    /// Runs `f` under the retry policy.
    fn retry<T>(
        &self,
        op: &'static str,
        name: Option<&str>,
        f: impl FnMut() -> Result<T, BackendError>,
    ) -> Result<T> {
        let attempts = self.policy.attempts();
        self.policy
            .run(
                f,
                || match self.handle.retry_cleanup() {
                    Ok(()) => {}
                    Err(e) if e.is_unsupported() => {}
                    Err(e) => log::warn!("retry_cleanup on {} failed: {e}", self.url()),
                },
                |n, e| {
                    let what = name.map(|n| format!(" of {n:?}")).unwrap_or_default();
                    if e.is_retryable() && n < attempts {
                        log::warn!(
                            "attempt {n}/{attempts} of {op}{what} on {} failed, will retry: {}",
                            self.url(),
                            scrub(e.message(), &self.secrets)
                        );
                    } else {
                        log::debug!(
                            "attempt {n} of {op}{what} failed: {}",
                            scrub(e.message(), &self.secrets)
                        );
                    }
                },
            )
            .map_err(|(e, n)| self.fail(op, name, e, n))
    }

    fn local_size(path: &Path) -> Result<u64> {
        let meta = std::fs::metadata(path).map_err(|source| Error::Local {
            path: path.to_path_buf(),
            source,
        })?;
        if !meta.is_file() {
            return Err(Error::InvalidInput(format!(
                "{}: not a regular file",
                path.display()
            )));
        }
        Ok(meta.len())
    }

    /// Checks that the stored object has `expected` bytes, when the backend
    /// can say. The query is retried like any other operation. `queried`
    /// is what a query right after the put said, when the put brought one
    /// (see [`put_query`]): it counts as the query's first attempt, so a
    /// failure of it is retried (or not) exactly as one made here.
    fn verify_size(
        &self,
        op: &'static str,
        name: &str,
        expected: u64,
        queried: Option<Result<Option<u64>, BackendError>>,
    ) -> Result<()> {
        let mut first = queried;
        let attempt = || first.take().unwrap_or_else(|| self.handle.query(name));
        let found = match self.retry("query", Some(name), attempt) {
            Err(e) if is_unsupported(&e) => {
                log::debug!("{} cannot query; size check after {op} skipped", self.url());
                return Ok(());
            }
            other => other?,
        };
        let problem = match found {
            Some(size) if size == expected => return Ok(()),
            Some(size) => format!("sent {expected} bytes, the backend holds {size}"),
            None => format!("sent {expected} bytes, the backend reports no such object"),
        };
        Err(self.fail(
            op,
            Some(name),
            BackendError::new(ErrorCode::VALIDATION_FAILED, problem),
            1,
        ))
    }

    /// Stores `local` as `name` and checks the stored size. Returns the
    /// size. A retried put sends the whole file again.
    pub fn put(&self, local: &Path, name: &str) -> Result<u64> {
        validate_name(name)?;
        let size = Self::local_size(local)?;
        let queried = self.retry("put", Some(name), || self.put_once(local, name))?;
        self.verify_size("put", name, size, queried)?;
        Ok(size)
    }

    /// One attempt at a put, with the query after it when the backend
    /// brings one.
    fn put_once(
        &self,
        local: &Path,
        name: &str,
    ) -> Result<Option<Result<Option<u64>, BackendError>>, BackendError> {
        let Some(ext) = &self.put_query else {
            return self.handle.put(local, name).map(|()| None);
        };
        // Paths cross the ABI as their bytes, as `BackendHandle` sends them.
        let local = std::os::unix::ffi::OsStrExt::as_bytes(local.as_os_str());
        ext.put_then_query(RSlice::from_slice(local), RStr::from_str(name))
            .into_result()
            .map(|queried| Some(queried.into_result().map(ROption::into_option)))
    }

    /// Fetches `name` into `local`. Returns the size of the local file.
    pub fn get(&self, name: &str, local: &Path) -> Result<u64> {
        validate_name(name)?;
        self.retry("get", Some(name), || self.handle.get(name, local))?;
        match std::fs::metadata(local) {
            Ok(m) => Ok(m.len()),
            Err(_) => Err(self.fail(
                "get",
                Some(name),
                BackendError::generic(format!(
                    "the backend reported success but {} does not exist",
                    local.display()
                )),
                1,
            )),
        }
    }

    /// Every object and its size, in the backend's order.
    pub fn list(&self) -> Result<Vec<(String, u64)>> {
        self.retry("list", None, || self.handle.list())
    }

    /// Removes `name`.
    pub fn delete(&self, name: &str) -> Result<()> {
        validate_name(name)?;
        self.retry("delete", Some(name), || self.handle.delete(name))
    }

    /// Removes every name in `names` (missing ones are skipped), in batches
    /// of 100, falling back to one delete per name.
    pub fn delete_list(&self, names: &[&str]) -> Result<()> {
        for n in names {
            validate_name(n)?;
        }
        for batch in names.chunks(DELETE_BATCH) {
            match self.retry("delete_list", None, || self.handle.delete_list(batch)) {
                Err(e) if is_unsupported(&e) => {
                    for name in batch {
                        match self.delete(name) {
                            Err(e) if e.code() == ErrorCode::NOT_FOUND => {}
                            other => other?,
                        }
                    }
                }
                other => other?,
            }
        }
        Ok(())
    }

    /// The size of `name`, `None` when it does not exist. Falls back to a
    /// listing when the backend cannot query.
    pub fn query(&self, name: &str) -> Result<Option<u64>> {
        Ok(self.query_list(&[name])?.pop().flatten())
    }

    /// Sizes of `names`, in order; falls back to `query` per name, then to
    /// one listing.
    pub fn query_list(&self, names: &[&str]) -> Result<Vec<Option<u64>>> {
        for n in names {
            validate_name(n)?;
        }
        match self.retry("query_list", None, || self.handle.query_list(names)) {
            Err(e) if is_unsupported(&e) => {}
            other => return other,
        }
        let mut sizes = Vec::with_capacity(names.len());
        for name in names {
            match self.retry("query", Some(name), || self.handle.query(name)) {
                Err(e) if is_unsupported(&e) => return self.query_by_listing(names),
                other => sizes.push(other?),
            }
        }
        Ok(sizes)
    }

    fn query_by_listing(&self, names: &[&str]) -> Result<Vec<Option<u64>>> {
        let listing: std::collections::HashMap<String, u64> = self.list()?.into_iter().collect();
        Ok(names.iter().map(|n| listing.get(*n).copied()).collect())
    }

    /// Moves `local` into the backend as `name`: afterwards the object is
    /// there with the local file's size, and the local file is gone. Falls
    /// back to put + remove when the backend cannot move.
    pub fn move_in(&self, local: &Path, name: &str) -> Result<u64> {
        validate_name(name)?;
        let size = Self::local_size(local)?;
        match self.retry("move", Some(name), || self.handle.move_in(local, name)) {
            Err(e) if is_unsupported(&e) => {
                let queried = self.retry("put", Some(name), || self.put_once(local, name))?;
                self.verify_size("move", name, size, queried)?;
                std::fs::remove_file(local).map_err(|source| Error::Local {
                    path: local.to_path_buf(),
                    source,
                })?;
            }
            other => {
                other?;
                self.verify_size("move", name, size, None)?;
            }
        }
        Ok(size)
    }

    /// Ends the session (commit, durability barrier). Not retried.
    /// Idempotent; dropping an unclosed backend closes it and only logs
    /// errors, so call this to see them.
    pub fn close(&self) -> Result<()> {
        match self.handle.close() {
            Err(e) if e.is_unsupported() => Ok(()),
            Err(e) => Err(self.fail("close", None, e, 1)),
            Ok(()) => Ok(()),
        }
    }

    /// Extension `id` checked against type `T`.
    ///
    /// # Errors
    /// The backend offers `id` with another layout.
    pub fn extension_as<T: abi_stable::StableAbi>(
        &self,
        id: &str,
    ) -> std::result::Result<Option<ExtensionRef<T>>, LayoutMismatch> {
        self.handle.extension_as(id)
    }
}

fn is_unsupported(e: &Error) -> bool {
    e.code() == ErrorCode::UNSUPPORTED
}
