//! `stowage rm URL NAME...`: deletes objects.

use serde_json::json;

use super::select::open_selected;
use crate::context::Context;
use crate::output::{display_name, fail};
use crate::parallel::each;
use crate::report::Report;

/// `stowage rm` arguments.
pub type Args = super::objects::Objects;

/// Deletes each name, `--jobs` at a time; a failure does not stop the
/// others, except one that fails them all (see `parallel`).
pub fn run(ctx: &Context, args: &Args) -> u8 {
    let (backend, names) = match open_selected(ctx, &args.url, &args.selection) {
        Ok(x) => x,
        Err(e) => return fail(&e, ctx.json),
    };
    let mut report = Report::new();
    let item = |i: usize| json!({ "name": names[i], "deleted": false });
    let stopped = each(
        &names,
        args.jobs,
        |_, name| backend.delete(name),
        |i, result| match result {
            Ok(()) => report.ok(
                json!({ "name": names[i], "deleted": true }),
                &format!("deleted {}", display_name(&names[i])),
            ),
            Err(e) => report.item_failed(item(i), &e),
        },
    );
    if let Some(stopped) = stopped {
        stopped.report_each(&mut report, item);
    }
    report.close(&backend);
    report.finish()
}
