//! Named vectors created and deleted on a collection that holds points
//! (`PUT`/`DELETE /collections/{c}/vectors/{name}`), through the real binary: the config,
//! writes and searches of the new name, retrieve and search after a delete, restarts (clean
//! and killed), and the errors.

mod common;

use common::Server;
use serde_json::{json, Value};

/// Small segments, so points live both in segments and in the log while the tests run.
const CONFIG: &str = "[storage]\nsegment_flush_points = 2\nwal_preallocate_bytes = 65536\n";

fn ok(s: &Server, method: &str, path: &str, body: Value) -> Value {
    let (st, v) = s.json(method, path, &body.to_string());
    assert_eq!(st, 200, "{method} {path}: {v}");
    v["result"].clone()
}

fn status(s: &Server, method: &str, path: &str, body: Value) -> (u16, Value) {
    s.json(method, path, &body.to_string())
}

/// A collection with a named dense vector "a" (2-d, Dot) and points 1..=5 having it.
fn collection(s: &Server) {
    ok(
        s,
        "PUT",
        "/collections/c",
        json!({"vectors": {"a": {"size": 2, "distance": "Dot"}}, "shard_number": 2}),
    );
    let points: Vec<Value> = (1..=5)
        .map(|i| json!({"id": i, "vector": {"a": [i as f32, 1.0]}, "payload": {"i": i}}))
        .collect();
    ok(
        s,
        "PUT",
        "/collections/c/points?wait=true",
        json!({ "points": points }),
    );
}

/// Vector names of point `id`, sorted.
fn names_of(s: &Server, id: u64) -> Vec<String> {
    let r = ok(
        s,
        "POST",
        "/collections/c/points",
        json!({"ids": [id], "with_vector": true}),
    );
    let mut names: Vec<String> = r[0]["vector"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    names.sort();
    names
}

fn search_ids(s: &Server, body: Value) -> Vec<u64> {
    let r = ok(s, "POST", "/collections/c/points/query", body);
    r["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|h| h["id"].as_u64().expect("id"))
        .collect()
}

fn params(s: &Server) -> Value {
    ok(s, "GET", "/collections/c", json!(null))["config"]["params"].clone()
}

/// After creating "d" (dense) and "sp" (sparse) and writing them on points 2 and 3.
fn check_created(s: &Server) {
    let p = params(s);
    assert_eq!(p["vectors"]["d"], json!({"size": 3, "distance": "Euclid"}));
    assert_eq!(p["vectors"]["a"]["size"], 2);
    assert_eq!(p["sparse_vectors"]["sp"], json!({"modifier": "idf"}));
    assert_eq!(names_of(s, 1), vec!["a"]);
    assert_eq!(names_of(s, 2), vec!["a", "d", "sp"]);
    assert_eq!(
        search_ids(
            s,
            json!({"query": [0.0, 0.0, 1.0], "using": "d", "limit": 5})
        ),
        vec![3, 2]
    );
    assert_eq!(
        search_ids(
            s,
            json!({"query": {"indices": [7], "values": [1.0]}, "using": "sp", "limit": 5})
        ),
        vec![3]
    );
    assert_eq!(
        search_ids(s, json!({"query": [1.0, 0.0], "using": "a", "limit": 2})),
        vec![5, 4]
    );
}

/// After deleting "a".
fn check_deleted(s: &Server) {
    let p = params(s);
    assert!(p["vectors"].get("a").is_none(), "{p}");
    assert_eq!(p["vectors"]["d"]["size"], 3);
    assert_eq!(names_of(s, 1), Vec::<String>::new());
    assert_eq!(names_of(s, 2), vec!["d", "sp"]);
    let (st, v) = status(
        s,
        "POST",
        "/collections/c/points/query",
        json!({"query": [1.0, 0.0], "using": "a"}),
    );
    assert_eq!(st, 400, "{v}");
    assert!(
        v["status"]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("Not existing vector name"),
        "{v}"
    );
    // Filters see no point with it, wherever the point is stored.
    let (st, v) = status(
        s,
        "POST",
        "/collections/c/points/count",
        json!({"exact": true, "filter": {"must": [{"has_vector": "a"}]}}),
    );
    assert_eq!((st, v["result"]["count"].as_u64()), (200, Some(0)), "{v}");
    // Writes naming it are refused; the others still work.
    let (st, v) = status(
        s,
        "PUT",
        "/collections/c/points?wait=true",
        json!({"points": [{"id": 9, "vector": {"a": [1.0, 2.0]}}]}),
    );
    assert_eq!(st, 400, "{v}");
    assert_eq!(
        ok(
            s,
            "POST",
            "/collections/c/points/count",
            json!({"exact": true})
        )["count"],
        5
    );
    assert_eq!(
        search_ids(
            s,
            json!({"query": [0.0, 0.0, 1.0], "using": "d", "limit": 5})
        ),
        vec![3, 2]
    );
}

#[test]
fn created_and_deleted_names_survive_restarts() {
    let mut s = Server::start_with_config(CONFIG);
    collection(&s);
    let r = ok(
        &s,
        "PUT",
        "/collections/c/vectors/d?wait=true",
        json!({"dense": {"size": 3, "distance": "Euclid"}}),
    );
    assert_eq!(r["status"], "completed");
    ok(
        &s,
        "PUT",
        "/collections/c/vectors/sp",
        json!({"sparse": {"modifier": "idf"}}),
    );
    // Existing points have neither.
    assert_eq!(names_of(&s, 2), vec!["a"]);
    ok(
        &s,
        "PUT",
        "/collections/c/points/vectors?wait=true",
        json!({"points": [
            {"id": 2, "vector": {"d": [0.0, 0.0, 2.0], "sp": {"indices": [1], "values": [1.0]}}},
            {"id": 3, "vector": {"d": [0.0, 0.0, 1.0], "sp": {"indices": [7], "values": [2.0]}}}
        ]}),
    );
    check_created(&s);
    s.stop_and_restart();
    check_created(&s);

    let r = ok(
        &s,
        "DELETE",
        "/collections/c/vectors/a?wait=true",
        json!(null),
    );
    assert_eq!(r["status"], "completed");
    check_deleted(&s);
    s.stop_and_restart();
    check_deleted(&s);
    s.kill_and_restart();
    check_deleted(&s);

    // Created again with another shape: the old data does not come back.
    ok(
        &s,
        "PUT",
        "/collections/c/vectors/a",
        json!({"dense": {"size": 4, "distance": "Cosine"}}),
    );
    assert_eq!(names_of(&s, 1), Vec::<String>::new());
    assert!(search_ids(&s, json!({"query": [1.0, 0.0, 0.0, 0.0], "using": "a"})).is_empty());
    s.kill_and_restart();
    assert_eq!(params(&s)["vectors"]["a"]["size"], 4);
    assert_eq!(names_of(&s, 4), Vec::<String>::new());
}

#[test]
fn errors_are_qdrant_shaped() {
    let s = Server::start_with_config(CONFIG);
    collection(&s);
    let err = |v: &Value| v["status"]["error"].as_str().unwrap_or_default().to_owned();

    let (st, v) = status(
        &s,
        "PUT",
        "/collections/c/vectors/a",
        json!({"dense": {"size": 3, "distance": "Dot"}}),
    );
    assert_eq!(st, 400, "{v}");
    assert_eq!(err(&v), "Wrong input: Vector with name a already exists");

    let (st, v) = status(
        &s,
        "PUT",
        "/collections/nope/vectors/x",
        json!({"sparse": {}}),
    );
    assert_eq!(st, 404, "{v}");
    assert!(err(&v).contains("nope"), "{v}");

    let (st, v) = status(&s, "DELETE", "/collections/c/vectors/x", json!(null));
    assert_eq!(st, 400, "{v}");
    assert_eq!(err(&v), "Wrong input: Not existing vector name error: x");
    let (st, _) = status(&s, "DELETE", "/collections/nope/vectors/a", json!(null));
    assert_eq!(st, 404);

    for bad in [
        json!({}),
        json!({"dense": {"size": 3, "distance": "Dot"}, "sparse": {}}),
        json!({"dense": {"size": 3}}),
        json!({"dense": {"size": 3, "distance": "Nope"}}),
        json!({"sparse": {"modifier": "tf"}}),
        json!({"other": 1}),
        json!([1, 2]),
    ] {
        let (st, v) = status(&s, "PUT", "/collections/c/vectors/x", bad.clone());
        assert!(st == 400 || st == 422, "{bad}: {st} {v}");
        assert!(v["status"]["error"].is_string(), "{bad}: {v}");
    }
    let (st, v) = status(
        &s,
        "PUT",
        "/collections/c/vectors/x",
        json!({"dense": {"size": 0, "distance": "Dot"}}),
    );
    assert_eq!(st, 422, "{v}");
    // Nothing of the refused requests was kept.
    let p = params(&s);
    assert_eq!(p["vectors"].as_object().map(|m| m.len()), Some(1), "{p}");
    assert!(
        p.get("sparse_vectors").is_none()
            || p["sparse_vectors"]
                .as_object()
                .is_some_and(|m| m.is_empty()),
        "{p}"
    );
    assert_eq!(names_of(&s, 1), vec!["a"]);
}

#[test]
fn a_collection_with_one_unnamed_vector_takes_sparse_names_only() {
    let s = Server::start_with_config(CONFIG);
    ok(
        &s,
        "PUT",
        "/collections/c",
        json!({"vectors": {"size": 2, "distance": "Dot"}}),
    );
    ok(
        &s,
        "PUT",
        "/collections/c/points?wait=true",
        json!({"points": [{"id": 1, "vector": [1.0, 0.0]}, {"id": 2, "vector": [0.0, 1.0]}]}),
    );
    ok(
        &s,
        "PUT",
        "/collections/c/vectors/sp",
        json!({"sparse": {}}),
    );
    ok(
        &s,
        "PUT",
        "/collections/c/points/vectors?wait=true",
        json!({"points": [{"id": 2, "vector": {"sp": {"indices": [3], "values": [1.5]}}}]}),
    );
    assert_eq!(
        search_ids(
            &s,
            json!({"query": {"indices": [3], "values": [1.0]}, "using": "sp"})
        ),
        vec![2]
    );
    assert_eq!(params(&s)["vectors"], json!({"size": 2, "distance": "Dot"}));
    let (st, v) = status(
        &s,
        "PUT",
        "/collections/c/vectors/d",
        json!({"dense": {"size": 3, "distance": "Dot"}}),
    );
    assert_eq!(st, 400, "{v}");
    assert!(
        v["status"]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("single unnamed vector"),
        "{v}"
    );
    ok(&s, "DELETE", "/collections/c/vectors/sp", json!(null));
    assert!(params(&s)["sparse_vectors"]
        .as_object()
        .is_none_or(|m| m.is_empty()));
    assert_eq!(
        search_ids(&s, json!({"query": [1.0, 0.0], "limit": 1})),
        vec![1]
    );
}
