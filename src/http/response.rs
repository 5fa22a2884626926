//! Response framing into the connection's reused output buffer, and Qdrant's error envelope.

use std::io::Write;

/// The interim answer to `Expect: 100-continue`.
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Content type of every body this layer writes itself.
pub const JSON: &str = "application/json";

/// How the response ends the exchange, as written in its `connection` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    KeepAlive,
    Close,
}

/// Appends one full response to `out`: status line, headers and (unless `head_only`) `body`.
///
/// `head_only` is for `HEAD` requests: the headers still announce the real length.
pub fn write_response(
    out: &mut Vec<u8>,
    status: u16,
    content_type: &str,
    body: &[u8],
    head_only: bool,
    persistence: Persistence,
) {
    if write_head(out, status, content_type, body.len() as u64, persistence) && !head_only {
        out.extend_from_slice(body);
    }
}

/// Appends the status line and headers of a response whose body of `len` bytes follows
/// separately; returns whether the status carries a body at all.
pub fn write_head(
    out: &mut Vec<u8>,
    status: u16,
    content_type: &str,
    len: u64,
    persistence: Persistence,
) -> bool {
    // Writes into a Vec cannot fail; the results are ignored for that reason only.
    let _ = write!(out, "HTTP/1.1 {} {}\r\n", status, reason(status));
    // 1xx and 204 carry no content at all (RFC 9110 §8.6); 304 keeps no body either.
    let no_content = status < 200 || status == 204;
    if !no_content {
        let _ = write!(
            out,
            "content-type: {content_type}\r\ncontent-length: {len}\r\n"
        );
    }
    out.extend_from_slice(match persistence {
        Persistence::KeepAlive => b"connection: keep-alive\r\n\r\n",
        Persistence::Close => b"connection: close\r\n\r\n",
    });
    !no_content && status != 304
}

/// Writes Qdrant's error envelope: `{"status":{"error":"<msg>"},"time":<seconds>}`.
pub fn error_body(out: &mut Vec<u8>, msg: &str, time_s: f64) {
    out.extend_from_slice(b"{\"status\":{\"error\":");
    // serde_json does the escaping; serializing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, msg);
    out.extend_from_slice(b"},\"time\":");
    // JSON has no NaN/inf; a clock glitch must not produce an unparsable envelope.
    let time_s = if time_s.is_finite() { time_s } else { 0.0 };
    let _ = serde_json::to_writer(&mut *out, &time_s);
    out.push(b'}');
}

/// Appends a complete error response (Qdrant envelope, always `connection: close`).
///
/// `scratch` is a reused buffer for the envelope, so the response can announce its length.
pub fn write_error(out: &mut Vec<u8>, scratch: &mut Vec<u8>, status: u16, msg: &str) {
    scratch.clear();
    error_body(scratch, msg, 0.0);
    write_response(out, status, JSON, scratch, false, Persistence::Close);
}

/// Reason phrase for the status codes this server sends; clients ignore it, humans read it.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(out: &[u8]) -> &str {
        std::str::from_utf8(out).unwrap()
    }

    #[test]
    fn ok_response_keep_alive() {
        let mut out = Vec::new();
        write_response(&mut out, 200, JSON, b"{}", false, Persistence::KeepAlive);
        assert_eq!(
            text(&out),
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\
             connection: keep-alive\r\n\r\n{}"
        );
    }

    #[test]
    fn head_response_has_length_but_no_body() {
        let mut out = Vec::new();
        write_response(&mut out, 404, JSON, b"abcde", true, Persistence::Close);
        assert_eq!(
            text(&out),
            "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 5\r\n\
             connection: close\r\n\r\n"
        );
    }

    #[test]
    fn no_content_has_no_length() {
        let mut out = Vec::new();
        write_response(&mut out, 204, JSON, b"", false, Persistence::KeepAlive);
        assert_eq!(
            text(&out),
            "HTTP/1.1 204 No Content\r\nconnection: keep-alive\r\n\r\n"
        );
    }

    #[test]
    fn error_envelope_is_exact_and_escaped() {
        let mut out = Vec::new();
        error_body(&mut out, "bad \"x\"\n\\", 0.5);
        assert_eq!(
            text(&out),
            r#"{"status":{"error":"bad \"x\"\n\\"},"time":0.5}"#
        );
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["status"]["error"], "bad \"x\"\n\\");
    }

    #[test]
    fn error_envelope_survives_non_finite_time() {
        let mut out = Vec::new();
        error_body(&mut out, "x", f64::NAN);
        assert_eq!(text(&out), r#"{"status":{"error":"x"},"time":0.0}"#);
    }

    #[test]
    fn error_response_closes() {
        let (mut out, mut scratch) = (Vec::new(), Vec::new());
        write_error(&mut out, &mut scratch, 413, "too big");
        let s = text(&out);
        assert!(s.starts_with("HTTP/1.1 413 Content Too Large\r\n"));
        assert!(s.contains("connection: close\r\n"));
        assert!(s.ends_with(r#"{"status":{"error":"too big"},"time":0.0}"#));
    }
}
