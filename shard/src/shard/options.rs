//! Tunables of a shard; [`Default`] is what production uses, tests shrink the thresholds.

use crate::wal::{RecoveryPolicy, WAL_PREALLOCATE_BYTES};

/// Points in the mutable part that trigger a flush to a new segment.
pub const SEGMENT_FLUSH_POINTS: usize = 50_000;

/// Log records not covered by a segment that trigger a flush even when the mutable part is
/// small (workloads of updates and deletes), so the log and replay at startup stay bounded.
pub const SEGMENT_FLUSH_WAL_RECORDS: u64 = 200_000;

/// Points copied into the segment builder between two yields to the executor, so requests are
/// served while a segment is built.
pub const SEGMENT_FLUSH_CHUNK_POINTS: usize = 1_024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

impl Default for ShardOptions {
    fn default() -> Self {
        ShardOptions {
            policy: RecoveryPolicy::Strict,
            flush_points: SEGMENT_FLUSH_POINTS,
            flush_wal_records: SEGMENT_FLUSH_WAL_RECORDS,
            flush_chunk_points: SEGMENT_FLUSH_CHUNK_POINTS,
            wal_preallocate_bytes: WAL_PREALLOCATE_BYTES,
        }
    }
}
