//! URL parameters shared by the network schemes, and value parsing.

use std::time::Duration;

use stowage_backend_api::location::QueryParams;
use stowage_backend_api::{BackendError, Result};

/// How long one network request may go without an answer (connecting,
/// one request/response, one chunk of a transfer) before it fails as
/// transient. A whole transfer may take longer as long as it progresses.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Parameters every network URL understands.
pub trait QueryParamsExt {
    /// `?timeout=DURATION` (`30`, `30s`, `500ms`, `2m`), default
    /// [`DEFAULT_TIMEOUT`].
    ///
    /// # Errors
    /// Invalid input for an unparsable or zero value.
    fn take_timeout(&mut self) -> Result<Duration>;

    /// `?KEY=SIZE` (`8MiB`, `512K`, `1048576`), `default` when absent.
    ///
    /// # Errors
    /// Invalid input for an unparsable or zero value.
    fn take_size(&mut self, key: &str, default: u64) -> Result<u64>;

    /// `?KEY=N`, a whole number ≥ 1, `default` when absent.
    ///
    /// # Errors
    /// Invalid input otherwise.
    fn take_count(&mut self, key: &str, default: usize) -> Result<usize>;

    /// `?KEY=true|false`, `default` when absent.
    ///
    /// # Errors
    /// Invalid input for any other value.
    fn take_bool(&mut self, key: &str, default: bool) -> Result<bool>;
}

impl QueryParamsExt for QueryParams {
    fn take_timeout(&mut self) -> Result<Duration> {
        match self.take("timeout") {
            None => Ok(DEFAULT_TIMEOUT),
            Some(v) => parse_duration(&v).ok_or_else(|| {
                BackendError::invalid_input(format!(
                    "invalid ?timeout={v} (expected a duration above zero: 30, 30s, 500ms, 2m)"
                ))
            }),
        }
    }

    fn take_size(&mut self, key: &str, default: u64) -> Result<u64> {
        match self.take(key) {
            None => Ok(default),
            Some(v) => parse_size(&v).ok_or_else(|| {
                BackendError::invalid_input(format!(
                    "invalid ?{key}={v} (expected a size above zero: 8MiB, 512K, 1048576)"
                ))
            }),
        }
    }

    fn take_count(&mut self, key: &str, default: usize) -> Result<usize> {
        match self.take(key) {
            None => Ok(default),
            Some(v) => v.parse::<usize>().ok().filter(|&n| n >= 1).ok_or_else(|| {
                BackendError::invalid_input(format!(
                    "invalid ?{key}={v} (expected a whole number ≥ 1)"
                ))
            }),
        }
    }

    fn take_bool(&mut self, key: &str, default: bool) -> Result<bool> {
        match self.take(key).as_deref() {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(v) => Err(BackendError::invalid_input(format!(
                "invalid ?{key}={v} (expected true or false)"
            ))),
        }
    }
}

/// `30` and `30s` (seconds), `500ms`, `2m`, `1h`; `None` for anything else
/// or zero.
pub fn parse_duration(v: &str) -> Option<Duration> {
    let v = v.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let n: u64 = v[..split].parse().ok()?;
    let d = match &v[split..] {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        _ => return None,
    };
    (!d.is_zero()).then_some(d)
}

/// Bytes, with an optional binary suffix: `K`/`KiB`, `M`/`MiB`, `G`/`GiB`
/// (case-insensitive); `None` for anything else or zero.
pub fn parse_size(v: &str) -> Option<u64> {
    let v = v.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let n: u64 = v[..split].parse().ok()?;
    let mul: u64 = match v[split..].to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mul).filter(|&n| n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use stowage_backend_api::location::PathUrl;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("2s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        for bad in ["", "0", "0s", "s", "-1", "1d", "1.5s"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("8MiB"), Some(8 << 20));
        assert_eq!(parse_size("8m"), Some(8 << 20));
        assert_eq!(parse_size("512K"), Some(512 << 10));
        assert_eq!(parse_size("1048576"), Some(1 << 20));
        for bad in ["", "0", "0MiB", "MiB", "8MB", "1.5M", "99999999999999G"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn params() {
        let url = PathUrl::parse("x://h/p?timeout=5s&chunk=5MiB&n=3&b=true").unwrap();
        let mut p = url.params();
        assert_eq!(p.take_timeout().unwrap(), Duration::from_secs(5));
        assert_eq!(p.take_size("chunk", 1).unwrap(), 5 << 20);
        assert_eq!(p.take_count("n", 1).unwrap(), 3);
        assert!(p.take_bool("b", false).unwrap());
        assert_eq!(p.take_count("absent", 4).unwrap(), 4);
        p.finish().unwrap();
        let url = PathUrl::parse("x://h/p?timeout=never").unwrap();
        let err = url.params().take_timeout().unwrap_err();
        assert!(err.message().contains("?timeout=never"), "{err}");
    }
}
