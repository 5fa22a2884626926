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
