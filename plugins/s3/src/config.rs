//! `s3://` URL parsing.

use std::time::Duration;

use stowage_backend_api::location::PathUrl;
use stowage_backend_api::{BackendError, Result};
use stowage_net_common::QueryParamsExt;

/// S3's smallest multipart part (except the last).
pub const MIN_CHUNK: u64 = 5 << 20;
/// S3's largest part.
pub const MAX_CHUNK: u64 = 5 << 30;
/// Default part size: awscli's.
pub const DEFAULT_CHUNK: u64 = 8 << 20;
/// Default parts in flight per transfer.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// What an `s3://` URL asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Config {
    /// The bucket.
    pub bucket: String,
    /// The key prefix (without slashes at either end; empty for the bucket
    /// root). Objects are `PREFIX/NAME`.
    pub prefix: String,
    /// `?endpoint=`: an S3-compatible server; AWS when absent.
    pub endpoint: Option<String>,
    /// `?region=`, else `AWS_REGION` / `AWS_DEFAULT_REGION`, else `us-east-1`.
    pub region: String,
    /// `?path_style=true`: `ENDPOINT/BUCKET/KEY` instead of
    /// `BUCKET.ENDPOINT/KEY`.
    pub path_style: bool,
    /// `?chunk=`: multipart part size.
    pub chunk: u64,
    /// `?concurrency=`: parts in flight per transfer.
    pub concurrency: usize,
    /// `?profile=`: the credentials profile.
    pub profile: Option<String>,
    /// `?timeout=`: each request, and each chunk of a transfer.
    pub timeout: Duration,
}

impl S3Config {
    /// `s3://BUCKET[/PREFIX][?endpoint=URL&region=R&path_style=true&chunk=8MiB&concurrency=4&profile=NAME&timeout=60s]`.
    pub fn from_url(url: &str) -> Result<Self> {
        let parsed = PathUrl::parse(url)?;
        let mut params = parsed.params();
        let endpoint = params.take("endpoint");
        let region = params.take("region");
        let path_style = params.take_bool("path_style", false)?;
        let chunk = params.take_size("chunk", DEFAULT_CHUNK)?;
        let concurrency = params.take_count("concurrency", DEFAULT_CONCURRENCY)?;
        let profile = params.take("profile");
        let timeout = params.take_timeout()?;
        params.finish()?;
        if !(MIN_CHUNK..=MAX_CHUNK).contains(&chunk) {
            return Err(BackendError::invalid_input(format!(
                "s3: ?chunk={chunk} bytes is outside S3's part sizes (5MiB to 5GiB)"
            )));
        }
        if let Some(e) = &endpoint {
            if !(e.starts_with("http://") || e.starts_with("https://")) {
                return Err(BackendError::invalid_input(format!(
                    "s3: ?endpoint={e} must start with http:// or https://"
                )));
            }
        }
        let (bucket, path) = parsed.authority_and_path()?;
        if bucket.contains('@') {
            return Err(BackendError::invalid_input(
                "s3: credentials in the URL are not supported; use AWS_ACCESS_KEY_ID / \
                 AWS_SECRET_ACCESS_KEY or ~/.aws/credentials",
            ));
        }
        if bucket.len() < 3 || bucket.len() > 63 {
            return Err(BackendError::invalid_input(format!(
                "s3: invalid bucket name {bucket:?} (3 to 63 characters)"
            )));
        }
        let prefix = path
            .to_str()
            .ok_or_else(|| BackendError::invalid_input("s3: the prefix is not valid UTF-8"))?
            .trim_matches('/')
            .to_string();
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let region = region
            .or_else(|| env("AWS_REGION"))
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".into());
        Ok(Self {
            bucket,
            prefix,
            endpoint,
            region,
            path_style,
            chunk,
            concurrency,
            profile,
            timeout,
        })
    }

    /// The OpenDAL root: `/PREFIX/`.
    pub fn root(&self) -> String {
        if self.prefix.is_empty() {
            "/".into()
        } else {
            format!("/{}/", self.prefix)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let c = S3Config::from_url(
            "s3://backups/host1/daily?endpoint=http://127.0.0.1:3900&region=garage&path_style=true&chunk=16MiB&concurrency=8&profile=ci",
        )
        .unwrap();
        assert_eq!(c.bucket, "backups");
        assert_eq!(c.root(), "/host1/daily/");
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:3900"));
        assert_eq!((c.region.as_str(), c.path_style), ("garage", true));
        assert_eq!((c.chunk, c.concurrency), (16 << 20, 8));
        assert_eq!(c.profile.as_deref(), Some("ci"));
        let c = S3Config::from_url("s3://bucket").unwrap();
        assert_eq!(
            (c.root().as_str(), c.chunk, c.concurrency),
            ("/", 8 << 20, 4)
        );
    }

    #[test]
    fn refusals() {
        for bad in [
            "s3://bucket?chunk=4MiB",
            "s3://bucket?chunk=6GiB",
            "s3://bucket?concurrency=0",
            "s3://bucket?endpoint=127.0.0.1:3900",
            "s3://AKIA:secret@bucket/x",
            "s3://bucket?colour=red",
        ] {
            assert!(S3Config::from_url(bad).is_err(), "{bad}");
        }
        let e = S3Config::from_url("s3://AKIAX:hunter2secret@bucket/x").unwrap_err();
        assert!(!e.message().contains("hunter2secret"), "{e}");
        let e = S3Config::from_url("s3://bucket?chunk=4MiB").unwrap_err();
        assert!(e.message().contains("5MiB"), "{e}");
    }
}
