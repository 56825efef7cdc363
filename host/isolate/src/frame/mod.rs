//! Frames on a stream socket: a little-endian `u32` length, the payload,
//! and file descriptors attached (`SCM_RIGHTS`) to the frame's first bytes.
//!
//! `inbox.rs` reads frames (exactly, or ahead of the one asked for),
//! `spin.rs` decides when a reader waits for one without sleeping.

mod inbox;
mod spin;

use std::io::IoSlice;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Mutex;
use std::time::Instant;

use rustix::net::{sendmsg, SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
use serde::de::DeserializeOwned;
use serde::Serialize;

use inbox::Inbox;
pub use spin::{PROBE_EVERY, SLOW_WAITS, SPIN};

/// The largest frame either side accepts (a listing of a million names
/// fits); a longer length prefix is garbage.
pub const MAX_FRAME: usize = 64 << 20;

/// The most descriptors one frame may carry.
pub const MAX_FDS: usize = 4;

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
///
/// Invariant: one thread at a time receives (the callers arrange it);
/// any number send, each frame whole under the caller's own lock.
#[derive(Debug)]
pub struct Channel {
    socket: OwnedFd,
    spin: spin::Spin,
    inbox: Mutex<Inbox>,
}

impl Channel {
    /// Wraps a connected stream socket. It reads exactly one frame at a
    /// time, so a frame not yet read is always seen as the socket being
    /// readable (the child's threads sleep in `epoll` on it).
    pub fn new(socket: OwnedFd) -> Self {
        Self::with_inbox(socket, false)
    }

    /// Wraps a connected stream socket that reads ahead: frames that
    /// arrived together are taken with one system call. Only for an end
    /// whose readers never wait for the socket to be readable outside
    /// [`Channel::recv`] and friends (the host's: its readers take turns
    /// under a lock of their own).
    pub fn read_ahead(socket: OwnedFd) -> Self {
        Self::with_inbox(socket, true)
    }

    fn with_inbox(socket: OwnedFd, ahead: bool) -> Self {
        Self {
            socket,
            spin: spin::Spin::default(),
            inbox: Mutex::new(Inbox::new(ahead)),
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
        self.receive(deadline, false, |payload, fds| Ok((payload.to_vec(), fds)))
    }

    /// Receives and decodes one message, which must carry exactly
    /// `expected_fds(&message)` descriptors.
    pub fn recv<T: DeserializeOwned>(
        &self,
        deadline: Option<Instant>,
        expected_fds: impl Fn(&T) -> usize,
    ) -> Result<(T, Vec<OwnedFd>), FrameError> {
        self.receive(deadline, false, |payload, fds| {
            decode(payload, fds, expected_fds)
        })
    }

    /// As [`Channel::recv`], for a reader whose peer has nothing else to
    /// do, so answers soon: it first waits for the frame without sleeping,
    /// for up to [`SPIN`], while spinning pays (see there).
    pub fn recv_spinning<T: DeserializeOwned>(
        &self,
        deadline: Option<Instant>,
        expected_fds: impl Fn(&T) -> usize,
    ) -> Result<(T, Vec<OwnedFd>), FrameError> {
        self.receive(deadline, true, |payload, fds| {
            decode(payload, fds, expected_fds)
        })
    }

    /// Receives one frame and hands it to `take`; with `spin`, waits for
    /// its start as [`Channel::recv_spinning`] says.
    fn receive<R>(
        &self,
        deadline: Option<Instant>,
        spin: bool,
        take: impl FnOnce(&[u8], Vec<OwnedFd>) -> Result<R, FrameError>,
    ) -> Result<R, FrameError> {
        let mut inbox = self.inbox.lock().unwrap_or_else(|p| p.into_inner());
        // A frame already read ahead is no wait.
        let waits = spin && !inbox.has_header();
        let started = Instant::now();
        if waits {
            self.spin.wait(self.socket(), started);
        }
        let received = inbox.next_frame(self.socket(), deadline, take);
        if waits {
            self.spin.record(started);
        }
        received?
    }
}

/// `payload` as a `T` that must carry exactly `expected_fds` descriptors.
fn decode<T: DeserializeOwned>(
    payload: &[u8],
    fds: Vec<OwnedFd>,
    expected_fds: impl Fn(&T) -> usize,
) -> Result<(T, Vec<OwnedFd>), FrameError> {
    let message: T = postcard::from_bytes(payload)
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

#[cfg(test)]
mod tests;
