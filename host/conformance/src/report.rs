//! What a run produced: one result per check, and the totals.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

/// How a check ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The backend behaved as the contract says.
    Pass,
    /// It did not; the detail says how.
    Fail,
    /// The check could not run here (an optional operation is missing, an
    /// option disabled it); the detail says why.
    Skip,
}

impl Outcome {
    /// `PASS`, `FAIL` or `SKIP`.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "SKIP",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The result of one check.
#[derive(Clone, Debug, Serialize)]
pub struct CheckResult {
    /// The stable check id, e.g. `put.roundtrip-sizes`.
    pub id: &'static str,
    /// One line saying what the check verifies.
    pub title: &'static str,
    /// Pass, fail or skip.
    pub outcome: Outcome,
    /// Why it failed or was skipped; for a pass, what was observed (may be
    /// empty). Always one line.
    pub detail: String,
    /// How long the check took (not counting the cleanup after it).
    #[serde(rename = "millis", serialize_with = "as_millis")]
    pub duration: Duration,
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl fmt::Display for CheckResult {
    /// The report line: `PASS  id`, `FAIL  id: detail`, `SKIP  id: detail`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.outcome {
            Outcome::Pass => write!(f, "{}  {}", self.outcome, self.id),
            _ => write!(f, "{}  {}: {}", self.outcome, self.id, self.detail),
        }
    }
}

/// Everything one run found, in catalogue order.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    url: String,
    prefix: String,
    #[serde(rename = "checks")]
    results: Vec<CheckResult>,
    passed: usize,
    failed: usize,
    skipped: usize,
}

impl Report {
    pub(crate) fn new(url: String, prefix: String) -> Self {
        Self {
            url,
            prefix,
            results: Vec::new(),
            passed: 0,
            failed: 0,
            skipped: 0,
        }
    }

    pub(crate) fn push(&mut self, result: CheckResult) {
        match result.outcome {
            Outcome::Pass => self.passed += 1,
            Outcome::Fail => self.failed += 1,
            Outcome::Skip => self.skipped += 1,
        }
        self.results.push(result);
    }

    /// The URL tested, credentials removed.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The random name prefix this run worked under.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// How many checks passed.
    pub fn passed(&self) -> usize {
        self.passed
    }

    /// How many checks failed.
    pub fn failed(&self) -> usize {
        self.failed
    }

    /// How many checks were skipped.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// True when no check failed (skips do not count against it).
    pub fn is_success(&self) -> bool {
        self.failed == 0
    }

    /// The results, in the order the checks ran.
    pub fn results(&self) -> &[CheckResult] {
        &self.results
    }

    /// The results, in the order the checks ran.
    pub fn iter(&self) -> std::slice::Iter<'_, CheckResult> {
        self.results.iter()
    }

    /// The result of check `id`, if it ran.
    pub fn get(&self, id: &str) -> Option<&CheckResult> {
        self.results.iter().find(|r| r.id == id)
    }

    /// The results that failed.
    pub fn failures(&self) -> impl Iterator<Item = &CheckResult> {
        self.results.iter().filter(|r| r.outcome == Outcome::Fail)
    }

    /// The closing line: `N passed, N failed, N skipped`.
    pub fn summary(&self) -> String {
        format!(
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        )
    }
}

impl<'a> IntoIterator for &'a Report {
    type Item = &'a CheckResult;
    type IntoIter = std::slice::Iter<'a, CheckResult>;

    fn into_iter(self) -> Self::IntoIter {
        self.results.iter()
    }
}

impl fmt::Display for Report {
    /// One line per check, then the summary line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in &self.results {
            writeln!(f, "{r}")?;
        }
        write!(f, "{}", self.summary())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(id: &'static str, outcome: Outcome, detail: &str) -> CheckResult {
        CheckResult {
            id,
            title: "t",
            outcome,
            detail: detail.into(),
            duration: Duration::from_millis(3),
        }
    }

    #[test]
    fn totals_lines_and_json() {
        let mut r = Report::new("file:///x".into(), "stowage-conf-00000000-".into());
        r.push(result("a.one", Outcome::Pass, "fine"));
        r.push(result(
            "a.two",
            Outcome::Fail,
            "expected not found (52), got x",
        ));
        r.push(result("a.three", Outcome::Skip, "backend has no query"));
        assert_eq!((r.passed(), r.failed(), r.skipped()), (1, 1, 1));
        assert!(!r.is_success());
        assert_eq!(r.failures().count(), 1);
        assert_eq!(r.get("a.three").map(|c| c.outcome), Some(Outcome::Skip));
        assert_eq!(
            r.to_string(),
            "PASS  a.one\nFAIL  a.two: expected not found (52), got x\n\
             SKIP  a.three: backend has no query\n1 passed, 1 failed, 1 skipped"
        );
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["checks"][1]["outcome"], "fail");
        assert_eq!(v["checks"][0]["millis"], 3);
        assert_eq!(v["passed"], 1);
        assert_eq!(v["failed"], 1);
        assert_eq!(v["skipped"], 1);
        assert_eq!((&r).into_iter().count(), 3);
    }

    #[test]
    fn empty_report_is_a_success() {
        let r = Report::new(String::new(), String::new());
        assert!(r.is_success());
        assert_eq!(r.summary(), "0 passed, 0 failed, 0 skipped");
    }
}
