//! Tunables of a shard; [`Default`] is what production uses, tests shrink the thresholds.

use super::pace::Pace;
use crate::wal::{RecoveryPolicy, WAL_PREALLOCATE_BYTES};

/// Points in the mutable part that trigger a flush to a new segment.
pub const SEGMENT_FLUSH_POINTS: usize = 50_000;

/// Log records not covered by a segment that trigger a flush even when the mutable part is
/// small (workloads of updates and deletes), so the log and replay at startup stay bounded.
pub const SEGMENT_FLUSH_WAL_RECORDS: u64 = 200_000;

/// Points copied into the segment builder between two yields to the executor, so requests are
/// served while a segment is built.
pub const SEGMENT_FLUSH_CHUNK_POINTS: usize = 1_024;

#[derive(Debug, Clone, Copy)]
pub struct ShardOptions {
    /// What to do with a log damaged in the middle.
    pub policy: RecoveryPolicy,
    /// Points in the mutable part that trigger a flush.
    pub flush_points: usize,
    /// Unflushed log records that trigger a flush.
    pub flush_wal_records: u64,
    /// Points built between yields during a flush.
    pub flush_chunk_points: usize,
    /// Growth step of log files, in bytes (a multiple of the file alignment).
    pub wal_preallocate_bytes: u64,
    /// When background work (flush, optimize, index) gives the core back to requests.
    pub pace: Pace,
}

impl Default for ShardOptions {
    fn default() -> Self {
        ShardOptions {
            policy: RecoveryPolicy::Strict,
            flush_points: SEGMENT_FLUSH_POINTS,
            flush_wal_records: SEGMENT_FLUSH_WAL_RECORDS,
            flush_chunk_points: SEGMENT_FLUSH_CHUNK_POINTS,
            wal_preallocate_bytes: WAL_PREALLOCATE_BYTES,
            pace: Pace::EVERY_CHUNK,
        }
    }
}

/// Qdrant's default `optimizers_config.deleted_threshold`: the fraction of a segment's points
/// that must be deleted before it is rewritten without them.
pub const OPTIMIZER_DELETED_THRESHOLD: f64 = 0.2;

/// Qdrant's default `optimizers_config.vacuum_min_vector_number`: deleted points a segment
/// must hold before a vacuum is worth its rewrite.
pub const OPTIMIZER_VACUUM_MIN_POINTS: usize = 1000;

/// Segments a shard is merged down to when `default_segment_number` is 0 ("automatic").
/// Qdrant picks the CPU count so that one search spreads over threads; a shard here is
/// searched by its one owning core, so more segments only cost per-segment overhead. Four
/// keeps that small while each flush merges into a small segment rather than rewriting the
/// largest one (write amplification).
pub const OPTIMIZER_AUTO_SEGMENT_NUMBER: usize = 4;

/// Largest merged segment, in KB of vectors (Qdrant's unit: 1 KB = one 256-dim f32 vector),
/// when `max_segment_size` is unset: 256 MiB, about 500k 128-dim vectors. A segment is read
/// whole into memory and a merge holds its sources and its result at once, so this bounds
/// the memory a merge adds.
pub const OPTIMIZER_MAX_SEGMENT_KB: u64 = 256 * 1024;

/// What the background optimizer of a shard does (Qdrant's `optimizers_config`); may change
/// while the shard runs ([`super::Shard::set_optimizer_options`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptimizerOptions {
    /// False when `max_optimization_threads` is 0: no merge or vacuum runs.
    pub enabled: bool,
    /// A segment whose persisted deleted fraction exceeds this is vacuumed…
    pub deleted_threshold: f64,
    /// …when it also holds at least this many deleted points.
    pub vacuum_min_points: usize,
    /// Segments are merged while there are more than this; 0 = [`OPTIMIZER_AUTO_SEGMENT_NUMBER`].
    pub default_segment_number: usize,
    /// No merge produces a segment with more KB of vectors than this;
    /// `None` = [`OPTIMIZER_MAX_SEGMENT_KB`].
    pub max_segment_kb: Option<u64>,
}

impl Default for OptimizerOptions {
    fn default() -> Self {
        OptimizerOptions {
            enabled: true,
            deleted_threshold: OPTIMIZER_DELETED_THRESHOLD,
            vacuum_min_points: OPTIMIZER_VACUUM_MIN_POINTS,
            default_segment_number: 0,
            max_segment_kb: None,
        }
    }
}

impl OptimizerOptions {
    /// Segments the merge policy aims for.
    pub fn target_segments(&self) -> usize {
        match self.default_segment_number {
            0 => OPTIMIZER_AUTO_SEGMENT_NUMBER,
            n => n,
        }
    }

    /// Largest merged segment, in bytes of vectors.
    pub fn max_segment_bytes(&self) -> u64 {
        self.max_segment_kb
            .unwrap_or(OPTIMIZER_MAX_SEGMENT_KB)
            .saturating_mul(1024)
    }
}
