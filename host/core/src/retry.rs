//! The retry policy: which failures get another attempt, and when.

use std::time::Duration;

use stowage_backend_api::BackendError;

use crate::error::{Error, Result};

/// How often and how patiently an operation is retried.
///
/// Invariant: `attempts >= 1` (every operation runs at least once) and
/// `base <= cap`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    attempts: u32,
    base: Duration,
    cap: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts in total, backoff from 1 s doubling up to 30 s.
    fn default() -> Self {
        Self {
            attempts: 5,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// A policy of `attempts` attempts in total with backoff from `base`
    /// doubling up to `cap`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when `attempts` is 0 (duplicity silently
    /// skipped the operation then) or `base > cap`.
    pub fn new(attempts: u32, base: Duration, cap: Duration) -> Result<Self> {
        if attempts == 0 {
            return Err(Error::InvalidInput(
                "the number of attempts must be at least 1 (--retries 0 would skip the operation)"
                    .into(),
            ));
        }
        if base > cap {
            return Err(Error::InvalidInput(format!(
                "the retry delay ({base:?}) exceeds the maximum delay ({cap:?})"
            )));
        }
        Ok(Self {
            attempts,
            base,
            cap,
        })
    }

    /// A policy that tries once.
    pub fn once() -> Self {
        Self {
            attempts: 1,
            ..Self::default()
        }
    }

    /// Total attempts.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The pause after failed attempt `n` (1-based): exponential from
    /// `base`, capped, with "equal jitter" (half fixed, half random) so
    /// that many clients failing together do not retry in lockstep.
    pub fn delay_after(&self, n: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX));
        let full = exp.min(self.cap);
        let half = full / 2;
        half + half.mul_f64(rand::random::<f64>())
    }

    /// Runs `op` until it succeeds, fails with a non-retryable error, or
    /// the attempts are used up. `cleanup` runs between attempts (after the
    /// pause). Returns the value or the last error with the attempt count.
    pub fn run<T>(
        &self,
        mut op: impl FnMut() -> Result<T, BackendError>,
        mut cleanup: impl FnMut(),
        mut on_failure: impl FnMut(u32, &BackendError),
    ) -> Result<T, (BackendError, u32)> {
        let mut attempt = 1;
        loop {
            match op() {
                Ok(v) => return Ok(v),
                Err(e) => {
                    on_failure(attempt, &e);
                    if !e.is_retryable() || attempt >= self.attempts {
                        return Err((e, attempt));
                    }
                    std::thread::sleep(self.delay_after(attempt));
                    cleanup();
                    attempt += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast(attempts: u32) -> RetryPolicy {
        RetryPolicy::new(attempts, Duration::from_millis(1), Duration::from_millis(2)).unwrap()
    }

    #[test]
    fn zero_attempts_is_invalid() {
        assert!(RetryPolicy::new(0, Duration::ZERO, Duration::ZERO).is_err());
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::new(10, Duration::from_secs(1), Duration::from_secs(30)).unwrap();
        for n in 1..=12 {
            let d = p.delay_after(n);
            let full = Duration::from_secs(1 << (n - 1).min(5)).min(Duration::from_secs(30));
            assert!(d >= full / 2 && d <= full, "attempt {n}: {d:?}");
        }
    }

    #[test]
    fn retries_only_retryable_errors() {
        let mut calls = 0;
        let mut cleanups = 0;
        let r = fast(5).run(
            || {
                calls += 1;
                if calls < 3 {
                    Err(BackendError::transient("flaky"))
                } else {
                    Ok(calls)
                }
            },
            || cleanups += 1,
            |_, _| {},
        );
        assert_eq!(r.unwrap(), 3);
        assert_eq!(cleanups, 2);

        let mut calls = 0;
        let r: Result<(), _> = fast(5).run(
            || {
                calls += 1;
                Err(BackendError::not_found("gone"))
            },
            || {},
            |_, _| {},
        );
        assert_eq!(r.unwrap_err().1, 1);
        assert_eq!(calls, 1);
    }

    #[test]
    fn gives_up_after_the_limit() {
        let mut cleanups = 0;
        let r: Result<(), _> = fast(3).run(
            || Err(BackendError::transient("down")),
            || cleanups += 1,
            |_, _| {},
        );
        assert_eq!(r.unwrap_err().1, 3);
        assert_eq!(cleanups, 2, "no cleanup after the final failure");
    }
}
