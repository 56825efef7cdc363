//! OpenSSH `known_hosts` files: lookup (plain, wildcard, negated and hashed
//! host patterns, `[host]:port`, `@revoked`) and appending a new host.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use data_encoding::BASE64;
use hmac::{Hmac, KeyInit, Mac};
use russh::keys::ssh_key::PublicKey;
use sha1::Sha1;

/// What a `known_hosts` file says about a host's key.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A line lists this key for the host.
    Known,
    /// No line lists a key of this type for the host.
    Unknown,
    /// The host is listed with another key of the same type (line number).
    Changed(usize),
    /// An `@revoked` line lists this key (line number).
    Revoked(usize),
}

/// The name OpenSSH records a host under: `host` on port 22, else
/// `[host]:port`.
pub fn host_entry(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// Looks `key` up for `host`:`port` in the file at `path`; a missing file
/// knows nothing.
pub fn check(path: &Path, host: &str, port: u16, key: &PublicKey) -> io::Result<Verdict> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Verdict::Unknown),
        Err(e) => return Err(e),
    };
    Ok(check_text(&text, &host_entry(host, port), key))
}

fn check_text(text: &str, entry: &str, key: &PublicKey) -> Verdict {
    let mut known = false;
    let mut changed = None;
    for (i, line) in text.lines().enumerate() {
        let Some(parsed) = Line::parse(line) else {
            continue;
        };
        if !parsed.matches(entry) {
            continue;
        }
        let same_type = parsed.key.algorithm() == key.algorithm();
        let same_key = same_type && parsed.key.key_data() == key.key_data();
        match parsed.marker {
            Marker::Revoked if same_key => return Verdict::Revoked(i + 1),
            Marker::Revoked | Marker::CertAuthority => {}
            Marker::None if same_key => known = true,
            Marker::None if same_type => changed = changed.or(Some(i + 1)),
            Marker::None => {}
        }
    }
    match (known, changed) {
        (true, _) => Verdict::Known,
        (false, Some(line)) => Verdict::Changed(line),
        (false, None) => Verdict::Unknown,
    }
}

/// Appends `host`:`port` with `key` to the file at `path`, creating it
/// (mode 0600, its directory 0700) when missing.
pub fn learn(path: &Path, host: &str, port: u16, key: &PublicKey) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let mut file = fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)?;
    let keytext = key
        .to_openssh()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    // A file without a final newline must not glue our line to its last.
    let needs_newline = fs::read(path)
        .map(|d| d.last().is_some_and(|&b| b != b'\n'))
        .unwrap_or(false);
    let mut line = String::new();
    if needs_newline {
        line.push('\n');
    }
    line.push_str(&format!("{} {keytext}\n", host_entry(host, port)));
    file.write_all(line.as_bytes())
}

#[derive(Debug, PartialEq, Eq)]
enum Marker {
    None,
    Revoked,
    CertAuthority,
}

struct Line<'a> {
    marker: Marker,
    patterns: &'a str,
    key: PublicKey,
}

impl<'a> Line<'a> {
    fn parse(line: &'a str) -> Option<Self> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let mut fields = line.split_whitespace();
        let mut first = fields.next()?;
        let marker = match first {
            "@revoked" => Marker::Revoked,
            "@cert-authority" => Marker::CertAuthority,
            m if m.starts_with('@') => return None,
            _ => Marker::None,
        };
        if marker != Marker::None {
            first = fields.next()?;
        }
        let algorithm = fields.next()?;
        let data = fields.next()?;
        let key = PublicKey::from_openssh(&format!("{algorithm} {data}")).ok()?;
        Some(Self {
            marker,
            patterns: first,
            key,
        })
    }

    /// OpenSSH's rule: some pattern matches and no negated one does.
    fn matches(&self, entry: &str) -> bool {
        let entry_lower = entry.to_ascii_lowercase();
        let mut matched = false;
        for pattern in self.patterns.split(',') {
            if let Some(negated) = pattern.strip_prefix('!') {
                if glob(&negated.to_ascii_lowercase(), &entry_lower) {
                    return false;
                }
            } else if pattern.starts_with("|1|") {
                matched |= hashed_matches(pattern, entry);
            } else {
                matched |= glob(&pattern.to_ascii_lowercase(), &entry_lower);
            }
        }
        matched
    }
}

/// `|1|base64(salt)|base64(HMAC-SHA1(salt, entry))`.
fn hashed_matches(pattern: &str, entry: &str) -> bool {
    let mut parts = pattern["|1|".len()..].split('|');
    let (Some(salt), Some(hash)) = (parts.next(), parts.next()) else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (
        BASE64.decode(salt.as_bytes()),
        BASE64.decode(hash.as_bytes()),
    ) else {
        return false;
    };
    let Ok(mac) = <Hmac<Sha1> as KeyInit>::new_from_slice(&salt) else {
        return false;
    };
    mac.chain_update(entry.as_bytes())
        .verify_slice(&hash)
        .is_ok()
}

/// `*` and `?` wildcards, as in OpenSSH's host patterns.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILodkdSncUoCt+OLF8ind3kmV3urWZl0pLquISH02X8K";
    const KEY_B: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBItJvomTBhskuUZvLt/TzpKa8t0CwwSgJNU1AfjNjxk";

    fn key(text: &str) -> PublicKey {
        PublicKey::from_openssh(text).unwrap()
    }

    fn hashed(entry: &str, salt: &[u8]) -> String {
        let mac = <Hmac<Sha1> as KeyInit>::new_from_slice(salt)
            .unwrap()
            .chain_update(entry.as_bytes())
            .finalize()
            .into_bytes();
        format!("|1|{}|{}", BASE64.encode(salt), BASE64.encode(&mac))
    }

    #[test]
    fn plain_ports_and_types() {
        let a = key(KEY_A);
        let text = format!("# comment\n\nexample.org,10.0.0.1 {KEY_A}\n[h]:2222 {KEY_B}\n");
        assert_eq!(check_text(&text, "example.org", &a), Verdict::Known);
        assert_eq!(check_text(&text, "EXAMPLE.org", &a), Verdict::Known);
        assert_eq!(check_text(&text, "10.0.0.1", &a), Verdict::Known);
        assert_eq!(check_text(&text, "[h]:2222", &a), Verdict::Changed(4));
        assert_eq!(check_text(&text, "h", &a), Verdict::Unknown);
        assert_eq!(
            check_text(&text, &host_entry("h", 2222), &key(KEY_B)),
            Verdict::Known
        );
    }

    #[test]
    fn hashed_entries() {
        let a = key(KEY_A);
        let text = format!(
            "{} {KEY_A}\n",
            hashed("[127.0.0.1]:2200", b"0123456789abcdefghij")
        );
        assert_eq!(check_text(&text, "[127.0.0.1]:2200", &a), Verdict::Known);
        assert_eq!(check_text(&text, "[127.0.0.1]:2201", &a), Verdict::Unknown);
        assert_eq!(
            check_text(&text, "[127.0.0.1]:2200", &key(KEY_B)),
            Verdict::Changed(1)
        );
    }

    #[test]
    fn wildcards_negation_markers() {
        let a = key(KEY_A);
        let text = format!("*.example.org,!bad.example.org {KEY_A}\n");
        assert_eq!(check_text(&text, "www.example.org", &a), Verdict::Known);
        assert_eq!(check_text(&text, "bad.example.org", &a), Verdict::Unknown);
        let text = format!("@revoked * {KEY_A}\nh {KEY_A}\n");
        assert_eq!(check_text(&text, "h", &a), Verdict::Revoked(1));
        let text = format!("@cert-authority * {KEY_A}\n");
        assert_eq!(check_text(&text, "h", &a), Verdict::Unknown);
        assert_eq!(
            check_text("garbage line\nh ssh-ed25519 AAAA\n", "h", &a),
            Verdict::Unknown
        );
    }

    #[test]
    fn learn_appends_a_matching_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ssh").join("known_hosts");
        let a = key(KEY_A);
        learn(&path, "127.0.0.1", 2200, &a).unwrap();
        assert_eq!(check(&path, "127.0.0.1", 2200, &a).unwrap(), Verdict::Known);
        fs::write(&path, format!("other {KEY_B}")).unwrap();
        learn(&path, "h", 22, &a).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert_eq!(check(&path, "h", 22, &a).unwrap(), Verdict::Known);
        assert_eq!(
            check(&dir.path().join("none"), "h", 22, &a).unwrap(),
            Verdict::Unknown
        );
    }
}
