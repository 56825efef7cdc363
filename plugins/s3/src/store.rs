//! The `s3` backend: objects are the keys directly under a prefix.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use crc_fast::{CrcAlgorithm, Digest};
use futures::stream::TryStreamExt;
use opendal::layers::TimeoutLayer;
use opendal::{ErrorKind, Operator, Writer};
use stowage_backend_api::{Backend, BackendError, Progress, Result};
use stowage_net_common::{block_on, open_source, query_each, LocalTemp, Reporter};

use crate::config::S3Config;
use crate::credentials::{self, Credentials};
use crate::errors::{s3_error, stream_error};
use crate::read::{ObjectRead, Reading, CHECKSUM_KEY};
use crate::signed::Signed;
use crate::stale::StaleUploads;

/// Stats one call keeps in flight.
const PARALLEL_REQUESTS: usize = 16;

/// A bucket and prefix on an S3-compatible store.
///
/// Invariants: a put either creates the whole object or nothing (S3
/// objects appear whole; a failed multipart upload is aborted); every
/// object we write carries its CRC-32C, so a get verifies the bytes end to
/// end, besides the per-part checksums S3 verifies on upload.
pub struct S3Store {
    cfg: S3Config,
    op: Operator,
    progress: Option<Progress>,
    /// Failed uploads whose abort failed too (the server was away): tried
    /// again at `retry_cleanup` and `close`, so no multipart upload is
    /// left behind once the server is back.
    unaborted: Mutex<Vec<(String, Writer)>>,
    /// Aborts the uploads a killed process left (`None`: could not be
    /// set up; puts go on without).
    stale: Option<StaleUploads>,
    /// How objects are read.
    reading: Reading,
}

impl S3Store {
    /// An operator for `cfg` with `creds`; nothing is sent yet.
    pub fn new(cfg: S3Config, progress: Option<Progress>) -> Result<Self> {
        let creds = credentials::find(cfg.profile.as_deref())?;
        let op = operator(&cfg, &creds)?;
        let signed = Signed::new(&cfg, &creds)
            .inspect_err(|e| {
                log::warn!(
                    "s3: no signed client ({e}): leftover multipart uploads cannot be aborted, \
                     and every get stats the object first"
                )
            })
            .ok()
            .map(Arc::new);
        let reading = Reading {
            op: op.clone(),
            signed: signed.clone(),
            chunk: cfg.chunk as usize,
            concurrency: cfg.concurrency,
        };
        Ok(Self {
            cfg,
            op,
            progress,
            unaborted: Mutex::new(Vec::new()),
            stale: signed.map(StaleUploads::new),
            reading,
        })
    }

    async fn put_async(&self, local: &Path, name: &str) -> Result<()> {
        let (mut file, size) = open_source(local)?;
        let local_error = |e: std::io::Error| {
            BackendError::from_io(&e, format!("reading local file {}", local.display()))
        };
        let crc = crc32c_of(&mut file).map_err(local_error)?;
        file.seek(SeekFrom::Start(0)).map_err(local_error)?;
        if size > self.cfg.chunk {
            self.abort_stale_uploads(name).await;
        }
        let what = format_args!("put {name}");
        let mut writer = self
            .op
            .writer_with(name)
            .chunk(self.cfg.chunk as usize)
            .concurrent(self.cfg.concurrency)
            .user_metadata([(CHECKSUM_KEY.to_string(), format!("{crc:08x}"))])
            .await
            .map_err(|e| s3_error(&e, what))?;
        let mut progress = Reporter::start(self.progress.as_ref(), size);
        let written = async {
            let mut done = 0u64;
            while done < size {
                let len = (size - done).min(self.cfg.chunk) as usize;
                let mut buf = vec![0u8; len];
                file.read_exact(&mut buf).map_err(local_error)?;
                writer.write(buf).await.map_err(|e| s3_error(&e, what))?;
                done += len as u64;
                progress.at(done);
            }
            writer.close().await.map_err(|e| s3_error(&e, what))
        }
        .await;
        if let Err(e) = written {
            // Abort the multipart upload, so no parts are left billed and
            // hidden; nothing was created under the name.
            if let Err(abort) = writer.abort().await {
                log::debug!("s3: aborting the upload of {name} failed for now: {abort}");
                self.pending().push((name.to_string(), writer));
            }
            return Err(e);
        }
        Ok(())
    }

    /// Before a multipart put of `name`: aborts the uploads of that same
    /// key a killed process left pending, so a retried put leaves none
    /// behind. Best effort: a store that refuses the listing (a policy
    /// without `s3:ListBucketMultipartUploads`) still takes the put.
    async fn abort_stale_uploads(&self, name: &str) {
        let Some(stale) = &self.stale else { return };
        match stale.abort_all(name).await {
            Ok(0) => {}
            Ok(n) => log::info!("s3: aborted {n} multipart upload(s) of {name} left pending"),
            Err(e) => {
                log::warn!("s3: cannot abort the multipart uploads of {name} left pending: {e}")
            }
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Vec<(String, Writer)>> {
        self.unaborted.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Aborts the uploads whose abort failed before; keeps those that
    /// fail again.
    async fn abort_unaborted(&self) {
        let waiting = std::mem::take(&mut *self.pending());
        for (name, mut writer) in waiting {
            match writer.abort().await {
                Ok(()) => log::info!("s3: aborted the failed upload of {name}"),
                Err(e) => {
                    log::warn!("s3: cannot abort the failed upload of {name} yet: {e}");
                    self.pending().push((name, writer));
                }
            }
        }
    }

    async fn get_async(&self, name: &str, local: &Path) -> Result<()> {
        let ObjectRead {
            mut stream,
            mut check,
        } = self.reading.open(name).await?;
        let temp = LocalTemp::create(local)?;
        let mut out = temp.file();
        let mut progress = Reporter::start(self.progress.as_ref(), check.size());
        while let Some(chunk) = stream
            .try_next()
            .await
            .map_err(|e| stream_error(&e, check.what()))?
        {
            out.write_all(&chunk)
                .map_err(|e| BackendError::from_io(&e, format!("writing {}", local.display())))?;
            check.saw(&chunk);
            progress.at(check.done());
        }
        check.finish()?;
        temp.commit()
    }

    async fn list_async(&self) -> Result<Vec<(String, u64)>> {
        let lister = self
            .op
            .lister_with("/")
            .await
            .map_err(|e| s3_error(&e, "list"))?;
        let entries: Vec<opendal::Entry> = lister
            .try_collect()
            .await
            .map_err(|e| s3_error(&e, "list"))?;
        Ok(entries
            .into_iter()
            .filter(|e| e.metadata().is_file())
            .map(|e| (e.name().to_string(), e.metadata().content_length()))
            .collect())
    }

    async fn query_async(&self, name: &str) -> Result<Option<u64>> {
        match self.op.stat(name).await {
            Ok(meta) => Ok(Some(meta.content_length())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(s3_error(&e, format_args!("query {name}"))),
        }
    }
}

fn operator(cfg: &S3Config, creds: &Credentials) -> Result<Operator> {
    // With OpenDAL's default features off, nothing installs its HTTP
    // transport; without this the first request fails. Idempotent.
    opendal::install_default();
    let mut builder = opendal::services::S3::default()
        .bucket(&cfg.bucket)
        .root(&cfg.root())
        .region(&cfg.region)
        .access_key_id(&creds.key_id)
        .secret_access_key(&creds.secret)
        // Our credentials only: no second search of the environment, no
        // instance-metadata probe that could hang off EC2.
        .disable_config_load()
        .disable_ec2_metadata()
        .checksum_algorithm("crc32c");
    if let Some(token) = &creds.token {
        builder = builder.session_token(token);
    }
    if let Some(endpoint) = &cfg.endpoint {
        builder = builder.endpoint(endpoint);
    }
    if !cfg.path_style {
        builder = builder.enable_virtual_host_style();
    }
    let op = Operator::new(builder)
        .map_err(|e| s3_error(&e, "s3: configuring the client"))?
        .layer(
            TimeoutLayer::new()
                .with_timeout(cfg.timeout)
                .with_io_timeout(cfg.timeout),
        );
    Ok(op)
}

/// CRC-32C of the whole file from its current position.
fn crc32c_of(file: &mut File) -> std::io::Result<u32> {
    let mut digest = Digest::new(CrcAlgorithm::Crc32Iscsi);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(digest.finalize() as u32);
        }
        digest.update(&buf[..n]);
    }
}

impl Backend for S3Store {
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
        block_on(self.op.delete(name))?.map_err(|e| s3_error(&e, format_args!("delete {name}")))
    }

    fn delete_list(&self, names: &[&str]) -> Result<()> {
        // DeleteObjects, up to 1,000 keys per request.
        block_on(self.op.delete_iter(names.iter().copied()))?
            .map_err(|e| s3_error(&e, format_args!("delete of {} objects", names.len())))
    }

    fn query(&self, name: &str) -> Result<Option<u64>> {
        block_on(self.query_async(name))?
    }

    fn query_list(&self, names: &[&str]) -> Result<Vec<Option<u64>>> {
        block_on(query_each(names, PARALLEL_REQUESTS, |name| {
            self.query_async(name)
        }))?
    }

    fn retry_cleanup(&self) -> Result<()> {
        // HTTP connections are pooled and replaced by the client as they
        // fail; what is left is cleaning up after the failed attempt.
        block_on(self.abort_unaborted())
    }

    fn extension(&self, id: &str) -> Option<stowage_backend_api::Extension> {
        crate::stream::extension(id, &self.reading)
    }

    fn close(&self) -> Result<()> {
        block_on(self.abort_unaborted())?;
        let left = self.pending().len();
        if left > 0 {
            log::warn!(
                "s3: {left} failed multipart upload(s) could not be aborted; a bucket lifecycle \
                 rule (AbortIncompleteMultipartUpload) removes them"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"123456789").unwrap();
        let mut f = File::open(&p).unwrap();
        assert_eq!(crc32c_of(&mut f).unwrap(), 0xe306_9283);
    }
}
