//! Parsing an upsert body (100 points x 128 dims, Qdrant's shape) into a typed request:
//! serde_json vs simd-json. Run fast with
//! `cargo bench -p vexfs-bench --bench json_parse -- --warm-up-time 1 --measurement-time 2`.

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde::Deserialize;

/// Points per body and vector dimension of the measured body.
const POINTS: usize = 100;
const DIM: usize = 128;

#[derive(Deserialize)]
#[allow(dead_code)] // Fields exist to be parsed, not read.
struct UpsertBody {
    points: Vec<PointIn>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PointIn {
    id: u64,
    vector: Vec<f32>,
    #[serde(default)]
    payload: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A deterministic body shaped like the load generator's upserts.
fn body() -> Vec<u8> {
    let mut state = 0x5eed_u64;
    let mut next = move || {
        // xorshift64: reproducible values without pulling in a RNG crate.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    };
    let mut s = String::from("{\"points\":[");
    for id in 0..POINTS {
        if id > 0 {
            s.push(',');
        }
        let _ = write!(s, "{{\"id\":{id},\"vector\":[");
        for d in 0..DIM {
            if d > 0 {
                s.push(',');
            }
            let _ = write!(s, "{}", next());
        }
        let _ = write!(s, "],\"payload\":{{\"i\":{id}}}}}");
    }
    s.push_str("]}");
    s.into_bytes()
}

fn parse(c: &mut Criterion) {
    let body = body();
    let mut g = c.benchmark_group("upsert_body_100x128");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("serde_json", |b| {
        b.iter(|| {
            let v: UpsertBody = serde_json::from_slice(black_box(&body)).expect("valid body");
            black_box(v)
        })
    });
    // simd-json parses in place, so each iteration needs its own mutable copy; the copy is
    // part of the cost a server pays too when the body buffer must be kept.
    let mut scratch = body.clone();
    g.bench_function("simd_json", |b| {
        b.iter(|| {
            scratch.copy_from_slice(&body);
            let v: UpsertBody =
                simd_json::serde::from_slice(black_box(&mut scratch)).expect("valid body");
            black_box(v)
        })
    });
    g.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
