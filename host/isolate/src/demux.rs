//! The host's end of one child's socket, shared by every caller with a
//! request in flight (leader/follower). Requests go out under one write
//! lock. A caller waiting for news of its request reads the socket itself
//! when nobody else does, hands each message it reads to the caller whose
//! request it names, and passes the reading on to a sleeping caller once a
//! message of its own arrived. A lone caller so reads its own reply, with
//! no thread hand-off in between (each hand-off costs a wake-up, several
//! times the cost of the plugin call itself).
//!
//! While no request has been in flight for [`IDLE_AFTER`], an idle reader
//! thread reads instead, so that what the plugin sends on threads of its
//! own (log records, host calls) is served at any time. When the socket
//! fails, every caller in flight learns why at once.

use std::collections::{HashMap, VecDeque};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use abi_stable::std_types::RStr;
use stowage_backend_api::abi::HostObject;

use crate::frame::{Channel, FrameError};
use crate::host_calls::HostCalls;
use crate::protocol::{
    Answer, Down, HostCall, Request, RequestId, Up, Upward, WireError, NO_REQUEST,
};

/// How long no request must be in flight before the idle reader takes the
/// socket. Long enough that back-to-back requests never meet it (a request
/// it reads the reply of pays a hand-off), short enough that a plugin
/// thread's host call waits no longer than this when the host is idle.
pub(crate) const IDLE_AFTER: Duration = Duration::from_millis(20);

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

/// A message from the child about one request.
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

impl Event {
    fn from_wire(up: Up, fds: Vec<OwnedFd>) -> Self {
        match up {
            Up::Reply(result) => Event::Reply(result),
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
        }
    }
}

/// One caller with a request in flight.
struct Caller {
    /// Messages read for it by another thread, not yet taken.
    events: VecDeque<Event>,
    /// It sleeps on `wake` (waiting for a message or for the socket).
    asleep: bool,
    wake: Arc<Condvar>,
}

struct Shared {
    callers: HashMap<RequestId, Caller>,
    /// Some thread reads the socket (a caller or the idle reader).
    reading: bool,
    /// When a request last started or ended.
    last_activity: Instant,
    /// Set once the socket failed; no caller waits after that.
    ended: Option<Failure>,
}

impl Shared {
    /// Gives up the socket and wakes one sleeping caller that has nothing
    /// to do, to read in turn.
    fn release(&mut self) {
        self.reading = false;
        self.wake_a_reader();
    }

    fn wake_a_reader(&self) {
        if self.reading {
            return;
        }
        if let Some(c) = self
            .callers
            .values()
            .find(|c| c.asleep && c.events.is_empty())
        {
            c.wake.notify_one();
        }
    }
}

/// The shared end of the socket.
pub(crate) struct Demux {
    channel: Channel,
    /// Held while writing one frame; holds the umask the child was last
    /// sent (it keeps it until told another).
    write: Mutex<Option<u32>>,
    shared: Mutex<Shared>,
    /// The idle reader sleeps on this.
    idle: Condvar,
    next: AtomicU64,
    /// For what belongs to no request in flight: the backend's host
    /// services and the host calls it serves.
    host: HostObject,
    calls: Arc<HostCalls>,
}

/// One request in flight: its number. Dropping it forgets the request.
pub(crate) struct Pending<'a> {
    demux: &'a Arc<Demux>,
    id: RequestId,
}

impl Demux {
    /// Wraps the host's end of a child's socket (after the handshake).
    /// `host` and `calls` serve what the plugin sends outside any request.
    pub(crate) fn new(channel: Channel, host: HostObject, calls: Arc<HostCalls>) -> Self {
        Self {
            channel,
            write: Mutex::new(None),
            shared: Mutex::new(Shared {
                callers: HashMap::new(),
                reading: false,
                last_activity: Instant::now(),
                ended: None,
            }),
            idle: Condvar::new(),
            next: AtomicU64::new(1),
            host,
            calls,
        }
    }

    fn shared(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends `request` (after `umask`, when given and not the one the
    /// child already has) and registers its caller; `Err` when the child is
    /// already gone.
    pub(crate) fn start<'a>(
        self: &'a Arc<Self>,
        umask: Option<u32>,
        request: &Request,
        fds: &[BorrowedFd<'_>],
    ) -> Result<Pending<'a>, Failure> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        {
            let mut shared = self.shared();
            if let Some(failure) = &shared.ended {
                return Err(failure.clone());
            }
            let caller = Caller {
                events: VecDeque::new(),
                asleep: false,
                wake: Arc::new(Condvar::new()),
            };
            shared.callers.insert(id, caller);
            shared.last_activity = Instant::now();
        }
        let pending = Pending { demux: self, id };
        let sent = (|| {
            let mut told = self.write.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(mask) = umask.filter(|&m| *told != Some(m)) {
                let down = Down {
                    id: NO_REQUEST,
                    request: Request::Umask(mask),
                };
                self.channel.send(&down, &[])?;
                *told = Some(mask);
            }
            let down = Down {
                id,
                request: request.clone(),
            };
            self.channel.send(&down, fds)
        })();
        sent.map(|()| pending).map_err(frame_failure)
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

    /// Closes the socket for good (the child reads end-of-file); nobody
    /// waits on it after this, the idle reader neither.
    pub(crate) fn close(&self) {
        self.channel.shutdown();
        self.end(Failure::Died);
    }

    /// Why the socket failed (once no event can arrive any more).
    pub(crate) fn ended(&self) -> Failure {
        self.shared().ended.clone().unwrap_or(Failure::Died)
    }

    /// Marks the socket failed (a caller saw its request time out, say),
    /// unless it already is, and wakes every caller.
    pub(crate) fn end(&self, failure: Failure) {
        let mut shared = self.shared();
        shared.ended.get_or_insert(failure);
        for caller in shared.callers.values() {
            caller.wake.notify_one();
        }
        self.idle.notify_one();
    }

    /// Reads one frame (the caller holds the socket) and returns whose it
    /// is, as an event. `spin`: the child has only this caller's request,
    /// so its answer comes soon (see [`crate::frame::SPIN`]).
    fn read_one(
        &self,
        deadline: Option<Instant>,
        spin: bool,
    ) -> Result<(RequestId, Event), FrameError> {
        let (Upward { id, up }, fds) = if spin {
            self.channel
                .recv_spinning::<Upward>(deadline, Upward::fds)?
        } else {
            self.channel.recv::<Upward>(deadline, Upward::fds)?
        };
        Ok((id, Event::from_wire(up, fds)))
    }

    /// Hands `event` to the caller of `id`, or serves it here when no
    /// caller waits for it: a log record is logged; a host call from a
    /// thread of the plugin's own (an inner backend dropped there, say) is
    /// served on a thread of its own, so replies keep flowing meanwhile.
    fn deliver(self: &Arc<Self>, id: RequestId, event: Event) {
        let unclaimed = {
            let mut shared = self.shared();
            match shared.callers.get_mut(&id) {
                Some(caller) => {
                    caller.events.push_back(event);
                    if caller.asleep {
                        caller.wake.notify_one();
                    }
                    None
                }
                None => Some(event),
            }
        };
        match unclaimed {
            Some(Event::Log {
                level,
                target,
                message,
            }) => self
                .host
                .log(level, RStr::from_str(&target), RStr::from_str(&message)),
            Some(Event::HostCall { call, body, fds }) => {
                let demux = self.clone();
                let served = std::thread::Builder::new()
                    .name("stowage-isolate-host-call".into())
                    .spawn(move || {
                        let answer = demux.calls.serve(&demux.host, body, fds);
                        demux.answer(call, answer);
                    });
                if let Err(e) = served {
                    let why = format!("cannot start a thread to serve a host call: {e}");
                    self.answer(call, Err(stowage_backend_api::BackendError::transient(why)));
                }
            }
            // A reply or progress for a caller that gave up (timed out).
            _ => {}
        }
    }

    /// The idle reader's loop: reads whenever no request has been in
    /// flight for [`IDLE_AFTER`], until the socket fails or closes.
    pub(crate) fn read_while_idle(self: Arc<Self>) {
        loop {
            {
                let mut shared = self.shared();
                loop {
                    if shared.ended.is_some() {
                        return;
                    }
                    let quiet = shared.callers.is_empty() && !shared.reading;
                    let waited = shared.last_activity.elapsed();
                    if quiet && waited >= IDLE_AFTER {
                        break;
                    }
                    let nap = if quiet {
                        IDLE_AFTER - waited
                    } else {
                        IDLE_AFTER
                    };
                    shared = self
                        .idle
                        .wait_timeout(shared, nap)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
                shared.reading = true;
            }
            // A caller that arrives meanwhile sleeps until a message comes;
            // the first one passes the socket on to it.
            loop {
                let read = self.read_one(None, false);
                let (id, event) = match read {
                    Ok(m) => m,
                    Err(e) => {
                        self.end(frame_failure(e));
                        self.shared().release();
                        return;
                    }
                };
                self.deliver(id, event);
                let mut shared = self.shared();
                if !shared.callers.is_empty() {
                    shared.release();
                    break;
                }
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

impl Pending<'_> {
    /// The next message about this request: one another thread read for
    /// it, or, when nobody reads the socket, one it reads itself. After
    /// `timeout` without one, the child is unusable for every caller.
    pub(crate) fn next(&self, timeout: Duration) -> Result<Event, Failure> {
        let demux = self.demux;
        let deadline = Instant::now() + timeout;
        let mut shared = demux.shared();
        loop {
            let Shared {
                callers,
                reading,
                ended,
                ..
            } = &mut *shared;
            let Some(me) = callers.get_mut(&self.id) else {
                return Err(ended.clone().unwrap_or(Failure::Died));
            };
            me.asleep = false;
            if let Some(event) = me.events.pop_front() {
                // It may have been woken to read: let another one.
                shared.wake_a_reader();
                return Ok(event);
            }
            if let Some(failure) = ended {
                return Err(failure.clone());
            }
            if !*reading {
                *reading = true;
                drop(shared);
                return self.read_until_mine(deadline, timeout);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                drop(shared);
                return Err(self.timed_out(timeout));
            }
            me.asleep = true;
            let wake = me.wake.clone();
            shared = wake
                .wait_timeout(shared, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Reads the socket (this caller holds it) until a message about this
    /// request arrives, handing the others to their callers; then passes
    /// the socket on.
    fn read_until_mine(&self, deadline: Instant, timeout: Duration) -> Result<Event, Failure> {
        let demux = self.demux;
        loop {
            let alone = demux.shared().callers.len() == 1;
            let read = demux.read_one(Some(deadline), alone);
            let (id, event) = match read {
                Ok(m) => m,
                Err(e) => {
                    demux.shared().release();
                    return Err(match e {
                        FrameError::TimedOut => self.timed_out(timeout),
                        e => {
                            demux.end(frame_failure(e));
                            demux.ended()
                        }
                    });
                }
            };
            if id == self.id {
                demux.shared().release();
                return Ok(event);
            }
            demux.deliver(id, event);
        }
    }

    /// No sign of life from this request for `timeout`: the child is
    /// unusable for everyone.
    fn timed_out(&self, timeout: Duration) -> Failure {
        self.demux.end(Failure::TimedOut(timeout));
        self.demux.ended()
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        let mut shared = self.demux.shared();
        shared.callers.remove(&self.id);
        shared.last_activity = Instant::now();
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
