//! Portable f32 kernels: the scalar twins every SIMD kernel is tested against, and the
//! fallback on CPUs without a supported vector extension.
//!
//! The loops keep `LANES` independent accumulators so the compiler may vectorize them with the
//! baseline instruction set without reassociating one long floating-point chain.

use super::F32Kernels;

/// Independent accumulators per loop (one 256-bit register of f32 if the compiler packs them).
const LANES: usize = 8;

/// The portable f32 kernel set.
pub const KERNELS: F32Kernels = F32Kernels {
    isa: "scalar",
    dot,
    squared_euclid,
    manhattan,
};

/// Inner product over `min(a.len(), b.len())` elements.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (ca, ra) = a[..n].as_chunks::<LANES>();
    let (cb, rb) = b[..n].as_chunks::<LANES>();
    let mut acc = [0f32; LANES];
    for (x, y) in ca.iter().zip(cb) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// Squared Euclidean distance over `min(a.len(), b.len())` elements.
pub fn squared_euclid(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (ca, ra) = a[..n].as_chunks::<LANES>();
    let (cb, rb) = b[..n].as_chunks::<LANES>();
    let mut acc = [0f32; LANES];
    for (x, y) in ca.iter().zip(cb) {
        for i in 0..LANES {
            let d = x[i] - y[i];
            acc[i] += d * d;
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| (x - y) * (x - y)).sum();
    acc.iter().sum::<f32>() + tail
}

/// Manhattan distance over `min(a.len(), b.len())` elements.
pub fn manhattan(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (ca, ra) = a[..n].as_chunks::<LANES>();
    let (cb, rb) = b[..n].as_chunks::<LANES>();
    let mut acc = [0f32; LANES];
    for (x, y) in ca.iter().zip(cb) {
        for i in 0..LANES {
            acc[i] += (x[i] - y[i]).abs();
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| (x - y).abs()).sum();
    acc.iter().sum::<f32>() + tail
}
