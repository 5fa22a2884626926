//! Quantization through the real binary: collections created with scalar, binary and product
//! `quantization_config` get `.quant` codes for their segments in the background; default
//! searches use them and rescore (exact scores, high overlap with `exact: true`),
//! `ignore: true` equals the plain graph search, `rescore: false` reports the codes'
//! estimates; the config is reported by GET, validated, and PATCH rebuilds or removes codes.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{ok, Server};
use serde_json::{json, Value};

/// A segment every 1 000 points.
const CONFIG: &str = "[storage]\nsegment_flush_points = 1000\nwal_preallocate_bytes = 1048576\n";
const DIM: usize = 32;
const POINTS: u64 = 3_000;
const BATCH: u64 = 500;
const BUILD_TIMEOUT: Duration = Duration::from_secs(120);
const QUERIES: u64 = 20;
const LIMIT: usize = 10;

fn vector(seed: u64) -> Vec<f32> {
    common::seeded_vector(seed, DIM)
}

/// `(id, score)` of each hit.
fn search(s: &Server, coll: &str, q: &[f32], params: Value) -> Vec<(u64, f64)> {
    let body = json!({"vector": q, "limit": LIMIT, "params": params});
    ok(
        s,
        "POST",
        &format!("/collections/{coll}/points/search"),
        body,
    )
    .as_array()
    .expect("hits")
    .iter()
    .map(|h| (h["id"].as_u64().unwrap(), h["score"].as_f64().unwrap()))
    .collect()
}

/// `.quant` files of the collection.
/// Modification times of the files called `names` in the shard directories of `coll`.
fn mtimes(
    storage: &Path,
    coll: &str,
    names: &BTreeSet<String>,
) -> std::collections::BTreeMap<std::path::PathBuf, std::time::SystemTime> {
    let dir = storage.join("collections").join(coll);
    let mut out = std::collections::BTreeMap::new();
    for shard in std::fs::read_dir(dir).unwrap().flatten() {
        for name in names {
            let path = shard.path().join(name);
            if let Ok(m) = std::fs::metadata(&path) {
                out.insert(path, m.modified().unwrap());
            }
        }
    }
    out
}

fn quant_files(storage: &Path, coll: &str) -> BTreeSet<String> {
    let dir = storage.join("collections").join(coll);
    let mut out = BTreeSet::new();
    for shard in std::fs::read_dir(dir).unwrap().flatten() {
        if !shard.path().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(shard.path()).unwrap().flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if name.ends_with(".quant") {
                out.insert(name);
            }
        }
    }
    out
}

fn wait_green(s: &Server, coll: &str, done: impl Fn(&Server) -> bool) {
    let deadline = Instant::now() + BUILD_TIMEOUT;
    loop {
        let info = ok(s, "GET", &format!("/collections/{coll}"), Value::Null);
        if info["status"] == "green" && done(s) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not built: {info}; log:\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Creates `coll` with `quantization`, fills it and waits until every segment has codes.
fn filled(s: &Server, coll: &str, quantization: Value) {
    ok(
        s,
        "PUT",
        &format!("/collections/{coll}"),
        json!({
            "vectors": {"size": DIM, "distance": "Cosine"},
            "shard_number": 1,
            "hnsw_config": {"m": 16, "ef_construct": 64, "full_scan_threshold": 10},
            "optimizers_config": {"indexing_threshold": 10},
            "quantization_config": quantization,
        }),
    );
    for b in 0..POINTS / BATCH {
        let points: Vec<Value> = (b * BATCH..(b + 1) * BATCH)
            .map(|i| json!({"id": i, "vector": vector(i), "payload": {"k": i % 10}}))
            .collect();
        ok(
            s,
            "PUT",
            &format!("/collections/{coll}/points?wait=true"),
            json!({ "points": points }),
        );
    }
    let storage = s.storage();
    wait_green(s, coll, |_| quant_files(&storage, coll).len() >= 2);
    assert!(s.log().contains("quantized codes built"), "{}", s.log());
}

/// Overlap with the exact top 10 over [`QUERIES`] queries, as a share; checks that rescored
/// scores are the exact ones.
fn check_searches(s: &Server, coll: &str, params: Value, recall_min: f64, raw_min: f64) {
    let mut same = 0;
    let mut raw_same = 0;
    let mut raw_differs = 0;
    for i in 0..QUERIES {
        let q = vector(1_000_000 + i);
        let exact = search(s, coll, &q, json!({"exact": true}));
        assert_eq!(exact.len(), LIMIT);
        let got = search(s, coll, &q, params.clone());
        assert_eq!(got.len(), LIMIT);
        for (id, score) in &got {
            // Rescored: a hit also in the exact list has the same score.
            if let Some((_, e)) = exact.iter().find(|(x, _)| x == id) {
                assert!(
                    (score - e).abs() < 1e-5,
                    "{coll} {id}: {score} vs exact {e}"
                );
            }
        }
        same += got.iter().filter(|h| exact.contains(h)).count();
        // Without codes: the plain graph search, exact scores.
        let plain = search(s, coll, &q, json!({"quantization": {"ignore": true}}));
        for (id, score) in &plain {
            if let Some((_, e)) = exact.iter().find(|(x, _)| x == id) {
                assert!((score - e).abs() < 1e-5);
            }
        }
        let mut raw_params = params.clone();
        raw_params["quantization"]["rescore"] = json!(false);
        let raw = search(s, coll, &q, raw_params);
        assert_eq!(raw.len(), LIMIT);
        for (id, score) in &raw {
            match exact.iter().find(|(x, _)| x == id) {
                Some((_, e)) if (score - e).abs() > 1e-6 => raw_differs += 1,
                Some(_) => {}
                None => {}
            }
            raw_same += usize::from(exact.iter().any(|(x, _)| x == id));
        }
    }
    let total = (QUERIES as usize * LIMIT) as f64;
    let recall = same as f64 / total;
    eprintln!(
        "{coll}: rescored recall {recall}, unrescored overlap {}",
        raw_same as f64 / total
    );
    assert!(recall >= recall_min, "{coll}: recall {recall}");
    assert!(raw_differs > 0, "{coll}: unrescored scores are estimates");
    assert!(
        raw_same as f64 / total >= raw_min,
        "{coll}: unrescored overlap {raw_same}"
    );
}

#[test]
fn scalar_codes_are_built_searched_and_rescored() {
    let s = Server::start_with_config(CONFIG);
    let q = json!({"scalar": {"type": "int8", "quantile": 0.99, "always_ram": true}});
    filled(&s, "sq", q.clone());
    let info = ok(&s, "GET", "/collections/sq", Value::Null);
    assert_eq!(info["config"]["quantization_config"], q);
    check_searches(&s, "sq", json!({}), 0.85, 0.6);
}

#[test]
fn binary_codes_with_oversampling() {
    let s = Server::start_with_config(CONFIG);
    filled(&s, "bq", json!({"binary": {"always_ram": true}}));
    // Sign bits of 32 random dimensions rank coarsely: without rescoring, only some of the
    // exact top 10 remain (measured 0.25).
    check_searches(
        &s,
        "bq",
        json!({"quantization": {"oversampling": 8.0}}),
        0.85,
        0.1,
    );
}

#[test]
fn product_codes_with_oversampling() {
    let s = Server::start_with_config(CONFIG);
    filled(&s, "pq", json!({"product": {"compression": "x8"}}));
    check_searches(
        &s,
        "pq",
        json!({"quantization": {"oversampling": 4.0, "rescore": true}}),
        0.85,
        0.3,
    );
}

#[test]
fn config_is_validated_reported_and_patched() {
    let s = Server::start_with_config(CONFIG);
    let bad = [
        (json!({"scalar": {"type": "int8", "quantile": 0.2}}), 422),
        (json!({"scalar": {"type": "int4"}}), 400),
        (json!({"product": {"compression": "x3"}}), 400),
        (json!({"binary": {"encoding": "two_bits"}}), 400),
        (json!("Disabled"), 400),
    ];
    for (q, status) in bad {
        let body = json!({"vectors": {"size": DIM, "distance": "Dot"}, "quantization_config": q});
        let (st, v) = s.json("PUT", "/collections/bad", &body.to_string());
        assert_eq!(st, status, "{q}: {v}");
    }
    // Per vector, over the collection's.
    let per_vector = json!({"product": {"compression": "x16", "always_ram": false}});
    ok(
        &s,
        "PUT",
        "/collections/c",
        json!({
            "vectors": {
                "a": {"size": DIM, "distance": "Dot", "quantization_config": per_vector},
                "b": {"size": DIM, "distance": "Euclid"},
            },
            "quantization_config": {"scalar": {"type": "int8"}},
            "optimizers_config": {"indexing_threshold": 10},
            "shard_number": 1,
        }),
    );
    let info = ok(&s, "GET", "/collections/c", Value::Null);
    assert_eq!(
        info["config"]["quantization_config"],
        json!({"scalar": {"type": "int8"}})
    );
    assert_eq!(
        info["config"]["params"]["vectors"]["a"]["quantization_config"],
        per_vector
    );
    assert!(info["config"]["params"]["vectors"]["b"]
        .get("quantization_config")
        .is_none());
    let points: Vec<Value> = (0..POINTS)
        .map(|i| json!({"id": i, "vector": {"a": vector(i), "b": vector(i + 7)}}))
        .collect();
    ok(
        &s,
        "PUT",
        "/collections/c/points?wait=true",
        json!({ "points": points }),
    );
    let storage = s.storage();
    wait_green(&s, "c", |_| !quant_files(&storage, "c").is_empty());
    let q = vector(99);
    for name in ["a", "b"] {
        let body = json!({"vector": {"name": name, "vector": q}, "limit": 5,
            "params": {"quantization": {"rescore": true, "oversampling": 2.0}}});
        let hits = ok(&s, "POST", "/collections/c/points/search", body);
        assert_eq!(hits.as_array().unwrap().len(), 5, "{name}: {hits}");
    }
    // Search params are validated.
    let body = json!({"vector": {"name": "a", "vector": q}, "limit": 5,
        "params": {"quantization": {"oversampling": 0.5}}});
    let (st, v) = s.json("POST", "/collections/c/points/search", &body.to_string());
    assert_eq!(st, 422, "{v}");
    let body = json!({"vector": {"name": "a", "vector": q}, "limit": 5,
        "params": {"quantization": {"bogus": 1}}});
    let (st, _) = s.json("POST", "/collections/c/points/search", &body.to_string());
    assert_eq!(st, 400);
    // The query API takes the same params.
    let body = json!({"query": q, "using": "a", "limit": 3,
        "params": {"quantization": {"ignore": false, "rescore": false}}});
    let res = ok(&s, "POST", "/collections/c/points/query", body);
    assert_eq!(res["points"].as_array().unwrap().len(), 3, "{res}");

    // PATCH: per vector to binary, the collection's off.
    ok(
        &s,
        "PATCH",
        "/collections/c",
        json!({"vectors": {"a": {"quantization_config": {"binary": {}}}},
               "quantization_config": "Disabled"}),
    );
    let info = ok(&s, "GET", "/collections/c", Value::Null);
    assert_eq!(info["config"]["quantization_config"], Value::Null);
    assert_eq!(
        info["config"]["params"]["vectors"]["a"]["quantization_config"],
        json!({"binary": {}})
    );
    // Per vector off too: every code file goes away.
    ok(
        &s,
        "PATCH",
        "/collections/c",
        json!({"vectors": {"a": {"quantization_config": "Disabled"}}}),
    );
    wait_green(&s, "c", |_| quant_files(&storage, "c").is_empty());
    let info = ok(&s, "GET", "/collections/c", Value::Null);
    assert!(info["config"]["params"]["vectors"]["a"]
        .get("quantization_config")
        .is_none());
    // And back on: rebuilt.
    ok(
        &s,
        "PATCH",
        "/collections/c",
        json!({"quantization_config": {"scalar": {"type": "int8", "quantile": 0.95}}}),
    );
    wait_green(&s, "c", |_| !quant_files(&storage, "c").is_empty());
}

#[test]
fn codes_survive_a_restart() {
    let mut s = Server::start_with_config(CONFIG);
    filled(&s, "r", json!({"scalar": {"type": "int8"}}));
    let storage = s.storage();
    let before = quant_files(&storage, "r");
    let stamps = mtimes(&storage, "r", &before);
    let q = vector(5);
    let hits = search(&s, "r", &q, json!({}));
    s.stop_and_restart();
    wait_green(&s, "r", |_| true);
    // The codes of every segment from before are kept (the log's tail may have become one
    // more segment, with codes of its own).
    let after = quant_files(&storage, "r");
    assert!(before.is_subset(&after), "{before:?} then {after:?}");
    assert_eq!(
        mtimes(&storage, "r", &before),
        stamps,
        "loaded, not rebuilt"
    );
    assert_eq!(search(&s, "r", &q, json!({})), hits);
    let info = ok(&s, "GET", "/collections/r", Value::Null);
    assert_eq!(
        info["config"]["quantization_config"],
        json!({"scalar": {"type": "int8"}})
    );
}
