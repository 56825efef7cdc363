//! Several objects in flight on one pair of backend handles (they are
//! `Send + Sync`), results handed back in input order, and no new work
//! started after a fatal failure.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

/// Runs `work(index, item)` for every item on `jobs` threads and calls
/// `done(index, result)` on this thread in input order. Once `done`
/// returns `Flow::Stop`, no item not yet started is started; the ones in
/// flight finish and are still handed to `done`. Returns how many items
/// were never started.
pub fn in_order<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    work: impl Fn(usize, &T) -> R + Sync,
    mut done: impl FnMut(usize, R) -> Flow,
) -> usize {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let started = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<(usize, R)>();
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            let tx = tx.clone();
            let (next, stop, started, work) = (&next, &stop, &started, &work);
            scope.spawn(move || loop {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(i) else { return };
                started.fetch_add(1, Ordering::SeqCst);
                if tx.send((i, work(i, item))).is_err() {
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
}
