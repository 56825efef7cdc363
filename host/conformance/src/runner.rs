//! The runner: selects checks, runs each in catalogue order with its own
//! names and scratch directory, cleans up after each, and reports.

use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::Instant;

use crate::check::Check;
use crate::checks::CHECKS;
use crate::context::Ctx;
use crate::filter::Filter;
use crate::options::Options;
use crate::report::{CheckResult, Outcome, Report};
use crate::run::Run;
use crate::stop::Stop;
use stowage::{Error, Registry};

/// The checks `options.only` selects, in catalogue order.
pub(crate) fn selected(options: &Options) -> Vec<&'static Check> {
    let filter = Filter::new(options.only.as_deref());
    CHECKS.iter().filter(|c| filter.selects(c.id)).collect()
}

/// Longest detail kept, in characters.
const MAX_DETAIL: usize = 2000;

/// `detail` on one line: control characters escaped, at most
/// [`MAX_DETAIL`] characters.
fn one_line(detail: &str) -> String {
    let long = detail.chars().count() > MAX_DETAIL;
    let mut line: String = detail
        .chars()
        .take(MAX_DETAIL)
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect();
    if long {
        line.push_str("...");
    }
    line
}

fn local_error(path: PathBuf) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Local { path, source }
}

/// See [`crate::run_with`].
pub(crate) fn run(
    registry: &Registry,
    url: &str,
    options: &Options,
    on_result: &mut dyn FnMut(&CheckResult),
) -> Result<Report, Error> {
    let chosen = selected(options);
    if chosen.is_empty() {
        return Err(Error::InvalidInput(format!(
            "no conformance check id matches {:?} (see `stowage test --list`)",
            options.only.as_deref().unwrap_or("")
        )));
    }
    let chosen_ids: Vec<&str> = chosen.iter().map(|c| c.id).collect();
    let backend = registry.open(url)?.with_retry(options.retry);

    let parent = options
        .scratch_dir
        .clone()
        .unwrap_or_else(std::env::temp_dir);
    let scratch = tempfile::Builder::new()
        .prefix("stowage-conf-")
        .tempdir_in(&parent)
        .map_err(local_error(parent.clone()))?;

    let token = format!("stowage-conf-{:08x}-", rand::random::<u32>());
    let mut report = Report::new(backend.url(), token.clone());
    log::info!("testing {} under the name prefix {token}", backend.url());
    let mut run = Run::new(
        registry,
        url,
        options,
        backend,
        token,
        scratch.path().to_path_buf(),
    );

    for (index, check) in CHECKS.iter().enumerate() {
        let wanted = chosen_ids.contains(&check.id);
        if !wanted && !check.always {
            continue;
        }
        let dir = run.scratch().join(format!("{index:02}"));
        std::fs::create_dir_all(&dir).map_err(local_error(dir.clone()))?;
        let ctx = Ctx::new(&run, check.id, dir.clone());
        log::debug!("conformance check {} starts", check.id);
        let start = Instant::now();
        let verdict =
            panic::catch_unwind(AssertUnwindSafe(|| (check.run)(&ctx))).unwrap_or_else(|p| {
                Err(Stop::Fail(format!(
                    "the check itself panicked: {}",
                    stowage_backend_api::panic_message(&*p).unwrap_or("(no message)")
                )))
            });
        let duration = start.elapsed();
        drop(ctx);
        run.restore();
        run.cleanup_created();
        let _ = std::fs::remove_dir_all(&dir);
        let (outcome, detail) = match verdict {
            Ok(detail) => (Outcome::Pass, detail),
            Err(Stop::Fail(detail)) => (Outcome::Fail, detail),
            Err(Stop::Skip(detail)) => (Outcome::Skip, detail),
        };
        if !wanted && outcome != Outcome::Fail {
            continue;
        }
        let result = CheckResult {
            id: check.id,
            title: check.title,
            outcome,
            detail: one_line(&detail),
            duration,
        };
        on_result(&result);
        report.push(result);
    }
    drop(run);
    if let Err(e) = scratch.close() {
        log::warn!("removing the conformance scratch directory failed: {e}");
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn catalogue_ids_are_stable_shaped_and_unique() {
        let mut seen = BTreeSet::new();
        for c in CHECKS {
            assert!(seen.insert(c.id), "duplicate id {}", c.id);
            let (area, what) = c.id.split_once('.').expect("area.what");
            assert!(!area.is_empty() && !what.is_empty(), "{}", c.id);
            assert!(
                c.id.bytes().all(|b| b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || b == b'.'
                    || b == b'-'),
                "{} has characters outside [a-z0-9.-]",
                c.id
            );
            assert!(!c.title.is_empty() && !c.title.contains('\n'), "{}", c.id);
        }
        // The cleanup runs last, whatever is selected.
        let last = CHECKS.last().expect("checks");
        assert!(last.always && last.id == "hygiene.cleanup");
        assert_eq!(CHECKS.iter().filter(|c| c.always).count(), 1);
    }

    #[test]
    fn selection_keeps_catalogue_order() {
        let options = Options {
            only: Some("names.,put.".into()),
            ..Options::default()
        };
        let ids: Vec<&str> = selected(&options).iter().map(|c| c.id).collect();
        assert!(ids
            .iter()
            .all(|i| i.starts_with("names.") || i.starts_with("put.")));
        let positions: Vec<usize> = ids
            .iter()
            .map(|id| CHECKS.iter().position(|c| c.id == *id).unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]));
        assert!(ids.contains(&"put.roundtrip-sizes"));

        let none = Options {
            only: Some("no-such-check".into()),
            ..Options::default()
        };
        assert!(selected(&none).is_empty());
        assert_eq!(selected(&Options::default()).len(), CHECKS.len());
    }

    #[test]
    fn no_match_is_invalid_input_before_opening() {
        let empty = tempfile::tempdir().unwrap();
        let registry = Registry::load(&stowage::SearchPath::resolve(vec![empty
            .path()
            .to_path_buf()]));
        let options = Options {
            only: Some("zzz".into()),
            ..Options::default()
        };
        let err = run(&registry, "file:///nowhere", &options, &mut |_| {}).unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err}");
        // With a valid selection the unknown scheme is what fails.
        let err = run(&registry, "nosuch:///x", &Options::default(), &mut |_| {}).unwrap_err();
        assert!(matches!(err, Error::UnknownScheme(_)), "{err}");
    }

    #[test]
    fn details_stay_on_one_line() {
        assert_eq!(one_line("a\nb\tc"), "a\\nb\\tc");
        assert_eq!(one_line("plain"), "plain");
        let long = "x".repeat(MAX_DETAIL + 10);
        assert_eq!(one_line(&long).chars().count(), MAX_DETAIL + 3);
    }
}
