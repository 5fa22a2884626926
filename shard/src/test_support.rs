//! Fixtures shared by the crate's unit tests: the one-vector schema most engine tests use, a
//! deterministic vector generator and a sorted directory listing.

use std::path::Path;

use vexfs_io::mem::MemStorage;
use vexfs_io::Storage;

use crate::schema::{Distance, ShardSchema, VectorSpec};

/// A schema with one unnamed dense vector space of `dim` dimensions.
pub(crate) fn unnamed_schema(dim: usize, distance: Distance) -> ShardSchema {
    ShardSchema {
        vectors: vec![VectorSpec {
            name: String::new(),
            dim,
            distance,
        }],
        ..ShardSchema::default()
    }
}

/// A deterministic vector of `dim` values in [-0.5, 0.5) from `seed` (xorshift).
pub(crate) fn seeded_vector(seed: u64, dim: usize) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..dim)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect()
}

/// The names in `dir` that `keep` accepts, sorted.
pub(crate) async fn sorted_files(
    fs: &MemStorage,
    dir: &str,
    keep: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut names: Vec<String> = fs
        .list_dir(Path::new(dir))
        .await
        .unwrap()
        .into_iter()
        .filter(|n| keep(n))
        .collect();
    names.sort();
    names
}
