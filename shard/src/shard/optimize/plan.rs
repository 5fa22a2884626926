//! Which segments the optimizer rewrites next: a vacuum of one segment with many deleted
//! points, or a merge of the smallest segments when there are more than the target number.
//!
//! Both look only at what is persisted: a segment's points live as of the manifest's
//! `flushed_lsn` (its file minus its named sidecar). That is what a rewrite can drop (see the
//! module docs of [`super`]), so deletions count toward a vacuum once a flush has written them
//! to a sidecar. Counting unpersisted ones would rewrite a segment that comes out with the same
//! dead points, and do so again after every check.

use super::super::options::OptimizerOptions;
use super::super::parts::SegmentEntry;
use crate::segment::SEGMENT_MAX_POINTS;

/// Bytes of one f32 vector component.
const F32_BYTES: u64 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptimizationKind {
    /// One segment rewritten without its deleted points.
    Vacuum,
    /// Several segments rewritten as one.
    Merge,
}

impl OptimizationKind {
    /// The optimizer's name as Qdrant reports it.
    pub fn name(self) -> &'static str {
        match self {
            OptimizationKind::Vacuum => "vacuum",
            OptimizationKind::Merge => "merge",
        }
    }
}

/// Segments to rewrite into one, by index in the shard's segment list (ascending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub kind: OptimizationKind,
    pub sources: Vec<usize>,
}

/// Whether the persisted deletion set of `e` can be read back: from its sidecar, or it is
/// empty. Segment files written by a shard carry an empty bitmap of their own (flush and
/// merge put every deletion in sidecars, and a sidecar holds the whole set), so this always
/// holds for them; a file with its own deletions and no sidecar is left alone.
fn persisted_set_known(e: &SegmentEntry) -> bool {
    e.sidecar.is_some() || e.persisted_deleted == 0
}

/// Points of `e` live as of the last flush.
pub(super) fn live_persisted(e: &SegmentEntry) -> usize {
    e.segment.len().saturating_sub(e.persisted_deleted)
}

/// Bytes of vectors of the points of `e` live as of the last flush (absent vectors counted,
/// as the file stores them).
fn live_bytes(e: &SegmentEntry) -> u64 {
    let per_point: u64 = e
        .segment
        .columns()
        .iter()
        .map(|c| c.dim as u64 * F32_BYTES)
        .sum();
    live_persisted(e) as u64 * per_point
}

fn wants_vacuum(e: &SegmentEntry, o: &OptimizerOptions) -> bool {
    let deleted = e.persisted_deleted;
    persisted_set_known(e)
        && deleted > 0
        && deleted >= o.vacuum_min_points
        && deleted as f64 > o.deleted_threshold * e.segment.len() as f64
}

/// The next optimization for `segments` under `o`, if any is due.
pub(super) fn choose(segments: &[SegmentEntry], o: &OptimizerOptions) -> Option<Plan> {
    if !o.enabled {
        return None;
    }
    // The most deleted segment first: it frees the most.
    let vacuum = segments
        .iter()
        .enumerate()
        .filter(|(_, e)| wants_vacuum(e, o))
        .max_by(|(_, a), (_, b)| {
            let frac = |e: &SegmentEntry| e.persisted_deleted as f64 / e.segment.len() as f64;
            frac(a).total_cmp(&frac(b))
        });
    if let Some((i, _)) = vacuum {
        return Some(Plan {
            kind: OptimizationKind::Vacuum,
            sources: vec![i],
        });
    }
    let target = o.target_segments();
    if segments.len() <= target {
        return None;
    }
    // Merging the k smallest brings the count to the target in one rewrite.
    let wanted = (segments.len() - target + 1).max(2);
    let mut candidates: Vec<(u64, usize)> = segments
        .iter()
        .enumerate()
        .filter(|(_, e)| persisted_set_known(e))
        .map(|(i, e)| (live_bytes(e), i))
        .collect();
    candidates.sort_unstable();
    candidates.truncate(wanted);
    let fits = |chosen: &[(u64, usize)]| {
        let bytes: u64 = chosen.iter().map(|(b, _)| b).sum();
        let points: usize = chosen
            .iter()
            .map(|(_, i)| live_persisted(&segments[*i]))
            .sum();
        bytes <= o.max_segment_bytes() && points <= SEGMENT_MAX_POINTS
    };
    // Drop the largest until the result fits; with fewer than two left nothing merges.
    while candidates.len() >= 2 && !fits(&candidates) {
        candidates.pop();
    }
    if candidates.len() < 2 {
        return None;
    }
    let mut sources: Vec<usize> = candidates.into_iter().map(|(_, i)| i).collect();
    sources.sort_unstable();
    Some(Plan {
        kind: OptimizationKind::Merge,
        sources,
    })
}
