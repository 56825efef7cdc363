//! How log levels cross the ABI: [`RawHost::log`](crate::abi::RawHost::log)
//! takes a record's level as `log::Level as u8` (1 = error ... 5 = trace)
//! and [`RawHost::max_log_level`](crate::abi::RawHost::max_log_level)
//! answers `log::LevelFilter as u8` (0 = off ... 5 = trace). Both sides
//! decode with these functions, so a number out of range means the same
//! thing everywhere: the most verbose level.

/// The record level a host receives as `n`; 0 (never sent by a correct
/// plugin) is read as an error rather than dropped.
pub fn level_from_abi(n: u8) -> log::Level {
    match n {
        0 | 1 => log::Level::Error,
        2 => log::Level::Warn,
        3 => log::Level::Info,
        4 => log::Level::Debug,
        _ => log::Level::Trace,
    }
}

/// The most verbose level a host will print, as a plugin receives it.
pub fn max_level_from_abi(n: u8) -> log::LevelFilter {
    match n {
        0 => log::LevelFilter::Off,
        1 => log::LevelFilter::Error,
        2 => log::LevelFilter::Warn,
        3 => log::LevelFilter::Info,
        4 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_level_round_trips() {
        for level in [
            log::Level::Error,
            log::Level::Warn,
            log::Level::Info,
            log::Level::Debug,
            log::Level::Trace,
        ] {
            assert_eq!(level_from_abi(level as u8), level);
            assert_eq!(
                max_level_from_abi(level.to_level_filter() as u8),
                level.to_level_filter()
            );
        }
        assert_eq!(max_level_from_abi(0), log::LevelFilter::Off);
        assert_eq!(max_level_from_abi(200), log::LevelFilter::Trace);
    }
}
