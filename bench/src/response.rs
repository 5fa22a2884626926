//! A minimal HTTP/1.1 response parser: status line, `content-length`, `transfer-encoding:
//! chunked`, `connection: close`. It only frames responses; bodies are skipped, not decoded,
//! because the load loop needs the status and where the next response starts.

/// Largest response head accepted, in bytes; past it the peer is not speaking HTTP to us.
pub const HEAD_MAX_BYTES: usize = 64 * 1024;
/// Longest chunk-size line (hex size plus extensions), in bytes.
const CHUNK_LINE_MAX_BYTES: usize = 1024;

/// One framed response at the front of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framed {
    pub status: u16,
    /// Bytes of head and body: where the next response starts.
    pub len: usize,
    /// The server will close the connection after this response.
    pub close: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    HeadTooLarge,
    BadStatusLine,
    BadHeader,
    BadContentLength,
    BadChunk,
    /// Neither a length nor chunked: the body would run until close, which a pipelining
    /// client cannot frame.
    UnframedBody,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            ParseError::HeadTooLarge => "response head too large",
            ParseError::BadStatusLine => "bad status line",
            ParseError::BadHeader => "bad header line",
            ParseError::BadContentLength => "bad content-length",
            ParseError::BadChunk => "bad chunked encoding",
            ParseError::UnframedBody => "response body has no length and is not chunked",
        };
        f.write_str(s)
    }
}

/// Frames the response at the start of `buf`: `Ok(None)` means more bytes are needed.
pub fn frame(buf: &[u8]) -> Result<Option<Framed>, ParseError> {
    let Some(head_end) = find(buf, b"\r\n\r\n") else {
        if buf.len() > HEAD_MAX_BYTES {
            return Err(ParseError::HeadTooLarge);
        }
        return Ok(None);
    };
    if head_end > HEAD_MAX_BYTES {
        return Err(ParseError::HeadTooLarge);
    }
    let head = &buf[..head_end];
    let mut lines = head.split(|&b| b == b'\n').map(trim_cr);
    let status_line = lines.next().ok_or(ParseError::BadStatusLine)?;
    let (status, http10) = parse_status_line(status_line)?;
    let mut content_length: Option<usize> = None;
    let mut chunked = false;
    let mut close = http10;
    for line in lines {
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(ParseError::BadHeader)?;
        let name = &line[..colon];
        let value = trim_ows(&line[colon + 1..]);
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = parse_decimal(value).ok_or(ParseError::BadContentLength)?;
            if content_length.is_some_and(|prev| prev != n) {
                return Err(ParseError::BadContentLength);
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            // The last coding decides the framing (RFC 9112 §6.3).
            let last = value.rsplit(|&b| b == b',').next().map(trim_ows);
            chunked = last.is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(|&b| b == b',').map(trim_ows) {
                if token.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    close = false;
                }
            }
        }
    }
    let body_start = head_end + 4;
    // 1xx, 204 and 304 never carry a body.
    if (100..200).contains(&status) || status == 204 || status == 304 {
        return Ok(Some(Framed {
            status,
            len: body_start,
            close,
        }));
    }
    let body_len = if chunked {
        match chunked_len(&buf[body_start..])? {
            Some(n) => n,
            None => return Ok(None),
        }
    } else if let Some(n) = content_length {
        if buf.len() - body_start < n {
            return Ok(None);
        }
        n
    } else {
        return Err(ParseError::UnframedBody);
    };
    Ok(Some(Framed {
        status,
        len: body_start + body_len,
        close,
    }))
}

/// The decoded body of one whole response `raw` (as framed by [`frame`]): the bytes after the
/// head, with chunked framing removed. Used where the body matters (recall checks ids).
pub fn body(raw: &[u8]) -> Result<Vec<u8>, ParseError> {
    let head_end = find(raw, b"\r\n\r\n").ok_or(ParseError::BadStatusLine)?;
    let chunked = raw[..head_end]
        .split(|&b| b == b'\n')
        .map(trim_cr)
        .filter_map(|line| {
            let colon = line.iter().position(|&b| b == b':')?;
            let name = &line[..colon];
            name.eq_ignore_ascii_case(b"transfer-encoding")
                .then(|| trim_ows(&line[colon + 1..]))
        })
        .any(|v| {
            let last = v.rsplit(|&b| b == b',').next().map(trim_ows);
            last.is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"))
        });
    let rest = &raw[head_end + 4..];
    if !chunked {
        return Ok(rest.to_vec());
    }
    let mut out = Vec::with_capacity(rest.len());
    let mut pos = 0usize;
    loop {
        let eol = find(&rest[pos..], b"\r\n").ok_or(ParseError::BadChunk)?;
        let line = &rest[pos..pos + eol];
        let size_hex = line.split(|&b| b == b';').next().map(trim_ows);
        let size = size_hex.and_then(parse_hex).ok_or(ParseError::BadChunk)?;
        pos += eol + 2;
        if size == 0 {
            return Ok(out);
        }
        let end = pos.checked_add(size).ok_or(ParseError::BadChunk)?;
        out.extend_from_slice(rest.get(pos..end).ok_or(ParseError::BadChunk)?);
        pos = end + 2;
    }
}

/// `HTTP/1.1 200 OK` → (200, is HTTP/1.0).
fn parse_status_line(line: &[u8]) -> Result<(u16, bool), ParseError> {
    let rest = line
        .strip_prefix(b"HTTP/1.")
        .ok_or(ParseError::BadStatusLine)?;
    let (&minor, rest) = rest.split_first().ok_or(ParseError::BadStatusLine)?;
    let code = rest
        .strip_prefix(b" ")
        .and_then(|r| r.get(..3))
        .ok_or(ParseError::BadStatusLine)?;
    if !code.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::BadStatusLine);
    }
    let status = code
        .iter()
        .fold(0u16, |acc, &d| acc * 10 + u16::from(d - b'0'));
    Ok((status, minor == b'0'))
}

/// Length of a complete chunked body (through the trailer section), or `None` if incomplete.
fn chunked_len(body: &[u8]) -> Result<Option<usize>, ParseError> {
    let mut pos = 0usize;
    loop {
        let Some(eol) = find(&body[pos..], b"\r\n") else {
            if body.len() - pos > CHUNK_LINE_MAX_BYTES {
                return Err(ParseError::BadChunk);
            }
            return Ok(None);
        };
        let line = &body[pos..pos + eol];
        let size_hex = line.split(|&b| b == b';').next().map(trim_ows);
        let size = size_hex.and_then(parse_hex).ok_or(ParseError::BadChunk)?;
        pos += eol + 2;
        if size == 0 {
            // Trailer fields, then an empty line.
            loop {
                let Some(eol) = find(&body[pos..], b"\r\n") else {
                    return Ok(None);
                };
                pos += eol + 2;
                if eol == 0 {
                    return Ok(Some(pos));
                }
            }
        }
        let end = pos.checked_add(size).ok_or(ParseError::BadChunk)?;
        if body.len() < end + 2 {
            return Ok(None);
        }
        if &body[end..end + 2] != b"\r\n" {
            return Err(ParseError::BadChunk);
        }
        pos = end + 2;
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn trim_ows(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &s[start..end]
}

fn parse_decimal(s: &[u8]) -> Option<usize> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0usize, |acc, &d| {
        acc.checked_mul(10)?.checked_add(usize::from(d - b'0'))
    })
}

fn parse_hex(s: &[u8]) -> Option<usize> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0usize, |acc, &d| {
        let v = (d as char).to_digit(16)? as usize;
        acc.checked_mul(16)?.checked_add(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1";
        let f = frame(r).unwrap().unwrap();
        assert_eq!((f.status, f.len, f.close), (200, r.len() - 8, false));
        assert_eq!(frame(&r[..r.len() - 10]).unwrap(), None);
    }

    #[test]
    fn bodies_decode() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        assert_eq!(body(r).unwrap(), b"hello");
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n";
        assert_eq!(frame(r).unwrap().map(|f| f.len), Some(r.len()));
        assert_eq!(body(r).unwrap(), b"hello");
        let truncated = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nhel";
        assert_eq!(body(truncated), Err(ParseError::BadChunk));
    }

    #[test]
    fn chunked_with_trailers_and_extensions() {
        let r = b"HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\n\r\n\
                  4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        let f = frame(r).unwrap().unwrap();
        assert_eq!(f.status, 404);
        assert_eq!(&r[f.len..], b"NEXT");
        for cut in 1..r.len() - 4 {
            assert_eq!(frame(&r[..cut]).unwrap(), None, "cut at {cut}");
        }
    }

    #[test]
    fn close_and_bodiless() {
        let r = b"HTTP/1.0 204 No Content\r\n\r\n";
        assert_eq!(
            frame(r).unwrap(),
            Some(Framed {
                status: 204,
                len: r.len(),
                close: true
            })
        );
        let r = b"HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 0\r\n\r\n";
        assert!(frame(r).unwrap().unwrap().close);
    }

    #[test]
    fn garbage_is_an_error() {
        assert_eq!(frame(b"SSH-2.0\r\n\r\n"), Err(ParseError::BadStatusLine));
        assert_eq!(
            frame(b"HTTP/1.1 200 OK\r\n\r\n"),
            Err(ParseError::UnframedBody)
        );
        assert_eq!(
            frame(b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n"),
            Err(ParseError::BadContentLength)
        );
        assert_eq!(
            frame(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n"),
            Err(ParseError::BadChunk)
        );
    }
}
