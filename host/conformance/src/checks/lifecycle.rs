//! Lifecycle and durability: close twice, operations after close, a
//! contained panic, data intact after close.

use std::collections::BTreeMap;

use crate::context::Ctx;
use crate::describe::{code_text, error_text, Said};
use crate::expect::host_failed;
use crate::stop::{ensure, fail, skip, Checked, Stop};
use stowage::{ErrorCode, Target};

pub(crate) fn close_twice(ctx: &Ctx<'_, '_>) -> Checked {
    let backend = ctx.fresh_backend()?;
    let name = ctx.name("obj");
    let file = ctx.file(ctx.content(1000))?;
    backend.put(&file, &name).map_err(host_failed("put"))?;
    backend.close().map_err(host_failed("first close"))?;
    backend.close().map_err(host_failed("second close"))?;
    backend
        .raw()
        .close()
        .map_err(|e| Stop::Fail(format!("third close (raw): {e}")))?;
    Ok(String::new())
}

pub(crate) fn op_after_close(ctx: &Ctx<'_, '_>) -> Checked {
    let backend = ctx.fresh_backend()?;
    backend.close().map_err(host_failed("close"))?;
    let name = ctx.name("obj");
    let file = ctx.file(ctx.content(10))?;
    let dest = ctx.path("dest");
    let mut seen = Vec::new();
    let results = [
        ("list", backend.list().map(|_| ())),
        ("put", backend.put(&file, &name).map(|_| ())),
        ("get", backend.get(&name, &dest).map(|_| ())),
        ("query", backend.query(&name).map(|_| ())),
        ("delete", backend.delete(&name)),
    ];
    for (op, r) in results {
        match r {
            Ok(()) => fail!("{op} after close succeeded"),
            Err(e) => {
                ensure!(
                    e.code() != ErrorCode::PANIC,
                    "{op} after close panicked: {}",
                    error_text(&e)
                );
                seen.push(format!("{op}: {}", code_text(e.code())));
            }
        }
    }
    ensure!(!dest.exists(), "get after close created {}", dest.display());
    // The host and the backend under test go on (unless it had to be
    // closed for this check; it is reopened afterwards).
    if ctx.released() {
        return Ok(seen.join(", "));
    }
    ctx.backend().list().map_err(|e| {
        Stop::Fail(format!(
            "list on the backend under test afterwards: {}",
            error_text(&e)
        ))
    })?;
    Ok(seen.join(", "))
}

pub(crate) fn panic_contained(ctx: &Ctx<'_, '_>) -> Checked {
    let target = Target::parse(ctx.url()).map_err(|e| Stop::Fail(error_text(&e)))?;
    if !target.handlers().iter().any(|h| h == "panic") {
        skip!("needs a panicking plugin; covered by the host test suite");
    }
    let backend = match ctx.open_releasing(|| ctx.registry().open(ctx.url())) {
        Ok(b) => b,
        Err(e) => {
            ensure!(
                e.code() == ErrorCode::PANIC,
                "a panic in open: expected code panic, got {}",
                error_text(&e)
            );
            return Ok("the panic in open became an error with code panic".into());
        }
    };
    for attempt in ["first", "second"] {
        match backend.list() {
            Ok(_) => fail!("the {attempt} list did not fail"),
            Err(e) => ensure!(
                e.code() == ErrorCode::PANIC,
                "the {attempt} list: expected code panic, got {}",
                error_text(&e)
            ),
        }
    }
    Ok("list panicked: code panic, and the backend stays poisoned".into())
}

pub(crate) fn durable_after_close(ctx: &Ctx<'_, '_>) -> Checked {
    let name = ctx.name("obj");
    let content = ctx.content(64 * 1024 + 1);
    let file = ctx.file(content)?;
    {
        let writer = ctx.fresh_backend()?;
        writer.put(&file, &name).map_err(host_failed("put"))?;
        writer.close().map_err(host_failed("close after put"))?;
    }
    let reader = ctx.fresh_backend()?;
    match reader.query(&name) {
        Ok(Some(s)) if s == content.size => {}
        other => fail!(
            "through a newly opened backend, query says {}",
            other.said()
        ),
    }
    ctx.get_verify_with(&reader, &name, content)?;
    let listed = ctx.ours_in(&reader)?;
    ensure!(
        listed == BTreeMap::from([(name.clone(), content.size)]),
        "through a newly opened backend, list shows {listed:?}"
    );
    reader.close().map_err(host_failed("close"))?;
    Ok("the object is there, intact, through a newly opened backend after close; surviving a machine crash cannot be checked from here".into())
}
