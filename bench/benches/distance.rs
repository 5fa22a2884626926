//! The engine's distance kernels at common embedding sizes. Run fast with
//! `cargo bench -p vexfs-bench --bench distance -- --warm-up-time 1 --measurement-time 2`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use vexfs_shard::distance::{dot, squared_euclid};

/// Dimensions measured: small, MiniLM, BERT-base, OpenAI ada-002.
const DIMS: [usize; 4] = [128, 384, 768, 1536];

fn vector(dim: usize, salt: u32) -> Vec<f32> {
    (0..dim as u32)
        .map(|i| ((i.wrapping_mul(2_654_435_761) ^ salt) % 2000) as f32 / 1000.0 - 1.0)
        .collect()
}

fn kernels(c: &mut Criterion) {
    let mut g = c.benchmark_group("distance");
    for dim in DIMS {
        let (a, b) = (vector(dim, 1), vector(dim, 7));
        // Elements = dimensions compared per call: lets criterion report dims/s.
        g.throughput(Throughput::Elements(dim as u64));
        g.bench_with_input(BenchmarkId::new("dot", dim), &dim, |bn, _| {
            bn.iter(|| dot(black_box(&a), black_box(&b)))
        });
        g.bench_with_input(BenchmarkId::new("squared_euclid", dim), &dim, |bn, _| {
            bn.iter(|| squared_euclid(black_box(&a), black_box(&b)))
        });
    }
    g.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);
