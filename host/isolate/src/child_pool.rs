//! The child's threads, leader/follower: one thread at a time (the leader)
//! reads the host's frames. When it reads a request it gives up the
//! reading and serves the request itself, so a request reaches the plugin
//! with no thread hand-off in between; afterwards it takes the reading
//! back if nobody else did.
//!
//! The other threads (followers) sleep in `epoll_wait` on the socket,
//! which is armed (one-shot) exactly while nobody reads: the kernel wakes
//! one follower only when a frame arrives while the leader is busy (a
//! second request, the answer to a host call the request waits for). A
//! lone request therefore wakes no thread at all; waking a follower for
//! each request, just in case, cost two context switches per request.
//!
//! At most `limit` requests run at once, and the pool has one thread more,
//! so that some thread is always free to read (host answers must be read
//! while requests wait for them). A request read while `limit` run waits
//! in line.

use std::collections::VecDeque;
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::{Mutex, MutexGuard};

use rustix::event::epoll::{self, CreateFlags, Event, EventData, EventFlags};
use rustix::event::{eventfd, EventfdFlags};

use crate::child_conn::fatal;
use crate::protocol::{Request, RequestId};

/// One request as read: its id, the request, its descriptors.
pub(crate) type Job = (RequestId, Request, Vec<OwnedFd>);

#[derive(Default)]
struct State {
    /// How many requests may run at once.
    limit: usize,
    /// A thread reads the socket (the socket is armed while none does).
    reading: bool,
    /// Requests being served.
    running: usize,
    /// Requests read while `limit` were running.
    queue: VecDeque<Job>,
    /// The host closed the socket: nothing more will be read.
    closed: bool,
}

/// What the threads share.
pub(crate) struct Pool {
    state: Mutex<State>,
    /// Followers sleep here, on `socket` (armed while nobody reads) and on
    /// `stop`.
    epoll: OwnedFd,
    socket: OwnedFd,
    /// Readable once the socket closed: every follower wakes and leaves.
    stop: OwnedFd,
}

/// `epoll` interest in the socket while nobody reads it.
fn armed() -> EventFlags {
    EventFlags::IN | EventFlags::RDHUP | EventFlags::ONESHOT
}

impl Pool {
    /// A pool on `socket` that serves at most `limit` requests at once;
    /// `queued` were read before it existed. It needs `limit + 1` threads
    /// calling [`Pool::work`].
    pub(crate) fn new(
        socket: BorrowedFd<'_>,
        limit: usize,
        queued: VecDeque<Job>,
    ) -> std::io::Result<Self> {
        let epoll = epoll::create(CreateFlags::CLOEXEC)?;
        let socket = socket.try_clone_to_owned()?;
        let stop = eventfd(0, EventfdFlags::CLOEXEC)?;
        // Disarmed: the first thread reads without being woken.
        epoll::add(&epoll, &socket, EventData::new_u64(0), EventFlags::ONESHOT)?;
        epoll::add(&epoll, &stop, EventData::new_u64(1), EventFlags::IN)?;
        Ok(Self {
            state: Mutex::new(State {
                limit,
                queue: queued,
                ..State::default()
            }),
            epoll,
            socket,
            stop,
        })
    }

    /// Fewer threads could be started than planned: at most `limit`
    /// requests run at once.
    pub(crate) fn limit_to(&self, limit: usize) {
        self.state().limit = limit;
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes or gives up the reading (called with the state locked, so
    /// that "armed" and "nobody reads" stay one and the same). Arming
    /// checks the socket at once: a frame already there wakes a follower.
    fn set_reading(&self, state: &mut State, reading: bool) {
        state.reading = reading;
        let interest = if reading {
            EventFlags::ONESHOT
        } else {
            armed()
        };
        if let Err(e) = epoll::modify(&self.epoll, &self.socket, EventData::new_u64(0), interest) {
            // Without it no follower would ever wake to read.
            fatal(&format!("epoll: {e}"));
        }
    }

    /// One thread's life: serve a request waiting in line, else read when
    /// nobody does, else sleep; until the host closed the socket.
    /// `read(alone)` returns the next request (`None` once the socket
    /// closed); `alone`: no request runs, so the host's next frame comes
    /// soon (see [`crate::frame::SPIN`]). `serve` serves one and replies.
    pub(crate) fn work(&self, read: &dyn Fn(bool) -> Option<Job>, serve: &dyn Fn(Job)) {
        let mut state = self.state();
        loop {
            if state.running < state.limit {
                if let Some(job) = state.queue.pop_front() {
                    state = self.run(state, job, serve);
                    continue;
                }
            }
            if state.closed {
                // What is still queued, the threads that finish run.
                return;
            }
            if !state.reading {
                self.set_reading(&mut state, true);
                drop(state);
                state = self.lead(read, serve);
                continue;
            }
            drop(state);
            self.sleep();
            state = self.state();
        }
    }

    /// Reads (this thread holds the socket) until a request can run here.
    fn lead(
        &self,
        read: &dyn Fn(bool) -> Option<Job>,
        serve: &dyn Fn(Job),
    ) -> MutexGuard<'_, State> {
        loop {
            let alone = self.state().running == 0;
            let job = read(alone);
            let mut state = self.state();
            let Some(job) = job else {
                state.closed = true;
                state.reading = false;
                if let Err(e) = rustix::io::write(&self.stop, &1u64.to_ne_bytes()) {
                    fatal(&format!("eventfd: {e}"));
                }
                return state;
            };
            if state.running < state.limit {
                self.set_reading(&mut state, false);
                return self.run(state, job, serve);
            }
            // Every slot is busy: keep reading, host answers among others.
            state.queue.push_back(job);
        }
    }

    fn run<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
        job: Job,
        serve: &dyn Fn(Job),
    ) -> MutexGuard<'a, State> {
        state.running += 1;
        drop(state);
        serve(job);
        let mut state = self.state();
        state.running -= 1;
        state
    }

    /// Sleeps until a frame arrives while nobody reads, or the socket
    /// closed (or a spurious wake-up: the caller looks again either way).
    fn sleep(&self) {
        let mut events = [MaybeUninit::<Event>::uninit(); 2];
        match epoll::wait(&self.epoll, &mut events, None) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => fatal(&format!("epoll: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Channel;
    use crate::protocol::{Answer, Down, Op, Up, Upward};
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;
    use std::sync::{mpsc, Arc};
    use std::time::Duration;

    fn query(id: RequestId, name: &str) -> Down {
        Down {
            id,
            request: Request::Op(Op::Query { name: name.into() }),
        }
    }

    /// A request that waits for a later frame gets it although it runs on
    /// the thread that read it (a follower is woken for the frame), other
    /// requests are served meanwhile, one beyond the limit waits in line,
    /// and closing the socket ends every thread.
    #[test]
    fn a_busy_leader_leaves_the_socket_to_a_follower() {
        let (host, child) = UnixStream::pair().unwrap();
        let (host, child) = (
            Channel::new(host.into()),
            Arc::new(Channel::new(child.into())),
        );
        let pool = Arc::new(Pool::new(child.socket().as_fd(), 2, VecDeque::new()).unwrap());
        // The umask frame stands in for a host answer: read by whichever
        // thread reads, and awaited by the request named "wait".
        let (answered, answer) = mpsc::channel::<()>();
        let answer = Arc::new(Mutex::new(answer));
        let write = Arc::new(Mutex::new(()));
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let (pool, child, answered, answer, write) = (
                    pool.clone(),
                    child.clone(),
                    answered.clone(),
                    answer.clone(),
                    write.clone(),
                );
                std::thread::spawn(move || {
                    let read = |_alone| loop {
                        match child.recv::<Down>(None, Down::fds) {
                            Ok((
                                Down {
                                    request: Request::Umask(_),
                                    ..
                                },
                                _,
                            )) => {
                                answered.send(()).unwrap();
                            }
                            Ok((Down { id, request }, fds)) => return Some((id, request, fds)),
                            Err(_) => return None,
                        }
                    };
                    let serve = |(id, request, _): Job| {
                        if let Request::Op(Op::Query { name }) = request {
                            if name == "wait" {
                                let got =
                                    answer.lock().unwrap().recv_timeout(Duration::from_secs(10));
                                got.expect("the frame it waits for was read");
                            }
                        }
                        let _guard = write.lock().unwrap();
                        let up = Upward {
                            id,
                            up: Up::Reply(Ok(Answer::Done)),
                        };
                        child.send(&up, &[]).unwrap();
                    };
                    pool.work(&read, &serve);
                })
            })
            .collect();
        let replied = |host: &Channel| {
            let soon = std::time::Instant::now() + Duration::from_secs(10);
            host.recv::<Upward>(Some(soon), Upward::fds).unwrap().0.id
        };
        let send_the_awaited_frame = |host: &Channel| {
            let frame = Down {
                id: 0,
                request: Request::Umask(0o022),
            };
            host.send(&frame, &[]).unwrap();
        };
        host.send(&query(1, "wait"), &[]).unwrap();
        host.send(&query(2, "quick"), &[]).unwrap();
        assert_eq!(replied(&host), 2, "served while the first one waits");
        // The third takes the second slot; with both busy, the fourth waits
        // in line until the frame the first two wait for is read.
        host.send(&query(3, "wait"), &[]).unwrap();
        host.send(&query(4, "quick"), &[]).unwrap();
        send_the_awaited_frame(&host);
        let mut order = vec![replied(&host), replied(&host)];
        send_the_awaited_frame(&host);
        order.push(replied(&host));
        order.sort();
        assert_eq!(order, [1, 3, 4]);
        drop(host);
        for t in threads {
            t.join().unwrap();
        }
    }
}
