//! Fusion of several ranked lists into one: Reciprocal Rank Fusion (`rrf`, with optional `k`
//! and per-list `weights`) and Distribution-Based Score Fusion (`dbsf`), scored as Qdrant
//! scores them.
//!
//! * RRF: a point at 0-based position `p` of a list with weight `w` earns
//!   `1 / ((p + 1) / w + k - 1)`, which is the textbook `1 / (k + p)` for `w = 1`; a weight
//!   of 0 or less earns nothing. Earnings are summed over the lists; `k` defaults to 2.
//! * DBSF: each list's scores are mapped linearly so that `mean - 3σ` → 0 and `mean + 3σ` → 1
//!   (σ is the sample standard deviation), then summed over the lists. A list of one point
//!   gives it 0.5, as does a list whose scores are all equal. Scores are not clipped to
//!   [0, 1]: Qdrant does not clip them either.
//!
//! A point keeps the first record seen for it; results are best first, ties by ascending id.

use schemars::JsonSchema;
use std::collections::HashMap;

use serde::Deserialize;
use vexfs_shard::PointId;

use super::hit::{sort_best_first, Hit};
use crate::qdrant::error::Error;

/// Qdrant's default `k` of RRF: it damps the weight of the very first positions.
pub const RRF_K_DEFAULT: usize = 2;

/// How to fuse (`{"fusion": "rrf" | "dbsf"}` or `{"rrf": {k, weights}}`).
#[derive(Clone, Debug, PartialEq)]
pub enum Fusion {
    Rrf { k: usize, weights: Option<Vec<f32>> },
    Dbsf,
}

/// `fusion`: the algorithm's name.
#[derive(Deserialize, Clone, Copy, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FusionName {
    Rrf,
    Dbsf,
}

/// `rrf`: parametrized reciprocal rank fusion.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RrfIn {
    k: Option<usize>,
    weights: Option<Vec<f32>>,
}

impl Fusion {
    pub fn named(name: FusionName) -> Fusion {
        match name {
            FusionName::Rrf => Fusion::Rrf {
                k: RRF_K_DEFAULT,
                weights: None,
            },
            FusionName::Dbsf => Fusion::Dbsf,
        }
    }

    pub fn rrf(input: RrfIn) -> Result<Fusion, Error> {
        let k = input.k.unwrap_or(RRF_K_DEFAULT);
        if k == 0 {
            return Err(Error::Validation(
                "rrf.k: value 0 invalid, must be 1 or more".into(),
            ));
        }
        if let Some(w) = &input.weights {
            if let Some(bad) = w.iter().find(|w| !w.is_finite() || **w < 0.0) {
                return Err(Error::Validation(format!(
                    "rrf.weights: {bad} invalid, weights must be finite and not negative"
                )));
            }
        }
        Ok(Fusion::Rrf {
            k,
            weights: input.weights,
        })
    }

    /// Fuses the lists (each best first), best first.
    pub fn fuse(&self, lists: Vec<Vec<Hit>>) -> Result<Vec<Hit>, Error> {
        match self {
            Fusion::Rrf { k, weights } => {
                if let Some(w) = weights {
                    if w.len() != lists.len() {
                        return Err(Error::BadRequest(format!(
                            "Bad request: Number of weights in RRF should match number of pre-fetches: got {}, expected {}",
                            w.len(),
                            lists.len()
                        )));
                    }
                }
                Ok(rrf(lists, *k, weights.as_deref()))
            }
            Fusion::Dbsf => Ok(dbsf(lists)),
        }
    }
}

/// What position `position` (0-based) of a list with `weight` earns in RRF.
fn rrf_position_score(position: usize, k: usize, weight: f32) -> f32 {
    if weight <= 0.0 {
        return 0.0;
    }
    1.0 / ((position + 1) as f32 / weight + k as f32 - 1.0)
}

pub fn rrf(lists: Vec<Vec<Hit>>, k: usize, weights: Option<&[f32]>) -> Vec<Hit> {
    let mut acc = Accumulator::default();
    for (i, list) in lists.into_iter().enumerate() {
        let weight = weights.and_then(|w| w.get(i)).copied().unwrap_or(1.0);
        for (position, hit) in list.into_iter().enumerate() {
            acc.add(hit, rrf_position_score(position, k, weight));
        }
    }
    acc.finish()
}

pub fn dbsf(lists: Vec<Vec<Hit>>) -> Vec<Hit> {
    let mut acc = Accumulator::default();
    for list in lists {
        let scores: Vec<f32> = list.iter().map(|h| h.score).collect();
        for (hit, s) in list.into_iter().zip(distribution_normalized(&scores)) {
            acc.add(hit, s);
        }
    }
    acc.finish()
}

/// Scores mapped so that `mean ± 3σ` become 0 and 1 (σ from the sample variance).
fn distribution_normalized(scores: &[f32]) -> Vec<f32> {
    if scores.len() < 2 {
        return vec![0.5; scores.len()];
    }
    // Welford's one-pass mean and variance: stable for scores of any magnitude.
    let (mut mean, mut m2) = (0f32, 0f32);
    for (n, s) in (1u32..).zip(scores) {
        let before = s - mean;
        mean += before / n as f32;
        m2 += before * (s - mean);
    }
    let std_dev = (m2 / (scores.len() as f32 - 1.0)).sqrt();
    let (low, high) = (mean - 3.0 * std_dev, mean + 3.0 * std_dev);
    if low == high {
        return vec![0.5; scores.len()];
    }
    scores.iter().map(|s| (s - low) / (high - low)).collect()
}

/// Sums each point's earnings over the lists, keeping the first record seen for it.
#[derive(Default)]
struct Accumulator {
    by_id: HashMap<PointId, usize>,
    hits: Vec<Hit>,
}

impl Accumulator {
    fn add(&mut self, mut hit: Hit, earned: f32) {
        match self.by_id.get(&hit.id) {
            Some(&i) => self.hits[i].score += earned,
            None => {
                self.by_id.insert(hit.id, self.hits.len());
                hit.score = earned;
                self.hits.push(hit);
            }
        }
    }

    fn finish(mut self) -> Vec<Hit> {
        sort_best_first(&mut self.hits);
        self.hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[(u64, f32)]) -> Vec<Hit> {
        items
            .iter()
            .map(|(id, s)| Hit::new(PointId::Num(*id), *s))
            .collect()
    }

    fn scores(hits: &[Hit]) -> Vec<(u64, f32)> {
        hits.iter()
            .map(|h| match h.id {
                PointId::Num(n) => (n, h.score),
                PointId::Uuid(_) => (u64::MAX, h.score),
            })
            .collect()
    }

    #[test]
    fn rrf_sums_reciprocal_ranks_with_k_2() {
        let fused = rrf(
            vec![
                list(&[(2, 0.9), (1, 0.8)]),
                list(&[(1, 0.7), (2, 0.6), (3, 0.5)]),
                list(&[(5, 0.9), (3, 0.5), (1, 0.4)]),
            ],
            RRF_K_DEFAULT,
            None,
        );
        // 1: 1/3 + 1/2 + 1/4; 2: 1/2 + 1/3; 3: 1/4 + 1/3; 5: 1/2.
        let want = [
            (1, 1.0 / 3.0 + 0.5 + 0.25),
            (2, 0.5 + 1.0 / 3.0),
            (3, 0.25 + 1.0 / 3.0),
            (5, 0.5),
        ];
        let got = scores(&fused);
        assert_eq!(got.len(), want.len());
        for ((gi, gs), (wi, ws)) in got.iter().zip(want) {
            assert_eq!(*gi, wi);
            assert!((gs - ws as f32).abs() < 1e-6, "{gi}: {gs} vs {ws}");
        }
    }

    #[test]
    fn rrf_k_and_weights() {
        let fused = rrf(
            vec![list(&[(1, 0.0), (2, 0.0)]), list(&[(2, 0.0), (1, 0.0)])],
            10,
            Some(&[3.0, 1.0]),
        );
        // 1: 1/(1/3 + 9) + 1/(2 + 9); 2: 1/(2/3 + 9) + 1/(1 + 9).
        let s1 = 1.0 / (1.0 / 3.0 + 9.0) + 1.0 / 11.0;
        let s2 = 1.0 / (2.0 / 3.0 + 9.0) + 0.1;
        let got = scores(&fused);
        assert_eq!(got[0].0, 2);
        assert!((got[0].1 - s2 as f32).abs() < 1e-6);
        assert!((got[1].1 - s1 as f32).abs() < 1e-6);
        assert_eq!(rrf_position_score(0, 2, 0.0), 0.0);
    }

    #[test]
    fn rrf_weights_must_match_lists() {
        let f = Fusion::Rrf {
            k: 2,
            weights: Some(vec![1.0]),
        };
        let err = f.fuse(vec![list(&[(1, 1.0)]), list(&[(2, 1.0)])]);
        assert!(matches!(err, Err(Error::BadRequest(m)) if m.contains("got 1, expected 2")));
    }

    #[test]
    fn dbsf_normalizes_by_three_sigma_and_sums() {
        // List A: 1, 2, 3 → mean 2, σ 1 → low -1, high 5 → 1/3, 1/2, 2/3.
        // List B: 10, 30 → mean 20, σ √200 → (s - low) / (6σ) = 0.5 ∓ 10/(6√200).
        let fused = dbsf(vec![
            list(&[(3, 3.0), (2, 2.0), (1, 1.0)]),
            list(&[(1, 30.0), (4, 10.0)]),
        ]);
        let d = 10.0 / (6.0 * 200f64.sqrt());
        let want = [
            (1, 1.0 / 3.0 + 0.5 + d),
            (3, 2.0 / 3.0),
            (2, 0.5),
            (4, 0.5 - d),
        ];
        let got = scores(&fused);
        for ((gi, gs), (wi, ws)) in got.iter().zip(want) {
            assert_eq!(*gi, wi);
            assert!((gs - ws as f32).abs() < 1e-5, "{gi}: {gs} vs {ws}");
        }
    }

    #[test]
    fn dbsf_degenerate_lists_score_half() {
        let fused = dbsf(vec![list(&[(7, 0.3)]), list(&[(8, 2.0), (9, 2.0)])]);
        assert!(fused.iter().all(|h| h.score == 0.5));
        // Ties broken by id.
        assert_eq!(
            fused.iter().map(|h| h.id).collect::<Vec<_>>(),
            vec![PointId::Num(7), PointId::Num(8), PointId::Num(9)]
        );
    }
}
