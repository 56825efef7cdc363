//! Running one [`Op`] on a backend handle: the serving half of the
//! protocol, the same in the child (for the plugin's backend) and in the
//! host (for a prefix plugin's inner backend).

use std::os::fd::OwnedFd;

use stowage_backend_api::{BackendError, BackendHandle};

use crate::files::{serve_get, serve_put, Staging};
use crate::protocol::{Answer, Op, WireError};

/// Runs `op` with the descriptors that came with it. `copy_puts`: the
/// source must be copied before the backend can read it (see
/// [`serve_put`]). Messages naming the staged path are rewritten to name
/// the caller's local path instead.
pub fn execute(
    backend: &BackendHandle,
    op: Op,
    fds: Vec<OwnedFd>,
    staging: &Staging,
    copy_puts: bool,
) -> Result<Answer, BackendError> {
    let mut fds = fds.into_iter();
    let mut fd = || {
        fds.next()
            .ok_or_else(|| BackendError::generic("a descriptor is missing"))
    };
    match op {
        Op::Put { name, shown, query } => serve_put(fd()?, &name, staging, copy_puts, |path| {
            backend
                .put(path, &name)
                .map_err(|e| rename_path(e, path, &shown))
        })
        .map(|()| put_answer(backend, &name, query)),
        Op::Get { name, shown } => serve_get(fd()?, &name, staging, |path| {
            backend
                .get(&name, path)
                .map_err(|e| rename_path(e, path, &shown))
        })
        .map(|mode| Answer::Got { mode }),
        Op::List => backend.list().map(Answer::Listed),
        Op::Delete { name } => backend.delete(&name).map(|()| Answer::Done),
        Op::DeleteList { names } => {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            backend.delete_list(&names).map(|()| Answer::Done)
        }
        Op::Query { name } => backend.query(&name).map(Answer::Size),
        Op::QueryList { names } => {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            backend.query_list(&names).map(Answer::Sizes)
        }
        // The backend may take the staged copy over (rename); the staged
        // directory is removed afterwards either way.
        Op::MoveIn { name, shown } => serve_put(fd()?, &name, staging, true, |path| {
            backend
                .move_in(path, &name)
                .map_err(|e| rename_path(e, path, &shown))
        })
        .map(|()| Answer::Done),
        Op::RetryCleanup => backend.retry_cleanup().map(|()| Answer::Done),
        Op::Close => backend.close().map(|()| Answer::Done),
    }
}

/// What a put of `name` that succeeded answers: with `query`, what a query
/// of the object says now (`stowage.put-query/1`).
pub fn put_answer(backend: &BackendHandle, name: &str, query: bool) -> Answer {
    if query {
        Answer::Stored(backend.query(name).map_err(WireError::from))
    } else {
        Answer::Done
    }
}

/// The backend saw `path`; the user named `shown`.
fn rename_path(e: BackendError, path: &std::path::Path, shown: &str) -> BackendError {
    let seen = path.display().to_string();
    if !e.message().contains(&seen) {
        return e;
    }
    BackendError::new(e.code(), e.message().replace(&seen, shown)).with_retryable(e.is_retryable())
}
