//! The per-connection loop: read, answer every complete request in order, write the answers of
//! one read in one write, repeat until the peer leaves, a limit trips, or shutdown.
//!
//! Backpressure: at most `pipeline_max_in_flight` answers (and [`OUTPUT_BUFFER_MAX_BYTES`]) are
//! held before they are written, and nothing more is read while a write waits for the peer. A
//! client that pipelines without reading its answers therefore stalls itself once the socket
//! buffers are full, and is dropped by the write timeout if it never reads again.

use std::time::Duration;

use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, FutureExt, StreamExt};
use glommio::net::TcpStream;
use glommio::timer::Timer;

use super::admission::{refuse, Slot};
use super::json_depth::json_depth_exceeds;
use super::reader::{empty_header_slots, Phase, RequestReader, Step, BUF_IDLE_BYTES};
use super::response::{
    error_body, write_error, write_head, write_response, Persistence, CONTINUE, JSON,
};
use super::{BodyStream, Error, Handler, HttpLimits, Method, ResponseBody, ResponseHead, Shutdown};
use crate::limits::OUTPUT_BUFFER_MAX_BYTES;

/// Capacity the output and response-body buffers return to once the connection is idle.
const OUT_IDLE_BYTES: usize = 8 * 1024;
/// After an error answer, input still arriving is read and dropped for at most this long and
/// this many bytes before closing. Closing with unread input makes the kernel send RST, which
/// can destroy our answer before the client reads it (typically a 413 while the client is
/// still sending the body it was refused).
const LINGER_MS: u64 = 1_000;
const LINGER_MAX_BYTES: usize = 1024 * 1024;
/// Longest timeout honoured: a configured "practically never" (say `u64::MAX`) must not
/// overflow the clock arithmetic of the timer.
const TIMEOUT_MAX_MS: u64 = 365 * 24 * 3600 * 1000;

/// A byte stream the connection loop can serve: plain TCP, or TLS over TCP (`tls.rs`).
///
/// The loop is generic over it rather than taking a trait object, so the plain-TCP path is
/// compiled for `TcpStream` itself: no dynamic dispatch and no extra copy per read or write.
#[allow(async_fn_in_trait)]
pub trait Transport: AsyncRead + AsyncWrite + Unpin {
    /// The TCP socket underneath, for socket options (write timeout, Nagle). Every write of
    /// the stream goes through its `poll_write`, so its write timeout bounds them all.
    fn tcp(&self) -> &TcpStream;

    /// Ends our direction of the stream while the peer may still send (half-close).
    async fn shutdown_write(&mut self) -> std::io::Result<()>;
}

impl Transport for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }

    async fn shutdown_write(&mut self) -> std::io::Result<()> {
        Ok(self.shutdown(std::net::Shutdown::Write).await?)
    }
}

/// Serves one accepted connection until it closes. Never panics on peer input; failures are
/// answered (when a status makes sense) and end the connection. Over the core's
/// `connections_max_per_core` the connection is answered 503 and closed instead.
pub async fn serve_connection<H: Handler>(
    stream: TcpStream,
    handler: &H,
    limits: &HttpLimits,
    shutdown: &Shutdown,
) {
    let Some(slot) = Slot::take(limits.connections_max_per_core) else {
        refuse(stream, limits.connections_max_per_core).await;
        return;
    };
    serve_admitted(stream, slot, handler, limits, shutdown).await;
}

/// Serves a connection that holds its place among the core's open connections (`_slot`,
/// given back when this returns).
pub(super) async fn serve_admitted<S: Transport, H: Handler>(
    stream: S,
    _slot: Slot,
    handler: &H,
    limits: &HttpLimits,
    shutdown: &Shutdown,
) {
    let mut conn = Connection {
        stream,
        reader: RequestReader::new(),
        out: Vec::with_capacity(OUT_IDLE_BYTES),
        body_out: ResponseBody::default(),
        scratch: Vec::new(),
    };
    // A peer that stops reading our answers is as idle as one that stops sending.
    let _ = conn
        .stream
        .tcp()
        .set_write_timeout(millis(limits.idle_timeout_ms));
    // Answers are batched into one write per read already; Nagle would only add latency.
    let _ = conn.stream.tcp().set_nodelay(true);
    match conn.run(handler, limits, shutdown).await {
        Ok(()) => {}
        Err(Error::Io(e)) => tracing::debug!("http connection I/O error: {e}"),
        Err(e) => {
            tracing::debug!("http connection closed: {e}");
            conn.linger().await;
        }
    }
    let _ = conn.stream.close().await;
}

/// What ended a wait for bytes.
enum Wake {
    Read(std::io::Result<usize>),
    TimedOut,
    Shutdown,
}

struct Connection<S> {
    stream: S,
    reader: RequestReader,
    /// Framed responses not yet written.
    out: Vec<u8>,
    /// Where the handler writes a response body.
    body_out: ResponseBody,
    /// Where error envelopes are built.
    scratch: Vec<u8>,
}

impl<S: Transport> Connection<S> {
    async fn run<H: Handler>(
        &mut self,
        handler: &H,
        limits: &HttpLimits,
        shutdown: &Shutdown,
    ) -> Result<(), Error> {
        let mut timer = Timer::new(timeout(limits.idle_timeout_ms));
        // The phase whose deadline `timer` holds; `None` re-arms it for the next request.
        let mut armed: Option<Phase> = None;
        loop {
            // Answers framed into `out` and not yet written.
            let mut in_flight = 0;
            let phase = loop {
                match self.reader.step(limits) {
                    Ok(Step::Ready) => {
                        armed = None;
                        if self.answer(handler, limits, shutdown).await == Persistence::Close {
                            self.flush().await?;
                            return Ok(());
                        }
                        in_flight += 1;
                        if in_flight >= limits.pipeline_max_in_flight
                            || self.out.len() >= OUTPUT_BUFFER_MAX_BYTES
                        {
                            self.flush().await?;
                            in_flight = 0;
                        }
                    }
                    Ok(Step::NeedMore {
                        phase,
                        send_continue,
                    }) => {
                        if send_continue {
                            self.out.extend_from_slice(CONTINUE);
                        }
                        break phase;
                    }
                    Err(e) => return self.fail(e).await,
                }
            };
            self.flush().await?;
            if phase == Phase::Idle {
                if shutdown.is_triggered() {
                    return Ok(());
                }
                self.shrink_idle();
            }
            if armed != Some(phase) {
                timer.reset(timeout(match phase {
                    Phase::Idle => limits.idle_timeout_ms,
                    Phase::Head => limits.head_timeout_ms,
                    Phase::Body => limits.body_timeout_ms,
                }));
                armed = Some(phase);
            }
            let spare = self.reader.spare(limits);
            if spare.is_empty() {
                // Unreachable with limits the reader was sized from; refuse rather than spin.
                return self
                    .fail(Error::HeadTooLarge {
                        limit: limits.head_max_bytes,
                    })
                    .await;
            }
            let stream = &mut self.stream;
            let read = async { Wake::Read(stream.read(spare).await) };
            let expired = async {
                (&mut timer).await;
                Wake::TimedOut
            };
            // Only an idle connection drops everything on shutdown; one in the middle of a
            // request gets to finish it.
            let wake = if phase == Phase::Idle {
                let stop = async {
                    shutdown.wait().await;
                    Wake::Shutdown
                };
                read.or(expired).or(stop).await
            } else {
                read.or(expired).await
            };
            match wake {
                Wake::Read(Ok(0)) | Wake::Shutdown => return Ok(()),
                Wake::Read(Ok(n)) => self.reader.commit(n),
                Wake::Read(Err(e)) => return Err(e.into()),
                Wake::TimedOut if self.reader.has_partial_request() => {
                    return self.fail(Error::Timeout).await
                }
                Wake::TimedOut => return Ok(()),
            }
        }
    }

    /// Runs the handler on the ready request and frames its answer into `out`.
    async fn answer<H: Handler>(
        &mut self,
        handler: &H,
        limits: &HttpLimits,
        shutdown: &Shutdown,
    ) -> Persistence {
        let Some(head) = self.reader.head() else {
            return Persistence::Close;
        };
        let head_only = head.method == Method::Head;
        let keep_alive = head.keep_alive;
        self.body_out.clear();
        let mut slots = empty_header_slots();
        let response = match self.reader.request(&mut slots) {
            // Every body this server takes is JSON; refusing deep nesting here protects every
            // route's parser at once. The framing is intact, so the connection stays usable.
            Some(req) if json_depth_exceeds(req.body, limits.json_depth_max) => {
                let msg = format!(
                    "Format error in JSON body: recursion limit exceeded: nesting deeper than {} levels",
                    limits.json_depth_max
                );
                error_body(&mut self.body_out, &msg, 0.0);
                ResponseHead {
                    status: 400,
                    content_type: JSON,
                }
            }
            Some(req) => handler.handle(req, &mut self.body_out).await,
            None => return Persistence::Close,
        };
        let persistence = if keep_alive && !shutdown.is_triggered() {
            Persistence::KeepAlive
        } else {
            Persistence::Close
        };
        if let Some(stream) = self.body_out.take_stream() {
            let has_body = write_head(
                &mut self.out,
                response.status,
                response.content_type,
                stream.len,
                persistence,
            );
            self.reader.finish();
            if has_body && !head_only {
                if let Err(e) = self.send_stream(stream).await {
                    // The head promised bytes that cannot come: only closing tells the client.
                    tracing::warn!("streamed response cut short: {e}");
                    return Persistence::Close;
                }
            }
            return persistence;
        }
        write_response(
            &mut self.out,
            response.status,
            response.content_type,
            &self.body_out,
            head_only,
            persistence,
        );
        self.reader.finish();
        persistence
    }

    /// Answers a framing error (after any responses already framed) and ends the connection.
    async fn fail(&mut self, e: Error) -> Result<(), Error> {
        write_error(&mut self.out, &mut self.scratch, e.status(), &e.to_string());
        self.flush().await?;
        Err(e)
    }

    async fn linger(&mut self) {
        linger(
            &mut self.stream,
            &mut self.scratch,
            Duration::from_millis(LINGER_MS),
            LINGER_MAX_BYTES,
        )
        .await;
    }

    /// Sends the answers framed so far, then `stream`'s bytes straight to the socket.
    async fn send_stream(&mut self, mut stream: BodyStream) -> Result<(), Error> {
        self.flush().await?;
        let mut sent = 0u64;
        while let Some(chunk) = stream.chunks.next().await {
            let chunk = chunk?;
            sent += chunk.len() as u64;
            if sent > stream.len {
                return Err(std::io::Error::other("stream longer than announced").into());
            }
            self.stream.write_all(&chunk).await?;
        }
        if sent != stream.len {
            return Err(std::io::Error::other(format!(
                "stream ended after {sent} of {} bytes",
                stream.len
            ))
            .into());
        }
        self.stream.flush().await?;
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), Error> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).await?;
            // TLS holds back records until flushed; for plain TCP this is a no-op.
            self.stream.flush().await?;
            self.out.clear();
        }
        Ok(())
    }

    /// Gives back what a large answer made the output buffers grow to, so an idle keep-alive
    /// connection costs a few KiB whatever it served before. Back-to-back (pipelined) requests
    /// do not go through here and keep reusing the grown buffers.
    fn shrink_idle(&mut self) {
        for buf in [&mut self.out, &mut *self.body_out] {
            if buf.capacity() > OUT_IDLE_BYTES {
                buf.clear();
                buf.shrink_to(OUT_IDLE_BYTES);
            }
        }
    }
}

/// Half-closes, then drops what the peer still sends until it closes too or `max_bytes` or
/// `time` run out, so the answer already written is not reset away. `sink` is scratch space.
pub(super) async fn linger<S: Transport>(
    stream: &mut S,
    sink: &mut Vec<u8>,
    time: Duration,
    max_bytes: usize,
) {
    if stream.shutdown_write().await.is_err() {
        return;
    }
    sink.resize(BUF_IDLE_BYTES, 0);
    let drain = async {
        let mut dropped = 0;
        while dropped < max_bytes {
            match stream.read(sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => dropped += n,
            }
        }
    };
    let deadline = async {
        glommio::timer::sleep(time).await;
    };
    drain.or(deadline).await;
}

pub(super) fn timeout(ms: u64) -> Duration {
    Duration::from_millis(ms.min(TIMEOUT_MAX_MS))
}

fn millis(ms: u64) -> Option<Duration> {
    // glommio rejects a zero timeout; zero means "no write timeout" here.
    (ms > 0).then(|| timeout(ms))
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::rc::Rc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use glommio::net::TcpListener;
    use glommio::LocalExecutorBuilder;

    use crate::http::{
        serve_connection, test_limits, HttpLimits, Request, ResponseBody, ResponseHead, Shutdown,
    };

    /// Answers `"<method> <path>?<query> <body>"`; `/huge-answer` answers [`BIG_BYTES`] and counts
    /// itself in [`BIG_CALLS`], `/sleep` takes [`SLEEP_MS`] first.
    struct Echo;

    const BIG_BYTES: usize = 64 * 1024;
    static BIG_CALLS: AtomicUsize = AtomicUsize::new(0);
    const SLEEP_MS: u64 = 1_500;

    impl crate::http::Handler for Echo {
        async fn handle(&self, req: Request<'_>, body: &mut ResponseBody) -> ResponseHead {
            if req.path == "/huge-answer" {
                BIG_CALLS.fetch_add(1, Ordering::SeqCst);
                body.resize(BIG_BYTES, b'b');
                return ResponseHead {
                    status: 200,
                    content_type: "text/plain",
                };
            }
            if req.path == "/sleep" {
                glommio::timer::sleep(Duration::from_millis(SLEEP_MS)).await;
            }
            let _ = write!(body, "{:?} {}?{} ", req.method, req.path, req.query);
            body.extend_from_slice(req.body);
            ResponseHead {
                status: 200,
                content_type: "text/plain",
            }
        }
    }

    /// Serves one connection on a loopback port while `client` talks to it from this thread.
    /// `shutdown_after` triggers the connection's [`Shutdown`] that long after accept.
    fn serve_one(
        limits: HttpLimits,
        shutdown_after: Option<Duration>,
        client: impl FnOnce(&mut BufReader<std::net::TcpStream>),
    ) {
        let (tx, rx) = std::sync::mpsc::channel();
        let server = LocalExecutorBuilder::default()
            .io_memory(1 << 20)
            .spawn(move || async move {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                let stream = listener.accept().await.unwrap();
                let shutdown = Rc::new(Shutdown::new());
                if let Some(after) = shutdown_after {
                    let s = shutdown.clone();
                    glommio::spawn_local(async move {
                        glommio::timer::sleep(after).await;
                        s.trigger();
                    })
                    .detach();
                }
                serve_connection(stream, &Echo, &limits, &shutdown).await;
            })
            .unwrap();
        let addr = rx.recv().unwrap();
        let stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        client(&mut BufReader::new(stream));
        server.join().unwrap();
    }

    struct Response {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Response {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }

        fn body_str(&self) -> &str {
            std::str::from_utf8(&self.body).unwrap()
        }
    }

    fn read_response(c: &mut BufReader<std::net::TcpStream>, head_only: bool) -> Response {
        let mut line = String::new();
        c.read_line(&mut line).unwrap();
        let status = line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut headers = Vec::new();
        loop {
            line.clear();
            c.read_line(&mut line).unwrap();
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (n, v) = l.split_once(':').unwrap();
            headers.push((n.to_string(), v.trim().to_string()));
        }
        let mut r = Response {
            status,
            headers,
            body: Vec::new(),
        };
        if !head_only {
            let len: usize = r.header("content-length").unwrap().parse().unwrap();
            r.body.resize(len, 0);
            c.read_exact(&mut r.body).unwrap();
        }
        r
    }

    fn send(c: &mut BufReader<std::net::TcpStream>, bytes: &[u8]) {
        c.get_mut().write_all(bytes).unwrap();
    }

    /// The server must have closed: nothing more to read.
    fn assert_closed(c: &mut BufReader<std::net::TcpStream>) {
        let mut rest = Vec::new();
        c.read_to_end(&mut rest).unwrap();
        assert!(
            rest.is_empty(),
            "unexpected {:?}",
            String::from_utf8_lossy(&rest)
        );
    }

    fn assert_error_envelope(r: &Response, status: u16) {
        assert_eq!(r.status, status);
        assert_eq!(r.header("connection"), Some("close"));
        assert_eq!(r.header("content-type"), Some("application/json"));
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert!(v["status"]["error"].as_str().is_some(), "{v}");
        assert!(v["time"].is_number());
    }

    #[test]
    fn keep_alive_serves_two_requests() {
        serve_one(test_limits(), None, |c| {
            send(c, b"GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n");
            let r = read_response(c, false);
            assert_eq!((r.status, r.body_str()), (200, "Get /a?x=1 "));
            assert_eq!(r.header("connection"), Some("keep-alive"));
            assert_eq!(r.header("content-type"), Some("text/plain"));
            send(c, b"POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
            assert_eq!(read_response(c, false).body_str(), "Post /b? hello");
        });
    }

    #[test]
    fn pipelined_requests_are_answered_in_order() {
        serve_one(test_limits(), None, |c| {
            send(
                c,
                b"GET /1 HTTP/1.1\r\n\r\nPUT /2 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc\
                  DELETE /3 HTTP/1.1\r\n\r\n",
            );
            for want in ["Get /1? ", "Put /2? abc", "Delete /3? "] {
                assert_eq!(read_response(c, false).body_str(), want);
            }
        });
    }

    #[test]
    fn chunked_body_is_decoded() {
        serve_one(test_limits(), None, |c| {
            send(
                c,
                b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nwiki",
            );
            std::thread::sleep(Duration::from_millis(20));
            send(c, b"\r\n5\r\npedia\r\n0\r\nTrailer: t\r\n\r\n");
            assert_eq!(read_response(c, false).body_str(), "Post /c? wikipedia");
        });
    }

    #[test]
    fn large_bodies_round_trip_on_one_connection() {
        let limits = HttpLimits {
            body_max_bytes: 1 << 20,
            ..test_limits()
        };
        serve_one(limits, None, |c| {
            let body: Vec<u8> = (0..600_000u32).map(|i| b'a' + (i % 26) as u8).collect();
            let mut req = format!(
                "PUT /big HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            req.extend_from_slice(&body);
            send(c, &req);
            let r = read_response(c, false);
            assert_eq!(&r.body[..b"Put /big? ".len()], b"Put /big? ");
            assert_eq!(&r.body[b"Put /big? ".len()..], &body[..]);
            // The same again, chunked in uneven pieces, then a small request.
            let mut req = b"PUT /big HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            for piece in body.chunks(70_001) {
                req.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                req.extend_from_slice(piece);
                req.extend_from_slice(b"\r\n");
            }
            req.extend_from_slice(b"0\r\n\r\nGET /small HTTP/1.1\r\n\r\n");
            send(c, &req);
            let r = read_response(c, false);
            assert_eq!(&r.body[b"Put /big? ".len()..], &body[..]);
            assert_eq!(read_response(c, false).body_str(), "Get /small? ");
        });
    }

    #[test]
    fn expect_continue_gets_an_interim_response() {
        serve_one(test_limits(), None, |c| {
            send(
                c,
                b"PUT /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
            );
            let mut interim = [0; 25];
            c.read_exact(&mut interim).unwrap();
            assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
            send(c, b"data");
            assert_eq!(read_response(c, false).body_str(), "Put /e? data");
        });
    }

    #[test]
    fn body_over_the_limit_is_413_and_closes() {
        let limits = HttpLimits {
            body_max_bytes: 16,
            ..test_limits()
        };
        serve_one(limits, None, |c| {
            send(c, b"POST / HTTP/1.1\r\nContent-Length: 17\r\n\r\n");
            let r = read_response(c, false);
            assert_error_envelope(&r, 413);
            assert!(
                r.body_str().contains("17 bytes, limit 16"),
                "{}",
                r.body_str()
            );
            assert_closed(c);
        });
    }

    #[test]
    fn refused_body_still_sent_does_not_reset_the_answer() {
        let limits = HttpLimits {
            body_max_bytes: 16,
            ..test_limits()
        };
        serve_one(limits, None, |c| {
            let mut req = b"POST / HTTP/1.1\r\nContent-Length: 200000\r\n\r\n".to_vec();
            req.resize(req.len() + 1000, b'x');
            send(c, &req);
            assert_error_envelope(&read_response(c, false), 413);
            // A client that does not look at the answer before sending its body.
            send(c, &[b'x'; 50_000]);
            assert_closed(c);
        });
    }

    #[test]
    fn content_length_with_transfer_encoding_is_400_and_closes() {
        serve_one(test_limits(), None, |c| {
            send(
                c,
                b"GET /ok HTTP/1.1\r\n\r\n\
                  POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc",
            );
            assert_eq!(read_response(c, false).status, 200);
            assert_error_envelope(&read_response(c, false), 400);
            assert_closed(c);
        });
    }

    #[test]
    fn http10_closes_after_the_answer() {
        serve_one(test_limits(), None, |c| {
            send(c, b"GET /old HTTP/1.0\r\n\r\n");
            let r = read_response(c, false);
            assert_eq!((r.status, r.header("connection")), (200, Some("close")));
            assert_closed(c);
        });
    }

    #[test]
    fn http10_keep_alive_is_echoed_and_head_has_no_body() {
        serve_one(test_limits(), None, |c| {
            send(c, b"HEAD /h HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
            let r = read_response(c, true);
            assert_eq!(r.header("connection"), Some("keep-alive"));
            assert_eq!(
                r.header("content-length"),
                Some("9"),
                "length of `Head /h? `"
            );
            send(c, b"GET /next HTTP/1.0\r\n\r\n");
            assert_eq!(read_response(c, false).body_str(), "Get /next? ");
            assert_closed(c);
        });
    }

    #[test]
    fn partial_head_times_out_with_408() {
        let limits = HttpLimits {
            head_timeout_ms: 100,
            ..test_limits()
        };
        serve_one(limits, None, |c| {
            send(c, b"GET /slow HTTP/1.1\r\nHo");
            assert_error_envelope(&read_response(c, false), 408);
            assert_closed(c);
        });
    }

    #[test]
    fn idle_connection_times_out_silently() {
        let limits = HttpLimits {
            idle_timeout_ms: 100,
            ..test_limits()
        };
        serve_one(limits, None, assert_closed);
    }

    #[test]
    fn shutdown_closes_an_idle_connection() {
        serve_one(test_limits(), Some(Duration::from_millis(100)), |c| {
            send(c, b"GET / HTTP/1.1\r\n\r\n");
            assert_eq!(
                read_response(c, false).header("connection"),
                Some("keep-alive")
            );
            assert_closed(c);
        });
    }

    #[test]
    fn shutdown_lets_a_started_request_finish() {
        serve_one(test_limits(), Some(Duration::from_millis(50)), |c| {
            send(c, b"POST /late HTTP/1.1\r\nContent-Length: 2\r\n\r\n");
            std::thread::sleep(Duration::from_millis(200));
            send(c, b"ok");
            let r = read_response(c, false);
            assert_eq!(
                (r.body_str(), r.header("connection")),
                ("Post /late? ok", Some("close"))
            );
            assert_closed(c);
        });
    }

    #[test]
    fn too_deep_json_is_400_and_the_connection_stays_usable() {
        let depth = test_limits().json_depth_max;
        serve_one(test_limits(), None, |c| {
            let deep = format!("{}{}", "[".repeat(depth + 1), "]".repeat(depth + 1));
            let req = format!(
                "POST /j HTTP/1.1\r\nContent-Length: {}\r\n\r\n{deep}",
                deep.len()
            );
            send(c, req.as_bytes());
            let r = read_response(c, false);
            assert_eq!(r.status, 400);
            assert_eq!(r.header("connection"), Some("keep-alive"));
            assert!(r.body_str().contains("recursion limit"), "{}", r.body_str());
            let ok = format!("{}{}", "{\"a\":[".repeat(depth / 2), "]}".repeat(depth / 2));
            let req = format!(
                "POST /j HTTP/1.1\r\nContent-Length: {}\r\n\r\n{ok}",
                ok.len()
            );
            send(c, req.as_bytes());
            assert_eq!(read_response(c, false).body_str(), format!("Post /j? {ok}"));
        });
    }

    #[test]
    fn pipelined_answers_are_written_every_pipeline_max_in_flight() {
        let limits = test_limits();
        assert_eq!(limits.pipeline_max_in_flight, 4);
        serve_one(limits, None, |c| {
            send(
                c,
                b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n\
                  GET /4 HTTP/1.1\r\n\r\nGET /5 HTTP/1.1\r\n\r\nGET /sleep HTTP/1.1\r\n\r\n",
            );
            // The first four are written before the fifth is even answered, so they arrive
            // while /sleep is still running; unbounded batching would hold them all back.
            let started = Instant::now();
            for i in 1..=4 {
                assert_eq!(read_response(c, false).body_str(), format!("Get /{i}? "));
            }
            assert!(
                started.elapsed() < Duration::from_millis(SLEEP_MS / 2),
                "answers waited for a later request: {:?}",
                started.elapsed()
            );
            assert_eq!(read_response(c, false).body_str(), "Get /5? ");
            assert_eq!(read_response(c, false).body_str(), "Get /sleep? ");
        });
    }

    #[test]
    fn a_client_that_does_not_read_stalls_the_connection_not_the_memory() {
        // 1000 pipelined requests for 64 KiB each: 64 MiB of answers if nothing pushed back.
        const REQUESTS: usize = 1000;
        serve_one(test_limits(), None, |c| {
            send(c, &b"GET /huge-answer HTTP/1.1\r\n\r\n".repeat(REQUESTS));
            std::thread::sleep(Duration::from_millis(500));
            let answered = BIG_CALLS.load(Ordering::SeqCst);
            // What fits in the loopback socket buffers (a few MiB each way) plus one batch.
            assert!(
                answered < REQUESTS / 3,
                "{answered} answers produced for a client that reads none"
            );
            for _ in 0..REQUESTS {
                let r = read_response(c, false);
                assert_eq!((r.status, r.body.len()), (200, BIG_BYTES));
            }
            assert_eq!(BIG_CALLS.load(Ordering::SeqCst), REQUESTS);
        });
    }

    /// Serves `accepts` connections at once (as the runtime's accept loop does) while `client`
    /// talks to them from this thread.
    fn serve_many(limits: HttpLimits, accepts: usize, client: impl FnOnce(std::net::SocketAddr)) {
        let (tx, rx) = std::sync::mpsc::channel();
        let server = LocalExecutorBuilder::default()
            .io_memory(1 << 20)
            .spawn(move || async move {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                let limits = Rc::new(limits);
                let shutdown = Rc::new(Shutdown::new());
                let mut tasks = Vec::new();
                for _ in 0..accepts {
                    let stream = listener.accept().await.unwrap();
                    let (limits, shutdown) = (limits.clone(), shutdown.clone());
                    tasks.push(glommio::spawn_local(async move {
                        serve_connection(stream, &Echo, &limits, &shutdown).await;
                    }));
                }
                for t in tasks {
                    t.await;
                }
                assert_eq!(crate::http::open_connections(), 0, "every slot came back");
            })
            .unwrap();
        client(rx.recv().unwrap());
        server.join().unwrap();
    }

    fn connect(addr: std::net::SocketAddr) -> BufReader<std::net::TcpStream> {
        let s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        BufReader::new(s)
    }

    #[test]
    fn connections_over_the_cap_get_503_and_close() {
        let limits = HttpLimits {
            connections_max_per_core: 2,
            ..test_limits()
        };
        serve_many(limits, 4, |addr| {
            let (mut a, mut b) = (connect(addr), connect(addr));
            for c in [&mut a, &mut b] {
                send(c, b"GET /in HTTP/1.1\r\n\r\n");
                assert_eq!(read_response(c, false).status, 200);
            }
            // The third is refused without having to ask.
            let mut refused = connect(addr);
            let r = read_response(&mut refused, false);
            assert_error_envelope(&r, 503);
            assert!(r.body_str().contains("limit 2"), "{}", r.body_str());
            assert_closed(&mut refused);
            // Those already in are still served.
            send(&mut a, b"GET /still HTTP/1.1\r\n\r\n");
            assert_eq!(read_response(&mut a, false).body_str(), "Get /still? ");
            // A freed slot admits the next connection.
            drop(b);
            std::thread::sleep(Duration::from_millis(100));
            let mut d = connect(addr);
            send(&mut d, b"GET /next HTTP/1.1\r\n\r\n");
            assert_eq!(read_response(&mut d, false).body_str(), "Get /next? ");
        });
    }
}
