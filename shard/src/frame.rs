//! The checksummed frame shared by segment files and index files: a 64-byte header, the body,
//! zero padding to [`FRAME_FILE_ALIGN_BYTES`].
//!
//! ```text
//! offset  size  field
//!      0     8  magic (one per file kind)
//!      8     4  format version (u32 LE)
//!     12     4  reserved, zero
//!     16     8  body length in bytes (u64 LE)
//!     24     4  crc32c of the body (u32 LE)
//!     28     4  reserved, zero
//!     32     8  item count (u64 LE): points of a segment, slots of an index; the body must agree
//!     40    20  reserved, zero
//!     60     4  crc32c of bytes 0..60 (u32 LE)
//!     64     …  body (body length bytes)
//!      …     …  zeros up to a multiple of FRAME_FILE_ALIGN_BYTES
//! ```

pub const FRAME_HEADER_BYTES: usize = 64;
/// Files are padded to this size so they can be written with O_DIRECT on any device we support
/// (512-byte and 4 KiB logical blocks).
pub const FRAME_FILE_ALIGN_BYTES: usize = 4096;

const _: () = assert!(FRAME_FILE_ALIGN_BYTES.is_multiple_of(FRAME_HEADER_BYTES));

const OFF_VERSION: usize = 8;
const OFF_BODY_LEN: usize = 16;
const OFF_BODY_CRC: usize = 24;
const OFF_COUNT: usize = 32;
const OFF_HEADER_CRC: usize = 60;

/// One kind of framed file.
pub(crate) struct FrameKind {
    pub magic: [u8; 8],
    pub version: u32,
    /// For messages: "a segment file", "an hnsw index file".
    pub what: &'static str,
}

/// What a verified header says about the rest of the file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameHeader {
    pub body_len: usize,
    pub count: u64,
}

/// Why a frame was refused; each file kind turns it into its own error.
#[derive(Debug)]
pub(crate) enum FrameError {
    Corrupt(String),
    UnsupportedVersion(u32),
}

impl FrameKind {
    pub fn encode_header(&self, body: &[u8], count: u64) -> [u8; FRAME_HEADER_BYTES] {
        self.encode_header_with_crc(body.len(), crc32c::crc32c(body), count)
    }

    /// [`FrameKind::encode_header`] for a body whose crc32c the caller computed (in pieces).
    pub fn encode_header_with_crc(
        &self,
        body_len: usize,
        body_crc: u32,
        count: u64,
    ) -> [u8; FRAME_HEADER_BYTES] {
        let mut h = [0u8; FRAME_HEADER_BYTES];
        h[..8].copy_from_slice(&self.magic);
        h[OFF_VERSION..OFF_VERSION + 4].copy_from_slice(&self.version.to_le_bytes());
        h[OFF_BODY_LEN..OFF_BODY_LEN + 8].copy_from_slice(&(body_len as u64).to_le_bytes());
        h[OFF_BODY_CRC..OFF_BODY_CRC + 4].copy_from_slice(&body_crc.to_le_bytes());
        h[OFF_COUNT..OFF_COUNT + 8].copy_from_slice(&count.to_le_bytes());
        let crc = crc32c::crc32c(&h[..OFF_HEADER_CRC]);
        h[OFF_HEADER_CRC..].copy_from_slice(&crc.to_le_bytes());
        h
    }

    /// Verifies header, length, padding and body checksum of a whole file. On success the body
    /// is `file[FRAME_HEADER_BYTES .. FRAME_HEADER_BYTES + body_len]`, bit for bit as written.
    pub fn verify(&self, file: &[u8]) -> Result<FrameHeader, FrameError> {
        let corrupt = |reason: String| FrameError::Corrupt(reason);
        if file.len() < FRAME_HEADER_BYTES {
            return Err(corrupt(format!(
                "{} bytes, shorter than the {FRAME_HEADER_BYTES}-byte header",
                file.len()
            )));
        }
        let h = &file[..FRAME_HEADER_BYTES];
        if h[..8] != self.magic {
            return Err(corrupt(format!("bad magic: not {}", self.what)));
        }
        let stored = le_u32(h, OFF_HEADER_CRC);
        let actual = crc32c::crc32c(&h[..OFF_HEADER_CRC]);
        if stored != actual {
            return Err(corrupt(format!(
                "header checksum mismatch (stored {stored:#010x}, computed {actual:#010x})"
            )));
        }
        let version = le_u32(h, OFF_VERSION);
        if version != self.version {
            return Err(FrameError::UnsupportedVersion(version));
        }
        let body_len = usize::try_from(le_u64(h, OFF_BODY_LEN))
            .map_err(|_| corrupt("body length does not fit in memory".into()))?;
        let data_end = FRAME_HEADER_BYTES
            .checked_add(body_len)
            .ok_or_else(|| corrupt("body length overflows".into()))?;
        let expected_len = data_end
            .checked_next_multiple_of(FRAME_FILE_ALIGN_BYTES)
            .ok_or_else(|| corrupt("body length overflows".into()))?;
        if file.len() != expected_len {
            return Err(corrupt(format!(
                "file is {} bytes, the header implies {expected_len} (body of {body_len} bytes): \
                 truncated or extended",
                file.len()
            )));
        }
        if let Some(at) = file[data_end..].iter().position(|&b| b != 0) {
            return Err(corrupt(format!(
                "non-zero padding byte at offset {}",
                data_end + at
            )));
        }
        let stored = le_u32(h, OFF_BODY_CRC);
        let actual = crc32c::crc32c(&file[FRAME_HEADER_BYTES..data_end]);
        if stored != actual {
            return Err(corrupt(format!(
                "body checksum mismatch (stored {stored:#010x}, computed {actual:#010x})"
            )));
        }
        Ok(FrameHeader {
            body_len,
            count: le_u64(h, OFF_COUNT),
        })
    }
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}
