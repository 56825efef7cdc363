//! What `copy` and `check` share: objects go from one store to the local
//! disk of a private spool directory and on, several at a time, and the
//! names are chosen the same way on both.

pub mod side;
pub mod spool;

use stowage::{validate_name, Backend, Error};

use super::select::Selection;

/// The names to act on in `src`: every listed object when no name and no
/// pattern is given, else the literal names and the listed names matching
/// a pattern (see [`Selection::resolve`]).
pub fn chosen_names(
    src: &Backend,
    names: &[String],
    globs: &[String],
) -> Result<Vec<String>, Error> {
    if names.is_empty() && globs.is_empty() {
        let mut all: Vec<String> = src.list()?.into_iter().map(|(n, _)| n).collect();
        all.sort();
        return Ok(all);
    }
    let selection = Selection {
        names: names.to_vec(),
        globs: globs.to_vec(),
    };
    selection.check()?;
    for name in names {
        validate_name(name)?;
    }
    selection.resolve(src)
}
