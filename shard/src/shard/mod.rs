//! One shard: a small mutable point store fed by the write-ahead log, plus immutable segments.
//! Owned by exactly one core; used through `&self` from that core's tasks, never holding a
//! borrow across an await.
//!
//! Files in the shard directory:
//! - `wal-<first lsn>.log`: the log, split into files at each flush ([`crate::wal::files`]);
//! - `seg-<lsn>.seg`: a segment holding the writes up to `lsn`;
//! - `seg-<lsn>-m<n>.seg`: a segment an optimization wrote while `lsn` was the flushed LSN
//!   ([`optimize::merged_segment_name`]);
//! - `<segment>.hnsw`: a segment's vector index, removed with it;
//! - `seg-<lsn>.seg.del-<lsn2>`: that segment's deletions as of the flush at `lsn2`;
//! - `manifest.json`: which of those make up the shard, and where replay starts
//!   ([`manifest`] explains why a manifest);
//! - `seg-<lsn>.seg.hnsw`: that segment's HNSW graphs (derived data, not in the manifest);
//! - `seg-<lsn>.seg.quant`: that segment's quantized vector codes (derived data, likewise).
//!
//! When the mutable store passes [`ShardOptions::flush_points`], [`run_flusher`] writes it out
//! as a new segment in the background ([`flush`] has the steps and the crash argument). The
//! same task then merges small segments and vacuums deleted points ([`optimize`]);
//! [`run_indexer`] builds the graphs of new segments ([`index`]).

mod conditional;
mod flush;
mod index;
mod manifest;
mod optimize;
mod options;
mod pace;
mod parts;
mod payload_indexes;
mod quantize;
mod read;
mod recover;
mod snapshot;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_conditional;
#[cfg(test)]
mod tests_model;
#[cfg(test)]
mod tests_optimize;
#[cfg(test)]
mod tests_payload_index;
#[cfg(test)]
mod tests_schema;
#[cfg(test)]
mod tests_snapshot;

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::rc::Weak;

use event_listener::Event;
use vexfs_io::Storage;

use crate::error::{Error, Result};
use crate::filter::JsonPath;
use crate::hnsw::IndexSettings;
use crate::op::WriteOp;
use crate::payload_index::IndexKind;
use crate::schema::ShardSchema;
use crate::wal::{Lsn, Wal, WalStats};

pub use conditional::{UpdateCondition, UpdateMode};
use index::IndexCounters;
pub use index::{run_indexer, IndexStats, HNSW_BUILD_CHUNK_POINTS};
pub use manifest::{Manifest, ManifestSegment, MANIFEST_FILE_NAME};
pub use optimize::{
    merged_segment_name, name_uuid, OptimizationKind, OptimizationReport, OptimizationStatus,
    OptimizerReport, Plan, OPTIMIZATIONS_COMPLETED_MAX,
};
pub use options::{
    OptimizerOptions, ShardOptions, OPTIMIZER_AUTO_SEGMENT_NUMBER, OPTIMIZER_DELETED_THRESHOLD,
    OPTIMIZER_MAX_SEGMENT_KB, OPTIMIZER_VACUUM_MIN_POINTS, SEGMENT_FLUSH_CHUNK_POINTS,
    SEGMENT_FLUSH_POINTS, SEGMENT_FLUSH_WAL_RECORDS,
};
pub use pace::{Pace, PauseFuture};
use parts::Parts;
pub use quantize::QUANT_BUILD_CHUNK_POINTS;
pub use snapshot::{ShardSnapshot, SnapshotCopy, SnapshotFile};

pub struct Shard<S: Storage> {
    storage: S,
    dir: PathBuf,
    options: ShardOptions,
    parts: RefCell<Parts>,
    wal: Wal<S::File>,
    /// The manifest as last committed.
    manifest: RefCell<Manifest>,
    /// Reused encoding buffer for log records.
    scratch: RefCell<Vec<u8>>,
    /// A flush or an optimization is running: one structural change at a time.
    flushing: Cell<bool>,
    /// Notified when the mutable part passes a threshold, and when the shard is dropped.
    flush_wanted: Event,
    /// Set when the shard's collection is deleted: a flush still running must not write into a
    /// directory that may already belong to a new collection of the same name.
    closed: Cell<bool>,
    /// Notified when a flush ends (snapshots wait for one to finish before pinning).
    flush_ended: Event,
    /// Snapshots copying the files right now; flushes wait while it is not zero, because a
    /// flush removes log files and replaced sidecars a snapshot may still be reading.
    snapshot_pins: Cell<usize>,
    /// What the optimizer does (the collection's `optimizers_config`).
    optimizer: Cell<OptimizerOptions>,
    /// What the optimizer is doing and did.
    optimizer_state: RefCell<optimize::OptimizerState>,
    /// How segments are indexed and searched ([`Shard::set_index_settings`]).
    index_settings: RefCell<IndexSettings>,
    /// Notified when the index settings change and when the shard is closed or dropped.
    index_wanted: Event,
    index_counters: IndexCounters,
    /// Segments whose index build failed; skipped until the shard is reopened.
    index_failed: RefCell<BTreeSet<String>>,
    /// Payload keys indexed (the collection's `payload_schema`) and the version of that list;
    /// segments whose payload index is of another version get a new one from the indexer.
    payload_defs: RefCell<(u64, Vec<(JsonPath, IndexKind)>)>,
}

impl<S: Storage> Shard<S> {
    /// Marks the shard closed (its collection was deleted): later writes and any flush step
    /// not yet started fail with [`Error::Closed`]; the background flusher ends.
    pub fn close(&self) {
        self.closed.set(true);
        self.flush_wanted.notify(usize::MAX);
        self.index_wanted.notify(usize::MAX);
    }

    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.get() {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// Validates, logs (buffered) and applies a write. Durable once `sync_to(lsn)` returns.
    pub fn write(&self, mut op: WriteOp) -> Result<Lsn> {
        self.check_open()?;
        {
            let parts = self.parts.borrow();
            parts
                .mutable
                .prepare_with(&mut op, &|id| parts.contains(id))?;
        }
        let mut scratch = self.scratch.borrow_mut();
        scratch.clear();
        op.encode(&mut scratch);
        let lsn = self.wal.append(&scratch)?;
        drop(scratch);
        self.parts.borrow_mut().apply(op, lsn);
        if self.needs_flush() {
            self.flush_wanted.notify(1);
        }
        Ok(lsn)
    }

    /// Resolves once every write up to `lsn` is on disk (shared fdatasync per flush).
    pub async fn sync_to(&self, lsn: Lsn) -> Result<()> {
        Ok(self.wal.sync_to(lsn).await?)
    }

    /// Whether a flush to a new segment is due: the mutable part is large, or the log holds
    /// many records no segment covers (updates and deletes only grow the log).
    pub fn needs_flush(&self) -> bool {
        if self.flushing.get() || self.snapshot_pins.get() > 0 {
            return false;
        }
        let unflushed = self.wal.last_lsn() - self.manifest.borrow().flushed_lsn;
        self.parts.borrow().mutable.len() >= self.options.flush_points
            || unflushed >= self.options.flush_wal_records
    }

    /// The shard's current vector spaces.
    pub fn schema(&self) -> ShardSchema {
        self.parts.borrow().mutable.schema().clone()
    }

    /// Logs and applies a change of the vector spaces (a named vector created or deleted),
    /// ordered with the writes; durable once `sync_to(lsn)` returns. Writes naming a space
    /// no longer listed are refused from now on.
    pub fn set_schema(&self, schema: ShardSchema) -> Result<Lsn> {
        self.write(WriteOp::SetSchema(schema))
    }

    /// Number of segments (for tests and stats).
    pub fn segment_count(&self) -> usize {
        self.parts.borrow().segments.len()
    }

    /// Segments as Qdrant counts them: the immutable segments plus one appendable segment
    /// (the mutable store; while a flush runs, the store being flushed belongs to it too, so
    /// the count changes only when a segment is installed or retired).
    pub fn parts_count(&self) -> usize {
        self.parts.borrow().segments.len() + 1
    }

    /// Points in the mutable part (for tests and stats).
    pub fn mutable_len(&self) -> usize {
        self.parts.borrow().mutable.len()
    }

    /// Every write up to this LSN is in the segments.
    pub fn flushed_lsn(&self) -> Lsn {
        self.manifest.borrow().flushed_lsn
    }

    pub fn wal_stats(&self) -> WalStats {
        self.wal.stats()
    }

    pub fn last_lsn(&self) -> Lsn {
        self.wal.last_lsn()
    }
}

impl<S: Storage> Drop for Shard<S> {
    fn drop(&mut self) {
        // Lets a waiting `run_flusher` (and `run_indexer`) see the shard is gone and end.
        self.flush_wanted.notify(usize::MAX);
        self.index_wanted.notify(usize::MAX);
    }
}

/// Flushes the shard whenever [`Shard::needs_flush`], and otherwise runs the optimizations
/// due ([`Shard::next_optimization`]), until the shard is dropped or a flush fails (which
/// fails its log: the shard then refuses writes until reopened). One task for both because
/// they exclude each other anyway; a flush goes first. Spawn one per shard on its owning
/// core; it holds the shard only while a flush or an optimization runs.
pub async fn run_flusher<S: Storage>(shard: Weak<Shard<S>>) {
    loop {
        let listener = {
            let Some(s) = shard.upgrade() else { return };
            if s.is_closed() {
                return;
            }
            let l = s.flush_wanted.listen();
            if s.needs_flush() {
                drop(l);
                if let Err(e) = s.flush().await {
                    tracing::error!(dir = %s.dir.display(), "segment flush failed: {e}");
                    return;
                }
                continue;
            }
            if s.next_optimization().is_some() {
                drop(l);
                // An error is recorded in the shard's optimizer report and stops the
                // optimizer (next_optimization is then None); flushes go on.
                let _ = s.optimize().await;
                continue;
            }
            l
        };
        listener.await;
    }
}
