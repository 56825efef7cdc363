//! Several objects in flight on one backend handle (handles are
//! `Send + Sync`), results handed back in input order, and no new work
//! started after a fatal failure: what every multi-object command shares
//! (`put`, `mv`, `get`, `rm`, `stat`, `copy`, `check`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use clap::Args as ClapArgs;
use stowage::ErrorCode;

use crate::output::Failure;
use crate::report::Report;

/// `--jobs N`, flattened into each multi-object command.
#[derive(ClapArgs, Debug, Clone, Copy)]
pub struct Jobs {
    /// Objects in flight at once (1: one after the other, in order).
    #[arg(short, long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
}

impl Jobs {
    /// How many threads to run.
    pub fn count(self) -> usize {
        usize::from(self.jobs)
    }
}

/// Whether a failure will fail every object after it too (the store is
/// full, the backend panicked and refuses everything), so that nothing new
/// should be started.
pub fn stops_new_work(code: ErrorCode) -> bool {
    matches!(code, ErrorCode::NO_SPACE | ErrorCode::PANIC)
}

/// The failure of an item that was never started because an earlier one
/// stopped new work; it carries that failure's code.
pub struct NotStarted(pub ErrorCode);

impl fmt::Display for NotStarted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "not started: an earlier failure ({}) stops new work",
            self.0.name()
        )
    }
}

impl Failure for NotStarted {
    fn code(&self) -> ErrorCode {
        self.0
    }
}

/// Runs `work(index, item)` for every item on `jobs` threads and calls
/// `done(index, result)` on this thread in input order. Once `done`
/// returns `Flow::Stop`, no item not yet started is started; the ones in
/// flight finish and are still handed to `done`. Returns how many items
/// were never started.
pub fn in_order<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    work: impl Fn(usize, &T) -> R + Sync,
    done: impl FnMut(usize, R) -> Flow,
) -> usize {
    in_order_stopping(items, jobs, work, |_| false, done)
}

/// [`in_order`], and no item is started either once `stops(result)` is
/// true for a result just produced: a worker that hits a failure stops new
/// work at once rather than when its result's turn comes, so at most the
/// other `jobs - 1` items in flight run after it.
pub fn in_order_stopping<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    work: impl Fn(usize, &T) -> R + Sync,
    stops: impl Fn(&R) -> bool + Sync,
    mut done: impl FnMut(usize, R) -> Flow,
) -> usize {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let started = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<(usize, R)>();
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            let tx = tx.clone();
            let (next, stop, started, work, stops) = (&next, &stop, &started, &work, &stops);
            scope.spawn(move || loop {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(i) else { return };
                started.fetch_add(1, Ordering::SeqCst);
                let result = work(i, item);
                if stops(&result) {
                    stop.store(true, Ordering::SeqCst);
                }
                if tx.send((i, result)).is_err() {
                    return;
                }
            });
        }
        drop(tx);
        let mut waiting: BTreeMap<usize, R> = BTreeMap::new();
        let mut expected = 0;
        for (i, result) in rx {
            waiting.insert(i, result);
            while let Some(result) = waiting.remove(&expected) {
                if done(expected, result) == Flow::Stop {
                    stop.store(true, Ordering::SeqCst);
                }
                expected += 1;
            }
        }
        // After a stop, results past a gap (an item never started) are
        // still handed over, in order.
        for (i, result) in waiting {
            done(i, result);
        }
    });
    items.len() - started.load(Ordering::SeqCst)
}

/// Runs `work` on every item like [`in_order`] and hands each result to
/// `done`, in input order; a failure that [`stops_new_work`] keeps any
/// item not yet started from starting. Returns what stopped, if anything.
pub fn each<T: Sync, V: Send, E: Failure + Send>(
    items: &[T],
    jobs: Jobs,
    work: impl Fn(usize, &T) -> Result<V, E> + Sync,
    mut done: impl FnMut(usize, Result<V, E>),
) -> Option<Stopped> {
    let mut stopped_by = None;
    let fatal = |r: &Result<V, E>| matches!(r, Err(e) if stops_new_work(e.code()));
    let not_started = in_order_stopping(items, jobs.count(), work, fatal, |i, result| {
        let flow = match &result {
            Err(e) if stops_new_work(e.code()) => {
                stopped_by.get_or_insert(e.code());
                Flow::Stop
            }
            _ => Flow::Continue,
        };
        done(i, result);
        flow
    });
    let code = stopped_by?;
    (not_started > 0).then_some(Stopped {
        code,
        first: items.len() - not_started,
        len: items.len(),
    })
}

/// Items never started after a failure that stops new work: those from
/// index `first` on (the ones started are always the first ones).
pub struct Stopped {
    code: ErrorCode,
    first: usize,
    len: usize,
}

impl Stopped {
    /// Reports each item never started as failed (`item(i)` is its JSON
    /// item), so that every item of the command is reported.
    pub fn report_each(&self, report: &mut Report, item: impl Fn(usize) -> serde_json::Value) {
        for i in self.first..self.len {
            report.item_failed(item(i), &NotStarted(self.code));
        }
    }
}

/// Whether to start more work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_input_order() {
        let items: Vec<u64> = (0..50).collect();
        let mut seen = Vec::new();
        let skipped = in_order(
            &items,
            4,
            |_, &n| {
                // Later items finish first.
                std::thread::sleep(std::time::Duration::from_micros(50 * (50 - n)));
                n * 2
            },
            |i, r| {
                seen.push((i, r));
                Flow::Continue
            },
        );
        assert_eq!(skipped, 0);
        let expected: Vec<(usize, u64)> = (0..50).map(|n| (n as usize, n * 2)).collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn a_stop_starts_nothing_new() {
        let items: Vec<u64> = (0..1000).collect();
        let mut seen = Vec::new();
        let skipped = in_order(
            &items,
            2,
            |_, &n| {
                std::thread::sleep(std::time::Duration::from_millis(1));
                n
            },
            |i, _| {
                seen.push(i);
                if i == 3 {
                    Flow::Stop
                } else {
                    Flow::Continue
                }
            },
        );
        assert!(skipped > 900, "{skipped} skipped");
        assert_eq!(seen.len() + skipped, 1000);
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    }

    #[test]
    fn a_stopping_result_stops_before_its_turn() {
        // Item 0 is slow; item 1 stops at once. Waiting for item 0's turn
        // would let the other job run through many items meanwhile.
        let items: Vec<u64> = (0..1000).collect();
        let skipped = in_order_stopping(
            &items,
            2,
            |_, &n| {
                if n == 0 {
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
                n
            },
            |&n| n == 1,
            |_, _| Flow::Continue,
        );
        assert!(skipped >= 1000 - 3, "{skipped} skipped");
    }
}
