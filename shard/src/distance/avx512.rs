//! AVX-512F f32 kernels (x86_64): 16 lanes per register, four accumulators per loop, and the
//! tail done with one masked load instead of a scalar loop.

use std::arch::x86_64::*;

use super::kernels::detected_kernels;
use super::F32Kernels;

/// f32 lanes in one 512-bit register.
const LANES: usize = 16;
/// Registers processed per main-loop iteration (one accumulator each).
const UNROLL: usize = 4;
/// Elements per main-loop iteration.
const STEP: usize = LANES * UNROLL;

detected_kernels! {
    /// The AVX-512F table, if this CPU has it.
    table: F32Kernels(f32, f32),
    isa: "avx512f",
    detected: is_x86_feature_detected!("avx512f"),
    dot: dot_avx512,
    squared_euclid: squared_euclid_avx512,
    manhattan: manhattan_avx512,
}

/// Loads 16 f32 from `s[at..at + 16]`.
#[target_feature(enable = "avx512f")]
#[inline]
fn load(s: &[f32], at: usize) -> __m512 {
    assert!(at + LANES <= s.len());
    // SAFETY: the assert above keeps the 16 lanes read inside `s`; unaligned loads are allowed.
    unsafe { _mm512_loadu_ps(s.as_ptr().add(at)) }
}

/// Loads `s[at..]` (fewer than 16 elements) into the low lanes, zeroing the rest.
#[target_feature(enable = "avx512f")]
#[inline]
fn load_tail(s: &[f32], at: usize) -> __m512 {
    let left = s.len().saturating_sub(at);
    assert!(left < LANES);
    let mask: __mmask16 = (1u16 << left) - 1;
    // SAFETY: only the `left` lanes set in `mask` are read, and `s[at..at + left]` is inside
    // `s`; masked-off lanes are neither read nor able to fault. With `left == 0` the mask is
    // empty and nothing is read.
    unsafe { _mm512_maskz_loadu_ps(mask, s.as_ptr().wrapping_add(at)) }
}

#[target_feature(enable = "avx512f")]
fn dot_avx512(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [_mm512_setzero_ps(); UNROLL];
    let mut i = 0;
    while i + STEP <= n {
        for (k, acc) in acc.iter_mut().enumerate() {
            let at = i + k * LANES;
            *acc = _mm512_fmadd_ps(load(a, at), load(b, at), *acc);
        }
        i += STEP;
    }
    while i + LANES <= n {
        acc[0] = _mm512_fmadd_ps(load(a, i), load(b, i), acc[0]);
        i += LANES;
    }
    acc[1] = _mm512_fmadd_ps(load_tail(a, i), load_tail(b, i), acc[1]);
    let sum = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
    _mm512_reduce_add_ps(sum)
}

#[target_feature(enable = "avx512f")]
fn squared_euclid_avx512(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [_mm512_setzero_ps(); UNROLL];
    let mut i = 0;
    while i + STEP <= n {
        for (k, acc) in acc.iter_mut().enumerate() {
            let at = i + k * LANES;
            let d = _mm512_sub_ps(load(a, at), load(b, at));
            *acc = _mm512_fmadd_ps(d, d, *acc);
        }
        i += STEP;
    }
    while i + LANES <= n {
        let d = _mm512_sub_ps(load(a, i), load(b, i));
        acc[0] = _mm512_fmadd_ps(d, d, acc[0]);
        i += LANES;
    }
    let d = _mm512_sub_ps(load_tail(a, i), load_tail(b, i));
    acc[1] = _mm512_fmadd_ps(d, d, acc[1]);
    let sum = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
    _mm512_reduce_add_ps(sum)
}

#[target_feature(enable = "avx512f")]
fn manhattan_avx512(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [_mm512_setzero_ps(); UNROLL];
    let mut i = 0;
    while i + STEP <= n {
        for (k, acc) in acc.iter_mut().enumerate() {
            let at = i + k * LANES;
            let d = _mm512_sub_ps(load(a, at), load(b, at));
            *acc = _mm512_add_ps(*acc, _mm512_abs_ps(d));
        }
        i += STEP;
    }
    while i + LANES <= n {
        let d = _mm512_sub_ps(load(a, i), load(b, i));
        acc[0] = _mm512_add_ps(acc[0], _mm512_abs_ps(d));
        i += LANES;
    }
    let d = _mm512_sub_ps(load_tail(a, i), load_tail(b, i));
    acc[1] = _mm512_add_ps(acc[1], _mm512_abs_ps(d));
    let sum = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
    _mm512_reduce_add_ps(sum)
}
