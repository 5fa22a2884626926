//! Snapshots against the real binary: create, list, download (checksum), recover from a
//! file:// location and from a multipart upload (identical scroll and search), restart,
//! delete, full snapshots, writes during a snapshot, and Qdrant-style errors for bad input.

mod common;

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{read_response, Response, Server};
use serde_json::{json, Value};
use vexfs_io::checksum::sha256_hex;

/// Small segments, so a collection of a hundred points has data in segments, sidecars and logs.
const SEGMENTS: &str = "[storage]\nsegment_flush_points = 20\nwal_preallocate_bytes = 65536\n";
const DIM: usize = 4;

fn vector(id: u64) -> Vec<f32> {
    (0..DIM)
        .map(|d| ((id * 7 + d as u64 * 13) % 17) as f32 / 8.0 - 1.0)
        .collect()
}

fn create(s: &Server, name: &str, shards: u32) {
    let body = json!({"vectors": {"size": DIM, "distance": "Dot"}, "shard_number": shards});
    let (st, v) = s.json("PUT", &format!("/collections/{name}"), &body.to_string());
    assert_eq!(st, 200, "{v}");
}

fn upsert(s: &Server, coll: &str, ids: std::ops::Range<u64>) {
    let points: Vec<Value> = ids
        .map(|i| json!({"id": i, "vector": vector(i), "payload": {"i": i, "tag": format!("t{}", i % 3)}}))
        .collect();
    let (st, v) = s.json(
        "PUT",
        &format!("/collections/{coll}/points?wait=true"),
        &json!({"points": points}).to_string(),
    );
    assert_eq!(st, 200, "{v}");
}

/// Every point with payload and vector, in id order.
fn scroll_all(s: &Server, coll: &str) -> Value {
    let body = json!({"limit": 10_000, "with_payload": true, "with_vector": true});
    let (st, v) = s.json(
        "POST",
        &format!("/collections/{coll}/points/scroll"),
        &body.to_string(),
    );
    assert_eq!(st, 200, "{v}");
    v["result"]["points"].clone()
}

fn search(s: &Server, coll: &str) -> Value {
    let body = json!({"vector": vector(5), "limit": 15, "with_payload": true});
    let (st, v) = s.json(
        "POST",
        &format!("/collections/{coll}/points/search"),
        &body.to_string(),
    );
    assert_eq!(st, 200, "{v}");
    v["result"].clone()
}

/// Scroll and search results: equal exactly when the data is.
fn state(s: &Server, coll: &str) -> (Value, Value) {
    (scroll_all(s, coll), search(s, coll))
}

/// Sends one request with raw bytes and a chosen content type.
fn raw(s: &Server, method: &str, path: &str, content_type: &str, body: &[u8]) -> Response {
    let mut conn = TcpStream::connect(("127.0.0.1", s.port)).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: t\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).expect("write head");
    conn.write_all(body).expect("write body");
    read_response(&mut BufReader::new(conn)).expect("response")
}

const BOUNDARY: &str = "----vexfs-test-boundary";

fn multipart(file: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"snapshot\"; filename=\"s.snapshot\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn upload(s: &Server, coll: &str, query: &str, file: &[u8]) -> Response {
    raw(
        s,
        "POST",
        &format!("/collections/{coll}/snapshots/upload{query}"),
        &format!("multipart/form-data; boundary={BOUNDARY}"),
        &multipart(file),
    )
}

fn error_of(r: &Response) -> String {
    r.json()["status"]["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error in {}", r.text()))
        .to_owned()
}

fn files_named(dir: &std::path::Path, pred: &dyn Fn(&str) -> bool) -> usize {
    let mut n = 0;
    for shard in std::fs::read_dir(dir).expect("collection dir").flatten() {
        if let Ok(files) = std::fs::read_dir(shard.path()) {
            n += files
                .flatten()
                .filter(|f| pred(&f.file_name().to_string_lossy()))
                .count();
        }
    }
    n
}

#[test]
fn snapshot_recover_upload_restart_delete() {
    let mut s = Server::start_with_config(SEGMENTS);
    create(&s, "c", 3);
    upsert(&s, "c", 0..60);
    upsert(&s, "c", 60..100);
    let (st, v) = s.json(
        "POST",
        "/collections/c/points/delete?wait=true",
        r#"{"points":[3,4,5,70,71]}"#,
    );
    assert_eq!(st, 200, "{v}");
    let (st, v) = s.json(
        "POST",
        "/collections/c/points/payload?wait=true",
        r#"{"payload":{"extra":true},"points":[1,2,80]}"#,
    );
    assert_eq!(st, 200, "{v}");
    // A later flush writes the deletions of segment points as sidecars.
    upsert(&s, "c", 110..170);
    let coll_dir = s.storage().join("collections/c");
    assert!(
        files_named(&coll_dir, &|n| n.ends_with(".seg")) > 0,
        "no segments"
    );
    let expected = state(&s, "c");
    assert_eq!(expected.0.as_array().map(Vec::len), Some(155));

    let (st, v) = s.json("POST", "/collections/c/snapshots", "");
    assert_eq!(st, 200, "{v}");
    let snap = v["result"].clone();
    let name = snap["name"].as_str().expect("name").to_owned();
    assert!(
        name.starts_with("c-") && name.ends_with(".snapshot"),
        "{name}"
    );
    assert!(snap["creation_time"].is_string(), "{snap}");
    // Writes after the snapshot are not in it.
    upsert(&s, "c", 500..510);

    let r = s.request("GET", &format!("/collections/c/snapshots/{name}"), "");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    let file = r.body;
    assert_eq!(snap["size"].as_u64(), Some(file.len() as u64));
    assert_eq!(snap["checksum"].as_str(), Some(sha256_hex(&file).as_str()));
    // A plain tar: the first entry is the metadata; segments, sidecars and logs follow.
    assert_eq!(&file[..13], b"snapshot.json");
    let text = String::from_utf8_lossy(&file);
    for part in [
        "config.json",
        "/manifest.json",
        ".seg\0",
        ".seg.del-",
        "/wal-",
    ] {
        assert!(text.contains(part), "no {part:?} in the archive");
    }

    let (st, v) = s.json("GET", "/collections/c/snapshots", "");
    assert_eq!(st, 200);
    assert_eq!(v["result"], json!([snap]));

    // Recover over the existing collection: back to the snapshot's state.
    let location = format!(
        "file://{}",
        s.storage().join("snapshots/c").join(&name).display()
    );
    let body = json!({"location": location, "checksum": snap["checksum"], "priority": "snapshot"});
    let (st, v) = s.json("PUT", "/collections/c/snapshots/recover", &body.to_string());
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["result"], true);
    assert_eq!(state(&s, "c"), expected);

    // Delete, then recover into the same name from the file.
    assert_eq!(s.json("DELETE", "/collections/c", "").0, 200);
    let body = json!({"location": location});
    let (st, v) = s.json("PUT", "/collections/c/snapshots/recover", &body.to_string());
    assert_eq!(st, 200, "{v}");
    assert_eq!(state(&s, "c"), expected);

    // The same file uploaded into a new name.
    let r = upload(&s, "c2", &format!("?checksum={}", sha256_hex(&file)), &file);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["result"], true);
    assert_eq!(state(&s, "c2"), expected);
    let (st, v) = s.json("GET", "/collections/c2", "");
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["result"]["config"]["params"]["shard_number"], 3);

    // Recovered collections take writes and survive a restart.
    upsert(&s, "c2", 600..605);
    let after_write = state(&s, "c2");
    s.stop_and_restart();
    assert_eq!(state(&s, "c"), expected);
    assert_eq!(state(&s, "c2"), after_write);
    s.kill_and_restart();
    assert_eq!(state(&s, "c2"), after_write);

    // Delete the snapshot: gone from the list and from downloads.
    let (st, v) = s.json("DELETE", &format!("/collections/c/snapshots/{name}"), "");
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["result"], true);
    let r = s.request("GET", &format!("/collections/c/snapshots/{name}"), "");
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(error_of(&r).starts_with("Not found: "));
    assert_eq!(
        s.json("GET", "/collections/c/snapshots", "").1["result"],
        json!([])
    );
    let (st, _) = s.json("DELETE", &format!("/collections/c/snapshots/{name}"), "");
    assert_eq!(st, 404);
}

#[test]
fn snapshot_during_writes_holds_everything_acknowledged_before_it() {
    let s = Server::start_with_config(SEGMENTS);
    create(&s, "w", 2);
    upsert(&s, "w", 0..50);
    let port = s.port;
    // A writer keeps upserting batches of 10 while the snapshot is taken.
    let writer = std::thread::spawn(move || {
        for batch in 5..40u64 {
            let points: Vec<Value> = (batch * 10..batch * 10 + 10)
                .map(|i| json!({"id": i, "vector": vector(i), "payload": {"i": i, "tag": format!("t{}", i % 3)}}))
                .collect();
            let body = json!({"points": points}).to_string();
            let r = common::try_request(
                port,
                "PUT",
                "/collections/w/points?wait=true",
                body.as_bytes(),
            )
            .expect("upsert");
            assert_eq!(r.status, 200);
        }
    });
    std::thread::sleep(Duration::from_millis(20));
    let (st, v) = s.json("POST", "/collections/w/snapshots?wait=true", "");
    assert_eq!(st, 200, "{v}");
    let name = v["result"]["name"].as_str().expect("name").to_owned();
    writer.join().expect("writer");

    let file = s
        .request("GET", &format!("/collections/w/snapshots/{name}"), "")
        .body;
    let r = upload(&s, "w2", "", &file);
    assert_eq!(r.status, 200, "{}", r.text());
    let points = scroll_all(&s, "w2");
    let points = points.as_array().expect("points");
    // Everything written before the snapshot request is there, and every point is intact.
    assert!(points.len() >= 50, "{}", points.len());
    for p in points {
        let id = p["id"].as_u64().expect("id");
        assert_eq!(p["payload"]["i"], id);
        assert_eq!(p["vector"], json!(vector(id)));
    }
    let ids: Vec<u64> = points.iter().filter_map(|p| p["id"].as_u64()).collect();
    assert!((0..50).all(|i| ids.contains(&i)));
}

#[test]
fn full_snapshots_and_bad_inputs() {
    let s = Server::start_with_config(SEGMENTS);
    create(&s, "a", 1);
    create(&s, "b", 2);
    upsert(&s, "a", 0..30);
    upsert(&s, "b", 0..30);
    let (st, v) = s.json(
        "POST",
        "/collections/aliases",
        r#"{"actions":[{"create_alias":{"collection_name":"a","alias_name":"al"}}]}"#,
    );
    assert_eq!(st, 200, "{v}");

    // Full snapshots.
    let (st, v) = s.json("POST", "/snapshots", "");
    assert_eq!(st, 200, "{v}");
    let full = v["result"].clone();
    let full_name = full["name"].as_str().expect("name").to_owned();
    assert!(full_name.starts_with("full-snapshot-"), "{full_name}");
    assert_eq!(s.json("GET", "/snapshots", "").1["result"], json!([full]));
    let r = s.request("GET", &format!("/snapshots/{full_name}"), "");
    assert_eq!(r.status, 200);
    assert_eq!(
        full["checksum"].as_str(),
        Some(sha256_hex(&r.body).as_str())
    );
    let text = String::from_utf8_lossy(&r.body);
    assert!(text.contains("aliases.json") && text.contains("collections/1.snapshot"));
    // A full snapshot is not a collection snapshot.
    let r = upload(&s, "x", "", &r.body);
    assert_eq!(r.status, 400, "{}", r.text());
    let (st, v) = s.json("DELETE", &format!("/snapshots/{full_name}"), "");
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        s.request("GET", &format!("/snapshots/{full_name}"), "")
            .status,
        404
    );

    // wait=false answers 202 and the snapshot appears.
    let (st, v) = s.json("POST", "/collections/al/snapshots?wait=false", "");
    assert_eq!(st, 202, "{v}");
    assert_eq!(v["status"], "accepted");
    let mut listed = json!([]);
    for _ in 0..200 {
        listed = s.json("GET", "/collections/a/snapshots", "").1["result"].clone();
        if listed.as_array().is_some_and(|l| !l.is_empty()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let name = listed[0]["name"]
        .as_str()
        .expect("snapshot of a via alias")
        .to_owned();
    let file = s
        .request("GET", &format!("/collections/a/snapshots/{name}"), "")
        .body;
    let checksum = sha256_hex(&file);
    let location = format!(
        "file://{}",
        s.storage().join("snapshots/a").join(&name).display()
    );

    // Bad inputs, each with Qdrant's envelope and status.
    let cases: Vec<(u16, Response)> = vec![
        (404, s.request("POST", "/collections/nope/snapshots", "")),
        (404, s.request("GET", "/collections/nope/snapshots", "")),
        (404, s.request("GET", "/collections/a/snapshots/missing.snapshot", "")),
        (404, s.request("DELETE", "/collections/a/snapshots/missing.snapshot", "")),
        (404, s.request("GET", "/snapshots/missing.snapshot", "")),
        (404, s.request("GET", "/collections/a/snapshots/..%2Fconfig.json", "")),
        (
            400,
            s.request(
                "PUT",
                "/collections/r/snapshots/recover",
                &json!({"location": location, "checksum": "00".repeat(32)}).to_string(),
            ),
        ),
        (
            400,
            s.request(
                "PUT",
                "/collections/r/snapshots/recover",
                r#"{"location":"http://example.com/a.snapshot"}"#,
            ),
        ),
        (
            400,
            s.request(
                "PUT",
                "/collections/r/snapshots/recover",
                &json!({"location": format!("file://{}", s.storage().join("collections/a/config.json").display())}).to_string(),
            ),
        ),
        (
            404,
            s.request(
                "PUT",
                "/collections/r/snapshots/recover",
                &json!({"location": format!("file://{}", s.storage().join("snapshots/a/none.snapshot").display())}).to_string(),
            ),
        ),
        (400, s.request("PUT", "/collections/r/snapshots/recover", r#"{"where":"x"}"#)),
        (400, upload(&s, "r", "", b"this is not a tar archive at all")),
        (400, upload(&s, "r", &format!("?checksum={}", "ab".repeat(32)), &file)),
        (400, raw(&s, "POST", "/collections/r/snapshots/upload", "application/json", b"{}")),
        (400, s.request("POST", "/collections/a/shards/0/snapshots", "")),
        (404, s.request("GET", "/collections/nope/shards/0/snapshots", "")),
    ];
    for (i, (want, r)) in cases.iter().enumerate() {
        assert_eq!(r.status, *want, "case {i}: {}", r.text());
        assert!(
            r.json()["status"]["error"].is_string(),
            "case {i}: {}",
            r.text()
        );
    }
    assert!(error_of(&cases[6].1).contains("checksum mismatch"));
    // Nothing was created by the failed recoveries, and the server is fine.
    assert_eq!(s.json("GET", "/collections/r", "").0, 404);
    assert_eq!(s.json("GET", "/collections", "").0, 200);
    // The good snapshot still recovers after all that.
    let r = upload(&s, "r", &format!("?checksum={checksum}"), &file);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(state(&s, "r"), state(&s, "a"));
    // No work space is left behind.
    let tmp = s.storage().join(".snapshot-tmp");
    let left = std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0);
}

#[test]
fn large_downloads_stream_in_pieces_on_a_kept_alive_connection() {
    let s = Server::start();
    let (st, v) = s.json(
        "PUT",
        "/collections/big",
        r#"{"vectors":{"size":256,"distance":"Dot"}}"#,
    );
    assert_eq!(st, 200, "{v}");
    // About 3 MiB of vectors: several download pieces.
    for batch in 0..3u64 {
        let points: Vec<Value> = (batch * 1000..(batch + 1) * 1000)
            .map(|i| json!({"id": i, "vector": (0..256).map(|d| ((i + d) % 97) as f32).collect::<Vec<_>>()}))
            .collect();
        let (st, v) = s.json(
            "PUT",
            "/collections/big/points?wait=true",
            &json!({"points": points}).to_string(),
        );
        assert_eq!(st, 200, "{v}");
    }
    let (st, v) = s.json("POST", "/collections/big/snapshots", "");
    assert_eq!(st, 200, "{v}");
    let name = v["result"]["name"].as_str().expect("name").to_owned();
    let size = v["result"]["size"].as_u64().expect("size");
    assert!(
        size > 2 << 20,
        "snapshot of {size} bytes is too small to need pieces"
    );

    // Download, HEAD and a probe pipelined on one connection: the streamed body must be
    // framed exactly, so the answers after it parse.
    let mut c = s.connect();
    let path = format!("/collections/big/snapshots/{name}");
    let reqs = format!(
        "GET {path} HTTP/1.1\r\nhost: t\r\n\r\nHEAD {path} HTTP/1.1\r\nhost: t\r\n\r\nGET /healthz HTTP/1.1\r\nhost: t\r\n\r\n"
    );
    c.write_all(reqs.as_bytes()).expect("write");
    let mut r = BufReader::new(c);
    let file = read_response(&mut r).expect("download");
    assert_eq!(file.status, 200);
    assert_eq!(file.body.len() as u64, size);
    assert_eq!(
        v["result"]["checksum"].as_str(),
        Some(sha256_hex(&file.body).as_str())
    );
    // HEAD: the length announced, no body (read_response would read it as the next answer).
    let mut line = String::new();
    std::io::BufRead::read_line(&mut r, &mut line).expect("head status");
    assert!(line.starts_with("HTTP/1.1 200"), "{line}");
    let mut announced = None;
    loop {
        line.clear();
        std::io::BufRead::read_line(&mut r, &mut line).expect("header");
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length: ") {
            announced = v.trim().parse::<u64>().ok();
        }
    }
    assert_eq!(announced, Some(size));
    let probe = read_response(&mut r).expect("probe after the download");
    assert_eq!(probe.status, 200);
    assert_eq!(probe.text(), "healthz check passed");
}

#[test]
fn recovered_collection_keeps_its_graphs_and_is_green_at_once() {
    // Segments of 100 four-dim points (1.6 KiB each) get graphs at a 1 KiB threshold.
    let s = Server::start_with_config("[storage]\nsegment_flush_points = 100\n");
    let body = json!({
        "vectors": {"size": DIM, "distance": "Dot"},
        "shard_number": 1,
        "optimizers_config": {"indexing_threshold": 1}
    });
    let (st, v) = s.json("PUT", "/collections/g", &body.to_string());
    assert_eq!(st, 200, "{v}");
    upsert(&s, "g", 0..200);
    upsert(&s, "g", 200..400);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let info = loop {
        let (st, v) = s.json("GET", "/collections/g", "");
        assert_eq!(st, 200, "{v}");
        if v["result"]["status"] == "green" && v["result"]["indexed_vectors_count"] == 400 {
            break v["result"].clone();
        }
        assert!(std::time::Instant::now() < deadline, "never indexed: {v}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let (st, v) = s.json("POST", "/collections/g/snapshots?wait=true", "");
    assert_eq!(st, 200, "{v}");
    let name = v["result"]["name"].as_str().expect("name").to_owned();
    let file = s
        .request("GET", &format!("/collections/g/snapshots/{name}"), "")
        .body;
    assert!(String::from_utf8_lossy(&file).contains(".seg.hnsw\0"));

    let r = upload(&s, "g2", "", &file);
    assert_eq!(r.status, 200, "{}", r.text());
    // No rebuild: the first look at the recovered collection already sees every graph.
    let (st, v) = s.json("GET", "/collections/g2", "");
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["result"]["status"], "green", "{v}");
    assert_eq!(
        v["result"]["indexed_vectors_count"],
        info["indexed_vectors_count"]
    );
    assert_eq!(state(&s, "g2"), state(&s, "g"));
}
