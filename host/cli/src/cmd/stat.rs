//! `stowage stat URL NAME...`: sizes, missing objects reported as missing.

use serde_json::json;

use super::select::open_selected;
use crate::context::Context;
use crate::output::{display_name, fail};
use crate::report::Report;

/// `stowage stat` arguments.
pub type Args = super::objects::Objects;

/// Queries every name in one request.
pub fn run(ctx: &Context, args: &Args) -> u8 {
    let (backend, names) = match open_selected(ctx, &args.url, &args.selection) {
        Ok(x) => x,
        Err(e) => return fail(&e, ctx.json),
    };
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let sizes = match backend.query_list(&refs) {
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
