//! nginx serving one directory over WebDAV (with the dav-ext module).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::{find_program, free_port, is_root, Server};

/// Where Debian's `libnginx-mod-http-dav-ext` puts the module.
const DAV_EXT_MODULE: &str = "/usr/lib/nginx/modules/ngx_http_dav_ext_module.so";

/// The basic-auth user and password the test server requires.
pub const WEBDAV_USER: &str = "stowage";
/// See [`WEBDAV_USER`].
pub const WEBDAV_PASSWORD: &str = "dav-secret-0";

/// A running nginx whose `/` is a WebDAV share of [`Nginx::root`],
/// protected by basic auth ([`WEBDAV_USER`] / [`WEBDAV_PASSWORD`]).
pub struct Nginx {
    dir: tempfile::TempDir,
    port: u16,
    server: Server,
}

impl Nginx {
    /// Starts nginx, or `None` (after `SKIPPED`) when nginx or the dav-ext
    /// module is missing.
    pub fn start() -> Option<Self> {
        let program = find_program("nginx", Some("STOWAGE_NGINX"), &["/usr/sbin/nginx"])?;
        if !Path::new(DAV_EXT_MODULE).is_file() {
            // Same rule as a missing program.
            if !crate::require_tool("libnginx-mod-http-dav-ext (ngx_http_dav_ext_module.so)") {
                return None;
            }
        }
        let dir = tempfile::Builder::new()
            .prefix("stowage-nginx-")
            .tempdir()
            .expect("nginx directory");
        let d = dir.path();
        for sub in ["root", "tmp", "logs"] {
            fs::create_dir(d.join(sub)).expect("nginx subdirectory");
        }
        fs::write(
            d.join("htpasswd"),
            format!("{WEBDAV_USER}:{{PLAIN}}{WEBDAV_PASSWORD}\n"),
        )
        .expect("htpasswd");
        let port = free_port();
        let user = if is_root() { "user root;\n" } else { "" };
        let dp = d.display();
        fs::write(
            d.join("nginx.conf"),
            format!(
                "load_module {DAV_EXT_MODULE};\n\
                 {user}daemon off;\n\
                 worker_processes 2;\n\
                 pid {dp}/nginx.pid;\n\
                 error_log stderr warn;\n\
                 events {{ worker_connections 256; }}\n\
                 http {{\n\
                   access_log off;\n\
                   client_body_temp_path {dp}/tmp/body;\n\
                   proxy_temp_path {dp}/tmp/proxy;\n\
                   fastcgi_temp_path {dp}/tmp/fastcgi;\n\
                   uwsgi_temp_path {dp}/tmp/uwsgi;\n\
                   scgi_temp_path {dp}/tmp/scgi;\n\
                   server {{\n\
                     listen 127.0.0.1:{port};\n\
                     root {dp}/root;\n\
                     location / {{\n\
                       auth_basic \"stowage tests\";\n\
                       auth_basic_user_file {dp}/htpasswd;\n\
                       dav_methods PUT DELETE MKCOL COPY MOVE;\n\
                       dav_ext_methods PROPFIND OPTIONS;\n\
                       dav_access user:rw group:r all:r;\n\
                       create_full_put_path on;\n\
                       client_max_body_size 0;\n\
                     }}\n\
                   }}\n\
                 }}\n"
            ),
        )
        .expect("nginx.conf");
        let check = Command::new(&program)
            .args(["-t", "-p"])
            .arg(d)
            .arg("-c")
            .arg(d.join("nginx.conf"))
            .output()
            .expect("running nginx -t");
        assert!(
            check.status.success(),
            "nginx -t refused the configuration: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        let mut cmd = Command::new(&program);
        cmd.arg("-p").arg(d).arg("-c").arg(d.join("nginx.conf"));
        let mut server = Server::spawn("nginx", cmd, &d.join("logs").join("nginx.log"));
        server.wait_port(port, Duration::from_secs(10));
        Some(Self { dir, port, server })
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory served as `/`.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// `webdav://127.0.0.1:PORT/PATH` (no credentials: they travel in
    /// `STOWAGE_WEBDAV_USER` / `STOWAGE_WEBDAV_PASSWORD`).
    pub fn url(&self, path: &str) -> String {
        format!(
            "webdav://127.0.0.1:{}/{}",
            self.port,
            path.trim_start_matches('/')
        )
    }

    /// The server process.
    pub fn server(&mut self) -> &mut Server {
        &mut self.server
    }
}
