//! list: a fresh run starts from nothing of its own, a location that does
//! not exist lists empty, listings are exact (also after concurrent puts,
//! for many names) and reflect each change at once.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use crate::context::Ctx;
use crate::data::Content;
use crate::describe::error_text;
use crate::expect::host_failed;
use crate::listing::compare_listing;
use crate::run::lock;
use crate::stop::{ensure, fail, skip, Checked, OrFail, Stop};
use stowage::{redact_url, Backend, Target};

/// Threads for bulk work.
const THREADS: usize = 8;

pub(crate) fn fresh_prefix_empty(ctx: &Ctx<'_, '_>) -> Checked {
    let entries = ctx.backend().list().map_err(host_failed("list"))?;
    let ours: Vec<&String> = entries
        .iter()
        .map(|(n, _)| n)
        .filter(|n| n.contains(ctx.token()))
        .collect();
    ensure!(
        ours.is_empty(),
        "names with the run's fresh prefix are already listed: {:?}",
        ours
    );
    Ok(format!("{} objects of others listed", entries.len()))
}

/// A URL for a location that does not exist, whatever the scheme (the
/// rule is documented on `Options::empty_url`): the segment
/// `<token>absent` appended to the location, before any `?query`. Built on
/// the text, not through a URL parser: `file://Rel/dir` is a relative path
/// whose case must survive. `None` for text that is not a URL, or has a
/// `#fragment` (which may hold anything, `/` and `?` included).
pub(crate) fn derive_absent_url(url: &str, token: &str) -> Option<String> {
    Target::parse(url).ok()?;
    if url.contains('#') {
        return None;
    }
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut derived = format!("{}/{token}absent", base.trim_end_matches('/'));
    if let Some(query) = query {
        derived.push('?');
        derived.push_str(query);
    }
    Some(derived)
}

pub(crate) fn empty_location(ctx: &Ctx<'_, '_>) -> Checked {
    let (url, derived) = match &ctx.options().empty_url {
        Some(u) => (u.clone(), false),
        None => match derive_absent_url(ctx.url(), ctx.token()) {
            Some(u) => (u, true),
            None => skip!(
                "cannot derive a location that does not exist from this URL; give one with --empty-url"
            ),
        },
    };
    let backend = match ctx.open_releasing(|| ctx.registry().open(&url)) {
        Ok(backend) => backend,
        // The URL form has no sub-locations: nothing was learnt about the
        // backend.
        Err(e) if derived => skip!(
            "the derived location {} cannot be opened ({}); give a location that does not exist with --empty-url",
            redact_url(&url),
            error_text(&e)
        ),
        Err(e) => fail!("opening {}: {}", redact_url(&url), error_text(&e)),
    };
    let result = backend.list();
    let closed = backend.close();
    match result {
        Ok(entries) => ensure!(
            entries.is_empty(),
            "{} does not exist but lists {} objects",
            backend.url(),
            entries.len()
        ),
        Err(e) => fail!("list of a location that does not exist: {}", error_text(&e)),
    }
    closed.map_err(host_failed("close"))?;
    Ok(format!("{} lists empty", backend.url()))
}

pub(crate) fn exact_after_puts(ctx: &Ctx<'_, '_>) -> Checked {
    let mut want = BTreeMap::new();
    for i in 0..25u64 {
        let name = ctx.name(&format!("{i:02}"));
        let size = i * 37;
        ctx.put(&name, ctx.content(size))?;
        want.insert(name, size);
    }
    ctx.expect_listing(&want)?;
    Ok(String::new())
}

/// Runs `work(i)` for `0..n` on [`THREADS`] threads; the first few errors.
fn parallel(n: usize, work: impl Fn(usize) -> Result<(), String> + Sync) -> Result<(), Stop> {
    let errors = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let work = &work;
            let errors = &errors;
            s.spawn(move || {
                for i in (t..n).step_by(THREADS) {
                    if let Err(e) = work(i) {
                        let mut errors = lock(errors);
                        errors.push(e);
                        if errors.len() >= 3 {
                            return;
                        }
                    }
                }
            });
        }
    });
    let errors = errors.into_inner().unwrap_or_else(|p| p.into_inner());
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Stop::Fail(errors.join("; ")))
    }
}

pub(crate) fn exact_after_concurrent_puts(ctx: &Ctx<'_, '_>) -> Checked {
    let n = 64;
    let items: Vec<(String, PathBuf, u64)> = (0..n)
        .map(|i| {
            let size = (i as u64) * 211 % 5000;
            let file = ctx.file(ctx.content(size))?;
            Ok((ctx.name(&format!("{i:02}")), file, size))
        })
        .collect::<Result<_, Stop>>()?;
    let backend = ctx.backend();
    parallel(n, |i| {
        let (name, file, _) = &items[i];
        backend
            .put(file, name)
            .map(|_| ())
            .map_err(|e| format!("put of {name:?}: {}", error_text(&e)))
    })?;
    let want = items.iter().map(|(n, _, s)| (n.clone(), *s)).collect();
    ctx.expect_listing(&want)?;
    Ok(String::new())
}

fn many(ctx: &Ctx<'_, '_>, n: usize) -> Checked {
    let start = Instant::now();
    // Eight local files of sizes 0..8 serve all names.
    let files: Vec<PathBuf> = (0..8u64)
        .map(|k| ctx.file(ctx.content(k)))
        .collect::<Result<_, Stop>>()?;
    let names: Vec<String> = (0..n).map(|i| ctx.name(&format!("{i:06}"))).collect();
    let backend: &Backend = ctx.backend();
    parallel(n, |i| {
        backend
            .put(&files[i % 8], &names[i])
            .map(|_| ())
            .map_err(|e| format!("put of {:?}: {}", names[i], error_text(&e)))
    })?;
    let listed = ctx.ours()?;
    ensure!(
        listed.len() == n,
        "{n} names were stored, list shows {}",
        listed.len()
    );
    let want: BTreeMap<String, u64> = names
        .iter()
        .enumerate()
        .map(|(i, name)| (name.clone(), (i % 8) as u64))
        .collect();
    compare_listing(&listed, &want)?;
    drop(listed);
    parallel(n, |i| {
        backend
            .delete(&names[i])
            .map_err(|e| format!("delete of {:?}: {}", names[i], error_text(&e)))
    })?;
    let left = ctx.ours()?;
    ensure!(
        left.is_empty(),
        "after deleting all {n} names, list still shows {}",
        left.len()
    );
    Ok(format!(
        "{n} puts, one listing, {n} deletes in {:.1} s",
        start.elapsed().as_secs_f64()
    ))
}

pub(crate) fn many_1000(ctx: &Ctx<'_, '_>) -> Checked {
    many(ctx, 1000)
}

pub(crate) fn many_100000(ctx: &Ctx<'_, '_>) -> Checked {
    if ctx.options().quick {
        skip!("--quick: the 100,000-name listing is not run");
    }
    if !ctx.options().large {
        skip!("100,000 puts and deletes take long; run with --large");
    }
    many(ctx, 100_000)
}

pub(crate) fn reflects_changes(ctx: &Ctx<'_, '_>) -> Checked {
    let name = ctx.name("obj");
    let first: Content = ctx.content(100);
    ctx.put(&name, first)?;
    let listed = ctx.ours()?;
    ensure!(
        listed.get(&name) == Some(&100),
        "right after a put of 100 bytes, list shows {:?}",
        listed.get(&name)
    );
    ctx.put(&name, ctx.content(200))?;
    let listed = ctx.ours()?;
    ensure!(
        listed.get(&name) == Some(&200),
        "right after an overwrite with 200 bytes, list shows {:?}",
        listed.get(&name)
    );
    ctx.backend()
        .delete(&name)
        .or_fail(format!("delete of {name:?}"))?;
    let listed = ctx.ours()?;
    ensure!(
        !listed.contains_key(&name),
        "right after delete, list still shows {name:?}"
    );
    Ok(String::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_urls_are_derived_for_any_scheme() {
        let t = "stowage-conf-0123abcd-";
        let derived = [
            (
                "file:///tmp/x",
                "file:///tmp/x/stowage-conf-0123abcd-absent",
            ),
            (
                "file:///tmp/x/?fsync=none",
                "file:///tmp/x/stowage-conf-0123abcd-absent?fsync=none",
            ),
            (
                "local-peer://host1/tmp/p",
                "local-peer://host1/tmp/p/stowage-conf-0123abcd-absent",
            ),
            (
                "wrap+file:///tmp/x",
                "wrap+file:///tmp/x/stowage-conf-0123abcd-absent",
            ),
            // A relative path keeps its case.
            (
                "file://Rel/Dir",
                "file://Rel/Dir/stowage-conf-0123abcd-absent",
            ),
            (
                "xorriso:///tmp/a.iso:/d",
                "xorriso:///tmp/a.iso:/d/stowage-conf-0123abcd-absent",
            ),
            ("memory://x", "memory://x/stowage-conf-0123abcd-absent"),
        ];
        for (url, want) in derived {
            assert_eq!(derive_absent_url(url, t).as_deref(), Some(want), "{url}");
        }
        for url in ["memory://x#frag", "not a url"] {
            assert_eq!(derive_absent_url(url, t), None, "{url}");
        }
    }
}
