//! Inverse document frequency of a sparse index, for spaces with `modifier: idf`.
//!
//! idf(t) = ln(1 + (N − n(t) + 0.5) / (n(t) + 0.5)), N the number of points that have a
//! vector in the space and n(t) those of them whose vector has index t (the BM25 form Qdrant
//! documents). Both are counted over the whole collection: every shard reports its counts
//! ([`crate::store::SparseStats`]) and the caller sums them before weighting the query.

use crate::store::SparseStats;
use crate::vector::SparseVector;

/// idf of one index present in `with_index` of `points` vectors.
pub fn idf(points: u64, with_index: u64) -> f32 {
    let n = with_index as f64;
    let big_n = points as f64;
    (1.0 + (big_n - n + 0.5) / (n + 0.5)).ln() as f32
}

/// Multiplies each weight of `query` by the idf of its index; `stats` were gathered for
/// exactly `query.indices()`, in order.
pub fn weight_query(query: &mut SparseVector, stats: &SparseStats) {
    let factors: Vec<f32> = stats
        .with_index
        .iter()
        .map(|&n| idf(stats.points, n))
        .collect();
    let indices = query.indices().to_vec();
    query.scale_by(|i| {
        indices
            .binary_search(&i)
            .ok()
            .and_then(|k| factors.get(k).copied())
            .unwrap_or(1.0)
    });
}
