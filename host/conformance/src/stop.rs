//! How a check ends: passed with a detail, failed, or skipped, and the
//! macros and helpers that stop a check early.

use std::fmt::Display;

/// Why a check stopped before passing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The backend broke the contract.
    Fail(String),
    /// The check cannot run against this backend or with these options.
    Skip(String),
}

/// A check's answer: `Ok(detail)` for a pass (the detail may be empty).
pub(crate) type Checked = Result<String, Stop>;

/// Fails the check with a formatted message.
macro_rules! fail {
    ($($arg:tt)*) => {
        return Err($crate::stop::Stop::Fail(format!($($arg)*)))
    };
}

/// Skips the check with a formatted reason.
macro_rules! skip {
    ($($arg:tt)*) => {
        return Err($crate::stop::Stop::Skip(format!($($arg)*)))
    };
}

/// Fails the check unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            $crate::stop::fail!($($arg)*);
        }
    };
}

pub(crate) use {ensure, fail, skip};

/// Turns any error into a failure that says what was being done.
pub(crate) trait OrFail<T> {
    /// `Err(e)` becomes `Stop::Fail("<what>: <e>")`.
    fn or_fail(self, what: impl Display) -> Result<T, Stop>;
}

impl<T, E: Display> OrFail<T> for Result<T, E> {
    fn or_fail(self, what: impl Display) -> Result<T, Stop> {
        self.map_err(|e| Stop::Fail(format!("{what}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_macros() {
        fn check(x: u32) -> Checked {
            ensure!(x != 1, "x is {x}");
            if x == 2 {
                skip!("two");
            }
            Ok(String::new())
        }
        assert_eq!(check(1), Err(Stop::Fail("x is 1".into())));
        assert_eq!(check(2), Err(Stop::Skip("two".into())));
        assert_eq!(check(3), Ok(String::new()));
        let r: Result<(), std::io::Error> = Err(std::io::Error::other("boom"));
        assert_eq!(r.or_fail("doing"), Err(Stop::Fail("doing: boom".into())));
    }
}
