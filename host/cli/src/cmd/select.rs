//! Which objects a command acts on: the names given, taken literally, and
//! the listed names that match any `--glob`.

use clap::Args as ClapArgs;
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use stowage::{validate_name, Backend, BackendError, Error};

use crate::context::Context;
use crate::output::warn;

/// Object names and glob patterns.
#[derive(ClapArgs, Debug)]
pub struct Selection {
    /// Object names, always taken literally (`a*` is the object named
    /// `a*`).
    #[arg(required_unless_present = "globs")]
    pub names: Vec<String>,
    /// Also every listed object whose name matches PATTERN (`*`, `?`,
    /// `[abc]`, `{a,b}`; repeatable).
    #[arg(long = "glob", value_name = "PATTERN")]
    pub globs: Vec<String>,
}

impl Selection {
    /// The patterns, compiled; a bad pattern is invalid input (exit 23).
    pub(crate) fn patterns(&self) -> Result<Option<GlobSet>, Error> {
        if self.globs.is_empty() {
            return Ok(None);
        }
        let mut set = GlobSetBuilder::new();
        for g in &self.globs {
            let glob = GlobBuilder::new(g)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| Error::InvalidInput(format!("--glob {g:?}: {e}")))?;
            set.add(glob);
        }
        set.build()
            .map(Some)
            .map_err(|e| Error::InvalidInput(format!("--glob: {e}")))
    }

    /// Checks the patterns before anything is opened.
    pub fn check(&self) -> Result<(), Error> {
        self.patterns().map(|_| ())
    }

    /// The names to act on: the literal names in the order given, then the
    /// listed names matching a pattern, sorted, each name once. A pattern
    /// that matches nothing is reported on stderr.
    pub fn resolve(&self, backend: &Backend) -> Result<Vec<String>, Error> {
        let mut names = self.names.clone();
        let Some(set) = self.patterns()? else {
            return Ok(names);
        };
        let mut listed: Vec<String> = backend.list()?.into_iter().map(|(n, _)| n).collect();
        listed.sort();
        let mut matched_any = vec![false; self.globs.len()];
        for name in listed {
            let hits = set.matches(&name);
            if hits.is_empty() {
                continue;
            }
            for i in hits {
                matched_any[i] = true;
            }
            if !names.contains(&name) {
                names.push(name);
            }
        }
        for (glob, matched) in self.globs.iter().zip(matched_any) {
            if !matched {
                warn(&format!("no object matches --glob {glob:?}"));
            }
        }
        Ok(names)
    }
}

/// Checks the patterns and literal names (nothing is opened for a bad
/// one), opens `url` and works out the names. No name at all (only
/// patterns, matching nothing) is not found (exit 52).
pub fn open_selected(
    ctx: &Context,
    url: &str,
    selection: &Selection,
) -> Result<(Backend, Vec<String>), Error> {
    selection.check()?;
    for name in &selection.names {
        validate_name(name)?;
    }
    let backend = ctx.open(url)?;
    let names = selection.resolve(&backend)?;
    if names.is_empty() {
        return Err(Error::Backend {
            op: "list",
            name: None,
            url: backend.url(),
            attempts: 1,
            source: BackendError::not_found("no object matches the --glob patterns"),
        });
    }
    Ok((backend, names))
}
