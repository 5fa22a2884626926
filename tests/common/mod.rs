//! Test harness: runs the real binary on a free port with a temporary storage directory and
//! talks raw HTTP/1.1 to it over loopback.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Option<Child>,
    extra_config: String,
}

/// How long a server may take to answer /readyz after start.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl Server {
    pub fn start() -> Server {
        Server::start_with_config("")
    }

    /// Starts with extra TOML appended to the generated config (e.g. a `[limits]` section).
    pub fn start_with_config(extra: &str) -> Server {
        Server::start_prepared(extra, |_| Ok(())).expect("no preparation to fail")
    }

    /// [`Server::start_with_config`], after `prepare` has been given the storage directory
    /// (created, empty) to set up, e.g. as a mount point; its error is returned unstarted.
    pub fn start_prepared(
        extra: &str,
        prepare: impl FnOnce(&std::path::Path) -> Result<(), String>,
    ) -> Result<Server, String> {
        let mut s = Server {
            port: free_port(),
            dir: tempfile::tempdir().expect("tempdir"),
            child: None,
            extra_config: extra.to_owned(),
        };
        std::fs::create_dir_all(s.storage()).expect("storage dir");
        prepare(&s.storage())?;
        s.spawn();
        Ok(s)
    }

    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    fn spawn(&mut self) {
        let config = self.dir.path().join("config.toml");
        // Keys of an extra `[storage]` section join the generated one (TOML forbids two).
        let (storage_keys, rest) = match self.extra_config.strip_prefix("[storage]\n") {
            Some(after) => match after.find("\n[") {
                Some(i) => (&after[..i + 1], &after[i + 1..]),
                None => (after, ""),
            },
            None => ("", self.extra_config.as_str()),
        };
        let text = format!(
            "[server]\nhost = \"127.0.0.1\"\nport = {}\n[storage]\npath = {:?}\n{storage_keys}\n{rest}\n",
            self.port,
            self.storage(),
        );
        std::fs::write(&config, text).expect("write config");
        let log = std::fs::File::create(self.dir.path().join("server.log")).expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_vexfs-unified-server"))
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn server");
        self.child = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(r) = try_request(self.port, "GET", "/readyz", b"") {
                if r.status == 200 {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("server did not become ready; log:\n{}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// SIGKILL (no chance to flush anything) and start again on the same storage.
    pub fn kill_and_restart(&mut self) {
        self.kill_now();
        self.spawn();
    }

    /// SIGKILL and wait for the process to be gone.
    pub fn kill_now(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("kill");
            c.wait().expect("wait");
        }
    }

    /// Starts the server again on the same storage and port (after `kill_now`).
    pub fn restart(&mut self) {
        self.spawn();
    }

    /// SIGTERM, wait for a clean exit, and start again.
    pub fn stop_and_restart(&mut self) {
        let status = self.terminate();
        assert!(
            status.success(),
            "server exited with {status}; log:\n{}",
            self.log()
        );
        self.spawn();
    }

    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        // SAFETY: sending SIGTERM to our own child process.
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        c.wait().expect("wait")
    }

    pub fn request(&self, method: &str, path: &str, body: &str) -> Response {
        try_request(self.port, method, path, body.as_bytes()).expect("request")
    }

    pub fn json(&self, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
        let r = self.request(method, path, body);
        let v = serde_json::from_slice(&r.body)
            .unwrap_or_else(|e| panic!("{method} {path}: non-JSON body {:?}: {e}", r.text()));
        (r.status, v)
    }

    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        s
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("json body")
    }
}

pub fn try_request(port: u16, method: &str, path: &str, body: &[u8]) -> std::io::Result<Response> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut r = BufReader::new(s);
    read_response(&mut r)
}

/// Reads one response (status, headers, Content-Length body) from a buffered stream.
pub fn read_response<R: BufRead>(r: &mut R) -> std::io::Result<Response> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "closed",
        ));
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((n, v)) = l.split_once(':') {
            headers.push((n.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    Ok(Response {
        status,
        headers,
        body,
    })
}
