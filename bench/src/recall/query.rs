//! One measured row of a recall run: `clients` connections on one pinned glommio executor
//! take the next query from a shared counter until all are answered; every answer's ids are
//! kept (to score recall) and its latency recorded.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use glommio::{LocalExecutorBuilder, Placement};
use hdrhistogram::Histogram;
use serde::Deserialize;

use crate::load::IO_MEMORY_BYTES;
use crate::response;
use crate::stats::new_histogram;

/// Read granularity, in bytes.
const READ_CHUNK_BYTES: usize = 64 * 1024;
/// Longest wait for a connection to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What one row measured.
pub struct RowOutcome {
    /// Ids answered per query (empty for a failed query).
    pub answers: Vec<Vec<u64>>,
    pub latency: Histogram<u64>,
    pub wall: Duration,
    /// Queries answered with a non-2xx status or lost to a transport error.
    pub errors: u64,
    /// First error seen, for the report.
    pub first_error: Option<String>,
}

#[derive(Deserialize)]
struct SearchAnswer {
    result: Vec<Hit>,
}

#[derive(Deserialize)]
struct Hit {
    id: serde_json::Value,
}

/// Sends every request in `requests` (whole HTTP requests) once over `clients` connections.
pub fn run_row(
    addr: SocketAddr,
    cpu: usize,
    clients: usize,
    requests: Arc<Vec<Vec<u8>>>,
) -> Result<RowOutcome, String> {
    let handle = LocalExecutorBuilder::new(Placement::Fixed(cpu))
        .name("vexfs-bench-recall")
        .io_memory(IO_MEMORY_BYTES)
        .spawn(move || async move {
            let n = requests.len();
            let shared = Rc::new(Shared {
                next: Cell::new(0),
                answers: RefCell::new(vec![Vec::new(); n]),
                latency: RefCell::new(new_histogram()),
                errors: Cell::new(0),
                first_error: RefCell::new(None),
            });
            let started = Instant::now();
            let tasks: Vec<_> = (0..clients.min(n))
                .map(|_| glommio::spawn_local(client(addr, requests.clone(), shared.clone())))
                .collect();
            for t in tasks {
                t.await;
            }
            let wall = started.elapsed();
            RowOutcome {
                answers: shared.answers.take(),
                latency: shared.latency.replace(new_histogram()),
                wall,
                errors: shared.errors.get(),
                first_error: shared.first_error.take(),
            }
        })
        .map_err(|e| format!("cannot start the query executor on CPU {cpu}: {e}"))?;
    handle
        .join()
        .map_err(|e| format!("the query executor failed: {e}"))
}

struct Shared {
    next: Cell<usize>,
    answers: RefCell<Vec<Vec<u64>>>,
    latency: RefCell<Histogram<u64>>,
    errors: Cell<u64>,
    first_error: RefCell<Option<String>>,
}

impl Shared {
    fn fail(&self, what: String) {
        self.errors.set(self.errors.get() + 1);
        self.first_error.borrow_mut().get_or_insert(what);
    }
}

/// One client: takes queries until none are left; reconnects after a transport failure.
async fn client(addr: SocketAddr, requests: Arc<Vec<Vec<u8>>>, shared: Rc<Shared>) {
    let mut conn: Option<TcpStream> = None;
    let mut buf = Vec::with_capacity(READ_CHUNK_BYTES);
    loop {
        let i = shared.next.get();
        if i >= requests.len() {
            return;
        }
        shared.next.set(i + 1);
        if conn.is_none() {
            match TcpStream::connect_timeout(addr, CONNECT_TIMEOUT).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    conn = Some(s);
                }
                Err(e) => {
                    shared.fail(format!("connect: {e}"));
                    continue;
                }
            }
        }
        let Some(stream) = conn.as_mut() else {
            continue;
        };
        let sent = Instant::now();
        match exchange(stream, &requests[i], &mut buf).await {
            Ok((status, raw, close)) => {
                let ns = u64::try_from(sent.elapsed().as_nanos()).unwrap_or(u64::MAX);
                shared.latency.borrow_mut().saturating_record(ns.max(1));
                match ids(status, &raw) {
                    Ok(ids) => shared.answers.borrow_mut()[i] = ids,
                    Err(e) => shared.fail(e),
                }
                if close {
                    conn = None;
                }
            }
            Err(e) => {
                shared.fail(e);
                conn = None;
            }
        }
    }
}

/// Writes one request and reads its whole response: (status, raw response, server closes).
async fn exchange(
    stream: &mut TcpStream,
    request: &[u8],
    buf: &mut Vec<u8>,
) -> Result<(u16, Vec<u8>, bool), String> {
    stream
        .write_all(request)
        .await
        .map_err(|e| format!("write: {e}"))?;
    buf.clear();
    loop {
        if let Some(f) = response::frame(buf).map_err(|e| format!("response: {e}"))? {
            return Ok((f.status, buf[..f.len].to_vec(), f.close));
        }
        let old = buf.len();
        buf.resize(old + READ_CHUNK_BYTES, 0);
        let n = stream
            .read(&mut buf[old..])
            .await
            .map_err(|e| format!("read: {e}"))?;
        buf.truncate(old + n);
        if n == 0 {
            return Err("server closed the connection".into());
        }
    }
}

/// The point ids of a search answer, in the order given.
fn ids(status: u16, raw: &[u8]) -> Result<Vec<u64>, String> {
    let body = response::body(raw).map_err(|e| format!("response: {e}"))?;
    if !(200..300).contains(&status) {
        let quote = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
        return Err(format!("HTTP {status}: {quote}"));
    }
    let answer: SearchAnswer =
        serde_json::from_slice(&body).map_err(|e| format!("search answer: {e}"))?;
    Ok(answer.result.iter().filter_map(|h| h.id.as_u64()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// A stand-in server on a free port: answers each request on a connection with the
    /// request's `X-Id` header as the only hit (or 500 for id 13), closing after 3 requests
    /// so reconnects are exercised. Serves `conns` connections, one thread each.
    fn fake_server(conns: usize) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(conns) {
                let mut stream = stream.unwrap();
                std::thread::spawn(move || {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    for served in 1..=3 {
                        let head_end = loop {
                            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                                break p + 4;
                            }
                            match stream.read(&mut chunk) {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        };
                        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                        buf.drain(..head_end);
                        let id: u64 = head
                            .lines()
                            .find_map(|l| l.strip_prefix("X-Id: "))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap();
                        let (status, body) = if id == 13 {
                            (
                                "500 Internal Server Error",
                                "{\"status\":{\"error\":\"x\"}}".to_string(),
                            )
                        } else {
                            (
                                "200 OK",
                                format!("{{\"result\":[{{\"id\":{id},\"score\":1.0}}]}}"),
                            )
                        };
                        let close = if served == 3 {
                            "Connection: close\r\n"
                        } else {
                            ""
                        };
                        let resp = format!(
                            "HTTP/1.1 {status}\r\nContent-Length: {}\r\n{close}\r\n{body}",
                            body.len()
                        );
                        if stream.write_all(resp.as_bytes()).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    #[test]
    fn every_query_is_answered_once_across_clients_and_reconnects() {
        const QUERIES: u64 = 40;
        // 4 clients x up to 3 requests per connection: at least 14 connections.
        let addr = fake_server(64);
        let requests: Vec<Vec<u8>> = (0..QUERIES)
            .map(|i| format!("GET /q HTTP/1.1\r\nHost: x\r\nX-Id: {i}\r\n\r\n").into_bytes())
            .collect();
        let out = run_row(addr, 0, 4, Arc::new(requests)).unwrap();
        assert_eq!(out.answers.len(), QUERIES as usize);
        for (i, ids) in out.answers.iter().enumerate() {
            let want: Vec<u64> = if i == 13 { vec![] } else { vec![i as u64] };
            assert_eq!(ids, &want, "query {i}");
        }
        assert_eq!(out.errors, 1);
        assert!(out.first_error.is_some_and(|e| e.starts_with("HTTP 500")));
        assert_eq!(out.latency.len(), QUERIES);
    }

    #[test]
    fn reads_ids_and_reports_errors() {
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 60\r\n\r\n{\"result\":[{\"id\":7,\"score\":0.9},{\"id\":3,\"score\":0.5}],\"x\":1}";
        assert_eq!(ids(200, ok), Ok(vec![7, 3]));
        let bad = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}";
        assert!(ids(400, bad).unwrap_err().starts_with("HTTP 400"));
    }
}
