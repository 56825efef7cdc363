//! `stowage copy SRC DST [NAME...] [--glob PAT]... [--update] [--jobs N]`:
//! objects from any backend to any other. Plugins take local paths, so
//! each object goes through one file of a private spool directory, which
//! is removed as soon as the object is stored: disk use is bounded by the
//! objects in flight, memory by nothing but buffers.

use clap::Args as ClapArgs;
use serde_json::json;
use stowage::{Backend, BackendError, Error};

use super::between::chosen_names;
use super::between::spool::SpoolDir;
use crate::context::Context;
use crate::output::{display_name, fail, warn};
use crate::parallel::{in_order_stopping, stops_new_work, Flow, Jobs};
use crate::progress_bar::SharedBar;
use crate::report::Report;

/// `stowage copy` arguments.
#[derive(ClapArgs, Debug)]
pub struct Args {
    /// Source backend URL.
    pub src: String,
    /// Destination backend URL.
    pub dst: String,
    /// Objects to copy, always taken literally. None and no --glob: every
    /// object of SRC.
    pub names: Vec<String>,
    /// Also every object of SRC whose name matches PATTERN (`*`, `?`,
    /// `[abc]`, `{a,b}`; repeatable).
    #[arg(long = "glob", value_name = "PATTERN")]
    pub globs: Vec<String>,
    /// Skip objects DST already has with the same size (no backend offers
    /// a checksum without reading the object, so size is what is
    /// compared; `stowage check` compares content).
    #[arg(long)]
    pub update: bool,
    #[command(flatten)]
    pub jobs: Jobs,
}

/// One object to copy: its name, its size in SRC (`None`: SRC lacks it),
/// and whether DST already has it (with `--update`).
struct Job {
    name: String,
    size: Option<u64>,
    unchanged: bool,
}

/// What became of one object.
enum Outcome {
    Copied(u64),
    Unchanged(u64),
}

/// Copies every chosen object; a failure does not stop the others, except
/// one that will fail them all (no space, a panicked backend), after which
/// nothing new is started.
pub fn run(ctx: &Context, args: &Args) -> u8 {
    let Plan {
        src,
        dst,
        jobs,
        spool,
    } = match plan(ctx, args) {
        Ok(x) => x,
        Err(e) => return fail(&e, ctx.json),
    };
    let mut report = Report::new();
    let total: u64 = jobs.iter().filter_map(|j| j.size).sum();
    let bar = SharedBar::new(ctx.progress, "copy");
    let (mut done_bytes, mut copied, mut unchanged, mut failed) = (0u64, 0u64, 0u64, 0u64);
    let not_started = in_order_stopping(
        &jobs,
        args.jobs.count(),
        |i, job| copy_one(&src, &dst, &spool, i, job),
        |result| matches!(result, Err(e) if stops_new_work(e.code())),
        |i, result| {
            let name = &jobs[i].name;
            let item = json!({ "name": name });
            let flow = match result {
                Ok(Outcome::Copied(size)) => {
                    copied += 1;
                    done_bytes += size;
                    let text = format!("copied {} ({size} bytes)", display_name(name));
                    report.ok(json!({ "name": name, "size": size, "copied": true }), &text);
                    Flow::Continue
                }
                Ok(Outcome::Unchanged(size)) => {
                    unchanged += 1;
                    done_bytes += size;
                    let text = format!("unchanged {} ({size} bytes)", display_name(name));
                    report.ok(
                        json!({ "name": name, "size": size, "copied": false }),
                        &text,
                    );
                    Flow::Continue
                }
                Err(e) => {
                    failed += 1;
                    report.item_failed(item, &e);
                    if stops_new_work(e.code()) {
                        Flow::Stop
                    } else {
                        Flow::Continue
                    }
                }
            };
            bar.set(done_bytes, total);
            flow
        },
    );
    bar.finish();
    if not_started > 0 {
        warn(&format!(
            "{not_started} objects were not copied after that failure"
        ));
    }
    report.set_data(json!({
        "copied": copied,
        "unchanged": unchanged,
        "failed": failed,
        "not_started": not_started,
    }));
    drop(spool);
    report.close(&dst);
    report.close(&src);
    report.finish()
}

/// Both stores, what to copy, and where it passes.
struct Plan {
    src: Backend,
    dst: Backend,
    jobs: Vec<Job>,
    spool: SpoolDir,
}

/// Opens both stores and works out what to copy, before anything moves.
fn plan(ctx: &Context, args: &Args) -> Result<Plan, Error> {
    let src = ctx.open(&args.src)?;
    let dst = ctx.open(&args.dst)?;
    let names = chosen_names(&src, &args.names, &args.globs)?;
    if names.is_empty() && !args.globs.is_empty() {
        return Err(Error::Backend {
            op: "list",
            name: None,
            url: src.url(),
            attempts: 1,
            source: BackendError::not_found("no object matches the --glob patterns"),
        });
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let sizes = src.query_list(&refs)?;
    let present = if args.update {
        dst.query_list(&refs)?
    } else {
        vec![None; names.len()]
    };
    let jobs = names
        .into_iter()
        .zip(sizes.into_iter().zip(present))
        .map(|(name, (size, there))| Job {
            unchanged: size.is_some() && size == there,
            name,
            size,
        })
        .collect();
    Ok(Plan {
        src,
        dst,
        jobs,
        spool: SpoolDir::new()?,
    })
}

/// Copies one object through spool file `index`, which is gone afterwards
/// whatever happened.
fn copy_one(
    src: &Backend,
    dst: &Backend,
    spool: &SpoolDir,
    index: usize,
    job: &Job,
) -> Result<Outcome, Error> {
    let Some(size) = job.size else {
        return Err(Error::Backend {
            op: "get",
            name: Some(job.name.clone()),
            url: src.url(),
            attempts: 1,
            source: BackendError::not_found("no such object in the source"),
        });
    };
    if job.unchanged {
        return Ok(Outcome::Unchanged(size));
    }
    spool
        .through(index, |file| {
            src.get(&job.name, file)
                .and_then(|_| dst.put(file, &job.name))
        })
        .map(Outcome::Copied)
}

/// `stowage copy --help`'s examples.
pub const EXAMPLES: &str = "\
Examples:
  stowage copy file:///srv/backups xorriso:///srv/2025.iso:/host1
  stowage copy file:///srv/backups offsite: --glob '2025-*' --update
  stowage copy xorriso:///srv/2025.iso:/host1 file:///restore vol1.tar

Objects pass through a private directory in $TMPDIR (mode 0700, removed
on exit), one file per object in flight. Exit status: 0, or that of the
first failure (52 an object is missing from SRC, 53 no space...).";
