//! AVX2 + FMA f32 kernels (x86_64): 8 lanes per register, four independent accumulators per
//! loop so consecutive FMAs do not wait on each other's latency.

use std::arch::x86_64::*;

use super::kernels::detected_kernels;
use super::F32Kernels;

/// f32 lanes in one 256-bit register.
const LANES: usize = 8;
/// Registers processed per main-loop iteration (one accumulator each).
const UNROLL: usize = 4;
/// Elements per main-loop iteration.
const STEP: usize = LANES * UNROLL;

detected_kernels! {
    /// The AVX2 + FMA table, if this CPU has both.
    table: F32Kernels(f32, f32),
    isa: "avx2+fma",
    detected: is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
    dot: dot_avx2,
    squared_euclid: squared_euclid_avx2,
    manhattan: manhattan_avx2,
}

/// Loads 8 f32 from `s[at..at + 8]`.
#[target_feature(enable = "avx2")]
#[inline]
fn load(s: &[f32], at: usize) -> __m256 {
    assert!(at + LANES <= s.len());
    // SAFETY: the assert above keeps the 8 lanes read inside `s`; unaligned loads are allowed.
    unsafe { _mm256_loadu_ps(s.as_ptr().add(at)) }
}

/// Sum of the 8 lanes.
#[target_feature(enable = "avx2")]
#[inline]
pub(super) fn hsum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s));
    _mm_cvtss_f32(s)
}

#[target_feature(enable = "avx2,fma")]
fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let mut acc = [_mm256_setzero_ps(); UNROLL];
    let mut i = 0;
    while i + STEP <= n {
        for (k, acc) in acc.iter_mut().enumerate() {
            let at = i + k * LANES;
            *acc = _mm256_fmadd_ps(load(a, at), load(b, at), *acc);
        }
        i += STEP;
    }
    while i + LANES <= n {
        acc[0] = _mm256_fmadd_ps(load(a, i), load(b, i), acc[0]);
        i += LANES;
    }
    let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let tail: f32 = a[i..n].iter().zip(&b[i..n]).map(|(x, y)| x * y).sum();
    hsum(sum) + tail
}

#[target_feature(enable = "avx2,fma")]
fn squared_euclid_avx2(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let mut acc = [_mm256_setzero_ps(); UNROLL];
    let mut i = 0;
    while i + STEP <= n {
        for (k, acc) in acc.iter_mut().enumerate() {
            let at = i + k * LANES;
            let d = _mm256_sub_ps(load(a, at), load(b, at));
            *acc = _mm256_fmadd_ps(d, d, *acc);
        }
        i += STEP;
    }
    while i + LANES <= n {
        let d = _mm256_sub_ps(load(a, i), load(b, i));
        acc[0] = _mm256_fmadd_ps(d, d, acc[0]);
        i += LANES;
    }
    let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let tail: f32 = a[i..n]
        .iter()
        .zip(&b[i..n])
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    hsum(sum) + tail
}

#[target_feature(enable = "avx2,fma")]
fn manhattan_avx2(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    // Clearing the sign bit is |x| for every f32, NaN included.
    let sign = _mm256_set1_ps(-0.0);
    let mut acc = [_mm256_setzero_ps(); UNROLL];
    let mut i = 0;
    while i + STEP <= n {
        for (k, acc) in acc.iter_mut().enumerate() {
            let at = i + k * LANES;
            let d = _mm256_sub_ps(load(a, at), load(b, at));
            *acc = _mm256_add_ps(*acc, _mm256_andnot_ps(sign, d));
        }
        i += STEP;
    }
    while i + LANES <= n {
        let d = _mm256_sub_ps(load(a, i), load(b, i));
        acc[0] = _mm256_add_ps(acc[0], _mm256_andnot_ps(sign, d));
        i += LANES;
    }
    let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let tail: f32 = a[i..n]
        .iter()
        .zip(&b[i..n])
        .map(|(x, y)| (x - y).abs())
        .sum();
    hsum(sum) + tail
}
