//! `stowage space ...`: backup spaces from the command line.
//!
//! Every command opens the store, does its work and closes the store (the
//! backend's durability barrier). Spaces created here are persistent: a
//! command ends by closing its space, and a space that is not persistent
//! would vanish with it. `--persistent` is accepted for compatibility.

mod args;
mod backup;
mod inspect;
mod maintain;
mod restore;
mod value;

pub use args::Args;
use args::Command;

use stowage_space::{BackupStore, SpaceError};

use crate::context::Context;
use crate::output::usage_error;
use crate::report::Report;

/// Runs one `stowage space` command; returns the exit status.
pub fn run(ctx: &Context, args: &Args) -> u8 {
    let mut report = Report::new();
    if let Command::Backup { paths, name, .. } = &args.command {
        if name.is_some() && paths.len() != 1 {
            return usage_error("--name can only be used with exactly one PATH");
        }
    }
    let mut options = args.options.store_options();
    if let Command::Backup { jobs, .. } = &args.command {
        options.workers = Some(jobs.count());
    }
    let store = match ctx
        .registry
        .open(args.url())
        .map_err(SpaceError::from)
        .and_then(|b| BackupStore::with_backend_options(b.with_retry(ctx.policy), &options))
    {
        Ok(store) => store,
        Err(e) => {
            report.failed(&e);
            return report.finish();
        }
    };
    if let Err(e) = dispatch(&store, &args.command, &mut report, ctx.progress) {
        report.failed(&e);
    }
    if let Err(e) = store.close() {
        report.failed(&e);
    }
    report.finish()
}

fn dispatch(
    store: &BackupStore,
    args: &Command,
    report: &mut Report,
    progress: bool,
) -> Result<(), SpaceError> {
    match args {
        Command::List { .. } => inspect::list(store, report),
        Command::Backup {
            space, paths, name, ..
        } => {
            let s = store.space(space, true)?;
            backup::paths(&s, paths, name.as_deref(), report, progress);
            s.close()
        }
        Command::BackupValue {
            space, name, from, ..
        } => value::backup(store, space, name, from.as_deref(), report),
        Command::Restore {
            space, name, to, ..
        } => restore::entry(store, space, name, to.as_deref(), report),
        Command::RestoreValue { space, name, .. } => value::restore(store, space, name, report),
        Command::Revert { space, .. } => restore::revert(store, space, report),
        Command::Show { space, .. } => inspect::show(store, space, report),
        Command::Verify { space, repair, .. } => inspect::verify(store, space, *repair, report),
        Command::Rm { space, names, .. } => maintain::rm(store, space, names, report),
        Command::DropSpace { space, .. } => maintain::drop_space(store, space, report),
        Command::Gc { .. } => maintain::gc(store, report),
    }
}
