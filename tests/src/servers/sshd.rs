//! OpenSSH's sshd, unprivileged configuration on a free loopback port.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::{find_program, free_port, is_root, Server};

/// A running sshd that accepts one generated client key for the current
/// user, with a generated ed25519 host key; SFTP is `internal-sftp`.
pub struct Sshd {
    dir: tempfile::TempDir,
    program: PathBuf,
    port: u16,
    server: Server,
}

impl Sshd {
    /// Starts sshd, or `None` (after `SKIPPED`) when sshd or ssh-keygen is
    /// missing.
    pub fn start() -> Option<Self> {
        let program = find_program("sshd", Some("STOWAGE_SSHD"), &["/usr/sbin/sshd"])?;
        let keygen = find_program("ssh-keygen", None, &["/usr/bin/ssh-keygen"])?;
        let dir = tempfile::Builder::new()
            .prefix("stowage-sshd-")
            .tempdir()
            .expect("sshd directory");
        for key in ["host_ed25519", "client_ed25519", "stranger_ed25519"] {
            let out = Command::new(&keygen)
                .args(["-q", "-t", "ed25519", "-N", "", "-C", key, "-f"])
                .arg(dir.path().join(key))
                .output()
                .expect("running ssh-keygen");
            assert!(out.status.success(), "ssh-keygen: {out:?}");
        }
        fs::copy(
            dir.path().join("client_ed25519.pub"),
            dir.path().join("authorized_keys"),
        )
        .expect("authorized_keys");
        if is_root() {
            // The privilege-separation directory sshd insists on.
            fs::create_dir_all("/run/sshd").expect("creating /run/sshd");
        }
        let port = free_port();
        let config = dir.path().join("sshd_config");
        let d = dir.path().display();
        fs::write(
            &config,
            format!(
                "Port {port}\n\
                 ListenAddress 127.0.0.1\n\
                 HostKey {d}/host_ed25519\n\
                 PidFile {d}/sshd.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys\n\
                 StrictModes no\n\
                 PasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\n\
                 UsePAM no\n\
                 PermitRootLogin prohibit-password\n\
                 Subsystem sftp internal-sftp\n\
                 MaxStartups 100\n\
                 LogLevel VERBOSE\n"
            ),
        )
        .expect("writing sshd_config");
        let check = Command::new(&program)
            .arg("-t")
            .arg("-f")
            .arg(&config)
            .output()
            .expect("running sshd -t");
        assert!(
            check.status.success(),
            "sshd -t refused the configuration: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        let server = Self::spawn(&program, dir.path(), port);
        Some(Self {
            dir,
            program,
            port,
            server,
        })
    }

    fn spawn(program: &Path, dir: &Path, port: u16) -> Server {
        let mut cmd = Command::new(program);
        cmd.args(["-D", "-e", "-f"]).arg(dir.join("sshd_config"));
        let mut server = Server::spawn("sshd", cmd, &dir.join("sshd.log"));
        server.wait_port(port, Duration::from_secs(10));
        server
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The private key the server accepts.
    pub fn client_key(&self) -> PathBuf {
        self.dir.path().join("client_ed25519")
    }

    /// A private key the server does not accept.
    pub fn stranger_key(&self) -> PathBuf {
        self.dir.path().join("stranger_ed25519")
    }

    /// The host's public key line (`ssh-ed25519 AAAA... comment`).
    pub fn host_key(&self) -> String {
        fs::read_to_string(self.dir.path().join("host_ed25519.pub"))
            .expect("host key")
            .trim()
            .to_string()
    }

    /// Writes a known_hosts file at `path` that lists this server's key
    /// as OpenSSH does for a non-22 port.
    pub fn write_known_hosts(&self, path: &Path) {
        fs::write(
            path,
            format!("[127.0.0.1]:{} {}\n", self.port, self.host_key()),
        )
        .expect("writing known_hosts");
    }

    /// A known_hosts file listing this server (inside the server's
    /// directory).
    pub fn known_hosts(&self) -> PathBuf {
        let path = self.dir.path().join("known_hosts");
        if !path.exists() {
            self.write_known_hosts(&path);
        }
        path
    }

    /// The current user's name (the one the server lets in).
    pub fn user() -> String {
        // SAFETY: getpwuid returns a pointer into static storage or null;
        // the name is copied out at once, and tests do not call it from
        // several threads at the same moment with other passwd lookups.
        unsafe {
            let pw = libc::getpwuid(libc::getuid());
            assert!(!pw.is_null(), "the current uid has no passwd entry");
            std::ffi::CStr::from_ptr((*pw).pw_name)
                .to_string_lossy()
                .into_owned()
        }
    }

    /// `sftp://USER@127.0.0.1:PORT//abs/dir?identity=...&known_hosts=...`
    /// for an absolute local directory (the server is this machine).
    pub fn url(&self, dir: &Path) -> String {
        assert!(dir.is_absolute(), "{} is not absolute", dir.display());
        format!(
            "sftp://{}@127.0.0.1:{}/{}?identity={}&known_hosts={}",
            Self::user(),
            self.port,
            dir.display(),
            self.client_key().display(),
            self.known_hosts().display()
        )
    }

    /// The server process (to kill it, read its log).
    pub fn server(&mut self) -> &mut Server {
        &mut self.server
    }

    /// Starts sshd again on the same port with the same keys (after
    /// [`Server::kill`]).
    pub fn restart(&mut self) {
        self.server.kill();
        self.server = Self::spawn(&self.program, self.dir.path(), self.port);
    }
}
