//! HNSW (hierarchical navigable small world) graphs over the vector columns of one immutable
//! segment, so a search visits a few thousand vectors instead of all of them.
//!
//! A graph is built once per (segment, column) by [`HnswBuilder`], one point at a time, so the
//! owning core can yield between points; all graphs of a segment are serialized into one file
//! `<segment file>.hnsw` ([`HnswBytes`], [`write_index`]) and read back zero-copy by
//! [`HnswIndex`] after one full validation (header checksums, rkyv bytecheck, structure).
//! The index is derived data: a missing or damaged file is rebuilt from the segment.
//!
//! Nodes are segment slots. A slot without a vector in the column, or deleted when the graph
//! was built, has no links. Later deletions and filters do not change the graph: a search
//! walks through rejected nodes and only collects accepted ones ([`Graph::search`]).
//!
//! Search is generic over [`crate::score::Scorer`], so recommend, discover and context
//! objectives traverse the same graph as plain nearest-neighbour queries (as Qdrant does).
//! Everything is deterministic: levels come from a fixed-seed generator ([`level`]).

mod builder;
mod format;
mod index;
mod level;
mod segment_search;
mod settings;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_bench;
#[cfg(test)]
mod tests_shard;
mod traverse;

use std::path::Path;

use vexfs_io::Storage;

pub use builder::{HnswBuilder, HnswBytes, HnswFileBuilder};
pub use format::{HNSW_FORMAT_VERSION, HNSW_MAGIC};
pub use index::{Graph, HnswIndex};
pub use segment_search::{
    estimate_matching, plan, search_segment, SegmentPlan, FILTER_SAMPLE_SLOTS,
};
pub use settings::{
    vectors_in_kb, ColumnIndexSettings, IndexSettings, DEFAULT_FULL_SCAN_THRESHOLD_KB,
    DEFAULT_HNSW_EF_CONSTRUCT, DEFAULT_HNSW_M, DEFAULT_INDEXING_THRESHOLD_KB,
};

/// Highest layer a node may be placed on. With M ≥ 2 the chance of a level above this is
/// below 2⁻¹⁶ per point; capping keeps a damaged generator from building absurd graphs.
pub const HNSW_MAX_LEVEL: usize = 16;

/// Largest M accepted (Qdrant's configs use 0..=64 in practice); bounds per-node list sizes.
pub const HNSW_MAX_M: usize = 512;

/// Largest beam width of a search or build; a larger request is clamped (bounded memory).
pub const HNSW_MAX_EF: usize = 65_536;

/// Graph parameters of one column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HnswConfig {
    /// Links per node on the upper layers; layer 0 keeps `2 * m`.
    pub m: usize,
    /// Beam width while building.
    pub ef_construct: usize,
}

impl HnswConfig {
    /// Links a node keeps on `layer`.
    pub fn max_links(&self, layer: usize) -> usize {
        if layer == 0 {
            self.m * 2
        } else {
            self.m
        }
    }
}

/// Why an index file was refused or could not be written.
#[derive(Debug, thiserror::Error)]
pub enum HnswError {
    #[error("hnsw index {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: vexfs_io::Error,
    },
    #[error("hnsw index {path} is corrupt: {reason}")]
    Corrupt { path: String, reason: String },
    #[error("hnsw index {path} has format version {found}, this build reads version {supported}")]
    UnsupportedVersion {
        path: String,
        found: u32,
        supported: u32,
    },
    /// Valid on its own, but built for another segment (slot count, column shape).
    #[error("hnsw index {path} does not match its segment: {reason}")]
    Mismatch { path: String, reason: String },
    #[error("hnsw index: serializing failed: {0}")]
    Serialize(String),
    #[error("hnsw index: {0}")]
    Config(String),
}

impl HnswError {
    pub(crate) fn corrupt(path: &str, reason: impl Into<String>) -> Self {
        HnswError::Corrupt {
            path: path.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Name of the index file of the segment file `segment`.
pub fn index_file_name(segment: &str) -> String {
    format!("{segment}.hnsw")
}

/// Whether `name` is an index file (or its temp file) and, if so, its segment's file name.
pub fn segment_of_index_file(name: &str) -> Option<&str> {
    name.strip_suffix(".hnsw")
}

/// Writes an index atomically to `dir/name` (temp file, fdatasync, rename, directory fsync).
pub async fn write_index<S: Storage>(
    storage: &S,
    dir: &Path,
    name: &str,
    bytes: &HnswBytes,
) -> Result<(), HnswError> {
    let path = dir.join(name);
    storage
        .write_file_atomic(&path, bytes.as_bytes())
        .await
        .map_err(|source| HnswError::Io {
            path: path.display().to_string(),
            source,
        })
}
