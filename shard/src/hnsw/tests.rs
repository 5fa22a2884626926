//! Graph quality against brute force, filtered traversal, the file round trip and refusal of
//! damaged files.

use std::path::Path;

use futures_lite::future::block_on;
use vexfs_io::mem::MemStorage;
use vexfs_io::Storage;

use super::*;
use crate::distance::Metric;
use crate::point_id::PointId;
use crate::schema::Distance;
use crate::score::{Nearest, Objective, Scorer};
use crate::segment::{Segment, SegmentBuilder};
use crate::test_support::unnamed_schema;

const POINTS: usize = 5_000;
const DIM: usize = 32;
const QUERIES: usize = 100;
const K: usize = 10;
/// Beam width the recall floor is stated for.
const RECALL_EF: usize = 64;
/// Floor of recall@10 at [`RECALL_EF`] over [`QUERIES`] queries (measured: see the test's
/// output, about 0.99 with M = 16, ef_construct = 100).
const RECALL_FLOOR: f64 = 0.95;
const CONFIG: HnswConfig = HnswConfig {
    m: 16,
    ef_construct: 100,
};

/// Deterministic floats in [-1, 1).
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    fn vector(&mut self, metric: Metric) -> Vec<f32> {
        let mut v: Vec<f32> = (0..DIM).map(|_| self.next()).collect();
        metric.preprocess(&mut v);
        v
    }
}

fn segment(distance: Distance, points: usize) -> Segment {
    segment_at(distance, points, 0)
}

/// A segment holding the writes up to `lsn`.
fn segment_at(distance: Distance, points: usize, lsn: u64) -> Segment {
    let schema = unnamed_schema(DIM, distance);
    let metric = Metric(distance);
    let mut g = Gen(7);
    let mut b = SegmentBuilder::new(&schema).unwrap();
    for i in 0..points {
        let v = g.vector(metric);
        // Every 50th point has no vector: it must never be returned.
        let vectors: Vec<(&str, &[f32])> = if i % 50 == 49 { vec![] } else { vec![("", &v)] };
        b.push(PointId::Num(i as u64), 1, vectors, None).unwrap();
    }
    b.set_flushed_lsn(lsn);
    Segment::from_bytes("test.seg", b.finish().unwrap()).unwrap()
}

fn build(seg: &Segment, config: HnswConfig) -> HnswBytes {
    let info = &seg.columns()[0];
    let (data, _) = seg.column_data(0).unwrap();
    let mut b = HnswBuilder::new("", info.dim, info.distance, config, seg.len()).unwrap();
    for slot in 0..seg.len() as u32 {
        if seg.has_vector(0, slot) {
            assert!(b.insert(data, slot));
        }
    }
    let mut f = HnswFileBuilder::new(seg);
    f.add(b).unwrap();
    f.finish().unwrap()
}

fn brute<S: Scorer>(seg: &Segment, scorer: &S, k: usize, accept: impl Fn(u32) -> bool) -> Vec<u32> {
    let metric = Metric(seg.columns()[0].distance);
    let mut all: Vec<(f32, u32)> = (0..seg.len() as u32)
        .filter(|&s| seg.has_vector(0, s) && accept(s))
        .map(|s| (scorer.score(metric, seg.vector(0, s).unwrap()), s))
        .collect();
    all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    all.into_iter().take(k).map(|(_, s)| s).collect()
}

fn recall(found: &[u32], truth: &[u32]) -> usize {
    truth.iter().filter(|t| found.contains(t)).count()
}

#[test]
fn recall_at_10_beats_the_floor_for_every_metric() {
    for distance in [Distance::Cosine, Distance::Euclid, Distance::Dot] {
        let seg = segment(distance, POINTS);
        let index = HnswIndex::from_bytes("test.seg.hnsw", build(&seg, CONFIG)).unwrap();
        let graph = index.graph("").unwrap();
        assert_eq!(graph.indexed(), POINTS - POINTS / 50);
        let (data, _) = seg.column_data(0).unwrap();
        let mut g = Gen(99);
        let mut hits = 0;
        for _ in 0..QUERIES {
            let q = g.vector(Metric(distance));
            let truth = brute(&seg, &Nearest(&q), K, |_| true);
            let found: Vec<u32> = graph
                .search(data, &Nearest(&q), RECALL_EF, |s| seg.has_vector(0, s))
                .into_iter()
                .take(K)
                .map(|(_, s)| s)
                .collect();
            assert!(found.iter().all(|&s| seg.has_vector(0, s)));
            hits += recall(&found, &truth);
        }
        let r = hits as f64 / (QUERIES * K) as f64;
        println!("{distance:?}: recall@{K} at ef {RECALL_EF} = {r:.4}");
        assert!(
            r >= RECALL_FLOOR,
            "{distance:?}: recall {r} below {RECALL_FLOOR}"
        );
    }
}

#[test]
fn objectives_traverse_the_graph_too() {
    let seg = segment(Distance::Cosine, POINTS);
    let index = HnswIndex::from_bytes("t", build(&seg, CONFIG)).unwrap();
    let graph = index.graph("").unwrap();
    let (data, _) = seg.column_data(0).unwrap();
    let mut g = Gen(5);
    let mut hits = 0;
    let rounds = 20;
    for _ in 0..rounds {
        let metric = Metric(Distance::Cosine);
        let obj = Objective::BestScore {
            positive: vec![g.vector(metric), g.vector(metric)],
            negative: vec![g.vector(metric)],
        };
        let truth = brute(&seg, &obj, K, |_| true);
        let found: Vec<u32> = graph
            .search(data, &obj, 128, |_| true)
            .into_iter()
            .take(K)
            .map(|(_, s)| s)
            .collect();
        hits += recall(&found, &truth);
    }
    let r = hits as f64 / (rounds * K) as f64;
    println!("best_score recall@{K} at ef 128 = {r:.4}");
    assert!(r >= 0.8, "objective recall {r}");
}

#[test]
fn filtered_traversal_returns_only_accepted_slots() {
    let seg = segment(Distance::Cosine, POINTS);
    let index = HnswIndex::from_bytes("t", build(&seg, CONFIG)).unwrap();
    let graph = index.graph("").unwrap();
    let (data, _) = seg.column_data(0).unwrap();
    let mut g = Gen(3);
    // One in 7 accepted (a 14% filter): the walk must cross rejected nodes to find them.
    let accept = |s: u32| s % 7 == 3 && seg.has_vector(0, s);
    let mut hits = 0;
    for _ in 0..QUERIES {
        let q = g.vector(Metric(Distance::Cosine));
        let found: Vec<u32> = graph
            .search(data, &Nearest(&q), RECALL_EF, accept)
            .into_iter()
            .take(K)
            .map(|(_, s)| s)
            .collect();
        assert_eq!(found.len(), K);
        assert!(found.iter().all(|&s| accept(s)), "{found:?}");
        hits += recall(&found, &brute(&seg, &Nearest(&q), K, accept));
    }
    let r = hits as f64 / (QUERIES * K) as f64;
    println!("filtered recall@{K} at ef {RECALL_EF} = {r:.4}");
    assert!(r >= 0.9, "filtered recall {r}");
}

#[test]
fn round_trip_through_storage_gives_identical_results() {
    let seg = segment(Distance::Euclid, 2_000);
    let bytes = build(&seg, CONFIG);
    // Deterministic: the same points build the same file.
    assert_eq!(bytes.as_bytes(), build(&seg, CONFIG).as_bytes());
    let storage = MemStorage::new(1);
    let dir = Path::new("/shard");
    let on_disk = block_on(async {
        storage.create_dir_all(dir).await.unwrap();
        write_index(&storage, dir, &index_file_name("seg-1.seg"), &bytes)
            .await
            .unwrap();
        HnswIndex::open(&storage, &dir.join("seg-1.seg.hnsw"))
            .await
            .unwrap()
            .unwrap()
    });
    let missing = block_on(HnswIndex::open(&storage, &dir.join("nope.hnsw"))).unwrap();
    assert!(missing.is_none());
    on_disk.check_segment(&seg).unwrap();
    let fresh = HnswIndex::from_bytes("fresh", bytes).unwrap();
    let (data, _) = seg.column_data(0).unwrap();
    let mut g = Gen(11);
    for _ in 0..20 {
        let q = g.vector(Metric(Distance::Euclid));
        let a = fresh
            .graph("")
            .unwrap()
            .search(data, &Nearest(&q), 32, |_| true);
        let b = on_disk
            .graph("")
            .unwrap()
            .search(data, &Nearest(&q), 32, |_| true);
        assert_eq!(a, b);
        assert!(!a.is_empty());
    }
}

#[test]
fn damaged_files_are_refused_with_a_clear_error() {
    let seg = segment(Distance::Cosine, 500);
    let bytes = build(&seg, CONFIG);
    let good = bytes.as_bytes().to_vec();
    HnswIndex::from_slice("ok", &good).unwrap();

    let refuse = |b: &[u8], expect: &str| {
        let err = HnswIndex::from_slice("x.hnsw", b).unwrap_err().to_string();
        assert!(err.contains("x.hnsw") && err.contains(expect), "{err}");
    };
    let mut flipped = good.clone();
    flipped[200] ^= 0x40;
    refuse(&flipped, "body checksum mismatch");
    let mut header = good.clone();
    header[20] ^= 1;
    refuse(&header, "header checksum mismatch");
    refuse(&good[..good.len() - 4096], "truncated");
    refuse(&good[..10], "shorter than");
    let mut magic = good.clone();
    magic[0] = b'X';
    refuse(&magic, "bad magic");

    // Valid on its own, built for another segment: of another size, or of the same size
    // and shape but other contents (a replaced collection reusing the file name).
    let idx = HnswIndex::from_slice("x.hnsw", &good).unwrap();
    idx.check_segment(&seg).unwrap();
    for other in [
        segment(Distance::Cosine, 400),
        segment_at(Distance::Cosine, 500, 9),
    ] {
        let err = idx.check_segment(&other).unwrap_err().to_string();
        assert!(err.contains("does not match"), "{err}");
    }
}

#[test]
fn settings_follow_qdrant_thresholds() {
    let s = IndexSettings::default();
    // 10 000 KiB of 32-dim f32 vectors = 80 000 vectors.
    assert_eq!(vectors_in_kb(DEFAULT_INDEXING_THRESHOLD_KB, 32), 80_000);
    assert!(s.wants_graph("", 79_999, 32).is_none());
    assert_eq!(
        s.wants_graph("", 80_000, 32),
        Some(HnswConfig {
            m: 16,
            ef_construct: 100
        })
    );
    let off = IndexSettings {
        indexing_threshold_kb: 0,
        ..IndexSettings::default()
    };
    assert!(off.wants_graph("", 1_000_000, 32).is_none());
    let mut no_m = IndexSettings::default();
    no_m.columns.insert(
        "img".into(),
        ColumnIndexSettings {
            m: 0,
            ..ColumnIndexSettings::default()
        },
    );
    assert!(no_m.wants_graph("img", 1_000_000, 32).is_none());
    assert!(no_m.wants_graph("", 1_000_000, 32).is_some());
}

#[test]
fn plan_follows_exact_filter_cardinality_and_indexed_only() {
    let seg = segment(Distance::Cosine, 2_000);
    let index = HnswIndex::from_bytes("t", build(&seg, CONFIG)).unwrap();
    let q = vec![0.0; DIM];
    let params = |filter, exact, indexed_only, hnsw_ef| crate::store::SearchParams {
        vector_name: "",
        query: &q,
        top: 10,
        threshold: None,
        filter,
        hnsw_ef,
        exact,
        indexed_only,
        quantization: Default::default(),
    };
    // 1 KiB = 8 vectors of 32 floats.
    let settings = ColumnIndexSettings {
        full_scan_threshold_kb: 1,
        ..ColumnIndexSettings::default()
    };
    let all = crate::payload_index::Candidates::All;
    let p = |par: &crate::store::SearchParams<'_>, idx: Option<&HnswIndex>| {
        plan(&seg, idx, par, &settings, &all)
    };
    assert_eq!(
        p(&params(None, false, false, None), Some(&index)),
        SegmentPlan::Graph { ef: 100 }
    );
    assert_eq!(
        p(&params(None, false, false, Some(5)), Some(&index)),
        SegmentPlan::Graph { ef: 10 }
    );
    assert_eq!(
        p(&params(None, true, false, None), Some(&index)),
        SegmentPlan::Exact
    );
    assert_eq!(
        p(&params(None, false, false, None), None),
        SegmentPlan::Exact
    );
    assert_eq!(p(&params(None, false, true, None), None), SegmentPlan::Skip);
    // A rare filter (a few ids) scans; a broad one (every id below 1000) walks the graph.
    let rare: crate::filter::Filter =
        serde_json::from_value(serde_json::json!({"must": [{"has_id": [1, 2, 3]}]})).unwrap();
    assert_eq!(
        p(&params(Some(&rare), false, false, None), Some(&index)),
        SegmentPlan::Exact
    );
    let broad: crate::filter::Filter =
        serde_json::from_value(serde_json::json!({"must_not": [{"has_id": [1, 2, 3]}]})).unwrap();
    let estimate = estimate_matching(&seg, 0, Some(&broad));
    assert!((1_900..=2_000).contains(&estimate), "{estimate}");
    assert_eq!(
        p(&params(Some(&broad), false, false, None), Some(&index)),
        SegmentPlan::Graph { ef: 100 }
    );
    // With a payload index, its candidates are the cardinality: few are scanned alone (even
    // for a filter the sample would call broad), many walk the graph.
    let few = crate::payload_index::Candidates::Slots(vec![4, 9]);
    assert_eq!(
        plan(
            &seg,
            Some(&index),
            &params(Some(&broad), false, false, None),
            &settings,
            &few
        ),
        SegmentPlan::ExactSlots(vec![4, 9])
    );
    let many = crate::payload_index::Candidates::Slots((0..1_000).collect());
    assert_eq!(
        plan(
            &seg,
            Some(&index),
            &params(Some(&rare), false, false, None),
            &settings,
            &many
        ),
        SegmentPlan::Graph { ef: 100 }
    );
    assert_eq!(
        plan(
            &seg,
            Some(&index),
            &params(None, true, false, None),
            &settings,
            &few
        ),
        SegmentPlan::ExactSlots(vec![4, 9])
    );
}
