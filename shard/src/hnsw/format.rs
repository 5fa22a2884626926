//! The index file layout: a 64-byte header, an rkyv archive of [`Body`], zero padding.
//!
//! ```text
//! offset  size  field
//!      0     8  magic "VEXFSHNS"
//!      8     4  format version (u32 LE)
//!     12     4  reserved, zero
//!     16     8  body length in bytes (u64 LE)
//!     24     4  crc32c of the body (u32 LE)
//!     28     4  reserved, zero
//!     32     8  slots of the segment (u64 LE), must match the body and the segment
//!     40    20  reserved, zero
//!     60     4  crc32c of bytes 0..60 (u32 LE)
//!     64     …  rkyv archive of `Body`
//!      …     …  zeros up to a multiple of HNSW_FILE_ALIGN_BYTES
//! ```
//!
//! Each layer is stored as adjacency lists in CSR form (`offsets`, `links`); layer 0 holds
//! every slot, upper layers list their nodes in ascending order (`nodes`) and are searched by
//! binary search. [`check_body`] proves every offset and link in range once at open, so the
//! readers index without further checks.

use rkyv::{Archive, Serialize};

use super::{HnswError, HNSW_MAX_LEVEL, HNSW_MAX_M};
use crate::schema::Distance;
use crate::segment::SEGMENT_MAX_DIM;

pub const HNSW_MAGIC: [u8; 8] = *b"VEXFSHNS";
/// Bumped on any change of the header or of `Body`'s layout.
pub const HNSW_FORMAT_VERSION: u32 = 1;
pub(crate) const HNSW_HEADER_BYTES: usize = 64;
/// Same padding as segment files (O_DIRECT on 512-byte and 4 KiB devices).
pub(crate) const HNSW_FILE_ALIGN_BYTES: usize = 4096;
/// Alignment of the in-memory buffer; the largest archived scalar is u64.
pub(crate) const HNSW_BUFFER_ALIGN_BYTES: usize = 16;
/// `entry` of a graph with no node.
pub(crate) const NO_ENTRY: u32 = u32::MAX;

const _: () = assert!(HNSW_HEADER_BYTES.is_multiple_of(HNSW_BUFFER_ALIGN_BYTES));

const OFF_VERSION: usize = 8;
const OFF_BODY_LEN: usize = 16;
const OFF_BODY_CRC: usize = 24;
const OFF_SLOTS: usize = 32;
const OFF_HEADER_CRC: usize = 60;

#[derive(Archive, Serialize)]
pub(crate) struct Body {
    /// Slots of the segment the graphs were built over.
    pub slots: u64,
    /// That segment's `flushed_lsn` and file size: with `slots`, they tell its segment from
    /// another one that took the same file name (a replaced collection).
    pub segment_lsn: u64,
    pub segment_bytes: u64,
    pub graphs: Vec<GraphBody>,
}

/// The graph of one vector column.
#[derive(Archive, Serialize)]
pub(crate) struct GraphBody {
    pub column: String,
    pub dim: u32,
    /// Segment distance code (`segment::format::distance_code`).
    pub distance: u8,
    pub m: u32,
    pub ef_construct: u32,
    /// Nodes in the graph (slots with a vector, not deleted at build).
    pub indexed: u64,
    /// Where every search starts; [`NO_ENTRY`] when the graph is empty.
    pub entry: u32,
    /// Layer 0 first; the entry is on the last one.
    pub layers: Vec<LayerBody>,
}

#[derive(Archive, Serialize)]
pub(crate) struct LayerBody {
    /// Ascending slots on this layer; empty on layer 0, which holds every slot.
    pub nodes: Vec<u32>,
    /// Node `i`'s neighbours are `links[offsets[i] .. offsets[i + 1]]`.
    pub offsets: Vec<u64>,
    pub links: Vec<u32>,
}

const _: () = {
    use std::mem::{align_of, size_of};
    assert!(size_of::<rend::u32_le>() == size_of::<u32>());
    assert!(align_of::<rend::u32_le>() >= align_of::<u32>());
    assert!(size_of::<rend::u64_le>() == size_of::<u64>());
    assert!(align_of::<rend::u64_le>() >= align_of::<u64>());
};

/// Distance codes of the file (kept separate from the segment's so either format can change
/// alone).
pub(crate) fn distance_code(d: Distance) -> u8 {
    match d {
        Distance::Cosine => 0,
        Distance::Euclid => 1,
        Distance::Dot => 2,
        Distance::Manhattan => 3,
    }
}

pub(crate) fn distance_from_code(code: u8) -> Option<Distance> {
    match code {
        0 => Some(Distance::Cosine),
        1 => Some(Distance::Euclid),
        2 => Some(Distance::Dot),
        3 => Some(Distance::Manhattan),
        _ => None,
    }
}

pub(crate) fn u32s(s: &[rend::u32_le]) -> &[u32] {
    bytemuck::cast_slice(s)
}

pub(crate) fn u64s(s: &[rend::u64_le]) -> &[u64] {
    bytemuck::cast_slice(s)
}

pub(crate) fn encode_header(body: &[u8], slots: u64) -> [u8; HNSW_HEADER_BYTES] {
    let mut h = [0u8; HNSW_HEADER_BYTES];
    h[..8].copy_from_slice(&HNSW_MAGIC);
    h[OFF_VERSION..OFF_VERSION + 4].copy_from_slice(&HNSW_FORMAT_VERSION.to_le_bytes());
    h[OFF_BODY_LEN..OFF_BODY_LEN + 8].copy_from_slice(&(body.len() as u64).to_le_bytes());
    h[OFF_BODY_CRC..OFF_BODY_CRC + 4].copy_from_slice(&crc32c::crc32c(body).to_le_bytes());
    h[OFF_SLOTS..OFF_SLOTS + 8].copy_from_slice(&slots.to_le_bytes());
    let crc = crc32c::crc32c(&h[..OFF_HEADER_CRC]);
    h[OFF_HEADER_CRC..].copy_from_slice(&crc.to_le_bytes());
    h
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

/// What a verified header says about the rest of the file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    pub body_len: usize,
    pub slots: u64,
}

/// Verifies header, length, padding and body checksum of a whole file.
pub(crate) fn verify_file(path: &str, file: &[u8]) -> Result<Header, HnswError> {
    let corrupt = |reason: String| HnswError::corrupt(path, reason);
    if file.len() < HNSW_HEADER_BYTES {
        return Err(corrupt(format!(
            "{} bytes, shorter than the {HNSW_HEADER_BYTES}-byte header",
            file.len()
        )));
    }
    let h = &file[..HNSW_HEADER_BYTES];
    if h[..8] != HNSW_MAGIC {
        return Err(corrupt("bad magic: not an hnsw index file".into()));
    }
    let stored = le_u32(h, OFF_HEADER_CRC);
    let actual = crc32c::crc32c(&h[..OFF_HEADER_CRC]);
    if stored != actual {
        return Err(corrupt(format!(
            "header checksum mismatch (stored {stored:#010x}, computed {actual:#010x})"
        )));
    }
    let version = le_u32(h, OFF_VERSION);
    if version != HNSW_FORMAT_VERSION {
        return Err(HnswError::UnsupportedVersion {
            path: path.to_owned(),
            found: version,
            supported: HNSW_FORMAT_VERSION,
        });
    }
    let body_len = usize::try_from(le_u64(h, OFF_BODY_LEN))
        .map_err(|_| corrupt("body length does not fit in memory".into()))?;
    let data_end = HNSW_HEADER_BYTES
        .checked_add(body_len)
        .ok_or_else(|| corrupt("body length overflows".into()))?;
    let expected_len = data_end
        .checked_next_multiple_of(HNSW_FILE_ALIGN_BYTES)
        .ok_or_else(|| corrupt("body length overflows".into()))?;
    if file.len() != expected_len {
        return Err(corrupt(format!(
            "file is {} bytes, the header implies {expected_len}: truncated or extended",
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
    let actual = crc32c::crc32c(&file[HNSW_HEADER_BYTES..data_end]);
    if stored != actual {
        return Err(corrupt(format!(
            "body checksum mismatch (stored {stored:#010x}, computed {actual:#010x})"
        )));
    }
    Ok(Header {
        body_len,
        slots: le_u64(h, OFF_SLOTS),
    })
}

/// Structural checks rkyv cannot know about: after these, every neighbour list lookup and
/// every link is in range for any slot below `slots`.
pub(crate) fn check_body(path: &str, header: Header, body: &ArchivedBody) -> Result<(), HnswError> {
    let corrupt = |reason: String| HnswError::corrupt(path, reason);
    let slots = body.slots.to_native();
    if slots != header.slots {
        return Err(corrupt(format!(
            "header says {} slots, the body {slots}",
            header.slots
        )));
    }
    if slots > u64::from(u32::MAX) {
        return Err(corrupt(format!("{slots} slots, above the limit")));
    }
    for (i, g) in body.graphs.iter().enumerate() {
        let name = g.column.as_str();
        let bad = |reason: String| corrupt(format!("graph of {name:?}: {reason}"));
        if body.graphs[..i].iter().any(|o| o.column.as_str() == name) {
            return Err(bad("appears twice".into()));
        }
        if g.dim.to_native() as usize > SEGMENT_MAX_DIM {
            return Err(bad(format!("dimension {}", g.dim)));
        }
        if distance_from_code(g.distance).is_none() {
            return Err(bad(format!("unknown distance code {}", g.distance)));
        }
        let m = g.m.to_native() as usize;
        if m == 0 || m > HNSW_MAX_M {
            return Err(bad(format!("m = {m}")));
        }
        let layers = g.layers.len();
        if layers > HNSW_MAX_LEVEL + 1 {
            return Err(bad(format!("{layers} layers")));
        }
        let entry = g.entry.to_native();
        match (entry == NO_ENTRY, layers) {
            (true, 0) => continue,
            (false, 0) | (true, _) => {
                return Err(bad("entry point and layers disagree".into()));
            }
            _ => {}
        }
        if u64::from(entry) >= slots {
            return Err(bad(format!("entry point {entry} out of range")));
        }
        for (l, layer) in g.layers.iter().enumerate() {
            let bad = |reason: String| corrupt(format!("graph of {name:?}, layer {l}: {reason}"));
            let nodes = u32s(layer.nodes.as_slice());
            let offsets = u64s(layer.offsets.as_slice());
            let links = u32s(layer.links.as_slice());
            let count = if l == 0 {
                if !nodes.is_empty() {
                    return Err(bad("layer 0 lists nodes".into()));
                }
                slots as usize
            } else {
                if !nodes.windows(2).all(|w| w[0] < w[1]) {
                    return Err(bad("nodes not strictly ascending".into()));
                }
                if nodes.last().is_some_and(|&n| u64::from(n) >= slots) {
                    return Err(bad("node out of range".into()));
                }
                nodes.len()
            };
            if offsets.len() != count + 1 || offsets.first() != Some(&0) {
                return Err(bad(format!("{} offsets for {count} nodes", offsets.len())));
            }
            let max_list = (2 * m) as u64;
            if !offsets
                .windows(2)
                .all(|w| w[0] <= w[1] && w[1] - w[0] <= max_list)
            {
                return Err(bad("offsets not monotonic or a list too long".into()));
            }
            if offsets.last().copied() != Some(links.len() as u64) {
                return Err(bad("offsets do not end at the links' length".into()));
            }
            if links.iter().any(|&n| u64::from(n) >= slots) {
                return Err(bad("link out of range".into()));
            }
        }
        let top = &g.layers[layers - 1];
        if layers > 1 && u32s(top.nodes.as_slice()).binary_search(&entry).is_err() {
            return Err(bad("entry point is not on the top layer".into()));
        }
    }
    Ok(())
}
