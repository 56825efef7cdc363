//! `stowage put URL - --name NAME`: standard input as one object.
//!
//! With `stowage.stream/1` the bytes go to a writer in chunks and are
//! published by its commit; without it they are spooled to a private file
//! (0600 in a 0700 directory in `$TMPDIR`) that is then put. Either way a
//! failure publishes nothing, and an interrupting signal aborts the writer
//! or removes the spool. A stream cannot be replayed, so nothing is
//! retried once bytes were consumed.

use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::json;
use stowage::{validate_name, Backend, Error};
use stowage_stream_ext::StreamWriter;

use super::{failed, stream_of, CHUNK};
use crate::cmd::between::spool::{on_interrupt, SpoolDir};
use crate::cmd::put::{Args, Mode};
use crate::context::Context;
use crate::output::{display_name, fail, usage_error};
use crate::progress_bar::{Bar, SharedBar};
use crate::report::Report;

/// How standard input is named in messages.
const STDIN: &str = "<stdin>";

/// Whether `args` asks for standard input (`-` among the files).
pub fn wanted(args: &Args) -> bool {
    args.files.iter().any(|f| f.as_os_str() == "-")
}

/// Stores standard input under `--name`.
pub fn run(ctx: &Context, args: &Args, mode: Mode) -> u8 {
    if args.files.len() != 1 {
        return usage_error("- (standard input) cannot be combined with other files");
    }
    if mode == Mode::Move {
        return usage_error("mv cannot move standard input; use put URL - --name NAME");
    }
    let Some(name) = args.name.as_deref() else {
        return usage_error("- (standard input) needs --name NAME for the object");
    };
    if let Err(e) = validate_name(name) {
        return fail(&e, ctx.json);
    }
    let backend = match ctx.open(&args.url) {
        Ok(b) => b,
        Err(e) => return fail(&e, ctx.json),
    };
    let bar = SharedBar::new(ctx.progress, name);
    // A backend may offer readers only: its writer answers "unsupported"
    // before anything was read, and standard input is spooled instead.
    let writer = match stream_of(&backend).map(|stream| stream.writer(name)) {
        Some(Err(e)) if e.is_unsupported() => None,
        other => other,
    };
    let result = match writer {
        Some(Ok(writer)) => through_stream(&backend, writer, name, &bar),
        Some(Err(e)) => Err(failed("put", name, &backend, e)),
        None => through_spool(&backend, name, ctx.progress),
    };
    bar.finish();
    let mut report = Report::new();
    let item = json!({ "file": "-", "name": name });
    match result {
        Ok(size) => {
            let mut item = item;
            item["size"] = json!(size);
            let text = format!("stored {STDIN} as {} ({size} bytes)", display_name(name));
            let index = report.ok_indexed(item, &text);
            if let Some(e) = report.close_checked(&backend) {
                // A backend that commits at close may have discarded it.
                let error = crate::output::error_json(&e);
                let line = format!("{}: NOT known to be stored: {e}", display_name(name));
                report.amend_failed(index, &line, error);
            }
        }
        Err(e) => {
            report.item_failed(item, &e);
            report.close(&backend);
        }
    }
    report.finish()
}

/// Fills `buf` from `input` as far as it goes; returns the bytes read (0
/// at the end).
fn fill(input: &mut impl Read, buf: &mut [u8]) -> Result<usize, Error> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(Error::Local {
                    path: PathBuf::from(STDIN),
                    source,
                })
            }
        }
    }
    Ok(filled)
}

/// Hands standard input to `sink` in chunks of [`CHUNK`] bytes (the last
/// may be shorter), moving `bar`; returns the bytes read. Stops at the
/// first error of either side.
fn pump_stdin(
    bar: &SharedBar,
    mut sink: impl FnMut(&[u8]) -> Result<(), Error>,
) -> Result<u64, Error> {
    let mut stdin = io::stdin().lock();
    let mut buf = vec![0u8; CHUNK];
    let mut done: u64 = 0;
    loop {
        let n = fill(&mut stdin, &mut buf)?;
        if n == 0 {
            return Ok(done);
        }
        sink(&buf[..n])?;
        done += n as u64;
        bar.set(done, done);
    }
}

/// Standard input into a stream writer, committed at the end.
fn through_stream(
    backend: &Backend,
    writer: StreamWriter,
    name: &str,
    bar: &SharedBar,
) -> Result<u64, Error> {
    // The signal thread aborts the writer if the process is interrupted;
    // between chunks the writer is free for it.
    let shared: Arc<Mutex<Option<StreamWriter>>> = Arc::new(Mutex::new(Some(writer)));
    let on_signal = Arc::clone(&shared);
    let _guard = on_interrupt(move || {
        let writer = on_signal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(writer) = writer {
            if let Err(e) = writer.abort() {
                log::warn!("aborting the interrupted stream: {e}");
            }
        }
    });
    let take = || shared.lock().unwrap_or_else(PoisonError::into_inner).take();
    // On any error the writer is dropped, which aborts it.
    pump_stdin(bar, |chunk| {
        let mut slot = shared.lock().unwrap_or_else(PoisonError::into_inner);
        let writer = slot.as_mut().ok_or_else(interrupted)?;
        writer
            .send(chunk)
            .map_err(|e| failed("put", name, backend, e))
    })?;
    let writer = take().ok_or_else(interrupted)?;
    writer.commit().map_err(|e| failed("put", name, backend, e))
}

fn interrupted() -> Error {
    Error::InvalidInput("the stream was aborted by an interrupting signal".into())
}

/// Standard input into a spool file, then put.
fn through_spool(backend: &Backend, name: &str, progress: bool) -> Result<u64, Error> {
    let spool = SpoolDir::new()?;
    spool.through(0, |file| {
        let size = spool_stdin(file, progress)?;
        let bar = Bar::new(size, progress);
        let result = bar.transfer(name, size, || backend.put(file, name));
        bar.finish();
        result
    })
}

/// Copies standard input into the new private file `path`; returns its
/// size. A full disk is reported as such (exit 53).
fn spool_stdin(path: &Path, progress: bool) -> Result<u64, Error> {
    let local = |source| Error::Local {
        path: path.to_path_buf(),
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(local)?;
    let bar = SharedBar::new(progress, "spooling standard input");
    let done = pump_stdin(&bar, |chunk| file.write_all(chunk).map_err(local))?;
    bar.finish();
    Ok(done)
}
