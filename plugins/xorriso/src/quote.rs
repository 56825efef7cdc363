//! Escaping names into xorriso commands and decoding names out of its replies.
//!
//! xorriso runs with `-backslash_codes on` (escapes such as `\n` are decoded in arguments and encoded in output): every argument we send is
//! single-quoted and every byte outside 0x21..=0x7E, plus `'`, `"` and `\`, is written as
//! `\xHH`, so no name can split a dialog line, open a continuation prompt or be taken for an
//! option. Names in result lines come back shell-quoted (`'…'`, an embedded `'` as
//! `'"'"'`) with control bytes, non-ASCII bytes and `\` backslash-encoded; [`decode_word`]
//! undoes both layers. With `-iso_rr_pattern off` and `-disk_pattern off` the decoded bytes
//! are taken literally, so `*?[]` in names are plain characters.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Quote arbitrary bytes as one xorriso argument.
pub fn arg_bytes(p: &[u8]) -> String {
    let mut s = String::with_capacity(p.len() + 2);
    s.push('\'');
    for &b in p {
        if (0x21..=0x7e).contains(&b) && !b"'\"\\".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    s.push('\'');
    s
}

/// Quote a text argument (ISO path, setting value).
pub fn arg(p: &str) -> String {
    arg_bytes(p.as_bytes())
}

/// Quote a local filesystem path.
pub fn path_arg(p: &Path) -> String {
    arg_bytes(p.as_os_str().as_bytes())
}

/// Decode one shell-quoted, backslash-encoded word at the start of `s` (leading blanks are
/// skipped). Returns the bytes and the rest of the text after the word, or `None` if a quote
/// is not closed.
pub fn decode_word(s: &str) -> Option<(Vec<u8>, &str)> {
    let s = s.trim_start_matches([' ', '\t']);
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => {
                let end = i + 1 + bytes[i + 1..].iter().position(|&b| b == b'\'')?;
                decode_backslashes(&bytes[i + 1..end], &mut out);
                i = end + 1;
            }
            b'"' => {
                // xorriso only uses "'" here; treat the content literally except \" and \\.
                let mut j = i + 1;
                loop {
                    match bytes.get(j) {
                        None => return None,
                        Some(b'"') => break,
                        Some(b'\\') if matches!(bytes.get(j + 1), Some(b'"') | Some(b'\\')) => {
                            out.push(bytes[j + 1]);
                            j += 2;
                        }
                        Some(&b) => {
                            out.push(b);
                            j += 1;
                        }
                    }
                }
                i = j + 1;
            }
            b' ' | b'\t' | b'\n' => break,
            _ => {
                // Unquoted text: take up to the next quote or blank, decoding escapes.
                let start = i;
                while i < bytes.len() && !b"'\" \t\n".contains(&bytes[i]) {
                    i += 1;
                }
                decode_backslashes(&bytes[start..i], &mut out);
            }
        }
    }
    Some((out, &s[i..]))
}

/// Undo xorriso's output encoding: `\a \b \e \f \n \r \t \v \\`, `\NNN` (octal), `\xHH`.
/// Unknown sequences are kept as they are.
pub fn decode_backslashes(src: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < src.len() {
        let b = src[i];
        if b != b'\\' || i + 1 >= src.len() {
            out.push(b);
            i += 1;
            continue;
        }
        let c = src[i + 1];
        let simple = match c {
            b'a' => Some(7),
            b'b' => Some(8),
            b'e' => Some(27),
            b'f' => Some(12),
            b'n' => Some(10),
            b'r' => Some(13),
            b't' => Some(9),
            b'v' => Some(11),
            b'\\' => Some(b'\\'),
            _ => None,
        };
        if let Some(v) = simple {
            out.push(v);
            i += 2;
            continue;
        }
        if (b'0'..=b'7').contains(&c) {
            let mut v: u32 = 0;
            let mut j = i + 1;
            while j < src.len() && j < i + 4 && (b'0'..=b'7').contains(&src[j]) {
                v = v * 8 + u32::from(src[j] - b'0');
                j += 1;
            }
            out.push((v & 0xff) as u8);
            i = j;
            continue;
        }
        if c == b'x' && i + 4 <= src.len() {
            let hex = &src[i + 2..i + 4];
            if let Some(v) = std::str::from_utf8(hex)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_hostile_bytes() {
        assert_eq!(arg("abc"), "'abc'");
        assert_eq!(arg("a b"), "'a\\x20b'");
        assert_eq!(arg("it's"), "'it\\x27s'");
        assert_eq!(arg("q\"\\"), "'q\\x22\\x5c'");
        assert_eq!(arg("n\nü"), "'n\\x0a\\xc3\\xbc'");
        assert_eq!(arg("-a*?[]"), "'-a*?[]'");
    }

    #[test]
    fn decodes_xorriso_output() {
        let (w, rest) = decode_word(r#"'/dir/a b'"'"'c\n\303\274' tail"#).unwrap();
        assert_eq!(w, "/dir/a b'c\nü".as_bytes());
        assert_eq!(rest, " tail");
        let (w, _) = decode_word(r#"'/d/back\\slash\ttab"dq'"#).unwrap();
        assert_eq!(w, b"/d/back\\slash\ttab\"dq");
        let (w, _) = decode_word(r"'\001\177\a\e'").unwrap();
        assert_eq!(w, b"\x01\x7f\x07\x1b");
        assert!(decode_word("'unterminated").is_none());
    }

    #[test]
    fn round_trip_all_bytes() {
        // Encoding with arg() and decoding the \xHH form gives the bytes back.
        let all: Vec<u8> = (1u8..=255).collect();
        let q = arg_bytes(&all);
        let (w, rest) = decode_word(&q).unwrap();
        assert_eq!(w, all);
        assert_eq!(rest, "");
    }
}
