//! The child's end of the socket, shared by the thread that reads the
//! host's requests, the worker threads that serve them, and whatever thread
//! of the plugin logs, reports progress or calls a host service.

use std::cell::Cell;
use std::collections::HashMap;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{mpsc, Mutex};

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

/// The shared end of the socket.
pub(crate) struct Conn {
    channel: Channel,
    /// Held while writing one frame, so frames from several threads never
    /// interleave.
    write: Mutex<()>,
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
            write: Mutex::new(()),
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

    /// Sends `up` about request `id`.
    pub(crate) fn send_about(
        &self,
        id: RequestId,
        up: Up,
        fds: &[BorrowedFd<'_>],
    ) -> Result<(), FrameError> {
        let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
        self.channel.send(&Upward { id, up }, fds)
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
