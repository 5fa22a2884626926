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
