//! The child (`stowage __serve-plugin`) refuses a host of another build
//! at the handshake, cleanly: it answers with its own hello, names both
//! builds on stderr and exits with status 3 before any plugin is loaded.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stowage_isolate::frame::Channel;
use stowage_isolate::protocol::{Hello, PROTOCOL_VERSION};
use stowage_tests::stowage_bin;

/// Starts the child with `socket` at fd 3, as the host does.
fn child(socket: OwnedFd) -> std::process::Child {
    let raw = socket.as_raw_fd();
    let mut command = Command::new(stowage_bin());
    command
        .arg("__serve-plugin")
        .env("STOWAGE_ISOLATE_FD", "3")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: dup2 is async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            if libc::dup2(raw, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command.spawn().expect("starting stowage __serve-plugin");
    drop(socket);
    child
}

fn refused_with(hello: &[u8]) -> String {
    let (host, theirs) = UnixStream::pair().unwrap();
    let child = child(theirs.into());
    let channel = Channel::new(host.into());
    let deadline = Some(Instant::now() + Duration::from_secs(10));
    let (bytes, _) = channel.recv_raw(deadline).expect("the child's hello");
    assert_eq!(Hello::decode(&bytes).unwrap(), Hello::ours());
    channel.send_raw(hello, &[]).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_host_of_another_protocol_version_is_refused() {
    let other = Hello {
        version: PROTOCOL_VERSION + 1,
        build: "stowage 99.0.0".into(),
    };
    let err = refused_with(&other.encode());
    assert!(
        err.contains("stowage 99.0.0") && err.contains("same build"),
        "{err}"
    );
}

#[test]
fn a_peer_that_is_no_stowage_host_is_refused() {
    let err = refused_with(b"GET / HTTP/1.1\r\n\r\n");
    assert!(err.contains("not a stowage isolation handshake"), "{err}");
}

#[test]
fn started_by_hand_it_says_so() {
    let out = Command::new(stowage_bin())
        .arg("__serve-plugin")
        .env_remove("STOWAGE_ISOLATE_FD")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("started by stowage itself"));
}
