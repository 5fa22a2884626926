//! Sparse vectors through segments and shards, checked against brute force.

use std::path::Path;

use futures_lite::future::block_on;
use serde_json::json;
use vexfs_io::mem::MemStorage;

use super::idf::{idf, weight_query};
use crate::distance::Metric;
use crate::filter::Filter;
use crate::op::{Payload, PointWrite, WriteOp};
use crate::point_id::PointId;
use crate::schema::{Distance, Modifier, MultiSpec, ShardSchema, SparseSpec, VectorSpec};
use crate::segment::{Segment, SegmentBuilder};
use crate::select::{PayloadSelector, Record, VectorSelector};
use crate::shard::{OptimizerOptions, Shard, ShardOptions};
use crate::store::{SearchParams, SparseStats};
use crate::topk::TopK;
use crate::vector::{max_sim, sparse_dot, MultiVector, SparseVector, Vector, VectorRef};

/// xorshift64*: reproducible without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn sparse(&mut self, dims: u64, max_len: u64) -> SparseVector {
        let len = self.below(max_len + 1);
        let mut indices: Vec<u32> = (0..len).map(|_| self.below(dims) as u32).collect();
        indices.sort_unstable();
        indices.dedup();
        let values = indices
            .iter()
            .map(|_| (self.below(2000) as f32 - 1000.0) / 100.0)
            .collect();
        SparseVector::new(indices, values).expect("valid")
    }
}

fn schema() -> ShardSchema {
    ShardSchema {
        vectors: vec![VectorSpec {
            name: "d".into(),
            dim: 2,
            distance: Distance::Dot,
        }],
        sparse: vec![SparseSpec {
            name: "s".into(),
            modifier: Modifier::None,
        }],
        multi: Vec::new(),
    }
}

fn payload(k: u64) -> Payload {
    match json!({"k": k}) {
        serde_json::Value::Object(m) => m,
        _ => Payload::new(),
    }
}

/// Random points: every third has no sparse vector, every fifth no dense one.
fn points(rng: &mut Rng, count: u64) -> Vec<PointWrite> {
    (0..count)
        .map(|i| {
            let mut vectors = Vec::new();
            if i % 5 != 0 {
                vectors.push(("d".to_owned(), Vector::Dense(vec![i as f32, 1.0])));
            }
            if i % 3 != 0 {
                vectors.push(("s".to_owned(), Vector::Sparse(rng.sparse(40, 6))));
            }
            PointWrite {
                id: PointId::Num(i * 613 % 1009),
                vectors,
                payload: Some(payload(i % 4)),
            }
        })
        .collect()
}

fn even_k() -> Filter {
    serde_json::from_value(json!({"must": [{"key": "k", "match": {"any": [0, 2]}}]}))
        .expect("filter")
}

fn params(top: usize, filter: Option<&Filter>) -> SearchParams<'_> {
    SearchParams {
        vector_name: "s",
        query: &[],
        top,
        threshold: None,
        filter,
        hnsw_ef: None,
        exact: false,
        indexed_only: false,
        quantization: Default::default(),
    }
}

/// Best `top` of the live points (not in `deleted`) sharing an index with `query`, as
/// (score bits, id), ties by id.
fn brute_force(
    points: &[PointWrite],
    deleted: &[PointId],
    query: &SparseVector,
    top: usize,
    even_only: bool,
) -> Vec<(u32, PointId)> {
    best_of(points, deleted, top, even_only, |p| {
        let (_, Vector::Sparse(v)) = p.vectors.iter().find(|(n, _)| n == "s")? else {
            return None;
        };
        query.dot(v.indices(), v.values())
    })
}

/// Best `top` of the points not in `deleted` (with an even `k` if `even_only`) that `score`
/// scores, as (score bits, id), ties by id.
fn best_of(
    points: &[PointWrite],
    deleted: &[PointId],
    top: usize,
    even_only: bool,
    score: impl Fn(&PointWrite) -> Option<f32>,
) -> Vec<(u32, PointId)> {
    let mut hits: Vec<(f32, PointId)> = points
        .iter()
        .filter(|p| !deleted.contains(&p.id))
        .filter(|p| {
            let k = p
                .payload
                .as_ref()
                .and_then(|m| m["k"].as_u64())
                .unwrap_or(1);
            !even_only || k % 2 == 0
        })
        .filter_map(|p| Some((score(p)?, p.id)))
        .collect();
    hits.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    hits.into_iter()
        .take(top)
        .map(|(s, id)| (s.to_bits(), id))
        .collect()
}

#[test]
fn idf_by_hand() {
    // N = 4, n = 1: ln(1 + 3.5 / 1.5) = ln(10/3).
    assert!((idf(4, 1) - (10.0f32 / 3.0).ln()).abs() < 1e-6);
    // An index every point has still weighs a little: ln(1 + 0.5 / 4.5).
    assert!((idf(4, 4) - (1.0f32 + 0.5 / 4.5).ln()).abs() < 1e-6);
    let mut q = SparseVector::new(vec![3, 1], vec![2.0, 1.0]).expect("q");
    weight_query(
        &mut q,
        &SparseStats {
            points: 4,
            with_index: vec![1, 4],
        },
    );
    assert!((q.values()[0] - (10.0f32 / 3.0).ln()).abs() < 1e-6);
    assert!((q.values()[1] - 2.0 * (1.0f32 + 0.5 / 4.5).ln()).abs() < 1e-6);
}

#[test]
fn segment_postings_equal_brute_force_with_filters_and_deletions() {
    let mut rng = Rng(0x5eed);
    for round in 0..20 {
        let pts = points(&mut rng, 60 + round * 7);
        let mut b = SegmentBuilder::new(&schema()).expect("builder");
        // Pushed out of id order, so the builder permutes the sparse column.
        for (i, p) in pts.iter().enumerate() {
            b.push_point(p, i as u64).expect("push");
        }
        let mut seg = Segment::from_bytes("mem", b.finish().expect("finish")).expect("open");
        let mut deleted = Vec::new();
        for p in pts.iter().filter(|_| rng.below(5) == 0) {
            assert!(seg.delete(p.id));
            deleted.push(p.id);
        }
        // Every stored sparse vector reads back as written.
        for p in &pts {
            let slot = seg.slot_of(p.id).expect("slot");
            let want = p.vectors.iter().find(|(n, _)| n == "s").map(|(_, v)| v);
            let got = seg
                .sparse_vector(0, slot)
                .map(|(i, v)| Vector::Sparse(SparseVector::from_sorted(i.to_vec(), v.to_vec())));
            assert_eq!(got.as_ref(), want);
        }
        for _ in 0..10 {
            let query = rng.sparse(40, 5);
            let top = 1 + rng.below(12) as usize;
            let filter = even_k();
            for with_filter in [false, true] {
                let f = with_filter.then_some(&filter);
                let mut heap = TopK::new(top);
                seg.search_sparse_into("s", &query, &params(top, f), &mut heap, |s| s);
                let got: Vec<(u32, PointId)> = heap
                    .into_sorted()
                    .into_iter()
                    .map(|(s, id, _)| (s.to_bits(), id))
                    .collect();
                assert_eq!(
                    got,
                    brute_force(&pts, &deleted, &query, top, with_filter),
                    "round {round}"
                );
            }
            // idf counts: live points with the vector, and with each index.
            let stats = seg.sparse_stats("s", query.indices());
            let live: Vec<&SparseVector> = pts
                .iter()
                .filter(|p| !deleted.contains(&p.id))
                .filter_map(|p| match p.vectors.iter().find(|(n, _)| n == "s") {
                    Some((_, Vector::Sparse(v))) => Some(v),
                    _ => None,
                })
                .collect();
            assert_eq!(stats.points, live.len() as u64);
            for (k, i) in query.indices().iter().enumerate() {
                let n = live.iter().filter(|v| v.indices().contains(i)).count();
                assert_eq!(stats.with_index[k], n as u64);
            }
        }
    }
}

#[test]
fn sparse_dot_of_disjoint_vectors_is_no_hit() {
    assert_eq!(sparse_dot(&[1, 2], &[1.0, 1.0], &[3], &[1.0]), None);
}

const DIR: &str = "/sparse-shard";

fn options() -> ShardOptions {
    ShardOptions {
        flush_points: usize::MAX,
        flush_wal_records: u64::MAX,
        flush_chunk_points: 5,
        ..ShardOptions::default()
    }
}

fn all(shard: &Shard<MemStorage>) -> Vec<Record> {
    shard.scroll(
        None,
        usize::MAX,
        None,
        &PayloadSelector::All,
        &VectorSelector::All,
    )
}

fn shard_hits(
    shard: &Shard<MemStorage>,
    query: &SparseVector,
    top: usize,
    f: Option<&Filter>,
) -> Vec<(u32, PointId)> {
    shard
        .search_sparse(
            "s",
            query,
            &params(top, f),
            &PayloadSelector::None,
            &VectorSelector::None,
        )
        .expect("search")
        .into_iter()
        .map(|(s, r)| (s.to_bits(), r.id))
        .collect()
}

/// Sparse vectors live in the mutable part, in flushed segments, in a merged segment and
/// after a restart; search over all of them equals brute force; `has_vector` sees them.
#[test]
fn shard_keeps_sparse_vectors_through_flush_merge_and_restart() {
    block_on(async {
        let fs = MemStorage::new(1);
        let mut rng = Rng(42);
        let pts = points(&mut rng, 90);
        let shard = Shard::open(&fs, Path::new(DIR), schema(), options())
            .await
            .expect("open");
        for chunk in pts.chunks(30) {
            shard
                .write(WriteOp::Upsert(chunk.to_vec()))
                .expect("upsert");
            assert!(shard.flush().await.expect("flush"));
        }
        let deleted = vec![pts[4].id, pts[40].id, pts[80].id];
        shard
            .write(WriteOp::Delete(deleted.clone()))
            .expect("delete");
        // One point's sparse vector removed, another's replaced (in the mutable part).
        shard
            .write(WriteOp::DeleteVectors {
                ids: vec![pts[1].id],
                names: vec!["s".into()],
            })
            .expect("delete vectors");
        let replaced = SparseVector::new(vec![0, 39], vec![1.0, -1.0]).expect("v");
        shard
            .write(WriteOp::UpdateVectors(vec![(
                pts[2].id,
                vec![("s".into(), replaced.clone().into())],
            )]))
            .expect("update vectors");
        let mut model = pts.clone();
        model[1].vectors.retain(|(n, _)| n != "s");
        model[2].vectors.retain(|(n, _)| n != "s");
        model[2].vectors.push(("s".into(), replaced.into()));

        let check = |shard: &Shard<MemStorage>, rng: &mut Rng, model: &[PointWrite]| {
            for _ in 0..15 {
                let q = rng.sparse(40, 5);
                let filter = even_k();
                assert_eq!(
                    shard_hits(shard, &q, 10, None),
                    brute_force(model, &deleted, &q, 10, false)
                );
                assert_eq!(
                    shard_hits(shard, &q, 10, Some(&filter)),
                    brute_force(model, &deleted, &q, 10, true)
                );
            }
            let with_sparse: Filter =
                serde_json::from_value(json!({"must": [{"has_vector": "s"}]})).expect("filter");
            let want = model
                .iter()
                .filter(|p| !deleted.contains(&p.id))
                .filter(|p| p.vectors.iter().any(|(n, _)| n == "s"))
                .count();
            assert_eq!(shard.count(Some(&with_sparse)), want);
            for r in all(shard) {
                let p = model.iter().find(|p| p.id == r.id).expect("known");
                let mut got = r.vectors.clone().unwrap_or_default();
                let mut want = p.vectors.clone();
                got.sort_by(|a, b| a.0.cmp(&b.0));
                want.sort_by(|a, b| a.0.cmp(&b.0));
                assert_eq!(got, want, "point {}", r.id);
            }
        };
        check(&shard, &mut rng, &model);
        assert!(shard.flush().await.expect("flush"));
        shard.set_optimizer_options(OptimizerOptions {
            default_segment_number: 1,
            vacuum_min_points: usize::MAX,
            ..OptimizerOptions::default()
        });
        while shard.optimize().await.expect("optimize") {}
        check(&shard, &mut rng, &model);
        drop(shard);
        let reopened = Shard::open(&fs, Path::new(DIR), schema(), options())
            .await
            .expect("reopen");
        check(&reopened, &mut rng, &model);
        // Sparse writes that only reached the log replay at the next open.
        let late = PointWrite {
            id: PointId::Num(5000),
            vectors: vec![(
                "s".into(),
                SparseVector::new(vec![7], vec![2.0]).expect("v").into(),
            )],
            payload: Some(payload(0)),
        };
        let lsn = reopened
            .write(WriteOp::Upsert(vec![late.clone()]))
            .expect("upsert");
        reopened.sync_to(lsn).await.expect("sync");
        drop(reopened);
        model.push(late);
        let replayed = Shard::open(&fs, Path::new(DIR), schema(), options())
            .await
            .expect("replay");
        check(&replayed, &mut rng, &model);
    });
}

// Multivectors go through the same parts (mutable, segments, merges, restart); their
// columns are scanned with max_sim.

fn multi_schema() -> ShardSchema {
    ShardSchema {
        vectors: Vec::new(),
        sparse: Vec::new(),
        multi: vec![
            MultiSpec {
                name: "m".into(),
                dim: 2,
                distance: Distance::Dot,
            },
            MultiSpec {
                name: "c".into(),
                dim: 2,
                distance: Distance::Cosine,
            },
        ],
    }
}

fn multi_points(rng: &mut Rng, count: u64) -> Vec<PointWrite> {
    (0..count)
        .map(|i| {
            let rows = 1 + rng.below(3) as usize;
            let data: Vec<f32> = (0..rows * 2)
                .map(|_| (rng.below(200) as f32 - 100.0) / 10.0)
                .collect();
            let mut vectors = vec![("c".to_owned(), Vector::Dense(vec![3.0, 4.0]))];
            if i % 4 != 0 {
                vectors.push((
                    "m".to_owned(),
                    Vector::Multi(MultiVector::new(2, data).expect("rows")),
                ));
            }
            PointWrite {
                id: PointId::Num(i * 613 % 1009),
                vectors,
                payload: Some(payload(i % 4)),
            }
        })
        .collect()
}

fn multi_hits(
    shard: &Shard<MemStorage>,
    q: &MultiVector,
    f: Option<&Filter>,
) -> Vec<(u32, PointId)> {
    shard
        .search_multi(
            "m",
            q,
            &params(7, f),
            &PayloadSelector::None,
            &VectorSelector::None,
        )
        .expect("search")
        .into_iter()
        .map(|(s, r)| (s.to_bits(), r.id))
        .collect()
}

fn multi_brute(points: &[PointWrite], q: &MultiVector, even_only: bool) -> Vec<(u32, PointId)> {
    best_of(points, &[], 7, even_only, |p| {
        let (_, Vector::Multi(v)) = p.vectors.iter().find(|(n, _)| n == "m")? else {
            return None;
        };
        Some(max_sim(Metric(Distance::Dot), q, v.data()))
    })
}

#[test]
fn shard_keeps_multivectors_through_flush_merge_and_restart() {
    block_on(async {
        let fs = MemStorage::new(1);
        let mut rng = Rng(7);
        let pts = multi_points(&mut rng, 60);
        let shard = Shard::open(&fs, Path::new("/multi"), multi_schema(), options())
            .await
            .expect("open");
        for chunk in pts.chunks(25) {
            shard
                .write(WriteOp::Upsert(chunk.to_vec()))
                .expect("upsert");
            assert!(shard.flush().await.expect("flush"));
        }
        // The dense vector given for the Cosine multivector space is one normalized row.
        let mut model = pts.clone();
        for p in &mut model {
            for (n, v) in p.vectors.iter_mut() {
                if n == "c" {
                    *v = Vector::Multi(MultiVector::new(2, vec![0.6, 0.8]).expect("row"));
                }
            }
        }
        let check = |shard: &Shard<MemStorage>, rng: &mut Rng| {
            for _ in 0..10 {
                let rows = 1 + rng.below(2) as usize;
                let q = MultiVector::new(
                    2,
                    (0..rows * 2).map(|_| rng.below(20) as f32 - 10.0).collect(),
                )
                .expect("q");
                let filter = even_k();
                assert_eq!(multi_hits(shard, &q, None), multi_brute(&model, &q, false));
                assert_eq!(
                    multi_hits(shard, &q, Some(&filter)),
                    multi_brute(&model, &q, true)
                );
            }
            for r in all(shard) {
                let p = model.iter().find(|p| p.id == r.id).expect("known");
                let mut got = r.vectors.clone().unwrap_or_default();
                let mut want = p.vectors.clone();
                got.sort_by(|a, b| a.0.cmp(&b.0));
                want.sort_by(|a, b| a.0.cmp(&b.0));
                assert_eq!(got, want, "point {}", r.id);
            }
        };
        check(&shard, &mut rng);
        shard.set_optimizer_options(OptimizerOptions {
            default_segment_number: 1,
            vacuum_min_points: usize::MAX,
            ..OptimizerOptions::default()
        });
        while shard.optimize().await.expect("optimize") {}
        check(&shard, &mut rng);
        drop(shard);
        let reopened = Shard::open(&fs, Path::new("/multi"), multi_schema(), options())
            .await
            .expect("reopen");
        check(&reopened, &mut rng);
    });
}

/// Points of the timing run below, indices per point, vocabulary and query sizes: roughly a
/// SPLADE-like corpus (tens of non-zeros over a vocabulary of tens of thousands).
const BENCH_POINTS: u64 = 100_000;
const BENCH_NNZ: u64 = 40;
const BENCH_VOCAB: u64 = 30_000;
const BENCH_QUERIES: usize = 200;

/// Timing of the inverted index against a scan over one segment (release build):
/// `cargo test --release -p vexfs-shard sparse_postings_timing -- --ignored --nocapture`.
#[test]
#[ignore]
#[allow(clippy::disallowed_methods)] // wall-clock timing is the point of this test
fn sparse_postings_timing() {
    let mut rng = Rng(99);
    let mut b = SegmentBuilder::with_capacity(&schema(), BENCH_POINTS as usize).expect("b");
    let mut stored = Vec::with_capacity(BENCH_POINTS as usize);
    for i in 0..BENCH_POINTS {
        let v = rng.sparse(BENCH_VOCAB, BENCH_NNZ * 2);
        b.push(
            PointId::Num(i),
            1,
            [("s", VectorRef::Sparse(v.indices(), v.values()))],
            None,
        )
        .expect("push");
        stored.push(v);
    }
    let started = std::time::Instant::now();
    let seg = Segment::from_bytes("mem", b.finish().expect("finish")).expect("open");
    let build = started.elapsed();
    let queries: Vec<SparseVector> = (0..BENCH_QUERIES)
        .map(|_| rng.sparse(BENCH_VOCAB, 20))
        .collect();
    let started = std::time::Instant::now();
    let mut found = 0usize;
    for q in &queries {
        let mut heap = TopK::new(10);
        seg.search_sparse_into("s", q, &params(10, None), &mut heap, |s| s);
        found += heap.into_sorted().len();
    }
    let postings = started.elapsed();
    let started = std::time::Instant::now();
    let mut scanned = 0usize;
    for q in &queries {
        let mut heap = TopK::new(10);
        for (i, v) in stored.iter().enumerate() {
            if let Some(s) = q.dot(v.indices(), v.values()) {
                heap.push(s, PointId::Num(i as u64), ());
            }
        }
        scanned += heap.into_sorted().len();
    }
    let scan = started.elapsed();
    assert_eq!(found, scanned);
    println!(
        "{BENCH_POINTS} points, ~{BENCH_NNZ} nnz, vocab {BENCH_VOCAB}: finish+open {build:?}; \
         {BENCH_QUERIES} queries: postings {:.0} q/s, scan {:.0} q/s",
        BENCH_QUERIES as f64 / postings.as_secs_f64(),
        BENCH_QUERIES as f64 / scan.as_secs_f64()
    );
}

/// The mutable store's live inverted index against its own scan, through random upserts,
/// overwrites, vector removals and deletions (slots are recycled).
#[test]
fn mutable_postings_equal_the_scan_through_rewrites() {
    use crate::store::PointStore;
    let mut rng = Rng(2024);
    let mut store = PointStore::new(schema());
    for step in 0..3000u64 {
        let id = PointId::Num(rng.below(300));
        let op = match rng.below(10) {
            0 => WriteOp::Delete(vec![id]),
            1 if store.contains(id) => WriteOp::DeleteVectors {
                ids: vec![id],
                names: vec!["s".into()],
            },
            _ => WriteOp::Upsert(vec![PointWrite {
                id,
                vectors: vec![("s".into(), Vector::Sparse(rng.sparse(25, 6)))],
                payload: Some(payload(rng.below(4))),
            }]),
        };
        store.apply(op, step);
        if step % 50 != 0 {
            continue;
        }
        let q = rng.sparse(25, 4);
        let filter = even_k();
        for f in [None, Some(&filter)] {
            let mut via_postings = TopK::new(20);
            store
                .search_sparse_postings_into(
                    "s",
                    &q,
                    &params(20, f),
                    &mut via_postings,
                    |_| false,
                    |s| s,
                )
                .expect("postings");
            let mut via_scan = TopK::new(20);
            store
                .search_sparse_into(
                    "s",
                    |i, v| q.dot(i, v),
                    &params(20, f),
                    &mut via_scan,
                    |_| false,
                    |s| s,
                )
                .expect("scan");
            let bits = |t: TopK<u32>| -> Vec<(u32, PointId)> {
                t.into_sorted()
                    .into_iter()
                    .map(|(s, id, _)| (s.to_bits(), id))
                    .collect()
            };
            assert_eq!(bits(via_postings), bits(via_scan), "step {step}");
        }
        let stats = store.sparse_stats("s", q.indices(), |_| false);
        let live: Vec<SparseVector> = store
            .scroll(
                None,
                usize::MAX,
                None,
                &PayloadSelector::None,
                &VectorSelector::All,
            )
            .into_iter()
            .filter_map(
                |r| match r.vectors?.into_iter().find(|(n, _)| n == "s")?.1 {
                    Vector::Sparse(v) => Some(v),
                    _ => None,
                },
            )
            .collect();
        assert_eq!(stats.points, live.len() as u64);
        for (k, i) in q.indices().iter().enumerate() {
            let n = live.iter().filter(|v| v.indices().contains(i)).count() as u64;
            assert_eq!(stats.with_index[k], n, "step {step}");
        }
    }
}
