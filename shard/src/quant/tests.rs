//! Codes round trip through their file, damaged files are refused, builds are deterministic,
//! and quantized search with rescoring finds the exact top 10 on an easy set (scan and graph
//! paths), never returning a point a filter rejects.

use serde_json::json;

use super::*;
use crate::distance::Metric;
use crate::filter::Filter;
use crate::hnsw::{
    search_segment, ColumnIndexSettings, HnswBuilder, HnswConfig, HnswFileBuilder, HnswIndex,
};
use crate::point_id::PointId;
use crate::schema::Distance;
use crate::score::Nearest;
use crate::segment::{Segment, SegmentBuilder};
use crate::store::SearchParams;
use crate::test_support::unnamed_schema;
use crate::topk::TopK;

const POINTS: usize = 2_000;
const DIM: usize = 64;
const QUERIES: usize = 20;
const K: usize = 10;

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

    /// A point of the easy set: one of [`CLUSTERS`] fixed centres plus small noise.
    fn vector(&mut self, metric: Metric) -> Vec<f32> {
        let c = ((self.next() + 1.0) * 0.5 * CLUSTERS as f32) as u64 % CLUSTERS;
        let mut centre = Gen(1_000 + c);
        let mut v: Vec<f32> = (0..DIM)
            .map(|_| centre.next() + NOISE * self.next())
            .collect();
        metric.preprocess(&mut v);
        v
    }
}

/// Clusters of the easy set (about 20 points each), and the noise around their centres.
const CLUSTERS: u64 = 100;
const NOISE: f32 = 0.3;

/// Points with payload `{"even": bool}`; every 50th has no vector.
fn segment(distance: Distance) -> Segment {
    let schema = unnamed_schema(DIM, distance);
    let metric = Metric(distance);
    let mut g = Gen(11);
    let mut b = SegmentBuilder::new(&schema).unwrap();
    for i in 0..POINTS {
        let v = g.vector(metric);
        let vectors: Vec<(&str, &[f32])> = if i % 50 == 49 { vec![] } else { vec![("", &v)] };
        let payload = json!({"even": i % 2 == 0});
        let payload = payload.as_object().unwrap().clone();
        b.push(PointId::Num(i as u64), 1, vectors, Some(&payload))
            .unwrap();
    }
    Segment::from_bytes("test.seg", b.finish().unwrap()).unwrap()
}

fn build(seg: &Segment, config: QuantConfig) -> QuantBytes {
    let info = &seg.columns()[0];
    let mut b = ColumnCodesBuilder::new("", info.dim, info.distance, config, seg.len()).unwrap();
    let sample: Vec<f32> = sample_slots(seg, 0)
        .into_iter()
        .flat_map(|s| seg.vector(0, s).unwrap().to_vec())
        .collect();
    for step in 0..b.train_steps() {
        b.train(&sample, step);
    }
    for s in 0..seg.len() as u32 {
        if let Some(v) = seg.vector(0, s) {
            b.encode(s, v);
        }
    }
    let mut f = QuantFileBuilder::new(seg);
    f.add(b).unwrap();
    f.finish().unwrap()
}

const SCALAR: QuantConfig = QuantConfig::Scalar { quantile: 0.99 };
const PRODUCT: QuantConfig = QuantConfig::Product {
    compression: Compression::X8,
};
const ALL: [QuantConfig; 3] = [SCALAR, QuantConfig::Binary, PRODUCT];

#[test]
fn file_round_trips_and_builds_are_deterministic() {
    let seg = segment(Distance::Cosine);
    for config in ALL {
        let a = build(&seg, config);
        let b = build(&seg, config);
        assert_eq!(
            a.as_bytes(),
            b.as_bytes(),
            "{config:?}: same input, same bytes"
        );
        let q = QuantIndex::from_slice("t.quant", a.as_bytes()).unwrap();
        q.check_segment(&seg).unwrap();
        assert_eq!(q.configs().collect::<Vec<_>>(), vec![("", config)]);
        assert!(q.quantized_bytes() < seg.len() * DIM * 4);
        let col = q.column("").unwrap();
        let query = col.prepare(seg.vector(0, 3).unwrap());
        assert!(col.score(&query, 3).is_some());
        assert!(col.score(&query, seg.len() as u32).is_none());
    }
}

#[test]
fn damaged_files_are_refused() {
    let seg = segment(Distance::Dot);
    let bytes = build(&seg, SCALAR);
    let good = bytes.as_bytes();
    for at in [3, 20, 70, good.len() / 2] {
        let mut bad = good.to_vec();
        bad[at] ^= 0x40;
        assert!(
            QuantIndex::from_slice("t.quant", &bad).is_err(),
            "flipped byte {at} accepted"
        );
    }
    assert!(QuantIndex::from_slice("t.quant", &good[..good.len() - 4096]).is_err());
    let other = segment(Distance::Euclid);
    let q = QuantIndex::from_slice("t.quant", good).unwrap();
    assert!(q.check_segment(&other).is_err(), "another column shape");
}

fn exact_top(seg: &Segment, q: &[f32], filter: Option<&Filter>) -> Vec<(f32, PointId)> {
    let params = params(q, filter, QuantSearch::default(), true);
    run(seg, None, None, &params)
}

fn params<'a>(
    q: &'a [f32],
    filter: Option<&'a Filter>,
    quantization: QuantSearch,
    exact: bool,
) -> SearchParams<'a> {
    SearchParams {
        vector_name: "",
        query: q,
        top: K,
        threshold: None,
        filter,
        hnsw_ef: Some(32),
        exact,
        indexed_only: false,
        quantization,
    }
}

fn run(
    seg: &Segment,
    graph: Option<&HnswIndex>,
    quant: Option<&QuantIndex>,
    params: &SearchParams<'_>,
) -> Vec<(f32, PointId)> {
    // Tiny full-scan threshold: the segment counts as large, so scans use the codes.
    let settings = ColumnIndexSettings {
        full_scan_threshold_kb: 1,
        ..ColumnIndexSettings::default()
    };
    let mut top = TopK::new(params.top);
    search_segment(
        seg,
        graph,
        quant,
        None,
        params,
        &settings,
        &Nearest(params.query),
        &mut top,
        |_| (),
    );
    top.into_sorted()
        .into_iter()
        .map(|(s, id, ())| (s, id))
        .collect()
}

fn graph(seg: &Segment) -> HnswIndex {
    let info = &seg.columns()[0];
    let config = HnswConfig {
        m: 16,
        ef_construct: 100,
    };
    let (data, _) = seg.column_data(0).unwrap();
    let mut b = HnswBuilder::new("", info.dim, info.distance, config, seg.len()).unwrap();
    for s in 0..seg.len() as u32 {
        if seg.has_vector(0, s) {
            b.insert(data, s);
        }
    }
    let mut f = HnswFileBuilder::new(seg);
    f.add(b).unwrap();
    HnswIndex::from_bytes("t.hnsw", f.finish().unwrap()).unwrap()
}

/// Oversampling that finds the exact top 10 on the easy set, per config (sign codes rank
/// within a cluster coarsely, so binary needs a whole cluster's worth of candidates).
fn oversampling(config: QuantConfig) -> f64 {
    match config {
        QuantConfig::Scalar { .. } => 2.0,
        QuantConfig::Binary => 4.0,
        QuantConfig::Product { .. } => 4.0,
    }
}

#[test]
fn rescored_search_finds_the_exact_top_10() {
    for distance in [
        Distance::Cosine,
        Distance::Dot,
        Distance::Euclid,
        Distance::Manhattan,
    ] {
        let seg = segment(distance);
        let metric = Metric(distance);
        for config in ALL {
            // Product training is the slow part of a debug build: its tables differ per
            // metric only in the partial score, so two metrics cover it.
            if config == PRODUCT && matches!(distance, Distance::Dot | Distance::Euclid) {
                continue;
            }
            let quant = QuantIndex::from_bytes("t.quant", build(&seg, config)).unwrap();
            let mut g = Gen(99);
            for _ in 0..QUERIES {
                let q = g.vector(metric);
                let exact = exact_top(&seg, &q, None);
                let qs = QuantSearch {
                    oversampling: Some(oversampling(config)),
                    ..QuantSearch::default()
                };
                let got = run(&seg, None, Some(&quant), &params(&q, None, qs, false));
                assert_eq!(got, exact, "{distance:?} {config:?}: scan path");
            }
        }
    }
}

#[test]
fn graph_walk_with_codes_matches_the_plain_walk() {
    let seg = segment(Distance::Cosine);
    let index = graph(&seg);
    let metric = Metric(Distance::Cosine);
    for config in ALL {
        let quant = QuantIndex::from_bytes("t.quant", build(&seg, config)).unwrap();
        let mut g = Gen(5);
        let mut same = 0;
        for _ in 0..QUERIES {
            let q = g.vector(metric);
            let exact = exact_top(&seg, &q, None);
            let qs = QuantSearch {
                oversampling: Some(oversampling(config)),
                ..QuantSearch::default()
            };
            let got = run(
                &seg,
                Some(&index),
                Some(&quant),
                &params(&q, None, qs, false),
            );
            // Rescored: every reported score is the exact one of its point.
            for (s, id) in &got {
                let PointId::Num(n) = id else { panic!() };
                let v = seg.vector(0, *n as u32).unwrap();
                assert_eq!(*s, metric.score(&q, v));
            }
            same += got.iter().filter(|h| exact.contains(h)).count();
        }
        let recall = same as f64 / (QUERIES * K) as f64;
        assert!(recall >= 0.95, "{config:?}: graph recall {recall}");
    }
}

#[test]
fn filters_hold_and_rescore_false_reports_code_scores() {
    let seg = segment(Distance::Dot);
    let metric = Metric(Distance::Dot);
    let quant = QuantIndex::from_bytes("t.quant", build(&seg, SCALAR)).unwrap();
    let filter =
        Filter::from_value(json!({"must": [{"key": "even", "match": {"value": true}}]})).unwrap();
    let mut g = Gen(3);
    let mut overlap = 0;
    let mut differing_scores = 0;
    for _ in 0..QUERIES {
        let q = g.vector(metric);
        let exact = exact_top(&seg, &q, Some(&filter));
        let qs = QuantSearch {
            oversampling: Some(3.0),
            ..QuantSearch::default()
        };
        let got = run(
            &seg,
            None,
            Some(&quant),
            &params(&q, Some(&filter), qs, false),
        );
        assert_eq!(got, exact);
        let raw = QuantSearch {
            rescore: Some(false),
            ..QuantSearch::default()
        };
        let got = run(
            &seg,
            None,
            Some(&quant),
            &params(&q, Some(&filter), raw, false),
        );
        assert_eq!(got.len(), K);
        for (s, id) in &got {
            let PointId::Num(n) = id else { panic!() };
            assert_eq!(n % 2, 0, "filter rejected point {n} returned");
            let exact_score = metric.score(&q, seg.vector(0, *n as u32).unwrap());
            assert!(
                (s - exact_score).abs() < 0.02 * exact_score.abs().max(1.0),
                "estimate {s} vs {exact_score}"
            );
            if *s != exact_score {
                differing_scores += 1;
            }
        }
        let ids: Vec<PointId> = exact.iter().map(|h| h.1).collect();
        overlap += got.iter().filter(|h| ids.contains(&h.1)).count();
        // Ignored codes: exactly the plain search.
        let ignore = QuantSearch {
            ignore: true,
            ..QuantSearch::default()
        };
        assert_eq!(
            run(
                &seg,
                None,
                Some(&quant),
                &params(&q, Some(&filter), ignore, false)
            ),
            exact
        );
    }
    assert!(
        differing_scores > 0,
        "unrescored scores are the codes' estimates"
    );
    assert!(
        overlap * 10 >= QUERIES * K * 8,
        "unrescored overlap {overlap}"
    );
}
