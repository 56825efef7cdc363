//! `stowage ls URL`: names and sizes.

use clap::Args as ClapArgs;
use serde_json::json;

use crate::context::Context;
use crate::output::{display_name, fail};
use crate::report::Report;

/// `stowage ls` arguments.
#[derive(ClapArgs, Debug)]
pub struct Args {
    /// Backend URL, e.g. file:///srv/backup.
    pub url: String,
}

/// Lists the objects of `args.url`, sorted by name.
pub fn run(ctx: &Context, args: &Args) -> u8 {
    let backend = match ctx.open(&args.url) {
        Ok(b) => b,
        Err(e) => return fail(&e, ctx.json),
    };
    let mut entries = match backend.list() {
        Ok(entries) => entries,
        Err(e) => return fail(&e, ctx.json),
    };
    entries.sort();
    let mut report = Report::new();
    for (name, size) in entries {
        let text = format!("{size}  {}", display_name(&name));
        report.ok(json!({ "name": name, "size": size }), &text);
    }
    report.close(&backend);
    report.finish()
}
