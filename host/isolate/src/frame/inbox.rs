//! The receiving side of a channel: bytes from the socket until a whole
//! frame is there, with the descriptors that came with it.

use std::collections::VecDeque;
use std::io::IoSliceMut;
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::time::Instant;

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::net::{recvmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags};

use super::{FrameError, MAX_FDS, MAX_FRAME};

/// How much a read-ahead inbox asks the socket for at once: several small
/// frames (progress reports and the reply after them) come in one read.
pub(super) const READ_AHEAD: usize = 64 << 10;

/// What a channel read and has not handed out yet.
///
/// Descriptors arrive with the bytes they were sent with, and the kernel
/// ends a read right after a message that carried descriptors. The sender
/// attaches them to a frame's first bytes, and writes each frame that has
/// descriptors on its own. So the descriptors of one read belong to the
/// frame that holds the read's last byte; each is kept with that byte's
/// offset in the stream.
///
/// Invariant: `start <= end <= buf.len()`; without `ahead`, no byte past
/// the frame being read is ever asked of the socket.
#[derive(Debug)]
pub(super) struct Inbox {
    /// `buf[start..end]` are the bytes not handed out; the rest is space.
    pub(super) buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The stream offset of `buf[0]`.
    base: u64,
    fds: VecDeque<(u64, OwnedFd)>,
    /// Read as much as has arrived, not only the frame being read.
    ahead: bool,
}

impl Inbox {
    pub(super) fn new(ahead: bool) -> Self {
        Self {
            buf: vec![0; READ_AHEAD],
            start: 0,
            end: 0,
            base: 0,
            fds: VecDeque::new(),
            ahead,
        }
    }

    /// A whole frame's header is here: no need to wait for the socket.
    pub(super) fn has_header(&self) -> bool {
        self.end - self.start >= 4
    }

    /// Reads the next frame from `socket` (what is here first) and hands
    /// its payload and descriptors to `take`.
    pub(super) fn next_frame<R>(
        &mut self,
        socket: BorrowedFd<'_>,
        deadline: Option<Instant>,
        take: impl FnOnce(&[u8], Vec<OwnedFd>) -> R,
    ) -> Result<R, FrameError> {
        self.fill(socket, 4, deadline, true)?;
        let mut header = [0u8; 4];
        header.copy_from_slice(&self.buf[self.start..self.start + 4]);
        let len = u32::from_le_bytes(header) as usize;
        if len > MAX_FRAME {
            // The header is read and refused, as a garbled frame is.
            self.start += 4;
            return Err(FrameError::Garbage(format!(
                "a frame of {len} bytes announced (at most {MAX_FRAME})"
            )));
        }
        self.fill(socket, 4 + len, deadline, false)?;
        let first = self.base + self.start as u64;
        let past = first + 4 + len as u64;
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
        let payload = &self.buf[self.start + 4..self.start + 4 + len];
        let taken = take(payload, fds);
        self.start += 4 + len;
        Ok(taken)
    }

    /// Makes room for `need` bytes from `start` on. A buffer grown for a
    /// large frame goes back to [`READ_AHEAD`] once that frame is taken:
    /// a channel lives as long as its backend.
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

    /// Reads until `need` bytes are here. `first`: they start a frame
    /// (end-of-file before any of them is a close, not garbage).
    fn fill(
        &mut self,
        socket: BorrowedFd<'_>,
        need: usize,
        deadline: Option<Instant>,
        first: bool,
    ) -> Result<(), FrameError> {
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
        while self.end - self.start < need {
            self.make_room(need);
            let end = self.end;
            let upto = if self.ahead {
                self.buf.len()
            } else {
                self.start + need
            };
            let mut control = RecvAncillaryBuffer::new(&mut space);
            let mut iov = [IoSliceMut::new(&mut self.buf[end..upto])];
            let Some(r) = receive_some(socket, &mut iov, &mut control, deadline)? else {
                continue;
            };
            let last = (self.base + (end + r.bytes) as u64).saturating_sub(1);
            for message in control.drain() {
                if let RecvAncillaryMessage::ScmRights(received) = message {
                    self.fds.extend(received.map(|fd| (last, fd)));
                }
            }
            if r.flags.contains(ReturnFlags::CTRUNC) || self.fds.len() > MAX_FDS {
                return Err(FrameError::Garbage("too many file descriptors".into()));
            }
            if r.bytes == 0 {
                return Err(if self.start == self.end && first {
                    FrameError::Closed
                } else {
                    FrameError::Garbage("the peer closed mid-frame".into())
                });
            }
            self.end += r.bytes;
        }
        Ok(())
    }
}

/// One `recvmsg`: `None` when it should be tried again (interrupted, or
/// nothing there yet and now there is).
fn receive_some(
    socket: BorrowedFd<'_>,
    iov: &mut [IoSliceMut<'_>],
    control: &mut RecvAncillaryBuffer<'_>,
    deadline: Option<Instant>,
) -> Result<Option<rustix::net::RecvMsg>, FrameError> {
    // With a deadline, each receive is tried first and polled for only
    // when nothing is there yet: the bytes mostly are, and a poll before
    // every receive would double the system calls.
    let flags = if deadline.is_some() {
        RecvFlags::CMSG_CLOEXEC | RecvFlags::DONTWAIT
    } else {
        RecvFlags::CMSG_CLOEXEC
    };
    match recvmsg(socket, iov, control, flags) {
        Ok(r) => Ok(Some(r)),
        Err(rustix::io::Errno::AGAIN) => {
            wait_readable(socket, deadline)?;
            Ok(None)
        }
        Err(rustix::io::Errno::INTR) => Ok(None),
        Err(rustix::io::Errno::CONNRESET) => Err(FrameError::Closed),
        Err(e) => Err(FrameError::Io(e.into())),
    }
}

fn wait_readable(socket: BorrowedFd<'_>, deadline: Option<Instant>) -> Result<(), FrameError> {
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
        let mut pfd = [PollFd::new(&socket, PollFlags::IN)];
        match poll(&mut pfd, Some(&timeout)) {
            Ok(0) => return Err(FrameError::TimedOut),
            Ok(_) => return Ok(()),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(FrameError::Io(e.into())),
        }
    }
}
