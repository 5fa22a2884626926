//! Scalar (int8) quantization: every component becomes one byte over the column's value
//! range, clipped to a quantile so a few outliers do not waste the 256 levels.
//!
//! With `x ≈ lo + step·c` (c in 0..=255) for stored and query components alike:
//! - dot: `q·x ≈ step²·Σ cq·cx + lo·step·(Σ cq + Σ cx) + dim·lo²`; `Σ cx` is stored per slot;
//! - squared Euclid: `step²·Σ (cq − cx)²` (the offset cancels);
//! - Manhattan: `step·Σ |cq − cx|`.
//!
//! The sums are exact integers from the uint8 kernels ([`crate::distance::uint8`]).

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

/// Encodes `v` into `out` (same length); returns the sum of the codes.
pub fn encode(range: ScalarRange, v: &[f32], out: &mut [u8]) -> u32 {
    let mut sum = 0u32;
    for (x, c) in v.iter().zip(out.iter_mut()) {
        let level = ((x - range.lo) / range.step).round();
        *c = level.clamp(0.0, LEVELS_MAX) as u8;
        sum += u32::from(*c);
    }
    sum
}

/// A query encoded like stored vectors.
#[derive(Clone, Debug)]
pub struct ScalarQuery {
    pub codes: Vec<u8>,
    pub sum: u32,
}

pub fn prepare(range: ScalarRange, q: &[f32]) -> ScalarQuery {
    let mut codes = vec![0u8; q.len()];
    let sum = encode(range, q, &mut codes);
    ScalarQuery { codes, sum }
}

/// Internal ("higher is closer") score estimate of `code` (whose code sum is `sum`).
#[inline]
pub fn score(
    range: ScalarRange,
    distance: Distance,
    q: &ScalarQuery,
    code: &[u8],
    sum: u32,
) -> f32 {
    let s = range.step;
    match distance {
        Distance::Cosine | Distance::Dot => {
            let dim = q.codes.len() as f32;
            s * s * uint8::dot(&q.codes, code)
                + range.lo * s * (q.sum as f32 + sum as f32)
                + dim * range.lo * range.lo
        }
        Distance::Euclid => -(s * s) * uint8::squared_euclid(&q.codes, code),
        Distance::Manhattan => -s * uint8::manhattan(&q.codes, code),
    }
}
