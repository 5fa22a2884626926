//! `http::Error`: every way a connection's bytes can fail to frame a request.
//!
//! Each variant maps to exactly one status via [`Error::status`]; the connection answers it with
//! the Qdrant error envelope and `connection: close`, because after a framing error the position
//! of the next request in the byte stream is unknown.

/// A framing or transport failure on one connection.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The head did not complete within `head_max_bytes`.
    #[error("Request head too large: limit {limit} bytes")]
    HeadTooLarge { limit: usize },
    /// More header fields than `headers_max_count`.
    #[error("Too many request headers: limit {limit}")]
    TooManyHeaders { limit: usize },
    /// Trailer section of a chunked body larger than its bound.
    #[error("Request trailers too large: limit {limit} bytes")]
    TrailersTooLarge { limit: usize },
    /// Declared or decoded body larger than `body_max_bytes`.
    #[error("Request body too large: {size} bytes, limit {limit}")]
    BodyTooLarge { size: u64, limit: usize },
    /// `httparse` rejected the head.
    #[error("Malformed request head: {0}")]
    Malformed(httparse::Error),
    /// Request target with bytes outside visible ASCII.
    #[error("Malformed request line: target must be visible ASCII")]
    InvalidTarget,
    /// A header line starting with whitespace (obsolete line folding, RFC 9112 §5.2).
    #[error("Malformed request head: obsolete line folding is not accepted")]
    ObsFold,
    /// Both framings present: the classic request-smuggling ambiguity (RFC 9112 §6.1).
    #[error("Request has both Content-Length and Transfer-Encoding")]
    ContentLengthWithTransferEncoding,
    /// More than one Content-Length field, agreeing or not.
    #[error("Request has more than one Content-Length header")]
    DuplicateContentLength,
    /// More than one Host field (RFC 9112 §3.2).
    #[error("Request has more than one Host header")]
    DuplicateHost,
    /// A line of the head ends in LF without CR (RFC 9112 §2.2: we do not guess).
    #[error("Malformed request head: line ends with a bare LF, CRLF is required")]
    BareLf,
    /// Content-Length that is not a plain decimal number fitting in 64 bits.
    #[error("Invalid Content-Length header")]
    InvalidContentLength,
    /// Any transfer coding other than a single `chunked`.
    #[error("Unsupported Transfer-Encoding: only a single `chunked` is accepted")]
    UnsupportedTransferEncoding,
    /// Chunked body that breaks the grammar of RFC 9112 §7.1.
    #[error("Invalid chunked body: {0}")]
    InvalidChunk(&'static str),
    /// The client took longer than the head or body timeout.
    #[error("Request timed out")]
    Timeout,
    /// The socket failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// The HTTP status this failure is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Error::HeadTooLarge { .. }
            | Error::TooManyHeaders { .. }
            | Error::TrailersTooLarge { .. } => 431,
            Error::BodyTooLarge { .. } => 413,
            Error::Malformed(_)
            | Error::InvalidTarget
            | Error::ObsFold
            | Error::ContentLengthWithTransferEncoding
            | Error::DuplicateContentLength
            | Error::DuplicateHost
            | Error::BareLf
            | Error::InvalidContentLength
            | Error::UnsupportedTransferEncoding
            | Error::InvalidChunk(_) => 400,
            Error::Timeout => 408,
            // Never sent to the peer (the socket is gone); 500 keeps the mapping total.
            Error::Io(_) => 500,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(Error::HeadTooLarge { limit: 1 }.status(), 431);
        assert_eq!(Error::TooManyHeaders { limit: 1 }.status(), 431);
        assert_eq!(Error::BodyTooLarge { size: 2, limit: 1 }.status(), 413);
        assert_eq!(Error::ObsFold.status(), 400);
        assert_eq!(Error::InvalidChunk("x").status(), 400);
        assert_eq!(Error::Timeout.status(), 408);
    }

    #[test]
    fn body_too_large_message_names_size_and_limit() {
        let e = Error::BodyTooLarge {
            size: 33_554_433,
            limit: 33_554_432,
        };
        assert_eq!(
            e.to_string(),
            "Request body too large: 33554433 bytes, limit 33554432"
        );
    }
}
