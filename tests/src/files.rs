//! Test data and filesystem checks.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::Path;

/// Writes `size` deterministic pseudo-random bytes (xorshift seeded by
/// `seed`) to `path`.
pub fn write_data(path: &Path, size: u64, seed: u64) {
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path).expect("creating test data"));
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut left = size;
    let mut buf = [0u8; 8192];
    while left > 0 {
        for chunk in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        let n = left.min(buf.len() as u64) as usize;
        w.write_all(&buf[..n]).expect("writing test data");
        left -= n as u64;
    }
    w.flush().expect("flushing test data");
}

/// Asserts that files `a` and `b` have the same content (streamed, so large
/// files are fine).
#[track_caller]
pub fn assert_same_content(a: &Path, b: &Path) {
    let ma = fs::metadata(a).unwrap_or_else(|e| panic!("{}: {e}", a.display()));
    let mb = fs::metadata(b).unwrap_or_else(|e| panic!("{}: {e}", b.display()));
    assert_eq!(
        ma.len(),
        mb.len(),
        "sizes of {} and {} differ",
        a.display(),
        b.display()
    );
    let mut fa = File::open(a).expect("open a");
    let mut fb = File::open(b).expect("open b");
    let mut ba = vec![0u8; 1 << 20];
    let mut bb = vec![0u8; 1 << 20];
    let mut offset = 0u64;
    loop {
        let n = read_full(&mut fa, &mut ba);
        let m = read_full(&mut fb, &mut bb);
        assert_eq!(n, m, "{} and {} differ in length", a.display(), b.display());
        if n == 0 {
            return;
        }
        if ba[..n] != bb[..n] {
            let i = ba[..n]
                .iter()
                .zip(&bb[..n])
                .position(|(x, y)| x != y)
                .unwrap_or(0);
            panic!(
                "{} and {} differ at byte {}",
                a.display(),
                b.display(),
                offset + i as u64
            );
        }
        offset += n as u64;
    }
}

/// Whether `a` and `b` both exist with the same length and content
/// (streamed, so large files are fine). Unlike [`assert_same_content`] it
/// does not panic, for checks that accept one of several contents.
pub fn same_content(a: &Path, b: &Path) -> bool {
    let (Ok(ma), Ok(mb)) = (fs::metadata(a), fs::metadata(b)) else {
        return false;
    };
    if ma.len() != mb.len() {
        return false;
    }
    let (Ok(mut fa), Ok(mut fb)) = (File::open(a), File::open(b)) else {
        return false;
    };
    let mut ba = vec![0u8; 1 << 20];
    let mut bb = vec![0u8; 1 << 20];
    loop {
        let n = read_full(&mut fa, &mut ba);
        let m = read_full(&mut fb, &mut bb);
        if n != m || ba[..n] != bb[..n] {
            return false;
        }
        if n == 0 {
            return true;
        }
    }
}

fn read_full(f: &mut File, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]).expect("reading") {
            0 => break,
            k => n += k,
        }
    }
    n
}

/// Every entry directly in `dir` (files, dotfiles, directories) with its
/// size; empty when `dir` does not exist.
pub fn dir_entries(dir: &Path) -> BTreeMap<String, u64> {
    let Ok(rd) = fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    rd.map(|e| {
        let e = e.expect("reading a directory entry");
        let size = e.metadata().map(|m| m.len()).unwrap_or(0);
        (e.file_name().to_string_lossy().into_owned(), size)
    })
    .collect()
}

/// The names directly in `dir`, sorted.
pub fn dir_names(dir: &Path) -> Vec<String> {
    dir_entries(dir).into_keys().collect()
}

/// Reads a `key=value` lines file (the flaky fixture's counters) into a
/// map; missing file → empty.
pub fn read_counters(path: &Path) -> BTreeMap<String, u64> {
    let Ok(text) = fs::read_to_string(path) else {
        return BTreeMap::new();
    };
    text.lines()
        .filter_map(|l| l.split_once('='))
        .filter_map(|(k, v)| Some((k.trim().to_string(), v.trim().parse().ok()?)))
        .collect()
}
