//! On-disk record format of the write-ahead log.
//!
//! ```text
//! record = [len_word u32 LE][crc32c u32 LE][lsn u64 LE][payload: len bytes]
//! len_word = payload length | FLUSH_START_FLAG (set on the first record of each flush)
//! crc32c over (len_word LE || lsn LE || payload)
//! ```
//! An all-zero header marks the end of the log (the zero padding of the last block and the
//! preallocated space). LSNs start at 1, so a real record never has an all-zero header.
//!
//! Why the flag: a flush is one write of several blocks, and a device may persist those blocks in
//! any order before the following fdatasync completes. After power loss a record of the last
//! flush can therefore be missing while a later record of the same flush is intact; that is a
//! torn tail, not corruption, because none of those records was acknowledged. A flush starts
//! only after the previous flush's fdatasync succeeded, so an intact *flush-start* record after a
//! bad one proves the bad one had been made durable: that, and only that, is corruption.

use super::Lsn;

/// Size of a record header in bytes.
pub const WAL_HEADER_BYTES: usize = 16;

/// Largest payload one record may carry, in bytes.
pub const WAL_RECORD_MAX_BYTES: usize = 64 << 20;

/// The file is grown (preallocated and extended with zeros) in steps of this many bytes, so
/// that fdatasync after an append rarely has to persist a new file size.
pub const WAL_PREALLOCATE_BYTES: u64 = 64 << 20;

/// Recovery reads the log in chunks of this many bytes.
pub const WAL_RECOVERY_READ_BYTES: usize = 4 << 20;

/// Marks the first record written by a flush (see the module docs).
pub(crate) const FLUSH_START_FLAG: u32 = 1 << 31;

const _: () = assert!(WAL_RECORD_MAX_BYTES < FLUSH_START_FLAG as usize);

/// A decoded record header (not yet verified).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub len_word: u32,
    pub crc: u32,
    pub lsn: Lsn,
}

impl Header {
    pub fn parse(bytes: &[u8]) -> Header {
        assert!(bytes.len() >= WAL_HEADER_BYTES, "short header slice");
        let word =
            |r: std::ops::Range<usize>| -> [u8; 4] { bytes[r].try_into().expect("4-byte slice") };
        Header {
            len_word: u32::from_le_bytes(word(0..4)),
            crc: u32::from_le_bytes(word(4..8)),
            lsn: u64::from_le_bytes(bytes[8..16].try_into().expect("8-byte slice")),
        }
    }

    /// The end-of-log marker: zero padding or never-written space.
    pub fn is_end(&self) -> bool {
        self.len_word == 0 && self.crc == 0 && self.lsn == 0
    }

    pub fn payload_len(&self) -> usize {
        (self.len_word & !FLUSH_START_FLAG) as usize
    }

    pub fn flush_start(&self) -> bool {
        self.len_word & FLUSH_START_FLAG != 0
    }

    /// Plausible enough to be worth reading the payload for.
    pub fn plausible(&self) -> bool {
        self.lsn != 0 && self.payload_len() <= WAL_RECORD_MAX_BYTES
    }

    pub fn record_len(&self) -> usize {
        WAL_HEADER_BYTES + self.payload_len()
    }
}

fn checksum(len_word: u32, lsn: Lsn, payload: &[u8]) -> u32 {
    let crc = crc32c::crc32c(&len_word.to_le_bytes());
    let crc = crc32c::crc32c_append(crc, &lsn.to_le_bytes());
    crc32c::crc32c_append(crc, payload)
}

/// Appends one encoded record (without the flush-start flag) to `out`.
pub(crate) fn encode(out: &mut Vec<u8>, lsn: Lsn, payload: &[u8]) {
    assert!(payload.len() <= WAL_RECORD_MAX_BYTES, "record over limit");
    let len_word = payload.len() as u32;
    out.extend_from_slice(&len_word.to_le_bytes());
    out.extend_from_slice(&checksum(len_word, lsn, payload).to_le_bytes());
    out.extend_from_slice(&lsn.to_le_bytes());
    out.extend_from_slice(payload);
}

/// Sets the flush-start flag on the record at the start of `buf` and re-seals its checksum.
pub(crate) fn mark_flush_start(buf: &mut [u8]) {
    let h = Header::parse(buf);
    let len_word = h.len_word | FLUSH_START_FLAG;
    let end = h.record_len();
    assert!(buf.len() >= end, "pending buffer holds a partial record");
    let crc = checksum(len_word, h.lsn, &buf[WAL_HEADER_BYTES..end]);
    buf[0..4].copy_from_slice(&len_word.to_le_bytes());
    buf[4..8].copy_from_slice(&crc.to_le_bytes());
}

/// True when `record` (header and whole payload) carries a matching checksum.
pub(crate) fn verify(h: &Header, record: &[u8]) -> bool {
    record.len() == h.record_len()
        && checksum(h.len_word, h.lsn, &record[WAL_HEADER_BYTES..]) == h.crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_parse_verify_and_flag() {
        let mut buf = Vec::new();
        encode(&mut buf, 7, b"hello");
        let h = Header::parse(&buf);
        assert_eq!((h.payload_len(), h.lsn, h.flush_start()), (5, 7, false));
        assert!(verify(&h, &buf));
        mark_flush_start(&mut buf);
        let h2 = Header::parse(&buf);
        assert!(h2.flush_start() && verify(&h2, &buf));
        let mut unflagged = buf.clone();
        unflagged[3] &= 0x7f;
        assert!(
            !verify(&Header::parse(&unflagged), &unflagged),
            "flag is covered by the checksum"
        );
        buf[20] ^= 1;
        assert!(!verify(&h2, &buf));
        assert!(Header::parse(&[0; 16]).is_end());
    }
}
