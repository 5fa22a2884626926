//! Incremental decoder for `Transfer-Encoding: chunked` (RFC 9112 §7.1).
//!
//! Bytes may arrive split anywhere, so the decoder is a byte-level state machine that remembers
//! where it stopped; chunk data is copied in bulk into the connection's reused body buffer.

use super::Error;

/// Most hex digits in a chunk size: 16 fill a `u64`, so more can only be padding or overflow.
const CHUNK_SIZE_MAX_DIGITS: u8 = 16;
/// Most bytes of chunk extensions on one size line. Extensions are ignored, so any bound that
/// real clients stay under will do; it stops a peer from streaming an endless size line.
pub const CHUNK_EXT_MAX_BYTES: usize = 4096;
/// Most bytes of trailer fields after the last chunk. Trailers are ignored (nothing we serve
/// reads them) but must still be consumed, and bounded like headers.
pub const TRAILERS_MAX_BYTES: usize = 8192;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading hex digits of a chunk size.
    Size,
    /// After the size: optional whitespace before `;` or CR.
    SizeWs,
    /// Inside a chunk extension, skipped up to CR.
    Ext,
    /// Got the CR of the size line; LF must follow.
    SizeLf,
    /// Copying chunk data; `remaining` bytes left.
    Data,
    /// After chunk data: CR must follow.
    DataCr,
    /// After chunk data's CR: LF must follow.
    DataLf,
    /// At the start of a trailer line (or of the final empty line).
    TrailerStart,
    /// Inside a trailer field name, up to `:`.
    TrailerName,
    /// Inside a trailer field value, skipped up to CR.
    Trailer,
    /// Got the CR ending a trailer line; LF must follow.
    TrailerLf,
    /// Got the CR of the final empty line; LF must follow.
    FinalLf,
    /// The whole body has been decoded.
    Done,
}

/// Decoder state for one chunked body; reset between requests and reused.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    /// Size being read, then bytes left in the current chunk.
    remaining: u64,
    digits: u8,
    /// Bytes of the current extension or of all trailers so far, for the bounds above.
    skipped: usize,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedDecoder {
    pub fn new() -> Self {
        ChunkedDecoder {
            state: State::Size,
            remaining: 0,
            digits: 0,
            skipped: 0,
        }
    }

    /// Back to the start of a body.
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Whether the terminating empty line has been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes as much of `input` as possible, appending data to `out`.
    ///
    /// Returns how many input bytes were consumed; it is less than `input.len()` only once the
    /// body is done (the rest belongs to the next request).
    pub fn decode(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        body_max_bytes: usize,
    ) -> Result<usize, Error> {
        let mut i = 0;
        while i < input.len() && self.state != State::Done {
            if self.state == State::Data {
                let n =
                    (input.len() - i).min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
                out.extend_from_slice(&input[i..i + n]);
                self.remaining -= n as u64;
                i += n;
                if self.remaining == 0 {
                    self.state = State::DataCr;
                }
                continue;
            }
            self.step(input[i], out.len(), body_max_bytes)?;
            i += 1;
        }
        Ok(i)
    }

    /// Advances over one byte of framing (anything but chunk data).
    fn step(&mut self, b: u8, decoded: usize, body_max_bytes: usize) -> Result<(), Error> {
        self.state = match (self.state, b) {
            (State::Size, _) if b.is_ascii_hexdigit() => {
                if self.digits == CHUNK_SIZE_MAX_DIGITS {
                    return Err(Error::InvalidChunk("chunk size too long"));
                }
                self.digits += 1;
                // Cannot overflow: at most 16 hex digits.
                self.remaining = (self.remaining << 4) | u64::from(hex_value(b));
                State::Size
            }
            (State::Size, _) if self.digits == 0 => {
                return Err(Error::InvalidChunk("missing chunk size"))
            }
            (State::Size, b';') => self.size_line_done(State::Ext, decoded, body_max_bytes)?,
            (State::Size, b' ' | b'\t') => {
                self.size_line_done(State::SizeWs, decoded, body_max_bytes)?
            }
            (State::Size, b'\r') => self.size_line_done(State::SizeLf, decoded, body_max_bytes)?,
            // RFC 9112 §7.1.1 allows whitespace after the size only before an extension.
            (State::SizeWs, b' ' | b'\t') => State::SizeWs,
            (State::SizeWs, b';') => State::Ext,
            (State::Size | State::SizeWs, _) => {
                return Err(Error::InvalidChunk("invalid byte in chunk size"))
            }
            (State::Ext, b'\r') => State::SizeLf,
            (State::Ext, b'\n') => return Err(Error::InvalidChunk("bare LF in chunk extension")),
            (State::Ext, _) if is_ctl(b) => {
                return Err(Error::InvalidChunk("control character in chunk extension"))
            }
            (State::Ext, _) => {
                self.skipped += 1;
                if self.skipped > CHUNK_EXT_MAX_BYTES {
                    return Err(Error::InvalidChunk("chunk extension too long"));
                }
                State::Ext
            }
            (State::SizeLf, b'\n') => {
                self.skipped = 0;
                if self.remaining == 0 {
                    State::TrailerStart
                } else {
                    State::Data
                }
            }
            (State::SizeLf, _) => return Err(Error::InvalidChunk("missing LF after chunk size")),
            (State::DataCr, b'\r') => State::DataLf,
            (State::DataCr, _) => return Err(Error::InvalidChunk("missing CRLF after chunk data")),
            (State::DataLf, b'\n') => {
                self.digits = 0;
                State::Size
            }
            (State::DataLf, _) => return Err(Error::InvalidChunk("missing LF after chunk data")),
            (State::TrailerStart, b'\r') => State::FinalLf,
            (State::TrailerStart | State::TrailerName | State::Trailer, b'\n') => {
                return Err(Error::InvalidChunk("bare LF in trailers"))
            }
            // Trailers are ignored, but held to the grammar of header fields so that no hop
            // could read one of them as the end of the body or a folded line.
            (State::TrailerStart, b' ' | b'\t') => {
                return Err(Error::InvalidChunk("obsolete line folding in trailers"))
            }
            (State::TrailerStart | State::TrailerName, _) if is_tchar(b) => {
                self.count_trailer_byte()?;
                State::TrailerName
            }
            (State::TrailerName, b':') => {
                self.count_trailer_byte()?;
                State::Trailer
            }
            (State::TrailerStart | State::TrailerName, _) => {
                return Err(Error::InvalidChunk("invalid trailer field name"))
            }
            (State::Trailer, b'\r') => State::TrailerLf,
            (State::Trailer, _) if is_ctl(b) => {
                return Err(Error::InvalidChunk("control character in trailer value"))
            }
            (State::Trailer, _) => {
                self.count_trailer_byte()?;
                State::Trailer
            }
            (State::TrailerLf, b'\n') => State::TrailerStart,
            (State::TrailerLf, _) => return Err(Error::InvalidChunk("missing LF after trailer")),
            (State::FinalLf, b'\n') => State::Done,
            (State::FinalLf, _) => return Err(Error::InvalidChunk("missing final LF")),
            (State::Data | State::Done, _) => self.state,
        };
        Ok(())
    }

    fn count_trailer_byte(&mut self) -> Result<(), Error> {
        self.skipped += 1;
        if self.skipped > TRAILERS_MAX_BYTES {
            return Err(Error::TrailersTooLarge {
                limit: TRAILERS_MAX_BYTES,
            });
        }
        Ok(())
    }

    /// The size line's digits are complete: check the body bound before any data arrives, so an
    /// oversized body is refused without reading it.
    fn size_line_done(
        &mut self,
        next: State,
        decoded: usize,
        body_max_bytes: usize,
    ) -> Result<State, Error> {
        let size = (decoded as u64).saturating_add(self.remaining);
        if size > body_max_bytes as u64 {
            return Err(Error::BodyTooLarge {
                size,
                limit: body_max_bytes,
            });
        }
        Ok(next)
    }
}

/// Control characters other than HTAB, which no field value or extension may carry.
fn is_ctl(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

/// RFC 9110 §5.6.2 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn hex_value(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY_MAX_BYTES: usize = 64;

    /// Feeds `pieces` in order; returns the body and the input bytes consumed, or the error.
    fn decode_pieces(pieces: &[&[u8]]) -> Result<(Vec<u8>, usize, bool), String> {
        let mut d = ChunkedDecoder::new();
        let mut out = Vec::new();
        let mut used = 0;
        for piece in pieces {
            used += d
                .decode(piece, &mut out, BODY_MAX_BYTES)
                .map_err(|e| e.to_string())?;
        }
        Ok((out, used, d.is_done()))
    }

    fn decode_all(raw: &[u8]) -> Result<(Vec<u8>, usize, bool), String> {
        decode_pieces(&[raw])
    }

    fn body_of(raw: &[u8]) -> Vec<u8> {
        let (body, used, done) = decode_all(raw).unwrap();
        assert!(done, "{:?}", String::from_utf8_lossy(raw));
        assert_eq!(used, raw.len());
        body
    }

    #[test]
    fn plain_chunks() {
        assert_eq!(
            body_of(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
            b"hello world"
        );
        assert_eq!(body_of(b"0\r\n\r\n"), b"");
        assert_eq!(
            body_of(b"A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n").len(),
            20
        );
        assert_eq!(body_of(b"0005\r\nhello\r\n000\r\n\r\n"), b"hello");
    }

    #[test]
    fn extensions_are_ignored() {
        assert_eq!(
            body_of(b"5;name=value\r\nhello\r\n6 ; a ; b=\"c\"\r\n world\r\n0;last\r\n\r\n"),
            b"hello world"
        );
    }

    #[test]
    fn trailers_are_consumed_and_ignored() {
        assert_eq!(
            body_of(b"3\r\nabc\r\n0\r\nX-Checksum: 1\r\nX-Other: two\t\xff\r\nE:\r\n\r\n"),
            b"abc"
        );
    }

    #[test]
    fn stops_at_the_end_of_the_body() {
        let (body, used, done) = decode_all(b"1\r\nx\r\n0\r\n\r\nGET / HTTP/1.1").unwrap();
        assert_eq!((body.as_slice(), used, done), (&b"x"[..], 11, true));
    }

    #[test]
    fn rejections() {
        for raw in [
            &b"g\r\n"[..],
            b"\r\n",
            b";ext\r\n",
            b" 5\r\n",
            b"5\nhello\r\n",
            b"5 x\r\n",
            b"5\rX",
            b"5\r\nhelloX\r\n",
            b"5\r\nhello\rX",
            b"5\r\nhello\n",
            b"5;a\nb\r\n",
            b"11111111111111111\r\n",
            b"0\r\nX: y\nZ",
            b"0\r\n\n",
            b"0\r\n\rX",
            b"0\r\nX: y\rZ",
            b"5 \r\n",
            b"5\t\r\n",
            b"5;a\x00\r\n",
            b"5;a\x7f\r\n",
            b"0\r\n folded\r\n\r\n",
            b"0\r\nno-colon\r\n\r\n",
            b"0\r\n: no-name\r\n\r\n",
            b"0\r\nBad Name: v\r\n\r\n",
            b"0\r\nX: a\x00\r\n\r\n",
            b"0x5\r\nhello\r\n0\r\n\r\n",
            b"-5\r\n",
            b"+5\r\n",
        ] {
            let got = decode_all(raw);
            assert!(
                got.is_err(),
                "{:?} gave {got:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn oversized_bodies_are_413_as_soon_as_the_size_is_known() {
        let raw = format!("{:x}\r\n", BODY_MAX_BYTES + 1);
        let err = ChunkedDecoder::new()
            .decode(raw.as_bytes(), &mut Vec::new(), BODY_MAX_BYTES)
            .unwrap_err();
        assert_eq!(err.status(), 413);
        // The sum of chunks counts, not each chunk alone.
        let half = BODY_MAX_BYTES / 2;
        let raw = format!("{half:x}\r\n{}\r\n{:x}\r\n", "a".repeat(half), half + 1);
        let err = ChunkedDecoder::new()
            .decode(raw.as_bytes(), &mut Vec::new(), BODY_MAX_BYTES)
            .unwrap_err();
        assert!(
            matches!(err, Error::BodyTooLarge { size, .. } if size == BODY_MAX_BYTES as u64 + 1)
        );
        // Exactly at the limit is fine.
        let raw = format!(
            "{BODY_MAX_BYTES:x}\r\n{}\r\n0\r\n\r\n",
            "a".repeat(BODY_MAX_BYTES)
        );
        assert_eq!(body_of(raw.as_bytes()).len(), BODY_MAX_BYTES);
    }

    #[test]
    fn long_extensions_and_trailers_are_bounded() {
        let raw = format!("1;{}\r\n", "e".repeat(CHUNK_EXT_MAX_BYTES + 1));
        assert!(decode_all(raw.as_bytes())
            .unwrap_err()
            .contains("extension"));
        let raw = format!("0\r\nX: {}\r\n\r\n", "t".repeat(TRAILERS_MAX_BYTES));
        let err = ChunkedDecoder::new()
            .decode(raw.as_bytes(), &mut Vec::new(), BODY_MAX_BYTES)
            .unwrap_err();
        assert_eq!(err.status(), 431);
    }

    #[test]
    fn split_at_every_byte_gives_the_same_outcome() {
        let cases: [&[u8]; 8] = [
            b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
            b"5;a=b\r\nhello\r\n0;x\r\nT: 1\r\nU: 2\r\n\r\nnext",
            b"1f\r\n0123456789012345678901234567890\r\n0\r\n\r\n",
            b"41\r\n",
            b"5\r\nhelloX\r\n",
            b"0\r\nX: y\nZ",
            b"zz\r\n",
            b"3\r\nabc\r\n0\r\n",
        ];
        for raw in cases {
            let whole = decode_all(raw);
            for split in 0..=raw.len() {
                let (a, b) = raw.split_at(split);
                assert_eq!(
                    decode_pieces(&[a, b]),
                    whole,
                    "{:?} split at {split}",
                    String::from_utf8_lossy(raw)
                );
            }
            // And one byte at a time.
            let bytes: Vec<&[u8]> = raw.chunks(1).collect();
            assert_eq!(decode_pieces(&bytes), whole);
        }
    }
}
