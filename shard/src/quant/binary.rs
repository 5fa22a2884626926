//! Binary quantization: one bit per component (set when positive), scored by counting the
//! bits two codes disagree on (XOR + popcount over 64-bit words).
//!
//! The estimate treats both vectors as ±1 per component: for Cosine and Dot the similarity
//! `(dim − 2·differing) / dim` (the cosine of the sign vectors); for Euclid and Manhattan the
//! negated count of differing components, scaled like the ±1 vectors' distance. It ranks
//! well only for centred data (Qdrant's advice: use it with rescoring and oversampling).

use crate::schema::Distance;

/// Bytes of one 64-bit word of bits.
const WORD_BYTES: usize = 8;

/// Sets bit `i` of `out` (little-endian words) when `v[i] > 0`. `out` holds
/// `dim.div_ceil(64)` words and starts zeroed.
pub fn encode(v: &[f32], out: &mut [u8]) {
    for (i, x) in v.iter().enumerate() {
        if *x > 0.0 {
            if let Some(b) = out.get_mut(i / 8) {
                *b |= 1 << (i % 8);
            }
        }
    }
}

pub fn prepare(q: &[f32]) -> Vec<u8> {
    let mut out = vec![0u8; q.len().div_ceil(64) * WORD_BYTES];
    encode(q, &mut out);
    out
}

/// Components on which the two codes differ.
#[inline]
pub fn differing(a: &[u8], b: &[u8]) -> u32 {
    a.chunks_exact(WORD_BYTES)
        .zip(b.chunks_exact(WORD_BYTES))
        .map(|(x, y)| {
            let x = u64::from_le_bytes([x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]]);
            let y = u64::from_le_bytes([y[0], y[1], y[2], y[3], y[4], y[5], y[6], y[7]]);
            (x ^ y).count_ones()
        })
        .sum()
}

/// Internal ("higher is closer") score estimate.
#[inline]
pub fn score(distance: Distance, dim: usize, q: &[u8], code: &[u8]) -> f32 {
    let d = differing(q, code) as f32;
    match distance {
        Distance::Cosine | Distance::Dot => (dim as f32 - 2.0 * d) / dim.max(1) as f32,
        // ±1 vectors differ by 2 on each differing component.
        Distance::Euclid => -4.0 * d,
        Distance::Manhattan => -2.0 * d,
    }
}
