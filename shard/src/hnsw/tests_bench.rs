//! Build and search cost on one 100 000 × 128 Cosine segment. Ignored by default (tens of
//! seconds); run with
//! `cargo test --release -p vexfs-shard hnsw::tests_bench -- --ignored --nocapture`.
//! The clock is read here only: the engine itself never does.
#![allow(clippy::disallowed_methods)]

use std::time::Instant;

use super::*;
use crate::distance::Metric;
use crate::point_id::PointId;
use crate::schema::Distance;
use crate::score::Nearest;
use crate::segment::{Segment, SegmentBuilder};
use crate::store::SearchParams;
use crate::test_support::unnamed_schema;
use crate::topk::TopK;

const POINTS: usize = 100_000;
const DIM: usize = 128;
const QUERIES: usize = 200;
const K: usize = 10;
/// Spread of points around their centre, relative to the spread of the centres (1.0): large
/// enough that clusters overlap and the nearest neighbours are not just the cluster.
const NOISE: f32 = 1.0;

/// Clustered data (vectors near one of 1 000 centres), closer to real embeddings than
/// uniform noise.
fn data() -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let mut x: u64 = 0x1234_5678;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let centres: Vec<Vec<f32>> = (0..1_000)
        .map(|_| (0..DIM).map(|_| next()).collect())
        .collect();
    let mut around = |i: usize| {
        let c = &centres[i % centres.len()];
        let mut v: Vec<f32> = c.iter().map(|a| a + NOISE * next()).collect();
        Metric(Distance::Cosine).preprocess(&mut v);
        v
    };
    let points = (0..POINTS).map(&mut around).collect();
    let queries = (0..QUERIES).map(|i| around(i * 7 + 3)).collect();
    (points, queries)
}

#[test]
#[ignore = "benchmark: about a minute in release"]
fn build_and_search_100k_x_128_cosine() {
    let (points, queries) = data();
    let schema = unnamed_schema(DIM, Distance::Cosine);
    let mut b = SegmentBuilder::with_capacity(&schema, POINTS).unwrap();
    for (i, v) in points.iter().enumerate() {
        b.push(PointId::Num(i as u64), 1, [("", v.as_slice())], None)
            .unwrap();
    }
    let seg = Segment::from_bytes("bench.seg", b.finish().unwrap()).unwrap();
    let (data, _) = seg.column_data(0).unwrap();

    let config = HnswConfig {
        m: DEFAULT_HNSW_M,
        ef_construct: DEFAULT_HNSW_EF_CONSTRUCT,
    };
    let t = Instant::now();
    let mut g = HnswBuilder::new("", DIM, Distance::Cosine, config, seg.len()).unwrap();
    for slot in 0..seg.len() as u32 {
        g.insert(data, slot);
    }
    let mut f = HnswFileBuilder::new(&seg);
    f.add(g).unwrap();
    let bytes = f.finish().unwrap();
    let build = t.elapsed();
    let file_bytes = bytes.len();
    let t = Instant::now();
    let copy = bytes.as_bytes().to_vec();
    let index = HnswIndex::from_slice("bench.seg.hnsw", &copy).unwrap();
    let open = t.elapsed();
    println!(
        "build {POINTS} x {DIM} Cosine, m {} ef_construct {}: {:.1} s, index file {:.1} MiB \
         ({:.0} bytes/point), segment file {:.1} MiB, open+validate {:.1} ms",
        config.m,
        config.ef_construct,
        build.as_secs_f64(),
        file_bytes as f64 / (1 << 20) as f64,
        file_bytes as f64 / POINTS as f64,
        seg.file_bytes() as f64 / (1 << 20) as f64,
        open.as_secs_f64() * 1e3,
    );

    let exact = |q: &[f32]| {
        let params = SearchParams {
            vector_name: "",
            query: q,
            top: K,
            threshold: None,
            filter: None,
            hnsw_ef: None,
            exact: true,
            indexed_only: false,
            quantization: Default::default(),
        };
        let mut top = TopK::new(K);
        seg.search_into(&params, &mut top, |s| s);
        top.into_sorted()
            .into_iter()
            .map(|(_, _, s)| s)
            .collect::<Vec<u32>>()
    };
    let t = Instant::now();
    let truth: Vec<Vec<u32>> = queries.iter().map(|q| exact(q)).collect();
    let exact_us = t.elapsed().as_secs_f64() * 1e6 / QUERIES as f64;
    println!("exact scan: {exact_us:.0} µs/query");

    let graph = index.graph("").unwrap();
    for ef in [64, 128] {
        let t = Instant::now();
        let found: Vec<Vec<u32>> = queries
            .iter()
            .map(|q| {
                graph
                    .search(data, &Nearest(q), ef, |_| true)
                    .into_iter()
                    .take(K)
                    .map(|(_, s)| s)
                    .collect()
            })
            .collect();
        let us = t.elapsed().as_secs_f64() * 1e6 / QUERIES as f64;
        let hits: usize = found
            .iter()
            .zip(&truth)
            .map(|(f, t)| t.iter().filter(|s| f.contains(s)).count())
            .sum();
        let recall = hits as f64 / (QUERIES * K) as f64;
        println!(
            "hnsw ef {ef}: {us:.0} µs/query ({:.1}x faster than exact), recall@{K} {recall:.4}",
            exact_us / us
        );
        assert!(recall >= 0.9, "recall {recall} at ef {ef}");
    }
}
