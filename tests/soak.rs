//! Idle soak: the server must come back from quiet periods exactly as it went into them.
//!
//! An early build stopped serving after hours without traffic (listen queue full, sockets stuck
//! in CLOSE-WAIT, idle timeouts not firing). This test replays that life in miniature, with a
//! short idle timeout so each phase takes about a second: connections of every kind (served
//! and kept alive, never used, a half-sent head, closed by the client mid-request) are left
//! alone past the timeouts, and then the server must (1) have closed every one of them itself,
//! (2) hold no socket in CLOSE-WAIT, and (3) answer new traffic at once. Several cycles run
//! back to back, with a silent gap without any connection between them.
//!
//! `VEXFS_SOAK_CYCLES` raises the cycle count and `VEXFS_SOAK_GAP_MS` the silent gap for a
//! long run (e.g. hours, by hand); CI runs the short default.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::Server;

/// Idle and head timeouts of the server under test.
const IDLE_TIMEOUT_MS: u64 = 400;
const HEAD_TIMEOUT_MS: u64 = 400;
/// Connections of each kind opened per cycle.
const CONNECTIONS_PER_KIND: usize = 16;
const DEFAULT_CYCLES: u32 = 3;
const DEFAULT_GAP_MS: u64 = 1_500;
/// How long past the timeouts the server gets to close everything.
const CLOSE_GRACE_MS: u64 = 3_000;
/// TCP state code of CLOSE-WAIT in /proc/net/tcp.
const TCP_CLOSE_WAIT: &str = "08";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(CLOSE_GRACE_MS)))
        .expect("read timeout");
    s
}

/// Reads until the server closes the connection (EOF or reset); false if it stays open past the
/// read timeout. Whatever arrives first (a response, a 408) is skipped.
fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// Sockets on the server's port in CLOSE-WAIT: the peer closed, the server has not.
fn close_wait_count(port: u16) -> usize {
    let port_hex = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|t| t.lines().skip(1).map(str::to_owned).collect::<Vec<_>>())
        .filter(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            f.len() > 3 && f[1].ends_with(&port_hex) && f[3] == TCP_CLOSE_WAIT
        })
        .count()
}

/// One served request on a fresh connection, timed.
fn served(s: &Server, what: &str) -> Duration {
    let t = Instant::now();
    let r = s.request("GET", "/collections/soak", "");
    assert_eq!(r.status, 200, "{what}: {}", r.text());
    t.elapsed()
}

fn one_cycle(s: &Server, cycle: u32) {
    let port = s.port;
    let mut kept_alive = Vec::new();
    let mut unused = Vec::new();
    let mut half_head = Vec::new();
    for _ in 0..CONNECTIONS_PER_KIND {
        let mut c = connect(port);
        c.write_all(b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n")
            .expect("write");
        let mut buf = [0u8; 512];
        let n = c.read(&mut buf).expect("answer");
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "cycle {cycle}");
        kept_alive.push(c);

        unused.push(connect(port));

        let mut h = connect(port);
        h.write_all(b"GET /healthz HTTP/1.1\r\nhost:")
            .expect("write");
        half_head.push(h);

        // Closed by the client with a request in flight: the server must notice and close too.
        let mut gone = connect(port);
        gone.write_all(b"GET /collections/soak HTTP/1.1\r\nhost: t\r\n\r\n")
            .expect("write");
        drop(gone);
    }
    for (kind, conns) in [
        ("kept-alive", &mut kept_alive),
        ("unused", &mut unused),
        ("half head", &mut half_head),
    ] {
        for c in conns.iter_mut() {
            assert!(
                closed_by_server(c),
                "cycle {cycle}: a {kind} connection stayed open past the timeouts"
            );
        }
    }
    let deadline = Instant::now() + Duration::from_millis(CLOSE_GRACE_MS);
    while close_wait_count(port) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        close_wait_count(port),
        0,
        "cycle {cycle}: server sockets left in CLOSE-WAIT"
    );
    let took = served(s, "after the idle connections were closed");
    eprintln!("cycle {cycle}: all idle connections closed, next request served in {took:?}");
}

#[test]
fn idle_periods_leave_no_stuck_socket_and_the_server_answers_after_them() {
    let s = Server::start_with_config(&format!(
        "[limits]\nidle_timeout_ms = {IDLE_TIMEOUT_MS}\nhead_timeout_ms = {HEAD_TIMEOUT_MS}\n"
    ));
    let (status, v) = s.json(
        "PUT",
        "/collections/soak",
        r#"{"vectors":{"size":4,"distance":"Dot"}}"#,
    );
    assert_eq!(status, 200, "{v}");
    let cycles = env_or("VEXFS_SOAK_CYCLES", DEFAULT_CYCLES);
    let gap = Duration::from_millis(env_or("VEXFS_SOAK_GAP_MS", DEFAULT_GAP_MS));
    for cycle in 0..cycles {
        one_cycle(&s, cycle);
        // A silent stretch without any connection: the executors sleep with only the
        // listeners armed.
        std::thread::sleep(gap);
        let took = served(&s, "after a silent gap");
        assert!(
            took < Duration::from_secs(2),
            "cycle {cycle}: the first request after {gap:?} of silence took {took:?}"
        );
    }
}
