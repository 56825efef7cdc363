//! Registration and dispatch: unknown schemes, prefix chains, optional
//! operations, credentials kept out of what is shown.

use stowage_backend_api::BackendError;

use crate::context::Ctx;
use crate::describe::{error_text, raw_error_text};
use crate::stop::{ensure, fail, skip, Checked, Stop};
use stowage::{Error, ErrorCode, Target};

pub(crate) fn unknown_scheme(ctx: &Ctx<'_, '_>) -> Checked {
    let scheme = format!("{}nosuch", ctx.token());
    let url = format!("{scheme}:///x");
    match ctx.registry().open(&url) {
        Ok(_) => fail!("{url} opened"),
        Err(e @ Error::UnknownScheme(_)) => {
            let text = e.to_string();
            ensure!(
                text.contains(&scheme),
                "the error does not name the scheme: {text}"
            );
            for plugin in ctx.registry().plugins() {
                for s in &plugin.schemes {
                    ensure!(
                        text.contains(&s.name),
                        "the error does not list the registered scheme {:?}: {text}",
                        s.name
                    );
                }
            }
            for r in ctx.registry().rejected() {
                let file = r.file.display().to_string();
                ensure!(
                    text.contains(&file),
                    "the error does not name the rejected plugin file {file}: {text}"
                );
            }
            ensure!(
                e.code() == ErrorCode::INVALID_INPUT,
                "an unknown scheme has code {}, expected invalid input",
                e.code()
            );
            Ok(String::new())
        }
        Err(e) => fail!("expected an unknown-scheme error, got {}", error_text(&e)),
    }
}

pub(crate) fn prefix_chain(ctx: &Ctx<'_, '_>) -> Checked {
    let target = Target::parse(ctx.url()).map_err(|e| Stop::Fail(error_text(&e)))?;
    let prefixes: Vec<String> = ctx
        .registry()
        .plugins()
        .iter()
        .flat_map(|p| p.prefixes.iter().map(|h| h.name.clone()))
        .collect();
    let mut chain = Vec::new();
    let mut inner = target;
    while inner.handlers().len() > 1 && prefixes.contains(&inner.handlers()[0]) {
        chain.push(inner.handlers()[0].clone());
        match inner.strip_first_handler() {
            Some(next) => inner = next,
            None => break,
        }
    }
    if chain.is_empty() {
        skip!("the URL has no prefix");
    }
    let handle = ctx
        .open_releasing(|| ctx.registry().open_raw(inner.as_str()))
        .map_err(|e| {
            Stop::Fail(format!(
                "the inner URL {} does not open: {}",
                inner.redacted(),
                error_text(&e)
            ))
        })?;
    handle
        .list()
        .map_err(|e| Stop::Fail(format!("list of the inner URL: {}", raw_error_text(&e))))?;
    let _ = handle.close();
    Ok(format!(
        "prefixes {} over {}",
        chain.join("+"),
        inner.redacted()
    ))
}

pub(crate) fn optional_ops(ctx: &Ctx<'_, '_>) -> Checked {
    let raw = ctx.raw();
    let name = ctx.name("absent");
    let missing = ctx.path("missing");
    let mut native = Vec::new();
    let mut unsupported = Vec::new();
    let mut sort = |op: &'static str, r: Result<(), BackendError>| -> Result<(), Stop> {
        match r {
            Ok(()) => native.push(op),
            Err(e) if e.is_unsupported() => {
                ensure!(
                    !e.is_retryable(),
                    "{op} answers unsupported as retryable: the host would retry instead of falling back"
                );
                unsupported.push(op);
            }
            Err(e) => fail!("{op}: {}", raw_error_text(&e)),
        }
        Ok(())
    };
    sort("delete_list", raw.delete_list(&[&name]))?;
    sort(
        "query",
        match raw.query(&name) {
            Ok(None) => Ok(()),
            Ok(Some(s)) => fail!("query of a missing name reports {s} bytes"),
            Err(e) => Err(e),
        },
    )?;
    sort(
        "query_list",
        match raw.query_list(&[&name]) {
            Ok(v) if v == [None] => Ok(()),
            Ok(v) => fail!("query_list of one missing name answered {v:?}"),
            Err(e) => Err(e),
        },
    )?;
    sort(
        "move_in",
        match raw.move_in(&missing, &name) {
            Ok(()) => fail!("move of a missing local file succeeded"),
            Err(e) if e.code() == ErrorCode::NOT_FOUND => Ok(()),
            Err(e) => Err(e),
        },
    )?;
    sort("retry_cleanup", raw.retry_cleanup())?;
    if let Ok(Some(size)) = ctx.backend().query(&name) {
        fail!("after probing the optional operations, {name:?} exists ({size} bytes)");
    }
    let list = |v: &[&str]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    Ok(format!(
        "native: {}; unsupported: {}",
        list(&native),
        list(&unsupported)
    ))
}

pub(crate) fn credentials_redacted(ctx: &Ctx<'_, '_>) -> Checked {
    let target = Target::parse(ctx.url()).map_err(|e| Stop::Fail(error_text(&e)))?;
    let secrets: Vec<String> = target
        .secrets()
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    if secrets.is_empty() {
        skip!("the URL carries no credentials");
    }
    let name = ctx.name("absent");
    let dest = ctx.path("dest");
    let mut texts = vec![("the URL shown", ctx.backend().url())];
    if let Err(e) = ctx.backend().get(&name, &dest) {
        texts.push(("an error message", e.to_string()));
        texts.push(("an error's debug form", format!("{e:?}")));
    }
    for (what, text) in &texts {
        for s in &secrets {
            ensure!(
                !text.contains(s.as_str()),
                "{what} contains the URL's credentials"
            );
        }
    }
    Ok(String::new())
}
