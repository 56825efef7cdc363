//! Parsers for xorriso's result and status lines.
//!
//! Listing uses `-find DIR -maxdepth 1 -type f -exec report_lba --`, whose lines are
//! `File data lba: xt , startlba , blocks , filesize , 'path'` (xorriso's `-report_lba`): split at the
//! first four commas, the rest is the shell-quoted path. A file larger than 4 GiB has one line
//! per extent. xorriso 1.5.4 (`Xorriso_report_lba` → `Xorriso__start_end_lbas`, which sets
//! `*size = iso_file_get_size(file)`) prints the size of the *whole file* on every extent
//! line, so summing the lines would double a 5 GiB file; we take the common value, and sum
//! only if the extent lines disagree (a format that reports extent sizes). Parsing is kept
//! apart so it can be tested on captured output.

use std::collections::BTreeMap;

use crate::quote;

/// One entry of a `report_lba` listing.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Extent {
    path: Vec<u8>,
    size: u64,
}

fn parse_lba_line(line: &str) -> Option<Extent> {
    let rest = line.strip_prefix("File data lba:")?;
    let mut parts = rest.splitn(5, ',');
    let _xt = parts.next()?;
    let _lba = parts.next()?;
    let _blocks = parts.next()?;
    let size: u64 = parts.next()?.trim().parse().ok()?;
    let (path, _) = quote::decode_word(parts.next()?)?;
    Some(Extent { path, size })
}

/// The regular files directly inside `dir` (an absolute ISO directory, `/` or `/a/b`)
/// with their sizes. Entries in subdirectories, and names that are not valid UTF-8 (never
/// written by stowage), are left out.
pub fn files_in_dir(lines: &[String], dir: &str) -> BTreeMap<String, u64> {
    let prefix = if dir == "/" {
        "/".to_string()
    } else {
        format!("{dir}/")
    };
    let mut sizes: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for line in lines {
        if line.starts_with("Report layout:") {
            continue;
        }
        let Some(e) = parse_lba_line(line) else {
            if !line.trim().is_empty() {
                log::warn!("unexpected line in an xorriso listing: {line:?}");
            }
            continue;
        };
        let Some(rel) = e.path.strip_prefix(prefix.as_bytes()) else {
            continue;
        };
        if rel.is_empty() || rel.contains(&b'/') {
            continue;
        }
        match String::from_utf8(rel.to_vec()) {
            Ok(name) => sizes.entry(name).or_default().push(e.size),
            Err(_) => log::warn!(
                "skipping {:?} in the listing: its name is not valid UTF-8",
                String::from_utf8_lossy(&e.path)
            ),
        }
    }
    sizes
        .into_iter()
        .map(|(name, v)| {
            let first = v[0];
            let size = if v.iter().all(|&s| s == first) {
                first
            } else {
                v.iter().sum()
            };
            (name, size)
        })
        .collect()
}

/// What `-toc`, `-tell_media_space` and the `-dev` status lines say about the medium.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaStatus {
    pub blank: bool,
    /// "Media status : … is closed": a finalised disc (or a non-ISO file).
    pub closed_seen: bool,
    pub sessions: u32,
    pub readable_blocks: Option<u64>,
    pub free_blocks: Option<u64>,
    pub volume_id: Option<String>,
}

/// Parse status lines (from results or info, they look the same).
pub fn media_status<'a>(lines: impl IntoIterator<Item = &'a String>) -> MediaStatus {
    let mut st = MediaStatus::default();
    let mut toc_sessions = 0u32;
    let mut summary_sessions = None;
    for l in lines {
        if let Some(v) = field(l, "Media status") {
            st.blank = v.contains("is blank");
            st.closed_seen = v.contains("is closed");
        } else if let Some(v) = field(l, "Media summary") {
            // "1 session, 33 data blocks, 66.0k data, 79.6g free" or "0 sessions, …"
            summary_sessions = v.split_whitespace().next().and_then(|n| n.parse().ok());
        } else if field(l, "ISO session").is_some() {
            toc_sessions += 1;
        } else if let Some(v) = field(l, "Media blocks") {
            // "64 readable , 41721772 writable , 41721836 overall"
            st.readable_blocks = v.split_whitespace().next().and_then(|n| n.parse().ok());
        } else if let Some(v) = field(l, "Media space") {
            st.free_blocks = v.trim().trim_end_matches('s').trim().parse().ok();
        } else if let Some(v) = field(l, "Volume Id").or_else(|| field(l, "Volume id")) {
            let v = v.trim();
            let v = if v.len() >= 2 && v.starts_with('\'') && v.ends_with('\'') {
                quote::decode_word(v)
                    .map(|(b, _)| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_else(|| v.to_string())
            } else {
                v.to_string()
            };
            st.volume_id = Some(v);
        }
    }
    st.sessions = summary_sessions.unwrap_or(toc_sessions).max(toc_sessions);
    st
}

/// `"Label   : value"` → `Some("value")` when the label matches.
fn field<'a>(line: &'a str, label: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(label)?;
    let rest = rest.trim_start_matches(' ');
    let rest = rest.strip_prefix(':')?;
    Some(rest.strip_prefix(' ').unwrap_or(rest))
}

/// From `-assert_volid: Volume id does not match pattern: 'OTHER*' <> 'BKP1'`, the id found.
pub fn volid_mismatch_found(text: &str) -> Option<String> {
    let (_, rest) = text.split_once("does not match pattern:")?;
    let (_, found) = rest.rsplit_once("<>")?;
    let (b, _) = quote::decode_word(found.trim())?;
    Some(String::from_utf8_lossy(&b).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(|l| l.to_string()).collect()
    }

    #[test]
    fn listing_direct_children_only() {
        let out = lines(
            r#"Report layout: xt , Startlba ,   Blocks , Filesize , ISO image path
File data lba:  0 ,       60 ,        3 ,     5000 , '/dir/-a*'
File data lba:  0 ,       59 ,        1 ,        6 , '/dir/a b'"'"'c\n\303\274'
File data lba:  0 ,       59 ,        1 ,        6 , '/dir/sub/inner'
File data lba:  0 ,       55 ,        0 ,        0 , '/dir/zero'
File data lba:  0 ,       55 ,        0 ,        0 , '/other/x'"#,
        );
        let m = files_in_dir(&out, "/dir");
        assert_eq!(m.len(), 3, "{m:?}");
        assert_eq!(m["-a*"], 5000);
        assert_eq!(m["a b'c\nü"], 6);
        assert_eq!(m["zero"], 0);
        let root = files_in_dir(&out, "/");
        assert!(root.is_empty());
    }

    #[test]
    fn multi_extent_size_not_doubled() {
        // Captured from xorriso 1.5.4 with a 4400 MiB file: every extent line carries the
        // whole file size.
        let out = lines(
            "Report layout: xt , Startlba ,   Blocks , Filesize , ISO image path\n\
             File data lba:  0 ,       55 ,  2097151 , 4613734400 , '/big'\n\
             File data lba:  1 ,  2097206 ,   155649 , 4613734400 , '/big'",
        );
        assert_eq!(files_in_dir(&out, "/")["big"], 4_613_734_400);
        // A format that reports per-extent sizes is summed.
        let out = lines(
            "File data lba:  0 ,       33 ,  2097151 , 4294965248 , '/big'\n\
             File data lba:  1 ,  2097184 ,    155601 , 318769152 , '/big'",
        );
        assert_eq!(files_in_dir(&out, "/")["big"], 4_613_734_400);
    }

    #[test]
    fn toc_and_space() {
        let out = lines(
            "Drive current: -dev 'stdio:/tmp/xe/a.iso'
Media status : is written , is appendable
Media blocks : 96 readable , 41724006 writable , 41724102 overall
TOC layout   : Idx ,  sbsector ,       Size , Volume Id
ISO session  :   1 ,        32 ,        33s , ISOIMAGE
ISO session  :   2 ,        96 ,        33s , ISOIMAGE
Media summary: 2 sessions, 33 data blocks, 66.0k data, 79.6g free
Media nwa    : 96s
Media space  : 41724004s
After commit : 41724004s
Volume Id    : MY VOL",
        );
        let st = media_status(&out);
        assert!(!st.blank);
        assert_eq!(st.sessions, 2);
        assert_eq!(st.readable_blocks, Some(96));
        assert_eq!(st.free_blocks, Some(41724004));
        assert_eq!(st.volume_id.as_deref(), Some("MY VOL"));
        let st = media_status(&lines("Media status : is blank\nVolume id    : 'ISOIMAGE'"));
        assert!(st.blank);
        assert_eq!(st.volume_id.as_deref(), Some("ISOIMAGE"));
    }

    #[test]
    fn volid_mismatch() {
        assert_eq!(
            volid_mismatch_found(
                "-assert_volid: Volume id does not match pattern: 'OTHER*' <> 'BKP1'"
            )
            .as_deref(),
            Some("BKP1")
        );
    }
}
