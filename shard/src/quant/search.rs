//! Searching a segment column with its quantized codes: candidates ranked by the codes
//! (`limit × oversampling` of them, through the graph or by a scan), then, unless the
//! request says `rescore: false`, ranked again by the original f32 vectors so the reported
//! scores are exact. Filters and deletions are checked before a slot becomes a candidate.
//!
//! Only plain nearest-neighbour queries use codes; recommend, discover and context
//! objectives (whose `SearchParams::query` is empty) score the original vectors.

use super::index::{QuantColumn, QuantIndex, QuantQuery};
use crate::distance::Metric;
use crate::score::Scorer;
use crate::segment::Segment;
use crate::store::SearchParams;
use crate::topk::TopK;

/// The codes a search of `params` should use, with its prepared query: none when the
/// request ignores quantization or is exact, for objective searches, and for columns
/// without codes.
pub fn quantized_query<'a>(
    quant: Option<&'a QuantIndex>,
    params: &SearchParams<'_>,
) -> Option<(QuantColumn<'a>, QuantQuery)> {
    if params.quantization.ignore || params.exact || params.query.is_empty() {
        return None;
    }
    let column = quant?.column(params.vector_name)?;
    if column.dim() != params.query.len() {
        return None;
    }
    let prepared = column.prepare(params.query);
    Some((column, prepared))
}

/// The `n` best live slots of `column` passing the filter, by quantized score, best first.
pub fn scan_candidates(
    segment: &Segment,
    column: usize,
    codes: &QuantColumn<'_>,
    query: &QuantQuery,
    params: &SearchParams<'_>,
    n: usize,
) -> Vec<(f32, u32)> {
    let mut top: TopK<u32> = TopK::new(n);
    for slot in 0..segment.len() as u32 {
        if !segment.has_vector(column, slot) || segment.is_deleted(slot) {
            continue;
        }
        let Some(score) = codes.score(query, slot) else {
            continue;
        };
        let Some(id) = segment.id(slot) else { continue };
        if top.accepts(score, id) && segment.matches(slot, params.filter) {
            top.push(score, id, slot);
        }
    }
    top.into_sorted()
        .into_iter()
        .map(|(score, _, slot)| (score, slot))
        .collect()
}

/// Pushes the first `n` of `candidates` (best first, already filtered) into `top`: with
/// exact scores by `scorer` when rescoring, else with their quantized scores.
#[allow(clippy::too_many_arguments)]
pub fn push_candidates<T, S: Scorer>(
    segment: &Segment,
    column: usize,
    candidates: &[(f32, u32)],
    params: &SearchParams<'_>,
    scorer: &S,
    top: &mut TopK<T>,
    mut tag: impl FnMut(u32) -> T,
) {
    let n = params.quantization.candidates(params.top);
    let rescore = params.quantization.rescore();
    let metric = Metric(segment.columns()[column].distance);
    for &(quantized, slot) in candidates.iter().take(n) {
        let score = if rescore {
            match segment.vector(column, slot) {
                Some(v) => scorer.score(metric, v),
                None => continue,
            }
        } else {
            quantized
        };
        if params.threshold.is_some_and(|t| score < t) {
            continue;
        }
        let Some(id) = segment.id(slot) else { continue };
        if top.accepts(score, id) {
            top.push(score, id, tag(slot));
        }
    }
}
