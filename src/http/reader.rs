//! The socket-free half of a connection: received bytes in, complete requests out.
//!
//! [`RequestReader`] owns the connection's input and body buffers. The socket loop in
//! `conn.rs` only moves bytes into [`RequestReader::spare`] and asks [`RequestReader::step`] what
//! happened, so everything about framing, pipelining and buffer sizing is tested without a socket
//! (see `drive` in the tests).

use super::body::ChunkedDecoder;
use super::parse::{parse_head, BodyFraming, Head, HEADERS_MAX_COUNT};
use super::{Error, HttpLimits, Request};

/// Size the input buffer starts at and returns to after a large request, so an idle
/// keep-alive connection costs this much and not the size of its biggest upload.
pub const BUF_IDLE_BYTES: usize = 8 * 1024;
/// Smallest free space offered to one read before the buffer is compacted or grown; smaller
/// reads would cost a syscall for a handful of bytes.
const READ_MIN_BYTES: usize = 2 * 1024;

/// What a connection is waiting for; each has its own timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Nothing of the next request has arrived.
    Idle,
    /// Part of a head has arrived.
    Head,
    /// The head is in; the body is not complete.
    Body,
}

/// The result of [`RequestReader::step`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A complete request is buffered: take it with [`RequestReader::request`], then call
    /// [`RequestReader::finish`].
    Ready,
    /// More bytes are needed. `send_continue` is true once per request whose client sent
    /// `Expect: 100-continue` and whose body is not complete yet.
    NeedMore { phase: Phase, send_continue: bool },
}

/// Slots the header list of a [`Request`] is built in; one array on the stack per request.
pub type HeaderSlots<'a> = [(&'a str, &'a [u8]); HEADERS_MAX_COUNT];

/// Empty header slots to pass to [`RequestReader::request`].
pub fn empty_header_slots<'a>() -> HeaderSlots<'a> {
    [("", &[]); HEADERS_MAX_COUNT]
}

/// Framing state and buffers of one connection's incoming side.
pub struct RequestReader {
    /// Received bytes in `buf[start..filled]`; the rest of `buf` is zeroed spare space.
    buf: Vec<u8>,
    /// First byte of the current request.
    start: usize,
    filled: usize,
    /// The current request's head, once parsed.
    head: Option<Head>,
    /// Chunked bodies: first chunk byte not yet decoded. Decoded bytes are cut out of `buf`,
    /// so this is always `start + head.len`; kept explicit for the debug assertion.
    chunk_pos: usize,
    decoder: ChunkedDecoder,
    /// De-chunked body of the current request (Content-Length bodies stay in `buf`).
    body: Vec<u8>,
    continue_sent: bool,
    ready: bool,
}

impl Default for RequestReader {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestReader {
    pub fn new() -> Self {
        RequestReader {
            buf: vec![0; BUF_IDLE_BYTES],
            start: 0,
            filled: 0,
            head: None,
            chunk_pos: 0,
            decoder: ChunkedDecoder::new(),
            body: Vec::new(),
            continue_sent: false,
            ready: false,
        }
    }

    /// Free space to read into; empty only if the limits leave no room (never with sane ones).
    pub fn spare(&mut self, limits: &HttpLimits) -> &mut [u8] {
        // A Content-Length body is kept in place after its head, so the whole request must fit;
        // `want` is its size, or 0 while no such body is pending.
        let want = match &self.head {
            Some(h) => match h.framing {
                BodyFraming::ContentLength(n) => h.len.saturating_add(n as usize),
                _ => 0,
            },
            None => 0,
        };
        if self.start > 0
            && (self.buf.len() - self.filled < READ_MIN_BYTES || self.start + want > self.buf.len())
        {
            self.buf.copy_within(self.start..self.filled, 0);
            self.filled -= self.start;
            self.chunk_pos -= self.start.min(self.chunk_pos);
            self.start = 0;
        }
        if self.filled == self.buf.len() {
            // Grow by doubling as bytes actually arrive, not to the announced length at once:
            // a head announcing a large body must not make us allocate it before it is sent.
            let cap = limits.head_max_bytes.saturating_add(limits.body_max_bytes);
            let ceiling = if want > 0 { want.min(cap) } else { cap };
            let grown = self.buf.len().saturating_mul(2).min(ceiling);
            if grown > self.buf.len() {
                self.buf.resize(grown, 0);
            }
        }
        &mut self.buf[self.filled..]
    }

    /// Records that `n` bytes were read into the start of [`Self::spare`].
    pub fn commit(&mut self, n: usize) {
        debug_assert!(self.filled + n <= self.buf.len());
        self.filled = (self.filled + n).min(self.buf.len());
    }

    /// Advances framing over the buffered bytes.
    pub fn step(&mut self, limits: &HttpLimits) -> Result<Step, Error> {
        if self.ready {
            return Ok(Step::Ready);
        }
        let head = match &self.head {
            Some(head) => head,
            None => {
                let pending = &self.buf[self.start..self.filled];
                if pending.is_empty() {
                    return Ok(need(Phase::Idle, false));
                }
                let Some(head) = parse_head(pending, limits)? else {
                    return Ok(need(Phase::Head, false));
                };
                self.chunk_pos = self.start + head.len;
                self.decoder.reset();
                self.body.clear();
                self.continue_sent = false;
                self.head.insert(head)
            }
        };
        let body_start = self.start + head.len;
        let complete = match head.framing {
            BodyFraming::None => true,
            BodyFraming::ContentLength(n) => (self.filled - body_start) as u64 >= n,
            BodyFraming::Chunked => {
                debug_assert_eq!(self.chunk_pos, body_start);
                let input = &self.buf[self.chunk_pos..self.filled];
                let used = self
                    .decoder
                    .decode(input, &mut self.body, limits.body_max_bytes)?;
                // Cut the decoded framing out so the buffer never holds more than the head and
                // one read of chunked input; what follows a finished body is the next request.
                self.buf
                    .copy_within(self.chunk_pos + used..self.filled, self.chunk_pos);
                self.filled -= used;
                self.decoder.is_done()
            }
        };
        if complete {
            self.ready = true;
            return Ok(Step::Ready);
        }
        let send_continue = head.expect_continue && !self.continue_sent;
        self.continue_sent = true;
        Ok(need(Phase::Body, send_continue))
    }

    /// The head of the current request, once parsed.
    pub fn head(&self) -> Option<&Head> {
        self.head.as_ref()
    }

    /// The ready request, borrowing the buffers; `None` unless [`Self::step`] said `Ready`.
    pub fn request<'a>(&'a mut self, slots: &'a mut HeaderSlots<'a>) -> Option<Request<'a>> {
        if !self.ready {
            return None;
        }
        let head = self.head.as_ref()?;
        let (before, after) = self.buf.split_at_mut(self.start + head.len);
        let head_bytes: &'a [u8] = &before[self.start..];
        for (slot, h) in slots.iter_mut().zip(head.headers()) {
            let name = std::str::from_utf8(h.name.slice(head_bytes)).unwrap_or_default();
            *slot = (name, h.value.slice(head_bytes));
        }
        let slots: &'a HeaderSlots<'a> = slots;
        let body: &'a mut [u8] = match head.framing {
            BodyFraming::None => &mut [],
            BodyFraming::ContentLength(n) => after.get_mut(..n as usize)?,
            BodyFraming::Chunked => &mut self.body[..],
        };
        Some(Request {
            method: head.method,
            path: head.path_str(head_bytes),
            query: head.query_str(head_bytes),
            headers: &slots[..head.headers().len()],
            body,
        })
    }

    /// Drops the answered request from the buffers and shrinks them if it was a large one.
    pub fn finish(&mut self) {
        let Some(head) = self.head.take() else {
            return;
        };
        let body_len = match head.framing {
            BodyFraming::ContentLength(n) => n as usize,
            _ => 0,
        };
        self.start = (self.start + head.len + body_len).min(self.filled);
        self.ready = false;
        self.body.clear();
        if self.body.capacity() > BUF_IDLE_BYTES {
            self.body.shrink_to(BUF_IDLE_BYTES);
        }
        if self.start == self.filled {
            self.start = 0;
            self.filled = 0;
        }
        let pending = self.filled - self.start;
        if self.buf.len() > BUF_IDLE_BYTES && pending <= BUF_IDLE_BYTES {
            self.buf.copy_within(self.start..self.filled, 0);
            self.start = 0;
            self.filled = pending;
            self.buf.truncate(BUF_IDLE_BYTES);
            self.buf.shrink_to_fit();
        }
    }

    /// Whether any byte of a not yet answered request is buffered.
    pub fn has_partial_request(&self) -> bool {
        self.head.is_some() || self.filled > self.start
    }

    /// Bytes held by the buffers (for checks of the shrinking policy).
    pub fn capacity_bytes(&self) -> usize {
        self.buf.capacity() + self.body.capacity()
    }

    /// Length of the read buffer (for checks of its bound).
    pub fn buffer_len(&self) -> usize {
        self.buf.len()
    }
}

fn need(phase: Phase, send_continue: bool) -> Step {
    Step::NeedMore {
        phase,
        send_continue,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::test_limits;

    use crate::http::replay::{replay as drive, ReplayEnd as End, Replayed as Seen};

    fn drive_whole(raw: &[u8]) -> (Vec<Seen>, End) {
        drive(&[raw], &test_limits())
    }

    const GET: &[u8] = b"GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n";
    const POST: &[u8] = b"POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
    const CHUNKED: &[u8] =
        b"PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n";

    fn cases() -> Vec<Vec<u8>> {
        let big_head = {
            let mut v = b"GET / HTTP/1.1\r\nX: ".to_vec();
            v.resize(test_limits().head_max_bytes + 10, b'a');
            v
        };
        let big_chunked = format!(
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n",
            test_limits().body_max_bytes + 1
        );
        vec![
            GET.to_vec(),
            POST.to_vec(),
            CHUNKED.to_vec(),
            b"GET /old HTTP/1.0\r\n\r\nGET /ignored HTTP/1.0\r\n\r\n".to_vec(),
            b"HEAD /h HTTP/1.0\r\nConnection: keep-alive\r\n\r\n".to_vec(),
            [GET, POST].concat(),
            [POST, CHUNKED, GET].concat(),
            [CHUNKED, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n"].concat(),
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello"
                .to_vec(),
            [GET, b"POST / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n"].concat(),
            [POST, b"GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n"].concat(),
            b"PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n".to_vec(),
            big_head,
            big_chunked.into_bytes(),
            b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort".to_vec(),
            b"GET /partial HTT".to_vec(),
        ]
    }

    #[test]
    fn whole_inputs_give_the_expected_requests() {
        let (seen, end) = drive_whole(&[POST, CHUNKED, GET].concat());
        assert_eq!(end, End::Waiting(Phase::Idle));
        let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(paths, ["/b", "/c", "/a"]);
        assert_eq!(seen[0].body, b"hello");
        assert_eq!(seen[1].body, b"abcde");
        assert_eq!(seen[2].query, "x=1");
        assert_eq!(seen[2].headers, [("Host".to_string(), b"h".to_vec())]);
        assert!(seen[2].body.is_empty());

        let (seen, end) = drive_whole(b"GET /old HTTP/1.0\r\n\r\nGET /ignored HTTP/1.0\r\n\r\n");
        assert_eq!((seen.len(), end), (1, End::Closed));

        let (seen, end) =
            drive_whole(&[GET, b"POST / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n"].concat());
        assert_eq!(
            seen.len(),
            1,
            "requests before a bad one are still answered"
        );
        assert!(matches!(end, End::Failed(413, _)));

        assert_eq!(
            drive_whole(b"GET /partial HTT").1,
            End::Waiting(Phase::Head)
        );
        let short = b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort";
        assert_eq!(drive_whole(short).1, End::Waiting(Phase::Body));
    }

    #[test]
    fn split_at_every_byte_gives_the_same_outcome() {
        let limits = test_limits();
        for raw in cases() {
            let whole = drive(&[&raw], &limits);
            for split in 0..=raw.len() {
                let (a, b) = raw.split_at(split);
                assert_eq!(
                    drive(&[a, b], &limits),
                    whole,
                    "{:?} split at {split}",
                    String::from_utf8_lossy(&raw)
                );
            }
        }
    }

    #[test]
    fn split_bodies_larger_than_the_idle_buffer() {
        // Bodies past BUF_IDLE_BYTES make the reader grow, compact and shrink between requests.
        let limits = HttpLimits {
            body_max_bytes: 20_000,
            ..test_limits()
        };
        let body = "q".repeat(12_000);
        let post = format!(
            "POST /big HTTP/1.1\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let chunked = format!(
            "POST /big HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
            body.len()
        );
        for raw in [
            [post.as_bytes(), GET, post.as_bytes(), POST].concat(),
            [chunked.as_bytes(), POST, chunked.as_bytes(), GET].concat(),
        ] {
            let whole = drive(&[&raw], &limits);
            assert_eq!(whole.0.len(), 4);
            assert_eq!(whole.0[2].body, body.as_bytes());
            assert_eq!(whole.1, End::Waiting(Phase::Idle));
            for split in (0..=raw.len()).step_by(7) {
                let (a, b) = raw.split_at(split);
                assert_eq!(drive(&[a, b], &limits), whole, "split at {split}");
            }
        }
    }

    #[test]
    fn byte_at_a_time_gives_the_same_outcome() {
        let limits = test_limits();
        for raw in cases() {
            let pieces: Vec<&[u8]> = raw.chunks(1).collect();
            assert_eq!(drive(&pieces, &limits), drive(&[&raw], &limits));
        }
    }

    /// Random edits of the cases: nothing panics, and splitting never changes the outcome.
    #[test]
    fn mutated_inputs_never_panic_and_split_consistently() {
        let limits = test_limits();
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move || {
            // xorshift64: deterministic, so a failure reproduces.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let bases = cases();
        let alphabet = b"\r\n :;0aZ\t\x00\xff";
        for round in 0..3000 {
            let mut raw = bases[round % bases.len()].clone();
            for _ in 0..=next() % 4 {
                let pos = next() as usize % (raw.len() + 1);
                let byte = alphabet[next() as usize % alphabet.len()];
                match next() % 3 {
                    0 if pos < raw.len() => raw[pos] = byte,
                    1 if pos < raw.len() => {
                        raw.remove(pos);
                    }
                    _ => raw.insert(pos, byte),
                }
            }
            let whole = drive(&[&raw], &limits);
            let split = next() as usize % (raw.len() + 1);
            let (a, b) = raw.split_at(split);
            assert_eq!(
                drive(&[a, b], &limits),
                whole,
                "round {round}: {:?} split at {split}",
                String::from_utf8_lossy(&raw)
            );
        }
    }

    #[test]
    fn large_body_grows_the_buffer_then_it_shrinks_back() {
        let limits = HttpLimits {
            body_max_bytes: 64 * 1024,
            ..test_limits()
        };
        let body = vec![b'z'; limits.body_max_bytes];
        let mut raw =
            format!("POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        raw.extend_from_slice(&body);
        let mut r = RequestReader::new();
        let head_len = raw.len() - body.len();
        r.spare(&limits)[..head_len].copy_from_slice(&raw[..head_len]);
        r.commit(head_len);
        assert!(matches!(r.step(&limits), Ok(Step::NeedMore { .. })));
        assert!(
            r.spare(&limits).len() <= BUF_IDLE_BYTES,
            "an announced body is not allocated before it arrives"
        );
        let mut rest = &raw[head_len..];
        while !rest.is_empty() {
            let spare = r.spare(&limits);
            let n = spare.len().min(rest.len());
            spare[..n].copy_from_slice(&rest[..n]);
            r.commit(n);
            rest = &rest[n..];
        }
        assert_eq!(r.step(&limits).unwrap(), Step::Ready);
        assert!(
            r.buf.len() >= raw.len(),
            "the body is kept in place after its head"
        );
        let mut slots = empty_header_slots();
        assert_eq!(r.request(&mut slots).unwrap().body, &body[..]);
        r.finish();
        assert_eq!(r.buf.capacity(), BUF_IDLE_BYTES);
        assert!(!r.has_partial_request());
    }

    #[test]
    fn continue_is_asked_for_once_and_only_while_the_body_is_missing() {
        let limits = test_limits();
        let mut r = RequestReader::new();
        let feed = |r: &mut RequestReader, bytes: &[u8]| {
            r.spare(&limits)[..bytes.len()].copy_from_slice(bytes);
            r.commit(bytes.len());
        };
        feed(
            &mut r,
            b"PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
        );
        let body_wait = |send_continue| Step::NeedMore {
            phase: Phase::Body,
            send_continue,
        };
        assert_eq!(r.step(&limits).unwrap(), body_wait(true));
        assert_eq!(r.step(&limits).unwrap(), body_wait(false));
        feed(&mut r, b"o");
        assert_eq!(r.step(&limits).unwrap(), body_wait(false));
        feed(&mut r, b"k");
        assert_eq!(r.step(&limits).unwrap(), Step::Ready);
        r.finish();
        // Body already buffered with the head: nothing to ask for.
        feed(
            &mut r,
            b"PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
        );
        assert_eq!(r.step(&limits).unwrap(), Step::Ready);
    }
}
