//! The set of deleted slots of one segment, kept outside the immutable file.
//!
//! Sidecar encoding (little endian), small enough for `Storage::write_file_atomic`:
//! `magic "VEXFSDEL"`, `slots u64`, `words × u64`, `crc32c u32` of everything before it.

use super::error::SegmentError;
use super::format::{bit, bitmap_words, set_bit};

const DELETED_MAGIC: [u8; 8] = *b"VEXFSDEL";
const DELETED_HEADER_BYTES: usize = 16;
const DELETED_CRC_BYTES: usize = 4;

/// A bitmap over the slots of one segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeletedSet {
    slots: usize,
    words: Vec<u64>,
    count: usize,
}

impl DeletedSet {
    /// No slot deleted, for a segment of `slots` points.
    pub fn new(slots: usize) -> Self {
        DeletedSet {
            slots,
            words: vec![0; bitmap_words(slots)],
            count: 0,
        }
    }

    /// From bitmap words; bits at or above `slots` are ignored.
    pub(crate) fn from_words(slots: usize, words: &[u64]) -> Self {
        let mut set = DeletedSet::new(slots);
        for (w, src) in set.words.iter_mut().zip(words) {
            *w = *src;
        }
        set.clear_tail();
        set.count = set.words.iter().map(|w| w.count_ones() as usize).sum();
        set
    }

    fn clear_tail(&mut self) {
        let used = self.slots % 64;
        if used != 0 {
            if let Some(last) = self.words.last_mut() {
                *last &= (1u64 << used) - 1;
            }
        }
    }

    /// Number of slots the set covers (the segment's point count).
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Number of deleted slots.
    pub fn count(&self) -> usize {
        self.count
    }

    pub fn contains(&self, slot: u32) -> bool {
        bit(&self.words, slot as usize)
    }

    /// Marks `slot` deleted; false when it already was or is out of range.
    pub fn insert(&mut self, slot: u32) -> bool {
        let s = slot as usize;
        if s >= self.slots || bit(&self.words, s) {
            return false;
        }
        set_bit(&mut self.words, s);
        self.count += 1;
        true
    }

    /// Adds every slot of `other` (same segment).
    pub(crate) fn union_with(&mut self, other: &DeletedSet) {
        for (w, o) in self.words.iter_mut().zip(&other.words) {
            *w |= *o;
        }
        self.count = self.words.iter().map(|w| w.count_ones() as usize).sum();
    }

    /// Deleted slots in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &w)| {
            let mut rest = w;
            std::iter::from_fn(move || {
                if rest == 0 {
                    return None;
                }
                let b = rest.trailing_zeros();
                rest &= rest - 1;
                Some((i * 64) as u32 + b)
            })
        })
    }

    /// The sidecar bytes; see the module docs.
    pub fn encode(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(DELETED_HEADER_BYTES + self.words.len() * 8 + DELETED_CRC_BYTES);
        out.extend_from_slice(&DELETED_MAGIC);
        out.extend_from_slice(&(self.slots as u64).to_le_bytes());
        for w in &self.words {
            out.extend_from_slice(&w.to_le_bytes());
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Parses sidecar bytes read from `path` (named in errors).
    pub fn decode(path: &str, bytes: &[u8]) -> Result<DeletedSet, SegmentError> {
        let corrupt = |reason: &str| SegmentError::corrupt(path, format!("deletion set: {reason}"));
        if bytes.len() < DELETED_HEADER_BYTES + DELETED_CRC_BYTES {
            return Err(corrupt("too short"));
        }
        let (content, crc) = bytes.split_at(bytes.len() - DELETED_CRC_BYTES);
        let mut crc_bytes = [0; DELETED_CRC_BYTES];
        crc_bytes.copy_from_slice(crc);
        if u32::from_le_bytes(crc_bytes) != crc32c::crc32c(content) {
            return Err(corrupt("checksum mismatch"));
        }
        if content[..8] != DELETED_MAGIC {
            return Err(corrupt("bad magic"));
        }
        let mut n = [0; 8];
        n.copy_from_slice(&content[8..16]);
        let slots =
            usize::try_from(u64::from_le_bytes(n)).map_err(|_| corrupt("too many slots"))?;
        let raw = &content[DELETED_HEADER_BYTES..];
        if raw.len() % 8 != 0 || raw.len() / 8 != bitmap_words(slots) {
            return Err(corrupt("length does not match the slot count"));
        }
        let words: Vec<u64> = raw
            .chunks_exact(8)
            .map(|c| {
                let mut a = [0; 8];
                a.copy_from_slice(c);
                u64::from_le_bytes(a)
            })
            .collect();
        Ok(DeletedSet::from_words(slots, &words))
    }
}
