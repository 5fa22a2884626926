//! Searching one segment column: through its graph or by a scan, chosen per request the way
//! Qdrant chooses (`exact`, filter cardinality against `full_scan_threshold`, `indexed_only`).

use super::index::HnswIndex;
use super::settings::ColumnIndexSettings;
use crate::filter::Filter;
use crate::score::Scorer;
use crate::segment::Segment;
use crate::store::SearchParams;
use crate::topk::TopK;

/// Slots a filter is evaluated on to estimate how many points of a segment match it (spread
/// evenly over the segment; every slot when the segment is smaller). No payload index exists
/// yet, so this costs up to this many payload parses per filtered search of a segment.
pub const FILTER_SAMPLE_SLOTS: usize = 256;

/// Estimated number of live points of `segment` that have a vector in `column` and pass
/// `filter`, from a fixed, deterministic sample of slots.
pub fn estimate_matching(segment: &Segment, column: usize, filter: Option<&Filter>) -> usize {
    let n = segment.len();
    if n == 0 {
        return 0;
    }
    let sample = n.min(FILTER_SAMPLE_SLOTS);
    let hits = (0..sample)
        .map(|i| (i * n / sample) as u32)
        .filter(|&s| {
            !segment.is_deleted(s) && segment.has_vector(column, s) && segment.matches(s, filter)
        })
        .count();
    hits * n / sample
}

/// How one segment is searched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentPlan {
    /// Scan every slot.
    Exact,
    /// Walk the graph with this beam width.
    Graph { ef: usize },
    /// `indexed_only`: a large segment without a graph is left out.
    Skip,
}

/// Chooses how to search `segment` for `params`.
pub fn plan(
    segment: &Segment,
    index: Option<&HnswIndex>,
    params: &SearchParams<'_>,
    settings: &ColumnIndexSettings,
) -> SegmentPlan {
    let Some(column) = segment.column(params.vector_name) else {
        return SegmentPlan::Exact;
    };
    let dim = segment.columns()[column].dim;
    let small = settings.full_scan_vectors(dim);
    let graph = index.and_then(|i| i.graph(params.vector_name));
    let Some(graph) = graph else {
        if params.indexed_only && segment.live_len() > small {
            return SegmentPlan::Skip;
        }
        return SegmentPlan::Exact;
    };
    if params.exact {
        return SegmentPlan::Exact;
    }
    if params.filter.is_some() && estimate_matching(segment, column, params.filter) < small {
        return SegmentPlan::Exact;
    }
    let ef = params
        .hnsw_ef
        .unwrap_or(graph.ef_construct())
        .max(params.top);
    SegmentPlan::Graph { ef }
}

/// Searches `segment` as [`plan`] says, pushing `(score, id, tag(slot))` into `top` like
/// [`Segment::search_into_by`].
pub fn search_segment<T, S: Scorer>(
    segment: &Segment,
    index: Option<&HnswIndex>,
    params: &SearchParams<'_>,
    settings: &ColumnIndexSettings,
    scorer: &S,
    top: &mut TopK<T>,
    mut tag: impl FnMut(u32) -> T,
) {
    let ef = match plan(segment, index, params, settings) {
        SegmentPlan::Skip => return,
        SegmentPlan::Exact => return segment.search_into_by(params, scorer, top, tag),
        SegmentPlan::Graph { ef } => ef,
    };
    let (Some(graph), Some(column)) = (
        index.and_then(|i| i.graph(params.vector_name)),
        segment.column(params.vector_name),
    ) else {
        return;
    };
    let Some((data, _)) = segment.column_data(column) else {
        return;
    };
    let hits = graph.search(data, scorer, ef, |slot| {
        segment.has_vector(column, slot)
            && !segment.is_deleted(slot)
            && segment.matches(slot, params.filter)
    });
    for (score, slot) in hits {
        if params.threshold.is_some_and(|t| score < t) {
            continue;
        }
        let Some(id) = segment.id(slot) else { continue };
        if top.accepts(score, id) {
            top.push(score, id, tag(slot));
        }
    }
}
