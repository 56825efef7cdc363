//! Signed S3 requests sent without OpenDAL, for what OpenDAL 0.59 cannot
//! do: list a key's pending multipart uploads, and fetch the first part of
//! an object together with its headers (size, ETag, user metadata) in one
//! request. Signed with the same `reqsign` OpenDAL uses; the payload is
//! never hashed (`UNSIGNED-PAYLOAD`), as OpenDAL's own requests.

use http::header::HeaderValue;
use http::Method;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqsign_aws_v4::{Credential, RequestSigner};
use reqsign_core::{Context, SignRequest};

use crate::config::S3Config;
use crate::credentials::Credentials;

/// Characters escaped in a query value: all but RFC 3986's unreserved.
pub(crate) const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// Characters escaped in a key in the path: as a query value, but `/`
/// stays.
pub(crate) const PATH: &AsciiSet = &QUERY.remove(b'/');

/// Sends signed requests to one store's bucket.
pub struct Signed {
    client: reqwest::Client,
    signer: RequestSigner,
    credential: Credential,
    /// `scheme://host[:port][/bucket]`: the bucket's URL, without a slash.
    bucket_url: String,
    /// Whether the bucket is in the path (then its own URL has no slash).
    path_style: bool,
    /// The key prefix of the store's objects (`PREFIX/`, or empty).
    key_prefix: String,
}

impl Signed {
    /// For the bucket and prefix of `cfg`, with `creds`; every request
    /// ends within the URL's timeout.
    pub fn new(cfg: &S3Config, creds: &Credentials) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .build()
            .map_err(|e| format!("building an HTTP client: {e}"))?;
        Ok(Self {
            client,
            signer: RequestSigner::new("s3", &cfg.region),
            credential: Credential {
                access_key_id: creds.key_id.clone(),
                secret_access_key: creds.secret.clone(),
                session_token: creds.token.clone(),
                expires_in: None,
            },
            bucket_url: bucket_url(cfg)?,
            path_style: cfg.path_style,
            key_prefix: if cfg.prefix.is_empty() {
                String::new()
            } else {
                format!("{}/", cfg.prefix)
            },
        })
    }

    /// The key of the store's object `name`.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.key_prefix)
    }

    /// The bucket's URL with `query` (starting with `?`).
    pub fn bucket_query_url(&self, query: &str) -> String {
        format!(
            "{}{}{query}",
            self.bucket_url,
            if self.path_style { "" } else { "/" }
        )
    }

    /// The URL of `key`, with `query` (empty, or starting with `?`).
    pub fn key_url(&self, key: &str, query: &str) -> String {
        format!(
            "{}/{}{query}",
            self.bucket_url,
            utf8_percent_encode(key, PATH)
        )
    }

    /// Sends one signed request with no body and `headers`; the response
    /// whatever its status, or why none came.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&'static str, &str)],
    ) -> Result<reqwest::Response, String> {
        let mut request = http::Request::builder()
            .method(method.clone())
            .uri(url)
            .header(
                "x-amz-content-sha256",
                HeaderValue::from_static("UNSIGNED-PAYLOAD"),
            );
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let (mut parts, ()) = request
            .body(())
            .map_err(|e| format!("building the request: {e}"))?
            .into_parts();
        self.signer
            .sign_request(&Context::new(), &mut parts, Some(&self.credential), None)
            .await
            .map_err(|e| format!("signing the request: {e}"))?;
        let mut builder = self.client.request(method, url);
        for (name, value) in &parts.headers {
            builder = builder.header(name, value);
        }
        builder.send().await.map_err(|e| e.to_string())
    }
}

/// The bucket's URL: `ENDPOINT/BUCKET` (path style) or
/// `SCHEME://BUCKET.HOST` (virtual host), AWS's regional endpoint when the
/// URL names none.
fn bucket_url(cfg: &S3Config) -> Result<String, String> {
    let endpoint = cfg
        .endpoint
        .clone()
        .unwrap_or_else(|| format!("https://s3.{}.amazonaws.com", cfg.region));
    let endpoint = endpoint.trim_end_matches('/');
    if cfg.path_style {
        return Ok(format!("{endpoint}/{}", cfg.bucket));
    }
    let (scheme, host) = endpoint
        .split_once("://")
        .ok_or_else(|| format!("endpoint {endpoint} has no scheme"))?;
    Ok(format!("{scheme}://{}.{host}", cfg.bucket))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_urls_follow_the_addressing_style() {
        let mut cfg =
            S3Config::from_url("s3://bkt/pre?endpoint=http://127.0.0.1:3900&path_style=true")
                .unwrap();
        assert_eq!(bucket_url(&cfg).unwrap(), "http://127.0.0.1:3900/bkt");
        cfg.path_style = false;
        assert_eq!(bucket_url(&cfg).unwrap(), "http://bkt.127.0.0.1:3900");
        cfg.endpoint = None;
        cfg.region = "eu-west-1".into();
        assert_eq!(
            bucket_url(&cfg).unwrap(),
            "https://bkt.s3.eu-west-1.amazonaws.com"
        );
    }
}
