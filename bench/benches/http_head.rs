//! The server's request-head parser (`vexfs_server::http::parse_head`: httparse plus our
//! framing, bare-LF and keep-alive rules) on three typical heads, with the default limits.
//! `cargo bench -p vexfs-bench --bench http_head`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use vexfs_server::config::Config;
use vexfs_server::http::parse_head;

/// A health probe: request line and Host only.
const PROBE: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:6333\r\n\r\n";

/// What the Python qdrant-client (httpx) sends for a search.
const CLIENT_SEARCH: &[u8] = b"POST /collections/bench/points/search HTTP/1.1\r\n\
Host: 127.0.0.1:6333\r\n\
Accept: */*\r\n\
Accept-Encoding: gzip, deflate\r\n\
Connection: keep-alive\r\n\
User-Agent: python-client/1.12.1 python/3.12.3\r\n\
api-key: 0123456789abcdef0123456789abcdef\r\n\
Content-Length: 1432\r\n\
Content-Type: application/json\r\n\r\n";

/// A browser-style request through a proxy: many and long headers.
const BROWSER: &[u8] = b"GET /collections/bench/points/42?with_payload=true HTTP/1.1\r\n\
Host: vectors.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.9,de;q=0.8\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Cache-Control: no-cache\r\n\
Pragma: no-cache\r\n\
Sec-Fetch-Dest: document\r\n\
Sec-Fetch-Mode: navigate\r\n\
Sec-Fetch-Site: none\r\n\
Sec-Fetch-User: ?1\r\n\
Upgrade-Insecure-Requests: 1\r\n\
X-Forwarded-For: 203.0.113.7, 198.51.100.23\r\n\
X-Forwarded-Proto: https\r\n\
X-Request-Id: 6f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b\r\n\
Cookie: session=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9.c2lnbmF0dXJl; theme=dark\r\n\
Connection: keep-alive\r\n\r\n";

fn heads(c: &mut Criterion) {
    let limits = Config::default().http_limits();
    let mut g = c.benchmark_group("http_head");
    for (name, head) in [
        ("probe", PROBE),
        ("client_search", CLIENT_SEARCH),
        ("browser", BROWSER),
    ] {
        // A wrong fixture would measure an error path: check once that it parses whole.
        let parsed = parse_head(head, &limits);
        assert!(
            matches!(&parsed, Ok(Some(h)) if h.len == head.len()),
            "{name} does not parse as one complete head"
        );
        g.throughput(Throughput::Bytes(head.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| parse_head(black_box(head), &limits).map(|h| h.map(|h| h.len)))
        });
    }
    g.finish();
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    heads(&mut c);
    c.final_summary();
}
