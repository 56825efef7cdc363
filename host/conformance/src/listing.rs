//! Comparing what a listing showed with what a check expects.

use std::collections::BTreeMap;

use crate::stop::{fail, Stop};

/// `(name, size)` pairs as a map, failing on a name listed twice.
pub(crate) fn unique<'a>(
    entries: impl IntoIterator<Item = (&'a str, u64)>,
) -> Result<BTreeMap<String, u64>, Stop> {
    let mut map = BTreeMap::new();
    for (name, size) in entries {
        if map.insert(name.to_string(), size).is_some() {
            fail!("list returned {name:?} more than once");
        }
    }
    Ok(map)
}

/// Compares what list showed of ours with what we expect, naming the first
/// few differences.
pub(crate) fn compare_listing(
    got: &BTreeMap<String, u64>,
    want: &BTreeMap<String, u64>,
) -> Result<(), Stop> {
    let mut problems = Vec::new();
    for (name, size) in want {
        match got.get(name) {
            None => problems.push(format!("{name:?} missing")),
            Some(s) if s != size => {
                problems.push(format!("{name:?} has size {s}, expected {size}"))
            }
            Some(_) => {}
        }
    }
    for name in got.keys().filter(|n| !want.contains_key(*n)) {
        problems.push(format!("unexpected {name:?}"));
    }
    if problems.is_empty() {
        return Ok(());
    }
    fail!("list does not match: {}", first_problems(problems))
}

/// The first five of `problems` joined by `; `, with how many more there
/// are: a failure detail stays readable however much went wrong.
pub(crate) fn first_problems(mut problems: Vec<String>) -> String {
    const SHOWN: usize = 5;
    let more = problems.len().saturating_sub(SHOWN);
    problems.truncate(SHOWN);
    let mut text = problems.join("; ");
    if more > 0 {
        text.push_str(&format!(" (and {more} more)"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_comparison_names_differences() {
        let want: BTreeMap<String, u64> = [("a".to_string(), 1), ("b".to_string(), 2)].into();
        assert!(compare_listing(&want, &want).is_ok());
        let got: BTreeMap<String, u64> = [("a".to_string(), 3), ("c".to_string(), 2)].into();
        let Err(Stop::Fail(msg)) = compare_listing(&got, &want) else {
            panic!("expected a failure");
        };
        assert!(msg.contains("\"a\" has size 3, expected 1"), "{msg}");
        assert!(msg.contains("\"b\" missing"), "{msg}");
        assert!(msg.contains("unexpected \"c\""), "{msg}");
    }

    #[test]
    fn duplicates_fail() {
        assert!(unique([("a", 1), ("b", 1)]).is_ok());
        assert!(matches!(unique([("a", 1), ("a", 1)]), Err(Stop::Fail(_))));
    }
}
