//! The sidecars: one small object per stored object, holding its SHA-256.
//!
//! Naming. The obvious name, `NAME.sha256`, does not work: an object name
//! may have 255 bytes, the most a backend has to accept, so `NAME.sha256`
//! can be too long for the inner backend; and a user object really called
//! `x.sha256` would collide with the sidecar of `x`. So the sidecar of
//! `NAME` is named after the SHA-256 of the *name*: [`SIDECAR_PREFIX`]
//! followed by 64 hex digits, 79 bytes whatever the name. Names starting
//! with the prefix are reserved: refused as invalid input, never listed.
//!
//! Content. One line in the format of `sha256sum`: `HEX  NAME\n`. The name
//! makes a sidecar self-describing (and lets us notice a sidecar that does
//! not belong to the object), and `sha256sum -c` can read it.

use std::fs::File;
use std::io;
use std::path::Path;

use sha2::{Digest, Sha256};
use stowage_backend_api::{BackendError, ErrorCode, Result};

/// Every sidecar name starts with this; user objects may not.
pub const SIDECAR_PREFIX: &str = ".verify-sha256-";

/// The name of the sidecar of object `name`.
pub fn sidecar_name(name: &str) -> String {
    format!("{SIDECAR_PREFIX}{:x}", Sha256::digest(name.as_bytes()))
}

/// Whether an inner object is a sidecar (hidden from `list`).
pub fn is_sidecar(inner_name: &str) -> bool {
    inner_name.starts_with(SIDECAR_PREFIX)
}

/// Refuses the reserved names. Every operation calls it first, so a user
/// can never read, overwrite or delete a sidecar directly.
pub fn check_name(name: &str) -> Result<()> {
    if is_sidecar(name) {
        return Err(BackendError::invalid_input(format!(
            "verify: object names starting with {SIDECAR_PREFIX:?} are reserved for checksums: {name:?}"
        )));
    }
    Ok(())
}

/// The SHA-256 of a local file, in lower-case hex, read in a stream (so a
/// large file never sits in memory).
pub fn digest_file(path: &Path) -> Result<String> {
    // `from_io` picks the code from the OS error: a missing file is "not
    // found", EACCES "permission denied", and so on.
    let reading = |e: io::Error| BackendError::from_io(&e, format!("reading {}", path.display()));
    let mut file = File::open(path).map_err(reading)?;
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher).map_err(reading)?;
    Ok(format!("{:x}", hasher.finalize()))
}

/// The content of the sidecar of `name`.
pub fn sidecar_text(digest: &str, name: &str) -> String {
    format!("{digest}  {name}\n")
}

/// The digest a sidecar records for `name`. Anything unexpected is a
/// validation failure: the sidecar is what lets us trust the object.
pub fn parse_sidecar(text: &[u8], name: &str) -> Result<String> {
    let bad = |why: &str| {
        BackendError::new(
            ErrorCode::VALIDATION_FAILED,
            format!("verify: the checksum of {name:?} is unusable: {why}"),
        )
    };
    let text = std::str::from_utf8(text).map_err(|_| bad("not UTF-8"))?;
    let (digest, rest) = text.split_at_checked(64).ok_or_else(|| bad("malformed"))?;
    if !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("not a SHA-256 in hex"));
    }
    if rest != format!("  {name}\n") {
        return Err(bad("it belongs to another object"));
    }
    Ok(digest.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecar_names_are_fixed_length_and_reserved() {
        let long = "n".repeat(255);
        for name in ["x", "x.sha256", long.as_str()] {
            let s = sidecar_name(name);
            assert_eq!(s.len(), SIDECAR_PREFIX.len() + 64);
            assert!(is_sidecar(&s) && check_name(&s).is_err());
            assert!(check_name(name).is_ok());
        }
        assert_ne!(sidecar_name("x"), sidecar_name("X"));
    }

    #[test]
    fn sidecar_text_round_trips() {
        let digest = "ab".repeat(32);
        let text = sidecar_text(&digest, "vol 1");
        assert_eq!(parse_sidecar(text.as_bytes(), "vol 1").unwrap(), digest);
        let wrong = parse_sidecar(text.as_bytes(), "vol 2").unwrap_err();
        assert_eq!(wrong.code(), ErrorCode::VALIDATION_FAILED);
        assert!(parse_sidecar(b"short", "x").is_err());
    }
}
