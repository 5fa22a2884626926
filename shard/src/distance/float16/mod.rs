//! Kernels for vectors stored as IEEE half floats (Qdrant's `datatype: float16`).
//!
//! The query stays f32: it is preprocessed (normalized for Cosine) in f32 and rounding it to
//! f16 as well would only add error; storage is what halves. Each stored element is widened to
//! f32 exactly (every f16 is an f32) and the arithmetic is f32, so results match an f32 kernel
//! run on the widened vector.

pub mod scalar;

#[cfg(target_arch = "x86_64")]
mod avx2;

use std::sync::OnceLock;

pub use half::f16;

use super::Kernels;

/// f32 query against f16 storage.
pub type F16Kernels = Kernels<f32, f16>;

/// Every f16-storage kernel set this CPU can run, fastest first; scalar last.
pub fn available() -> Vec<F16Kernels> {
    let mut sets = Vec::new();
    #[cfg(target_arch = "x86_64")]
    sets.extend(avx2::kernels());
    sets.push(scalar::KERNELS);
    sets
}

/// The fastest available set, chosen on first use and cached.
pub fn active() -> &'static F16Kernels {
    static ACTIVE: OnceLock<F16Kernels> = OnceLock::new();
    ACTIVE.get_or_init(|| available()[0])
}

/// Inner product of an f32 query with an f16 stored vector.
#[inline]
pub fn dot(query: &[f32], stored: &[f16]) -> f32 {
    (active().dot)(query, stored)
}

/// Squared Euclidean distance between an f32 query and an f16 stored vector.
#[inline]
pub fn squared_euclid(query: &[f32], stored: &[f16]) -> f32 {
    (active().squared_euclid)(query, stored)
}

/// Manhattan distance between an f32 query and an f16 stored vector.
#[inline]
pub fn manhattan(query: &[f32], stored: &[f16]) -> f32 {
    (active().manhattan)(query, stored)
}
