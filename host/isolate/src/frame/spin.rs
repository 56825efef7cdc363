//! When a reader waits for the next frame without sleeping, and for how
//! long.

use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags, Timespec};

/// How long [`super::Channel::recv_spinning`] keeps asking for the next
/// frame without sleeping before it blocks (where there is more than one
/// CPU).
///
/// A peer with nothing else to do mostly answers within this: a small
/// operation of a local backend takes tens of microseconds, and a host
/// sends its next request microseconds after the last reply. A reader that
/// slept instead must be woken, and waking a thread on an idle CPU costs
/// more than the whole call: 20-50 us on a virtual machine, per message.
///
/// Spinning only pays while the peer has a CPU to answer on. Where the
/// CPUs are busy (other requests in flight, other programs), a spinner
/// takes CPU time from its own peer, and the scheduler, which favours
/// threads that slept, puts it behind the others: calls got several times
/// slower than with no spinning at all. So a reader spins only when its
/// peer has nothing else to do and spinning paid lately: after
/// [`SLOW_WAITS`] waits in a row that outlasted `SPIN` it sleeps at once,
/// and spins again only every [`PROBE_EVERY`]th wait, to see whether
/// answers came back within reach (a wait it slept through cannot tell:
/// the wake-up alone may take it past `SPIN`). One slow answer (an
/// operation that took longer this once) therefore does not stop the
/// spinning. The price is at most this much CPU time per message waited
/// for.
pub const SPIN: Duration = Duration::from_micros(100);

/// Waits in a row that outlasted [`SPIN`] after which a reader stops
/// spinning.
pub const SLOW_WAITS: u32 = 4;

/// A reader that stopped spinning still spins on every this many waits,
/// to notice when spinning would pay again.
pub const PROBE_EVERY: u32 = 16;

/// [`SPIN`] where there is more than one CPU; nothing where a spinning
/// reader would only keep its peer from running.
fn budget() -> Duration {
    static BUDGET: OnceLock<Duration> = OnceLock::new();
    *BUDGET.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        if cpus > 1 {
            SPIN
        } else {
            Duration::ZERO
        }
    })
}

/// One channel's record of its recent waits.
///
/// Invariant: the count is below `SLOW_WAITS + PROBE_EVERY`; past the
/// last probe it starts its round again at `SLOW_WAITS`.
#[derive(Debug, Default)]
pub(super) struct Spin {
    /// How many waits in a row outlasted [`SPIN`].
    slow_waits: AtomicU32,
}

impl Spin {
    /// Waits for `socket` to become readable without sleeping, if spinning
    /// pays now (see [`SPIN`]). Returns when it spun and the wait ended,
    /// or at once; the caller then reads, sleeping if need be, and tells
    /// [`Spin::record`] how long the whole wait took from `started`.
    pub(super) fn wait(&self, socket: BorrowedFd<'_>, started: Instant) {
        let slow = self.slow_waits.load(Ordering::Relaxed);
        let pays = slow < SLOW_WAITS || slow == SLOW_WAITS + PROBE_EVERY - 1;
        let budget = budget();
        if !pays || budget.is_zero() {
            return;
        }
        let until = started + budget;
        let now = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        loop {
            let mut pfd = [PollFd::new(&socket, PollFlags::IN)];
            if poll(&mut pfd, Some(&now)).is_ok_and(|n| n > 0) || Instant::now() >= until {
                return;
            }
        }
    }

    /// Counts a wait that started at `started` and just ended.
    pub(super) fn record(&self, started: Instant) {
        let slow = self.slow_waits.load(Ordering::Relaxed);
        let slow = if started.elapsed() <= SPIN {
            0
        } else if slow + 1 < SLOW_WAITS + PROBE_EVERY {
            slow + 1
        } else {
            SLOW_WAITS
        };
        self.slow_waits.store(slow, Ordering::Relaxed);
    }

    #[cfg(test)]
    pub(super) fn slow_waits(&self) -> u32 {
        self.slow_waits.load(Ordering::Relaxed)
    }
}
