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

use http::Method;
use percent_encoding::utf8_percent_encode;

use crate::signed::{Signed, QUERY};
use crate::xml::{element, error_code};

/// Listing pages followed at most for one key (1,000 uploads a page).
const MAX_PAGES: usize = 20;

/// What sends the signed requests of one store.
pub struct StaleUploads {
    signed: std::sync::Arc<Signed>,
}

/// A pending multipart upload.
#[derive(Debug, PartialEq, Eq)]
struct Upload {
    key: String,
    id: String,
}

impl StaleUploads {
    /// Through `signed`, the store's requests.
    pub fn new(signed: std::sync::Arc<Signed>) -> Self {
        Self { signed }
    }

    /// Aborts every pending multipart upload of object `name`; returns how
    /// many were aborted.
    pub async fn abort_all(&self, name: &str) -> Result<usize, String> {
        let key = self.signed.key(name);
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
            let mut url = self.signed.bucket_query_url(&format!(
                "?uploads&prefix={}",
                utf8_percent_encode(key, QUERY)
            ));
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
        let url = self.signed.key_url(
            &upload.key,
            &format!("?uploadId={}", utf8_percent_encode(&upload.id, QUERY)),
        );
        self.send(Method::DELETE, &url).await.map(drop)
    }

    /// Sends one signed request with no body; the response body of a
    /// success, else the status and what the server said.
    async fn send(&self, method: Method, url: &str) -> Result<String, String> {
        let response = self.signed.send(method, url, &[]).await?;
        let status = response.status();
        let body = response.text().await.map_err(|e| e.to_string())?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(format!("HTTP {status}: {}", error_code(&body)))
        }
    }
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
}
