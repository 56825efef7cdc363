//! Frames on a stream socket: a little-endian `u32` length, the payload,
//! and file descriptors attached (`SCM_RIGHTS`) to the frame's first bytes.

use std::collections::VecDeque;
use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
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

/// How much a read-ahead channel asks the socket for at once: several
/// small frames (progress reports and the reply after them) come in one
/// read.
const READ_AHEAD: usize = 64 << 10;

/// One end of the socket pair.
///
/// Invariant: one thread at a time receives (the callers arrange it);
/// any number send, each frame whole under the caller's own lock.
#[derive(Debug)]
pub struct Channel {
    socket: OwnedFd,
    /// How many waits of [`Channel::recv_spinning`] in a row outlasted
    /// [`SPIN`].
    slow_waits: AtomicU32,
    /// Bytes read past the frame taken last (read-ahead channels only).
    inbox: Option<Mutex<Inbox>>,
}

/// What a read-ahead channel read and has not handed out yet.
///
/// Descriptors arrive with the bytes they were sent with, and the kernel
/// ends a read right after a message that carried descriptors. The sender
/// attaches them to a frame's first bytes, and writes each frame that has
/// descriptors on its own. So the descriptors of one read belong to the
/// frame that holds the read's last byte; each is kept with that byte's
/// offset in the stream.
#[derive(Debug)]
struct Inbox {
    /// `buf[start..end]` are the bytes not handed out; the rest is space.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The stream offset of `buf[0]`.
    base: u64,
    fds: VecDeque<(u64, OwnedFd)>,
}

impl Inbox {
    fn new() -> Self {
        Self {
            buf: vec![0; READ_AHEAD],
            start: 0,
            end: 0,
            base: 0,
            fds: VecDeque::new(),
        }
    }

    fn held(&self) -> usize {
        self.end - self.start
    }

    /// Makes room for `need` bytes from `start` on. A buffer grown for a
    /// large frame goes back to [`READ_AHEAD`] once that frame is taken:
    /// a link lives as long as its backend.
    fn make_room(&mut self, need: usize) {
        if self.buf.len() - self.start < need || self.start == self.end {
            self.buf.copy_within(self.start..self.end, 0);
            self.base += self.start as u64;
            self.end -= self.start;
            self.start = 0;
        }
        let usual = need.max(READ_AHEAD);
        if self.buf.len() < need {
            self.buf.resize(need, 0);
        } else if self.buf.len() > usual && self.start == 0 && self.end <= usual {
            self.buf.truncate(usual);
            self.buf.shrink_to_fit();
        }
    }

    /// Takes the next `len` bytes, and the descriptors that came with them.
    fn take(&mut self, len: usize) -> Result<(Vec<u8>, Vec<OwnedFd>), FrameError> {
        let first = self.base + self.start as u64;
        let past = first + len as u64;
        let bytes = self.buf[self.start..self.start + len].to_vec();
        self.start += len;
        let mut fds = Vec::new();
        while let Some((at, _)) = self.fds.front() {
            if *at >= past {
                break;
            }
            if *at < first {
                return Err(FrameError::Garbage(
                    "file descriptors attached to no frame".into(),
                ));
            }
            fds.extend(self.fds.pop_front().map(|(_, fd)| fd));
        }
        Ok((bytes, fds))
    }
}

impl Channel {
    /// Wraps a connected stream socket. It reads exactly one frame at a
    /// time, so a frame not yet read is always seen as the socket being
    /// readable (the child's threads sleep in `epoll` on it).
    pub fn new(socket: OwnedFd) -> Self {
        Self {
            socket,
            slow_waits: AtomicU32::new(0),
            inbox: None,
        }
    }

    /// Wraps a connected stream socket that reads ahead: frames that
    /// arrived together are taken with one system call. Only for an end
    /// whose readers never wait for the socket to be readable outside
    /// [`Channel::recv`] and friends (the host's: its readers take turns
    /// under a lock of their own).
    pub fn read_ahead(socket: OwnedFd) -> Self {
        Self {
            inbox: Some(Mutex::new(Inbox::new())),
            ..Self::new(socket)
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

    /// Appends `payload` to `out` as one frame.
    pub fn frame_raw(payload: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|&l| (l as usize) <= MAX_FRAME)
            .ok_or_else(|| FrameError::Garbage(format!("{} bytes is too long", payload.len())))?;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(payload);
        Ok(())
    }

    /// Appends `message`, encoded, to `out` as one frame.
    pub fn frame<T: Serialize>(message: &T, out: &mut Vec<u8>) -> Result<(), FrameError> {
        let bytes = postcard::to_stdvec(message)
            .map_err(|e| FrameError::Garbage(format!("cannot encode: {e}")))?;
        Self::frame_raw(&bytes, out)
    }

    /// Sends `frames` (whole frames, see [`Channel::frame`]) with `fds`
    /// attached to their first byte: frames with descriptors go one at a
    /// time.
    pub fn send_frames(&self, frames: &[u8], fds: &[BorrowedFd<'_>]) -> Result<(), FrameError> {
        let mut sent = 0usize;
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
        while sent < frames.len() {
            let iov = [IoSlice::new(&frames[sent..])];
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

    /// Sends `payload` as one frame with `fds` attached.
    pub fn send_raw(&self, payload: &[u8], fds: &[BorrowedFd<'_>]) -> Result<(), FrameError> {
        let mut frame = Vec::with_capacity(4 + payload.len());
        Self::frame_raw(payload, &mut frame)?;
        self.send_frames(&frame, fds)
    }

    /// Encodes `message` and sends it with `fds`.
    pub fn send<T: Serialize>(
        &self,
        message: &T,
        fds: &[BorrowedFd<'_>],
    ) -> Result<(), FrameError> {
        let mut frame = Vec::new();
        Self::frame(message, &mut frame)?;
        self.send_frames(&frame, fds)
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
        let mut inbox = self
            .inbox
            .as_ref()
            .map(|i| i.lock().unwrap_or_else(|p| p.into_inner()));
        let waiting = inbox.as_ref().is_none_or(|i| i.held() < 4);
        let started = Instant::now();
        let budget = spin_budget();
        let slow = self.slow_waits.load(Ordering::Relaxed);
        let spins_now = slow < SLOW_WAITS || slow == SLOW_WAITS + PROBE_EVERY - 1;
        if spin && waiting && spins_now && !budget.is_zero() {
            self.spin_until_readable(started + budget);
        }
        let received = match inbox.as_deref_mut() {
            Some(inbox) => self.take_ahead(inbox, deadline),
            None => self.take_exact(deadline),
        };
        if spin && waiting {
            // Past the last probe the count starts its round again.
            let slow = if started.elapsed() <= SPIN {
                0
            } else if slow + 1 < SLOW_WAITS + PROBE_EVERY {
                slow + 1
            } else {
                SLOW_WAITS
            };
            self.slow_waits.store(slow, Ordering::Relaxed);
        }
        received
    }

    /// One frame, read exactly (see [`Channel::new`]).
    fn take_exact(&self, deadline: Option<Instant>) -> Result<(Vec<u8>, Vec<OwnedFd>), FrameError> {
        let mut fds = Vec::new();
        let mut header = [0u8; 4];
        self.fill(&mut header, deadline, &mut fds, true)?;
        let len = frame_len(header)?;
        let mut payload = vec![0u8; len];
        self.fill(&mut payload, deadline, &mut fds, false)?;
        Ok((payload, fds))
    }

    /// One frame, from what was read ahead and as much more as there is.
    fn take_ahead(
        &self,
        inbox: &mut Inbox,
        deadline: Option<Instant>,
    ) -> Result<(Vec<u8>, Vec<OwnedFd>), FrameError> {
        self.read_into(inbox, 4, deadline, true)?;
        let mut header = [0u8; 4];
        header.copy_from_slice(&inbox.buf[inbox.start..inbox.start + 4]);
        let len = frame_len(header)?;
        self.read_into(inbox, 4 + len, deadline, false)?;
        let (mut frame, fds) = inbox.take(4 + len)?;
        frame.drain(..4);
        Ok((frame, fds))
    }

    /// Reads until `inbox` holds `need` bytes. `first`: they start a frame
    /// (end-of-file before any of them is a close, not garbage).
    fn read_into(
        &self,
        inbox: &mut Inbox,
        need: usize,
        deadline: Option<Instant>,
        first: bool,
    ) -> Result<(), FrameError> {
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
        while inbox.held() < need {
            inbox.make_room(need);
            let end = inbox.end;
            let mut control = RecvAncillaryBuffer::new(&mut space);
            let mut iov = [IoSliceMut::new(&mut inbox.buf[end..])];
            let r = match self.receive_some(&mut iov, &mut control, deadline)? {
                Some(r) => r,
                None => continue,
            };
            let last = inbox.base + (end + r.bytes) as u64;
            for message in control.drain() {
                if let RecvAncillaryMessage::ScmRights(received) = message {
                    inbox
                        .fds
                        .extend(received.map(|fd| (last.saturating_sub(1), fd)));
                }
            }
            if r.flags.contains(ReturnFlags::CTRUNC) || inbox.fds.len() > MAX_FDS {
                return Err(FrameError::Garbage("too many file descriptors".into()));
            }
            if r.bytes == 0 {
                return Err(if inbox.held() == 0 && first {
                    FrameError::Closed
                } else {
                    FrameError::Garbage("the peer closed mid-frame".into())
                });
            }
            inbox.end += r.bytes;
        }
        Ok(())
    }

    /// One `recvmsg`: `None` when it should be tried again (interrupted,
    /// or nothing there yet and now there is).
    fn receive_some(
        &self,
        iov: &mut [IoSliceMut<'_>],
        control: &mut RecvAncillaryBuffer<'_>,
        deadline: Option<Instant>,
    ) -> Result<Option<rustix::net::RecvMsg>, FrameError> {
        // With a deadline, each receive is tried first and polled for only
        // when nothing is there yet: the bytes mostly are, and a poll
        // before every receive would double the system calls.
        let flags = if deadline.is_some() {
            RecvFlags::CMSG_CLOEXEC | RecvFlags::DONTWAIT
        } else {
            RecvFlags::CMSG_CLOEXEC
        };
        match recvmsg(&self.socket, iov, control, flags) {
            Ok(r) => Ok(Some(r)),
            Err(rustix::io::Errno::AGAIN) => {
                self.wait_readable(deadline)?;
                Ok(None)
            }
            Err(rustix::io::Errno::INTR) => Ok(None),
            Err(rustix::io::Errno::CONNRESET) => Err(FrameError::Closed),
            Err(e) => Err(FrameError::Io(e.into())),
        }
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
        while got < buf.len() {
            let mut control = RecvAncillaryBuffer::new(&mut space);
            let mut iov = [IoSliceMut::new(&mut buf[got..])];
            let Some(r) = self.receive_some(&mut iov, &mut control, deadline)? else {
                continue;
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

/// The length a frame's header announces, checked.
fn frame_len(header: [u8; 4]) -> Result<usize, FrameError> {
    let len = u32::from_le_bytes(header) as usize;
    if len > MAX_FRAME {
        return Err(FrameError::Garbage(format!(
            "a frame of {len} bytes announced (at most {MAX_FRAME})"
        )));
    }
    Ok(len)
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

    /// Both kinds of receiving end.
    fn pairs() -> [(Channel, Channel); 2] {
        let (a, b) = UnixStream::pair().unwrap();
        let (c, d) = UnixStream::pair().unwrap();
        [
            (Channel::new(a.into()), Channel::new(b.into())),
            (Channel::new(c.into()), Channel::read_ahead(d.into())),
        ]
    }

    #[test]
    fn frames_carry_payload_and_descriptors() {
        for (a, b) in pairs() {
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
        let late = |n: u32| {
            std::thread::scope(|s| {
                s.spawn(|| {
                    std::thread::sleep(Duration::from_millis(2));
                    a.send(&n, &[]).unwrap();
                });
                let soon = Instant::now() + Duration::from_secs(10);
                assert_eq!(b.recv_spinning::<u32>(Some(soon), |_| 0).unwrap().0, n);
            })
        };
        for n in 0..SLOW_WAITS {
            late(n);
        }
        let slow = || b.slow_waits.load(Ordering::Relaxed);
        assert_eq!(slow(), SLOW_WAITS, "long waits in a row: sleep next");
        // The count goes round: one wait in PROBE_EVERY spins again.
        for n in 0..PROBE_EVERY {
            late(n);
        }
        assert_eq!(slow(), SLOW_WAITS, "{} after a round of probing", slow());
        // A frame already there is a short wait (unless this thread is
        // preempted meanwhile, hence a few tries).
        let spins_again = (0..20u32).any(|n| {
            a.send(&n, &[]).unwrap();
            assert_eq!(b.recv_spinning::<u32>(None, |_| 0).unwrap().0, n);
            slow() == 0
        });
        assert!(spins_again, "a short wait: spin again");
    }

    /// A read-ahead end takes frames written together one by one, gives
    /// each its own descriptors, reads frames larger than its buffer, and
    /// tells a close between frames from one inside a frame.
    #[test]
    fn a_read_ahead_end_takes_frames_written_together_apart() {
        let (a, b) = UnixStream::pair().unwrap();
        let (a, b) = (Channel::new(a.into()), Channel::read_ahead(b.into()));
        let mut together = Vec::new();
        for n in 0..3u32 {
            Channel::frame(&n, &mut together).unwrap();
        }
        a.send_frames(&together, &[]).unwrap();
        let file = tempfile::tempfile().unwrap();
        a.send(&3u32, &[file.as_fd()]).unwrap();
        a.send(&4u32, &[]).unwrap();
        let big = vec![7u8; 3 * READ_AHEAD + 5];
        std::thread::scope(|s| {
            s.spawn(|| a.send(&big, &[]).unwrap());
            for n in 0..5u32 {
                let (m, fds) = b.recv::<u32>(None, |m| usize::from(*m == 3)).unwrap();
                assert_eq!(m, n);
                assert_eq!(fds.len(), usize::from(n == 3));
            }
            assert_eq!(b.recv::<Vec<u8>>(None, |_| 0).unwrap().0, big);
            a.send(&6u32, &[]).unwrap();
            assert_eq!(b.recv::<u32>(None, |_| 0).unwrap().0, 6);
        });
        let inbox = b.inbox.as_ref().unwrap().lock().unwrap();
        assert_eq!(inbox.buf.len(), READ_AHEAD, "the buffer shrank back");
        drop(inbox);
        drop(a);
        assert!(matches!(b.recv_raw(None), Err(FrameError::Closed)));

        let (mut a, b) = UnixStream::pair().unwrap();
        let b = Channel::read_ahead(b.into());
        a.write_all(&10u32.to_le_bytes()).unwrap();
        a.write_all(b"short").unwrap();
        drop(a);
        assert!(matches!(
            b.recv_raw(None),
            Err(FrameError::Garbage(why)) if why.contains("closed mid-frame")
        ));
    }

    #[test]
    fn a_frame_with_unexpected_descriptors_is_refused() {
        for (a, b) in pairs() {
            let file = tempfile::tempfile().unwrap();
            a.send(&1u32, &[file.as_fd()]).unwrap();
            assert!(matches!(
                b.recv::<u32>(None, |_| 0),
                Err(FrameError::Garbage(_))
            ));
        }
    }
}
