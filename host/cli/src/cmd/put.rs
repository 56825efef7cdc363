//! `stowage put` and `stowage mv`: each local file under its file name (or
//! `--name`); `mv` removes the local file once it is stored.
//!
//! `mv` puts a copy and removes the local files only after the backend's
//! close succeeded: a backend that commits at close (xorriso) can still
//! discard the batch then, and a source consumed before that would be lost.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args as ClapArgs;
use serde_json::json;
use stowage::{validate_name, Error};

use crate::context::Context;
use crate::output::{display_name, error_json, fail, usage_error};
use crate::parallel::{each, Jobs};
use crate::progress_bar::Bar;
use crate::report::Report;

/// `stowage put` and `stowage mv` arguments.
#[derive(ClapArgs, Debug)]
pub struct Args {
    /// Backend URL.
    pub url: String,
    /// Local files, or `-` for standard input (with --name).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Object name (only with one FILE).
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub jobs: Jobs,
}

/// Whether the local files stay (`put`) or go (`mv`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Copy,
    Move,
}

/// Stores each file, `--jobs` at a time; a failure does not stop the
/// others, except one that fails them all (see `parallel`).
pub fn run(ctx: &Context, args: &Args, mode: Mode) -> u8 {
    if super::stream::stdin::wanted(args) {
        return super::stream::stdin::run(ctx, args, mode);
    }
    if args.name.is_some() && args.files.len() != 1 {
        return usage_error("--name can only be used with exactly one FILE");
    }
    let jobs = match names_for_files(&args.files, args.name.as_deref()) {
        Ok(jobs) => jobs,
        Err(e) => return fail(&e, ctx.json),
    };
    let backend = match ctx.open(&args.url) {
        Ok(b) => b,
        Err(e) => return fail(&e, ctx.json),
    };
    let mut report = Report::new();
    let sizes: Vec<u64> = jobs
        .iter()
        .map(|(file, _)| std::fs::metadata(file).map(|m| m.len()).unwrap_or(0))
        .collect();
    let bar = Bar::new(sizes.iter().sum(), ctx.progress);
    let mut reported = Vec::new();
    let item = |i: usize| json!({ "file": jobs[i].0, "name": jobs[i].1 });
    let stopped = each(
        &jobs,
        args.jobs,
        |i, (file, name)| bar.transfer(name, sizes[i], || backend.put(file, name)),
        |i, result| match result {
            Ok(size) => {
                let (file, name) = &jobs[i];
                let mut item = item(i);
                item["size"] = json!(size);
                let verb = match mode {
                    Mode::Move => "moved",
                    Mode::Copy => "stored",
                };
                let text = format!(
                    "{verb} {} as {} ({size} bytes)",
                    file.display(),
                    display_name(name)
                );
                let index = report.ok_indexed(item, &text);
                reported.push(Reported {
                    index,
                    name: name.clone(),
                    size,
                    file: file.clone(),
                });
            }
            Err(e) => report.item_failed(item(i), &e),
        },
    );
    if let Some(stopped) = stopped {
        stopped.report_each(&mut report, item);
    }
    bar.finish();
    match report.close_checked(&backend) {
        Some(e) => {
            drop(backend);
            amend_after_failed_close(ctx, &args.url, &reported, &e, &mut report);
        }
        None if mode == Mode::Move => remove_moved(&reported, &mut report),
        None => {}
    }
    report.finish()
}

/// `mv` after a successful close: the stored files' local copies go. A
/// file that cannot be removed turns its item into a failure (it is
/// stored, but the move did not finish).
fn remove_moved(reported: &[Reported], report: &mut Report) {
    for put in reported {
        if let Err(e) = std::fs::remove_file(&put.file) {
            let message = format!(
                "stored as {}, but the local file {} could not be removed: {e}",
                display_name(&put.name),
                put.file.display()
            );
            let error = json!({ "code": 50, "kind": "generic", "message": message });
            report.amend_failed(
                put.index,
                &format!("{}: {message}", put.file.display()),
                error,
            );
        }
    }
}

/// A put reported as done before the close.
struct Reported {
    index: usize,
    name: String,
    size: u64,
    file: PathBuf,
}

/// A failed close can discard puts already reported as done (a backend
/// that commits a batch at close). Asks a fresh handle on the same URL
/// which of them are there with their size; the others are reported as
/// not stored. When that cannot be asked, none of them is claimed stored.
fn amend_after_failed_close(
    ctx: &Context,
    url: &str,
    reported: &[Reported],
    close_error: &Error,
    report: &mut Report,
) {
    if reported.is_empty() {
        return;
    }
    let mut error = error_json(close_error);
    let sizes = ctx.open(url).and_then(|backend| {
        let names: Vec<&str> = reported.iter().map(|r| r.name.as_str()).collect();
        let sizes = backend.query_list(&names);
        if let Err(e) = backend.close() {
            log::debug!("closing the handle that verified the puts: {e}");
        }
        sizes
    });
    let (sizes, prefix, text) = match sizes {
        Ok(sizes) => (
            sizes,
            "not stored: the commit at close failed",
            "NOT stored (the commit at close failed)",
        ),
        Err(e) => {
            log::warn!("could not verify the puts after the failed close: {e}");
            (
                vec![None; reported.len()],
                "unknown: could not verify after the failed close",
                "NOT known to be stored (could not verify after the failed close)",
            )
        }
    };
    for (put, size) in reported.iter().zip(sizes) {
        if size == Some(put.size) {
            continue;
        }
        error["message"] = json!(format!("{prefix}: {close_error}"));
        let line = format!("{}: {text}", display_name(&put.name));
        report.amend_failed(put.index, &line, error.clone());
    }
}

/// Pairs each file with its object name; all names are validated, and
/// checked for collisions, before anything is sent.
fn names_for_files(files: &[PathBuf], name: Option<&str>) -> Result<Vec<(PathBuf, String)>, Error> {
    let jobs = files
        .iter()
        .map(|file| {
            refuse_directory(file)?;
            let name = match name {
                Some(n) => n.to_string(),
                None => file
                    .file_name()
                    .and_then(|n| n.to_str())
                    .ok_or_else(|| {
                        Error::InvalidInput(format!(
                            "{}: no UTF-8 file name to use as the object name; give one with --name",
                            file.display()
                        ))
                    })?
                    .to_string(),
            };
            validate_name(&name)?;
            Ok((file.clone(), name))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    refuse_collisions(&jobs)?;
    Ok(jobs)
}

/// A directory is not an object: point at the commands for trees.
fn refuse_directory(file: &Path) -> Result<(), Error> {
    if !file.is_dir() {
        return Ok(());
    }
    Err(Error::InvalidInput(format!(
        "{0} is a directory; put stores files. For a tree use \
         `stowage space backup URL SPACE {0}`, or make one file of it first: \
         `tar -cf {0}.tar {0}`",
        file.display()
    )))
}

/// Two files stored under one name would leave only the last: refuse
/// the whole command, naming every collision.
fn refuse_collisions(jobs: &[(PathBuf, String)]) -> Result<(), Error> {
    let mut by_name: BTreeMap<&str, Vec<&Path>> = BTreeMap::new();
    for (file, name) in jobs {
        by_name.entry(name).or_default().push(file);
    }
    let collisions: Vec<String> = by_name
        .into_iter()
        .filter(|(_, files)| files.len() > 1)
        .map(|(name, files)| {
            let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            format!("{} <- {}", display_name(name), files.join(", "))
        })
        .collect();
    if collisions.is_empty() {
        return Ok(());
    }
    Err(Error::InvalidInput(format!(
        "several files would be stored under the same name, so only the last would be kept; \
         nothing was stored (store them one by one with --name): {}",
        collisions.join("; ")
    )))
}
