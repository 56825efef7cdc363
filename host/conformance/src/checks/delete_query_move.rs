//! delete, query and move: only the target is touched, missing names are
//! answered the documented way, and the host's fallbacks behave alike.

use std::collections::BTreeMap;
use std::fs;

use crate::context::Ctx;
use crate::data::Content;
use crate::describe::{attempts, error_text, raw_error_text, Said};
use crate::expect::{host_not_found_once, native_or_fallback, plugin_not_found};
use crate::stop::{ensure, fail, Checked, OrFail, Stop};
use stowage::{Error, ErrorCode};

pub(crate) fn only_target(ctx: &Ctx<'_, '_>) -> Checked {
    let suffixes = ["x", "x1", "xx", "x.bak", "x*", "x?", "[x]"];
    let mut objects: BTreeMap<String, Content> = BTreeMap::new();
    for (i, s) in suffixes.iter().enumerate() {
        let name = ctx.name(s);
        let content = ctx.content(10 + i as u64);
        ctx.put(&name, content)?;
        objects.insert(name, content);
    }
    for victim in ["x*", "x", "[x]"] {
        let name = format!("{}{victim}", ctx.scope());
        ctx.backend()
            .delete(&name)
            .or_fail(format!("delete of {name:?}"))?;
        objects.remove(&name);
        let want = objects.iter().map(|(n, c)| (n.clone(), c.size)).collect();
        ctx.expect_listing(&want).map_err(|s| match s {
            Stop::Fail(m) => Stop::Fail(format!("after deleting {name:?}: {m}")),
            other => other,
        })?;
        for (n, c) in &objects {
            ctx.get_verify(n, *c)?;
        }
    }
    Ok(String::new())
}

pub(crate) fn delete_missing(ctx: &Ctx<'_, '_>) -> Checked {
    let name = ctx.name("absent");
    let host = match ctx.backend().delete(&name) {
        Ok(()) => "success",
        Err(e) => {
            host_not_found_once(&e, "delete of a missing name (success is fine too)")?;
            "not found"
        }
    };
    plugin_not_found(ctx.raw().delete(&name), "delete of a missing name", true)?;
    Ok(format!("answered {host}"))
}

pub(crate) fn delete_list(ctx: &Ctx<'_, '_>) -> Checked {
    let keep = ctx.name("keep");
    let keep_content = ctx.content(7);
    ctx.put(&keep, keep_content)?;
    let present = [ctx.name("a"), ctx.name("b")];
    for p in &present {
        ctx.put(p, ctx.content(5))?;
    }
    let missing = [ctx.name("missing1"), ctx.name("missing2")];
    let batch = [
        present[0].as_str(),
        missing[0].as_str(),
        present[1].as_str(),
        missing[1].as_str(),
    ];
    let native = match ctx.raw().delete_list(&batch) {
        Ok(()) => true,
        Err(e) if e.is_unsupported() => {
            ensure!(
                !e.is_retryable(),
                "delete_list answered unsupported as retryable"
            );
            ctx.backend()
                .delete_list(&batch)
                .or_fail("the host's delete_list (fallback to delete)")?;
            false
        }
        Err(e) => fail!(
            "delete_list with present and missing names: {}",
            raw_error_text(&e)
        ),
    };
    let want = BTreeMap::from([(keep.clone(), keep_content.size)]);
    ctx.expect_listing(&want)
        .map_err(|s| after(s, "after delete_list"))?;
    // More than one batch of 100 through the host, missing names mixed in.
    let file = ctx.file(ctx.content(3))?;
    let mut names = Vec::new();
    for i in 0..120 {
        let name = ctx.name(&format!("n{i:03}"));
        if i % 8 != 0 {
            ctx.backend()
                .put(&file, &name)
                .map_err(|e| Stop::Fail(format!("put of {name:?}: {}", error_text(&e))))?;
        }
        names.push(name);
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    ctx.backend()
        .delete_list(&refs)
        .or_fail("host delete_list of 120 names")?;
    ctx.expect_listing(&want)
        .map_err(|s| after(s, "after a delete_list of 120 names"))?;
    ctx.get_verify(&keep, keep_content)?;
    native_or_fallback(
        native,
        "delete_list",
        ", one delete per name, removed exactly the present names",
    )
}

fn after(stop: Stop, what: &str) -> Stop {
    match stop {
        Stop::Fail(m) => Stop::Fail(format!("{what}: {m}")),
        other => other,
    }
}

pub(crate) fn then_missing(ctx: &Ctx<'_, '_>) -> Checked {
    let name = ctx.name("obj");
    ctx.put(&name, ctx.content(42))?;
    ctx.backend()
        .delete(&name)
        .or_fail(format!("delete of {name:?}"))?;
    match ctx.backend().query(&name) {
        Ok(None) => {}
        other => fail!("after delete, query says {}", other.said()),
    }
    match ctx.raw().query(&name) {
        Ok(None) => {}
        Err(e) if e.is_unsupported() => {}
        other => fail!("after delete, the plugin's query says {}", other.said()),
    }
    let dest = ctx.path("dest");
    match ctx.backend().get(&name, &dest) {
        Ok(_) => fail!("after delete, get succeeded"),
        Err(e) => ensure!(
            e.code() == ErrorCode::NOT_FOUND && attempts(&e) == 1,
            "after delete, get: expected not found (52) in one attempt, got {} ({} attempts)",
            error_text(&e),
            attempts(&e)
        ),
    }
    ensure!(!dest.exists(), "the failed get created {}", dest.display());
    ctx.expect_listing(&BTreeMap::new())
        .map_err(|s| after(s, "after delete"))?;
    Ok(String::new())
}

pub(crate) fn query_missing(ctx: &Ctx<'_, '_>) -> Checked {
    let name = ctx.name("absent");
    let native = match ctx.raw().query(&name) {
        Ok(None) => true,
        Ok(Some(size)) => fail!("query of a missing name reports {size} bytes"),
        Err(e) if e.is_unsupported() => false,
        Err(e) => fail!(
            "query of a missing name must answer missing, not an error: {}",
            raw_error_text(&e)
        ),
    };
    match ctx.backend().query(&name) {
        Ok(None) => {}
        Ok(Some(size)) => fail!("the host's query of a missing name reports {size} bytes"),
        Err(e) => fail!("the host's query of a missing name: {}", error_text(&e)),
    }
    native_or_fallback(native, "query", " through list reported missing")
}

pub(crate) fn query_list(ctx: &Ctx<'_, '_>) -> Checked {
    let a = ctx.name("a");
    let b = ctx.name("b");
    let m = ctx.name("missing");
    ctx.put(&a, ctx.content(10))?;
    ctx.put(&b, ctx.content(20))?;
    let asked = [a.as_str(), m.as_str(), b.as_str(), a.as_str()];
    let want = vec![Some(10), None, Some(20), Some(10)];
    let native = match ctx.raw().query_list(&asked) {
        Ok(got) => {
            ensure!(
                got == want,
                "query_list of {asked:?} answered {got:?}, expected {want:?}"
            );
            match ctx.raw().query_list(&[]) {
                Ok(v) if v.is_empty() => {}
                Ok(v) => fail!("query_list of no names answered {v:?}"),
                Err(e) => fail!("query_list of no names: {}", raw_error_text(&e)),
            }
            true
        }
        Err(e) if e.is_unsupported() => false,
        Err(e) => fail!("query_list: {}", raw_error_text(&e)),
    };
    match ctx.backend().query_list(&asked) {
        Ok(got) => ensure!(
            got == want,
            "the host's query_list of {asked:?} answered {got:?}, expected {want:?}"
        ),
        Err(e) => fail!("the host's query_list: {}", error_text(&e)),
    }
    native_or_fallback(native, "query_list", " answered exactly the names asked")
}

pub(crate) fn move_roundtrip(ctx: &Ctx<'_, '_>) -> Checked {
    let name = ctx.name("raw");
    let content = ctx.content(300 * 1024 + 7);
    let file = ctx.file(content)?;
    let native = match ctx.raw().move_in(&file, &name) {
        Ok(()) => {
            ensure!(!file.exists(), "after move, the local source still exists");
            ctx.get_verify(&name, content)?;
            match ctx.backend().query(&name) {
                Ok(Some(s)) if s == content.size => {}
                other => fail!(
                    "after move of {} bytes, query says {}",
                    content.size,
                    other.said()
                ),
            }
            true
        }
        Err(e) if e.is_unsupported() => {
            ensure!(
                file.exists(),
                "move answered unsupported but removed the local source"
            );
            false
        }
        Err(e) => fail!("move: {}", raw_error_text(&e)),
    };
    // Through the host (native move or its put + remove fallback).
    let name2 = ctx.name("host");
    let content2 = ctx.content(70 * 1024 + 1);
    let file2 = ctx.file(content2)?;
    match ctx.backend().move_in(&file2, &name2) {
        Ok(size) => ensure!(
            size == content2.size,
            "the host's move reported {size} bytes"
        ),
        Err(e) => fail!("the host's move: {}", error_text(&e)),
    }
    ensure!(
        !file2.exists(),
        "after the host's move, the local source still exists"
    );
    ctx.get_verify(&name2, content2)?;
    native_or_fallback(native, "move_in", ", put then remove, worked")
}

pub(crate) fn move_failed(ctx: &Ctx<'_, '_>) -> Checked {
    let mut notes = Vec::new();
    // A missing source: nothing may appear.
    let missing = ctx.path("missing");
    let n1 = ctx.name("from-missing");
    match ctx.raw().move_in(&missing, &n1) {
        Ok(()) => fail!("move of a missing local file succeeded"),
        Err(e) if e.is_unsupported() => notes.push("backend has no move_in"),
        Err(_) => {}
    }
    if ctx.backend().move_in(&missing, &n1).is_ok() {
        fail!("the host's move of a missing local file succeeded");
    }
    // A directory as the source: the move fails and the directory stays.
    let dir = ctx.dir("srcdir")?;
    let inside = dir.join("keep");
    let kept = ctx.content(33);
    kept.write_to(&inside)
        .or_fail("writing a file in the directory")?;
    let n2 = ctx.name("from-dir");
    if ctx.raw().move_in(&dir, &n2).is_ok() {
        fail!("move of a directory succeeded");
    }
    ensure!(dir.is_dir(), "a failed move removed the source directory");
    kept.verify(&inside)
        .map_err(|m| Stop::Fail(format!("a failed move changed the source directory: {m}")))?;
    // A name the host refuses: the source stays.
    let content = ctx.content(44);
    let file = ctx.file(content)?;
    let bad = format!("{}a/b", ctx.scope());
    match ctx.backend().move_in(&file, &bad) {
        Err(Error::InvalidName { .. }) => {}
        Ok(_) => fail!("move to the invalid name {bad:?} succeeded"),
        Err(e) => fail!(
            "move to the invalid name {bad:?}: expected an invalid-name refusal, got {}",
            error_text(&e)
        ),
    }
    content
        .verify(&file)
        .map_err(|m| Stop::Fail(format!("a refused move changed the local source: {m}")))?;
    for n in [&n1, &n2] {
        match ctx.backend().query(n) {
            Ok(None) => {}
            other => fail!("after a failed move, query of {n:?} says {}", other.said()),
        }
    }
    ctx.expect_listing(&BTreeMap::new())
        .map_err(|s| after(s, "after failed moves"))?;
    let _ = fs::remove_file(&file);
    Ok(notes.join("; "))
}
