//! The persistent xorriso process and its packet protocol.
//!
//! One `xorriso … -dialog on` child per backend. Every batch of commands is followed by
//! `-print_mark @@END-<n>@@`, and the reply is everything up to that mark, so each reply is
//! read whole and never mixed with the next one. With `-pkt_output on` every stdout line is a
//! `C:F: payload` packet: `R` results, `I` info (problem events, prompts), `M` marks. Problem
//! events are parsed into [`Message`]s with their severity; judging them is the caller's job
//! because what is acceptable depends on the command (a SORRY for removing a missing name is
//! fine, any SORRY during a commit is not).
//!
//! stdout is read by a thread that feeds a channel, so we can write thousands of commands
//! without both pipes filling up and deadlocking; stderr (only the banner, normally) is
//! drained by another thread and its last lines kept for error messages. The child runs in
//! its own process group so a Ctrl-C at the terminal does not kill it in the middle of a
//! commit; the host's orderly shutdown (or our `Drop`) ends it. It inherits the medium's
//! lock descriptor, so the lock outlives us for as long as the child may still write.

mod executable;
mod message;
mod packet;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

pub use executable::resolve_executable;
pub use message::{parse_message, Message, Reply, Severity};
use packet::{is_prompt_noise, parse_packet, Packet};

/// A running `xorriso -dialog on` process.
pub struct Dialog {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<Packet>,
    reader: Option<JoinHandle<()>>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    stderr_thread: Option<JoinHandle<()>>,
    counter: u64,
    /// The drive, for messages.
    target: String,
}

impl Dialog {
    /// Start xorriso with `args` (ending in `-dialog on`) and return the reply to the start
    /// arguments (their problem events: a bad `XORRISO_ARGS` shows up here).
    ///
    /// `lock`, the descriptor holding the medium's `flock`, is inherited by the child: the
    /// lock then lives as long as any writer, ours or xorriso, even when this process is
    /// killed (`kill -9`) in the middle of a commit. xorriso finishes (or dies in) the
    /// command it is running and exits at the end of its standard input; until then no
    /// second writer can take the medium.
    pub fn spawn(
        exe: &Path,
        args: &[String],
        target: &str,
        lock: Option<&std::fs::File>,
    ) -> Result<(Self, Reply)> {
        log::debug!("starting {} {}", exe.display(), args.join(" "));
        let mut cmd = Command::new(exe);
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        if let Some(lock) = lock {
            let fd = std::os::fd::AsRawFd::as_raw_fd(lock);
            // SAFETY: runs in the child between fork and exec; fcntl is async-signal-safe,
            // allocates nothing, and only clears close-on-exec on a descriptor the child
            // inherited from us.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn().map_err(|e| Error::Spawn {
            path: exe.to_path_buf(),
            source: e,
        })?;
        let (stdin, stdout, stderr) =
            match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
                (Some(i), Some(o), Some(e)) => (i, o, e),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(Error::Protocol {
                        op: "start".into(),
                        detail: "no pipes to the xorriso process".into(),
                    });
                }
            };
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::Builder::new()
            .name("xorriso-stdout".into())
            .spawn(move || {
                let mut r = BufReader::new(stdout);
                let mut line = Vec::new();
                loop {
                    line.clear();
                    match r.read_until(b'\n', &mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            if let Some(p) = parse_packet(&line) {
                                if tx.send(p).is_err() {
                                    break;
                                }
                            } else {
                                log::debug!(
                                    "xorriso: unparsed output {:?}",
                                    String::from_utf8_lossy(&line)
                                );
                            }
                        }
                    }
                }
            })
            .map_err(|e| Error::io("cannot start the xorriso reader thread", e))?;
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let tail2 = Arc::clone(&tail);
        let stderr_thread = std::thread::Builder::new()
            .name("xorriso-stderr".into())
            .spawn(move || drain_stderr(stderr, tail2))
            .map_err(|e| Error::io("cannot start the xorriso stderr thread", e))?;
        let mut d = Dialog {
            child,
            stdin: Some(stdin),
            rx,
            reader: Some(reader),
            stderr_tail: tail,
            stderr_thread: Some(stderr_thread),
            counter: 0,
            target: target.to_string(),
        };
        let reply = d.run(&[], "start")?;
        Ok((d, reply))
    }

    /// The process id (diagnostics and tests).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send `cmds` (one per line, already quoted) and read the reply up to our mark. If the
    /// process dies, the reply holds what it printed before and [`Reply::exited`] is set.
    /// Only a failure to even talk to it is an `Err`.
    pub fn run(&mut self, cmds: &[String], during: &str) -> Result<Reply> {
        self.counter += 1;
        let mark = format!("@@END-{}@@", self.counter);
        let mut text = String::new();
        for c in cmds {
            debug_assert!(!c.contains('\n'), "a command must be one line: {c:?}");
            log::trace!("xorriso <- {c}");
            text.push_str(c);
            text.push('\n');
        }
        text.push_str("-print_mark ");
        text.push_str(&mark);
        text.push('\n');
        let wrote = match self.stdin.as_mut() {
            Some(w) => w.write_all(text.as_bytes()).and_then(|_| w.flush()),
            None => Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe)),
        };
        if let Err(e) = &wrote {
            log::debug!("writing to xorriso failed: {e}");
        }
        let mut reply = Reply::default();
        let mut partial = String::new();
        loop {
            let p = match self.rx.recv() {
                Ok(p) => p,
                Err(_) => {
                    reply.exited = Some(self.exit_status());
                    log::warn!(
                        "xorriso for {} ended during {during}: {}",
                        self.target,
                        reply.exited.as_deref().unwrap_or("")
                    );
                    return Ok(reply);
                }
            };
            match p.channel {
                b'M' => {
                    if p.payload.trim_end() == mark {
                        break;
                    }
                }
                b'R' => {
                    partial.push_str(&p.payload);
                    if p.newline {
                        reply.results.push(std::mem::take(&mut partial));
                    }
                }
                _ => {
                    if is_prompt_noise(&p.payload) {
                        continue;
                    }
                    log::trace!("xorriso -> {}", p.payload);
                    match parse_message(&p.payload) {
                        Some(m) => {
                            match m.severity {
                                s if s >= Severity::Sorry => log::debug!("xorriso ({during}): {m}"),
                                _ => log::trace!("xorriso ({during}): {m}"),
                            }
                            reply.messages.push(m)
                        }
                        None => reply.info.push(p.payload.trim_end().to_string()),
                    }
                }
            }
        }
        if !partial.is_empty() {
            reply.results.push(partial);
        }
        Ok(reply)
    }

    /// How the process ended (waits up to 5 s, then kills it).
    fn exit_status(&mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match self.child.try_wait() {
                Ok(Some(st)) => return describe(st, &self.stderr_tail),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                _ => {
                    let _ = self.child.kill();
                    return match self.child.wait() {
                        Ok(st) => describe(st, &self.stderr_tail),
                        Err(e) => format!("unknown exit status: {e}"),
                    };
                }
            }
        }
    }

    /// End the process without committing anything it may hold (`-rollback_end`).
    pub fn finish(mut self) {
        if let Some(mut w) = self.stdin.take() {
            let _ = w.write_all(b"-rollback_end\n");
            let _ = w.flush();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                _ => {
                    log::warn!("xorriso for {} did not end; killing it", self.target);
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
            }
        }
    }

    /// Kill the process at once (after a failed commit it is poisoned: xorriso
    /// keeps the failed changes pending and would commit them with the next session).
    pub fn kill(mut self) {
        self.stdin.take();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Dialog {
    fn drop(&mut self) {
        self.stdin.take();
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(h) = self.reader.take() {
            let _ = h.join();
        }
        if let Some(h) = self.stderr_thread.take() {
            let _ = h.join();
        }
    }
}

fn describe(st: ExitStatus, tail: &Arc<Mutex<VecDeque<String>>>) -> String {
    use std::os::unix::process::ExitStatusExt;
    let mut s = match (st.code(), st.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => st.to_string(),
    };
    if let Ok(t) = tail.lock() {
        let lines: Vec<&str> = t
            .iter()
            .map(|l| l.as_str())
            .filter(|l| !l.starts_with("xorriso 1.") && !l.trim().is_empty())
            .collect();
        if !lines.is_empty() {
            s.push_str(", stderr: ");
            s.push_str(&lines.join(" | "));
        }
    }
    s
}

fn drain_stderr(stderr: impl Read, tail: Arc<Mutex<VecDeque<String>>>) {
    let r = BufReader::new(stderr);
    for line in r.split(b'\n') {
        let Ok(line) = line else { break };
        let line = String::from_utf8_lossy(&line).trim_end().to_string();
        if line.is_empty() {
            continue;
        }
        log::debug!("xorriso stderr: {line}");
        if let Ok(mut t) = tail.lock() {
            if t.len() >= 8 {
                t.pop_front();
            }
            t.push_back(line);
        }
    }
}
