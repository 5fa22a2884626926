//! Conditional writes: Qdrant's `update_mode` (insert only, update only, or both) and
//! `update_filter` (existing points are changed only if they match it).
//!
//! The condition is resolved against the shard's current points right before the write is
//! logged, on the owning core and without an await in between, so no other write can slip
//! between the check and the write. What is logged is the plain operation narrowed to the
//! points the condition let through: replaying the log needs no condition and gives the same
//! state.

use vexfs_io::Storage;

use super::parts::{Loc, Parts};
use super::Shard;
use crate::error::Result;
use crate::filter::Filter;
use crate::op::WriteOp;
use crate::point_id::PointId;
use crate::wal::Lsn;

/// Which points of an upsert may be written, by whether they exist already.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UpdateMode {
    /// Insert new points and replace existing ones (the default).
    #[default]
    Upsert,
    /// Only insert new points; existing ones keep their state.
    InsertOnly,
    /// Only replace existing points; new ones are not inserted.
    UpdateOnly,
}

/// The condition of a write. The default lets everything through.
#[derive(Clone, Debug, Default)]
pub struct UpdateCondition {
    /// Existing points are changed only if they match it; new points are not checked.
    pub filter: Option<Filter>,
    pub mode: UpdateMode,
}

impl UpdateCondition {
    /// Narrows `op` to the points the condition lets through. `existing(id)` is `None` for a
    /// point that does not exist, else whether it passes the filter. Only upserts and vector
    /// updates carry conditions; other operations are returned unchanged. Vector updates of
    /// missing points are kept, so the write refuses them as it would unconditionally.
    pub fn narrow(&self, op: WriteOp, existing: impl Fn(PointId) -> Option<bool>) -> WriteOp {
        match op {
            WriteOp::Upsert(mut points) => {
                points.retain(|p| match existing(p.id) {
                    None => self.mode != UpdateMode::UpdateOnly,
                    Some(passes) => self.mode != UpdateMode::InsertOnly && passes,
                });
                WriteOp::Upsert(points)
            }
            WriteOp::UpdateVectors(mut points) => {
                points.retain(|(id, _)| existing(*id) != Some(false));
                WriteOp::UpdateVectors(points)
            }
            other => other,
        }
    }
}

impl Parts {
    /// Whether the live point at `loc` passes `filter` (no filter passes everything).
    fn passes(&self, loc: Loc, filter: Option<&Filter>) -> bool {
        match loc {
            Loc::Mutable(slot) => self.mutable.passes(slot as usize, filter),
            Loc::Frozen(slot) => self
                .frozen
                .as_ref()
                .is_some_and(|f| f.store.passes(slot as usize, filter)),
            Loc::Segment(i, slot) => self.segments[i].segment.matches(slot, filter),
        }
    }
}

impl<S: Storage> Shard<S> {
    /// [`Shard::write`] of `op` narrowed by `condition` ([`UpdateCondition::narrow`]); `None`
    /// when the condition left nothing to write (nothing is logged then).
    pub fn write_if(&self, op: WriteOp, condition: &UpdateCondition) -> Result<Option<Lsn>> {
        let op = {
            let parts = self.parts.borrow();
            let filter = condition.filter.as_ref();
            condition.narrow(op, |id| {
                parts.locate(id).map(|loc| parts.passes(loc, filter))
            })
        };
        if op.point_count() == 0 {
            return Ok(None);
        }
        self.write(op).map(Some)
    }
}
