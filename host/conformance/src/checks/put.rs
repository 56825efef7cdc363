//! put: byte-exact round trips, exact sizes, complete replacement, a
//! missing source, no partial or temporary object visible, the caller's
//! file left alone.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::context::Ctx;
use crate::data::size_text;
use crate::describe::{error_text, raw_error_text, Said};
use crate::expect::{host_failed, native_or_fallback, plugin_not_found};
use crate::stop::{ensure, fail, skip, Checked, OrFail, Stop};
use stowage::ErrorCode;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;

/// Put, get back and compare, then delete, for each size.
fn roundtrip(ctx: &Ctx<'_, '_>, sizes: &[u64]) -> Result<(), Stop> {
    for &size in sizes {
        let at = |m: String| Stop::Fail(format!("{}: {m}", size_text(size)));
        let content = ctx.content(size);
        let name = ctx.name(&format!("{size}"));
        let file = ctx.file(content)?;
        let stored = ctx
            .backend()
            .put(&file, &name)
            .map_err(|e| at(format!("put: {}", error_text(&e))))?;
        let _ = fs::remove_file(&file);
        if stored != size {
            return Err(at(format!("put reported {stored} bytes stored")));
        }
        ctx.get_verify(&name, content).map_err(|s| match s {
            Stop::Fail(m) | Stop::Skip(m) => at(m),
        })?;
        ctx.backend()
            .delete(&name)
            .map_err(|e| at(format!("delete: {}", error_text(&e))))?;
    }
    Ok(())
}

pub(crate) fn roundtrip_sizes(ctx: &Ctx<'_, '_>) -> Checked {
    let mut sizes = vec![0, 1, 4 * KIB, MIB + 1];
    for _ in 0..3 {
        sizes.push(rand::random_range(2..3 * MIB));
    }
    roundtrip(ctx, &sizes)?;
    let text: Vec<String> = sizes.iter().map(|s| size_text(*s)).collect();
    Ok(format!("byte-exact for {}", text.join(", ")))
}

pub(crate) fn roundtrip_64mib(ctx: &Ctx<'_, '_>) -> Checked {
    if ctx.options().quick {
        skip!("--quick: the 64 MiB round trip is not run");
    }
    roundtrip(ctx, &[64 * MIB])?;
    Ok("byte-exact for 64 MiB".into())
}

pub(crate) fn query_size(ctx: &Ctx<'_, '_>) -> Checked {
    let mut native = true;
    for size in [0, 1, 4 * KIB + 1, 64 * KIB + 3] {
        let name = ctx.name(&format!("{size}"));
        ctx.put(&name, ctx.content(size))?;
        match ctx.raw().query(&name) {
            Ok(Some(s)) if s == size => {}
            Ok(found) => fail!(
                "after a put of {size} bytes, query of {name:?} says {}",
                found.said()
            ),
            Err(e) if e.is_unsupported() => native = false,
            Err(e) => fail!("query of {name:?} after put: {}", raw_error_text(&e)),
        }
        match ctx.backend().query(&name) {
            Ok(Some(s)) if s == size => {}
            Ok(found) => fail!(
                "after a put of {size} bytes, the host's query of {name:?} says {}",
                found.said()
            ),
            Err(e) => fail!("host query of {name:?}: {}", error_text(&e)),
        }
    }
    native_or_fallback(native, "query", " through list reported the right sizes")
}

pub(crate) fn overwrite_longer_shorter(ctx: &Ctx<'_, '_>) -> Checked {
    let name = ctx.name("obj");
    for (what, size) in [("first", 1000), ("longer", 5000), ("shorter", 10)] {
        let content = ctx.content(size);
        ctx.put(&name, content)?;
        ctx.get_verify(&name, content)
            .map_err(|s| prefix(s, &format!("after the {what} put ({size} bytes)")))?;
        match ctx.backend().query(&name) {
            Ok(Some(s)) if s == size => {}
            other => fail!(
                "after the {what} put ({size} bytes), query says {}",
                other.said()
            ),
        }
        ctx.expect_listing(&BTreeMap::from([(name.clone(), size)]))
            .map_err(|s| prefix(s, &format!("after the {what} put")))?;
    }
    Ok(String::new())
}

fn prefix(stop: Stop, what: &str) -> Stop {
    match stop {
        Stop::Fail(m) => Stop::Fail(format!("{what}: {m}")),
        Stop::Skip(m) => Stop::Skip(m),
    }
}

pub(crate) fn missing_local_file(ctx: &Ctx<'_, '_>) -> Checked {
    let missing = ctx.path("missing");
    let name = ctx.name("obj");
    match ctx.backend().put(&missing, &name) {
        Ok(_) => fail!("put of a missing local file succeeded"),
        Err(e) => ensure!(
            e.code() == ErrorCode::NOT_FOUND,
            "host put of a missing local file: expected not found (52), got {}",
            error_text(&e)
        ),
    }
    plugin_not_found(
        ctx.raw().put(&missing, &name),
        "put of a missing local file",
        false,
    )?;
    let mut detail = String::new();
    if nix::unistd::geteuid().is_root() {
        detail = "the unreadable-file case is not checked when running as root".into();
    } else {
        let file = ctx.file(ctx.content(100))?;
        fs::set_permissions(&file, fs::Permissions::from_mode(0o000))
            .or_fail("making the local file unreadable")?;
        let result = ctx.raw().put(&file, &name);
        let _ = fs::set_permissions(&file, fs::Permissions::from_mode(0o600));
        match result {
            Ok(()) => fail!("the plugin's put of an unreadable local file succeeded"),
            Err(e) => ensure!(
                e.code() == ErrorCode::PERMISSION_DENIED && !e.is_retryable(),
                "put of an unreadable local file: expected permission denied (51), not retryable; got {}",
                raw_error_text(&e)
            ),
        }
    }
    match ctx.backend().query(&name) {
        Ok(None) => {}
        other => fail!("after failed puts, query of {name:?} says {}", other.said()),
    }
    ctx.expect_listing(&BTreeMap::new())?;
    Ok(detail)
}

pub(crate) fn no_partial_or_temporary_visible(ctx: &Ctx<'_, '_>) -> Checked {
    // At least MIN_ROUNDS puts, and on until the reader has looked
    // MIN_OBSERVATIONS times (or MAX_ROUNDS puts are done).
    const MIN_ROUNDS: usize = 8;
    const MAX_ROUNDS: usize = 400;
    const MIN_OBSERVATIONS: usize = 24;
    let name = ctx.name("obj");
    let versions = [ctx.content(MIB + 17), ctx.content(3 * MIB + 5)];
    let files = [ctx.file(versions[0])?, ctx.file(versions[1])?];
    let sizes = [versions[0].size, versions[1].size];
    let snapshot: Option<&BTreeMap<String, u64>> = ctx.run().snapshot.as_ref().ok();
    let query_native = !Ctx::unsupported(&ctx.raw().query(&name));
    let reads: Vec<_> = (0..64).map(|_| ctx.path("read")).collect();
    let backend = ctx.backend();
    let raw = ctx.raw();
    let scope = ctx.scope();
    let first_done = AtomicBool::new(false);
    let done = AtomicBool::new(false);
    let looks = AtomicUsize::new(0);

    let (written, observed) = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let mut rounds = 0;
            let mut result = Ok(0);
            while rounds < MIN_ROUNDS
                || (rounds < MAX_ROUNDS && looks.load(Ordering::Acquire) < MIN_OBSERVATIONS)
            {
                if let Err(e) = backend.put(&files[rounds % 2], &name) {
                    result = Err(format!("put round {}: {}", rounds + 1, error_text(&e)));
                    break;
                }
                rounds += 1;
                result = Ok(rounds);
                first_done.store(true, Ordering::Release);
            }
            done.store(true, Ordering::Release);
            result
        });
        let reader = s.spawn(|| {
            let mut problems: Vec<String> = Vec::new();
            let mut strangers: BTreeSet<String> = BTreeSet::new();
            let mut observations = 0usize;
            for local in reads.iter().cycle() {
                let finished = done.load(Ordering::Acquire);
                let present = first_done.load(Ordering::Acquire);
                match backend.list() {
                    Ok(entries) => {
                        let mut seen = false;
                        for (n, size) in entries {
                            if n == name {
                                seen = true;
                                if !sizes.contains(&size) {
                                    problems.push(format!(
                                        "list showed {name:?} with {size} bytes, neither version ({} or {})",
                                        sizes[0], sizes[1]
                                    ));
                                }
                            } else if n.contains(scope) {
                                problems.push(format!("list showed {n:?} during a put (a temporary object?)"));
                            } else if let Some(before) = snapshot {
                                if !before.contains_key(&n) && !n.contains("stowage-conf-") {
                                    strangers.insert(n);
                                }
                            }
                        }
                        if present && !seen {
                            problems.push(format!("{name:?} vanished from list while being replaced"));
                        }
                    }
                    Err(e) => problems.push(format!("list during puts: {}", error_text(&e))),
                }
                if query_native {
                    match raw.query(&name) {
                        Ok(Some(size)) if sizes.contains(&size) => {}
                        Ok(None) if !present => {}
                        Ok(other) => problems.push(format!(
                            "query during puts answered {}, expected {} or {} bytes",
                            other.said(),
                            sizes[0],
                            sizes[1]
                        )),
                        Err(e) => problems.push(format!("query during puts: {}", raw_error_text(&e))),
                    }
                }
                let present = first_done.load(Ordering::Acquire);
                match backend.get(&name, local) {
                    Ok(size) => {
                        let which = versions.iter().find(|v| v.size == size);
                        match which {
                            None => problems.push(format!("get during puts returned {size} bytes, neither version")),
                            Some(v) => {
                                if let Err(m) = v.verify(local) {
                                    problems.push(format!("get during puts returned a mix: {m}"));
                                }
                            }
                        }
                    }
                    Err(e) if e.code() == ErrorCode::NOT_FOUND && !present => {}
                    Err(e) => problems.push(format!("get during puts: {}", error_text(&e))),
                }
                let _ = fs::remove_file(local);
                observations += 1;
                looks.store(observations, Ordering::Release);
                if finished || problems.len() >= 3 {
                    break;
                }
            }
            (problems, strangers, observations)
        });
        let written = writer
            .join()
            .unwrap_or_else(|_| Err("the writer thread panicked".into()));
        let observed = reader.join().unwrap_or_else(|_| {
            (
                vec!["the reader thread panicked".into()],
                BTreeSet::new(),
                0,
            )
        });
        (written, observed)
    });
    let rounds = match written {
        Ok(rounds) => rounds,
        Err(m) => fail!("{m}"),
    };
    let (problems, strangers, observations) = observed;
    if let Some(first) = problems.first() {
        fail!("{first}");
    }
    if !strangers.is_empty() {
        let after: BTreeSet<String> = backend
            .list()
            .map_err(host_failed("list after the puts"))?
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        let gone: Vec<&String> = strangers.iter().filter(|n| !after.contains(*n)).collect();
        if !gone.is_empty() {
            fail!(
                "{:?} showed in list during puts and vanished afterwards: temporary objects must never be listed",
                gone
            );
        }
    }
    let last = versions[(rounds - 1) % 2];
    ctx.get_verify(&name, last)?;
    ctx.expect_listing(&BTreeMap::from([(name.clone(), last.size)]))?;
    Ok(format!(
        "{observations} list/query/get observations during {rounds} replacing puts"
    ))
}

/// Descriptors of this process open on `path` (the plugin runs in-process).
fn open_descriptors(path: &Path) -> Option<Vec<String>> {
    let target = fs::canonicalize(path).ok()?;
    let entries = fs::read_dir("/proc/self/fd").ok()?;
    Some(
        entries
            .filter_map(|e| e.ok())
            .filter(|e| fs::read_link(e.path()).is_ok_and(|l| l == target))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
    )
}

pub(crate) fn local_file_untouched(ctx: &Ctx<'_, '_>) -> Checked {
    let name = ctx.name("obj");
    let content = ctx.content(256 * KIB + 3);
    let file = ctx.file(content)?;
    let before = fs::metadata(&file).or_fail("stat of the local file")?;
    ctx.backend()
        .put(&file, &name)
        .map_err(host_failed("put"))?;
    let after = match fs::metadata(&file) {
        Ok(m) => m,
        Err(e) => fail!("the local file is gone after put: {e}"),
    };
    ensure!(
        before.ino() == after.ino()
            && before.len() == after.len()
            && before.mode() == after.mode()
            && before.mtime() == after.mtime()
            && before.mtime_nsec() == after.mtime_nsec(),
        "put changed the local file's metadata (inode, size, mode or modification time)"
    );
    content
        .verify(&file)
        .map_err(|m| Stop::Fail(format!("put changed the local file: {m}")))?;
    let mut detail = String::new();
    match open_descriptors(&file) {
        Some(fds) if !fds.is_empty() => fail!(
            "the local file is still open after put returned (descriptors {})",
            fds.join(", ")
        ),
        Some(_) => {}
        None => detail = "open descriptors not checked (no /proc/self/fd)".into(),
    }
    // Move the original aside and scribble over both the moved file (in
    // place) and a new file at the old path: the stored object must not
    // change, so it was neither a link to the caller's file nor read later.
    let aside = ctx.path("aside");
    fs::rename(&file, &aside).or_fail("moving the local file aside")?;
    ctx.content(content.size)
        .write_to(&file)
        .or_fail("writing a new file at the old path")?;
    let scribble = vec![0xA5u8; 4096];
    fs::OpenOptions::new()
        .write(true)
        .open(&aside)
        .and_then(|f| f.write_all_at(&scribble, 0))
        .or_fail("overwriting the moved local file in place")?;
    ctx.get_verify(&name, content).map_err(|s| {
        prefix(
            s,
            "after the local file was changed, the stored object differs (the backend kept a link to the caller's file)",
        )
    })?;
    Ok(detail)
}
