//! Scalar (int8) quantization: every component becomes one byte over the column's value
//! range, clipped to a quantile so a few outliers do not waste the 256 levels.
//!
//! With `x ≈ lo + step·c` (c in 0..=255):
//! - dot (and Cosine): the query stays f32 (asymmetric, no query rounding error):
//!   `q·x ≈ lo·Σ q + step·Σ q·c` ([`uint8::dot_f32_u8`]);
//! - squared Euclid: the query is encoded too, `step²·Σ (cq − cx)²` (the offset cancels);
//! - Manhattan: likewise, `step·Σ |cq − cx|`.
//!
//! The encoded-query sums are exact integers from the uint8 kernels
//! ([`crate::distance::uint8`]).

use crate::distance::uint8;
use crate::schema::Distance;

/// Levels of one code byte, minus one.
const LEVELS_MAX: f32 = 255.0;

/// The range a column's codes cover.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScalarRange {
    pub lo: f32,
    /// Width of one level; always positive.
    pub step: f32,
}

/// The range covering the central `quantile` of `values` (a deterministic sample of the
/// column's components): sorted, then cut at `(1 − q)/2` and `(1 + q)/2`.
pub fn train(values: &mut [f32], quantile: f32) -> ScalarRange {
    // NaN never reaches a segment; this keeps the sort total anyway.
    for v in values.iter_mut().filter(|v| !v.is_finite()) {
        *v = 0.0;
    }
    if values.is_empty() {
        return ScalarRange { lo: 0.0, step: 1.0 };
    }
    values.sort_unstable_by(f32::total_cmp);
    let last = (values.len() - 1) as f64;
    let q = f64::from(quantile.clamp(0.0, 1.0));
    let lo_at = (((1.0 - q) / 2.0) * last).floor() as usize;
    let hi_at = (((1.0 + q) / 2.0) * last).ceil() as usize;
    let lo = values[lo_at.min(values.len() - 1)];
    let hi = values[hi_at.min(values.len() - 1)];
    let step = (hi - lo) / LEVELS_MAX;
    ScalarRange {
        lo,
        step: if step > 0.0 && step.is_finite() {
            step
        } else {
            1.0
        },
    }
}

/// Encodes `v` into `out` (same length).
pub fn encode(range: ScalarRange, v: &[f32], out: &mut [u8]) {
    for (x, c) in v.iter().zip(out.iter_mut()) {
        let level = ((x - range.lo) / range.step).round();
        *c = level.clamp(0.0, LEVELS_MAX) as u8;
    }
}

/// A query prepared for scoring: encoded like stored vectors, and kept as is with its sum.
#[derive(Clone, Debug)]
pub struct ScalarQuery {
    pub codes: Vec<u8>,
    pub raw: Vec<f32>,
    pub raw_sum: f32,
}

pub fn prepare(range: ScalarRange, q: &[f32]) -> ScalarQuery {
    let mut codes = vec![0u8; q.len()];
    encode(range, q, &mut codes);
    ScalarQuery {
        codes,
        raw: q.to_vec(),
        raw_sum: q.iter().sum(),
    }
}

/// Internal ("higher is closer") score estimate of `code`.
#[inline]
pub fn score(range: ScalarRange, distance: Distance, q: &ScalarQuery, code: &[u8]) -> f32 {
    let s = range.step;
    match distance {
        Distance::Cosine | Distance::Dot => {
            range.lo * q.raw_sum + s * uint8::dot_f32_u8(&q.raw, code)
        }
        Distance::Euclid => -(s * s) * uint8::squared_euclid(&q.codes, code),
        Distance::Manhattan => -s * uint8::manhattan(&q.codes, code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_approximate_exact_ones() {
        let v: Vec<f32> = (0..64).map(|i| ((i * 7 % 13) as f32 - 6.0) / 6.0).collect();
        let q: Vec<f32> = (0..64).map(|i| ((i * 5 % 11) as f32 - 5.0) / 5.0).collect();
        let mut values = v.clone();
        values.extend_from_slice(&q);
        let range = train(&mut values, 1.0);
        let mut code = vec![0u8; 64];
        encode(range, &v, &mut code);
        let prepared = prepare(range, &q);
        let dot: f32 = q.iter().zip(&v).map(|(a, b)| a * b).sum();
        let sq: f32 = q.iter().zip(&v).map(|(a, b)| (a - b) * (a - b)).sum();
        let l1: f32 = q.iter().zip(&v).map(|(a, b)| (a - b).abs()).sum();
        let est = |d| score(range, d, &prepared, &code);
        assert!((est(Distance::Dot) - dot).abs() < 0.05 * dot.abs().max(1.0));
        assert!((est(Distance::Euclid) + sq).abs() < 0.05 * sq.max(1.0));
        assert!((est(Distance::Manhattan) + l1).abs() < 0.05 * l1.max(1.0));
    }
}
