//! Scoring objectives: how a candidate vector becomes the score one top-k heap ranks.
//!
//! A plain search scores one query vector with the metric ([`Nearest`]); the other objectives
//! of Qdrant's recommend, discover and context queries fold the metric's similarities to
//! several example vectors into one number ([`Objective`]). Both go through [`Scorer`], which
//! the store and segment scans are generic over, so the plain search keeps its inlined kernel.
//!
//! Similarities are the engine's internal "higher is closer" scores ([`Metric::score`]): dot
//! product for Cosine (normalized vectors) and Dot, the negated squared distance for Euclid,
//! the negated Manhattan distance. Qdrant's own query scorers work on the same internal
//! similarities, and, like Qdrant, the folded score is reported as is (no distance
//! post-processing), and a `score_threshold` applies to it unchanged.
//!
//! Formulas follow Qdrant's sources (`lib/segment/src/vector_storage/query/`: `reco_query.rs`,
//! `discover_query.rs`, `context_query.rs`; `lib/common/common/src/math.rs` for the sigmoids).

#[cfg(test)]
mod tests;

use crate::distance::Metric;

/// Scores one stored vector of a candidate.
pub trait Scorer {
    /// Dimension every stored vector must have to be scored (others are skipped).
    fn dim(&self) -> usize;
    /// Internal score, higher is better.
    fn score(&self, metric: Metric, v: &[f32]) -> f32;
}

/// The plain nearest-neighbour objective: similarity to one (preprocessed) query vector.
pub struct Nearest<'a>(pub &'a [f32]);

impl Scorer for Nearest<'_> {
    #[inline]
    fn dim(&self) -> usize {
        self.0.len()
    }

    #[inline]
    fn score(&self, metric: Metric, v: &[f32]) -> f32 {
        metric.score(self.0, v)
    }
}

/// A (positive, negative) pair of examples of a discover or context query.
#[derive(Clone, Debug, PartialEq)]
pub struct Pair<T = Vec<f32>> {
    pub positive: T,
    pub negative: T,
}

/// A custom objective over example vectors, all of one vector space and already
/// preprocessed like stored vectors ([`Objective::preprocess`]). Examples are dense vectors
/// by default; sparse spaces use `Objective<SparseVector>` with the sparse dot product as
/// the similarity ([`Objective::fold`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Objective<T = Vec<f32>> {
    /// Recommend `best_score`: the best positive similarity if it beats the best negative one,
    /// else minus the best negative one, each squashed into (0, 1) by a sigmoid so a point
    /// nearer a positive always outranks one nearer a negative. Qdrant's OpenAPI text still
    /// describes the older rule (`-(best negative)²`); its source
    /// (`lib/segment/src/vector_storage/query/reco_query.rs`) squashes both branches with
    /// `scaled_fast_sigmoid`, and this follows the source.
    BestScore { positive: Vec<T>, negative: Vec<T> },
    /// Recommend `sum_scores`: Σ sim(positive) − Σ sim(negative).
    SumScores { positive: Vec<T>, negative: Vec<T> },
    /// Discovery: the rank (pairs whose positive is closer, minus pairs whose negative is
    /// closer) plus the sigmoid-squashed similarity to the target in (0, 1) as tie-break.
    Discover { target: T, pairs: Vec<Pair<T>> },
    /// Context search: Σ over pairs of sigmoid(min(sim(pos) − sim(neg) − ε, 0)), in (−n, 0].
    Context { pairs: Vec<Pair<T>> },
}

/// Qdrant's fast sigmoid substitute, `x / (1 + |x|)`, range (−1, 1).
#[inline]
pub fn fast_sigmoid(x: f32) -> f32 {
    x / (1.0 + x.abs())
}

/// [`fast_sigmoid`] moved into (0, 1).
#[inline]
pub fn scaled_fast_sigmoid(x: f32) -> f32 {
    0.5 * (fast_sigmoid(x) + 1.0)
}

/// Margin a context pair's positive must win by to count as "no loss" (Qdrant uses f32's
/// epsilon, so an exact tie is a small loss).
const CONTEXT_MARGIN: f32 = f32::EPSILON;

impl Objective {
    /// Every example vector, for checking dimensions and preprocessing.
    pub fn vectors_mut(&mut self) -> Vec<&mut Vec<f32>> {
        match self {
            Objective::BestScore { positive, negative }
            | Objective::SumScores { positive, negative } => {
                positive.iter_mut().chain(negative.iter_mut()).collect()
            }
            Objective::Discover { target, pairs } => std::iter::once(target)
                .chain(
                    pairs
                        .iter_mut()
                        .flat_map(|p| [&mut p.positive, &mut p.negative]),
                )
                .collect(),
            Objective::Context { pairs } => pairs
                .iter_mut()
                .flat_map(|p| [&mut p.positive, &mut p.negative])
                .collect(),
        }
    }

    /// Brings raw example vectors to the stored form (normalized for Cosine). Idempotent, so
    /// examples read back from storage may go through it again.
    pub fn preprocess(&mut self, metric: Metric) {
        for v in self.vectors_mut() {
            metric.preprocess(v);
        }
    }

    fn first_vector(&self) -> Option<&Vec<f32>> {
        match self {
            Objective::BestScore { positive, negative }
            | Objective::SumScores { positive, negative } => {
                positive.first().or_else(|| negative.first())
            }
            Objective::Discover { target, .. } => Some(target),
            Objective::Context { pairs } => pairs.first().map(|p| &p.positive),
        }
    }
}

fn best<T>(examples: &[T], sim: &impl Fn(&T) -> f32) -> f32 {
    examples.iter().map(sim).fold(f32::NEG_INFINITY, f32::max)
}

impl Scorer for Objective {
    fn dim(&self) -> usize {
        self.first_vector().map_or(0, Vec::len)
    }

    #[inline]
    fn score(&self, metric: Metric, v: &[f32]) -> f32 {
        self.fold(|e| metric.score(e, v))
    }
}

impl<T> Objective<T> {
    /// The objective's score of a candidate, given its similarity `sim` to each example.
    pub fn fold(&self, sim: impl Fn(&T) -> f32) -> f32 {
        match self {
            Objective::BestScore { positive, negative } => {
                let pos = best(positive, &sim);
                let neg = best(negative, &sim);
                if pos > neg {
                    scaled_fast_sigmoid(pos)
                } else {
                    -scaled_fast_sigmoid(neg)
                }
            }
            Objective::SumScores { positive, negative } => {
                let pos: f32 = positive.iter().map(&sim).sum();
                let neg: f32 = negative.iter().map(&sim).sum();
                pos - neg
            }
            Objective::Discover { target, pairs } => {
                let rank: i32 = pairs
                    .iter()
                    .map(|p| {
                        // +1 closer to the positive, −1 closer to the negative, 0 on a tie.
                        sim(&p.positive).total_cmp(&sim(&p.negative)) as i32
                    })
                    .sum();
                rank as f32 + scaled_fast_sigmoid(sim(target))
            }
            Objective::Context { pairs } => pairs
                .iter()
                .map(|p| {
                    let diff = sim(&p.positive) - sim(&p.negative) - CONTEXT_MARGIN;
                    fast_sigmoid(diff.min(0.0))
                })
                .sum(),
        }
    }
}
