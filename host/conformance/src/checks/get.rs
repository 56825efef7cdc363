//! get: not found for a missing name, and an existing local file replaced
//! by a new one holding exactly the object.

use std::fs;
use std::path::Path;

use crate::context::Ctx;
use crate::describe::error_text;
use crate::expect::{host_failed, host_not_found_once, plugin_not_found};
use crate::stop::{ensure, fail, Checked, OrFail, Stop};

fn entries(dir: &Path) -> Result<Vec<String>, Stop> {
    let list = fs::read_dir(dir).or_fail(format!("reading {}", dir.display()))?;
    Ok(list
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect())
}

pub(crate) fn missing_is_not_found(ctx: &Ctx<'_, '_>) -> Checked {
    let name = ctx.name("absent");
    let dir = ctx.dir("dest")?;
    let dest = dir.join("out");
    match ctx.backend().get(&name, &dest) {
        Ok(_) => fail!("get of a missing name succeeded"),
        Err(e) => host_not_found_once(&e, "get of a missing name")?,
    }
    let left = entries(&dir)?;
    ensure!(
        left.is_empty(),
        "a failed get left local files behind: {left:?}"
    );
    plugin_not_found(ctx.raw().get(&name, &dest), "get of a missing name", false)?;
    let left = entries(&dir)?;
    ensure!(
        left.is_empty(),
        "the plugin's failed get left local files behind: {left:?}"
    );
    // An existing destination survives a failed get.
    let keep = ctx.content(100);
    keep.write_to(&dest).or_fail("writing the local file")?;
    if ctx.backend().get(&name, &dest).is_ok() {
        fail!("get of a missing name over an existing file succeeded");
    }
    keep.verify(&dest)
        .map_err(|m| Stop::Fail(format!("a failed get changed the existing local file: {m}")))?;
    let left = entries(&dir)?;
    ensure!(
        left == ["out"],
        "a failed get over an existing file left other local files: {left:?}"
    );
    Ok(String::new())
}

pub(crate) fn replaces_existing(ctx: &Ctx<'_, '_>) -> Checked {
    let name = ctx.name("obj");
    let object = ctx.content(1000);
    ctx.put(&name, object)?;
    for prior in [10 * 1024, 10] {
        let dest = ctx.path("dest");
        ctx.content(prior)
            .write_to(&dest)
            .or_fail("writing the local file")?;
        match ctx.backend().get(&name, &dest) {
            Ok(size) => ensure!(
                size == object.size,
                "get over a {prior}-byte file reported {size} bytes"
            ),
            Err(e) => fail!("get over a {prior}-byte file: {}", error_text(&e)),
        }
        object.verify(&dest).map_err(|m| {
            Stop::Fail(format!(
                "get over an existing {prior}-byte file did not leave exactly the object: {m}"
            ))
        })?;
    }
    Ok(String::new())
}

pub(crate) fn replace_not_in_place(ctx: &Ctx<'_, '_>) -> Checked {
    let name = ctx.name("obj");
    let object = ctx.content(64 * 1024);
    ctx.put(&name, object)?;
    let dest = ctx.path("dest");
    let old = ctx.content(32 * 1024);
    old.write_to(&dest).or_fail("writing the local file")?;
    // A second link to the old file: a replacement by rename leaves it
    // alone, a write into the old file shows through it.
    let link = ctx.path("link");
    fs::hard_link(&dest, &link).or_fail("linking the local file")?;
    ctx.backend()
        .get(&name, &dest)
        .map_err(host_failed("get"))?;
    object
        .verify(&dest)
        .map_err(|m| Stop::Fail(format!("get: {m}")))?;
    old.verify(&link).map_err(|_| {
        Stop::Fail(
            "get wrote into the existing local file in place: a reader or a crash can see partial content (write a temporary file beside it and rename)".into(),
        )
    })?;
    Ok(String::new())
}
