//! AVX2 + FMA + F16C f16-storage kernels (x86_64): 8 stored halves widened per instruction
//! (`vcvtph2ps`), two accumulators per loop.

use std::arch::x86_64::*;

use super::{f16, F16Kernels};
use crate::distance::avx2::hsum;
use crate::distance::kernels::detected_kernels;

/// Elements per 256-bit register of f32.
const LANES: usize = 8;
/// Elements per main-loop iteration (two registers, one accumulator each).
const STEP: usize = 2 * LANES;

detected_kernels! {
    /// The AVX2 + FMA + F16C table, if this CPU has all three.
    table: F16Kernels(f32, f16),
    isa: "avx2+fma+f16c",
    detected: is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c"),
    dot: fold::<Dot>,
    squared_euclid: fold::<SquaredEuclid>,
    manhattan: fold::<Manhattan>,
}

/// One metric's per-register step and per-element tail term.
trait Term {
    /// `acc + term(q, s)` lane-wise.
    unsafe fn step(acc: __m256, q: __m256, s: __m256) -> __m256;
    /// The same for one element.
    fn scalar(q: f32, s: f32) -> f32;
}

struct Dot;
struct SquaredEuclid;
struct Manhattan;

impl Term for Dot {
    #[target_feature(enable = "avx2,fma")]
    unsafe fn step(acc: __m256, q: __m256, s: __m256) -> __m256 {
        _mm256_fmadd_ps(q, s, acc)
    }
    fn scalar(q: f32, s: f32) -> f32 {
        q * s
    }
}

impl Term for SquaredEuclid {
    #[target_feature(enable = "avx2,fma")]
    unsafe fn step(acc: __m256, q: __m256, s: __m256) -> __m256 {
        let d = _mm256_sub_ps(q, s);
        _mm256_fmadd_ps(d, d, acc)
    }
    fn scalar(q: f32, s: f32) -> f32 {
        (q - s) * (q - s)
    }
}

impl Term for Manhattan {
    #[target_feature(enable = "avx2,fma")]
    unsafe fn step(acc: __m256, q: __m256, s: __m256) -> __m256 {
        let d = _mm256_sub_ps(q, s);
        _mm256_add_ps(acc, _mm256_andnot_ps(_mm256_set1_ps(-0.0), d))
    }
    fn scalar(q: f32, s: f32) -> f32 {
        (q - s).abs()
    }
}

/// Loads 8 f32 query elements from `q[at..at + 8]`.
#[target_feature(enable = "avx2")]
#[inline]
fn load_query(q: &[f32], at: usize) -> __m256 {
    assert!(at + LANES <= q.len());
    // SAFETY: the assert keeps the 8 lanes read inside `q`; unaligned loads are allowed.
    unsafe { _mm256_loadu_ps(q.as_ptr().add(at)) }
}

/// Loads 8 stored halves from `s[at..at + 8]` widened to f32.
#[target_feature(enable = "avx2,f16c")]
#[inline]
fn load_stored(s: &[f16], at: usize) -> __m256 {
    assert!(at + LANES <= s.len());
    // SAFETY: the assert keeps the 16 bytes read inside `s` (`f16` is 2 bytes, no padding);
    // `_mm_loadu_si128` has no alignment requirement.
    let raw = unsafe { _mm_loadu_si128(s.as_ptr().add(at).cast::<__m128i>()) };
    _mm256_cvtph_ps(raw)
}

/// Caller must run on a CPU with AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn fold<T: Term>(q: &[f32], s: &[f16]) -> f32 {
    let n = q.len().min(s.len());
    let mut acc = [_mm256_setzero_ps(); 2];
    let mut i = 0;
    while i + STEP <= n {
        for (k, acc) in acc.iter_mut().enumerate() {
            let at = i + k * LANES;
            // SAFETY: this function's own contract (the CPU features) is all `step` needs.
            *acc = unsafe { T::step(*acc, load_query(q, at), load_stored(s, at)) };
        }
        i += STEP;
    }
    while i + LANES <= n {
        // SAFETY: as above.
        acc[0] = unsafe { T::step(acc[0], load_query(q, i), load_stored(s, i)) };
        i += LANES;
    }
    let tail: f32 = q[i..n]
        .iter()
        .zip(&s[i..n])
        .map(|(x, y)| T::scalar(*x, y.to_f32()))
        .sum();
    hsum(_mm256_add_ps(acc[0], acc[1])) + tail
}
