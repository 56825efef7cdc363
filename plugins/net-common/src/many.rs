//! Per-object requests for many names at once: the network plugins'
//! `delete_list` and `query_list` where the server has no batch call.

use std::future::Future;

use futures::stream::{self, StreamExt};
use stowage_backend_api::{ErrorCode, Result};

/// Deletes every name with up to `parallel` requests in flight. A name that
/// is already gone counts as deleted (the contract of `delete_list`); the
/// first other error is returned once every request has finished.
pub async fn delete_each<'a, F, Fut>(names: &'a [&'a str], parallel: usize, delete: F) -> Result<()>
where
    F: Fn(&'a str) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let results: Vec<Result<()>> = stream::iter(names.iter().copied())
        .map(|name| {
            let request = delete(name);
            async move {
                match request.await {
                    Err(e) if e.code() == ErrorCode::NOT_FOUND => Ok(()),
                    other => other,
                }
            }
        })
        .buffer_unordered(parallel)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Queries every name's size with up to `parallel` requests in flight; the
/// answers come back in the order of `names`.
pub async fn query_each<'a, F, Fut>(
    names: &'a [&'a str],
    parallel: usize,
    query: F,
) -> Result<Vec<Option<u64>>>
where
    F: Fn(&'a str) -> Fut,
    Fut: Future<Output = Result<Option<u64>>>,
{
    let results: Vec<Result<Option<u64>>> = stream::iter(names.iter().copied())
        .map(query)
        .buffered(parallel)
        .collect()
        .await;
    results.into_iter().collect()
}
