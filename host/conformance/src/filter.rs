//! `--only PATTERN`: which checks run.

/// A check selector: comma-separated alternatives, each a glob (when it
/// contains `*` or `?`, matched against the whole id) or else a substring of
/// the id. Matching is case-sensitive; ids are lower case.
#[derive(Clone, Debug)]
pub(crate) struct Filter {
    alternatives: Vec<String>,
}

impl Filter {
    /// `None` or an empty pattern selects everything.
    pub(crate) fn new(pattern: Option<&str>) -> Self {
        let alternatives = pattern
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect();
        Self { alternatives }
    }

    pub(crate) fn selects(&self, id: &str) -> bool {
        self.alternatives.is_empty() || self.alternatives.iter().any(|p| matches(p, id))
    }
}

/// Whether check `id` matches one `pattern` (see [`Filter`]).
fn matches(pattern: &str, id: &str) -> bool {
    if pattern.contains(['*', '?']) {
        glob(pattern.as_bytes(), id.as_bytes())
    } else {
        id.contains(pattern)
    }
}

/// `*` is any run of bytes, `?` any one byte; everything else is literal.
/// Iterative, with backtracking to the last `*` only: linear in practice.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substrings_and_globs() {
        let f = Filter::new(Some("put."));
        assert!(f.selects("put.roundtrip-sizes"));
        assert!(!f.selects("get.missing-is-not-found"));

        let f = Filter::new(Some("*.missing*"));
        assert!(f.selects("get.missing-is-not-found"));
        assert!(f.selects("query.missing"));
        assert!(!f.selects("put.roundtrip-sizes"));

        let f = Filter::new(Some("put.roundtrip-??mib"));
        assert!(f.selects("put.roundtrip-64mib"));
        assert!(!f.selects("put.roundtrip-sizes"));

        // A glob must match the whole id.
        assert!(!Filter::new(Some("put")).selects("get.x"));
        assert!(!Filter::new(Some("put*x")).selects("put.roundtrip-sizes"));
        assert!(Filter::new(Some("*")).selects("anything"));
    }

    #[test]
    fn alternatives_and_empty() {
        let f = Filter::new(Some("names., lifecycle.close"));
        assert!(f.selects("names.255-bytes"));
        assert!(f.selects("lifecycle.close-twice"));
        assert!(!f.selects("put.overwrite-longer-shorter"));
        assert!(Filter::new(None).selects("x"));
        assert!(Filter::new(Some(" , ")).selects("x"));
    }

    #[test]
    fn glob_backtracking() {
        assert!(glob(b"a*b*c", b"aXbYbZc"));
        assert!(!glob(b"a*b*c", b"aXbYbZ"));
        assert!(glob(b"**", b""));
        assert!(!glob(b"?", b""));
        assert!(glob(b"*.many-*", b"list.many-1000"));
    }
}
