//! Test harness: runs the real binary on a free port with a temporary storage directory and
//! talks raw HTTP/1.1 to it over loopback.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `method path` with a JSON `body` must answer 200; its `result`.
pub fn ok(s: &Server, method: &str, path: &str, body: serde_json::Value) -> serde_json::Value {
    let (st, v) = s.json(method, path, &body.to_string());
    assert_eq!(st, 200, "{method} {path} {body}: {v}");
    v["result"].clone()
}

/// (id, score) of each hit of a list of scored points, or of a `{"points": [...]}` result.
pub fn hits(result: &serde_json::Value) -> Vec<(u64, f64)> {
    let list = result.get("points").unwrap_or(result);
    list.as_array()
        .unwrap_or_else(|| panic!("not a list of hits: {result}"))
        .iter()
        .map(|h| {
            (
                h["id"].as_u64().expect("id"),
                h["score"].as_f64().expect("score"),
            )
        })
        .collect()
}

/// Same ids in the same order, scores within 1e-5 (they go through f32 and JSON).
pub fn assert_hits(got: &[(u64, f64)], want: &[(u64, f64)]) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for ((gi, gs), (wi, ws)) in got.iter().zip(want) {
        assert_eq!(gi, wi, "{got:?} vs {want:?}");
        assert!((gs - ws).abs() < 1e-5, "{got:?} vs {want:?}");
    }
}

/// A deterministic vector of `dim` values in [-0.5, 0.5) from `seed` (xorshift).
pub fn seeded_vector(seed: u64, dim: usize) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..dim)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect()
}

/// Whether the server closed the connection after `resp`: only when it said `Connection:
/// close`, and then the stream must end with no further byte within `wait`.
pub fn closed_after(
    r: &mut BufReader<TcpStream>,
    resp: &Response,
    wait: Duration,
) -> std::io::Result<bool> {
    if resp.header("connection") != Some("close") {
        return Ok(false);
    }
    r.get_mut().set_read_timeout(Some(wait))?;
    let mut rest = Vec::new();
    Ok(match r.read_to_end(&mut rest) {
        Ok(_) => rest.is_empty(),
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    })
}

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
