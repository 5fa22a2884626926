//! The background optimizer: rewriting segments into fewer, denser ones while reads and writes
//! go on. A vacuum rewrites one segment without its deleted points; a merge rewrites the
//! smallest segments as one ([`plan`] decides which, from Qdrant's `optimizers_config`).
//!
//! It runs in the shard's flusher task ([`super::run_flusher`]): after each flush, and when
//! the options change, the task checks for a due optimization and runs it. Flushes and
//! optimizations are both structural changes (they rewrite the manifest and remove files), and
//! one runs at a time: they share the shard's `flushing` flag, so snapshots wait for either
//! and pin both off, and a flush due while an optimization runs starts right after it.
//!
//! What a rewrite contains. Let F be the manifest's `flushed_lsn`; no flush runs meanwhile, so
//! F is fixed for the whole optimization. Recovery opens each segment with the sidecar the
//! manifest names — its state at F — and replays the log after F over it. The new segment
//! holds exactly the points of its sources that are live in that state (the persisted sets),
//! with their data and versions, so the manifest naming it instead of the sources describes
//! the same shard at F, and replaying the same log records over it gives the same result.
//! (Dropping points deleted after F as well would be wrong: replaying a payload update logged
//! after F moves its point up from the segments, and would find it gone.) Since each id is
//! live in at most one part, the sources' live points have distinct ids.
//!
//! Steps, and why a crash or error at any point loses nothing acknowledged:
//! 1. Capture, synchronously: the sources' file and sidecar names, and F. Set the flag.
//! 2. Read each source's named sidecar: its persisted deletion set (no sidecar: none). The
//!    manifest names only durable sidecars and none is overwritten, so this is the state at F.
//!    Nothing has changed on disk yet.
//! 3. Build the new segment from the sources' live-at-F points in id order, yielding every
//!    [`super::ShardOptions::flush_chunk_points`] points. The sources never change but for
//!    deletion marks, which this does not read. Its file bitmap is empty and its recorded
//!    flushed LSN is F.
//! 4. Write it atomically under a fresh name ([`merged_segment_name`]). A crash here leaves an
//!    unreferenced file, removed at open. Nothing live is touched.
//! 5. Write the manifest {same flushed_lsn F, the sources replaced by the new segment, which
//!    has no sidecar}: the commit point. Before it, recovery opens the sources as before; after
//!    it, the new segment, which is the same state at F (above); either way it replays the same
//!    log from F + 1. If the write fails, either manifest may be on disk — both are right — and
//!    memory keeps the sources and the old manifest, which the next flush writes again.
//! 6. Install, synchronously: every slot a source has deleted in memory that was live at F
//!    (deleted by records after F, before or during the rewrite) is deleted in the new
//!    segment by id; the sources are replaced by it. Those deletions are not on disk for the
//!    new segment: its entry counts none persisted, so the next flush writes its sidecar, and
//!    until then the log records after F hold them.
//! 7. Remove the sources, their sidecars and their `.hnsw` indexes (files the manifest no
//!    longer names). A crash here leaves files removed at open; failing only warns.
//!
//! An error (or the shard closing) before step 6 leaves memory as it was and at most an
//! unreferenced file: the optimizer reports the error and stops until the shard is reopened,
//! while the shard keeps serving reads and writes. The log is never touched, so no error here
//! fails writes. A dropped optimization future is the same as an error before step 6 (step 6
//! has no await).

mod plan;
mod report;

use std::collections::BTreeSet;

use vexfs_io::Storage;

use super::manifest::ManifestSegment;
use super::options::OptimizerOptions;
use super::parts::SegmentEntry;
use super::recover::remove_unreferenced;
use super::Shard;
use crate::error::Result;
use crate::point_id::PointId;
use crate::segment::{
    read_deleted, write_segment, DeletedSet, Segment, SegmentBuilder, SegmentError,
};
use crate::vector::VectorRef;
use crate::wal::Lsn;

pub use plan::{OptimizationKind, Plan};
pub(super) use report::OptimizerState;
pub use report::{
    name_uuid, OptimizationReport, OptimizationStatus, OptimizerReport, OPTIMIZATIONS_COMPLETED_MAX,
};

/// Name of a segment written by an optimization at flushed LSN `f`: `seg-<f>-m<n>.seg`, `n`
/// the smallest number no file in the directory and no manifest entry uses. Unique: flushes name their segments `seg-<lsn>.seg` with a new LSN each, and
/// an optimization checks the listing and the manifest right before writing (no other
/// structural change runs meanwhile). It starts with `seg-` so `remove_unreferenced` removes it
/// when a crash leaves it unnamed; recovery opens whatever the manifest names.
pub fn merged_segment_name(f: Lsn, n: u32) -> String {
    format!("seg-{f:020}-m{n}.seg")
}

/// What step 1 captured of one source.
struct Source {
    index: usize,
    file: String,
    sidecar: Option<String>,
    persisted_deleted: usize,
    slots: usize,
}

/// Clears the structural-change flag however the optimization ends, wakes whoever waits for
/// it (snapshots; the flusher, as a flush may have become due), and records a cancellation.
struct RunningGuard<'a, S: Storage> {
    shard: &'a Shard<S>,
}

impl<S: Storage> Drop for RunningGuard<'_, S> {
    fn drop(&mut self) {
        let s = self.shard;
        s.optimizer_state
            .borrow_mut()
            .finish(OptimizationStatus::Cancelled);
        s.flushing.set(false);
        s.flush_ended.notify(usize::MAX);
        s.flush_wanted.notify(usize::MAX);
    }
}

impl<S: Storage> Shard<S> {
    /// Changes what the optimizer does; takes effect at its next check, which this triggers.
    pub fn set_optimizer_options(&self, options: OptimizerOptions) {
        self.optimizer.set(options);
        self.flush_wanted.notify(usize::MAX);
    }

    pub fn optimizer_options(&self) -> OptimizerOptions {
        self.optimizer.get()
    }

    /// Running and recent optimizations, and the error that stopped the optimizer if any.
    pub fn optimizer_report(&self) -> OptimizerReport {
        self.optimizer_state.borrow().report()
    }

    /// Whether an optimization is running now.
    pub fn is_optimizing(&self) -> bool {
        self.optimizer_state.borrow().running.is_some()
    }

    /// Each segment's file name and points live in it as of the last flush, in list order.
    pub fn segment_summary(&self) -> Vec<(String, usize)> {
        let parts = self.parts.borrow();
        parts
            .segments
            .iter()
            .map(|e| (e.file.clone(), plan::live_persisted(e)))
            .collect()
    }

    /// The optimization due next, as its kind and its sources' [`Shard::segment_summary`].
    pub fn pending_optimization(&self) -> Option<(OptimizationKind, Vec<(String, usize)>)> {
        let plan = self.next_optimization()?;
        let all = self.segment_summary();
        let sources = plan.sources.iter().filter_map(|&i| all.get(i).cloned());
        Some((plan.kind, sources.collect()))
    }

    /// The optimization [`Shard::optimize`] would run now, if any.
    pub fn next_optimization(&self) -> Option<Plan> {
        if self.flushing.get()
            || self.snapshot_pins.get() > 0
            || self.closed.get()
            || self.wal.check().is_err()
            || self.optimizer_state.borrow().error.is_some()
        {
            return None;
        }
        plan::choose(&self.parts.borrow().segments, &self.optimizer.get())
    }

    /// Runs the due optimization, if any (see the module docs). False when none is due, or a
    /// flush or optimization is running, or a snapshot is copying the files. An error stops
    /// the optimizer until the shard is reopened; reads and writes go on.
    pub async fn optimize(&self) -> Result<bool> {
        let Some(plan) = self.next_optimization() else {
            return Ok(false);
        };
        self.flushing.set(true);
        let guard = RunningGuard { shard: self };
        let sources = {
            let parts = self.parts.borrow();
            plan.sources
                .iter()
                .map(|&i| {
                    let e = &parts.segments[i];
                    Source {
                        index: i,
                        file: e.file.clone(),
                        sidecar: e.sidecar.clone(),
                        persisted_deleted: e.persisted_deleted,
                        slots: e.segment.len(),
                    }
                })
                .collect::<Vec<_>>()
        };
        {
            let mut state = self.optimizer_state.borrow_mut();
            let seq = state.next_seq;
            state.next_seq += 1;
            let points_total = sources.iter().map(|s| s.slots - s.persisted_deleted).sum();
            state.running = Some(OptimizationReport {
                seq,
                kind: plan.kind,
                sources: sources
                    .iter()
                    .map(|s| (s.file.clone(), s.slots - s.persisted_deleted))
                    .collect(),
                target: None,
                points_done: 0,
                points_total,
                status: OptimizationStatus::Running,
            });
        }
        let result = self.rewrite(&sources).await;
        let status = match &result {
            Ok(()) => OptimizationStatus::Done,
            Err(crate::error::Error::Closed) => OptimizationStatus::Cancelled,
            Err(e) => {
                tracing::error!(dir = %self.dir.display(), "segment {} failed: {e}", plan.kind.name());
                OptimizationStatus::Failed(format!("segment {} failed: {e}", plan.kind.name()))
            }
        };
        self.optimizer_state.borrow_mut().finish(status);
        drop(guard);
        result.map(|()| true)
    }

    /// Steps 1 (the rest) to 7 of the module docs.
    async fn rewrite(&self, sources: &[Source]) -> Result<()> {
        let f = self.manifest.borrow().flushed_lsn;
        // Step 2.
        let mut persisted = Vec::with_capacity(sources.len());
        for s in sources {
            let set = match &s.sidecar {
                Some(name) => {
                    let path = self.dir.join(name);
                    read_deleted(&self.storage, &path).await?.ok_or_else(|| {
                        SegmentError::Missing {
                            path: path.display().to_string(),
                        }
                    })?
                }
                None => DeletedSet::new(s.slots),
            };
            if set.slots() != s.slots || set.count() != s.persisted_deleted {
                return Err(SegmentError::Corrupt {
                    path: self.dir.join(&s.file).display().to_string(),
                    reason: format!(
                        "its sidecar holds {} of {} slots deleted, the open segment counts {} of {}",
                        set.count(),
                        set.slots(),
                        s.persisted_deleted,
                        s.slots
                    ),
                }
                .into());
            }
            persisted.push(set);
        }
        // Step 3.
        self.check_open()?;
        let built = self.build_rewrite(sources, &persisted, f).await?;
        // Step 4.
        self.check_open()?;
        let segment = match built {
            Some(bytes) => {
                let name = self.fresh_segment_name(f).await?;
                if let Some(r) = &mut self.optimizer_state.borrow_mut().running {
                    r.target = Some(name.clone());
                }
                write_segment(&self.storage, &self.dir, &name, &bytes).await?;
                let path = self.dir.join(&name).display().to_string();
                // Opened before the commit, so nothing after it can fail.
                Some((name, Segment::from_bytes(&path, bytes)?))
            }
            None => None,
        };
        // Step 5.
        self.check_open()?;
        let mut manifest = self.manifest.borrow().clone();
        assert_eq!(
            manifest.flushed_lsn, f,
            "a flush ran during an optimization"
        );
        let retired: BTreeSet<&str> = sources.iter().map(|s| s.file.as_str()).collect();
        let at = manifest
            .segments
            .iter()
            .position(|m| retired.contains(m.file.as_str()))
            .unwrap_or(manifest.segments.len());
        manifest
            .segments
            .retain(|m| !retired.contains(m.file.as_str()));
        if let Some((name, _)) = &segment {
            manifest.segments.insert(
                at,
                ManifestSegment {
                    file: name.clone(),
                    deleted: None,
                },
            );
        }
        manifest.store(&self.storage, &self.dir).await?;
        // Step 6: no await from here to the end of the install.
        self.install(sources, &persisted, segment);
        *self.manifest.borrow_mut() = manifest.clone();
        // Step 7.
        if let Err(e) = remove_unreferenced(&self.storage, &self.dir, &manifest).await {
            tracing::warn!(dir = %self.dir.display(), "removing optimized segments: {e}");
        }
        Ok(())
    }

    /// Step 3: the sources' points live at F as segment bytes (`None` when there are none).
    async fn build_rewrite(
        &self,
        sources: &[Source],
        persisted: &[DeletedSet],
        f: Lsn,
    ) -> Result<Option<crate::segment::SegmentBytes>> {
        let mut order: Vec<(PointId, usize, u32)> = Vec::new();
        {
            let parts = self.parts.borrow();
            for (k, s) in sources.iter().enumerate() {
                let seg = &parts.segments[s.index].segment;
                assert_eq!(parts.segments[s.index].file, s.file, "segments moved");
                for slot in 0..s.slots as u32 {
                    if persisted[k].contains(slot) {
                        continue;
                    }
                    let id = seg
                        .id(slot)
                        .ok_or_else(|| SegmentError::corrupt(seg.path(), "slot out of range"))?;
                    order.push((id, k, slot));
                }
            }
        }
        if order.is_empty() {
            return Ok(None);
        }
        order.sort_unstable_by_key(|(id, _, _)| *id);
        let schema = self.parts.borrow().mutable.schema().clone();
        let mut builder = SegmentBuilder::with_capacity(&schema, order.len())?;
        let pace = self.options.pace;
        let mut done = 0;
        while done < order.len() {
            // At most `flush_chunk_points` per borrow, fewer when the pace asks for a pause.
            let chunk_end = (done + self.options.flush_chunk_points.max(1)).min(order.len());
            {
                let parts = self.parts.borrow();
                while let Some(&(id, k, slot)) = order.get(done) {
                    let source = &parts.segments[sources[k].index];
                    let lsn = source.segment.flushed_lsn();
                    // Only the columns of spaces the builder's schema has and that are
                    // still current in the source (a deleted space's data is dropped here).
                    let keep = |name: &str| {
                        parts.mutable.space_visible(name, lsn) && schema.check_name(name).is_ok()
                    };
                    push_slot(&mut builder, source, id, slot, &keep)?;
                    done += 1;
                    if done == chunk_end || pace.should_yield() {
                        break;
                    }
                }
            }
            if let Some(r) = &mut self.optimizer_state.borrow_mut().running {
                r.points_done = done;
            }
            pace.pause_if_needed().await;
            self.check_open()?;
        }
        builder.set_flushed_lsn(f);
        Ok(Some(builder.finish_paced(self.options.pace).await?))
    }

    /// A segment name no file and no manifest entry uses (see [`merged_segment_name`]).
    async fn fresh_segment_name(&self, f: Lsn) -> Result<String> {
        let listed: BTreeSet<String> = self
            .storage
            .list_dir(&self.dir)
            .await?
            .into_iter()
            .collect();
        let manifest = self.manifest.borrow();
        let taken =
            |name: &str| listed.contains(name) || manifest.segments.iter().any(|m| m.file == name);
        let n = (1..)
            .find(|&n| !taken(&merged_segment_name(f, n)))
            .unwrap_or(u32::MAX);
        Ok(merged_segment_name(f, n))
    }

    /// Step 6 (synchronous).
    fn install(
        &self,
        sources: &[Source],
        persisted: &[DeletedSet],
        segment: Option<(String, Segment)>,
    ) {
        let mut parts = self.parts.borrow_mut();
        let mut entry = segment.map(|(file, segment)| SegmentEntry {
            persisted_deleted: segment.deleted().count(),
            segment,
            file,
            sidecar: None,
            // A new segment: the indexer builds its graphs (woken below).
            index: None,
            payload_index: None,
            quant: None,
            payload_index_version: 0,
        });
        for (k, s) in sources.iter().enumerate() {
            let source = &parts.segments[s.index].segment;
            assert_eq!(parts.segments[s.index].file, s.file, "segments moved");
            for slot in source.deleted().iter() {
                if persisted[k].contains(slot) {
                    continue;
                }
                // Live at F, so it was copied; its id is live nowhere else.
                if let (Some(e), Some(id)) = (&mut entry, source.id(slot)) {
                    let deleted = e.segment.delete(id);
                    debug_assert!(deleted, "a point live at F was not copied");
                }
            }
        }
        let at = sources.iter().map(|s| s.index).min().unwrap_or(0);
        let mut index = 0;
        parts.segments.retain(|_| {
            let keep = !sources.iter().any(|s| s.index == index);
            index += 1;
            keep
        });
        if let Some(e) = entry {
            parts.segments.insert(at, e);
            // The spaces may have changed while it was built.
            parts.hide_stale_vectors();
        }
        drop(parts);
        self.wake_indexer();
    }
}

/// Copies the point in `slot` of `source` into `builder`.
fn push_slot(
    builder: &mut SegmentBuilder,
    source: &SegmentEntry,
    id: PointId,
    slot: u32,
    keep: &dyn Fn(&str) -> bool,
) -> Result<()> {
    let seg = &source.segment;
    let dense =
        seg.columns().iter().enumerate().filter_map(|(c, info)| {
            Some((info.name.as_str(), VectorRef::Dense(seg.vector(c, slot)?)))
        });
    let sparse = seg
        .sparse_names()
        .iter()
        .enumerate()
        .filter_map(|(c, name)| {
            let (i, v) = seg.sparse_vector(c, slot)?;
            Some((name.as_str(), VectorRef::Sparse(i, v)))
        });
    let multi = seg
        .multi_columns()
        .iter()
        .enumerate()
        .filter_map(|(c, info)| {
            Some((
                info.name.as_str(),
                VectorRef::Multi(info.dim, seg.multi_vector(c, slot)?),
            ))
        });
    let vectors: Vec<(&str, VectorRef<'_>)> = dense
        .chain(sparse)
        .chain(multi)
        .filter(|(name, _)| keep(name))
        .collect();
    let version = seg
        .version(slot)
        .ok_or_else(|| SegmentError::corrupt(seg.path(), format!("slot {slot} out of range")))?;
    let payload = seg.payload(slot)?;
    builder.push(id, version, vectors, payload.as_ref())?;
    Ok(())
}
