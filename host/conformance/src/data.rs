//! Test content: deterministic byte patterns written and verified in
//! chunks, so that a 64 MiB object never needs 64 MiB of memory.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

/// Bytes per read or write.
const CHUNK: usize = 1 << 20;

/// One 64-bit word of the pattern `seed` at word index `i`: a SplitMix64
/// output, so that any word can be computed without the ones before it.
fn word(seed: u64, i: u64) -> u64 {
    let mut z = seed
        .wrapping_add(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(i.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Fills `buf` with the pattern `seed` starting at byte `offset`, which
/// must be a multiple of 8.
fn fill(seed: u64, offset: u64, buf: &mut [u8]) {
    debug_assert_eq!(offset % 8, 0);
    for (i, chunk) in (offset / 8..).zip(buf.chunks_mut(8)) {
        let bytes = word(seed, i).to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}

/// The content identified by `(seed, size)`: what a check wrote and expects
/// back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Content {
    pub(crate) seed: u64,
    pub(crate) size: u64,
}

impl Content {
    pub(crate) fn new(seed: u64, size: u64) -> Self {
        Self { seed, size }
    }

    /// Writes the content to a new file at `path` (replacing one there).
    pub(crate) fn write_to(&self, path: &Path) -> io::Result<()> {
        let mut file = File::create(path)?;
        let mut buf = vec![0u8; CHUNK.min(self.size as usize).max(8)];
        let mut offset = 0u64;
        while offset < self.size {
            let n = CHUNK.min((self.size - offset) as usize);
            fill(self.seed, offset, &mut buf[..n]);
            file.write_all(&buf[..n])?;
            offset += n as u64;
        }
        file.flush()
    }

    /// Checks that the file at `path` holds exactly this content. The error
    /// says how it differs (size, or the first differing byte).
    pub(crate) fn verify(&self, path: &Path) -> Result<(), String> {
        let mut file =
            File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let len = file
            .metadata()
            .map_err(|e| format!("cannot stat {}: {e}", path.display()))?
            .len();
        if len != self.size {
            return Err(format!("expected {} bytes, got {len}", self.size));
        }
        let mut want = vec![0u8; CHUNK.min(self.size as usize).max(8)];
        let mut got = vec![0u8; want.len()];
        let mut offset = 0u64;
        while offset < self.size {
            let n = CHUNK.min((self.size - offset) as usize);
            fill(self.seed, offset, &mut want[..n]);
            file.read_exact(&mut got[..n])
                .map_err(|e| format!("reading {} at byte {offset}: {e}", path.display()))?;
            if want[..n] != got[..n] {
                let at = want[..n]
                    .iter()
                    .zip(&got[..n])
                    .position(|(a, b)| a != b)
                    .unwrap_or(0);
                return Err(format!(
                    "content differs from byte {} on (of {})",
                    offset + at as u64,
                    self.size
                ));
            }
            offset += n as u64;
        }
        Ok(())
    }
}

/// A human size: `0 B`, `4 KiB`, `1 MiB + 1`, else bytes.
pub(crate) fn size_text(size: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    match size {
        s if s >= MIB && s % MIB == 0 => format!("{} MiB", s / MIB),
        s if s > MIB && s % MIB == 1 => format!("{} MiB + 1", s / MIB),
        s if s >= KIB && s % KIB == 0 => format!("{} KiB", s / KIB),
        s => format!("{s} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_round_trip_and_differ() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        for size in [0, 1, 7, 8, 9, 4096, (1 << 20) + 1, 3 * (1 << 20) + 5] {
            let c = Content::new(42, size);
            c.write_to(&path).unwrap();
            assert_eq!(std::fs::metadata(&path).unwrap().len(), size);
            c.verify(&path).unwrap();
            if size > 0 {
                let other = Content::new(43, size);
                let err = other.verify(&path).unwrap_err();
                assert!(err.contains("differs"), "{err}");
            }
        }
        let err = Content::new(42, 10).verify(&path).unwrap_err();
        assert!(err.contains("expected 10 bytes"), "{err}");
    }

    #[test]
    fn chunk_boundaries_continue_the_pattern() {
        let mut whole = vec![0u8; 64];
        fill(7, 0, &mut whole);
        let mut tail = vec![0u8; 32];
        fill(7, 32, &mut tail);
        assert_eq!(&whole[32..], &tail[..]);
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(size_text(0), "0 B");
        assert_eq!(size_text(4096), "4 KiB");
        assert_eq!(size_text((1 << 20) + 1), "1 MiB + 1");
        assert_eq!(size_text(64 << 20), "64 MiB");
        assert_eq!(size_text(1000), "1000 B");
    }
}
