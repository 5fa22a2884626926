//! HTTP/1.1 behaviour of the real binary: keep-alive, pipelining, chunked bodies, limits,
//! malformed input. Each case checks the server still answers afterwards.

mod common;

use std::io::{BufReader, Read, Write};

use common::{read_response, Server};

fn create(s: &Server, name: &str, dim: usize) {
    let body = format!(r#"{{"vectors":{{"size":{dim},"distance":"Dot"}}}}"#);
    let (status, v) = s.json("PUT", &format!("/collections/{name}"), &body);
    assert_eq!(status, 200, "{v}");
}

#[test]
fn keep_alive_and_pipelining_answer_in_order() {
    let s = Server::start();
    create(&s, "p", 2);
    let mut c = s.connect();
    let mut batch = Vec::new();
    for i in 0..5 {
        let body = format!(r#"{{"points":[{{"id":{i},"vector":[{i},1]}}]}}"#);
        batch.extend_from_slice(
            format!("PUT /collections/p/points?wait=true HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n{body}", body.len()).as_bytes(),
        );
    }
    batch.extend_from_slice(
        b"POST /collections/p/points/count HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}",
    );
    batch.extend_from_slice(b"GET /collections/p/points/4 HTTP/1.1\r\nhost: x\r\n\r\n");
    c.write_all(&batch).expect("write");
    let mut r = BufReader::new(c);
    for _ in 0..5 {
        let resp = read_response(&mut r).expect("upsert answer");
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert_eq!(resp.json()["result"]["status"], "completed");
    }
    let count = read_response(&mut r).expect("count");
    assert_eq!(count.json()["result"]["count"], 5);
    let point = read_response(&mut r).expect("point");
    assert_eq!(
        point.json()["result"]["vector"],
        serde_json::json!([4.0, 1.0])
    );
    assert_eq!(point.header("connection"), Some("keep-alive"));
}

#[test]
fn chunked_body_is_decoded() {
    let s = Server::start();
    create(&s, "c", 2);
    let body = r#"{"points":[{"id":7,"vector":[0.5,0.25],"payload":{"k":"v"}}]}"#;
    let (a, b) = body.split_at(20);
    let req = format!(
        "PUT /collections/c/points?wait=true HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x};ext=1\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    );
    let mut c = s.connect();
    c.write_all(req.as_bytes()).expect("write");
    let resp = read_response(&mut BufReader::new(c)).expect("answer");
    assert_eq!(resp.status, 200, "{}", resp.text());
    let (_, v) = s.json("GET", "/collections/c/points/7", "");
    assert_eq!(v["result"]["payload"]["k"], "v");
}

#[test]
fn oversize_body_gets_413_and_server_lives() {
    let s = Server::start_with_config("[limits]\nbody_max_bytes = 1024\n");
    create(&s, "o", 2);
    let big = "x".repeat(4096);
    let r = s.request("PUT", "/collections/o/points", &big);
    assert_eq!(r.status, 413);
    assert!(r.json()["status"]["error"]
        .as_str()
        .expect("msg")
        .contains("1024"));
    let (status, v) = s.json("GET", "/collections/o", "");
    assert_eq!(status, 200, "{v}");
}

#[test]
fn malformed_heads_get_400_and_close() {
    let s = Server::start();
    let cases: &[&[u8]] = &[
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\ntransfer-encoding: chunked\r\n\r\n",
        b"GET / HTTP/1.1\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n",
        b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
        b"GET / HTTP/1.1\r\nbad header\r\n\r\n",
    ];
    for raw in cases {
        let mut c = s.connect();
        c.write_all(raw).expect("write");
        let mut all = Vec::new();
        let _ = c.read_to_end(&mut all);
        let text = String::from_utf8_lossy(&all);
        assert!(text.starts_with("HTTP/1.1 400"), "{raw:?} → {text}");
        assert!(text.contains("\"status\":{\"error\""), "{text}");
    }
    let r = s.request("GET", "/healthz", "");
    assert_eq!(r.status, 200);
}

#[test]
fn oversize_head_gets_431() {
    let s = Server::start_with_config("[limits]\nhead_max_bytes = 1024\n");
    let mut c = s.connect();
    let req = format!("GET / HTTP/1.1\r\nx-long: {}\r\n\r\n", "a".repeat(4096));
    c.write_all(req.as_bytes()).expect("write");
    let resp = read_response(&mut BufReader::new(c)).expect("answer");
    assert_eq!(resp.status, 431);
    assert_eq!(s.request("GET", "/livez", "").status, 200);
}

#[test]
fn http10_closes_after_answer() {
    let s = Server::start();
    let mut c = s.connect();
    c.write_all(b"GET /healthz HTTP/1.0\r\n\r\n")
        .expect("write");
    let mut all = String::new();
    c.read_to_string(&mut all).expect("read to close");
    assert!(all.starts_with("HTTP/1.1 200"), "{all}");
    assert!(all.ends_with("healthz check passed"), "{all}");
}
