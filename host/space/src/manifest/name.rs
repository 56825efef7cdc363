//! Manifest object names: `space-<space>.manifest.<generation>.<sha256>`.

use crate::hash::is_sha256_hex;

const PREFIX: &str = "space-";
const INFIX: &str = ".manifest.";

/// The parts of a manifest object's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ManifestName {
    pub space: String,
    pub generation: u64,
    pub sha256: String,
}

impl ManifestName {
    /// The backend object name.
    pub fn object(&self) -> String {
        format!(
            "{PREFIX}{}{INFIX}{}.{}",
            self.space, self.generation, self.sha256
        )
    }

    /// Parses an object name; `None` for anything else.
    pub fn parse(object: &str) -> Option<Self> {
        let rest = object.strip_prefix(PREFIX)?;
        let (rest, sha256) = rest.rsplit_once('.')?;
        let (space, generation) = rest.rsplit_once(INFIX)?;
        if !is_sha256_hex(sha256)
            || generation.is_empty()
            || !generation.bytes().all(|b| b.is_ascii_digit())
            || crate::validate_space_name(space).is_err()
        {
            return None;
        }
        Some(Self {
            space: space.to_string(),
            generation: generation.parse().ok()?,
            sha256: sha256.to_string(),
        })
    }
}

/// The manifest objects of `space` in a listing, highest generation first.
pub(crate) fn generations_of(space: &str, listing: &[(String, u64)]) -> Vec<ManifestName> {
    let mut found: Vec<ManifestName> = listing
        .iter()
        .filter_map(|(name, _)| ManifestName::parse(name))
        .filter(|m| m.space == space)
        .collect();
    found.sort_by(|a, b| {
        b.generation
            .cmp(&a.generation)
            .then_with(|| b.sha256.cmp(&a.sha256))
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::sha256_hex;

    #[test]
    fn names_round_trip_and_reject_junk() {
        let n = ManifestName {
            space: "a.manifest.3".into(),
            generation: 42,
            sha256: sha256_hex(b"x"),
        };
        assert_eq!(ManifestName::parse(&n.object()), Some(n));
        for junk in ["space-x.manifest.1", "obj-abc", "space-.manifest.1.00", "x"] {
            assert_eq!(ManifestName::parse(junk), None, "{junk}");
        }
    }
}
