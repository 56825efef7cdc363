//! The final sweep: nothing of the run is left, nothing of others
//! was touched.

use crate::context::Ctx;
use crate::describe::error_text;
use crate::listing::first_problems;
use crate::run::lock;
use crate::stop::{fail, Checked, Stop};
use stowage::ErrorCode;

/// Deletes every name containing the run's token, closes the backend under
/// test, and verifies through a newly opened backend.
pub(crate) fn cleanup(ctx: &Ctx<'_, '_>) -> Checked {
    let run = ctx.run();
    let token = ctx.token();
    let mut problems: Vec<String> = std::mem::take(&mut *lock(&run.cleanup_notes));
    let mut removed = 0usize;
    match run.backend.list() {
        Ok(entries) => {
            for (name, _) in entries.iter().filter(|(n, _)| n.contains(token)) {
                match run.backend.delete(name) {
                    Ok(()) => removed += 1,
                    Err(e) if e.code() == ErrorCode::NOT_FOUND => {}
                    Err(e) => problems.push(format!("deleting {name:?}: {}", error_text(&e))),
                }
            }
        }
        Err(e) => problems.push(format!("list for the final sweep: {}", error_text(&e))),
    }
    if let Err(e) = run.backend.close() {
        problems.push(format!("closing the backend: {}", error_text(&e)));
    }
    let mut untouched = 0usize;
    match ctx.fresh_backend() {
        Err(Stop::Fail(m) | Stop::Skip(m)) => problems.push(m),
        Ok(fresh) => {
            match fresh.list() {
                Ok(entries) => {
                    let left: Vec<&String> = entries
                        .iter()
                        .map(|(n, _)| n)
                        .filter(|n| n.contains(token))
                        .collect();
                    if !left.is_empty() {
                        problems.push(format!(
                            "{} objects of the run are left: {:?}",
                            left.len(),
                            left.iter().take(5).collect::<Vec<_>>()
                        ));
                    }
                    if let Ok(before) = &run.snapshot {
                        let now: std::collections::BTreeMap<&str, u64> =
                            entries.iter().map(|(n, s)| (n.as_str(), *s)).collect();
                        for (name, size) in before {
                            // Leftovers of other runs are not ours to judge.
                            if name.contains("stowage-conf-") {
                                continue;
                            }
                            match now.get(name.as_str()) {
                                Some(s) if s == size => untouched += 1,
                                Some(s) => problems.push(format!(
                                    "object of others {name:?} changed size from {size} to {s}"
                                )),
                                None => {
                                    problems.push(format!("object of others {name:?} disappeared"))
                                }
                            }
                        }
                    }
                }
                Err(e) => problems.push(format!("list after reopening: {}", error_text(&e))),
            }
            if let Err(e) = fresh.close() {
                problems.push(format!("closing the reopened backend: {}", error_text(&e)));
            }
        }
    }
    if let Err(e) = &run.snapshot {
        problems.push(format!(
            "the listing before the run failed ({e}), so objects of others could not be checked"
        ));
    }
    if !problems.is_empty() {
        fail!("{}", first_problems(problems));
    }
    Ok(format!(
        "{removed} leftover objects removed in the final sweep; {untouched} objects of others untouched"
    ))
}
