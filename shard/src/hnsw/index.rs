//! An open index file: validated once, then read in place (neighbour lists are slices of the
//! file's buffer; a search allocates only its heaps and visited set).

use std::path::Path;

use rkyv::rancor;
use rkyv::util::AlignedVec;
use vexfs_io::Storage;

use super::builder::HnswBytes;
use super::format::{
    check_body, distance_from_code, u32s, u64s, verify_file, ArchivedBody, ArchivedGraphBody,
    HNSW_BUFFER_ALIGN_BYTES, HNSW_HEADER_BYTES, NO_ENTRY,
};
use super::traverse::{greedy, search_layer, Links, Scored, Visited};
use super::{HnswError, HNSW_MAX_EF};
use crate::distance::Metric;
use crate::schema::Distance;
use crate::score::Scorer;
use crate::segment::Segment;

/// The graphs of one segment's columns.
pub struct HnswIndex {
    /// Named in every error.
    path: String,
    /// The whole file. Never mutated after validation: `body()` relies on it.
    buf: AlignedVec<HNSW_BUFFER_ALIGN_BYTES>,
    body_len: usize,
}

impl std::fmt::Debug for HnswIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HnswIndex")
            .field("path", &self.path)
            .field("bytes", &self.buf.len())
            .finish_non_exhaustive()
    }
}

impl HnswIndex {
    /// Reads and validates the index at `path`; `Ok(None)` when there is no such file.
    pub async fn open<S: Storage>(storage: &S, path: &Path) -> Result<Option<Self>, HnswError> {
        let shown = path.display().to_string();
        let file = match storage.read_file(path).await {
            Ok(Some(file)) => file,
            Ok(None) => return Ok(None),
            Err(source) => {
                return Err(HnswError::Io {
                    path: shown,
                    source,
                })
            }
        };
        let mut buf = AlignedVec::<HNSW_BUFFER_ALIGN_BYTES>::with_capacity(file.len());
        buf.extend_from_slice(&file);
        drop(file);
        Self::from_aligned(shown, buf).map(Some)
    }

    /// Opens freshly built bytes without touching storage. `path` is only used in errors.
    pub fn from_bytes(path: &str, bytes: HnswBytes) -> Result<Self, HnswError> {
        Self::from_aligned(path.to_owned(), bytes.buf)
    }

    /// Validates arbitrary bytes (tests of damaged files).
    pub fn from_slice(path: &str, bytes: &[u8]) -> Result<Self, HnswError> {
        let mut buf = AlignedVec::<HNSW_BUFFER_ALIGN_BYTES>::with_capacity(bytes.len());
        buf.extend_from_slice(bytes);
        Self::from_aligned(path.to_owned(), buf)
    }

    fn from_aligned(
        path: String,
        buf: AlignedVec<HNSW_BUFFER_ALIGN_BYTES>,
    ) -> Result<Self, HnswError> {
        let header = verify_file(&path, &buf)?;
        let body_bytes = &buf[HNSW_HEADER_BYTES..HNSW_HEADER_BYTES + header.body_len];
        let body = rkyv::access::<ArchivedBody, rancor::Error>(body_bytes)
            .map_err(|e| HnswError::corrupt(&path, format!("invalid archive: {e}")))?;
        check_body(&path, header, body)?;
        Ok(HnswIndex {
            path,
            body_len: header.body_len,
            buf,
        })
    }

    fn body(&self) -> &ArchivedBody {
        let bytes = &self.buf[HNSW_HEADER_BYTES..HNSW_HEADER_BYTES + self.body_len];
        // SAFETY: `from_aligned` is the only constructor; it ran `rkyv::access` (full bytecheck
        // validation) on exactly this range of exactly this buffer and failed unless it
        // passed. `buf` and `body_len` are private and never change afterwards, and the
        // AlignedVec's heap allocation does not move with the struct.
        unsafe { rkyv::access_unchecked::<ArchivedBody>(bytes) }
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// Size of the file in bytes (and of its copy in memory).
    pub fn file_bytes(&self) -> usize {
        self.buf.len()
    }

    /// Slots of the segment it was built for.
    pub fn slots(&self) -> usize {
        self.body().slots.to_native() as usize
    }

    /// The graph of `column`, if the index has one.
    pub fn graph(&self, column: &str) -> Option<Graph<'_>> {
        let slots = self.slots();
        self.body()
            .graphs
            .iter()
            .find(|g| g.column.as_str() == column)
            .map(|body| Graph { body, slots })
    }

    /// Names of the indexed columns.
    pub fn columns(&self) -> impl Iterator<Item = &str> + '_ {
        self.body().graphs.iter().map(|g| g.column.as_str())
    }

    /// Refuses an index built for another segment: slot count, column dimension and distance
    /// must match (a file name can be reused by a different segment after a crash).
    pub fn check_segment(&self, segment: &Segment) -> Result<(), HnswError> {
        let mismatch = |reason: String| HnswError::Mismatch {
            path: self.path.clone(),
            reason,
        };
        if self.slots() != segment.len() {
            return Err(mismatch(format!(
                "{} slots, the segment has {}",
                self.slots(),
                segment.len()
            )));
        }
        let body = self.body();
        if body.segment_lsn.to_native() != segment.flushed_lsn()
            || body.segment_bytes.to_native() != segment.file_bytes() as u64
        {
            return Err(mismatch("built for another segment of that name".into()));
        }
        for g in self.body().graphs.iter() {
            let name = g.column.as_str();
            let Some(c) = segment.column(name) else {
                return Err(mismatch(format!("no column {name:?} in the segment")));
            };
            let info = &segment.columns()[c];
            if info.dim != g.dim.to_native() as usize
                || Some(info.distance) != distance_from_code(g.distance)
            {
                return Err(mismatch(format!("column {name:?} has another shape")));
            }
        }
        Ok(())
    }
}

/// One column's graph, borrowed from its index.
#[derive(Clone, Copy)]
pub struct Graph<'a> {
    body: &'a ArchivedGraphBody,
    slots: usize,
}

impl Links for Graph<'_> {
    fn neighbours(&self, layer: usize, node: u32) -> &[u32] {
        let Some(l) = self.body.layers.get(layer) else {
            return &[];
        };
        let offsets = u64s(l.offsets.as_slice());
        let i = if layer == 0 {
            node as usize
        } else {
            match u32s(l.nodes.as_slice()).binary_search(&node) {
                Ok(i) => i,
                Err(_) => return &[],
            }
        };
        // check_body proved the offsets monotonic and ending at the links' length.
        match (offsets.get(i), offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => u32s(l.links.as_slice())
                .get(a as usize..b as usize)
                .unwrap_or(&[]),
            _ => &[],
        }
    }
}

impl Graph<'_> {
    pub fn dim(&self) -> usize {
        self.body.dim.to_native() as usize
    }

    pub fn distance(&self) -> Distance {
        distance_from_code(self.body.distance).unwrap_or(Distance::Dot)
    }

    pub fn m(&self) -> usize {
        self.body.m.to_native() as usize
    }

    pub fn ef_construct(&self) -> usize {
        self.body.ef_construct.to_native() as usize
    }

    /// Nodes in the graph (vectors indexed).
    pub fn indexed(&self) -> usize {
        self.body.indexed.to_native() as usize
    }

    /// The up-to-`ef` best accepted slots by `scorer`, best first, as `(score, slot)`.
    /// `data` is the column (`slot` owns `data[slot*dim ..][..dim]`). A scorer or column of
    /// another dimension finds nothing.
    pub fn search<S: Scorer>(
        &self,
        data: &[f32],
        scorer: &S,
        ef: usize,
        accept: impl FnMut(u32) -> bool,
    ) -> Vec<(f32, u32)> {
        let dim = self.dim();
        if scorer.dim() != dim || data.len() != self.slots * dim {
            return Vec::new();
        }
        let metric = Metric(self.distance());
        let score = |s: u32| {
            let start = s as usize * dim;
            data.get(start..start + dim)
                .map(|v| scorer.score(metric, v))
        };
        self.search_scored(ef, score, accept)
    }

    /// [`Graph::search`] with any per-slot score (quantized codes); `None` skips a slot.
    pub fn search_scored(
        &self,
        ef: usize,
        mut score: impl FnMut(u32) -> Option<f32>,
        mut accept: impl FnMut(u32) -> bool,
    ) -> Vec<(f32, u32)> {
        let entry = self.body.entry.to_native();
        if entry == NO_ENTRY {
            return Vec::new();
        }
        let Some(entry_score) = score(entry) else {
            return Vec::new();
        };
        let mut cur = Scored {
            score: entry_score,
            slot: entry,
        };
        for layer in (1..self.body.layers.len()).rev() {
            cur = greedy(self, layer, cur, &mut score);
        }
        let mut visited = Visited::new(self.slots);
        search_layer(
            self,
            0,
            &[cur],
            ef.clamp(1, HNSW_MAX_EF),
            &mut visited,
            &mut score,
            &mut accept,
        )
        .into_iter()
        .map(|s| (s.score, s.slot))
        .collect()
    }
}
