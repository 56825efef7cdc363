//! Where a space's publication stands: the generation it publishes next,
//! the current manifest and the stale ones.

use crate::error::{SpaceError, SpaceResult};
use crate::manifest::ManifestName;

/// Where a space's publication stands.
pub(crate) struct Published {
    pub seq: u64,
    pub next_generation: u64,
    pub current: Option<ManifestName>,
    pub stale: Vec<ManifestName>,
}

impl Published {
    pub fn new(
        next_generation: u64,
        current: Option<ManifestName>,
        stale: Vec<ManifestName>,
    ) -> Self {
        Self {
            seq: 0,
            next_generation,
            current,
            stale,
        }
    }
}

/// The generation after `generation`.
///
/// # Errors
/// The counter would overflow (a manifest claims generation 2^64-1).
pub(crate) fn next_generation(space: &str, generation: u64) -> SpaceResult<u64> {
    generation
        .checked_add(1)
        .ok_or_else(|| SpaceError::BadManifest {
            space: space.to_string(),
            detail: format!(
                "generation {generation} cannot be followed (the counter would overflow)"
            ),
        })
}
