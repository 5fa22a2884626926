//! Request heads: `httparse` over the connection buffer, kept as byte offsets so nothing is copied
//! and the buffer can be borrowed mutably for the body afterwards.
//!
//! Framing is decided here, strictly: whatever a proxy in front of us could read differently
//! (both Content-Length and Transfer-Encoding, disagreeing lengths, folded lines, unknown codings)
//! is refused, because the cost of a refused odd client is far lower than a smuggled request.

use super::{Error, HttpLimits, Method};

/// Most header fields any request may carry, whatever the configured limit says. Sizes the stack
/// array `httparse` fills, so the parser allocates nothing.
pub const HEADERS_MAX_COUNT: usize = 100;

/// A byte range inside the request's head; `u32` keeps [`Head`] small (heads are far below 4 GiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    /// The bytes this span covers in `head`; empty when out of range rather than panicking.
    pub fn slice<'b>(&self, head: &'b [u8]) -> &'b [u8] {
        head.get(self.start as usize..self.end as usize)
            .unwrap_or_default()
    }

    fn of(sub: &[u8], whole: &[u8]) -> Span {
        // Both come from the same buffer (httparse hands out sub-slices), so the difference of
        // the addresses is the offset.
        let start = (sub.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize);
        Span {
            start: start as u32,
            end: (start + sub.len()) as u32,
        }
    }
}

/// One header field: where its name and value sit in the head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeaderSpan {
    pub name: Span,
    pub value: Span,
}

/// How the body that follows a head is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body.
    None,
    /// Exactly this many bytes follow the head.
    ContentLength(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A parsed request head; every slice is an offset into the bytes given to [`parse_head`].
#[derive(Debug, Clone)]
pub struct Head {
    pub method: Method,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version_minor: u8,
    /// Path without the query; still percent-encoded.
    pub path: Span,
    /// Query without the `?`; empty span when absent.
    pub query: Span,
    headers: [HeaderSpan; HEADERS_MAX_COUNT],
    header_count: usize,
    /// Bytes from the start of the buffer to the end of the blank line closing the head.
    pub len: usize,
    pub framing: BodyFraming,
    /// Whether the connection may stay open after this request, per version and `Connection`.
    pub keep_alive: bool,
    /// `Expect: 100-continue` on an HTTP/1.1 request.
    pub expect_continue: bool,
}

impl Head {
    /// The header fields, in arrival order.
    pub fn headers(&self) -> &[HeaderSpan] {
        &self.headers[..self.header_count]
    }

    /// The path as text; the parser only accepts visible ASCII, so this never loses anything.
    pub fn path_str<'b>(&self, head: &'b [u8]) -> &'b str {
        std::str::from_utf8(self.path.slice(head)).unwrap_or_default()
    }

    /// The raw query as text (visible ASCII like the path).
    pub fn query_str<'b>(&self, head: &'b [u8]) -> &'b str {
        std::str::from_utf8(self.query.slice(head)).unwrap_or_default()
    }
}

/// Parses a request head at the start of `buf`.
///
/// `Ok(None)` means more bytes are needed. Errors are final: the connection answers
/// [`Error::status`] and closes.
pub fn parse_head(buf: &[u8], limits: &HttpLimits) -> Result<Option<Head>, Error> {
    let headers_limit = limits.headers_max_count.min(HEADERS_MAX_COUNT);
    // Only ever look at `head_max_bytes`: a head still incomplete there is too large, and the
    // cost of re-parsing a slowly arriving head stays bounded.
    let window = &buf[..buf.len().min(limits.head_max_bytes)];
    // httparse accepts a bare LF as a line end (RFC 9112 §2.2 allows it); a proxy in front of
    // us may not, and then the two disagree on where lines and the head end. So httparse only
    // sees the bytes before the first bare LF: if the head completes there, the LF belongs to
    // the body; if not, the head has a bare LF and is refused. Cutting at the first one keeps
    // the answer the same for every prefix, so it does not depend on how the bytes arrive.
    let bare_lf = first_bare_lf(window);
    let parsed = &window[..bare_lf.unwrap_or(window.len())];
    let mut raw = [httparse::EMPTY_HEADER; HEADERS_MAX_COUNT];
    let mut req = httparse::Request::new(&mut raw[..headers_limit]);
    let len = match req.parse(parsed) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if bare_lf.is_some() => return Err(Error::BareLf),
        Ok(httparse::Status::Partial) if window.len() >= limits.head_max_bytes => {
            return Err(Error::HeadTooLarge {
                limit: limits.head_max_bytes,
            })
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Error::TooManyHeaders {
                limit: headers_limit,
            })
        }
        Err(httparse::Error::HeaderName) if fails_at_obs_fold(parsed, headers_limit) => {
            return Err(Error::ObsFold)
        }
        Err(e) => return Err(Error::Malformed(e)),
    };
    // httparse fills these on Complete; treat absence as malformed instead of trusting it.
    let (Some(method), Some(target), Some(version_minor)) = (req.method, req.path, req.version)
    else {
        return Err(Error::Malformed(httparse::Error::Token));
    };
    // httparse lets obs-text (bytes >= 0x80) into the target; our routes are ASCII only.
    if !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::InvalidTarget);
    }
    let target_span = Span::of(target.as_bytes(), buf);
    let (path, query) = match target.find('?') {
        Some(q) => (
            Span {
                start: target_span.start,
                end: target_span.start + q as u32,
            },
            Span {
                start: target_span.start + q as u32 + 1,
                end: target_span.end,
            },
        ),
        None => (
            target_span,
            Span {
                start: target_span.end,
                end: target_span.end,
            },
        ),
    };

    let mut head = Head {
        method: method_of(method),
        version_minor,
        path,
        query,
        headers: [HeaderSpan::default(); HEADERS_MAX_COUNT],
        header_count: req.headers.len(),
        len,
        framing: BodyFraming::None,
        keep_alive: false,
        expect_continue: false,
    };
    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    let (mut saw_close, mut saw_keep_alive, mut saw_host) = (false, false, false);
    for (slot, h) in head.headers.iter_mut().zip(req.headers.iter()) {
        *slot = HeaderSpan {
            name: Span::of(h.name.as_bytes(), buf),
            value: Span::of(h.value, buf),
        };
        let value = h.value.trim_ascii();
        if h.name.eq_ignore_ascii_case("content-length") {
            // Even identical duplicates are refused: RFC 9110 §8.6 allows either, and a proxy
            // that folds them into `5, 5` or keeps only one must never see a different body.
            if content_length.is_some() {
                return Err(Error::DuplicateContentLength);
            }
            content_length = Some(parse_content_length(value)?);
        } else if h.name.eq_ignore_ascii_case("host") {
            // RFC 9112 §3.2: more than one Host is a 400. A missing Host is tolerated: routing
            // does not use it, and refusing it would break raw clients for no safety gain.
            if saw_host {
                return Err(Error::DuplicateHost);
            }
            saw_host = true;
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // A second Transfer-Encoding field would mean `chunked, chunked` or worse.
            if chunked || !value.eq_ignore_ascii_case(b"chunked") {
                return Err(Error::UnsupportedTransferEncoding);
            }
            chunked = true;
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                saw_close |= token.eq_ignore_ascii_case(b"close");
                saw_keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if h.name.eq_ignore_ascii_case("expect") {
            // RFC 9110 §10.1.1: a server must ignore 100-continue from HTTP/1.0 clients.
            head.expect_continue =
                version_minor >= 1 && value.eq_ignore_ascii_case(b"100-continue");
        }
    }
    // `close` wins over anything; HTTP/1.0 stays open only when asked to.
    head.keep_alive = !saw_close && (version_minor >= 1 || saw_keep_alive);
    head.framing = match (content_length, chunked) {
        (Some(_), true) => return Err(Error::ContentLengthWithTransferEncoding),
        (Some(n), false) if n > limits.body_max_bytes as u64 => {
            return Err(Error::BodyTooLarge {
                size: n,
                limit: limits.body_max_bytes,
            })
        }
        (Some(0), false) | (None, false) => BodyFraming::None,
        (Some(n), false) => BodyFraming::ContentLength(n),
        (None, true) => {
            // Chunked framing is an HTTP/1.1 feature: an HTTP/1.0 hop may not have understood
            // it, so answer and close (RFC 9112 §6.1).
            if version_minor == 0 {
                head.keep_alive = false;
            }
            BodyFraming::Chunked
        }
    };
    Ok(Some(head))
}

fn method_of(token: &str) -> Method {
    // Methods are case-sensitive (RFC 9110 §9.1).
    match token {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "PATCH" => Method::Patch,
        "DELETE" => Method::Delete,
        "OPTIONS" => Method::Options,
        _ => Method::Other,
    }
}

/// Only plain decimal digits: no sign, no list (`5, 5`), nothing that overflows `u64`.
fn parse_content_length(value: &[u8]) -> Result<u64, Error> {
    if value.is_empty() {
        return Err(Error::InvalidContentLength);
    }
    value.iter().try_fold(0u64, |n, &b| {
        if !b.is_ascii_digit() {
            return Err(Error::InvalidContentLength);
        }
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or(Error::InvalidContentLength)
    })
}

/// Offset of the first LF not preceded by CR, if any.
fn first_bare_lf(buf: &[u8]) -> Option<usize> {
    buf.iter()
        .enumerate()
        .find(|&(i, &b)| b == b'\n' && (i == 0 || buf[i - 1] != b'\r'))
        .map(|(i, _)| i)
}

/// Whether httparse refused `head` because of obsolete line folding: a line starting with
/// whitespace, with everything before it a valid unfinished head. Only consulted on the error
/// path, so the second parse costs nothing on good requests.
fn fails_at_obs_fold(head: &[u8], headers_limit: usize) -> bool {
    let Some(fold) = head
        .windows(2)
        .position(|w| w[0] == b'\n' && (w[1] == b' ' || w[1] == b'\t'))
    else {
        return false;
    };
    let mut raw = [httparse::EMPTY_HEADER; HEADERS_MAX_COUNT];
    let mut req = httparse::Request::new(&mut raw[..headers_limit]);
    matches!(req.parse(&head[..=fold]), Ok(httparse::Status::Partial))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::test_limits;

    fn parse(raw: &[u8]) -> Result<Option<Head>, Error> {
        parse_head(raw, &test_limits())
    }

    fn head(raw: &[u8]) -> Head {
        match parse(raw) {
            Ok(Some(h)) => h,
            other => panic!(
                "expected a head for {:?}, got {other:?}",
                String::from_utf8_lossy(raw)
            ),
        }
    }

    fn status(raw: &[u8]) -> u16 {
        match parse(raw) {
            Err(e) => e.status(),
            other => panic!(
                "expected an error for {:?}, got {other:?}",
                String::from_utf8_lossy(raw)
            ),
        }
    }

    #[test]
    fn get_with_query_and_headers() {
        let raw =
            b"GET /collections/x/points?wait=true&a=1 HTTP/1.1\r\nHost: h\r\nX-A: b c\r\n\r\n";
        let h = head(raw);
        assert_eq!(h.method, Method::Get);
        assert_eq!(h.version_minor, 1);
        assert_eq!(h.path_str(raw), "/collections/x/points");
        assert_eq!(h.query_str(raw), "wait=true&a=1");
        assert_eq!(h.len, raw.len());
        assert_eq!(h.framing, BodyFraming::None);
        assert!(h.keep_alive);
        assert!(!h.expect_continue);
        let names: Vec<&[u8]> = h.headers().iter().map(|s| s.name.slice(raw)).collect();
        assert_eq!(names, [&b"Host"[..], b"X-A"]);
        assert_eq!(h.headers()[1].value.slice(raw), b"b c");
    }

    #[test]
    fn path_without_query_has_empty_query() {
        let raw = b"DELETE /a HTTP/1.1\r\n\r\n";
        let h = head(raw);
        assert_eq!(h.method, Method::Delete);
        assert_eq!((h.path_str(raw), h.query_str(raw)), ("/a", ""));
        let raw = b"GET /a? HTTP/1.1\r\n\r\n";
        assert_eq!(head(raw).query_str(raw), "");
    }

    #[test]
    fn methods() {
        for (token, m) in [
            ("GET", Method::Get),
            ("HEAD", Method::Head),
            ("POST", Method::Post),
            ("PUT", Method::Put),
            ("PATCH", Method::Patch),
            ("DELETE", Method::Delete),
            ("OPTIONS", Method::Options),
            ("BREW", Method::Other),
            ("get", Method::Other),
        ] {
            let raw = format!("{token} / HTTP/1.1\r\n\r\n");
            assert_eq!(head(raw.as_bytes()).method, m, "{token}");
        }
    }

    #[test]
    fn partial_heads_need_more() {
        for raw in [
            &b""[..],
            b"GE",
            b"GET / HTTP/1.1\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\n\r",
        ] {
            assert!(matches!(parse(raw), Ok(None)), "{raw:?}");
        }
    }

    #[test]
    fn post_with_content_length() {
        let h = head(b"POST /p HTTP/1.1\r\nContent-Length: 12\r\n\r\n");
        assert_eq!(h.framing, BodyFraming::ContentLength(12));
        let h = head(b"POST /p HTTP/1.1\r\ncontent-length:  0 \r\n\r\n");
        assert_eq!(h.framing, BodyFraming::None);
    }

    #[test]
    fn chunked_framing() {
        let h = head(b"POST /p HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n");
        assert_eq!(h.framing, BodyFraming::Chunked);
        assert!(h.keep_alive);
        let h = head(
            b"POST /p HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n",
        );
        assert_eq!(h.framing, BodyFraming::Chunked);
        assert!(
            !h.keep_alive,
            "chunked from HTTP/1.0 closes after the answer"
        );
    }

    #[test]
    fn keep_alive_rules() {
        assert!(head(b"GET / HTTP/1.1\r\n\r\n").keep_alive);
        assert!(!head(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive);
        assert!(!head(b"GET / HTTP/1.1\r\nConnection: Keep-Alive, CLOSE\r\n\r\n").keep_alive);
        assert!(!head(b"GET / HTTP/1.0\r\n\r\n").keep_alive);
        assert!(head(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
        assert!(
            !head(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n")
                .keep_alive
        );
        assert!(head(b"GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\n").keep_alive);
    }

    #[test]
    fn expect_continue_only_on_http11() {
        assert!(
            head(b"PUT / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n")
                .expect_continue
        );
        assert!(
            !head(b"PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n")
                .expect_continue
        );
        assert!(!head(b"PUT / HTTP/1.1\r\nExpect: something\r\n\r\n").expect_continue);
    }

    #[test]
    fn leading_empty_lines_are_skipped() {
        let raw = b"\r\nGET /x HTTP/1.1\r\n\r\n";
        let h = head(raw);
        assert_eq!(h.path_str(raw), "/x");
        assert_eq!(h.len, raw.len());
    }

    #[test]
    fn framing_rejections_are_400() {
        for raw in [
            &b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: \r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunkedx\r\n\r\n",
            b"GET / HTTP/1.1\r\nX-A: a\r\n  folded\r\n\r\n",
            b"GET / HTTP/1.1\r\nX-A: a\r\n\tfolded\r\n\r\n",
            b"GET /\xc3\xa9 HTTP/1.1\r\n\r\n",
            b"GET /a\x01b HTTP/1.1\r\n\r\n",
            b"G\x01T / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/2.0\r\n\r\n",
            b"GET / FOO/1.1\r\n\r\n",
            b"GET  HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n",
            b"GET / HTTP/1.1\nHost: a\n\n",
            b"GET / HTTP/1.1\r\nHost: a\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\n\n",
            b"\nGET / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\rHost: a\r\n\r\n",
            b"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",
            b"GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n",
            b"GET / HTTP/1.1\r\nX: a\x7fb\r\n\r\n",
            b"GET / HTTP/1.1\r\nX\xff: a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
            b"GET / HTTP/1.1\r\n Host: a\r\n\r\n",
            b"GET / HTTP/1.1 \r\n\r\n",
            b"GET /\x7f HTTP/1.1\r\n\r\n",
            b"GE\xc3\x89T / HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(status(raw), 400, "{:?}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn specific_rejection_kinds() {
        let cl_te = b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert!(matches!(
            parse(cl_te),
            Err(Error::ContentLengthWithTransferEncoding)
        ));
        let fold = b"GET / HTTP/1.1\r\nX-A: a\r\n folded\r\n\r\n";
        assert!(matches!(parse(fold), Err(Error::ObsFold)));
        let two = b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
        assert!(matches!(parse(two), Err(Error::DuplicateContentLength)));
        let lf = b"GET / HTTP/1.1\r\nHost: a\n\r\n";
        assert!(matches!(parse(lf), Err(Error::BareLf)));
        let target = b"GET /\xc3\xa9 HTTP/1.1\r\n\r\n";
        assert!(matches!(parse(target), Err(Error::InvalidTarget)));
    }

    #[test]
    fn bare_lf_is_refused_in_the_head_only() {
        // A partial head with a bare LF is refused at once, not when it completes.
        assert!(matches!(parse(b"GET / HTTP/1.1\nHo"), Err(Error::BareLf)));
        // In the body, a bare LF is data.
        let raw = b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\na\nb";
        assert_eq!(head(raw).len, raw.len() - 3);
        // The leading empty line RFC 9112 §2.2 lets us skip must be a CRLF too.
        assert_eq!(head(b"\r\nGET / HTTP/1.1\r\n\r\n").method, Method::Get);
    }

    #[test]
    fn body_over_limit_is_413_before_reading_it() {
        let limit = test_limits().body_max_bytes;
        let raw = format!("POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n", limit + 1);
        let err = parse(raw.as_bytes()).unwrap_err();
        assert_eq!(err.status(), 413);
        assert_eq!(
            err.to_string(),
            format!("Request body too large: {} bytes, limit {limit}", limit + 1)
        );
        let raw = format!("POST / HTTP/1.1\r\nContent-Length: {limit}\r\n\r\n");
        assert_eq!(
            head(raw.as_bytes()).framing,
            BodyFraming::ContentLength(limit as u64)
        );
    }

    #[test]
    fn head_too_large_is_431() {
        let limits = test_limits();
        let mut raw = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
        raw.resize(limits.head_max_bytes - 1, b'a');
        assert!(
            matches!(parse(&raw), Ok(None)),
            "one byte short of the limit still waits"
        );
        raw.push(b'a');
        assert!(matches!(parse(&raw), Err(Error::HeadTooLarge { .. })));
        assert_eq!(status(&raw), 431);
        // A complete head longer than the limit is refused too.
        raw.extend_from_slice(b"\r\n\r\n");
        assert_eq!(status(&raw), 431);
    }

    #[test]
    fn too_many_headers_is_431() {
        let max = test_limits().headers_max_count;
        let mut raw = String::from("GET / HTTP/1.1\r\n");
        for i in 0..max {
            raw.push_str(&format!("X-{i}: v\r\n"));
        }
        let at_limit = format!("{raw}\r\n");
        assert_eq!(head(at_limit.as_bytes()).headers().len(), max);
        raw.push_str("X-last: v\r\n\r\n");
        assert!(matches!(
            parse(raw.as_bytes()),
            Err(Error::TooManyHeaders { .. })
        ));
    }

    #[test]
    fn configured_header_count_is_capped_by_the_array() {
        let limits = HttpLimits {
            headers_max_count: 10_000,
            head_max_bytes: 64 * 1024,
            ..test_limits()
        };
        let mut raw = String::from("GET / HTTP/1.1\r\n");
        for i in 0..=HEADERS_MAX_COUNT {
            raw.push_str(&format!("X-{i}: v\r\n"));
        }
        raw.push_str("\r\n");
        assert!(matches!(
            parse_head(raw.as_bytes(), &limits),
            Err(Error::TooManyHeaders {
                limit: HEADERS_MAX_COUNT
            })
        ));
    }
}
