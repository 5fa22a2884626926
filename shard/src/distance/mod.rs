//! Distance kernels: f32 vectors (what every collection stores today) and the float16 / uint8
//! storage kernels that will back Qdrant's `datatype: float16 | uint8`.
//!
//! Scores inside the engine are "higher is closer" for every metric so that one top-k heap
//! serves all of them: Euclid keeps the negated squared distance, Manhattan the negated sum.
//! [`Metric::to_user_score`] turns them into what Qdrant reports (Euclid: the distance itself).
//!
//! Each kernel family has a portable scalar twin (`scalar`, `float16::scalar`,
//! `uint8::scalar`) and instruction-set versions (`avx512`, `avx2`, `neon`, …) chosen once per
//! process from what the CPU reports at run time ([`Kernels`]). All `unsafe` code of this
//! crate's arithmetic lives in the per-ISA files; the tables they hand out are only built after
//! the features they need were detected, which is what makes their safe wrappers sound.
//! Property tests in `tests.rs` compare every kernel this CPU can run with its scalar twin.

mod kernels;
mod metric;
pub mod scalar;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "aarch64")]
mod neon;

pub mod float16;
pub mod uint8;

#[cfg(test)]
mod tests;

pub use kernels::{F32Kernels, Kernels};
pub use metric::Metric;

use std::sync::OnceLock;

/// Every f32 kernel set this CPU can run, fastest first; the portable scalar set is last.
pub fn available() -> Vec<F32Kernels> {
    let mut sets = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        sets.extend(avx512::kernels());
        sets.extend(avx2::kernels());
    }
    #[cfg(target_arch = "aarch64")]
    sets.extend(neon::kernels());
    sets.push(scalar::KERNELS);
    sets
}

/// The f32 kernel set used by [`dot`], [`squared_euclid`] and [`manhattan`]: the fastest one
/// available, chosen on first use and cached for the life of the process.
pub fn active() -> &'static F32Kernels {
    static ACTIVE: OnceLock<F32Kernels> = OnceLock::new();
    ACTIVE.get_or_init(|| available()[0])
}

/// Inner product. Slices of different lengths are compared over the shorter one.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    (active().dot)(a, b)
}

/// Squared Euclidean distance.
#[inline]
pub fn squared_euclid(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    (active().squared_euclid)(a, b)
}

/// Manhattan (L1) distance.
#[inline]
pub fn manhattan(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    (active().manhattan)(a, b)
}

/// Scales `v` to unit length in place (Cosine vectors are stored normalized, as Qdrant does).
/// A zero vector stays zero.
pub fn normalize(v: &mut [f32]) {
    let norm = dot(v, v).sqrt();
    if norm > f32::EPSILON {
        for x in v.iter_mut() {
            *x /= norm;
        }
    }
}
