//! Names: awkward names round-trip, invalid ones are refused by the host,
//! and none escapes the location.

use std::collections::BTreeMap;

use crate::context::Ctx;
use crate::data::Content;
use crate::describe::{error_text, Said};
use crate::stop::{ensure, fail, skip, Checked, OrFail, Stop};
use stowage::{validate_name, Error, MAX_NAME_BYTES};

/// Each name through put, list, query, get and delete; distinct contents so
/// that a name reaching another object's data shows.
fn roundtrip(ctx: &Ctx<'_, '_>, names: &[String]) -> Result<(), Stop> {
    let mut objects: BTreeMap<String, Content> = BTreeMap::new();
    for (i, name) in names.iter().enumerate() {
        ctx.record(name);
        let content = ctx.content(100 + 7 * i as u64);
        ctx.put(name, content)?;
        objects.insert(name.clone(), content);
    }
    let want = objects.iter().map(|(n, c)| (n.clone(), c.size)).collect();
    ctx.expect_listing(&want)?;
    for (name, content) in &objects {
        match ctx.backend().query(name) {
            Ok(Some(s)) if s == content.size => {}
            other => fail!(
                "query of {name:?} says {}, expected {} bytes",
                other.said(),
                content.size
            ),
        }
        ctx.get_verify(name, *content)?;
    }
    for name in objects.keys() {
        ctx.backend()
            .delete(name)
            .or_fail(format!("delete of {name:?}"))?;
        match ctx.backend().query(name) {
            Ok(None) => {}
            other => fail!("after delete, query of {name:?} says {}", other.said()),
        }
    }
    ctx.expect_listing(&BTreeMap::new()).map_err(|s| match s {
        Stop::Fail(m) => Stop::Fail(format!("after deleting all: {m}")),
        other => other,
    })?;
    Ok(())
}

fn scoped(ctx: &Ctx<'_, '_>, suffixes: &[&str]) -> Vec<String> {
    suffixes.iter().map(|s| ctx.name(s)).collect()
}

pub(crate) fn special_characters(ctx: &Ctx<'_, '_>) -> Checked {
    let names = scoped(
        ctx,
        &[
            "with space",
            "two  spaces",
            "quote'single",
            "quote\"double",
            "back\\slash",
            "star*",
            "question?",
            "bracket[x]",
            "[ab]",
            "%46",
            "percent%2F",
            "colon:x",
            "dollar$HOME",
            "hash#x",
        ],
    );
    roundtrip(ctx, &names)?;
    Ok(format!("{} names", names.len()))
}

pub(crate) fn leading_dash_dot(ctx: &Ctx<'_, '_>) -> Checked {
    let names: Vec<String> = ["-", "--", ".", "..", "-."]
        .iter()
        .map(|lead| ctx.lead_name(lead, "x"))
        .collect();
    roundtrip(ctx, &names)?;
    Ok(String::new())
}

pub(crate) fn unicode_nfc_nfd(ctx: &Ctx<'_, '_>) -> Checked {
    let names = scoped(
        ctx,
        &[
            "caf\u{e9}",   // NFC
            "cafe\u{301}", // NFD of the same text
            "\u{fc}ber",
            "\u{65e5}\u{672c}\u{8a9e}",
            "emoji\u{1f4be}",
            "\u{391}\u{3b8}\u{3ae}\u{3bd}\u{3b1}",
        ],
    );
    roundtrip(ctx, &names)?;
    Ok(String::new())
}

/// `<scope><fill...>` of exactly 255 bytes: `unit` repeated, then ASCII.
fn name_of_255(scope: &str, unit: &str) -> String {
    let mut name = scope.to_string();
    while name.len() + unit.len() <= MAX_NAME_BYTES {
        name.push_str(unit);
    }
    while name.len() < MAX_NAME_BYTES {
        name.push('n');
    }
    name
}

pub(crate) fn bytes_255(ctx: &Ctx<'_, '_>) -> Checked {
    let names: Vec<String> = ["n", "\u{e9}", "\u{8a9e}"]
        .iter()
        .map(|unit| name_of_255(ctx.scope(), unit))
        .collect();
    for n in &names {
        ensure!(
            n.len() == MAX_NAME_BYTES,
            "internal: a name of {} bytes",
            n.len()
        );
    }
    roundtrip(ctx, &names)?;
    Ok(String::new())
}

pub(crate) fn case_distinct(ctx: &Ctx<'_, '_>) -> Checked {
    let lower = ctx.name("case-x");
    let upper = ctx.name("CASE-X");
    let (cl, cu) = (ctx.content(100), ctx.content(200));
    ctx.put(&lower, cl)?;
    ctx.put(&upper, cu)?;
    let listed = ctx.ours()?;
    if listed.len() == 1 {
        skip!(
            "backend folds case: {lower:?} and {upper:?} are one object (list shows {:?})",
            listed.keys().next()
        );
    }
    let want = BTreeMap::from([(lower.clone(), cl.size), (upper.clone(), cu.size)]);
    ctx.expect_listing(&want)?;
    ctx.get_verify(&lower, cl)?;
    ctx.get_verify(&upper, cu)?;
    ctx.backend()
        .delete(&upper)
        .or_fail(format!("delete of {upper:?}"))?;
    ctx.expect_listing(&BTreeMap::from([(lower.clone(), cl.size)]))
        .map_err(|s| match s {
            Stop::Fail(m) => Stop::Fail(format!("after deleting {upper:?}: {m}")),
            other => other,
        })?;
    Ok(String::new())
}

fn refused<T>(what: &str, name: &str, result: Result<T, Error>) -> Result<(), Stop> {
    match result {
        Err(Error::InvalidName { .. }) => Ok(()),
        Ok(_) => fail!("{what} with the invalid name {name:?} succeeded"),
        Err(e) => fail!(
            "{what} with the invalid name {name:?}: expected the host's invalid-name refusal, got {}",
            error_text(&e)
        ),
    }
}

pub(crate) fn invalid_refused(ctx: &Ctx<'_, '_>) -> Checked {
    let scope = ctx.scope();
    let mut long = scope.to_string();
    while long.len() <= MAX_NAME_BYTES {
        long.push('x');
    }
    let invalid = [
        String::new(),
        ".".into(),
        "..".into(),
        "/".into(),
        format!("{scope}a/b"),
        format!("{scope}/"),
        format!("/{scope}"),
        format!("{scope}a\0b"),
        long,
    ];
    let content = ctx.content(10);
    let file = ctx.file(content)?;
    let dir = ctx.dir("dest")?;
    let dest = dir.join("out");
    let backend = ctx.backend();
    for name in &invalid {
        let n = name.as_str();
        refused("validate_name", n, validate_name(n))?;
        refused("put", n, backend.put(&file, n))?;
        refused("get", n, backend.get(n, &dest))?;
        ensure!(!dest.exists(), "a refused get created {}", dest.display());
        refused("delete", n, backend.delete(n))?;
        refused("query", n, backend.query(n))?;
        refused("query_list", n, backend.query_list(&[n]))?;
        refused("delete_list", n, backend.delete_list(&[n]))?;
        refused("move", n, backend.move_in(&file, n))?;
        content
            .verify(&file)
            .map_err(|m| Stop::Fail(format!("a refused move changed the local file: {m}")))?;
    }
    ctx.expect_listing(&BTreeMap::new())?;
    Ok(format!(
        "{} names refused by 8 operations each",
        invalid.len()
    ))
}

pub(crate) fn stay_inside(ctx: &Ctx<'_, '_>) -> Checked {
    let mut names = scoped(
        ctx,
        &[
            "..",
            "...",
            "..%2F..%2Fescape",
            "%2e%2e",
            "\\..\\..\\escape",
            "..\\",
            "~",
        ],
    );
    names.push(ctx.lead_name("..", ""));
    names.push(ctx.lead_name("...", ""));
    roundtrip(ctx, &names)?;
    Ok("dot-dot-like names are flat objects under their exact names; invalid names are refused (names.invalid-refused); objects of others are checked by hygiene.cleanup".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_255_bytes() {
        let scope = "stowage-conf-0123abcd-names.255-bytes_";
        for unit in ["n", "\u{e9}", "\u{8a9e}"] {
            let n = name_of_255(scope, unit);
            assert_eq!(n.len(), 255, "{unit}");
            assert!(n.starts_with(scope));
            assert!(validate_name(&n).is_ok());
        }
    }
}
