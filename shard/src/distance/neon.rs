//! NEON f32 kernels (aarch64): 4 lanes per register, four accumulators per loop.

use std::arch::aarch64::*;

use super::kernels::detected_kernels;
use super::F32Kernels;

/// f32 lanes in one 128-bit register.
const LANES: usize = 4;
/// Registers processed per main-loop iteration (one accumulator each).
const UNROLL: usize = 4;
/// Elements per main-loop iteration.
const STEP: usize = LANES * UNROLL;

detected_kernels! {
    /// The NEON table, if this CPU has it (every aarch64 Linux CPU does; checked anyway).
    table: F32Kernels(f32, f32),
    isa: "neon",
    detected: std::arch::is_aarch64_feature_detected!("neon"),
    dot: dot_neon,
    squared_euclid: squared_euclid_neon,
    manhattan: manhattan_neon,
}

/// Loads 4 f32 from `s[at..at + 4]`.
#[target_feature(enable = "neon")]
#[inline]
fn load(s: &[f32], at: usize) -> float32x4_t {
    assert!(at + LANES <= s.len());
    // SAFETY: the assert above keeps the 4 lanes read inside `s`; vld1q has no alignment need.
    unsafe { vld1q_f32(s.as_ptr().add(at)) }
}

#[target_feature(enable = "neon")]
fn sum_all(acc: [float32x4_t; UNROLL]) -> f32 {
    vaddvq_f32(vaddq_f32(
        vaddq_f32(acc[0], acc[1]),
        vaddq_f32(acc[2], acc[3]),
    ))
}

#[target_feature(enable = "neon")]
fn dot_neon(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let mut acc = [vdupq_n_f32(0.0); UNROLL];
    let mut i = 0;
    while i + STEP <= n {
        for (k, acc) in acc.iter_mut().enumerate() {
            let at = i + k * LANES;
            *acc = vfmaq_f32(*acc, load(a, at), load(b, at));
        }
        i += STEP;
    }
    while i + LANES <= n {
        acc[0] = vfmaq_f32(acc[0], load(a, i), load(b, i));
        i += LANES;
    }
    let tail: f32 = a[i..n].iter().zip(&b[i..n]).map(|(x, y)| x * y).sum();
    sum_all(acc) + tail
}

#[target_feature(enable = "neon")]
fn squared_euclid_neon(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let mut acc = [vdupq_n_f32(0.0); UNROLL];
    let mut i = 0;
    while i + STEP <= n {
        for (k, acc) in acc.iter_mut().enumerate() {
            let at = i + k * LANES;
            let d = vsubq_f32(load(a, at), load(b, at));
            *acc = vfmaq_f32(*acc, d, d);
        }
        i += STEP;
    }
    while i + LANES <= n {
        let d = vsubq_f32(load(a, i), load(b, i));
        acc[0] = vfmaq_f32(acc[0], d, d);
        i += LANES;
    }
    let tail: f32 = a[i..n]
        .iter()
        .zip(&b[i..n])
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    sum_all(acc) + tail
}

#[target_feature(enable = "neon")]
fn manhattan_neon(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let mut acc = [vdupq_n_f32(0.0); UNROLL];
    let mut i = 0;
    while i + STEP <= n {
        for (k, acc) in acc.iter_mut().enumerate() {
            let at = i + k * LANES;
            *acc = vaddq_f32(*acc, vabdq_f32(load(a, at), load(b, at)));
        }
        i += STEP;
    }
    while i + LANES <= n {
        acc[0] = vaddq_f32(acc[0], vabdq_f32(load(a, i), load(b, i)));
        i += LANES;
    }
    let tail: f32 = a[i..n]
        .iter()
        .zip(&b[i..n])
        .map(|(x, y)| (x - y).abs())
        .sum();
    sum_all(acc) + tail
}
