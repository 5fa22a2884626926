//! `[storage] wal_recovery`: a shard log damaged in the middle (intact records after the
//! damage) stops the server under "strict", and under "truncate" the server starts with the
//! records before the damage.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, try_request, Server};
use serde_json::json;

/// Writes acknowledged one by one, each its own log record and flush.
const WRITES: u64 = 10;
/// The write whose record is damaged; the ones before it survive a truncation.
const DAMAGED: u64 = 4;
/// Longest a server may take to refuse or to become ready.
const START_MAX: Duration = Duration::from_secs(20);

fn marker(i: u64) -> String {
    format!("marker-{i:04}")
}

/// Starts the binary on `storage` with `wal_recovery`, in `dir`.
fn spawn(dir: &Path, storage: &Path, port: u16, recovery: &str) -> std::process::Child {
    let config = dir.join(format!("config-{recovery}.toml"));
    let text = format!(
        "[server]\nhost = \"127.0.0.1\"\nport = {port}\n[storage]\npath = {storage:?}\nwal_recovery = \"{recovery}\"\n"
    );
    std::fs::write(&config, text).unwrap();
    let log = std::fs::File::create(dir.join(format!("{recovery}.log"))).unwrap();
    Command::new(env!("CARGO_BIN_EXE_vexfs-unified-server"))
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// Flips the bytes of `needle` in the one log file that holds it.
fn damage(shard_dir: &Path, needle: &[u8]) {
    for entry in std::fs::read_dir(shard_dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("wal-") {
            continue;
        }
        let mut bytes = std::fs::read(&path).unwrap();
        if let Some(at) = bytes.windows(needle.len()).position(|w| w == needle) {
            for b in &mut bytes[at..at + needle.len()] {
                *b ^= 0x5A;
            }
            std::fs::write(&path, bytes).unwrap();
            return;
        }
    }
    panic!("no log file holds {:?}", String::from_utf8_lossy(needle));
}

#[test]
fn a_log_damaged_in_the_middle_is_refused_or_truncated() {
    let mut server = Server::start();
    let (status, v) = server.json(
        "PUT",
        "/collections/w",
        r#"{"vectors": {"size": 2, "distance": "Dot"}, "shard_number": 1}"#,
    );
    assert_eq!(status, 200, "{v}");
    for i in 0..WRITES {
        let body =
            json!({"points": [{"id": i, "vector": [1.0, i as f32], "payload": {"m": marker(i)}}]});
        let (status, v) = server.json("PUT", "/collections/w/points?wait=true", &body.to_string());
        assert_eq!(status, 200, "{v}");
    }
    server.kill_now();
    let storage = server.storage();
    damage(
        &storage.join("collections/w/shard-0"),
        marker(DAMAGED).as_bytes(),
    );
    let dir = server.dir.path();

    // Strict: the server refuses to start and names the damage.
    let mut strict = spawn(dir, &storage, free_port(), "strict");
    let deadline = Instant::now() + START_MAX;
    let status = loop {
        if let Some(status) = strict.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            strict.kill().unwrap();
            panic!("a strict server started on a damaged log");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success());
    let log = std::fs::read_to_string(dir.join("strict.log")).unwrap();
    assert!(log.contains("wal-") && log.contains("corrupt"), "{log}");

    // Truncate: it starts with the writes before the damaged one.
    let port = free_port();
    let mut child = spawn(dir, &storage, port, "truncate");
    let deadline = Instant::now() + START_MAX;
    while !try_request(port, "GET", "/readyz", b"").is_ok_and(|r| r.status == 200) {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!(
                "truncate server not ready: {}",
                std::fs::read_to_string(dir.join("truncate.log")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = try_request(
        port,
        "POST",
        "/collections/w/points/count",
        br#"{"exact": true}"#,
    )
    .unwrap();
    let count = r.json()["result"]["count"].clone();
    let got: Vec<bool> = (0..WRITES)
        .map(|i| {
            let r = try_request(port, "GET", &format!("/collections/w/points/{i}"), b"").unwrap();
            r.status == 200
        })
        .collect();
    let r = try_request(port, "GET", "/collections/w/points/0", b"").unwrap();
    let payload = r.json()["result"]["payload"]["m"].clone();
    // Writes still work on the cut log, and survive a restart.
    let body = json!({"points": [{"id": 99, "vector": [1.0, 1.0]}]}).to_string();
    let w = try_request(
        port,
        "PUT",
        "/collections/w/points?wait=true",
        body.as_bytes(),
    )
    .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(count, DAMAGED);
    let want: Vec<bool> = (0..WRITES).map(|i| i < DAMAGED).collect();
    assert_eq!(got, want);
    assert_eq!(payload, marker(0));
    assert_eq!(w.status, 200);
    let log = std::fs::read_to_string(dir.join("truncate.log")).unwrap();
    assert!(log.contains("truncating"), "{log}");

    // The repaired log now opens under strict too.
    let port = free_port();
    let mut child = spawn(dir, &storage, port, "strict");
    let deadline = Instant::now() + START_MAX;
    while !try_request(port, "GET", "/readyz", b"").is_ok_and(|r| r.status == 200) {
        assert!(
            Instant::now() < deadline,
            "strict server not ready after the repair"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = try_request(port, "GET", "/collections/w/points/99", b"").unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(r.status, 200);
}
