//! Sparse vectors (with the idf modifier) through the real binary: collection config, the
//! write forms, reads, every search route that takes them, hybrid queries, restarts. Expected
//! scores are worked out by hand in the comments.

mod common;

use common::{assert_hits, hits, ok, Server};
use serde_json::{json, Value};

/// Small segments, so points move from the log into segments (and their inverted indexes)
/// while the tests run.
const CONFIG: &str = "[storage]\nsegment_flush_points = 2\nwal_preallocate_bytes = 65536\n";

fn status(s: &Server, method: &str, path: &str, body: Value) -> (u16, Value) {
    s.json(method, path, &body.to_string())
}

/// Waits until some shard has flushed a segment (sparse columns and postings on disk).
fn wait_for_segment(s: &Server) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let found = |dir: &std::path::Path| -> bool {
        let Ok(shards) = std::fs::read_dir(dir) else {
            return false;
        };
        shards.flatten().any(|shard| {
            std::fs::read_dir(shard.path()).is_ok_and(|files| {
                files
                    .flatten()
                    .any(|f| f.file_name().to_string_lossy().starts_with("seg-"))
            })
        })
    };
    let dir = s.storage().join("collections").join("hy");
    while !found(&dir) {
        assert!(
            std::time::Instant::now() < deadline,
            "no segment was flushed"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn sv(indices: &[u32], values: &[f32]) -> Value {
    json!({"indices": indices, "values": values})
}

/// Dense "d" (Dot, 2), sparse "s" (plain) and "t" (idf), over three shards.
fn create_hybrid(s: &Server, name: &str) {
    let r = ok(
        s,
        "PUT",
        &format!("/collections/{name}"),
        json!({
            "vectors": {"d": {"size": 2, "distance": "Dot"}},
            "sparse_vectors": {"s": {}, "t": {"modifier": "idf", "index": {"on_disk": false}}},
            "shard_number": 3
        }),
    );
    assert_eq!(r, true);
    // 1: s {1: 1, 2: 2}, t {1}; 2: s {2: 1, 3: 4}, t {1, 2}; 3: s {5: 1}, t {3};
    // 4: no s, t {1}.
    let points = json!({"points": [
        {"id": 1, "vector": {"d": [1.0, 0.0], "s": sv(&[2, 1], &[2.0, 1.0]), "t": sv(&[1], &[1.0])}, "payload": {"k": 1}},
        {"id": 2, "vector": {"d": [0.0, 1.0], "s": sv(&[2, 3], &[1.0, 4.0]), "t": sv(&[1, 2], &[1.0, 1.0])}, "payload": {"k": 2}},
        {"id": 3, "vector": {"d": [1.0, 1.0], "s": sv(&[5], &[1.0]), "t": sv(&[3], &[1.0])}, "payload": {"k": 1}},
    ]});
    ok(
        s,
        "PUT",
        &format!("/collections/{name}/points?wait=true"),
        points,
    );
    // The batch form: a list of sparse objects per name.
    let batch = json!({"batch": {"ids": [4], "vectors": {"d": [[0.5, 0.5]], "t": [sv(&[1], &[1.0])]}, "payloads": [{"k": 2}]}});
    ok(
        s,
        "PUT",
        &format!("/collections/{name}/points?wait=true"),
        batch,
    );
}

/// Query s {2: 1, 3: 0.5}: point 1 shares 2 → 2·1 = 2; point 2 shares 2 and 3 → 1·1 + 4·0.5
/// = 3; points 3 and 4 share nothing and are not results.
const S_QUERY: ([u32; 2], [f32; 2]) = ([3, 2], [0.5, 1.0]);
const S_WANT: [(u64, f64); 2] = [(2, 3.0), (1, 2.0)];

fn check_sparse_searches(s: &Server, c: &str) {
    let q = sv(&S_QUERY.0, &S_QUERY.1);
    let legacy = json!({"vector": {"name": "s", "vector": q}, "limit": 10});
    let r = ok(
        s,
        "POST",
        &format!("/collections/{c}/points/search"),
        legacy.clone(),
    );
    assert_hits(&hits(&r), &S_WANT);
    let r = ok(
        s,
        "POST",
        &format!("/collections/{c}/points/search/batch"),
        json!({"searches": [legacy, {"vector": {"name": "s", "vector": sv(&[5], &[2.0])}, "limit": 3}]}),
    );
    assert_hits(&hits(&r[0]), &S_WANT);
    assert_hits(&hits(&r[1]), &[(3, 2.0)]);
    let r = ok(
        s,
        "POST",
        &format!("/collections/{c}/points/query"),
        json!({"query": q, "using": "s", "limit": 10}),
    );
    assert_hits(&hits(&r), &S_WANT);
    let r = ok(
        s,
        "POST",
        &format!("/collections/{c}/points/query"),
        json!({"query": {"nearest": q}, "using": "s", "filter": {"must": [{"key": "k", "match": {"value": 1}}]}}),
    );
    assert_hits(&hits(&r), &[(1, 2.0)]);
    // The idf space: N = 4 points have t; n(1) = 3, n(3) = 1.
    // idf(1) = ln(1 + (4 − 3 + 0.5)/(3 + 0.5)) = ln(10/7); idf(3) = ln(1 + 3.5/1.5) = ln(10/3).
    // Query t {1: 1, 3: 1}: point 3 scores ln(10/3), points 1, 2, 4 score ln(10/7) (ties by id).
    let (a, b) = ((10.0f64 / 7.0).ln(), (10.0f64 / 3.0).ln());
    let r = ok(
        s,
        "POST",
        &format!("/collections/{c}/points/query"),
        json!({"query": sv(&[1, 3], &[1.0, 1.0]), "using": "t", "limit": 10}),
    );
    assert_hits(&hits(&r), &[(3, b), (1, a), (2, a), (4, a)]);
    // Recommend (average_vector) on a sparse space: positive 1 {1: 1, 2: 2}, negative 3
    // {5: 1} → query 2·avg(pos) − avg(neg) = {1: 2, 2: 4, 5: −1}; examples are left out, so
    // only point 2 ({2: 1, 3: 4}) scores: 4·1 = 4.
    let r = ok(
        s,
        "POST",
        &format!("/collections/{c}/points/recommend"),
        json!({"positive": [1], "negative": [3], "using": "s", "limit": 5}),
    );
    assert_hits(&hits(&r), &[(2, 4.0)]);
    // Positive 2 alone: query {2: 1, 3: 4}; point 1 shares 2 → 2.
    let r = ok(
        s,
        "POST",
        &format!("/collections/{c}/points/query"),
        json!({"query": {"recommend": {"positive": [2]}}, "using": "s"}),
    );
    assert_hits(&hits(&r), &[(1, 2.0)]);
    // best_score, positive 1: every point with s is scored; 2 shares index 2 → sim 2 →
    // (2/3 + 1)/2; 3 shares nothing → sim 0 → 1/2.
    let r = ok(
        s,
        "POST",
        &format!("/collections/{c}/points/recommend"),
        json!({"positive": [1], "using": "s", "strategy": "best_score", "limit": 5}),
    );
    assert_hits(&hits(&r), &[(2, (2.0 / 3.0 + 1.0) / 2.0), (3, 0.5)]);
    // sum_scores, positive 2, negative 3: point 1 → 2 − 0.
    let r = ok(
        s,
        "POST",
        &format!("/collections/{c}/points/query"),
        json!({"query": {"recommend": {"positive": [2], "negative": [3], "strategy": "sum_scores"}}, "using": "s"}),
    );
    assert_hits(&hits(&r), &[(1, 2.0)]);
    // Groups over a sparse search: best hit per k.
    let r = ok(
        s,
        "POST",
        &format!("/collections/{c}/points/search/groups"),
        json!({"vector": {"name": "s", "vector": q}, "group_by": "k", "limit": 5, "group_size": 1}),
    );
    let groups: Vec<(i64, u64)> = r["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| {
            (
                g["id"].as_i64().expect("group id"),
                g["hits"][0]["id"].as_u64().expect("id"),
            )
        })
        .collect();
    assert_eq!(groups, vec![(2, 2), (1, 1)]);
}

#[test]
fn sparse_vectors_end_to_end() {
    let mut s = Server::start_with_config(CONFIG);
    let c = "hy";
    create_hybrid(&s, c);

    // Config reported back as given.
    let info = ok(&s, "GET", &format!("/collections/{c}"), json!(null));
    let sparse = &info["config"]["params"]["sparse_vectors"];
    assert_eq!(sparse["s"], json!({}));
    assert_eq!(
        sparse["t"],
        json!({"modifier": "idf", "index": {"on_disk": false}})
    );
    assert_eq!(info["points_count"], 4);

    // Reads return sparse vectors as {indices, values}, sorted by index.
    let r = ok(
        &s,
        "POST",
        &format!("/collections/{c}/points"),
        json!({"ids": [1, 4], "with_vector": true}),
    );
    assert_eq!(r[0]["vector"]["s"], sv(&[1, 2], &[1.0, 2.0]));
    assert_eq!(r[0]["vector"]["d"], json!([1.0, 0.0]));
    assert!(r[1]["vector"].get("s").is_none(), "{r}");
    let r = ok(
        &s,
        "POST",
        &format!("/collections/{c}/points/scroll"),
        json!({"with_vector": ["t"], "limit": 1}),
    );
    assert_eq!(r["points"][0]["vector"], json!({"t": sv(&[1], &[1.0])}));

    check_sparse_searches(&s, c);

    // has_vector sees sparse names.
    let r = ok(
        &s,
        "POST",
        &format!("/collections/{c}/points/count"),
        json!({"filter": {"must": [{"has_vector": "s"}]}, "exact": true}),
    );
    assert_eq!(r["count"], 3);

    // Kinds must match their space; sparse vectors are validated.
    for (vector, what) in [
        (json!({"s": [1.0, 2.0]}), "dense into sparse"),
        (json!({"d": sv(&[1], &[1.0])}), "sparse into dense"),
        (json!({"s": sv(&[1, 1], &[1.0, 2.0])}), "repeated index"),
        (json!({"s": sv(&[1, 2], &[1.0])}), "uneven lengths"),
        (json!({"nope": sv(&[1], &[1.0])}), "unknown name"),
    ] {
        let (st, v) = status(
            &s,
            "PUT",
            &format!("/collections/{c}/points?wait=true"),
            json!({"points": [{"id": 9, "vector": vector}]}),
        );
        assert!((400..500).contains(&st), "{what}: {st} {v}");
    }
    let (st, v) = status(
        &s,
        "POST",
        &format!("/collections/{c}/points/search"),
        json!({"vector": {"name": "d", "vector": sv(&[1], &[1.0])}, "limit": 3}),
    );
    assert!((400..500).contains(&st), "{st} {v}");

    // Survives SIGKILL: recovery from the log and the segments.
    wait_for_segment(&s);
    s.kill_and_restart();
    check_sparse_searches(&s, c);

    // Update and delete sparse vectors.
    ok(
        &s,
        "PUT",
        &format!("/collections/{c}/points/vectors?wait=true"),
        json!({"points": [{"id": 3, "vector": {"s": sv(&[3], &[10.0])}}]}),
    );
    // Point 3 now shares 3: 10 · 0.5 = 5.
    let q = json!({"vector": {"name": "s", "vector": sv(&S_QUERY.0, &S_QUERY.1)}, "limit": 10});
    let r = ok(
        &s,
        "POST",
        &format!("/collections/{c}/points/search"),
        q.clone(),
    );
    assert_hits(&hits(&r), &[(3, 5.0), (2, 3.0), (1, 2.0)]);
    ok(
        &s,
        "POST",
        &format!("/collections/{c}/points/vectors/delete?wait=true"),
        json!({"points": [2], "vector": ["s"]}),
    );
    let r = ok(&s, "POST", &format!("/collections/{c}/points/search"), q);
    assert_hits(&hits(&r), &[(3, 5.0), (1, 2.0)]);
}

/// Hybrid search: a sparse and a dense prefetch fused by reciprocal rank.
#[test]
fn hybrid_query_fuses_sparse_and_dense() {
    let s = Server::start_with_config(CONFIG);
    create_hybrid(&s, "h");
    // Sparse ranking: [2, 1]. Dense d · [1, 0]: 1 → 1, 3 → 1, 4 → 0.5, 2 → 0: [1, 3, 4, 2].
    // RRF (k = 2, rank r from 0 scores 1/(r + 2)): 1: 1/3 + 1/2; 2: 1/2 + 1/5; 3: 1/3;
    // 4: 1/4.
    let r = ok(
        &s,
        "POST",
        "/collections/h/points/query",
        json!({
            "prefetch": [
                {"query": sv(&S_QUERY.0, &S_QUERY.1), "using": "s", "limit": 10},
                {"query": [1.0, 0.0], "using": "d", "limit": 10}
            ],
            "query": {"fusion": "rrf"},
            "limit": 10
        }),
    );
    assert_hits(
        &hits(&r),
        &[
            (1, 1.0 / 3.0 + 0.5),
            (2, 0.5 + 0.2),
            (3, 1.0 / 3.0),
            (4, 0.25),
        ],
    );
    // A sparse prefetch re-scored by a sparse query restricted to its candidates.
    let r = ok(
        &s,
        "POST",
        "/collections/h/points/query",
        json!({
            "prefetch": {"query": [1.0, 0.0], "using": "d", "limit": 2},
            "query": sv(&S_QUERY.0, &S_QUERY.1),
            "using": "s"
        }),
    );
    // Dense candidates 1 and 3; only 1 shares an index with the query.
    assert_hits(&hits(&r), &[(1, 2.0)]);
}

#[test]
fn sparse_collection_config_is_checked_and_patched() {
    let s = Server::start();
    let (st, v) = status(
        &s,
        "PUT",
        "/collections/clash",
        json!({"vectors": {"a": {"size": 2, "distance": "Dot"}}, "sparse_vectors": {"a": {}}}),
    );
    assert!((400..500).contains(&st), "{st} {v}");
    let (st, v) = status(
        &s,
        "PUT",
        "/collections/badmod",
        json!({"sparse_vectors": {"a": {"modifier": "bm25"}}}),
    );
    assert!((400..500).contains(&st), "{st} {v}");
    ok(
        &s,
        "PUT",
        "/collections/only_sparse",
        json!({"sparse_vectors": {"text": {}}}),
    );
    ok(
        &s,
        "PATCH",
        "/collections/only_sparse",
        json!({"sparse_vectors": {"text": {"modifier": "idf"}}}),
    );
    let info = ok(&s, "GET", "/collections/only_sparse", json!(null));
    assert_eq!(
        info["config"]["params"]["sparse_vectors"],
        json!({"text": {"modifier": "idf"}})
    );
    let (st, v) = status(
        &s,
        "PATCH",
        "/collections/only_sparse",
        json!({"sparse_vectors": {"other": {"modifier": "idf"}}}),
    );
    assert!((400..500).contains(&st), "{st} {v}");
    // An unnamed dense vector beside a sparse one is the entry "" of the vector map.
    ok(
        &s,
        "PUT",
        "/collections/unnamed_hybrid",
        json!({"vectors": {"size": 2, "distance": "Dot"}, "sparse_vectors": {"text": {}}}),
    );
    ok(
        &s,
        "PUT",
        "/collections/unnamed_hybrid/points?wait=true",
        json!({"points": [
            {"id": 1, "vector": {"": [1.0, 2.0], "text": sv(&[4], &[1.0])}},
            {"id": 2, "vector": [3.0, 4.0]}
        ]}),
    );
    let r = ok(
        &s,
        "POST",
        "/collections/unnamed_hybrid/points",
        json!({"ids": [1, 2], "with_vector": true}),
    );
    assert_eq!(
        r[0]["vector"],
        json!({"": [1.0, 2.0], "text": sv(&[4], &[1.0])})
    );
    assert_eq!(r[1]["vector"], json!([3.0, 4.0]));
    // The patched modifier applies to searches: with one point, N = n = 1 and
    // idf = ln(1 + 0.5/1.5) = ln(4/3).
    ok(
        &s,
        "PUT",
        "/collections/only_sparse/points?wait=true",
        json!({"points": [{"id": 1, "vector": {"text": sv(&[7], &[2.0])}}]}),
    );
    let r = ok(
        &s,
        "POST",
        "/collections/only_sparse/points/query",
        json!({"query": sv(&[7], &[1.5]), "using": "text"}),
    );
    assert_hits(&hits(&r), &[(1, 3.0 * (4.0f64 / 3.0).ln())]);

    // Discover and context on a sparse space (similarity: dot product, 0 without a shared
    // index). 1 {7: 2}, 2 {7: 1, 8: 1}, 3 {8: 3}, 4 {9: 1}.
    ok(
        &s,
        "PUT",
        "/collections/only_sparse/points?wait=true",
        json!({"points": [
            {"id": 2, "vector": {"text": sv(&[7, 8], &[1.0, 1.0])}},
            {"id": 3, "vector": {"text": sv(&[8], &[3.0])}},
            {"id": 4, "vector": {"text": sv(&[9], &[1.0])}}
        ]}),
    );
    // Target 2, pair (+3, −4); only 1 is not an example: both pair similarities 0 (rank 0),
    // target similarity 2·1 = 2 → (2/3 + 1)/2.
    let r = ok(
        &s,
        "POST",
        "/collections/only_sparse/points/discover",
        json!({"target": 2, "context": [{"positive": 3, "negative": 4}], "using": "text", "limit": 5}),
    );
    assert_hits(&hits(&r), &[(1, (2.0 / 3.0 + 1.0) / 2.0)]);
    // Context (+2, −3): 1 → min(2 − 0 − ε, 0) = 0 → 0; 4 → min(0 − 0 − ε, 0) = −ε → ≈ 0.
    let r = ok(
        &s,
        "POST",
        "/collections/only_sparse/points/query",
        json!({"query": {"context": {"positive": 2, "negative": 3}}, "using": "text"}),
    );
    assert_hits(&hits(&r), &[(1, 0.0), (4, 0.0)]);
}

/// Multivectors (max_sim): unnamed and named spaces, plain and multi queries, reads,
/// validation, restart.
#[test]
fn multivectors_end_to_end() {
    let mut s = Server::start_with_config(CONFIG);
    let max_sim = json!({"comparator": "max_sim"});
    ok(
        &s,
        "PUT",
        "/collections/mv",
        json!({"vectors": {"size": 2, "distance": "Dot", "multivector_config": max_sim}, "shard_number": 2}),
    );
    let info = ok(&s, "GET", "/collections/mv", json!(null));
    assert_eq!(
        info["config"]["params"]["vectors"]["multivector_config"],
        max_sim
    );
    ok(
        &s,
        "PUT",
        "/collections/mv/points?wait=true",
        json!({"points": [
            {"id": 1, "vector": [[1.0, 0.0], [0.0, 1.0]]},
            {"id": 2, "vector": [[2.0, 0.0]]},
            {"id": 3, "vector": [[0.0, 3.0], [1.0, 1.0]]}
        ]}),
    );
    // Query rows (1, 0), (0, 1): point 1 → 1 + 1 = 2; point 2 → 2 + 0 = 2;
    // point 3 → max(0, 1) + max(3, 1) = 4.
    let check = |s: &Server| {
        let r = ok(
            s,
            "POST",
            "/collections/mv/points/query",
            json!({"query": [[1.0, 0.0], [0.0, 1.0]]}),
        );
        assert_hits(&hits(&r), &[(3, 4.0), (1, 2.0), (2, 2.0)]);
        // A dense query is one row: (1, 0) → 1: 1, 2: 2, 3: max(0, 1) = 1.
        let r = ok(
            s,
            "POST",
            "/collections/mv/points/query",
            json!({"query": {"nearest": [1.0, 0.0]}}),
        );
        assert_hits(&hits(&r), &[(2, 2.0), (1, 1.0), (3, 1.0)]);
        let r = ok(
            s,
            "POST",
            "/collections/mv/points",
            json!({"ids": [3], "with_vector": true}),
        );
        assert_eq!(r[0]["vector"], json!([[0.0, 3.0], [1.0, 1.0]]));
    };
    check(&s);
    for bad in [
        json!([[1.0, 2.0, 3.0]]),
        json!([[1.0], [2.0, 3.0]]),
        json!([[]]),
    ] {
        let (st, v) = status(
            &s,
            "PUT",
            "/collections/mv/points?wait=true",
            json!({"points": [{"id": 9, "vector": bad}]}),
        );
        assert!((400..500).contains(&st), "{st} {v}");
    }
    s.kill_and_restart();
    check(&s);

    // A named Cosine multivector space beside a dense one: rows are normalized on insert.
    ok(
        &s,
        "PUT",
        "/collections/mvn",
        json!({"vectors": {
            "m": {"size": 2, "distance": "Cosine", "multivector_config": {"comparator": "max_sim"}},
            "d": {"size": 2, "distance": "Dot"}
        }}),
    );
    ok(
        &s,
        "PUT",
        "/collections/mvn/points?wait=true",
        json!({"points": [{"id": 1, "vector": {"m": [[3.0, 4.0], [0.0, 2.0]], "d": [1.0, 1.0]}}]}),
    );
    let r = ok(
        &s,
        "POST",
        "/collections/mvn/points",
        json!({"ids": [1], "with_vector": ["m"]}),
    );
    assert_eq!(r[0]["vector"], json!({"m": [[0.6, 0.8], [0.0, 1.0]]}));
    // Query row (1, 0) normalized: best of 0.6 and 0 → 0.6.
    let r = ok(
        &s,
        "POST",
        "/collections/mvn/points/query",
        json!({"query": [[2.0, 0.0]], "using": "m"}),
    );
    assert_hits(&hits(&r), &[(1, 0.6)]);
    // Multivector columns have no graph: nothing is reported as indexed for them.
    let info = ok(&s, "GET", "/collections/mvn", json!(null));
    assert_eq!(info["indexed_vectors_count"], 0);
}
