//! A look at a candidate file before any of its code can run.
//!
//! `dlopen` runs a library's constructors before anything can be checked,
//! and maps it with `mmap`: a file shorter than its program headers claim
//! kills the process with SIGBUS on first touch. Reading the ELF header and
//! program headers ourselves rejects text files, empty files, foreign
//! architectures and truncated copies with a clear reason instead.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

const ET_DYN: u16 = 3;
const PT_LOAD: u32 = 1;

#[cfg(target_arch = "x86_64")]
const HOST_MACHINE: u16 = 62;
#[cfg(target_arch = "aarch64")]
const HOST_MACHINE: u16 = 183;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const HOST_MACHINE: u16 = 0;

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

/// Checks that `path` is a complete 64-bit little-endian ELF shared object
/// for this machine. Returns the reason when it is not.
pub fn check_shared_object(path: &Path) -> Result<(), String> {
    let mut file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let len = file
        .metadata()
        .map_err(|e| format!("cannot stat: {e}"))?
        .len();
    if len == 0 {
        return Err("empty file, not a shared library".into());
    }
    let mut header = [0u8; 64];
    let n = read_up_to(&mut file, &mut header).map_err(|e| format!("cannot read: {e}"))?;
    if n < 4 || &header[..4] != b"\x7fELF" {
        return Err("not an ELF file (no \\x7fELF magic): not a shared library".into());
    }
    if n < 64 {
        return Err(format!("truncated ELF header ({n} of 64 bytes)"));
    }
    if header[4] != 2 {
        return Err("not a 64-bit ELF file (wrong ELF class)".into());
    }
    if header[5] != 1 {
        return Err("not a little-endian ELF file".into());
    }
    let e_type = u16_at(&header, 16);
    if e_type != ET_DYN {
        return Err(format!("ELF type {e_type} is not a shared object (3)"));
    }
    let machine = u16_at(&header, 18);
    if HOST_MACHINE != 0 && machine != HOST_MACHINE {
        return Err(format!(
            "built for ELF machine {machine}, this host is machine {HOST_MACHINE}"
        ));
    }
    let phoff = u64_at(&header, 32);
    let phentsize = u64::from(u16_at(&header, 54));
    let phnum = u64::from(u16_at(&header, 56));
    let table_end = phentsize
        .checked_mul(phnum)
        .and_then(|size| size.checked_add(phoff))
        .ok_or("corrupt program header table")?;
    if phentsize < 56 || table_end > len {
        return Err(format!(
            "truncated or corrupt: program headers end at byte {table_end}, file has {len}"
        ));
    }
    file.seek(SeekFrom::Start(phoff))
        .map_err(|e| format!("cannot read: {e}"))?;
    let mut table = vec![0u8; (phentsize * phnum) as usize];
    file.read_exact(&mut table)
        .map_err(|e| format!("cannot read program headers: {e}"))?;
    for entry in table.chunks_exact(phentsize as usize) {
        if u32_at(entry, 0) != PT_LOAD {
            continue;
        }
        let offset = u64_at(entry, 8);
        let filesz = u64_at(entry, 32);
        let end = offset.checked_add(filesz).ok_or("corrupt segment size")?;
        if end > len {
            return Err(format!(
                "truncated: a loadable segment ends at byte {end}, the file has only {len} bytes"
            ));
        }
    }
    Ok(())
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junk_is_rejected_with_reasons() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [(&str, &[u8], &str); 3] = [
            ("empty.so", b"", "empty file"),
            ("text.so", b"hello, I am text", "not an ELF file"),
            ("short.so", b"\x7fELF\x02\x01", "truncated ELF header"),
        ];
        for (name, content, expected) in cases {
            let p = dir.path().join(name);
            std::fs::write(&p, content).unwrap();
            let err = check_shared_object(&p).unwrap_err();
            assert!(err.contains(expected), "{name}: {err}");
        }
    }

    #[test]
    fn a_real_shared_object_passes_and_its_truncation_fails() {
        // The C library is a shared object on every Linux machine.
        let libc = [
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/lib/aarch64-linux-gnu/libc.so.6",
        ]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists());
        let Some(libc) = libc else { return };
        assert_eq!(check_shared_object(libc), Ok(()));
        let dir = tempfile::tempdir().unwrap();
        let cut = dir.path().join("cut.so");
        let bytes = std::fs::read(libc).unwrap();
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        assert!(check_shared_object(&cut).unwrap_err().contains("truncated"));
    }
}
