//! Hand-rolled HTTP/1.1 server side: bytes from a socket become [`Request`]s handed to a
//! [`Handler`], whose answers are framed back onto the socket.
//!
//! Keep-alive, pipelining (answers in order, bounded), Content-Length and chunked bodies,
//! `Expect: 100-continue`, and strict framing: anything ambiguous closes the connection.
//! Hostile peers are bounded by the `[limits]` section: head/body sizes, timeouts, open
//! connections per core, answers held per connection, JSON nesting depth. With `[tls]` the
//! same loop runs over rustls (`tls.rs`).

use std::ops::{Deref, DerefMut};
use std::pin::Pin;

use futures_lite::Stream;

mod admission;
mod body;
mod conn;
mod error;
mod json_depth;
mod parse;
mod reader;
pub mod replay;
mod response;
mod shutdown;
mod tls;

pub use admission::open_connections;
pub use body::ChunkedDecoder;
pub use conn::serve_connection;
pub use error::Error;
pub use json_depth::json_depth_exceeds;
pub use parse::{parse_head, BodyFraming, Head, HeaderSpan, Span, HEADERS_MAX_COUNT};
/// The socket-free framing state machine, public for the fuzz targets in `tests/fuzz/`.
pub use reader::{empty_header_slots, Phase, RequestReader, Step};
pub use response::error_body;
pub use shutdown::{Shutdown, Wait};
pub use tls::{serve_tls_connection, server_config as tls_server_config};

/// Limits one connection enforces. Built from the `[limits]` config section.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Largest request head (request line + headers), in bytes. Larger → 431 and close.
    pub head_max_bytes: usize,
    /// Most header fields in one request. More → 431 and close.
    pub headers_max_count: usize,
    /// Largest request body after de-chunking, in bytes. Larger → 413 and close.
    pub body_max_bytes: usize,
    /// Time allowed from the first byte of a request (or accept) to the end of its head.
    pub head_timeout_ms: u64,
    /// Time allowed to receive a whole body once the head is in.
    pub body_timeout_ms: u64,
    /// Time an idle keep-alive connection is kept open.
    pub idle_timeout_ms: u64,
    /// Open connections per core; more are answered 503 and closed (`admission.rs` says why).
    pub connections_max_per_core: usize,
    /// Pipelined requests answered before their answers are written out; while they are being
    /// written (the peer reads them), no more input is read.
    pub pipeline_max_in_flight: usize,
    /// Deepest array/object nesting accepted in a request body; deeper → 400 before the
    /// handler runs, so no JSON parser recurses on hostile input.
    pub json_depth_max: usize,
}

/// HTTP method, as far as the router cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
    /// Any other token: routed to 404/405 by the router.
    Other,
}

/// One parsed request. Borrowed from the connection's reused buffers.
pub struct Request<'a> {
    pub method: Method,
    /// Path without the query string, still percent-encoded.
    pub path: &'a str,
    /// Raw query string without the `?`; empty when absent.
    pub query: &'a str,
    /// Header fields in arrival order; names as sent (compare case-insensitively).
    pub headers: &'a [(&'a str, &'a [u8])],
    /// The de-chunked body. Mutable because simd-json parses in place.
    pub body: &'a mut [u8],
}

impl Request<'_> {
    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// A body produced after the head, piece by piece: for answers too large to hold in memory
/// (snapshot files). The head announces `len` bytes; the stream must yield exactly that many.
pub struct BodyStream {
    pub len: u64,
    pub chunks: Pin<Box<dyn Stream<Item = std::io::Result<Vec<u8>>>>>,
}

/// Where a handler writes the body of its answer: bytes into the buffer (it derefs to the
/// `Vec<u8>`), or, for a large answer, a [`BodyStream`] the connection sends after the head.
#[derive(Default)]
pub struct ResponseBody {
    buf: Vec<u8>,
    stream: Option<BodyStream>,
}

impl ResponseBody {
    /// Answers with `stream` instead of the buffer's bytes.
    pub fn set_stream(&mut self, stream: BodyStream) {
        self.buf.clear();
        self.stream = Some(stream);
    }

    pub(crate) fn take_stream(&mut self) -> Option<BodyStream> {
        self.stream.take()
    }
}

impl Deref for ResponseBody {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.buf
    }
}

impl DerefMut for ResponseBody {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }
}

/// What a handler answers; the body itself is written into the buffer the handler is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    pub content_type: &'static str,
}

/// The application behind the HTTP layer.
#[allow(async_fn_in_trait)]
pub trait Handler {
    /// Answers one request: writes the body into `body` (empty, reused) and returns the head.
    /// Never fails: application errors are ordinary responses.
    async fn handle(&self, req: Request<'_>, body: &mut ResponseBody) -> ResponseHead;
}

/// Small limits so tests reach every bound with short inputs.
#[cfg(test)]
pub(crate) fn test_limits() -> HttpLimits {
    HttpLimits {
        head_max_bytes: 1024,
        headers_max_count: 16,
        body_max_bytes: 4096,
        head_timeout_ms: 2_000,
        body_timeout_ms: 2_000,
        idle_timeout_ms: 2_000,
        connections_max_per_core: 64,
        pipeline_max_in_flight: 4,
        json_depth_max: 8,
    }
}
