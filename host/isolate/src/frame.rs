//! Frames on a stream socket: a little-endian `u32` length, the payload,
//! and file descriptors attached (`SCM_RIGHTS`) to the frame's first bytes.

use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::net::{
    recvmsg, sendmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags,
    SendAncillaryBuffer, SendAncillaryMessage, SendFlags,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The largest frame either side accepts (a listing of a million names
/// fits); a longer length prefix is garbage.
pub const MAX_FRAME: usize = 64 << 20;

/// The most descriptors one frame may carry.
pub const MAX_FDS: usize = 4;

/// How long [`Channel::recv_spinning`] keeps asking for the next frame
/// without sleeping before it blocks (where there is more than one CPU).
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
/// peer has nothing else to do and its last wait on this channel ended
/// within `SPIN`; otherwise it sleeps at once. The price is at most this
/// much CPU time per message waited for.
pub const SPIN: Duration = Duration::from_micros(100);

/// [`SPIN`] where there is more than one CPU; nothing where a spinning
/// reader would only keep its peer from running.
fn spin_budget() -> Duration {
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

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The peer closed its end (or died).
    #[error("the connection was closed")]
    Closed,
    /// Nothing arrived before the deadline.
    #[error("timed out")]
    TimedOut,
    /// The bytes are not a valid frame.
    #[error("invalid frame: {0}")]
    Garbage(String),
    /// The socket failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// One end of the socket pair.
#[derive(Debug)]
pub struct Channel {
    socket: OwnedFd,
    /// The last wait of [`Channel::recv_spinning`] ended within [`SPIN`]:
    /// spinning pays.
    quick: AtomicBool,
}

impl Channel {
    /// Wraps a connected stream socket.
    pub fn new(socket: OwnedFd) -> Self {
        Self {
            socket,
            quick: AtomicBool::new(true),
        }
    }

    /// The socket.
    pub fn socket(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }

    /// Closes both directions: the peer reads end-of-file.
    pub fn shutdown(&self) {
        let _ = rustix::net::shutdown(&self.socket, rustix::net::Shutdown::Both);
    }

    /// Sends `payload` as one frame with `fds` attached.
    pub fn send_raw(&self, payload: &[u8], fds: &[BorrowedFd<'_>]) -> Result<(), FrameError> {
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|&l| (l as usize) <= MAX_FRAME)
            .ok_or_else(|| FrameError::Garbage(format!("{} bytes is too long", payload.len())))?;
        let header = len.to_le_bytes();
        let mut sent = 0usize;
        let total = header.len() + payload.len();
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
        while sent < total {
            let iov: Vec<IoSlice<'_>> = if sent < header.len() {
                vec![IoSlice::new(&header[sent..]), IoSlice::new(payload)]
            } else {
                vec![IoSlice::new(&payload[sent - header.len()..])]
            };
            let mut control = SendAncillaryBuffer::new(&mut space);
            if sent == 0 && !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
                return Err(FrameError::Garbage(format!("{} descriptors", fds.len())));
            }
            match sendmsg(&self.socket, &iov, &mut control, SendFlags::NOSIGNAL) {
                Ok(0) => return Err(FrameError::Closed),
                Ok(n) => sent += n,
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::PIPE | rustix::io::Errno::CONNRESET) => {
                    return Err(FrameError::Closed)
                }
                Err(e) => return Err(FrameError::Io(e.into())),
            }
        }
        Ok(())
    }

    /// Encodes `message` and sends it with `fds`.
    pub fn send<T: Serialize>(
        &self,
        message: &T,
        fds: &[BorrowedFd<'_>],
    ) -> Result<(), FrameError> {
        let bytes = postcard::to_stdvec(message)
            .map_err(|e| FrameError::Garbage(format!("cannot encode: {e}")))?;
        self.send_raw(&bytes, fds)
    }

    /// Receives one frame and the descriptors that came with it. `deadline`
    /// bounds the wait (`None`: wait for ever).
    pub fn recv_raw(
        &self,
        deadline: Option<Instant>,
    ) -> Result<(Vec<u8>, Vec<OwnedFd>), FrameError> {
        self.receive_raw(deadline, false)
    }

    /// Receives one frame; with `spin`, waits for its start as
    /// [`Channel::recv_spinning`] says.
    fn receive_raw(
        &self,
        deadline: Option<Instant>,
        spin: bool,
    ) -> Result<(Vec<u8>, Vec<OwnedFd>), FrameError> {
        let mut fds = Vec::new();
        let mut header = [0u8; 4];
        if spin {
            let budget = spin_budget();
            let started = Instant::now();
            if self.quick.load(Ordering::Relaxed) && !budget.is_zero() {
                self.spin_until_readable(started + budget);
            }
            self.fill(&mut header, deadline, &mut fds, true)?;
            let quick = started.elapsed() <= SPIN;
            self.quick.store(quick, Ordering::Relaxed);
        } else {
            self.fill(&mut header, deadline, &mut fds, true)?;
        }
        let len = u32::from_le_bytes(header) as usize;
        if len > MAX_FRAME {
            return Err(FrameError::Garbage(format!(
                "a frame of {len} bytes announced (at most {MAX_FRAME})"
            )));
        }
        let mut payload = vec![0u8; len];
        self.fill(&mut payload, deadline, &mut fds, false)?;
        Ok((payload, fds))
    }

    /// Receives and decodes one message, which must carry exactly
    /// `expected_fds(&message)` descriptors.
    pub fn recv<T: DeserializeOwned>(
        &self,
        deadline: Option<Instant>,
        expected_fds: impl Fn(&T) -> usize,
    ) -> Result<(T, Vec<OwnedFd>), FrameError> {
        self.receive(deadline, false, expected_fds)
    }

    /// As [`Channel::recv`], for a reader whose peer has nothing else to
    /// do, so answers soon: it first waits for the frame without sleeping,
    /// for up to [`SPIN`], if the last such wait ended within that time.
    pub fn recv_spinning<T: DeserializeOwned>(
        &self,
        deadline: Option<Instant>,
        expected_fds: impl Fn(&T) -> usize,
    ) -> Result<(T, Vec<OwnedFd>), FrameError> {
        self.receive(deadline, true, expected_fds)
    }

    fn receive<T: DeserializeOwned>(
        &self,
        deadline: Option<Instant>,
        spin: bool,
        expected_fds: impl Fn(&T) -> usize,
    ) -> Result<(T, Vec<OwnedFd>), FrameError> {
        let (bytes, fds) = self.receive_raw(deadline, spin)?;
        let message: T = postcard::from_bytes(&bytes)
            .map_err(|e| FrameError::Garbage(format!("undecodable message: {e}")))?;
        let expected = expected_fds(&message);
        if fds.len() != expected {
            return Err(FrameError::Garbage(format!(
                "{} file descriptors attached, {expected} expected",
                fds.len()
            )));
        }
        Ok((message, fds))
    }

    fn fill(
        &self,
        buf: &mut [u8],
        deadline: Option<Instant>,
        fds: &mut Vec<OwnedFd>,
        first: bool,
    ) -> Result<(), FrameError> {
        let mut got = 0usize;
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
        // With a deadline, each receive is tried first and polled for only
        // when nothing is there yet: the bytes mostly are, and a poll
        // before every receive would double the system calls.
        let flags = if deadline.is_some() {
            RecvFlags::CMSG_CLOEXEC | RecvFlags::DONTWAIT
        } else {
            RecvFlags::CMSG_CLOEXEC
        };
        while got < buf.len() {
            let mut control = RecvAncillaryBuffer::new(&mut space);
            let mut iov = [IoSliceMut::new(&mut buf[got..])];
            let r = match recvmsg(&self.socket, &mut iov, &mut control, flags) {
                Ok(r) => r,
                Err(rustix::io::Errno::AGAIN) => {
                    self.wait_readable(deadline)?;
                    continue;
                }
                Err(rustix::io::Errno::INTR) => continue,
                Err(rustix::io::Errno::CONNRESET) => return Err(FrameError::Closed),
                Err(e) => return Err(FrameError::Io(e.into())),
            };
            for message in control.drain() {
                if let RecvAncillaryMessage::ScmRights(received) = message {
                    fds.extend(received);
                }
            }
            if r.flags.contains(ReturnFlags::CTRUNC) || fds.len() > MAX_FDS {
                return Err(FrameError::Garbage("too many file descriptors".into()));
            }
            if r.bytes == 0 {
                return if got == 0 && first {
                    Err(FrameError::Closed)
                } else {
                    Err(FrameError::Garbage("the peer closed mid-frame".into()))
                };
            }
            got += r.bytes;
        }
        Ok(())
    }

    /// Asks whether the socket is readable, without sleeping, until it is
    /// or `until` passed.
    fn spin_until_readable(&self, until: Instant) {
        let now = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        loop {
            let mut pfd = [PollFd::new(&self.socket, PollFlags::IN)];
            if poll(&mut pfd, Some(&now)).is_ok_and(|n| n > 0) || Instant::now() >= until {
                return;
            }
        }
    }

    fn wait_readable(&self, deadline: Option<Instant>) -> Result<(), FrameError> {
        let Some(deadline) = deadline else {
            return Ok(());
        };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(FrameError::TimedOut);
            }
            let timeout = Timespec {
                tv_sec: left.as_secs() as i64,
                tv_nsec: i64::from(left.subsec_nanos()),
            };
            let mut pfd = [PollFd::new(&self.socket, PollFlags::IN)];
            match poll(&mut pfd, Some(&timeout)) {
                Ok(0) => return Err(FrameError::TimedOut),
                Ok(_) => return Ok(()),
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(FrameError::Io(e.into())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, Write};
    use std::os::unix::net::UnixStream;
    use std::time::Duration;

    fn pair() -> (Channel, Channel) {
        let (a, b) = UnixStream::pair().unwrap();
        (Channel::new(a.into()), Channel::new(b.into()))
    }

    #[test]
    fn frames_carry_payload_and_descriptors() {
        let (a, b) = pair();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"through the socket").unwrap();
        a.send(&("hello".to_string(), 7u64), &[file.as_fd()])
            .unwrap();
        let ((text, n), fds) = b.recv::<(String, u64)>(None, |_| 1).unwrap();
        assert_eq!((text.as_str(), n), ("hello", 7));
        let mut received = std::fs::File::from(fds.into_iter().next().unwrap());
        received.rewind().unwrap();
        let mut s = String::new();
        received.read_to_string(&mut s).unwrap();
        assert_eq!(s, "through the socket");
    }

    #[test]
    fn garbage_timeouts_and_closes_are_told_apart() {
        let (a, b) = pair();
        a.send_raw(&[0xff; 3], &[]).unwrap();
        assert!(matches!(
            b.recv::<(String, u64)>(None, |_| 0),
            Err(FrameError::Garbage(_))
        ));
        let huge = (MAX_FRAME as u32 + 1).to_le_bytes();
        let mut raw: UnixStream = UnixStream::from(a.socket.try_clone().unwrap());
        raw.write_all(&huge).unwrap();
        assert!(matches!(b.recv_raw(None), Err(FrameError::Garbage(_))));
        let soon = Instant::now() + Duration::from_millis(20);
        assert!(matches!(b.recv_raw(Some(soon)), Err(FrameError::TimedOut)));
        drop(raw);
        drop(a);
        assert!(matches!(b.recv_raw(None), Err(FrameError::Closed)));
    }

    #[test]
    fn a_spinning_reader_gets_early_and_late_frames_and_stops_spinning_when_it_does_not_pay() {
        let (a, b) = pair();
        a.send(&1u32, &[]).unwrap();
        assert_eq!(b.recv_spinning::<u32>(None, |_| 0).unwrap().0, 1);
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(50));
                a.send(&2u32, &[]).unwrap();
            });
            let soon = Instant::now() + Duration::from_secs(10);
            assert_eq!(b.recv_spinning::<u32>(Some(soon), |_| 0).unwrap().0, 2);
        });
        assert!(!b.quick.load(Ordering::Relaxed), "a long wait: sleep next");
        // A frame already there is a short wait (unless this thread is
        // preempted meanwhile, hence a few tries).
        let spins_again = (0..20u32).any(|n| {
            a.send(&n, &[]).unwrap();
            assert_eq!(b.recv_spinning::<u32>(None, |_| 0).unwrap().0, n);
            b.quick.load(Ordering::Relaxed)
        });
        assert!(spins_again, "a short wait: spin again");
    }

    #[test]
    fn a_frame_with_unexpected_descriptors_is_refused() {
        let (a, b) = pair();
        let file = tempfile::tempfile().unwrap();
        a.send(&1u32, &[file.as_fd()]).unwrap();
        assert!(matches!(
            b.recv::<u32>(None, |_| 0),
            Err(FrameError::Garbage(_))
        ));
    }
}
