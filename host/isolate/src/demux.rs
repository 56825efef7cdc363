//! The host's end of one child's socket, shared by every caller with a
//! request in flight: requests go out under one write lock, and one reader
//! thread takes everything the child sends and hands each message to the
//! caller whose request it names. When the socket fails, every caller in
//! flight learns why at once.

use std::collections::HashMap;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use abi_stable::std_types::RStr;
use stowage_backend_api::abi::HostObject;

use crate::frame::{Channel, FrameError};
use crate::host_calls::HostCalls;
use crate::protocol::{
    Answer, Down, HostCall, Request, RequestId, Up, Upward, WireError, NO_REQUEST,
};

/// Why the conversation with a child ended: the child is unusable and must
/// be replaced.
#[derive(Clone, Debug)]
pub enum Failure {
    /// The socket closed: the child ended.
    Died,
    /// No reply, log record or progress report within the time allowed.
    TimedOut(Duration),
    /// The child sent something that is not a valid frame.
    Garbage(String),
    /// The child refused the handshake, or the host could not talk to it.
    Broken(String),
}

/// What the reader hands a waiting caller.
pub(crate) enum Event {
    /// The request's outcome.
    Reply(Result<Answer, WireError>),
    /// A log record the plugin wrote while serving the request.
    Log {
        level: u8,
        target: String,
        message: String,
    },
    /// The request's progress.
    Progress { done: u64, total: u64 },
    /// A host service asked for while serving the request.
    HostCall {
        call: u64,
        body: HostCall,
        fds: Vec<OwnedFd>,
    },
}

#[derive(Default)]
struct Waiting {
    callers: HashMap<RequestId, mpsc::Sender<Event>>,
    /// Set once the socket failed; no caller waits after that.
    ended: Option<Failure>,
}

/// The shared end of the socket.
pub(crate) struct Demux {
    channel: Channel,
    write: Mutex<()>,
    waiting: Mutex<Waiting>,
    next: AtomicU64,
}

/// One request in flight: its number and where its messages arrive.
pub(crate) struct Pending {
    pub(crate) id: RequestId,
    pub(crate) events: mpsc::Receiver<Event>,
}

impl Demux {
    /// Wraps the host's end of a child's socket (after the handshake).
    pub(crate) fn new(channel: Channel) -> Self {
        Self {
            channel,
            write: Mutex::new(()),
            waiting: Mutex::new(Waiting::default()),
            next: AtomicU64::new(1),
        }
    }

    /// The channel.
    pub(crate) fn channel(&self) -> &Channel {
        &self.channel
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends `request` (after `umask`, when given, in the same breath) and
    /// registers its caller; `Err` when the child is already gone.
    pub(crate) fn start(
        &self,
        umask: Option<u32>,
        request: &Request,
        fds: &[BorrowedFd<'_>],
    ) -> Result<Pending, Failure> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, events) = mpsc::channel();
        {
            let mut waiting = self.waiting();
            if let Some(failure) = &waiting.ended {
                return Err(failure.clone());
            }
            waiting.callers.insert(id, tx);
        }
        let sent = (|| {
            let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(mask) = umask {
                let down = Down {
                    id: NO_REQUEST,
                    request: Request::Umask(mask),
                };
                self.channel.send(&down, &[])?;
            }
            let down = Down {
                id,
                request: request.clone(),
            };
            self.channel.send(&down, fds)
        })();
        match sent {
            Ok(()) => Ok(Pending { id, events }),
            Err(e) => {
                self.forget(id);
                Err(frame_failure(e))
            }
        }
    }

    /// Sends a frame that expects no reply.
    pub(crate) fn send(&self, request: Request) -> Result<(), Failure> {
        let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let down = Down {
            id: NO_REQUEST,
            request,
        };
        self.channel.send(&down, &[]).map_err(frame_failure)
    }

    /// The caller of `id` stopped waiting.
    pub(crate) fn forget(&self, id: RequestId) {
        self.waiting().callers.remove(&id);
    }

    /// Why the socket failed (once no event can arrive any more).
    pub(crate) fn ended(&self) -> Failure {
        self.waiting().ended.clone().unwrap_or(Failure::Died)
    }

    /// Marks the socket failed (a caller saw its request time out, say),
    /// unless it already is, and wakes every caller.
    pub(crate) fn end(&self, failure: Failure) {
        let callers = {
            let mut waiting = self.waiting();
            waiting.ended.get_or_insert(failure);
            std::mem::take(&mut waiting.callers)
        };
        drop(callers);
    }

    /// The reader thread's loop, until the socket fails or closes. Log
    /// records and host calls that belong to no waiting request are handled
    /// here, with `host` (the backend's host services).
    pub(crate) fn read(self: Arc<Self>, host: HostObject, calls: Arc<HostCalls>) {
        loop {
            let (Upward { id, up }, fds) = match self.channel.recv::<Upward>(None, Upward::fds) {
                Ok(m) => m,
                Err(e) => return self.end(frame_failure(e)),
            };
            let event = match up {
                Up::Reply(result) => {
                    let caller = self.waiting().callers.remove(&id);
                    if let Some(caller) = caller {
                        let _ = caller.send(Event::Reply(result));
                    }
                    continue;
                }
                Up::Log {
                    level,
                    target,
                    message,
                } => Event::Log {
                    level,
                    target,
                    message,
                },
                Up::Progress { done, total } => Event::Progress { done, total },
                Up::HostCall { call, body } => Event::HostCall { call, body, fds },
            };
            let caller = self.waiting().callers.get(&id).cloned();
            let unclaimed = match caller {
                Some(caller) => caller.send(event).err().map(|e| e.0),
                None => Some(event),
            };
            match unclaimed {
                Some(Event::Log {
                    level,
                    target,
                    message,
                }) => host.log(level, RStr::from_str(&target), RStr::from_str(&message)),
                // A call from a thread of the plugin's own (an inner
                // backend dropped there, say): served on a thread of its
                // own, so replies keep flowing meanwhile.
                Some(Event::HostCall { call, body, fds }) => {
                    let (demux, host, calls) = (self.clone(), host.clone(), calls.clone());
                    std::thread::spawn(move || {
                        let answer = calls.serve(&host, body, fds);
                        demux.answer(call, answer);
                    });
                }
                _ => {}
            }
        }
    }

    /// Sends the answer to host call `call`.
    pub(crate) fn answer(
        &self,
        call: u64,
        answer: Result<crate::protocol::HostAnswer, stowage_backend_api::BackendError>,
    ) {
        let answer = Request::HostAnswer {
            call,
            answer: answer.map_err(WireError::from),
        };
        if let Err(e) = self.send(answer) {
            log::debug!("cannot answer a plugin child's host call: {e:?}");
        }
    }
}

/// What a frame error means for the child.
pub(crate) fn frame_failure(e: FrameError) -> Failure {
    match e {
        FrameError::Closed => Failure::Died,
        FrameError::TimedOut => Failure::Broken("no handshake in time".into()),
        FrameError::Garbage(what) => Failure::Garbage(what),
        FrameError::Io(e) => Failure::Broken(format!("socket error: {e}")),
    }
}
