//! The WebDAV requests the backend needs, streaming both ways.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::{Body, Client, Method, RequestBuilder, Response, StatusCode};
use stowage_backend_api::{BackendError, Progress, Result};
use stowage_net_common::{LocalTemp, Reporter};
use tokio_util::io::ReaderStream;

use crate::config::DavConfig;
use crate::errors::{status_error, transport_error};
use crate::propfind::{self, Entry};

/// Bytes read from the local file per body chunk.
const READ_CHUNK: usize = 256 << 10;

/// A WebDAV collection and the HTTP client that reaches it.
pub struct Dav {
    /// The URL and credentials.
    pub cfg: DavConfig,
    client: Mutex<Client>,
}

fn method(name: &'static str) -> Method {
    Method::from_bytes(name.as_bytes()).expect("a valid method name")
}

impl Dav {
    /// A client for `cfg` (no request is sent).
    pub fn new(cfg: DavConfig) -> Result<Self> {
        let client = Self::build_client(&cfg)?;
        Ok(Self {
            cfg,
            client: Mutex::new(client),
        })
    }

    fn build_client(cfg: &DavConfig) -> Result<Client> {
        Client::builder()
            .connect_timeout(cfg.timeout)
            .read_timeout(cfg.timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| transport_error(&e, "webdav: setting up the HTTP client"))
    }

    /// Drops every pooled connection: the next request connects afresh.
    pub fn reset(&self) -> Result<()> {
        let fresh = Self::build_client(&self.cfg)?;
        *self.client.lock().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(())
    }

    fn request(&self, method: Method, url: &str) -> RequestBuilder {
        let client = self
            .client
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let rb = client.request(method, url);
        match &self.cfg.credentials {
            Some(c) => rb.basic_auth(&c.user, Some(&c.password)),
            None => rb,
        }
    }

    async fn send(&self, rb: RequestBuilder, what: &str) -> Result<Response> {
        rb.send().await.map_err(|e| transport_error(&e, what))
    }

    /// PUT of the local file at `local` (`size` bytes) to `url`, streamed;
    /// fails as transient when no byte moves for the timeout.
    pub async fn put_file(
        &self,
        local: &Path,
        size: u64,
        url: &str,
        progress: &mut Reporter<'_>,
    ) -> Result<StatusCode> {
        let file = tokio::fs::File::open(local).await.map_err(|e| {
            BackendError::from_io(&e, format!("reading local file {}", local.display()))
        })?;
        let sent = Arc::new(AtomicU64::new(0));
        let counter = sent.clone();
        let body = ReaderStream::with_capacity(file, READ_CHUNK).inspect_ok(move |chunk| {
            counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        });
        let rb = self
            .request(Method::PUT, url)
            .header(CONTENT_LENGTH, size)
            .body(Body::wrap_stream(body));
        let what = format!("PUT {url}");
        let response = watch(rb.send(), &sent, self.cfg.timeout, progress, &what)
            .await?
            .map_err(|e| transport_error(&e, &what))?;
        Ok(response.status())
    }

    /// GET of `url` into a new temporary file beside `local` (committed by
    /// the caller). A missing object fails before anything local exists.
    pub async fn get_file(
        &self,
        url: &str,
        local: &Path,
        progress: Option<&Progress>,
    ) -> Result<LocalTemp> {
        use std::io::Write;
        let what = format!("GET {url}");
        let mut response = self.send(self.request(Method::GET, url), &what).await?;
        if !response.status().is_success() {
            return Err(status_error(response.status(), &what));
        }
        let expected = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let temp = LocalTemp::create(local)?;
        let mut reporter = Reporter::start(progress, expected.unwrap_or(0));
        let mut file = temp.file();
        let mut done = 0u64;
        loop {
            let chunk = tokio::time::timeout(self.cfg.timeout, response.chunk())
                .await
                .map_err(|_| {
                    BackendError::transient(format!(
                        "{what}: no data for {:?} after {done} bytes",
                        self.cfg.timeout
                    ))
                })?
                .map_err(|e| transport_error(&e, &what))?;
            let Some(chunk) = chunk else { break };
            file.write_all(&chunk)
                .map_err(|e| BackendError::from_io(&e, format!("writing {}", local.display())))?;
            done += chunk.len() as u64;
            reporter.at(done);
        }
        if let Some(expected) = expected.filter(|&e| e != done) {
            return Err(BackendError::transient(format!(
                "{what}: the answer ended after {done} of {expected} bytes"
            )));
        }
        Ok(temp)
    }

    /// PROPFIND with `Depth: 1`: the collection and its members; `None`
    /// when the collection does not exist.
    pub async fn list(&self, url: &str) -> Result<Option<Vec<Entry>>> {
        self.propfind(url, "1").await
    }

    /// Whether `url` is an existing collection (PROPFIND with `Depth: 0`).
    pub async fn is_collection(&self, url: &str) -> Result<bool> {
        let entries = self.propfind(url, "0").await?;
        Ok(entries.is_some_and(|e| e.first().is_some_and(|e| e.collection)))
    }

    /// PROPFIND with `depth`; `None` when `url` does not exist.
    async fn propfind(&self, url: &str, depth: &'static str) -> Result<Option<Vec<Entry>>> {
        let what = format!("PROPFIND {url}");
        let rb = self
            .request(method("PROPFIND"), url)
            .header("Depth", depth)
            .header(CONTENT_TYPE, "application/xml; charset=utf-8")
            .body(propfind::BODY);
        let response = self.send(rb, &what).await?;
        match response.status() {
            StatusCode::NOT_FOUND => return Ok(None),
            StatusCode::MULTI_STATUS => {}
            status => return Err(status_error(status, &what)),
        }
        let text = tokio::time::timeout(self.cfg.timeout * 4, response.text())
            .await
            .map_err(|_| BackendError::transient(format!("{what}: the listing stalled")))?
            .map_err(|e| transport_error(&e, &what))?;
        propfind::parse(&text)
            .map(Some)
            .map_err(|m| BackendError::generic(format!("{what}: {m}")))
    }

    /// HEAD: the size, or `None` when missing.
    pub async fn size(&self, url: &str) -> Result<Option<u64>> {
        let what = format!("HEAD {url}");
        let response = self.send(self.request(Method::HEAD, url), &what).await?;
        match response.status() {
            StatusCode::NOT_FOUND | StatusCode::GONE => Ok(None),
            s if s.is_success() => Ok(Some(
                response
                    .headers()
                    .get(CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok()?.parse().ok())
                    .ok_or_else(|| {
                        BackendError::generic(format!("{what}: no Content-Length in the answer"))
                    })?,
            )),
            s => Err(status_error(s, &what)),
        }
    }

    /// DELETE; a missing resource is not found.
    pub async fn delete(&self, url: &str) -> Result<()> {
        let what = format!("DELETE {url}");
        let response = self.send(self.request(Method::DELETE, url), &what).await?;
        match response.status() {
            s if s.is_success() => Ok(()),
            s => Err(status_error(s, &what)),
        }
    }

    /// MOVE `from` over `to` (`Overwrite: T`).
    pub async fn move_over(&self, from: &str, to: &str) -> Result<()> {
        let what = format!("MOVE {from} to {to}");
        let rb = self
            .request(method("MOVE"), from)
            .header("Destination", to)
            .header("Overwrite", "T");
        let response = self.send(rb, &what).await?;
        match response.status() {
            s if s.is_success() => Ok(()),
            s => Err(status_error(s, &what)),
        }
    }

    /// MKCOL of the collection and each missing parent.
    pub async fn make_collection(&self) -> Result<()> {
        let base = self.cfg.base.as_str();
        // Everything after "scheme://host/".
        let root_end = base
            .find("://")
            .and_then(|i| base[i + 3..].find('/').map(|j| i + 3 + j + 1))
            .unwrap_or(base.len());
        let mut end = root_end;
        while let Some(i) = base[end..].find('/') {
            end += i + 1;
            let url = &base[..end];
            let what = format!("MKCOL {url}");
            let response = self.send(self.request(method("MKCOL"), url), &what).await?;
            match response.status() {
                // Created, or already there.
                s if s.is_success() || s == StatusCode::METHOD_NOT_ALLOWED => {}
                s if s.is_redirection() => {}
                s => return Err(status_error(s, &what)),
            }
        }
        Ok(())
    }
}

/// Awaits `fut`, reporting the bytes counted in `sent` on this thread, and
/// gives up when nothing moved for `timeout`.
async fn watch<F: std::future::Future>(
    fut: F,
    sent: &AtomicU64,
    timeout: Duration,
    progress: &mut Reporter<'_>,
    what: &str,
) -> Result<F::Output> {
    tokio::pin!(fut);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let (mut last, mut moved) = (0u64, Instant::now());
    loop {
        tokio::select! {
            out = &mut fut => {
                progress.at(sent.load(Ordering::Relaxed));
                return Ok(out);
            }
            _ = tick.tick() => {
                let now = sent.load(Ordering::Relaxed);
                if now != last {
                    (last, moved) = (now, Instant::now());
                    progress.at(now);
                } else if moved.elapsed() > timeout {
                    return Err(BackendError::transient(format!(
                        "{what}: no progress for {timeout:?} after {now} bytes"
                    )));
                }
            }
        }
    }
}
