//! Hostile-client behaviour of the real binary over loopback: idle connections by the thousand,
//! slowloris heads and bodies, a connection flood past `connections_max_per_core`, a client
//! that pipelines without reading, and every request split in two writes at every byte.
//!
//! Every loop is bounded in count and time; each test takes well under 20 s. The load tests
//! take a file-wide lock so their RSS and timing figures are not skewed by one another; they
//! print their figures (run with `--nocapture` to see them).

mod common;

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{closed_after, read_response, Response, Server};

/// Serialises the load tests of this file.
static LOAD: Mutex<()> = Mutex::new(());

fn load_lock() -> std::sync::MutexGuard<'static, ()> {
    LOAD.lock().unwrap_or_else(|e| e.into_inner())
}

fn create(s: &Server, name: &str, dim: usize) {
    let body = format!(r#"{{"vectors":{{"size":{dim},"distance":"Dot"}}}}"#);
    let (status, v) = s.json("PUT", &format!("/collections/{name}"), &body);
    assert_eq!(status, 200, "{v}");
}

fn upsert_points(s: &Server, name: &str, dim: usize, count: usize) {
    let points: Vec<String> = (0..count)
        .map(|i| {
            let v: Vec<String> = (0..dim).map(|d| format!("{}", (i + d) % 7)).collect();
            format!(r#"{{"id":{i},"vector":[{}]}}"#, v.join(","))
        })
        .collect();
    let body = format!(r#"{{"points":[{}]}}"#, points.join(","));
    let (status, v) = s.json(
        "PUT",
        &format!("/collections/{name}/points?wait=true"),
        &body,
    );
    assert_eq!(status, 200, "{v}");
}

/// The server's pid, found by its config path (unique per test) in `/proc/*/cmdline`.
fn server_pid(s: &Server) -> u32 {
    let config = s.dir.path().join("config.toml");
    let config = config.to_string_lossy();
    for entry in std::fs::read_dir("/proc").expect("/proc") {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if cmdline
            .split(|&b| b == 0)
            .any(|arg| arg == config.as_bytes())
        {
            return pid;
        }
    }
    panic!("no process runs with {config}");
}

/// Resident memory of `pid`, in KiB (`VmRSS` of `/proc/<pid>/status`).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Raises this process's soft RLIMIT_NOFILE to at least `want` (never past the hard limit).
/// The server started afterwards inherits it. `Err` when the hard limit is too low: the test
/// then says so and skips, since only root can raise a hard limit.
fn raise_nofile(want: u64) -> Result<u64, String> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(format!("getrlimit: {}", std::io::Error::last_os_error()));
    }
    if lim.rlim_max < want {
        return Err(format!(
            "RLIMIT_NOFILE hard limit is {} but this test needs {want}; raise it (ulimit -Hn, \
             /etc/security/limits.conf or LimitNOFILE=) to run it",
            lim.rlim_max
        ));
    }
    if lim.rlim_cur < want {
        lim.rlim_cur = want;
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(format!("setrlimit: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(lim.rlim_cur)
}

fn connect(port: u16, read_timeout: Duration) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(read_timeout)).expect("timeout");
    s.set_nodelay(true).expect("nodelay");
    s
}

fn get(c: &mut BufReader<TcpStream>, path: &str) -> Response {
    let req = format!("GET {path} HTTP/1.1\r\nhost: t\r\n\r\n");
    c.get_mut().write_all(req.as_bytes()).expect("write");
    read_response(c).expect("answer")
}

/// A fresh client's request is answered, and fast: the server is not starved.
fn assert_serves_others(s: &Server, what: &str) -> Duration {
    let started = Instant::now();
    let r = s.request("GET", "/collections", "");
    let took = started.elapsed();
    assert_eq!(r.status, 200, "{what}: {}", r.text());
    assert!(took < Duration::from_secs(2), "{what}: took {took:?}");
    took
}

#[test]
fn thousands_of_idle_keep_alive_connections_are_held_with_bounded_memory() {
    const CONNECTIONS: usize = 10_000;
    let _guard = load_lock();
    // Both ends of every connection live in this machine: the test holds CONNECTIONS sockets,
    // the server (our child, so it inherits the limit) as many again.
    if let Err(why) = raise_nofile(CONNECTIONS as u64 + 512) {
        eprintln!("SKIPPED thousands_of_idle_keep_alive_connections: {why}");
        return;
    }
    let s = Server::start_with_config("[limits]\nidle_timeout_ms = 60000\n");
    create(&s, "idle", 4);
    let pid = server_pid(&s);
    let rss_before = rss_kib(pid);
    let started = Instant::now();
    let mut conns: Vec<BufReader<TcpStream>> = (0..CONNECTIONS)
        .map(|_| BufReader::new(connect(s.port, Duration::from_secs(10))))
        .collect();
    // One request on each makes it a keep-alive connection the server has served: the state
    // it then keeps while idle is what this test bounds.
    for c in &mut conns {
        c.get_mut()
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n")
            .expect("write");
    }
    for c in &mut conns {
        let r = read_response(c).expect("answer");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("connection"), Some("keep-alive"));
    }
    let opened = started.elapsed();
    std::thread::sleep(Duration::from_millis(200));
    let rss_held = rss_kib(pid);
    let took = assert_serves_others(&s, "while 10000 connections are idle");
    // Every held connection is still open and served.
    for (i, c) in conns.iter_mut().enumerate().step_by(97) {
        assert_eq!(get(c, "/livez").status, 200, "connection {i}");
    }
    drop(conns);
    std::thread::sleep(Duration::from_millis(500));
    let rss_after = rss_kib(pid);
    let per_conn = (rss_held.saturating_sub(rss_before)) * 1024 / CONNECTIONS as u64;
    eprintln!(
        "idle connections: {CONNECTIONS} held (opened and served in {opened:?}); server RSS \
         {rss_before} KiB before, {rss_held} KiB held ({per_conn} B per connection), \
         {rss_after} KiB after closing; another client answered in {took:?}"
    );
    assert!(
        per_conn < 64 * 1024,
        "an idle connection costs {per_conn} bytes"
    );
}

#[test]
fn slowloris_head_is_cut_by_the_head_timeout() {
    let _guard = load_lock();
    let s = Server::start_with_config("[limits]\nhead_timeout_ms = 2000\n");
    let mut c = connect(s.port, Duration::from_secs(10));
    let started = Instant::now();
    // One byte a second, bounded: the timeout must come long before the head is complete.
    let head = b"GET /healthz HTTP/1.1\r\nhost: t\r\nx-slow: 0123456789\r\n\r\n";
    let mut sent = 0;
    let mut got = Vec::new();
    c.set_read_timeout(Some(Duration::from_millis(1000)))
        .expect("timeout");
    while sent < 10 && started.elapsed() < Duration::from_secs(10) {
        if c.write_all(&head[sent..=sent]).is_err() {
            break;
        }
        sent += 1;
        let mut buf = [0; 1024];
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                break;
            }
            Err(_) => continue, // a second went by without an answer: send the next byte
        }
    }
    let answered = started.elapsed();
    c.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let _ = c.read_to_end(&mut got);
    let text = String::from_utf8_lossy(&got);
    eprintln!("slowloris head: {sent} bytes sent, answered after {answered:?}");
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("connection: close"), "{text}");
    assert!(
        answered >= Duration::from_millis(1900) && answered < Duration::from_secs(5),
        "{answered:?}"
    );
    assert_serves_others(&s, "after a slowloris");
}

#[test]
fn slowloris_body_is_cut_by_the_body_timeout() {
    let _guard = load_lock();
    let s = Server::start_with_config("[limits]\nbody_timeout_ms = 1500\n");
    create(&s, "slow", 2);
    let mut c = connect(s.port, Duration::from_millis(500));
    let started = Instant::now();
    c.write_all(
        b"PUT /collections/slow/points HTTP/1.1\r\nhost: t\r\ncontent-length: 100\r\n\r\n{",
    )
    .expect("write");
    let mut got = Vec::new();
    for _ in 0..10 {
        let mut buf = [0; 1024];
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                break;
            }
            Err(_) => {
                if c.write_all(b" ").is_err() {
                    break;
                }
            }
        }
    }
    let answered = started.elapsed();
    let text = String::from_utf8_lossy(&got);
    eprintln!("slowloris body: answered after {answered:?}");
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(answered < Duration::from_secs(4), "{answered:?}");
    assert_serves_others(&s, "after a slow body");
}

#[test]
fn connection_flood_past_the_cap_is_refused_while_admitted_clients_are_served() {
    const CAP: usize = 50;
    const FLOOD: usize = 400;
    let _guard = load_lock();
    if let Err(why) = raise_nofile((CAP + FLOOD) as u64 + 512) {
        eprintln!("SKIPPED connection_flood: {why}");
        return;
    }
    // One core, so the cap is the server's cap and the numbers are exact.
    let s = Server::start_with_config(&format!(
        "[runtime]\ncores = 1\n[limits]\nconnections_max_per_core = {CAP}\n"
    ));
    // The harness's readiness probe holds a slot until the server has read its close.
    std::thread::sleep(Duration::from_millis(200));
    let mut admitted: Vec<BufReader<TcpStream>> = (0..CAP)
        .map(|_| BufReader::new(connect(s.port, Duration::from_secs(5))))
        .collect();
    for c in &mut admitted {
        assert_eq!(get(c, "/healthz").status, 200);
    }
    let started = Instant::now();
    let flood: Vec<TcpStream> = (0..FLOOD)
        .map(|_| connect(s.port, Duration::from_secs(3)))
        .collect();
    let connected = started.elapsed();
    // Admitted clients keep being served during the flood.
    for c in admitted.iter_mut().step_by(7) {
        assert_eq!(get(c, "/livez").status, 200);
    }
    let (mut refused_503, mut closed_silently) = (0, 0);
    for c in flood {
        let mut r = BufReader::new(c);
        match read_response(&mut r) {
            Ok(resp) => {
                assert_eq!(resp.status, 503, "{}", resp.text());
                assert_eq!(resp.header("connection"), Some("close"));
                refused_503 += 1;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                panic!("a connection past the cap was kept open without an answer")
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                panic!("a connection past the cap was kept open without an answer")
            }
            // Past REFUSALS_MAX_IN_FLIGHT refusals at once, a refused connection is closed
            // without a word.
            Err(_) => closed_silently += 1,
        }
    }
    eprintln!(
        "flood: {CAP} admitted, {FLOOD} more connected in {connected:?}: {refused_503} got 503, \
         {closed_silently} closed without an answer"
    );
    assert!(refused_503 > 0);
    // A slot freed by an admitted client goes to the next one.
    admitted.truncate(CAP - 5);
    std::thread::sleep(Duration::from_millis(200));
    let mut next = BufReader::new(connect(s.port, Duration::from_secs(5)));
    assert_eq!(get(&mut next, "/healthz").status, 200);
    for c in admitted.iter_mut().step_by(5) {
        assert_eq!(get(c, "/healthz").status, 200);
    }
}

#[test]
fn a_client_pipelining_without_reading_keeps_server_memory_bounded() {
    const REQUESTS: usize = 20_000;
    let _guard = load_lock();
    let s = Server::start();
    create(&s, "pipe", 64);
    upsert_points(&s, "pipe", 64, 200);
    let pid = server_pid(&s);
    let rss_before = rss_kib(pid);
    // Each answer is ~100 points of 64 floats (~30 KiB); all of them would be ~600 MiB. The
    // padding makes each request 4 KiB, so the loopback socket buffers (a few MiB) cannot
    // swallow them all and the client really has to wait for the server.
    let req = format!(
        "POST /collections/pipe/points/scroll HTTP/1.1\r\nhost: t\r\nx-pad: {}\r\n\
         content-length: 35\r\n\r\n{{\"limit\":100,\"with_vector\":true   }}",
        "p".repeat(4000)
    );
    let req = req.as_bytes();
    let c = connect(s.port, Duration::from_secs(5));
    c.set_write_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let mut writer = c.try_clone().expect("clone");
    let started = Instant::now();
    let mut written = 0;
    // Write until the server stops reading (our write times out), bounded in count and time.
    while written < REQUESTS && started.elapsed() < Duration::from_secs(8) {
        if writer.write_all(req).is_err() {
            break;
        }
        written += 1;
    }
    let stalled_after = started.elapsed();
    std::thread::sleep(Duration::from_millis(300));
    let rss_stalled = rss_kib(pid);
    let took = assert_serves_others(&s, "while a pipelining client does not read");
    eprintln!(
        "pipelining without reading: {written} of {REQUESTS} requests written before the \
         server stopped reading ({stalled_after:?}); server RSS {rss_before} KiB before, \
         {rss_stalled} KiB stalled; another client answered in {took:?}"
    );
    assert!(
        written < REQUESTS,
        "the server read everything: no backpressure"
    );
    assert!(
        rss_stalled < rss_before + 32 * 1024,
        "server grew from {rss_before} to {rss_stalled} KiB"
    );
    // The answers the server did produce are intact and in order once the client reads.
    let mut r = BufReader::new(c);
    for _ in 0..20 {
        let resp = read_response(&mut r).expect("answer");
        assert_eq!(resp.status, 200);
        assert_eq!(
            resp.json()["result"]["points"].as_array().map(Vec::len),
            Some(100)
        );
    }
}

/// What must not change when a request is split: status, framing headers, and the body with
/// what varies between identical requests (Qdrant's `time`, a write's `operation_id`) taken out.
#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    connection: Option<String>,
    content_type: Option<String>,
    body: String,
    closed_after: bool,
}

fn answer_of(r: Response, closed_after: bool) -> Answer {
    let body = match serde_json::from_slice::<serde_json::Value>(&r.body) {
        Ok(mut v) => {
            if let Some(t) = v.get_mut("time") {
                *t = serde_json::Value::Null;
            }
            // Every accepted write gets the next id; repeating one is fine.
            if let Some(id) = v.pointer_mut("/result/operation_id") {
                *id = serde_json::Value::Null;
            }
            v.to_string()
        }
        Err(_) => r.text(),
    };
    Answer {
        status: r.status,
        connection: r.header("connection").map(str::to_owned),
        content_type: r.header("content-type").map(str::to_owned),
        body,
        closed_after,
    }
}

/// Sends `raw` in two writes split at `split` (0 = whole), reads one answer and whether the
/// server closed after it.
fn exchange(port: u16, raw: &[u8], split: usize) -> Answer {
    let mut c = connect(port, Duration::from_secs(5));
    let (a, b) = raw.split_at(split);
    if !a.is_empty() {
        c.write_all(a).expect("first write");
        c.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(1));
    }
    // The server may have answered and closed already (the first part was enough to refuse).
    let _ = c.write_all(b);
    let mut r = BufReader::new(c);
    let resp = read_response(&mut r)
        .unwrap_or_else(|e| panic!("{:?} split at {split}: {e}", String::from_utf8_lossy(raw)));
    let closed = closed_after(&mut r, &resp, Duration::from_secs(2)).expect("timeout");
    answer_of(resp, closed)
}

#[test]
fn requests_split_in_two_writes_at_every_byte_get_the_same_answer() {
    let s = Server::start_with_config("[limits]\njson_depth_max = 16\n");
    create(&s, "split", 2);
    upsert_points(&s, "split", 2, 3);
    let deep = format!("{}{}", "[".repeat(17), "]".repeat(17));
    let cases: Vec<(u16, Vec<u8>)> = vec![
        (200, b"GET /collections/split/points/1 HTTP/1.1\r\nhost: t\r\n\r\n".to_vec()),
        (
            200,
            b"POST /collections/split/points/count HTTP/1.1\r\nhost: t\r\ncontent-length: 15\r\n\r\n{\"exact\": true}"
                .to_vec(),
        ),
        (
            200,
            b"PUT /collections/split/points?wait=true HTTP/1.1\r\nhost: t\r\ncontent-length: 40\r\n\r\n{\"points\":[{\"id\":1,\"vector\":[1.0,2.0]}]}"
                .to_vec(),
        ),
        (
            200,
            b"POST /collections/split/points/count HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n3;x=y\r\n{\"e\r\nc\r\nxact\": true}\r\n0\r\n\r\n"
                .to_vec(),
        ),
        (200, b"GET /healthz HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n".to_vec()),
        (
            400,
            b"POST /collections/split/points/count HTTP/1.1\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n{}"
                .to_vec(),
        ),
        (400, b"GET /healthz HTTP/1.1\nhost: t\n\n".to_vec()),
        (
            400,
            b"POST /collections/split/points/count HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n2x\r\n{}\r\n0\r\n\r\n"
                .to_vec(),
        ),
        (400, b"GET /healthz HTTP/1.1\r\nhost: t\r\nx-a: b\r\n folded\r\n\r\n".to_vec()),
        (
            400,
            b"POST /collections/split/points/count HTTP/1.1\r\ncontent-length: 2\r\ncontent-length: 2\r\n\r\n{}"
                .to_vec(),
        ),
        (
            400,
            format!(
                "POST /collections/split/points/count HTTP/1.1\r\ncontent-length: {}\r\n\r\n{deep}",
                deep.len()
            )
            .into_bytes(),
        ),
        (
            400,
            b"POST /collections/split/points/count HTTP/1.1\r\ncontent-length: 9\r\n\r\n{\"exact\":"
                .to_vec(),
        ),
        (400, b"GET /a\x01b HTTP/1.1\r\n\r\n".to_vec()),
        (
            413,
            b"POST /collections/split/points/count HTTP/1.1\r\ncontent-length: 99999999999\r\n\r\n"
                .to_vec(),
        ),
    ];
    let started = Instant::now();
    let mut exchanges = 0;
    for (status, raw) in &cases {
        assert!(raw.len() < 300, "keep the cases short: {}", raw.len());
        let whole = exchange(s.port, raw, 0);
        assert_eq!(
            whole.status,
            *status,
            "{:?}: {whole:?}",
            String::from_utf8_lossy(raw)
        );
        for split in 1..raw.len() {
            let got = exchange(s.port, raw, split);
            assert_eq!(
                got,
                whole,
                "{:?} split at {split}",
                String::from_utf8_lossy(raw)
            );
            exchanges += 1;
        }
    }
    eprintln!(
        "split at every byte: {} requests, {exchanges} split exchanges in {:?}",
        cases.len(),
        started.elapsed()
    );
    let (status, v) = s.json("POST", "/collections/split/points/count", "{}");
    assert_eq!(
        (status, &v["result"]["count"]),
        (200, &serde_json::json!(3))
    );
}
