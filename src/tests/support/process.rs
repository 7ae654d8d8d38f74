//! Driving the real `casebook` binary: start it, wait for `/readyz`, signal
//! it, and read what it printed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use casebook::db::cluster::{Layout, is_alive};

/// `casebook` with none of its settings inherited from the environment.
pub fn casebook() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_casebook"));
    for var in [
        "DATABASE_URL",
        "CASEBOOK_DATA_DIR",
        "CASEBOOK_LISTEN",
        "CASEBOOK_PG_BIN_DIR",
        "CASEBOOK_LOG_FORMAT",
        "RUST_LOG",
    ] {
        command.env_remove(var);
    }
    command.stdin(Stdio::null());
    command
}

/// Runs `casebook` to completion.
pub fn run(command: &mut Command) -> Output {
    command.output().unwrap()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A short data directory under /tmp (unix socket paths are limited).
pub fn data_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cb")
        .tempdir_in("/tmp")
        .unwrap()
}

pub fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// A `casebook serve` process on the embedded default.
pub struct Serve {
    pub child: Child,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    log: PathBuf,
}

impl Serve {
    pub fn start(data_dir: &Path) -> Self {
        Self::start_with(data_dir, |_| {})
    }

    pub fn start_with(data_dir: &Path, configure: impl FnOnce(&mut Command)) -> Self {
        let addr = free_port();
        let log = data_dir.with_extension(format!("serve-{}.log", addr.port()));
        let log_file = std::fs::File::create(&log).unwrap();
        let mut command = casebook();
        command
            .args(["serve", "--listen", &addr.to_string(), "--data-dir"])
            .arg(data_dir)
            .stdout(Stdio::null())
            .stderr(log_file);
        configure(&mut command);
        let child = command.spawn().unwrap();
        Self {
            child,
            addr,
            data_dir: data_dir.to_path_buf(),
            log,
        }
    }

    /// Waits until `/readyz` answers 200; panics with the log otherwise.
    pub fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            if let Some((200, _)) = http_get(self.addr, "/readyz") {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "casebook serve exited ({status}) before it was ready:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("casebook serve was not ready within 90s:\n{}", self.log());
    }

    /// Waits until the log says the live journal's LISTEN connection is
    /// up: from then on every committed entry reaches this process's pages.
    /// It connects in the background as serving begins, so `/readyz` can
    /// answer first.
    pub fn wait_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.log().contains("listening for journal entries") {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("casebook serve exited ({status}):\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "casebook serve did not start listening for journal entries within 30s:\n{}",
            self.log()
        );
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), signal).unwrap();
    }

    /// Stops the process at once, for tests that are done with it: a
    /// graceful stop waits for open event streams (up to actix's 10 s
    /// shutdown timeout), and actix keeps serving a stream whose client
    /// only half-closed the connection, as a closing page may.
    pub fn kill(&mut self) {
        self.signal(Signal::SIGKILL);
        let _ = self.child.wait();
    }

    /// Waits for the process to exit; `true` when it exited successfully.
    pub fn wait_exit(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("casebook serve did not exit within 60s:\n{}", self.log());
    }

    pub fn layout(&self) -> Layout {
        Layout::in_data_dir(&self.data_dir)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Waits up to `limit` for `pid` to be gone.
pub fn gone_within(pid: i32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if !is_alive(Pid::from_raw(pid)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    false
}

/// A minimal HTTP/1.0 GET: the status and the body.
pub fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

/// A GET with `Authorization: Bearer <token>`: the status and the body.
pub fn api_get(addr: SocketAddr, token: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A JSON POST with `Authorization: Bearer <token>`: the status and the body.
pub fn api_post(
    addr: SocketAddr,
    token: &str,
    path: &str,
    json: &serde_json::Value,
) -> (u16, String) {
    let body = json.to_string();
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}
