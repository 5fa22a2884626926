//! Kernels for vectors stored as bytes (Qdrant's `datatype: uint8`).
//!
//! The query is bytes too: a uint8 collection takes integer components 0..=255 for points and
//! queries alike, so both sides are exact and the arithmetic is integer. Sums are exact (u64
//! overall; SIMD lanes are flushed into it before they could overflow), so every SIMD kernel
//! returns exactly what its scalar twin does; the f32 result is that integer rounded once.

pub mod scalar;

#[cfg(target_arch = "x86_64")]
mod avx2;

use std::sync::OnceLock;

use super::Kernels;

/// Byte query against byte storage.
pub type U8Kernels = Kernels<u8, u8>;

/// Every uint8 kernel set this CPU can run, fastest first; scalar last.
pub fn available() -> Vec<U8Kernels> {
    let mut sets = Vec::new();
    #[cfg(target_arch = "x86_64")]
    sets.extend(avx2::kernels());
    sets.push(scalar::KERNELS);
    sets
}

/// The fastest available set, chosen on first use and cached.
pub fn active() -> &'static U8Kernels {
    static ACTIVE: OnceLock<U8Kernels> = OnceLock::new();
    ACTIVE.get_or_init(|| available()[0])
}

/// Inner product.
#[inline]
pub fn dot(query: &[u8], stored: &[u8]) -> f32 {
    (active().dot)(query, stored)
}

/// Squared Euclidean distance.
#[inline]
pub fn squared_euclid(query: &[u8], stored: &[u8]) -> f32 {
    (active().squared_euclid)(query, stored)
}

/// Manhattan distance.
#[inline]
pub fn manhattan(query: &[u8], stored: &[u8]) -> f32 {
    (active().manhattan)(query, stored)
}

/// A kernel of an f32 query against byte codes.
pub type F32U8Kernel = fn(&[f32], &[u8]) -> f32;

/// `Σ q·c` of an f32 query and byte codes (asymmetric int8 quantization,
/// [`crate::quant::scalar`]): the AVX2 build when the CPU has it, else the scalar twin.
#[inline]
pub fn dot_f32_u8(q: &[f32], c: &[u8]) -> f32 {
    static ACTIVE: OnceLock<F32U8Kernel> = OnceLock::new();
    let f = ACTIVE.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        if let Some(k) = avx2::dot_f32_u8_kernel() {
            return k;
        }
        scalar::dot_f32_u8
    });
    f(q, c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_u8_dot_equals_its_scalar_twin_and_a_plain_sum() {
        for n in [0usize, 1, 7, 8, 9, 31, 128, 1000] {
            let q: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let c: Vec<u8> = (0..n).map(|i| (i * 31 % 256) as u8).collect();
            let twin = scalar::dot_f32_u8(&q, &c);
            assert_eq!(dot_f32_u8(&q, &c).to_bits(), twin.to_bits(), "{n}");
            let want: f64 = q
                .iter()
                .zip(&c)
                .map(|(a, b)| f64::from(*a) * f64::from(*b))
                .sum();
            let err = (f64::from(twin) - want).abs();
            assert!(err <= 1e-4 * want.abs().max(1.0), "{n}: {twin} vs {want}");
        }
    }
}
