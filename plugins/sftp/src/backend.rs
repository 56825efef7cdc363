//! The backend API of [`SftpStore`]: each operation enters the plugin's
//! runtime and runs the store's async method; the extensions come from
//! `stream.rs`. Apart from the store so that the store and its stream
//! handle do not import each other.

use std::path::Path;

use stowage_backend_api::{Backend, Result};
use stowage_net_common::{block_on, delete_each, query_each};

use crate::store::{SftpStore, PARALLEL_REQUESTS};

impl Backend for SftpStore {
    fn put(&self, local: &Path, name: &str) -> Result<()> {
        block_on(self.put_async(local, name))?
    }

    fn get(&self, name: &str, local: &Path) -> Result<()> {
        block_on(self.get_async(name, local))?
    }

    fn list(&self) -> Result<Vec<(String, u64)>> {
        block_on(self.list_async())?
    }

    fn delete(&self, name: &str) -> Result<()> {
        block_on(async {
            let conn = self.connection().await?;
            self.delete_async(&conn, name).await
        })?
    }

    fn delete_list(&self, names: &[&str]) -> Result<()> {
        block_on(async {
            let conn = self.connection().await?;
            delete_each(names, PARALLEL_REQUESTS, |name| {
                self.delete_async(&conn, name)
            })
            .await
        })?
    }

    fn query(&self, name: &str) -> Result<Option<u64>> {
        block_on(async {
            let conn = self.connection().await?;
            self.query_async(&conn, name).await
        })?
    }

    fn query_list(&self, names: &[&str]) -> Result<Vec<Option<u64>>> {
        block_on(async {
            let conn = self.connection().await?;
            query_each(names, PARALLEL_REQUESTS, |name| {
                self.query_async(&conn, name)
            })
            .await
        })?
    }

    fn retry_cleanup(&self) -> Result<()> {
        // Drop the session; the next attempt connects afresh. Reconnecting
        // here would fail while the server is still away.
        let old = self.slot().take();
        if let Some(conn) = old {
            block_on(conn.close())?;
        }
        Ok(())
    }

    fn extension(&self, id: &str) -> Option<stowage_backend_api::Extension> {
        crate::stream::extension(id, self)
    }

    fn close(&self) -> Result<()> {
        let Some(conn) = self.slot().take() else {
            return Ok(());
        };
        block_on(async {
            if !conn.is_closed() {
                self.sweep_stale_temporaries(&conn).await;
            }
            conn.close().await;
        })
    }
}
