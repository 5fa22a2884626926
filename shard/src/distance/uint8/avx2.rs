//! AVX2 uint8 kernels (x86_64). Dot and squared L2 widen 16 bytes to 16 × i16 and use
//! `vpmaddwd` (pairwise products summed into 8 × i32); L1 uses `vpsadbw` (sums of absolute
//! byte differences into 4 × u64).

use std::arch::x86_64::*;

use super::U8Kernels;
use crate::distance::kernels::detected_kernels;

/// Bytes per 128-bit load widened to one 256-bit register of i16.
const WIDEN_BYTES: usize = 16;
/// Bytes per 256-bit register (the L1 kernel's step).
const REG_BYTES: usize = 32;
/// Elements after which the i32 lanes are flushed into the u64 total. Each `vpmaddwd` lane
/// adds at most 2 × 255² = 130,050 per 16 elements: 65,536 elements add at most
/// 4096 × 130,050 ≈ 5.3e8 per lane, well under `i32::MAX`.
const FLUSH_ELEMS: usize = 65_536;

detected_kernels! {
    /// The AVX2 table, if this CPU has it.
    table: U8Kernels(u8, u8),
    isa: "avx2",
    detected: is_x86_feature_detected!("avx2"),
    dot: madd_sum::<false>,
    squared_euclid: madd_sum::<true>,
    manhattan: sad_sum,
}

/// The AVX2 build of [`super::scalar::dot_f32_u8`], if this CPU has AVX2.
pub(super) fn dot_f32_u8_kernel() -> Option<super::F32U8Kernel> {
    is_x86_feature_detected!("avx2").then_some(dot_f32_u8 as super::F32U8Kernel)
}

fn dot_f32_u8(q: &[f32], c: &[u8]) -> f32 {
    // SAFETY: only handed out by `dot_f32_u8_kernel` after AVX2 was detected.
    unsafe { dot_f32_u8_avx2(q, c) }
}

#[target_feature(enable = "avx2")]
fn dot_f32_u8_avx2(q: &[f32], c: &[u8]) -> f32 {
    super::scalar::dot_f32_u8(q, c)
}

/// Loads `s[at..at + 16]` widened to 16 × i16 (zero-extended).
#[target_feature(enable = "avx2")]
#[inline]
fn load_widened(s: &[u8], at: usize) -> __m256i {
    assert!(at + WIDEN_BYTES <= s.len());
    // SAFETY: the assert keeps the 16 bytes read inside `s`; no alignment requirement.
    let raw = unsafe { _mm_loadu_si128(s.as_ptr().add(at).cast::<__m128i>()) };
    _mm256_cvtepu8_epi16(raw)
}

/// Loads `s[at..at + 32]`.
#[target_feature(enable = "avx2")]
#[inline]
fn load(s: &[u8], at: usize) -> __m256i {
    assert!(at + REG_BYTES <= s.len());
    // SAFETY: the assert keeps the 32 bytes read inside `s`; no alignment requirement.
    unsafe { _mm256_loadu_si256(s.as_ptr().add(at).cast::<__m256i>()) }
}

/// Sum of the 8 i32 lanes, each known to be non-negative.
#[target_feature(enable = "avx2")]
#[inline]
fn hsum_nonneg_i32(v: __m256i) -> u64 {
    let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    [
        _mm_extract_epi32::<0>(s),
        _mm_extract_epi32::<1>(s),
        _mm_extract_epi32::<2>(s),
        _mm_extract_epi32::<3>(s),
    ]
    .iter()
    .map(|lane| u64::from(lane.unsigned_abs()))
    .sum()
}

/// Dot product (`DIFF = false`) or squared L2 (`DIFF = true`) via `vpmaddwd`.
/// Caller must run on a CPU with AVX2.
#[target_feature(enable = "avx2")]
unsafe fn madd_sum<const DIFF: bool>(a: &[u8], b: &[u8]) -> f32 {
    let n = a.len().min(b.len());
    let mut total = 0u64;
    let mut i = 0;
    while i + WIDEN_BYTES <= n {
        let block_end = (i + FLUSH_ELEMS).min(n);
        let mut acc = _mm256_setzero_si256();
        while i + WIDEN_BYTES <= block_end {
            let (x, y) = (load_widened(a, i), load_widened(b, i));
            acc = if DIFF {
                let d = _mm256_sub_epi16(x, y);
                _mm256_add_epi32(acc, _mm256_madd_epi16(d, d))
            } else {
                _mm256_add_epi32(acc, _mm256_madd_epi16(x, y))
            };
            i += WIDEN_BYTES;
        }
        total += hsum_nonneg_i32(acc);
    }
    for (x, y) in a[i..n].iter().zip(&b[i..n]) {
        let (x, y) = (u64::from(*x), u64::from(*y));
        total += if DIFF { x.abs_diff(y).pow(2) } else { x * y };
    }
    total as f32
}

/// L1 via `vpsadbw`; its u64 lanes cannot overflow for any slice that fits in memory.
/// Caller must run on a CPU with AVX2.
#[target_feature(enable = "avx2")]
unsafe fn sad_sum(a: &[u8], b: &[u8]) -> f32 {
    let n = a.len().min(b.len());
    let mut acc = _mm256_setzero_si256();
    let mut i = 0;
    while i + REG_BYTES <= n {
        acc = _mm256_add_epi64(acc, _mm256_sad_epu8(load(a, i), load(b, i)));
        i += REG_BYTES;
    }
    let lanes = [
        _mm256_extract_epi64::<0>(acc),
        _mm256_extract_epi64::<1>(acc),
        _mm256_extract_epi64::<2>(acc),
        _mm256_extract_epi64::<3>(acc),
    ];
    let mut total: u64 = lanes.iter().map(|l| l.unsigned_abs()).sum();
    for (x, y) in a[i..n].iter().zip(&b[i..n]) {
        total += u64::from(x.abs_diff(*y));
    }
    total as f32
}
