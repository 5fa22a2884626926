//! Runs every case of `tests/corpus/cases.toml` against the real binary: each raw request gets
//! its expected status (and closes the connection when it must), and afterwards the server
//! still serves a new connection and the prepared collection still holds all its points.

mod common;

use std::collections::BTreeSet;
use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{closed_after, read_response, Response, Server};
use serde::Deserialize;

/// Points the collection `corpus` is prepared with; no case may lose one.
const POINTS: usize = 10;
/// Fewest cases the corpus must keep.
const CASES_MIN: usize = 60;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    case: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    file: String,
    request: Option<String>,
    status: u16,
    #[serde(default)]
    close: bool,
    note: String,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn manifest() -> Manifest {
    let text = std::fs::read_to_string(corpus_dir().join("cases.toml")).expect("cases.toml");
    toml::from_str(&text).unwrap_or_else(|e| panic!("cases.toml: {e}"))
}

impl Case {
    /// The bytes to send: the file itself, or a JSON body framed with `request`.
    fn bytes(&self) -> Vec<u8> {
        let body = std::fs::read(corpus_dir().join(&self.file))
            .unwrap_or_else(|e| panic!("{}: {e}", self.file));
        match &self.request {
            None => body,
            Some(request) => {
                let mut raw = format!(
                    "{request} HTTP/1.1\r\nhost: corpus\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                raw.extend_from_slice(&body);
                raw
            }
        }
    }
}

/// Sends `raw` on a new connection and reads the final answer (skipping `100 Continue`), then
/// whether the server closed after it.
fn exchange(port: u16, raw: &[u8]) -> Result<(Response, bool), String> {
    let mut c = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    c.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    // A server that refuses early (say 431 before the end of a huge head) may stop reading;
    // what it answers is what counts.
    let _ = c.write_all(raw);
    let mut r = BufReader::new(c);
    let mut resp = read_response(&mut r).map_err(|e| format!("no answer: {e}"))?;
    while resp.status == 100 {
        resp = read_response(&mut r).map_err(|e| format!("no answer after 100: {e}"))?;
    }
    let closed = closed_after(&mut r, &resp, Duration::from_secs(3)).map_err(|e| e.to_string())?;
    Ok((resp, closed))
}

fn count(s: &Server) -> Result<u64, String> {
    let r = common::try_request(
        s.port,
        "POST",
        "/collections/corpus/points/count",
        br#"{"exact":true}"#,
    )
    .map_err(|e| format!("count request failed: {e}"))?;
    if r.status != 200 {
        return Err(format!("count answered {}: {}", r.status, r.text()));
    }
    r.json()["result"]["count"]
        .as_u64()
        .ok_or_else(|| format!("count without a number: {}", r.text()))
}

#[test]
fn every_corpus_case_gets_its_status_and_loses_nothing() {
    let cases = manifest().case;
    let s = Server::start_with_config("[limits]\nhead_timeout_ms = 1000\nbody_timeout_ms = 1000\n");
    let (status, v) = s.json(
        "PUT",
        "/collections/corpus",
        r#"{"vectors":{"size":4,"distance":"Dot"}}"#,
    );
    assert_eq!(status, 200, "{v}");
    let points: Vec<String> = (1..=POINTS)
        .map(|i| format!(r#"{{"id":{i},"vector":[{i},1,0,0],"payload":{{"n":{i}}}}}"#))
        .collect();
    let body = format!(r#"{{"points":[{}]}}"#, points.join(","));
    let (status, v) = s.json("PUT", "/collections/corpus/points?wait=true", &body);
    assert_eq!(status, 200, "{v}");

    let mut failures = Vec::new();
    for case in &cases {
        let what = format!("{} ({})", case.file, case.note);
        match exchange(s.port, &case.bytes()) {
            Err(e) => failures.push(format!("{what}: {e}")),
            Ok((resp, closed)) => {
                if resp.status != case.status {
                    failures.push(format!(
                        "{what}: status {} instead of {}: {}",
                        resp.status,
                        case.status,
                        resp.text()
                    ));
                }
                let says_close = resp.header("connection") == Some("close");
                if says_close != case.close || (case.close && !closed) {
                    failures.push(format!(
                        "{what}: close expected {}, got header {:?}, closed {closed}",
                        case.close,
                        resp.header("connection")
                    ));
                }
            }
        }
        match count(&s) {
            Ok(n) if n == POINTS as u64 => {}
            Ok(n) => failures.push(format!("{what}: {n} points left of {POINTS}")),
            Err(e) => failures.push(format!("{what}: server unwell afterwards: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus cases failed:\n{}\nserver log:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n"),
        s.log()
    );
    eprintln!("corpus: {} cases passed", cases.len());
}

#[test]
fn manifest_lists_every_corpus_file_exactly_once() {
    let cases = manifest().case;
    assert!(
        cases.len() >= CASES_MIN,
        "only {} cases, keep at least {CASES_MIN}",
        cases.len()
    );
    let mut listed = BTreeSet::new();
    for case in &cases {
        assert!(
            listed.insert(case.file.clone()),
            "{} listed twice",
            case.file
        );
        assert!(
            corpus_dir().join(&case.file).is_file(),
            "{} does not exist",
            case.file
        );
        let is_json = case.file.starts_with("json/") && case.file.ends_with(".json");
        let is_http = case.file.starts_with("http/") && case.file.ends_with(".http");
        assert!(
            is_json || is_http,
            "{}: put it in http/ or json/",
            case.file
        );
        assert_eq!(
            case.request.is_some(),
            is_json,
            "{}: json cases need `request`, http cases must not have one",
            case.file
        );
        assert!((100..600).contains(&case.status), "{}", case.file);
    }
    let mut on_disk = BTreeSet::new();
    for dir in ["http", "json"] {
        for entry in std::fs::read_dir(corpus_dir().join(dir)).expect("corpus dir") {
            let name = entry.expect("entry").file_name();
            on_disk.insert(format!("{dir}/{}", name.to_string_lossy()));
        }
    }
    let unlisted: Vec<_> = on_disk.difference(&listed).collect();
    assert!(unlisted.is_empty(), "files without a case: {unlisted:?}");
}
