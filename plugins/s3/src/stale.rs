//! Multipart uploads a killed process left behind.
//!
//! A put that fails aborts its own multipart upload (see the store), but a
//! process killed in the middle of one leaves the upload pending: its
//! parts are stored (and billed) yet invisible in listings. Before a
//! multipart put of a name, the pending uploads of exactly that key are
//! aborted. OpenDAL 0.59 cannot list multipart uploads, so this sends
//! ListMultipartUploads (with the key as prefix) and AbortMultipartUpload
//! itself, signed with the same `reqsign` OpenDAL uses. Only uploads whose
//! key is exactly the put's key are touched, never another key's.

use std::fmt::Write as _;

use http::header::HeaderValue;
use http::Method;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqsign_aws_v4::{Credential, RequestSigner};
use reqsign_core::{Context, SignRequest};

use crate::config::S3Config;
use crate::credentials::Credentials;

/// Characters escaped in a query value: all but RFC 3986's unreserved.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// Characters escaped in a key in the path: as a query value, but `/`
/// stays.
const PATH: &AsciiSet = &QUERY.remove(b'/');

/// Listing pages followed at most for one key (1,000 uploads a page).
const MAX_PAGES: usize = 20;

/// What sends the signed requests of one store.
pub struct StaleUploads {
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

/// A pending multipart upload.
#[derive(Debug, PartialEq, Eq)]
struct Upload {
    key: String,
    id: String,
}

impl StaleUploads {
    /// For the bucket and prefix of `cfg`, with `creds`.
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

    /// Aborts every pending multipart upload of object `name`; returns how
    /// many were aborted.
    pub async fn abort_all(&self, name: &str) -> Result<usize, String> {
        let key = format!("{}{name}", self.key_prefix);
        let mut aborted = 0;
        for upload in self.pending(&key).await? {
            self.abort(&upload).await?;
            aborted += 1;
        }
        Ok(aborted)
    }

    /// The pending uploads of exactly `key`.
    async fn pending(&self, key: &str) -> Result<Vec<Upload>, String> {
        let mut found = Vec::new();
        let mut markers: Option<(String, String)> = None;
        for _ in 0..MAX_PAGES {
            let mut url = format!(
                "{}{}?uploads&prefix={}",
                self.bucket_url,
                if self.path_style { "" } else { "/" },
                utf8_percent_encode(key, QUERY)
            );
            if let Some((key_marker, id_marker)) = &markers {
                let _ = write!(
                    url,
                    "&key-marker={}&upload-id-marker={}",
                    utf8_percent_encode(key_marker, QUERY),
                    utf8_percent_encode(id_marker, QUERY)
                );
            }
            let body = self.send(Method::GET, &url).await?;
            let page = parse_listing(&body)?;
            found.extend(page.uploads.into_iter().filter(|u| u.key == key));
            match page.next {
                Some(next) => markers = Some(next),
                None => return Ok(found),
            }
        }
        Ok(found)
    }

    async fn abort(&self, upload: &Upload) -> Result<(), String> {
        let url = format!(
            "{}/{}?uploadId={}",
            self.bucket_url,
            utf8_percent_encode(&upload.key, PATH),
            utf8_percent_encode(&upload.id, QUERY)
        );
        self.send(Method::DELETE, &url).await.map(drop)
    }

    /// Sends one signed request with no body; the response body of a
    /// success, else the status and what the server said.
    async fn send(&self, method: Method, url: &str) -> Result<String, String> {
        let request = http::Request::builder()
            .method(method.clone())
            .uri(url)
            .header(
                "x-amz-content-sha256",
                HeaderValue::from_static("UNSIGNED-PAYLOAD"),
            )
            .body(())
            .map_err(|e| format!("building the request: {e}"))?;
        let (mut parts, ()) = request.into_parts();
        self.signer
            .sign_request(&Context::new(), &mut parts, Some(&self.credential), None)
            .await
            .map_err(|e| format!("signing the request: {e}"))?;
        let mut builder = self.client.request(method, url);
        for (name, value) in &parts.headers {
            builder = builder.header(name, value);
        }
        let response = builder.send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response.text().await.map_err(|e| e.to_string())?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(format!("HTTP {status}: {}", error_code(&body)))
        }
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

/// One page of ListMultipartUploads.
struct Page {
    uploads: Vec<Upload>,
    /// The key and upload-id markers of the next page, when truncated.
    next: Option<(String, String)>,
}

/// Reads a ListMultipartUploadsResult: each `<Upload>`'s `<Key>` and
/// `<UploadId>`, and the markers of the next page.
fn parse_listing(xml: &str) -> Result<Page, String> {
    let mut uploads = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<Upload>") {
        let after = &rest[start + "<Upload>".len()..];
        let end = after
            .find("</Upload>")
            .ok_or("ListMultipartUploads: an <Upload> is not closed")?;
        let one = &after[..end];
        let field = |tag| {
            element(one, tag).ok_or(format!("ListMultipartUploads: <Upload> without <{tag}>"))
        };
        uploads.push(Upload {
            key: field("Key")?,
            id: field("UploadId")?,
        });
        rest = &after[end..];
    }
    let truncated = element(xml, "IsTruncated").is_some_and(|t| t == "true");
    let next = match (
        truncated,
        element(xml, "NextKeyMarker"),
        element(xml, "NextUploadIdMarker"),
    ) {
        (true, Some(key), Some(id)) => Some((key, id)),
        _ => None,
    };
    Ok(Page { uploads, next })
}

/// The unescaped text of the first `<tag>` in `xml` (empty for `<tag/>`).
fn element(xml: &str, tag: &str) -> Option<String> {
    if xml.contains(&format!("<{tag}/>")) && !xml.contains(&format!("<{tag}>")) {
        return Some(String::new());
    }
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    unescape(&xml[start..end])
}

/// XML's five entities and character references.
fn unescape(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = after.find(';')?;
        let entity = &after[..semi];
        let c = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = match entity.strip_prefix("#x").or(entity.strip_prefix("#X")) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                    None => entity.strip_prefix('#')?.parse().ok()?,
                };
                char::from_u32(code)?
            }
        };
        out.push(c);
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// The `<Code>` of an S3 error document, else its start.
fn error_code(body: &str) -> String {
    element(body, "Code").unwrap_or_else(|| body.chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_gives_keys_ids_and_the_next_page() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
<Bucket>b</Bucket><KeyMarker/><UploadIdMarker/>
<NextKeyMarker>p/a&amp;b</NextKeyMarker><NextUploadIdMarker>id2</NextUploadIdMarker>
<Prefix>p/a</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>true</IsTruncated>
<Upload><Key>p/a&amp;b</Key><UploadId>id1</UploadId><Initiated>x</Initiated></Upload>
<Upload><Key>p/a&#x26;b2</Key><UploadId>id2</UploadId></Upload>
</ListMultipartUploadsResult>"#;
        let page = parse_listing(xml).unwrap();
        assert_eq!(
            page.uploads,
            vec![
                Upload {
                    key: "p/a&b".into(),
                    id: "id1".into()
                },
                Upload {
                    key: "p/a&b2".into(),
                    id: "id2".into()
                },
            ]
        );
        assert_eq!(page.next, Some(("p/a&b".into(), "id2".into())));
        let last = parse_listing("<IsTruncated>false</IsTruncated>").unwrap();
        assert!(last.uploads.is_empty() && last.next.is_none());
    }

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
