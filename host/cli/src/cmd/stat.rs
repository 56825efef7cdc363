//! `stowage stat URL NAME...`: sizes, missing objects reported as missing.

use serde_json::json;
use stowage::{Backend, Error};

use super::select::open_selected;
use crate::context::Context;
use crate::output::{display_name, fail};
use crate::parallel::{in_order, Flow, Jobs};
use crate::report::Report;

/// `stowage stat` arguments.
pub type Args = super::objects::Objects;

/// Queries every name: in one request, or with `--jobs N`, in N requests
/// at once over consecutive slices of the names.
pub fn run(ctx: &Context, args: &Args) -> u8 {
    let (backend, names) = match open_selected(ctx, &args.url, &args.selection) {
        Ok(x) => x,
        Err(e) => return fail(&e, ctx.json),
    };
    let sizes = match query_in_chunks(&backend, &names, args.jobs) {
        Ok(sizes) => sizes,
        Err(e) => return fail(&e, ctx.json),
    };
    let mut report = Report::new();
    for (name, size) in names.iter().zip(sizes) {
        let text = match size {
            Some(s) => format!("{s}  {}", display_name(name)),
            None => format!("missing  {}", display_name(name)),
        };
        report.ok(
            json!({ "name": name, "size": size, "missing": size.is_none() }),
            &text,
        );
    }
    report.close(&backend);
    report.finish()
}

/// The sizes of `names`, in order, from one `query_list` per slice of
/// `names`, `jobs` slices at a time. A failed request fails the command,
/// as the single request always did.
fn query_in_chunks(
    backend: &Backend,
    names: &[String],
    jobs: Jobs,
) -> Result<Vec<Option<u64>>, Error> {
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let slices: Vec<&[&str]> = refs
        .chunks(refs.len().div_ceil(jobs.count()).max(1))
        .collect();
    let mut sizes = Vec::with_capacity(refs.len());
    let mut failure = None;
    in_order(
        &slices,
        jobs.count(),
        |_, slice| backend.query_list(slice),
        |_, result| match result {
            Ok(part) => {
                sizes.extend(part);
                Flow::Continue
            }
            Err(e) => {
                failure.get_or_insert(e);
                Flow::Stop
            }
        },
    );
    match failure {
        Some(e) => Err(e),
        None => Ok(sizes),
    }
}
