//! SHA-256 as the store names content: lower-case hex.

use std::fs::OpenOptions;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use sha2::{Digest, Sha256};

/// SHA-256 of no bytes.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Whether `s` is 64 lower-case hex digits.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `bytes` as lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The most read at once by [`sha256_copy`].
const CHUNK: u64 = 256 * 1024;

/// SHA-256 and length of what `reader` yields, handing every chunk read
/// to `sink` as well (to copy what is hashed, in the same pass).
/// `expected`: about how many bytes will come; the buffer is sized for it
/// (a backup hashes many small files, and zeroing a full chunk for each
/// would cost more than hashing it).
pub fn sha256_copy(
    mut reader: impl Read,
    expected: u64,
    mut sink: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    // One byte more than expected, so the end is seen in the first read.
    let len = expected.saturating_add(1).clamp(8 * 1024, CHUNK) as usize;
    let mut buf = vec![0u8; len];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        sink(&buf[..n])?;
        total += n as u64;
    }
    Ok((hex(&hasher.finalize()), total))
}

/// SHA-256 and length of the file at `path` (a symlink is not followed).
pub fn sha256_file(path: &Path) -> io::Result<(String, u64)> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    sha256_copy(file, CHUNK, |_| Ok(()))
}
