//! The parts a shard's points live in — the mutable store, a frozen store being flushed, and
//! immutable segments — and how a logged operation is applied across them.
//!
//! Invariant: every id is live in at most one part. The mutable store is the only one that
//! changes; a write to a point that lives below it first moves the point up (with its current
//! data and version) and marks it deleted below, then applies the operation to the mutable
//! store. The result depends only on the parts' content and the operation, so replaying the
//! log over the parts recovered from disk rebuilds the same points.
//!
//! Vector spaces change by [`WriteOp::SetSchema`], applied to the mutable store only: the
//! frozen store and segments keep the columns they were written with, and a column there
//! counts only while [`PointStore::space_visible`] says it belongs to the current space of
//! that name (reads filter by it; a merge copies only those, so a deleted space's data
//! leaves a segment when the optimizer rewrites it).

use std::collections::BTreeSet;

use crate::hnsw::HnswIndex;
use crate::op::{PointWrite, WriteOp};
use crate::payload_index::PayloadIndex;
use crate::point_id::PointId;
use crate::quant::QuantIndex;
use crate::schema::ShardSchema;
use crate::segment::Segment;
use crate::select::VectorSelector;
use crate::store::PointStore;
use crate::wal::Lsn;

/// The mutable store as it was when a flush began; read-only while its segment is built.
pub(super) struct Frozen {
    pub store: PointStore,
    /// Points of `store` overwritten or deleted since the freeze. The store itself must stay
    /// as it was at the freeze: the segment built from it claims exactly that state.
    pub deleted: BTreeSet<PointId>,
    /// Last LSN applied to `store`.
    pub lsn: Lsn,
}

/// An open segment and what of its deletions is on disk.
pub(super) struct SegmentEntry {
    pub segment: Segment,
    /// File name inside the shard directory.
    pub file: String,
    /// Sidecar holding its deletions as of the last flush, if any.
    pub sidecar: Option<String>,
    /// Deleted slots covered by the file's bitmap and `sidecar`. Deletions only grow, so the
    /// segment has unpersisted ones exactly when its count differs.
    pub persisted_deleted: usize,
    /// Its HNSW graphs, once built or loaded (`<file>.hnsw`).
    pub index: Option<HnswIndex>,
    /// Its quantized vector codes, once built or loaded (`<file>.quant`).
    pub quant: Option<QuantIndex>,
    /// Its payload indexes, built in memory by the indexer for the definitions of version
    /// `payload_index_version` (0: not built yet).
    pub payload_index: Option<PayloadIndex>,
    pub payload_index_version: u64,
}

impl SegmentEntry {
    pub fn dirty(&self) -> bool {
        self.segment.deleted().count() != self.persisted_deleted
    }
}

/// Where a live point is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Loc {
    Mutable(u32),
    Frozen(u32),
    /// Segment index, slot.
    Segment(usize, u32),
}

pub(super) struct Parts {
    pub mutable: PointStore,
    pub frozen: Option<Frozen>,
    /// Oldest first.
    pub segments: Vec<SegmentEntry>,
}

impl Parts {
    pub fn new(schema: ShardSchema) -> Self {
        Parts {
            mutable: PointStore::new(schema),
            frozen: None,
            segments: Vec::new(),
        }
    }

    /// The last LSN whose writes the part at `loc` holds (the mutable store: all of them).
    pub fn data_lsn(&self, loc: Loc) -> Lsn {
        match loc {
            Loc::Mutable(_) => Lsn::MAX,
            Loc::Frozen(_) => self.frozen.as_ref().map_or(Lsn::MAX, |f| f.lsn),
            Loc::Segment(i, _) => self.segments[i].segment.flushed_lsn(),
        }
    }

    /// Tells every segment which of its vector spaces are not current any more, for its
    /// filters (reads and searches check [`PointStore::space_visible`] themselves). Called
    /// when the spaces change and when a segment is installed.
    pub fn hide_stale_vectors(&mut self) {
        let current = &self.mutable;
        for e in &mut self.segments {
            let lsn = e.segment.flushed_lsn();
            let hidden = e
                .segment
                .schema()
                .names()
                .filter(|name| !current.space_visible(name, lsn))
                .map(str::to_owned)
                .collect();
            e.segment.set_hidden_vectors(hidden);
        }
    }

    /// Where the live point `id` is, if anywhere.
    pub fn locate(&self, id: PointId) -> Option<Loc> {
        if let Some(slot) = self.mutable.slot(id) {
            return Some(Loc::Mutable(slot));
        }
        if let Some(f) = &self.frozen {
            if !f.deleted.contains(&id) {
                if let Some(slot) = f.store.slot(id) {
                    return Some(Loc::Frozen(slot));
                }
            }
        }
        self.segments.iter().enumerate().find_map(|(i, e)| {
            let slot = e.segment.slot_of(id)?;
            (!e.segment.is_deleted(slot)).then_some(Loc::Segment(i, slot))
        })
    }

    pub fn contains(&self, id: PointId) -> bool {
        self.locate(id).is_some()
    }

    /// Marks `id` deleted in every part below the mutable store.
    fn delete_below(&mut self, id: PointId) {
        if let Some(f) = &mut self.frozen {
            if f.store.contains(id) {
                f.deleted.insert(id);
            }
        }
        for e in &mut self.segments {
            e.segment.delete(id);
        }
    }

    /// The whole point `id` from below the mutable store, with its version.
    fn read_below(&self, id: PointId) -> Option<(PointWrite, u64)> {
        match self.locate(id)? {
            Loc::Mutable(_) => None,
            Loc::Frozen(_) => {
                let frozen = self.frozen.as_ref()?;
                let (mut point, version) = frozen.store.point(id)?;
                point
                    .vectors
                    .retain(|(name, _)| self.mutable.space_visible(name, frozen.lsn));
                Some((point, version))
            }
            Loc::Segment(i, slot) => {
                let seg = &self.segments[i].segment;
                let record = seg
                    .record(slot, &Default::default(), &VectorSelector::All)
                    .ok()?;
                // The payload exactly as stored (None stays None). It passed the checksum at
                // open, so a parse failure cannot happen; it would read as no payload, as
                // search's filters read it.
                let payload = seg.payload(slot).ok().flatten();
                let mut vectors = record.vectors.unwrap_or_default();
                vectors.retain(|(name, _)| self.mutable.space_visible(name, seg.flushed_lsn()));
                let point = PointWrite {
                    id,
                    vectors,
                    payload,
                };
                Some((point, record.version))
            }
        }
    }

    /// Applies a logged (already checked) operation at `lsn`.
    pub fn apply(&mut self, op: WriteOp, lsn: Lsn) {
        match &op {
            // Replaced or removed whole: the copies below simply die.
            WriteOp::Upsert(_) | WriteOp::Delete(_) => {
                for id in op.ids() {
                    self.delete_below(id);
                }
            }
            // Changed in place: move the point up first, with its current data.
            WriteOp::SetPayload { .. }
            | WriteOp::OverwritePayload { .. }
            | WriteOp::DeletePayload { .. }
            | WriteOp::ClearPayload(_)
            | WriteOp::UpdateVectors(_)
            | WriteOp::DeleteVectors { .. } => {
                for id in op.ids() {
                    if let Some((point, version)) = self.read_below(id) {
                        self.mutable.upsert(point, version);
                        self.delete_below(id);
                    }
                }
            }
            WriteOp::SetSchema(_) => {}
        }
        let spaces_changed = matches!(op, WriteOp::SetSchema(_));
        self.mutable.apply(op, lsn);
        if spaces_changed {
            self.hide_stale_vectors();
        }
    }
}
