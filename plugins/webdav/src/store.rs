//! The `webdav` backend: objects are the non-collection members of one
//! WebDAV collection.

use std::path::Path;

use reqwest::StatusCode;
use stowage_backend_api::{Backend, BackendError, Progress, Result};
use stowage_fs_common::{is_temp_name, TEMP_PREFIX};
use stowage_net_common::{block_on, delete_each, open_source, query_each, temp_name, Reporter};

use crate::config::DavConfig;
use crate::dav::Dav;
use crate::errors::status_error;
use crate::names::{to_member, to_object};

/// Small requests (HEAD, DELETE) one call keeps in flight.
const PARALLEL_REQUESTS: usize = 16;

/// A WebDAV collection.
///
/// Invariant: an object appears under its name only complete: the body
/// goes to a hidden temporary member, then `MOVE` with `Overwrite: T`
/// replaces the object in one step.
pub struct DavStore {
    dav: Dav,
    progress: Option<Progress>,
}

impl DavStore {
    /// A store for `cfg`; nothing is sent until the first operation.
    pub fn new(cfg: DavConfig, progress: Option<Progress>) -> Result<Self> {
        Ok(Self {
            dav: Dav::new(cfg)?,
            progress,
        })
    }

    fn object_url(&self, name: &str) -> Result<String> {
        if is_temp_name(name.as_bytes()) {
            return Err(BackendError::invalid_input(format!(
                "{name:?}: names starting with {TEMP_PREFIX:?} are reserved for temporary files"
            )));
        }
        Ok(self.dav.cfg.object_url(&to_member(name)))
    }

    async fn put_async(&self, local: &Path, name: &str) -> Result<()> {
        let target = self.object_url(name)?;
        let (_, size) = open_source(local)?;
        let temp = self.dav.cfg.object_url(&temp_name(name));
        let mut progress = Reporter::start(self.progress.as_ref(), size);
        let mut status = self.dav.put_file(local, size, &temp, &mut progress).await?;
        if matches!(status, StatusCode::CONFLICT | StatusCode::NOT_FOUND) {
            // The collection does not exist yet: the first put creates it.
            self.dav.make_collection().await?;
            status = self.dav.put_file(local, size, &temp, &mut progress).await?;
        }
        if !status.is_success() {
            return Err(status_error(status, format_args!("PUT {temp}")));
        }
        // The PUT carried a Content-Length: a server stores all of it or
        // nothing, and the host checks the size after the put anyway.
        let moved = self.dav.move_over(&temp, &target).await;
        if moved.is_err() {
            let _ = self.dav.delete(&temp).await;
        }
        moved
    }

    async fn list_async(&self) -> Result<Vec<(String, u64)>> {
        let Some(entries) = self.dav.list(&self.dav.cfg.base).await? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in entries {
            let member = entry.name();
            if entry.collection || member.is_empty() {
                continue;
            }
            let Some(name) = to_object(member) else {
                continue;
            };
            let size = match entry.size {
                Some(s) => s,
                // A server that leaves the length out of PROPFIND.
                None => match self.dav.size(&self.dav.cfg.object_url(member)).await? {
                    Some(s) => s,
                    None => continue,
                },
            };
            out.push((name, size));
        }
        Ok(out)
    }
}

impl Backend for DavStore {
    fn put(&self, local: &Path, name: &str) -> Result<()> {
        block_on(self.put_async(local, name))?
    }

    fn get(&self, name: &str, local: &Path) -> Result<()> {
        let url = self.object_url(name)?;
        block_on(self.dav.get_file(&url, local, self.progress.as_ref()))??.commit()
    }

    fn list(&self) -> Result<Vec<(String, u64)>> {
        block_on(self.list_async())?
    }

    fn delete(&self, name: &str) -> Result<()> {
        let url = self.object_url(name)?;
        block_on(self.dav.delete(&url))?
    }

    fn delete_list(&self, names: &[&str]) -> Result<()> {
        block_on(delete_each(names, PARALLEL_REQUESTS, |name| async move {
            self.dav.delete(&self.object_url(name)?).await
        }))?
    }

    fn query(&self, name: &str) -> Result<Option<u64>> {
        let url = self.object_url(name)?;
        block_on(self.dav.size(&url))?
    }

    fn query_list(&self, names: &[&str]) -> Result<Vec<Option<u64>>> {
        block_on(query_each(names, PARALLEL_REQUESTS, |name| async move {
            self.dav.size(&self.object_url(name)?).await
        }))?
    }

    fn retry_cleanup(&self) -> Result<()> {
        self.dav.reset()
    }

    fn extension(&self, id: &str) -> Option<stowage_backend_api::Extension> {
        crate::location::extension(id, &self.dav.cfg)
    }

    fn close(&self) -> Result<()> {
        Ok(())
    }
}
