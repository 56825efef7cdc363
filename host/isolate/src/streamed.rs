//! Put and get in the child through the plugin's `stowage.descriptor/1`
//! or `stowage.stream/1`, when it offers them: the bytes go straight
//! between the host's descriptor and the plugin, with no staged copy in
//! between.
//!
//! Under Landlock the child cannot reopen `/proc/self/fd/N` (the check
//! applies to the file's real place), so a path-based `put` needs a staged
//! copy of the source first, and a path-based `get` always writes a staged
//! file that is then copied into the host's descriptor. A plugin offering
//! `stowage.descriptor/1` is handed the host's descriptor for every put,
//! confined or not, and copies from it itself (in the kernel where it
//! can): no path is reopened, no copy staged. A stream writer reads the
//! descriptor in the child, a stream reader writes into it.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU32, Ordering};

use stowage_backend_api::BackendError;
use stowage_descriptor_ext::Descriptor;
use stowage_stream_ext::Stream;

use crate::protocol::{Answer, Op};

/// The size of one chunk handed to the plugin.
const CHUNK: usize = 1 << 20;

/// A buffer for an object of `size`: no larger than the object (one read
/// past its end sees the end), at most [`CHUNK`].
fn chunk_for(size: Option<u64>) -> usize {
    size.map_or(CHUNK, |s| {
        usize::try_from(s.saturating_add(1))
            .unwrap_or(CHUNK)
            .min(CHUNK)
    })
}

/// The plugin's extensions that move bytes without a staged copy, looked
/// up once per backend.
#[derive(Default)]
pub(crate) struct Direct {
    /// `stowage.stream/1`: gets, and confined puts when there is no
    /// descriptor put.
    pub stream: Option<Stream>,
    /// `stowage.descriptor/1`: confined puts.
    pub descriptor: Option<Descriptor>,
}

/// The umask the host last sent (objects a stream get produces are made
/// `0666` less it, as `open(2)` would make them).
pub(crate) static UMASK: AtomicU32 = AtomicU32::new(0o022);

/// Runs `op` through the plugin's descriptor or stream extension, when
/// the plugin offers one that fits; `None` when the path-based way
/// applies. A put goes to `stowage.descriptor/1` whenever it is offered
/// (the plugin copies from the host's descriptor, in the kernel where it
/// can, with no path to reopen), and to `stowage.stream/1` only when
/// `confined` (unconfined, a path-based put reads the descriptor through
/// `/proc/self/fd` without a copy, and the plugin keeps its own way of
/// storing); a get goes to the stream. `progress(done, total)` is told
/// how far a streamed transfer got.
pub(crate) fn try_streamed(
    direct: &Direct,
    op: &Op,
    fds: &mut Vec<OwnedFd>,
    confined: bool,
    progress: &dyn Fn(u64, u64),
) -> Option<Result<Answer, BackendError>> {
    if fds.len() != 1 {
        return None;
    }
    match (op, &direct.descriptor, &direct.stream) {
        (Op::Put { name, shown, .. }, Some(descriptor), _) => {
            // The plugin reports its own progress, as for a path-based put.
            let file = File::from(fds.pop()?);
            Some(
                descriptor
                    .put_from(name, std::os::fd::AsFd::as_fd(&file))
                    .map(|_| Answer::Done)
                    .map_err(|e| e.context(format!("storing {shown}"))),
            )
        }
        (Op::Put { name, shown, .. }, None, Some(stream)) if confined => {
            let file = File::from(fds.pop()?);
            Some(
                put(stream, name, file, progress)
                    .map(|()| Answer::Done)
                    .map_err(|e| e.context(format!("storing {shown}"))),
            )
        }
        (Op::Get { name, .. }, _, Some(stream)) => {
            let file = File::from(fds.pop()?);
            Some(get(stream, name, file, progress).map(|()| Answer::Got {
                mode: 0o666 & !UMASK.load(Ordering::Relaxed),
            }))
        }
        _ => None,
    }
}

fn put(
    stream: &Stream,
    name: &str,
    mut source: File,
    progress: &dyn Fn(u64, u64),
) -> Result<(), BackendError> {
    let total = source.metadata().map(|m| m.len()).unwrap_or(0);
    let mut writer = stream.writer(name)?;
    let mut buf = vec![0u8; chunk_for(Some(total))];
    let mut done = 0u64;
    loop {
        let n = match source.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(BackendError::from_io(&e, "reading the local file")),
        };
        writer.send(&buf[..n])?;
        done += n as u64;
        progress(done, total);
    }
    writer.commit().map(|_| ())
}

fn get(
    stream: &Stream,
    name: &str,
    mut dest: File,
    progress: &dyn Fn(u64, u64),
) -> Result<(), BackendError> {
    let mut reader = stream.reader(name)?;
    let total = reader.size().unwrap_or(0);
    let mut buf = vec![0u8; chunk_for(reader.size())];
    let mut done = 0u64;
    loop {
        let n = reader.receive(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        dest.write_all(&buf[..n])
            .map_err(|e| BackendError::from_io(&e, "writing the fetched object"))?;
        done += n as u64;
        progress(done, total);
    }
}
