use super::inbox::READ_AHEAD;
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
    let slow = || b.spin.slow_waits();
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
    let inbox = b.inbox.lock().unwrap();
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
