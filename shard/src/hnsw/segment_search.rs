//! Searching one segment column: through its graph or by a scan, chosen per request the way
//! Qdrant chooses (`exact`, filter cardinality against `full_scan_threshold`, `indexed_only`).
//! With a payload index that answers the filter, its candidate slots are the cardinality (an
//! upper bound) and, when few, the only slots scanned.

use super::index::HnswIndex;
use super::settings::ColumnIndexSettings;
use crate::distance::Metric;
use crate::filter::Filter;
use crate::payload_index::{Candidates, PayloadIndex};
use crate::quant::search::{push_candidates, quantized_query, scan_candidates};
use crate::quant::QuantIndex;
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SegmentPlan {
    /// Scan every slot.
    Exact,
    /// Scan only these slots (the payload index's candidates for the filter).
    ExactSlots(Vec<u32>),
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
    candidates: &Candidates,
) -> SegmentPlan {
    let Some(column) = segment.column(params.vector_name) else {
        return SegmentPlan::Exact;
    };
    let dim = segment.columns()[column].dim;
    let small = settings.full_scan_vectors(dim);
    let scan = || match candidates {
        Candidates::Slots(c) => SegmentPlan::ExactSlots(c.clone()),
        Candidates::All => SegmentPlan::Exact,
    };
    let graph = index.and_then(|i| i.graph(params.vector_name));
    let Some(graph) = graph else {
        if params.indexed_only && segment.live_len() > small {
            return SegmentPlan::Skip;
        }
        return scan();
    };
    if params.exact {
        return scan();
    }
    if params.filter.is_some() {
        let matching = match candidates {
            Candidates::Slots(c) => c.len(),
            Candidates::All => estimate_matching(segment, column, params.filter),
        };
        if matching < small {
            return scan();
        }
    }
    let ef = params
        .hnsw_ef
        .unwrap_or(graph.ef_construct())
        .max(params.top);
    SegmentPlan::Graph { ef }
}

/// Searches `segment` as [`plan`] says, pushing `(score, id, tag(slot))` into `top` like
/// [`Segment::search_into_by`]. With quantized codes (`quant`), graph walks and scans of
/// large segments rank by the codes first ([`crate::quant::search`]).
#[allow(clippy::too_many_arguments)]
pub fn search_segment<T, S: Scorer>(
    segment: &Segment,
    index: Option<&HnswIndex>,
    quant: Option<&QuantIndex>,
    payload: Option<&PayloadIndex>,
    params: &SearchParams<'_>,
    settings: &ColumnIndexSettings,
    scorer: &S,
    top: &mut TopK<T>,
    mut tag: impl FnMut(u32) -> T,
) {
    let candidates = match (payload, params.filter) {
        (Some(p), Some(f)) => p.candidates(f),
        _ => Candidates::All,
    };
    let quantized = quantized_query(quant, params);
    let column = segment.column(params.vector_name);
    let ef = match plan(segment, index, params, settings, &candidates) {
        SegmentPlan::Skip => return,
        SegmentPlan::Exact => {
            let large = |c: usize| {
                segment.live_len() > settings.full_scan_vectors(segment.columns()[c].dim)
            };
            if let (Some((codes, query)), Some(c)) = (&quantized, column.filter(|&c| large(c))) {
                let n = params.quantization.candidates(params.top);
                let found = scan_candidates(segment, c, codes, query, params, n);
                return push_candidates(segment, c, &found, params, scorer, top, tag);
            }
            return segment.search_into_by(params, scorer, top, tag);
        }
        SegmentPlan::ExactSlots(slots) => {
            return scan_slots(segment, params, scorer, top, tag, &slots)
        }
        SegmentPlan::Graph { ef } => ef,
    };
    let wanted = |slot: u32| match &candidates {
        Candidates::Slots(c) => c.binary_search(&slot).is_ok(),
        Candidates::All => true,
    };
    let (Some(graph), Some(column)) = (
        index.and_then(|i| i.graph(params.vector_name)),
        segment.column(params.vector_name),
    ) else {
        return;
    };
    let accept = |slot: u32| {
        segment.has_vector(column, slot)
            && !segment.is_deleted(slot)
            && wanted(slot)
            && segment.matches(slot, params.filter)
    };
    if let Some((codes, query)) = &quantized {
        let n = params.quantization.candidates(params.top);
        let found = graph.search_scored(ef.max(n), |slot| codes.score(query, slot), accept);
        return push_candidates(segment, column, &found, params, scorer, top, tag);
    }
    let Some((data, _)) = segment.column_data(column) else {
        return;
    };
    let hits = graph.search(data, scorer, ef, accept);
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

/// Exact search over `slots` only (sorted candidates of the payload index): the same checks
/// as [`Segment::search_into_by`] on a subset of the slots.
fn scan_slots<T, S: Scorer>(
    segment: &Segment,
    params: &SearchParams<'_>,
    scorer: &S,
    top: &mut TopK<T>,
    mut tag: impl FnMut(u32) -> T,
    slots: &[u32],
) {
    let Some(column) = segment.column(params.vector_name) else {
        return;
    };
    let info = &segment.columns()[column];
    if scorer.dim() != info.dim {
        return;
    }
    let metric = Metric(info.distance);
    for &slot in slots {
        if segment.is_deleted(slot) {
            continue;
        }
        let Some(v) = segment.vector(column, slot) else {
            continue;
        };
        let score = scorer.score(metric, v);
        if params.threshold.is_some_and(|t| score < t) {
            continue;
        }
        let Some(id) = segment.id(slot) else { continue };
        if top.accepts(score, id) && segment.matches(slot, params.filter) {
            top.push(score, id, tag(slot));
        }
    }
}
