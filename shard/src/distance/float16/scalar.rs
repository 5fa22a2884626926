//! Portable f16-storage kernels: the scalar twins of the SIMD versions.

use super::{f16, F16Kernels};

/// Independent accumulators per loop, as in the f32 scalar kernels.
const LANES: usize = 8;

/// The portable f16-storage kernel set.
pub const KERNELS: F16Kernels = F16Kernels {
    isa: "scalar",
    dot,
    squared_euclid,
    manhattan,
};

/// Sums `term(q, s)` over `min(q.len(), s.len())` elements with `LANES` accumulators.
#[inline]
fn fold(q: &[f32], s: &[f16], term: impl Fn(f32, f32) -> f32) -> f32 {
    let n = q.len().min(s.len());
    let (cq, rq) = q[..n].as_chunks::<LANES>();
    let (cs, rs) = s[..n].as_chunks::<LANES>();
    let mut acc = [0f32; LANES];
    for (x, y) in cq.iter().zip(cs) {
        for i in 0..LANES {
            acc[i] += term(x[i], y[i].to_f32());
        }
    }
    let tail: f32 = rq.iter().zip(rs).map(|(x, y)| term(*x, y.to_f32())).sum();
    acc.iter().sum::<f32>() + tail
}

/// Inner product.
pub fn dot(q: &[f32], s: &[f16]) -> f32 {
    fold(q, s, |x, y| x * y)
}

/// Squared Euclidean distance.
pub fn squared_euclid(q: &[f32], s: &[f16]) -> f32 {
    fold(q, s, |x, y| (x - y) * (x - y))
}

/// Manhattan distance.
pub fn manhattan(q: &[f32], s: &[f16]) -> f32 {
    fold(q, s, |x, y| (x - y).abs())
}
