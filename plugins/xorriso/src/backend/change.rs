//! One pending change of an object: a staged put or a delete.

use crate::staging::Staged;

/// What the next commit does to one name.
#[derive(Debug)]
pub(super) enum Change {
    Put(Staged),
    Delete,
}
