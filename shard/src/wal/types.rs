//! Public types of the WAL: recovery policy, options, errors and counters.

use super::{Lsn, WAL_PREALLOCATE_BYTES};

/// What to do when recovery finds a damaged record followed by later durable records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryPolicy {
    /// Refuse to open: an operator must look at the file.
    Strict,
    /// Keep the intact prefix, cut the log at the damage and warn.
    TruncateCorrupt,
}

/// Tunables; [`Default`] is what production uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalOptions {
    pub policy: RecoveryPolicy,
    /// Growth step of the file in bytes; a multiple of the file's alignment.
    pub preallocate_bytes: u64,
    /// LSN of the file's first record (of the next one appended, when the file is empty):
    /// 1 for the first file of a log, the boundary + 1 for a file started by a rotation.
    pub first_lsn: Lsn,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            policy: RecoveryPolicy::Strict,
            preallocate_bytes: WAL_PREALLOCATE_BYTES,
            first_lsn: 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error("WAL {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: vexfs_io::Error,
    },
    #[error(
        "WAL {path} is corrupt at byte offset {offset} (expected lsn {expected_lsn}: {reason}); \
         an intact later record at byte offset {later_offset} shows this is not a torn tail"
    )]
    Corrupt {
        path: String,
        offset: u64,
        expected_lsn: Lsn,
        later_offset: u64,
        reason: String,
    },
    #[error("WAL {path} failed earlier and accepts no more writes until reopened: {cause}")]
    Failed { path: String, cause: String },
    #[error("WAL record of {len} bytes exceeds the limit of {max} bytes")]
    RecordTooLarge { len: usize, max: usize },
    #[error("WAL {path}: sync_to({lsn}) beyond the last appended lsn {last}")]
    NotAppended { path: String, lsn: Lsn, last: Lsn },
    /// Records the log must hold are missing: a file ends early although a later file exists
    /// (the later file was created only after this one was synced), or no file starts early
    /// enough.
    #[error("WAL {path}: expected records up to lsn {expected}, found only up to lsn {found}")]
    Missing {
        path: String,
        expected: Lsn,
        found: Lsn,
    },
}

/// Counters for benchmarks and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WalStats {
    /// Flushes, each ending in exactly one fdatasync.
    pub flushes: u64,
    /// Records made durable by those flushes.
    pub records_flushed: u64,
    /// Bytes written by those flushes, padding and rewritten tail blocks included.
    pub bytes_written: u64,
}
