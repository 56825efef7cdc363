//! Reading a PROPFIND `multistatus` answer.

use percent_encoding::percent_decode_str;
use quick_xml::events::Event;
use quick_xml::Reader;

/// The request body: only the properties we read.
pub const BODY: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/></D:prop></D:propfind>"#;

/// One `response` of a multistatus answer.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Entry {
    /// The `href`, percent-decoded: a path (or a full URL) as the server
    /// wrote it.
    pub href: String,
    /// Whether `resourcetype` holds `collection`.
    pub collection: bool,
    /// `getcontentlength`, when given.
    pub size: Option<u64>,
}

impl Entry {
    /// The last path segment (empty for a root).
    pub fn name(&self) -> &str {
        self.href
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or("")
    }
}

/// The entries of `xml`, in document order.
///
/// # Errors
/// A message when the XML is malformed.
pub fn parse(xml: &str) -> Result<Vec<Entry>, String> {
    let mut reader = Reader::from_str(xml);
    let mut entries = Vec::new();
    let mut current: Option<Entry> = None;
    let mut text = String::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("bad PROPFIND answer: {e}"))?;
        match event {
            Event::Start(e) | Event::Empty(e) => {
                match e.local_name().as_ref() {
                    "response" => current = Some(Entry::default()),
                    "collection" => {
                        if let Some(c) = current.as_mut() {
                            c.collection = true;
                        }
                    }
                    _ => {}
                }
                text.clear();
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::CData(t) => text.push_str(&t),
            Event::GeneralRef(r) => {
                let name = r.to_string();
                match r.resolve_char_ref() {
                    Ok(Some(c)) => text.push(c),
                    _ => text.push_str(match name.as_str() {
                        "lt" => "<",
                        "gt" => ">",
                        "amp" => "&",
                        "apos" => "'",
                        "quot" => "\"",
                        _ => "",
                    }),
                }
            }
            Event::End(e) => {
                if let Some(c) = current.as_mut() {
                    match e.local_name().as_ref() {
                        "href" => {
                            c.href = percent_decode_str(text.trim())
                                .decode_utf8()
                                .map_err(|_| format!("href {:?} is not UTF-8", text.trim()))?
                                .into_owned()
                        }
                        "getcontentlength" => c.size = text.trim().parse().ok(),
                        "response" => entries.extend(current.take()),
                        _ => {}
                    }
                }
                text.clear();
            }
            Event::Eof => return Ok(entries),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_answer() {
        let xml = r#"<?xml version="1.0" encoding="utf-8" ?>
<D:multistatus xmlns:D="DAV:">
<D:response><D:href>/store/</D:href><D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
<D:response><D:href>/store/a%20b%2546&amp;c</D:href><D:propstat><D:prop><D:resourcetype></D:resourcetype><D:getcontentlength>12</D:getcontentlength></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
<D:response><D:href>/store/sub/</D:href><D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype></D:prop></D:propstat></D:response>
</D:multistatus>"#;
        let e = parse(xml).unwrap();
        assert_eq!(e.len(), 3);
        assert!(e[0].collection && e[0].name() == "store");
        assert_eq!(e[1].name(), "a b%46&c");
        assert_eq!((e[1].collection, e[1].size), (false, Some(12)));
        assert!(e[2].collection);
        assert!(parse("<a><b></a>").is_err());
    }
}
