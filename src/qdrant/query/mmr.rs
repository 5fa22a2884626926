//! Maximal marginal relevance: re-ranks nearest-neighbour candidates so that each next pick
//! balances closeness to the query against closeness to the points already picked.
//!
//! With `λ = 1 - diversity`, the first pick is the most relevant candidate; each next one
//! maximizes `λ · sim(query, c) - (1 - λ) · max over picked p of sim(c, p)`, where `sim` is
//! the collection's metric in its "larger is closer" form. Points keep their search scores,
//! as in Qdrant: MMR chooses and orders, it does not re-score. Ties go to the earlier
//! candidate (the better-scored one, then the lower id).

use vexfs_shard::distance::Metric;

use super::hit::Hit;

/// Picks up to `limit` of `candidates` (each with its stored vector, best first).
pub fn select(
    candidates: Vec<(Hit, Vec<f32>)>,
    query: &[f32],
    metric: Metric,
    diversity: f32,
    limit: usize,
) -> Vec<Hit> {
    if candidates.len() < 2 {
        return candidates.into_iter().map(|(h, _)| h).take(limit).collect();
    }
    let lambda = 1.0 - diversity;
    let relevance: Vec<f32> = candidates
        .iter()
        .map(|(_, v)| metric.score(query, v))
        .collect();
    // Highest similarity of each remaining candidate to anything picked so far.
    let mut nearest_picked: Vec<f32> = vec![f32::NEG_INFINITY; candidates.len()];
    let mut picked: Vec<usize> = Vec::with_capacity(limit.min(candidates.len()));
    let mut remaining: Vec<usize> = (0..candidates.len()).collect();
    while picked.len() < limit && !remaining.is_empty() {
        let value = |i: usize| {
            if picked.is_empty() {
                relevance[i]
            } else {
                lambda * relevance[i] - (1.0 - lambda) * nearest_picked[i]
            }
        };
        let mut best = 0;
        for pos in 1..remaining.len() {
            if value(remaining[pos]) > value(remaining[best]) {
                best = pos;
            }
        }
        let chosen = remaining.remove(best);
        picked.push(chosen);
        for &i in &remaining {
            let s = metric.score(&candidates[i].1, &candidates[chosen].1);
            nearest_picked[i] = nearest_picked[i].max(s);
        }
    }
    let mut slots: Vec<Option<Hit>> = candidates.into_iter().map(|(h, _)| Some(h)).collect();
    picked
        .into_iter()
        .filter_map(|i| slots.get_mut(i).and_then(Option::take))
        .collect()
}

#[cfg(test)]
mod tests {
    use vexfs_shard::{Distance, PointId};

    use super::*;

    fn cand(id: u64, v: [f32; 2]) -> (Hit, Vec<f32>) {
        let metric = Metric(Distance::Dot);
        (
            Hit::new(PointId::Num(id), metric.score(&[1.0, 0.0], &v)),
            v.to_vec(),
        )
    }

    fn ids(hits: &[Hit]) -> Vec<PointId> {
        hits.iter().map(|h| h.id).collect()
    }

    #[test]
    fn diversity_zero_is_relevance_order() {
        let c = vec![
            cand(1, [1.0, 0.0]),
            cand(2, [0.99, 0.01]),
            cand(3, [0.0, 1.0]),
        ];
        let got = select(c, &[1.0, 0.0], Metric(Distance::Dot), 0.0, 3);
        assert_eq!(
            ids(&got),
            vec![PointId::Num(1), PointId::Num(2), PointId::Num(3)]
        );
        // Scores are the search scores.
        assert_eq!(got[0].score, 1.0);
    }

    #[test]
    fn diversity_prefers_the_dissimilar_point() {
        // 2 is nearly a copy of 1; 3 is less relevant but different.
        let c = vec![
            cand(1, [1.0, 0.0]),
            cand(2, [0.99, 0.0]),
            cand(3, [0.5, -0.8]),
        ];
        let got = select(c, &[1.0, 0.0], Metric(Distance::Dot), 0.8, 2);
        // 2 → 0.2·0.99 - 0.8·0.99 = -0.594; 3 → 0.2·0.5 - 0.8·0.5 = -0.3.
        assert_eq!(ids(&got), vec![PointId::Num(1), PointId::Num(3)]);
    }
}
