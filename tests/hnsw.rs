//! HNSW graphs through the real binary: segments above the indexing threshold get a graph in
//! the background; searches use it by default (high recall against `exact: true`), filtered
//! searches return only matching points, `hnsw_ef` is honoured, and a restart loads the
//! index files instead of rebuilding them.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use common::{ok, Server};
use serde_json::{json, Value};

/// A segment every 1 000 points.
const CONFIG: &str = "[storage]\nsegment_flush_points = 1000\nwal_preallocate_bytes = 1048576\n";
const COLL: &str = "/collections/h";
const DIM: usize = 32;
const POINTS: u64 = 3_000;
const BATCH: u64 = 500;
/// Points in flushed segments at least (the last batch may still be in the mutable part).
const SEGMENT_POINTS_MIN: u64 = 2_000;
const INDEX_TIMEOUT: Duration = Duration::from_secs(120);
const QUERIES: u64 = 30;
const LIMIT: usize = 10;

fn vector(seed: u64) -> Vec<f32> {
    common::seeded_vector(seed, DIM)
}

fn ids(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|h| h["id"].as_u64().expect("id"))
        .collect()
}

fn search(s: &Server, q: &[f32], params: Value, filter: Option<Value>) -> Vec<u64> {
    let mut body = json!({"vector": q, "limit": LIMIT, "params": params});
    if let Some(f) = filter {
        body["filter"] = f;
    }
    ids(&ok(s, "POST", &format!("{COLL}/points/search"), body))
}

fn indexed(s: &Server) -> u64 {
    ok(s, "GET", COLL, Value::Null)["indexed_vectors_count"]
        .as_u64()
        .expect("indexed_vectors_count")
}

/// Index files and their modification times.
fn index_files(storage: &Path) -> BTreeMap<String, SystemTime> {
    let mut out = BTreeMap::new();
    let coll = storage.join("collections").join("h");
    for shard in std::fs::read_dir(coll).unwrap().flatten() {
        if !shard.path().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(shard.path()).unwrap().flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if name.ends_with(".hnsw") {
                let t = f.metadata().unwrap().modified().unwrap();
                out.insert(format!("{}/{name}", shard.file_name().to_string_lossy()), t);
            }
        }
    }
    out
}

/// Share of `exact`'s ids found in `got`, summed over queries.
fn overlap(got: &[u64], exact: &[u64]) -> usize {
    exact.iter().filter(|id| got.contains(id)).count()
}

#[test]
fn segments_get_graphs_searches_use_them_and_restart_keeps_them() {
    let mut s = Server::start_with_config(CONFIG);
    // 10 KiB of 32-dim vectors = 80 vectors: every segment is indexed. Filters matching
    // fewer than 80 points scan; broader ones walk the graph.
    ok(
        &s,
        "PUT",
        COLL,
        json!({
            "vectors": {"size": DIM, "distance": "Cosine"},
            "shard_number": 2,
            "hnsw_config": {"m": 16, "ef_construct": 64, "full_scan_threshold": 10},
            "optimizers_config": {"indexing_threshold": 10},
        }),
    );
    for b in 0..POINTS / BATCH {
        let points: Vec<Value> = (b * BATCH..(b + 1) * BATCH)
            .map(|i| json!({"id": i, "vector": vector(i), "payload": {"k": i % 10}}))
            .collect();
        ok(
            &s,
            "PUT",
            &format!("{COLL}/points?wait=true"),
            json!({ "points": points }),
        );
    }
    // Green once every segment has its graphs (yellow while some wait).
    let deadline = Instant::now() + INDEX_TIMEOUT;
    loop {
        let info = ok(&s, "GET", COLL, Value::Null);
        let count = info["indexed_vectors_count"].as_u64().unwrap_or(0);
        if info["status"] == "green" && count >= SEGMENT_POINTS_MIN {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not indexed: {info}; log:\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(s.log().contains("hnsw index built"), "{}", s.log());

    // Default params walk the graphs: high recall against the exact scan.
    let (mut hits, mut hits_wide) = (0, 0);
    for i in 0..QUERIES {
        let q = vector(1_000_000 + i);
        let exact = search(&s, &q, json!({"exact": true}), None);
        assert_eq!(exact.len(), LIMIT);
        let default = search(&s, &q, json!({}), None);
        assert_eq!(default.len(), LIMIT);
        hits += overlap(&default, &exact);
        hits_wide += overlap(&search(&s, &q, json!({"hnsw_ef": 256}), None), &exact);
        // A beam narrower than the limit is widened to it.
        assert_eq!(search(&s, &q, json!({"hnsw_ef": 1}), None).len(), LIMIT);
    }
    let total = (QUERIES as usize) * LIMIT;
    println!("recall@{LIMIT}: default ef {hits}/{total}, ef 256 {hits_wide}/{total}");
    assert!(hits * 100 >= total * 95, "default recall {hits}/{total}");
    assert!(
        hits_wide * 100 >= total * 98,
        "ef 256 recall {hits_wide}/{total}"
    );

    // A 10% filter (300 points, above the full-scan threshold) walks the graph and returns
    // only matching points; a rare one scans.
    let k3 = json!({"must": [{"key": "k", "match": {"value": 3}}]});
    let mut filtered = 0;
    for i in 0..QUERIES {
        let q = vector(2_000_000 + i);
        let got = search(&s, &q, json!({}), Some(k3.clone()));
        assert_eq!(got.len(), LIMIT);
        assert!(got.iter().all(|id| id % 10 == 3), "{got:?}");
        let exact = search(&s, &q, json!({"exact": true}), Some(k3.clone()));
        filtered += overlap(&got, &exact);
    }
    assert!(
        filtered * 100 >= total * 90,
        "filtered recall {filtered}/{total}"
    );
    let rare = json!({"must": [{"has_id": [5, 1234, 2999]}]});
    let mut got = search(&s, &vector(7), json!({}), Some(rare));
    got.sort_unstable();
    assert_eq!(got, vec![5, 1234, 2999]);

    // Recommend takes params too and traverses the same graphs.
    let reco = |params: Value| {
        ids(&ok(
            &s,
            "POST",
            &format!("{COLL}/points/recommend"),
            json!({"positive": [1, 2], "negative": [3], "limit": LIMIT, "params": params}),
        ))
    };
    let exact = reco(json!({"exact": true}));
    assert!(overlap(&reco(json!({"hnsw_ef": 256})), &exact) >= 8);

    // A restart loads the index files: no rebuild, counts right away, files untouched.
    let count = indexed(&s);
    let files = index_files(&s.storage());
    assert!(!files.is_empty());
    s.stop_and_restart();
    assert_eq!(indexed(&s), count, "index not loaded at open");
    assert_eq!(index_files(&s.storage()), files);
    let q = vector(1_000_000);
    assert_eq!(
        search(&s, &q, json!({"exact": true}), None).len(),
        search(&s, &q, json!({}), None).len()
    );
    assert!(!s.log().contains("hnsw index built"), "{}", s.log());
}

#[test]
fn indexing_threshold_zero_and_m_zero_disable_graphs() {
    let s = Server::start_with_config(CONFIG);
    for (coll, cfg) in [
        (
            "off",
            json!({"optimizers_config": {"indexing_threshold": 0}}),
        ),
        (
            "nom",
            json!({"hnsw_config": {"m": 0}, "optimizers_config": {"indexing_threshold": 10}}),
        ),
    ] {
        // One shard, so the 1 500 points pass the flush threshold and make a segment.
        let mut body = json!({"vectors": {"size": DIM, "distance": "Dot"}, "shard_number": 1});
        for (k, v) in cfg.as_object().unwrap() {
            body[k] = v.clone();
        }
        ok(&s, "PUT", &format!("/collections/{coll}"), body);
        let points: Vec<Value> = (0..1_500u64)
            .map(|i| json!({"id": i, "vector": vector(i)}))
            .collect();
        ok(
            &s,
            "PUT",
            &format!("/collections/{coll}/points?wait=true"),
            json!({ "points": points }),
        );
    }
    // Give an indexer time to (wrongly) run, then check nothing was built although the
    // points are in a segment.
    std::thread::sleep(Duration::from_millis(1_500));
    for coll in ["off", "nom"] {
        let info = ok(&s, "GET", &format!("/collections/{coll}"), Value::Null);
        assert_eq!(info["indexed_vectors_count"], 0, "{coll}: {info}");
        let dir = s.storage().join("collections").join(coll).join("shard-0");
        let segments = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .filter(|f| f.file_name().to_string_lossy().ends_with(".seg"))
            .count();
        assert_eq!(segments, 1, "{coll}: no segment was flushed");
    }
    // Lowering the threshold with a PATCH applies to segments indexed from then on.
    ok(
        &s,
        "PATCH",
        "/collections/off",
        json!({"optimizers_config": {"indexing_threshold": 10}}),
    );
    let deadline = Instant::now() + INDEX_TIMEOUT;
    loop {
        let info = ok(&s, "GET", "/collections/off", Value::Null);
        if info["indexed_vectors_count"].as_u64().unwrap_or(0) >= 1_000 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "PATCH did not enable indexing: {info}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
