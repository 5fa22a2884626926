//! The segment file layout: the shared checksummed frame ([`crate::frame`], magic
//! "VEXFSSEG", item count = points) around an rkyv archive of `Body`.
//!
//! The header is a multiple of the archive's alignment, so the body keeps its alignment when
//! the whole file sits in one aligned buffer: reading needs no second copy.

use rkyv::{Archive, Serialize};

use super::error::SegmentError;
pub(crate) use crate::archived::{distance_code, distance_from_code, f32s, u128s, u32s, u64s};
use crate::frame::{FrameError, FrameKind, FRAME_FILE_ALIGN_BYTES, FRAME_HEADER_BYTES};
use crate::point_id::PointId;

pub const SEGMENT_MAGIC: [u8; 8] = *b"VEXFSSEG";
/// Bumped on any change of the header or of `Body`'s layout.
/// Version 2 added sparse and multivector columns; version 1 files are refused (re-ingest; acceptable before
/// 1.0).
pub const SEGMENT_FORMAT_VERSION: u32 = 2;
pub const SEGMENT_HEADER_BYTES: usize = FRAME_HEADER_BYTES;
/// Files are padded to this size (O_DIRECT on 512-byte and 4 KiB devices).
pub const SEGMENT_FILE_ALIGN_BYTES: usize = FRAME_FILE_ALIGN_BYTES;
/// Alignment of the buffer holding a segment in memory; the largest archived scalar is u128.
pub const SEGMENT_BUFFER_ALIGN_BYTES: usize = 16;
/// Slots are u32.
pub const SEGMENT_MAX_POINTS: usize = u32::MAX as usize;
/// Refused at build and at open: a larger dimension is a bug or a damaged file, not data.
pub const SEGMENT_MAX_DIM: usize = 65_536;

const _: () = assert!(SEGMENT_HEADER_BYTES.is_multiple_of(SEGMENT_BUFFER_ALIGN_BYTES));
const _: () = assert!(SEGMENT_FILE_ALIGN_BYTES.is_multiple_of(SEGMENT_HEADER_BYTES));

const FRAME: FrameKind = FrameKind {
    magic: SEGMENT_MAGIC,
    version: SEGMENT_FORMAT_VERSION,
    what: "a segment file",
};

/// What the archive holds. Slots are in ascending [`PointId`] order: every `Num` id sorts before
/// every `Uuid` id, so slots `0..num_ids.len()` are the integer ids and the rest the UUIDs.
#[derive(Archive, Serialize)]
pub(crate) struct Body {
    /// Every write with a WAL sequence number up to this one is contained in the segment.
    pub flushed_lsn: u64,
    pub num_ids: Vec<u64>,
    pub uuid_ids: Vec<u128>,
    pub versions: Vec<u64>,
    pub columns: Vec<ColumnBody>,
    /// End offset in `payload_blob` of each slot's JSON; a slot starts where the previous ends.
    /// An empty range means no payload (an empty object is `{}`, never empty).
    pub payload_ends: Vec<u64>,
    pub payload_blob: Vec<u8>,
    /// One bit per slot, set for points deleted when the segment was built.
    pub deleted: Vec<u64>,
    /// Sparse vector spaces, in schema order.
    pub sparse: Vec<SparseColumnBody>,
    /// Multivector spaces, in schema order.
    pub multi: Vec<MultiColumnBody>,
}

/// One multivector space: each slot's rows, flattened.
#[derive(Archive, Serialize)]
pub(crate) struct MultiColumnBody {
    pub name: String,
    pub dim: u32,
    pub distance: u8,
    /// One bit per slot, set when the point has this vector.
    pub present: Vec<u64>,
    /// End offset in `data` of each slot's rows (a multiple of `dim`; a slot starts where the
    /// previous one ends).
    pub ends: Vec<u64>,
    pub data: Vec<f32>,
}

/// One sparse vector space: per-slot vectors and their inverted index
/// ([`crate::sparse::postings`]).
#[derive(Archive, Serialize)]
pub(crate) struct SparseColumnBody {
    pub name: String,
    /// One bit per slot, set when the point has this vector.
    pub present: Vec<u64>,
    /// End offset in `indices`/`values` of each slot's entries (a slot starts where the
    /// previous one ends); each slot's indices strictly ascending.
    pub ends: Vec<u64>,
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
    /// Postings: distinct indices ascending, end offset of each one's list, and the lists
    /// (slots strictly ascending, with the point's value).
    pub terms: Vec<u32>,
    pub term_ends: Vec<u64>,
    pub post_slots: Vec<u32>,
    pub post_values: Vec<f32>,
}

#[derive(Archive, Serialize)]
pub(crate) struct ColumnBody {
    pub name: String,
    pub dim: u32,
    pub distance: u8,
    /// One bit per slot, set when the point has this vector.
    pub present: Vec<u64>,
    /// Slot `s` owns `data[s*dim .. (s+1)*dim]`; zeros where the vector is absent.
    pub data: Vec<f32>,
}

// The archived scalars are read in place as native slices through bytemuck, which panics on a
// size or alignment mismatch; these make such a mismatch a build error instead.
const _: () = {
    use std::mem::{align_of, size_of};
    assert!(size_of::<rend::f32_le>() == size_of::<f32>());
    assert!(align_of::<rend::f32_le>() >= align_of::<f32>());
    assert!(size_of::<rend::u32_le>() == size_of::<u32>());
    assert!(align_of::<rend::u32_le>() >= align_of::<u32>());
    assert!(size_of::<rend::u64_le>() == size_of::<u64>());
    assert!(align_of::<rend::u64_le>() >= align_of::<u64>());
    assert!(size_of::<rend::u128_le>() == size_of::<u128>());
    assert!(align_of::<rend::u128_le>() >= align_of::<u128>());
    assert!(align_of::<rend::u128_le>() <= SEGMENT_BUFFER_ALIGN_BYTES);
};

/// Number of u64 words of a bitmap over `bits` bits.
pub(crate) fn bitmap_words(bits: usize) -> usize {
    bits.div_ceil(64)
}

pub(crate) fn bit(words: &[u64], i: usize) -> bool {
    words.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 == 1)
}

pub(crate) fn set_bit(words: &mut [u64], i: usize) {
    words[i / 64] |= 1 << (i % 64);
}

/// The header of a segment whose body (everything after the header, before the padding) is
/// `body_len` bytes with crc32c `body_crc`.
pub(crate) fn encode_header_with_crc(
    body_len: usize,
    body_crc: u32,
    points: usize,
) -> [u8; SEGMENT_HEADER_BYTES] {
    FRAME.encode_header_with_crc(body_len, body_crc, points as u64)
}

/// What a verified header says about the rest of the file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    pub body_len: usize,
    pub points: u64,
}

/// Verifies header, length, padding and body checksum of a whole file. On success the body is
/// `file[SEGMENT_HEADER_BYTES .. SEGMENT_HEADER_BYTES + body_len]`, bit for bit as written.
pub(crate) fn verify_file(path: &str, file: &[u8]) -> Result<Header, SegmentError> {
    match FRAME.verify(file) {
        Ok(h) => Ok(Header {
            body_len: h.body_len,
            points: h.count,
        }),
        Err(FrameError::Corrupt(reason)) => Err(SegmentError::corrupt(path, reason)),
        Err(FrameError::UnsupportedVersion(found)) => Err(SegmentError::UnsupportedVersion {
            path: path.to_owned(),
            found,
            supported: SEGMENT_FORMAT_VERSION,
        }),
    }
}

/// Structural checks of a validated archive that rkyv cannot know about (lengths agree, ids are
/// sorted and unique, offsets are monotonic). After this, every accessor can index without
/// panicking for any slot below the point count.
pub(crate) fn check_body(
    path: &str,
    header: Header,
    body: &ArchivedBody,
) -> Result<(), SegmentError> {
    let corrupt = |reason: String| SegmentError::corrupt(path, reason);
    let nums = u64s(body.num_ids.as_slice());
    let uuids = u128s(body.uuid_ids.as_slice());
    let n = nums.len() + uuids.len();
    if n > SEGMENT_MAX_POINTS {
        return Err(corrupt(format!("{n} points, above the limit")));
    }
    if n as u64 != header.points {
        return Err(corrupt(format!(
            "header says {} points, the body holds {n}",
            header.points
        )));
    }
    if !nums.windows(2).all(|w| w[0] < w[1]) || !uuids.windows(2).all(|w| w[0] < w[1]) {
        return Err(corrupt("ids are not strictly ascending".into()));
    }
    if body.versions.len() != n {
        return Err(corrupt(format!(
            "{} versions for {n} points",
            body.versions.len()
        )));
    }
    let words = bitmap_words(n);
    if body.deleted.len() != words {
        return Err(corrupt(format!(
            "deletion bitmap of {} words for {n} points",
            body.deleted.len()
        )));
    }
    let ends = u64s(body.payload_ends.as_slice());
    if ends.len() != n {
        return Err(corrupt(format!(
            "{} payload offsets for {n} points",
            ends.len()
        )));
    }
    if !ends.windows(2).all(|w| w[0] <= w[1])
        || ends.last().copied().unwrap_or(0) != body.payload_blob.len() as u64
    {
        return Err(corrupt("payload offsets are not monotonic".into()));
    }
    for (i, col) in body.columns.iter().enumerate() {
        let name = col.name.as_str();
        if body.columns[..i].iter().any(|c| c.name.as_str() == name) {
            return Err(corrupt(format!("vector {name:?} appears twice")));
        }
        let dim = col.dim.to_native() as usize;
        if dim > SEGMENT_MAX_DIM {
            return Err(corrupt(format!("vector {name:?} has dimension {dim}")));
        }
        if distance_from_code(col.distance).is_none() {
            return Err(corrupt(format!(
                "vector {name:?} has unknown distance code {}",
                col.distance
            )));
        }
        if col.present.len() != words {
            return Err(corrupt(format!(
                "vector {name:?}: presence bitmap of {} words for {n} points",
                col.present.len()
            )));
        }
        if Some(col.data.len()) != n.checked_mul(dim) {
            return Err(corrupt(format!(
                "vector {name:?}: {} floats for {n} points of dimension {dim}",
                col.data.len()
            )));
        }
    }
    for (i, col) in body.sparse.iter().enumerate() {
        let name = col.name.as_str();
        if body.sparse[..i].iter().any(|c| c.name.as_str() == name)
            || body.columns.iter().any(|c| c.name.as_str() == name)
        {
            return Err(corrupt(format!("vector {name:?} appears twice")));
        }
        check_sparse(col, n).map_err(|r| corrupt(format!("sparse vector {name:?}: {r}")))?;
    }
    for (i, col) in body.multi.iter().enumerate() {
        let name = col.name.as_str();
        if body.multi[..i].iter().any(|c| c.name.as_str() == name)
            || body.columns.iter().any(|c| c.name.as_str() == name)
            || body.sparse.iter().any(|c| c.name.as_str() == name)
        {
            return Err(corrupt(format!("vector {name:?} appears twice")));
        }
        check_multi(col, n).map_err(|r| corrupt(format!("multivector {name:?}: {r}")))?;
    }
    Ok(())
}

/// Dimension, lengths and offsets of one multivector column.
fn check_multi(col: &ArchivedMultiColumnBody, n: usize) -> Result<(), String> {
    let dim = col.dim.to_native() as u64;
    if dim == 0 || dim > SEGMENT_MAX_DIM as u64 {
        return Err(format!("dimension {dim}"));
    }
    if distance_from_code(col.distance).is_none() {
        return Err(format!("unknown distance code {}", col.distance));
    }
    if col.present.len() != bitmap_words(n) {
        return Err(format!("presence bitmap of {} words", col.present.len()));
    }
    let ends = u64s(col.ends.as_slice());
    if ends.len() != n {
        return Err("per-slot lengths disagree".into());
    }
    let mut start = 0u64;
    for &end in ends {
        if end < start || !end.is_multiple_of(dim) {
            return Err("offsets are not monotonic rows".into());
        }
        start = end;
    }
    if start != col.data.len() as u64 {
        return Err("offsets do not cover the rows".into());
    }
    Ok(())
}

/// Lengths, offsets and orders of one sparse column, so reads can slice without panicking.
fn check_sparse(col: &ArchivedSparseColumnBody, n: usize) -> Result<(), String> {
    if col.present.len() != bitmap_words(n) {
        return Err(format!("presence bitmap of {} words", col.present.len()));
    }
    let ends = u64s(col.ends.as_slice());
    let indices = u32s(col.indices.as_slice());
    if ends.len() != n || col.values.len() != indices.len() {
        return Err("per-slot lengths disagree".into());
    }
    let mut start = 0u64;
    for &end in ends {
        if end < start || end > indices.len() as u64 {
            return Err("offsets are not monotonic".into());
        }
        let row = &indices[start as usize..end as usize];
        if !row.windows(2).all(|w| w[0] < w[1]) {
            return Err("indices of a point are not strictly ascending".into());
        }
        start = end;
    }
    if start != indices.len() as u64 {
        return Err("offsets do not cover the entries".into());
    }
    let terms = u32s(col.terms.as_slice());
    let term_ends = u64s(col.term_ends.as_slice());
    let slots = u32s(col.post_slots.as_slice());
    if !terms.windows(2).all(|w| w[0] < w[1])
        || term_ends.len() != terms.len()
        || col.post_values.len() != slots.len()
        || slots.len() != indices.len()
    {
        return Err("postings are malformed".into());
    }
    let mut start = 0u64;
    for &end in term_ends {
        if end <= start || end > slots.len() as u64 {
            return Err("posting offsets are not monotonic".into());
        }
        let list = &slots[start as usize..end as usize];
        if !list.windows(2).all(|w| w[0] < w[1]) || list.iter().any(|&s| s as usize >= n) {
            return Err("a posting list is out of order or range".into());
        }
        start = end;
    }
    if start != slots.len() as u64 {
        return Err("posting offsets do not cover the postings".into());
    }
    Ok(())
}

/// Id of slot `slot` (which must be below the point count).
pub(crate) fn id_at(body: &ArchivedBody, slot: usize) -> Option<PointId> {
    let nums = u64s(body.num_ids.as_slice());
    match nums.get(slot) {
        Some(&n) => Some(PointId::Num(n)),
        None => u128s(body.uuid_ids.as_slice())
            .get(slot - nums.len())
            .map(|&u| PointId::Uuid(u)),
    }
}
