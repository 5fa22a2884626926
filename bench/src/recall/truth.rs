//! Exact ground truth: brute force over every base vector with the engine's own distance
//! kernels (`vexfs_shard::distance`), split across threads by query.

use vexfs_shard::distance::Metric;

use super::dataset::Dataset;

/// Ids of the `k` closest base vectors to each query, closest first; with `only`, only base
/// vectors whose index passes it are candidates (the filtered queries' truth).
pub fn exact_top_k(
    data: &Dataset,
    metric: Metric,
    k: usize,
    threads: usize,
    only: Option<&(dyn Fn(usize) -> bool + Sync)>,
) -> Vec<Vec<u64>> {
    // Score against preprocessed copies, as the server does (normalized for Cosine).
    let prep = |v: &[f32]| {
        let mut v = v.to_vec();
        metric.preprocess(&mut v);
        v
    };
    let base: Vec<f32> = (0..data.len()).flat_map(|i| prep(data.vector(i))).collect();
    let dim = data.dim;
    let nq = data.query_count();
    let threads = threads.clamp(1, nq.max(1));
    let per_thread = nq.div_ceil(threads);
    let mut out: Vec<Vec<u64>> = vec![Vec::new(); nq];
    std::thread::scope(|s| {
        for (t, slot) in out.chunks_mut(per_thread.max(1)).enumerate() {
            let base = &base;
            s.spawn(move || {
                for (j, result) in slot.iter_mut().enumerate() {
                    let q = prep(data.query(t * per_thread + j));
                    *result = top_k(&q, base, dim, metric, k, only);
                }
            });
        }
    });
    out
}

/// The `k` best (score, id) of one query, kept sorted best first; ties go to the lower id.
fn top_k(
    q: &[f32],
    base: &[f32],
    dim: usize,
    metric: Metric,
    k: usize,
    only: Option<&(dyn Fn(usize) -> bool + Sync)>,
) -> Vec<u64> {
    let mut best: Vec<(f32, u64)> = Vec::with_capacity(k + 1);
    for (i, v) in base.chunks_exact(dim).enumerate() {
        if only.is_some_and(|f| !f(i)) {
            continue;
        }
        let score = metric.score(q, v);
        if best.len() == k && best.last().is_some_and(|w| score <= w.0) {
            continue;
        }
        let at = best.partition_point(|(s, _)| *s >= score);
        best.insert(at, (score, i as u64));
        best.truncate(k);
    }
    best.into_iter().map(|(_, id)| id).collect()
}

/// Recall@k of one answer: the share of the true top k it contains.
pub fn recall(truth: &[u64], got: &[u64]) -> f64 {
    if truth.is_empty() {
        return 1.0;
    }
    let hits = truth.iter().filter(|id| got.contains(id)).count();
    hits as f64 / truth.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use vexfs_shard::Distance;

    #[test]
    fn brute_force_finds_the_nearest() {
        // Base vectors on a line; the query sits at 3.2 → nearest 3, 4, 2.
        let data = Dataset {
            dim: 2,
            base: (0..10).flat_map(|i| [i as f32, 0.0]).collect(),
            tags: vec![0; 10],
            queries: vec![3.2, 0.0, 8.9, 0.0],
            source: String::new(),
        };
        let truth = exact_top_k(&data, Metric(Distance::Euclid), 3, 2, None);
        assert_eq!(truth, vec![vec![3, 4, 2], vec![9, 8, 7]]);
        let odd = |i: usize| i % 2 == 1;
        let truth = exact_top_k(&data, Metric(Distance::Euclid), 2, 1, Some(&odd));
        assert_eq!(truth, vec![vec![3, 5], vec![9, 7]]);
    }

    #[test]
    fn recall_counts_overlap() {
        assert_eq!(recall(&[1, 2, 3, 4], &[4, 3, 9, 8]), 0.5);
        assert_eq!(recall(&[1, 2], &[]), 0.0);
        assert_eq!(recall(&[], &[]), 1.0);
    }
}
