//! `stowage rm URL NAME...`: deletes objects.

use serde_json::json;

use super::select::open_selected;
use crate::context::Context;
use crate::output::{display_name, fail};
use crate::report::Report;

/// `stowage rm` arguments.
pub type Args = super::objects::Objects;

/// Deletes each name; a failure does not stop the others.
pub fn run(ctx: &Context, args: &Args) -> u8 {
    let (backend, names) = match open_selected(ctx, &args.url, &args.selection) {
        Ok(x) => x,
        Err(e) => return fail(&e, ctx.json),
    };
    let mut report = Report::new();
    for name in &names {
        match backend.delete(name) {
            Ok(()) => report.ok(
                json!({ "name": name, "deleted": true }),
                &format!("deleted {}", display_name(name)),
            ),
            Err(e) => report.item_failed(json!({ "name": name, "deleted": false }), &e),
        }
    }
    report.close(&backend);
    report.finish()
}
