//! Portable uint8 kernels: exact integer sums, the twins of the SIMD versions.

use super::U8Kernels;

/// The portable uint8 kernel set.
pub const KERNELS: U8Kernels = U8Kernels {
    isa: "scalar",
    dot,
    squared_euclid,
    manhattan,
};

/// Sums `term(a, b)` exactly over `min(a.len(), b.len())` elements.
#[inline]
fn fold(a: &[u8], b: &[u8], term: impl Fn(u32, u32) -> u32) -> f32 {
    let total: u64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| u64::from(term(u32::from(*x), u32::from(*y))))
        .sum();
    total as f32
}

/// Inner product.
pub fn dot(a: &[u8], b: &[u8]) -> f32 {
    fold(a, b, |x, y| x * y)
}

/// Squared Euclidean distance.
pub fn squared_euclid(a: &[u8], b: &[u8]) -> f32 {
    fold(a, b, |x, y| x.abs_diff(y) * x.abs_diff(y))
}

/// Manhattan distance.
pub fn manhattan(a: &[u8], b: &[u8]) -> f32 {
    fold(a, b, |x, y| x.abs_diff(y))
}

/// Lanes of [`dot_f32_u8`]'s accumulators: independent sums the compiler vectorizes (one
/// 256-bit register of f32 when built for AVX2).
const F32_U8_LANES: usize = 8;

/// `Σ q·c` of an f32 query and byte codes (asymmetric scalar quantization), over the shorter
/// length. Always inlined so the AVX2 build of it (`avx2::dot_f32_u8`) vectorizes the same
/// loop: both sum the same lanes in the same order, so they return the same bits.
#[inline(always)]
pub fn dot_f32_u8(q: &[f32], c: &[u8]) -> f32 {
    let n = q.len().min(c.len());
    let (q, c) = (&q[..n], &c[..n]);
    let mut acc = [0f32; F32_U8_LANES];
    let mut qs = q.chunks_exact(F32_U8_LANES);
    let mut cs = c.chunks_exact(F32_U8_LANES);
    for (a, b) in (&mut qs).zip(&mut cs) {
        for i in 0..F32_U8_LANES {
            acc[i] += a[i] * f32::from(b[i]);
        }
    }
    let tail: f32 = qs
        .remainder()
        .iter()
        .zip(cs.remainder())
        .map(|(a, b)| a * f32::from(*b))
        .sum();
    acc.iter().sum::<f32>() + tail
}
