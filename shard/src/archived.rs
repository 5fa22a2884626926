//! What every rkyv-archived file kind (segment, hnsw index, quantization) shares inside its
//! frame: native views of archived little-endian slices, and the one-byte distance codes.
//!
//! The codes are part of every such file's format: changing them is a format version bump of
//! each kind that stores them.

use crate::schema::Distance;

/// Archived little-endian floats as native ones (little-endian targets only; see
/// `segment/mod.rs`).
pub(crate) fn f32s(s: &[rend::f32_le]) -> &[f32] {
    bytemuck::cast_slice(s)
}

pub(crate) fn u32s(s: &[rend::u32_le]) -> &[u32] {
    bytemuck::cast_slice(s)
}

pub(crate) fn u64s(s: &[rend::u64_le]) -> &[u64] {
    bytemuck::cast_slice(s)
}

pub(crate) fn u128s(s: &[rend::u128_le]) -> &[u128] {
    bytemuck::cast_slice(s)
}

pub(crate) fn distance_code(d: Distance) -> u8 {
    match d {
        Distance::Cosine => 0,
        Distance::Euclid => 1,
        Distance::Dot => 2,
        Distance::Manhattan => 3,
    }
}

pub(crate) fn distance_from_code(code: u8) -> Option<Distance> {
    match code {
        0 => Some(Distance::Cosine),
        1 => Some(Distance::Euclid),
        2 => Some(Distance::Dot),
        3 => Some(Distance::Manhattan),
        _ => None,
    }
}
