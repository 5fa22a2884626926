//! The index file layout: the shared checksummed frame ([`crate::frame`], magic "VEXFSHNS",
//! item count = slots of the segment, which the body must match) around an rkyv archive of
//! [`Body`].
//!
//! Each layer is stored as adjacency lists in CSR form (`offsets`, `links`); layer 0 holds
//! every slot, upper layers list their nodes in ascending order (`nodes`) and are searched by
//! binary search. [`check_body`] proves every offset and link in range once at open, so the
//! readers index without further checks.

use rkyv::{Archive, Serialize};

use super::{HnswError, HNSW_MAX_LEVEL, HNSW_MAX_M};
pub(crate) use crate::archived::{distance_code, distance_from_code, u32s, u64s};
use crate::frame::{FrameError, FrameKind, FRAME_FILE_ALIGN_BYTES, FRAME_HEADER_BYTES};
use crate::segment::SEGMENT_MAX_DIM;

pub const HNSW_MAGIC: [u8; 8] = *b"VEXFSHNS";
/// Bumped on any change of the header or of `Body`'s layout.
pub const HNSW_FORMAT_VERSION: u32 = 1;
pub(crate) const HNSW_HEADER_BYTES: usize = FRAME_HEADER_BYTES;
/// Same padding as segment files (O_DIRECT on 512-byte and 4 KiB devices).
pub(crate) const HNSW_FILE_ALIGN_BYTES: usize = FRAME_FILE_ALIGN_BYTES;
/// Alignment of the in-memory buffer; the largest archived scalar is u64.
pub(crate) const HNSW_BUFFER_ALIGN_BYTES: usize = 16;
/// `entry` of a graph with no node.
pub(crate) const NO_ENTRY: u32 = u32::MAX;

const _: () = assert!(HNSW_HEADER_BYTES.is_multiple_of(HNSW_BUFFER_ALIGN_BYTES));

const FRAME: FrameKind = FrameKind {
    magic: HNSW_MAGIC,
    version: HNSW_FORMAT_VERSION,
    what: "an hnsw index file",
};

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

pub(crate) fn encode_header(body: &[u8], slots: u64) -> [u8; HNSW_HEADER_BYTES] {
    FRAME.encode_header(body, slots)
}

/// What a verified header says about the rest of the file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    pub body_len: usize,
    pub slots: u64,
}

/// Verifies header, length, padding and body checksum of a whole file.
pub(crate) fn verify_file(path: &str, file: &[u8]) -> Result<Header, HnswError> {
    match FRAME.verify(file) {
        Ok(h) => Ok(Header {
            body_len: h.body_len,
            slots: h.count,
        }),
        Err(FrameError::Corrupt(reason)) => Err(HnswError::corrupt(path, reason)),
        Err(FrameError::UnsupportedVersion(found)) => Err(HnswError::UnsupportedVersion {
            path: path.to_owned(),
            found,
            supported: HNSW_FORMAT_VERSION,
        }),
    }
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
