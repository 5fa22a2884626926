//! How a shard indexes and searches its segments: Qdrant's `hnsw_config` (per collection,
//! overridable per vector) and `optimizers_config.indexing_threshold`. Changing them affects
//! segments indexed later and searches started later; built graphs keep their own M and
//! ef_construct (stored in the file).

use std::collections::BTreeMap;

use super::HnswConfig;
use crate::quant::QuantConfig;

/// Qdrant's default `hnsw_config.m`.
pub const DEFAULT_HNSW_M: usize = 16;
/// Qdrant's default `hnsw_config.ef_construct` (also the default search `ef`).
pub const DEFAULT_HNSW_EF_CONSTRUCT: usize = 100;
/// Qdrant's default `hnsw_config.full_scan_threshold`, in KiB of vectors.
pub const DEFAULT_FULL_SCAN_THRESHOLD_KB: usize = 10_000;
/// Qdrant's default `optimizers_config.indexing_threshold` (v1.19 spec), in KiB of vectors.
pub const DEFAULT_INDEXING_THRESHOLD_KB: usize = 10_000;

/// Index parameters of one vector column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColumnIndexSettings {
    /// 0 disables the graph for this column.
    pub m: usize,
    pub ef_construct: usize,
    /// Below this many KiB of (matching) vectors a search scans instead of walking the graph.
    pub full_scan_threshold_kb: usize,
    /// Quantized codes to build for this column (Qdrant's `quantization_config`).
    pub quantization: Option<QuantConfig>,
}

impl Default for ColumnIndexSettings {
    fn default() -> Self {
        ColumnIndexSettings {
            m: DEFAULT_HNSW_M,
            ef_construct: DEFAULT_HNSW_EF_CONSTRUCT,
            full_scan_threshold_kb: DEFAULT_FULL_SCAN_THRESHOLD_KB,
            quantization: None,
        }
    }
}

impl ColumnIndexSettings {
    pub fn graph_config(&self) -> Option<HnswConfig> {
        (self.m > 0).then_some(HnswConfig {
            m: self.m,
            ef_construct: self.ef_construct.max(1),
        })
    }

    /// Vectors of dimension `dim` that fit under the full-scan threshold.
    pub fn full_scan_vectors(&self, dim: usize) -> usize {
        vectors_in_kb(self.full_scan_threshold_kb, dim)
    }
}

/// How many `dim`-dimensional f32 vectors `kb` KiB hold (Qdrant's conversion of its KB
/// thresholds to vector counts).
pub fn vectors_in_kb(kb: usize, dim: usize) -> usize {
    kb.saturating_mul(1024) / (dim.max(1) * std::mem::size_of::<f32>())
}

/// Index parameters of a shard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexSettings {
    /// A segment column is indexed once it holds this many KiB of vectors; 0 disables
    /// indexing.
    pub indexing_threshold_kb: usize,
    /// Collection-wide parameters.
    pub default: ColumnIndexSettings,
    /// Per-vector overrides, by vector name.
    pub columns: BTreeMap<String, ColumnIndexSettings>,
}

impl Default for IndexSettings {
    fn default() -> Self {
        IndexSettings {
            indexing_threshold_kb: DEFAULT_INDEXING_THRESHOLD_KB,
            default: ColumnIndexSettings::default(),
            columns: BTreeMap::new(),
        }
    }
}

impl IndexSettings {
    pub fn column(&self, name: &str) -> ColumnIndexSettings {
        self.columns.get(name).copied().unwrap_or(self.default)
    }

    /// Whether a column of `vectors` vectors of dimension `dim` should get a graph.
    pub fn wants_graph(&self, name: &str, vectors: usize, dim: usize) -> Option<HnswConfig> {
        if self.indexing_threshold_kb == 0 || vectors == 0 {
            return None;
        }
        let config = self.column(name).graph_config()?;
        (vectors >= vectors_in_kb(self.indexing_threshold_kb, dim)).then_some(config)
    }

    /// The quantization a column of `vectors` vectors of dimension `dim` should get: its
    /// config once the column passes the indexing threshold (graph or not, like Qdrant,
    /// which quantizes the segments its optimizers index).
    pub fn wants_quant(&self, name: &str, vectors: usize, dim: usize) -> Option<QuantConfig> {
        if self.indexing_threshold_kb == 0 || vectors == 0 {
            return None;
        }
        let config = self.column(name).quantization?;
        (vectors >= vectors_in_kb(self.indexing_threshold_kb, dim)).then_some(config)
    }
}
