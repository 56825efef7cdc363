//! The child's end of the socket, shared by the thread that reads the
//! host's requests, the worker threads that serve them, and whatever thread
//! of the plugin logs, reports progress or calls a host service.

use std::cell::Cell;
use std::collections::HashMap;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use stowage_backend_api::BackendError;

use crate::frame::{Channel, FrameError};
use crate::protocol::{Answer, HostAnswer, HostCall, RequestId, Up, Upward, WireError, NO_REQUEST};

thread_local! {
    /// The request this thread serves: what it sends is about that one.
    static SERVING: Cell<RequestId> = const { Cell::new(NO_REQUEST) };
}

/// Exit statuses of the child that say why it stopped on its own.
pub mod exit {
    /// The host closed the socket: normal end.
    pub const DONE: i32 = 0;
    /// Started without a socket (not by a stowage host).
    pub const NO_SOCKET: i32 = 2;
    /// The handshake failed (other build, not a host).
    pub const HANDSHAKE: i32 = 3;
    /// The host sent something this child cannot read.
    pub const PROTOCOL: i32 = 4;
    /// The child's own machinery failed (an `epoll` call, say).
    pub const BROKEN: i32 = 5;
}

/// Runs `f` as the server of request `id` on this thread.
pub(crate) fn serving<T>(id: RequestId, f: impl FnOnce() -> T) -> T {
    struct Restore(RequestId);
    impl Drop for Restore {
        fn drop(&mut self) {
            SERVING.with(|s| s.set(self.0));
        }
    }
    let _restore = Restore(SERVING.with(|s| s.replace(id)));
    f()
}

type AnswerSlot = mpsc::Sender<Result<HostAnswer, WireError>>;

/// How long a progress report may be held back: one that comes less than
/// this after the child last sent anything waits for the next frame
/// (often the reply) or report, and travels with it in one write.
///
/// A small put's plugin reports three times (the start, each chunk, the
/// end) within microseconds; sent one by one, each report costs a write
/// here and a read and a wake-up in the host, together about as much as
/// the put. Held, they cost nothing extra. The host still sees every
/// report, in order, and before the reply; the newest report it has seen
/// is at most this much older than the plugin's newest (which matters for
/// the operation timeout, counted from the last sign of life: minutes).
pub const PROGRESS_HOLD: Duration = Duration::from_millis(10);

/// Held reports go out at the latest once they fill this many bytes.
const HELD_MAX: usize = 16 << 10;

/// Frames waiting to be written, and when the last write was.
struct Outbox {
    held: Vec<u8>,
    last_write: Instant,
}

/// The shared end of the socket.
pub(crate) struct Conn {
    channel: Channel,
    /// Held while writing, so frames from several threads never
    /// interleave; holds the progress reports held back.
    write: Mutex<Outbox>,
    /// Host calls waiting for their answer, by number.
    calls: Mutex<HashMap<u64, AnswerSlot>>,
    next_call: AtomicU64,
    pub(crate) max_level: AtomicU8,
}

impl Conn {
    /// Wraps the child's end (after the handshake).
    pub(crate) fn new(channel: Channel) -> Self {
        Self {
            channel,
            write: Mutex::new(Outbox {
                held: Vec::new(),
                last_write: Instant::now(),
            }),
            calls: Mutex::new(HashMap::new()),
            next_call: AtomicU64::new(0),
            max_level: AtomicU8::new(0),
        }
    }

    /// The channel.
    pub(crate) fn channel(&self) -> &Channel {
        &self.channel
    }

    /// Sends `up` about the request this thread serves.
    pub(crate) fn send(&self, up: Up, fds: &[BorrowedFd<'_>]) -> Result<(), FrameError> {
        let id = SERVING.with(Cell::get);
        self.send_about(id, up, fds)
    }

    /// Sends `up` about request `id`, after the reports held back; a
    /// progress report may itself be held back (see [`PROGRESS_HOLD`]).
    pub(crate) fn send_about(
        &self,
        id: RequestId,
        up: Up,
        fds: &[BorrowedFd<'_>],
    ) -> Result<(), FrameError> {
        let mut out = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let message = Upward { id, up };
        if !fds.is_empty() {
            // Descriptors go with a frame of their own.
            self.write_held(&mut out)?;
            self.channel.send(&message, fds)?;
            out.last_write = Instant::now();
            return Ok(());
        }
        Channel::frame(&message, &mut out.held)?;
        let holdable = matches!(message.up, Up::Progress { .. })
            && out.held.len() < HELD_MAX
            && out.last_write.elapsed() < PROGRESS_HOLD;
        if holdable {
            return Ok(());
        }
        self.write_held(&mut out)
    }

    /// Writes what `out` holds, in one write.
    fn write_held(&self, out: &mut Outbox) -> Result<(), FrameError> {
        if out.held.is_empty() {
            return Ok(());
        }
        let written = self.channel.send_frames(&out.held, &[]);
        out.held.clear();
        out.last_write = Instant::now();
        written
    }

    /// Sends the reply to request `id`; `false` when the host is gone.
    pub(crate) fn reply(&self, id: RequestId, result: Result<Answer, BackendError>) -> bool {
        let up = Up::Reply(result.map_err(WireError::from));
        self.send_about(id, up, &[]).is_ok()
    }

    /// A host service: one call, one answer, any number at once.
    pub(crate) fn host_call(
        &self,
        body: HostCall,
        fds: &[BorrowedFd<'_>],
    ) -> Result<HostAnswer, BackendError> {
        let call = self.next_call.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel();
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(call, tx);
        let gone =
            |e: &dyn std::fmt::Display| BackendError::transient(format!("the host is gone: {e}"));
        if let Err(e) = self.send(Up::HostCall { call, body }, fds) {
            self.calls
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&call);
            return Err(gone(&e));
        }
        match rx.recv() {
            Ok(answer) => answer.map_err(BackendError::from),
            Err(e) => Err(gone(&e)),
        }
    }

    /// Hands the host's answer to the call waiting for it.
    pub(crate) fn answered(&self, call: u64, answer: Result<HostAnswer, WireError>) {
        let slot = self
            .calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&call);
        match slot {
            Some(slot) => {
                let _ = slot.send(answer);
            }
            None => {
                protocol_violation(&format!("an answer to host call {call}, which is not open"))
            }
        }
    }

    /// The host is gone: every open host call fails.
    pub(crate) fn hang_up(&self) {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// Ends the child when its own machinery fails and it cannot go on.
pub(crate) fn fatal(what: &str) -> ! {
    eprintln!("stowage plugin child: {what}");
    std::process::exit(exit::BROKEN)
}

/// Ends the child after the host sent what no stowage host sends.
pub(crate) fn protocol_violation(what: &str) -> ! {
    eprintln!("stowage plugin child: protocol violation from the host: {what}");
    std::process::exit(exit::PROTOCOL)
}
