//! Qdrant dialect against the real binary: status codes, envelopes, result shapes, search
//! results checked against a brute-force reference, and restarts.

mod common;

use common::Server;
use serde_json::{json, Value};

/// Deterministic pseudo-random vectors (xorshift), so failures reproduce.
fn vectors(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            (0..dim)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x % 2000) as f32 / 1000.0 - 1.0
                })
                .collect()
        })
        .collect()
}

fn upsert(s: &Server, coll: &str, vs: &[Vec<f32>], first_id: usize) {
    let points: Vec<Value> = vs
        .iter()
        .enumerate()
        .map(|(i, v)| json!({"id": first_id + i, "vector": v, "payload": {"i": first_id + i, "tag": format!("t{}", (first_id + i) % 3)}}))
        .collect();
    let (status, v) = s.json(
        "PUT",
        &format!("/collections/{coll}/points?wait=true"),
        &json!({"points": points}).to_string(),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["result"]["status"], "completed");
}

/// Creates the 2-dimensional Dot collection `name`; must answer 200.
fn create_2d(s: &Server, name: &str) {
    let path = format!("/collections/{name}");
    let (st, v) = s.json("PUT", &path, r#"{"vectors":{"size":2,"distance":"Dot"}}"#);
    assert_eq!(st, 200, "{v}");
}

/// Upserts point 1 = [1, 0] into `coll` and waits; must answer 200.
fn put_point_1(s: &Server, coll: &str) {
    let path = format!("/collections/{coll}/points?wait=true");
    let (st, v) = s.json("PUT", &path, r#"{"points":[{"id":1,"vector":[1,0]}]}"#);
    assert_eq!(st, 200, "{v}");
}

#[test]
fn collection_lifecycle_and_error_codes() {
    let s = Server::start();
    let (st, v) = s.json("GET", "/collections/nope", "");
    assert_eq!(st, 404);
    assert_eq!(
        v["status"]["error"],
        "Not found: Collection `nope` doesn't exist!"
    );
    assert!(v["time"].is_number());
    let body = r#"{"vectors":{"size":4,"distance":"Euclid"},"shard_number":3}"#;
    assert_eq!(s.json("PUT", "/collections/a", body).0, 200);
    let (st, v) = s.json("PUT", "/collections/a", body);
    assert_eq!(st, 409, "{v}");
    let (st, v) = s.json(
        "PUT",
        "/collections/b",
        r#"{"vectors":{"size":4,"distance":"Euclid"}"#,
    );
    assert_eq!(st, 400);
    assert!(
        v["status"]["error"]
            .as_str()
            .expect("msg")
            .starts_with("Format error in JSON body: "),
        "{v}"
    );
    let (st, v) = s.json(
        "PUT",
        "/collections/b",
        r#"{"vectors":{"size":0,"distance":"Dot"}}"#,
    );
    assert_eq!(st, 422, "{v}");
    let (st, v) = s.json(
        "PUT",
        "/collections/b",
        r#"{"vectors":{"size":4,"distance":"Hamming"}}"#,
    );
    assert_eq!(st, 400, "{v}");
    let (st, v) = s.json(
        "PUT",
        "/collections/b",
        r#"{"vectors":{"size":4,"distance":"Dot"},"bogus":1}"#,
    );
    assert_eq!(st, 400, "{v}");
    let (_, v) = s.json("GET", "/collections", "");
    assert_eq!(v["result"]["collections"], json!([{"name": "a"}]));
    let (_, v) = s.json("GET", "/collections/a", "");
    let info = &v["result"];
    assert_eq!(info["status"], "green");
    assert_eq!(info["points_count"], 0);
    assert_eq!(info["config"]["params"]["shard_number"], 3);
    assert_eq!(
        info["config"]["params"]["vectors"],
        json!({"size": 4, "distance": "Euclid"})
    );
    assert_eq!(
        s.json("GET", "/collections/a/exists", "").1["result"]["exists"],
        true
    );
    assert_eq!(s.json("DELETE", "/collections/a", "").1["result"], true);
    assert_eq!(s.json("DELETE", "/collections/a", "").1["result"], false);
    assert_eq!(
        s.json("GET", "/collections/a/exists", "").1["result"]["exists"],
        false
    );
    assert_eq!(s.json("GET", "/nothing/here", "").0, 404);
}

#[test]
fn search_matches_brute_force_for_every_distance() {
    let s = Server::start();
    let dim = 8;
    let data = vectors(300, dim, 7);
    let queries = vectors(5, dim, 99);
    for distance in ["Cosine", "Dot", "Euclid", "Manhattan"] {
        let coll = distance.to_lowercase();
        let body =
            json!({"vectors": {"size": dim, "distance": distance}, "shard_number": 4}).to_string();
        assert_eq!(s.json("PUT", &format!("/collections/{coll}"), &body).0, 200);
        upsert(&s, &coll, &data, 0);
        for q in &queries {
            let mut expected: Vec<(f32, usize)> = data
                .iter()
                .enumerate()
                .map(|(i, v)| (reference_score(distance, q, v), i))
                .collect();
            let higher = matches!(distance, "Cosine" | "Dot");
            expected.sort_by(|a, b| {
                let o = a.0.total_cmp(&b.0);
                if higher {
                    o.reverse()
                } else {
                    o
                }
            });
            let req = json!({"vector": q, "limit": 10, "offset": 2}).to_string();
            let (st, v) = s.json("POST", &format!("/collections/{coll}/points/search"), &req);
            assert_eq!(st, 200, "{v}");
            let hits = v["result"].as_array().expect("hits");
            assert_eq!(hits.len(), 10);
            for (hit, (score, id)) in hits.iter().zip(&expected[2..12]) {
                assert_eq!(hit["id"], *id, "{distance}: {v}");
                let got = hit["score"].as_f64().expect("score") as f32;
                assert!(
                    (got - score).abs() <= 1e-4 * score.abs().max(1.0),
                    "{distance}: {got} vs {score}"
                );
            }
            let req = json!({"query": q, "limit": 3}).to_string();
            let (_, v) = s.json("POST", &format!("/collections/{coll}/points/query"), &req);
            let ids: Vec<u64> = v["result"]["points"]
                .as_array()
                .expect("points")
                .iter()
                .map(|p| p["id"].as_u64().expect("id"))
                .collect();
            let want: Vec<u64> = expected[..3].iter().map(|(_, i)| *i as u64).collect();
            assert_eq!(ids, want, "{distance}");
        }
    }
}

fn reference_score(distance: &str, q: &[f32], v: &[f32]) -> f32 {
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    match distance {
        "Cosine" => dot(q, v) / (dot(q, q).sqrt() * dot(v, v).sqrt()),
        "Dot" => dot(q, v),
        "Euclid" => q
            .iter()
            .zip(v)
            .map(|(x, y)| (x - y) * (x - y))
            .sum::<f32>()
            .sqrt(),
        _ => q.iter().zip(v).map(|(x, y)| (x - y).abs()).sum(),
    }
}

#[test]
fn points_read_paths_and_bad_input() {
    let s = Server::start();
    assert_eq!(
        s.json(
            "PUT",
            "/collections/r",
            r#"{"vectors":{"size":3,"distance":"Dot"}}"#
        )
        .0,
        200
    );
    let data = vectors(50, 3, 3);
    upsert(&s, "r", &data, 1);
    let (_, v) = s.json("POST", "/collections/r/points/count", r#"{"exact":true}"#);
    assert_eq!(v["result"]["count"], 50);
    // Scroll covers every id exactly once, in order.
    let mut seen = Vec::new();
    let mut offset = Value::Null;
    loop {
        let req = json!({"limit": 7, "offset": offset, "with_payload": false}).to_string();
        let (st, v) = s.json("POST", "/collections/r/points/scroll", &req);
        assert_eq!(st, 200, "{v}");
        for p in v["result"]["points"].as_array().expect("points") {
            assert!(p["payload"].is_null());
            seen.push(p["id"].as_u64().expect("id"));
        }
        offset = v["result"]["next_page_offset"].clone();
        if offset.is_null() {
            break;
        }
    }
    assert_eq!(seen, (1..=50).collect::<Vec<u64>>());
    let (_, v) = s.json(
        "POST",
        "/collections/r/points",
        r#"{"ids":[3,999,1],"with_vector":true}"#,
    );
    let got = v["result"].as_array().expect("records");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0]["id"], 3);
    assert_eq!(got[0]["payload"]["i"], 3);
    let stored: Vec<f32> = serde_json::from_value(got[0]["vector"].clone()).expect("vector");
    assert_eq!(stored, data[2]);
    let (st, v) = s.json("GET", "/collections/r/points/999", "");
    assert_eq!(st, 404);
    assert_eq!(
        v["status"]["error"],
        "Not found: No point with id 999 found"
    );
    let (st, v) = s.json(
        "PUT",
        "/collections/r/points",
        r#"{"points":[{"id":1,"vector":[1,2]}]}"#,
    );
    assert_eq!(st, 400);
    assert_eq!(
        v["status"]["error"],
        "Wrong input: Vector dimension error: expected dim: 3, got 2"
    );
    let (st, _) = s.json(
        "PUT",
        "/collections/r/points",
        r#"{"points":[{"id":-1,"vector":[1,2,3]}]}"#,
    );
    assert_eq!(st, 400);
    let (st, v) = s.json(
        "POST",
        "/collections/r/points/search",
        r#"{"vector":[1,2,3],"limit":3,"filter":{"must":[]}}"#,
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["result"].as_array().expect("hits").len(), 3);
    let (st, v) = s.json(
        "POST",
        "/collections/r/points/query",
        r#"{"query":[1,2,3],"lookup_from":{"collection":"x"}}"#,
    );
    // A lookup collection that does not exist is never silently ignored.
    assert_eq!(st, 404, "lookup_from names a missing collection: {v}");
    assert!(
        v["status"]["error"].as_str().expect("msg").contains("`x`"),
        "{v}"
    );
    let (st, v) = s.json(
        "POST",
        "/collections/r/points/search",
        r#"{"vector":[1,2,3],"limit":0}"#,
    );
    assert_eq!(st, 422, "{v}");
    let (_, v) = s.json(
        "PUT",
        "/collections/r/points",
        r#"{"points":[{"id":2,"vector":[1,2,3]}]}"#,
    );
    assert_eq!(v["result"]["status"], "acknowledged");
    let (_, v) = s.json(
        "POST",
        "/collections/r/points/delete?wait=true",
        r#"{"points":[1,2,3]}"#,
    );
    assert_eq!(v["result"]["status"], "completed");
    let (_, v) = s.json("POST", "/collections/r/points/count", "{}");
    assert_eq!(v["result"]["count"], 47);
}

#[test]
fn acknowledged_writes_survive_sigkill_and_sigterm() {
    let mut s = Server::start();
    let body = json!({"vectors": {"a": {"size": 5, "distance": "Cosine"}, "b": {"size": 2, "distance": "Euclid"}}}).to_string();
    assert_eq!(s.json("PUT", "/collections/d", &body).0, 200);
    let av = vectors(200, 5, 11);
    let bv = vectors(200, 2, 12);
    let points: Vec<Value> = (0..200)
        .map(|i| json!({"id": format!("00000000-0000-0000-0000-{:012}", i), "vector": {"a": av[i], "b": bv[i]}, "payload": {"n": i, "s": "ü"}}))
        .collect();
    let (st, v) = s.json(
        "PUT",
        "/collections/d/points?wait=true",
        &json!({"points": points}).to_string(),
    );
    assert_eq!(st, 200, "{v}");
    let (_, v) = s.json(
        "POST",
        "/collections/d/points/delete?wait=true",
        r#"{"points":["00000000-0000-0000-0000-000000000007"]}"#,
    );
    assert_eq!(v["result"]["status"], "completed");
    let snapshot = |s: &Server| {
        let (_, v) = s.json(
            "POST",
            "/collections/d/points/scroll",
            r#"{"limit":1000,"with_vector":true}"#,
        );
        v["result"]["points"].clone()
    };
    let before = snapshot(&s);
    assert_eq!(before.as_array().expect("points").len(), 199);
    s.kill_and_restart();
    assert_eq!(snapshot(&s), before, "after SIGKILL");
    s.stop_and_restart();
    assert_eq!(snapshot(&s), before, "after SIGTERM");
    let (_, v) = s.json("GET", "/collections/d", "");
    assert_eq!(v["result"]["points_count"], 199);
}

#[test]
fn api_keys_guard_everything_but_the_probes() {
    let s = Server::start_with_config(
        "[service]\napi_key = \"rw-key\"\nread_only_api_key = \"ro-key\"\n",
    );
    let send = |method: &str, path: &str, key: Option<(&str, &str)>, body: &str| {
        let mut c = s.connect();
        let auth = key
            .map(|(h, v)| format!("{h}: {v}\r\n"))
            .unwrap_or_default();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nhost: x\r\n{auth}content-length: {}\r\n\r\n{body}",
            body.len()
        );
        std::io::Write::write_all(&mut c, req.as_bytes()).expect("write");
        common::read_response(&mut std::io::BufReader::new(c)).expect("answer")
    };
    for probe in ["/", "/healthz", "/livez", "/readyz"] {
        assert_eq!(send("GET", probe, None, "").status, 200, "{probe}");
    }
    let r = send("GET", "/collections", None, "");
    assert_eq!(r.status, 401);
    assert!(r.json()["status"]["error"]
        .as_str()
        .expect("msg")
        .contains("API key"));
    assert_eq!(
        send("GET", "/collections", Some(("api-key", "nope")), "").status,
        401
    );
    let create = r#"{"vectors":{"size":2,"distance":"Dot"}}"#;
    assert_eq!(
        send("PUT", "/collections/k", Some(("api-key", "ro-key")), create).status,
        403
    );
    assert_eq!(
        send(
            "PUT",
            "/collections/k",
            Some(("authorization", "Bearer rw-key")),
            create
        )
        .status,
        200
    );
    assert_eq!(
        send("GET", "/collections/k", Some(("api-key", "ro-key")), "").status,
        200
    );
    let search = r#"{"vector":[1,0],"limit":1}"#;
    assert_eq!(
        send(
            "POST",
            "/collections/k/points/search",
            Some(("authorization", "bearer ro-key")),
            search
        )
        .status,
        200
    );
    let upsert = r#"{"points":[{"id":1,"vector":[1,0]}]}"#;
    assert_eq!(
        send(
            "PUT",
            "/collections/k/points",
            Some(("api-key", "ro-key")),
            upsert
        )
        .status,
        403
    );
    assert_eq!(
        send(
            "PUT",
            "/collections/k/points",
            Some(("api-key", "rw-key")),
            upsert
        )
        .status,
        200
    );
    // Every route that changes data or configuration is refused to the read-only key, before
    // its body is even looked at.
    let writes = [
        (
            "POST",
            "/collections/k/points/payload",
            r#"{"payload":{"a":1},"points":[1]}"#,
        ),
        (
            "PUT",
            "/collections/k/points/payload",
            r#"{"payload":{"a":1},"points":[1]}"#,
        ),
        (
            "POST",
            "/collections/k/points/payload/delete",
            r#"{"keys":["a"],"points":[1]}"#,
        ),
        (
            "POST",
            "/collections/k/points/payload/clear",
            r#"{"points":[1]}"#,
        ),
        (
            "PUT",
            "/collections/k/points/vectors",
            r#"{"points":[{"id":1,"vector":[0,1]}]}"#,
        ),
        (
            "POST",
            "/collections/k/points/vectors/delete",
            r#"{"points":[1],"vector":[""]}"#,
        ),
        ("POST", "/collections/k/points/delete", r#"{"points":[1]}"#),
        (
            "POST",
            "/collections/k/points/batch",
            r#"{"operations":[]}"#,
        ),
        (
            "PUT",
            "/collections/k/index",
            r#"{"field_name":"a","field_schema":"keyword"}"#,
        ),
        ("DELETE", "/collections/k/index/a", ""),
        ("PATCH", "/collections/k", "{}"),
        ("POST", "/collections/aliases", r#"{"actions":[]}"#),
        ("PUT", "/quotas", "{}"),
        ("DELETE", "/issues", ""),
        ("POST", "/collections/k/snapshots", ""),
        ("DELETE", "/collections/k", ""),
    ];
    for (method, path, body) in writes {
        let r = send(method, path, Some(("api-key", "ro-key")), body);
        assert_eq!(r.status, 403, "{method} {path}: {}", r.text());
    }
    let (status, v) = {
        let r = send(
            "GET",
            "/collections/k/points/1",
            Some(("api-key", "ro-key")),
            "",
        );
        (r.status, r.json())
    };
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["result"]["vector"], json!([1.0, 0.0]), "nothing changed");
}

#[test]
fn payload_updates_filters_and_batches() {
    let s = Server::start();
    assert_eq!(
        s.json(
            "PUT",
            "/collections/f",
            r#"{"vectors":{"size":2,"distance":"Dot"},"shard_number":3}"#
        )
        .0,
        200
    );
    let points: Vec<Value> = (0..30)
        .map(|i| json!({"id": i, "vector": [1.0, i as f32], "payload": {"n": i, "even": i % 2 == 0, "tags": [format!("t{}", i % 3)]}}))
        .collect();
    let (st, v) = s.json(
        "PUT",
        "/collections/f/points?wait=true",
        &json!({"points": points}).to_string(),
    );
    assert_eq!(st, 200, "{v}");
    let count = |filter: Value| {
        let (st, v) = s.json(
            "POST",
            "/collections/f/points/count",
            &json!({"filter": filter}).to_string(),
        );
        assert_eq!(st, 200, "{v}");
        v["result"]["count"].as_u64().expect("count")
    };
    assert_eq!(
        count(json!({"must": [{"key": "even", "match": {"value": true}}]})),
        15
    );
    assert_eq!(
        count(json!({"must": [{"key": "n", "range": {"gte": 10, "lt": 20}}]})),
        10
    );
    assert_eq!(
        count(json!({"should": [{"key": "tags", "match": {"any": ["t0", "t1"]}}]})),
        20
    );
    assert_eq!(count(json!({"must_not": [{"has_id": [1, 2, 3]}]})), 27);
    // Filtered search returns only matching points, best first.
    let req = json!({"vector": [0.0, 1.0], "limit": 5, "filter": {"must": [{"key": "even", "match": {"value": false}}]}, "with_payload": true});
    let (_, v) = s.json("POST", "/collections/f/points/search", &req.to_string());
    let ids: Vec<u64> = v["result"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| h["id"].as_u64().expect("id"))
        .collect();
    assert_eq!(ids, vec![29, 27, 25, 23, 21]);
    // A filter that breaks a rule is a 422; one that does not parse a 400.
    let (st, _) = s.json(
        "POST",
        "/collections/f/points/count",
        r#"{"filter":{"must":[{"key":"n"}]}}"#,
    );
    assert_eq!(st, 422);
    let (st, _) = s.json(
        "POST",
        "/collections/f/points/count",
        r#"{"filter":{"must":[{"key":"n","match":{"nope":1}}]}}"#,
    );
    assert_eq!(st, 400);
    // Payload updates by id and by filter.
    let (st, v) = s.json(
        "POST",
        "/collections/f/points/payload?wait=true",
        r#"{"payload":{"color":"red"},"points":[1,2]}"#,
    );
    assert_eq!(st, 200, "{v}");
    let (st, _) = s.json(
        "POST",
        "/collections/f/points/payload?wait=true",
        r#"{"payload":{"deep":1},"points":[1],"key":"a.b"}"#,
    );
    assert_eq!(st, 200);
    let (_, v) = s.json("GET", "/collections/f/points/1", "");
    assert_eq!(v["result"]["payload"]["color"], "red");
    assert_eq!(v["result"]["payload"]["a"], json!({"b": {"deep": 1}}));
    let (st, v) = s.json(
        "POST",
        "/collections/f/points/payload?wait=true",
        r#"{"payload":{"x":1},"points":[999]}"#,
    );
    assert_eq!(st, 404, "{v}");
    let (st, _) = s.json(
        "POST",
        "/collections/f/points/payload/delete?wait=true",
        r#"{"keys":["tags"],"filter":{"must":[{"key":"n","range":{"lt":5}}]}}"#,
    );
    assert_eq!(st, 200);
    assert_eq!(count(json!({"must": [{"is_empty": {"key": "tags"}}]})), 5);
    let (st, _) = s.json(
        "PUT",
        "/collections/f/points/payload?wait=true",
        r#"{"payload":{"only":true},"points":[2]}"#,
    );
    assert_eq!(st, 200);
    let (_, v) = s.json("GET", "/collections/f/points/2", "");
    assert_eq!(v["result"]["payload"], json!({"only": true}));
    let (st, _) = s.json(
        "POST",
        "/collections/f/points/payload/clear?wait=true",
        r#"{"points":[2]}"#,
    );
    assert_eq!(st, 200);
    let (_, v) = s.json("GET", "/collections/f/points/2", "");
    assert_eq!(v["result"]["payload"], json!({}));
    // Vectors: update keeps the payload; delete by filter.
    let (st, _) = s.json(
        "PUT",
        "/collections/f/points/vectors?wait=true",
        r#"{"points":[{"id":3,"vector":[9,9]}]}"#,
    );
    assert_eq!(st, 200);
    let (_, v) = s.json("GET", "/collections/f/points/3", "");
    assert_eq!(v["result"]["vector"], json!([9.0, 9.0]));
    assert_eq!(v["result"]["payload"]["n"], 3);
    let (st, v) = s.json(
        "PUT",
        "/collections/f/points/vectors?wait=true",
        r#"{"points":[{"id":3,"vector":[9]}]}"#,
    );
    assert_eq!(st, 400, "{v}");
    // Batch: applied in order, one result each; delete by filter inside.
    let batch = json!({"operations": [
        {"upsert": {"points": [{"id": 100, "vector": [1, 1], "payload": {"n": 100}}]}},
        {"set_payload": {"payload": {"flag": 1}, "points": [100]}},
        {"delete": {"filter": {"must": [{"key": "n", "range": {"gte": 25, "lt": 100}}]}}},
        {"delete_payload": {"keys": ["n"], "points": [100]}}
    ]});
    let (st, v) = s.json(
        "POST",
        "/collections/f/points/batch?wait=true",
        &batch.to_string(),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["result"].as_array().expect("results").len(), 4);
    let (_, v) = s.json("GET", "/collections/f/points/100", "");
    assert_eq!(v["result"]["payload"], json!({"flag": 1}));
    assert_eq!(count(json!({})), 26);
    // Everything above survives a restart (replayed from the log).
    let before = s
        .json(
            "POST",
            "/collections/f/points/scroll",
            r#"{"limit":100,"with_vector":true}"#,
        )
        .1;
    let mut s = s;
    s.kill_and_restart();
    let after = s
        .json(
            "POST",
            "/collections/f/points/scroll",
            r#"{"limit":100,"with_vector":true}"#,
        )
        .1;
    assert_eq!(after["result"], before["result"]);
}

#[test]
fn batches_recommend_and_payload_indexes() {
    let s = Server::start();
    create_2d(&s, "b");
    let points: Vec<Value> = [[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [-1.0, 0.0]]
        .iter()
        .enumerate()
        .map(|(i, v)| json!({"id": i + 1, "vector": v, "payload": {"k": format!("v{i}")}}))
        .collect();
    assert_eq!(
        s.json(
            "PUT",
            "/collections/b/points?wait=true",
            &json!({"points": points}).to_string()
        )
        .0,
        200
    );
    let ids = |v: &Value| -> Vec<u64> {
        v.as_array()
            .expect("hits")
            .iter()
            .map(|h| h["id"].as_u64().expect("id"))
            .collect()
    };
    // search/batch: one list per search, in order.
    let (st, v) = s.json(
        "POST",
        "/collections/b/points/search/batch",
        r#"{"searches":[{"vector":[1,0],"limit":2},{"vector":[0,1],"limit":1}]}"#,
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(ids(&v["result"][0]), vec![1, 2]);
    assert_eq!(ids(&v["result"][1]), vec![3]);
    // query/batch: one {points} per query.
    let (_, v) = s.json(
        "POST",
        "/collections/b/points/query/batch",
        r#"{"searches":[{"query":[0,1],"limit":2},{"query":4,"limit":1}]}"#,
    );
    assert_eq!(ids(&v["result"][0]["points"]), vec![3, 4]);
    assert_eq!(
        ids(&v["result"][1]["points"]),
        vec![3],
        "a point query leaves the point itself out"
    );
    // recommend (average_vector): query = 2·avg(positive) − avg(negative) = 2·(1,0) − (0,1) = (2,−1).
    let (st, v) = s.json(
        "POST",
        "/collections/b/points/recommend",
        r#"{"positive":[1],"negative":[3],"limit":3}"#,
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        ids(&v["result"]),
        vec![2, 4, 5],
        "examples are excluded; scores are dot((2,-1), v)"
    );
    let score = v["result"][0]["score"].as_f64().expect("score");
    assert!((score - 1.7).abs() < 1e-5, "{score}");
    let (_, v) = s.json(
        "POST",
        "/collections/b/points/query",
        r#"{"query":{"recommend":{"positive":[[0,1]],"negative":[5]}},"limit":2}"#,
    );
    assert_eq!(
        ids(&v["result"]["points"]),
        vec![3, 4],
        "raw vectors work as examples: 2·(0,1)−(−1,0) = (1,2)"
    );
    let (st, _) = s.json(
        "POST",
        "/collections/b/points/recommend",
        r#"{"positive":[99],"limit":3}"#,
    );
    assert_eq!(st, 404);
    let (st, v) = s.json(
        "POST",
        "/collections/b/points/recommend",
        r#"{"positive":[1],"strategy":"best_score","limit":3}"#,
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(ids(&v["result"]), vec![2, 4, 3], "best_score ranks by x");
    let (_, v) = s.json(
        "POST",
        "/collections/b/points/recommend/batch",
        r#"{"searches":[{"positive":[1],"limit":1},{"positive":[3],"limit":1}]}"#,
    );
    assert_eq!(ids(&v["result"][0]), vec![2]);
    assert_eq!(ids(&v["result"][1]), vec![4]);
    // Payload index: validated, persisted, reported with its point count.
    let (st, v) = s.json(
        "PUT",
        "/collections/b/index?wait=true",
        r#"{"field_name":"k","field_schema":"keyword"}"#,
    );
    assert_eq!(st, 200, "{v}");
    let (st, _) = s.json(
        "PUT",
        "/collections/b/index",
        r#"{"field_name":"k","field_schema":"nonsense"}"#,
    );
    assert_eq!(st, 400);
    let (_, v) = s.json("GET", "/collections/b", "");
    assert_eq!(
        v["result"]["payload_schema"],
        json!({"k": {"data_type": "keyword", "points": 5}})
    );
    let mut s = s;
    s.stop_and_restart();
    let (_, v) = s.json("GET", "/collections/b", "");
    assert_eq!(
        v["result"]["payload_schema"]["k"]["data_type"], "keyword",
        "index definitions persist"
    );
    assert_eq!(s.json("DELETE", "/collections/b/index/k", "").0, 200);
    assert_eq!(s.json("DELETE", "/collections/b/index/k", "").0, 404);
}

#[test]
fn aliases_cluster_and_service_routes() {
    let mut s = Server::start();
    create_2d(&s, "a");
    put_point_1(&s, "a");
    let change = |s: &Server, body: &str| s.json("POST", "/collections/aliases", body);
    assert_eq!(
        change(
            &s,
            r#"{"actions":[{"create_alias":{"collection_name":"a","alias_name":"al"}}]}"#
        )
        .0,
        200
    );
    let (_, v) = s.json("POST", "/collections/al/points/count", "{}");
    assert_eq!(v["result"]["count"], 1, "routes accept an alias");
    // All actions or none: the second action fails, so the first is not applied.
    let (st, _) = change(
        &s,
        r#"{"actions":[{"create_alias":{"collection_name":"a","alias_name":"x"}},{"create_alias":{"collection_name":"nope","alias_name":"y"}}]}"#,
    );
    assert_eq!(st, 404);
    let (_, v) = s.json("GET", "/aliases", "");
    assert_eq!(
        v["result"]["aliases"],
        json!([{"alias_name": "al", "collection_name": "a"}])
    );
    assert_eq!(
        change(
            &s,
            r#"{"actions":[{"rename_alias":{"old_alias_name":"al","new_alias_name":"al2"}}]}"#
        )
        .0,
        200
    );
    assert_eq!(
        s.json(
            "PUT",
            "/collections/al2",
            r#"{"vectors":{"size":2,"distance":"Dot"}}"#
        )
        .0,
        400
    );
    s.kill_and_restart();
    let (_, v) = s.json("GET", "/collections/a/aliases", "");
    assert_eq!(
        v["result"]["aliases"],
        json!([{"alias_name": "al2", "collection_name": "a"}]),
        "aliases persist"
    );
    assert_eq!(s.json("DELETE", "/collections/a", "").1["result"], true);
    let (_, v) = s.json("GET", "/aliases", "");
    assert_eq!(
        v["result"]["aliases"],
        json!([]),
        "deleting a collection drops its aliases"
    );
    // Single-node cluster answers.
    assert_eq!(
        s.json("GET", "/cluster", "").1["result"]["status"],
        "disabled"
    );
    assert_eq!(
        s.json(
            "PUT",
            "/collections/c",
            r#"{"vectors":{"size":2,"distance":"Dot"},"shard_number":3}"#
        )
        .0,
        200
    );
    let (_, v) = s.json("GET", "/collections/c/cluster", "");
    assert_eq!(v["result"]["shard_count"], 3);
    assert_eq!(
        v["result"]["local_shards"]
            .as_array()
            .expect("shards")
            .len(),
        3
    );
    assert_eq!(s.json("POST", "/collections/c/cluster", "{}").0, 400);
    assert_eq!(
        s.json("GET", "/telemetry", "").1["result"]["collections"]["number_of_collections"],
        1
    );
    put_point_1(&s, "c");
    let m = s.request("GET", "/metrics", "");
    assert_eq!(m.status, 200);
    assert!(m.text().contains("collections_total 1"), "{}", m.text());
    let flushes: u64 = m
        .text()
        .lines()
        .find_map(|l| l.strip_prefix("vexfs_wal_fdatasync_total "))
        .and_then(|v| v.parse().ok())
        .expect("wal counter");
    assert!(flushes > 0, "the wait=true upsert into c was flushed");
    assert_eq!(
        s.json("GET", "/issues", "").1["result"]["issues"],
        json!([])
    );
}

#[test]
fn segments_flush_on_real_disk_and_survive_restarts() {
    let mut s = Server::start_with_config(
        "[storage]\nsegment_flush_points = 40\nwal_preallocate_bytes = 65536\n",
    );
    assert_eq!(
        s.json(
            "PUT",
            "/collections/g",
            r#"{"vectors":{"size":4,"distance":"Cosine"},"shard_number":2}"#
        )
        .0,
        200
    );
    let data = vectors(600, 4, 5);
    for chunk in 0..12 {
        upsert(&s, "g", &data[chunk * 50..(chunk + 1) * 50], chunk * 50);
    }
    // Updates and deletes that hit points already written out as segments.
    let (st, _) = s.json(
        "POST",
        "/collections/g/points/payload?wait=true",
        r#"{"payload":{"late":true},"points":[1,2,3]}"#,
    );
    assert_eq!(st, 200);
    let (st, _) = s.json(
        "POST",
        "/collections/g/points/delete?wait=true",
        r#"{"filter":{"must":[{"key":"i","range":{"lt":10}}],"must_not":[{"has_id":[1,2,3]}]}}"#,
    );
    assert_eq!(st, 200);
    let (_, v) = s.json("POST", "/collections/g/points/count", "{}");
    assert_eq!(v["result"]["count"], 593);
    let segments = walk(&s.storage())
        .into_iter()
        .filter(|p| p.ends_with(".seg"))
        .count();
    assert!(segments > 0, "no segment written: {:?}", walk(&s.storage()));
    let snapshot = |s: &Server| {
        let (_, v) = s.json(
            "POST",
            "/collections/g/points/scroll",
            r#"{"limit":1000,"with_vector":true}"#,
        );
        let (_, hits) = s.json(
            "POST",
            "/collections/g/points/search",
            r#"{"vector":[0.1,0.2,0.3,0.4],"limit":20,"with_payload":true}"#,
        );
        (v["result"].clone(), hits["result"].clone())
    };
    let before = snapshot(&s);
    assert_eq!(before.0["points"][1]["payload"]["late"], true);
    s.kill_and_restart();
    assert_eq!(snapshot(&s), before, "after SIGKILL");
    s.stop_and_restart();
    assert_eq!(snapshot(&s), before, "after SIGTERM");
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

#[test]
fn update_collection_and_optimizations() {
    let mut s = Server::start();
    create_2d(&s, "u");
    let patch = r#"{"optimizers_config":{"indexing_threshold":5000},"hnsw_config":{"m":32},"params":{"replication_factor":2},"vectors":{"":{"on_disk":true}},"metadata":{"team":"search"}}"#;
    let (st, v) = s.json("PATCH", "/collections/u", patch);
    assert_eq!(st, 200, "{v}");
    s.stop_and_restart();
    let (_, v) = s.json("GET", "/collections/u", "");
    let c = &v["result"]["config"];
    assert_eq!(c["optimizer_config"]["indexing_threshold"], 5000);
    assert_eq!(
        c["optimizer_config"]["deleted_threshold"], 0.2,
        "unchanged settings stay"
    );
    assert_eq!(c["hnsw_config"]["m"], 32);
    assert_eq!(c["params"]["replication_factor"], 2);
    assert_eq!(c["params"]["vectors"]["on_disk"], true);
    assert_eq!(c["metadata"]["team"], "search");
    assert_eq!(
        s.json(
            "PATCH",
            "/collections/u",
            r#"{"vectors":{"nope":{"on_disk":true}}}"#
        )
        .0,
        400
    );
    assert_eq!(
        s.json(
            "PATCH",
            "/collections/u",
            r#"{"quantization_config":{"binary":{"encoding":"two_bits"}}}"#
        )
        .0,
        400
    );
    assert_eq!(s.json("PATCH", "/collections/missing", "{}").0, 404);
    let (_, v) = s.json("GET", "/collections/u/optimizations", "");
    assert_eq!(v["result"]["running"], json!([]));
}

#[test]
fn delete_and_recreate_while_flushing_keeps_collections_apart() {
    let mut s = Server::start_with_config(
        "[storage]\nsegment_flush_points = 5\nwal_preallocate_bytes = 65536\n",
    );
    let create = r#"{"vectors":{"size":4,"distance":"Dot"},"shard_number":2}"#;
    for round in 0..5 {
        assert_eq!(s.json("PUT", "/collections/r", create).0, 200);
        let data = vectors(60, 4, round + 1);
        for chunk in 0..6 {
            // wait=false: flushes start in the background while the collection is deleted.
            let points: Vec<Value> = (0..10)
                .map(|i| json!({"id": chunk * 10 + i, "vector": data[chunk * 10 + i], "payload": {"round": round}}))
                .collect();
            let (st, v) = s.json(
                "PUT",
                "/collections/r/points",
                &json!({"points": points}).to_string(),
            );
            assert_eq!(st, 200, "{v}");
        }
        if round < 4 {
            let (st, v) = s.json("DELETE", "/collections/r", "");
            assert_eq!(v["result"], true, "{st} {v}");
        }
    }
    let (st, v) = s.json(
        "PUT",
        "/collections/r/points?wait=true",
        r#"{"points":[{"id":0,"vector":[1,1,1,1],"payload":{"round":4}}]}"#,
    );
    assert_eq!(st, 200, "{v}");
    s.kill_and_restart();
    let (_, v) = s.json(
        "POST",
        "/collections/r/points/count",
        r#"{"filter":{"must_not":[{"key":"round","match":{"value":4}}]}}"#,
    );
    assert_eq!(
        v["result"]["count"], 0,
        "nothing from deleted incarnations came back"
    );
    let (_, v) = s.json("GET", "/collections/r/points/0", "");
    assert_eq!(v["result"]["vector"], json!([1.0, 1.0, 1.0, 1.0]));
}

#[test]
fn scroll_ordered_by_a_payload_field() {
    let s = Server::start();
    assert_eq!(
        s.json(
            "PUT",
            "/collections/o",
            r#"{"vectors":{"size":2,"distance":"Dot"},"shard_number":3}"#
        )
        .0,
        200
    );
    let prices = [5, 3, 9, 1, 7, 3];
    let points: Vec<Value> = prices
        .iter()
        .enumerate()
        .map(|(i, p)| json!({"id": i + 1, "vector": [1, 0], "payload": {"price": p}}))
        .collect();
    assert_eq!(
        s.json(
            "PUT",
            "/collections/o/points?wait=true",
            &json!({"points": points}).to_string()
        )
        .0,
        200
    );
    let (st, v) = s.json(
        "POST",
        "/collections/o/points/scroll",
        r#"{"order_by":"price"}"#,
    );
    assert_eq!(st, 400, "a range index is required, as in Qdrant: {v}");
    assert_eq!(
        s.json(
            "PUT",
            "/collections/o/index?wait=true",
            r#"{"field_name":"price","field_schema":"integer"}"#
        )
        .0,
        200
    );
    let page = |body: &str| {
        let (st, v) = s.json("POST", "/collections/o/points/scroll", body);
        assert_eq!(st, 200, "{v}");
        let pts = v["result"]["points"].as_array().expect("points").clone();
        pts.iter()
            .map(|p| {
                (
                    p["id"].as_u64().expect("id"),
                    p["order_value"].as_i64().expect("value"),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        page(r#"{"order_by":"price","limit":4}"#),
        vec![(4, 1), (2, 3), (6, 3), (1, 5)]
    );
    assert_eq!(
        page(r#"{"order_by":{"key":"price","direction":"desc","start_from":7},"limit":2}"#),
        vec![(5, 7), (1, 5)]
    );
    let (st, _) = s.json(
        "POST",
        "/collections/o/points/scroll",
        r#"{"order_by":"price","offset":3}"#,
    );
    assert_eq!(st, 400);
}

#[test]
fn quotas_refuse_updates_but_not_deletes() {
    let mut s = Server::start();
    create_2d(&s, "q");
    put_point_1(&s, "q");
    let (_, v) = s.json("GET", "/quotas", "");
    assert_eq!(v["result"]["config"]["enabled"], false);
    let disk = v["result"]["usage"]["disk_usage_percent"]
        .as_u64()
        .expect("disk usage readable here");
    assert!(disk <= 100);
    assert_eq!(
        s.json(
            "PUT",
            "/quotas",
            r#"{"enabled":true,"max_disk_usage_percent":0}"#
        )
        .0,
        422
    );
    // A disk limit of 1 % is always reached on this machine: updates refused, deletes allowed.
    assert_eq!(
        s.json(
            "PUT",
            "/quotas",
            r#"{"enabled":true,"max_disk_usage_percent":1}"#
        )
        .0,
        200
    );
    let (st, v) = s.json(
        "PUT",
        "/collections/q/points?wait=true",
        r#"{"points":[{"id":2,"vector":[1,0]}]}"#,
    );
    assert_eq!(st, 503, "{v}");
    assert!(
        v["status"]["error"]
            .as_str()
            .expect("msg")
            .contains("quota"),
        "{v}"
    );
    assert_eq!(
        s.json(
            "POST",
            "/collections/q/points/delete?wait=true",
            r#"{"points":[1]}"#
        )
        .0,
        200
    );
    s.stop_and_restart();
    assert_eq!(
        s.json("GET", "/quotas", "").1["result"]["config"]["max_disk_usage_percent"],
        1,
        "persisted"
    );
    assert_eq!(
        s.json(
            "PUT",
            "/collections/q/points",
            r#"{"points":[{"id":2,"vector":[1,0]}]}"#
        )
        .0,
        503
    );
    assert_eq!(s.json("PUT", "/quotas", r#"{"enabled":false}"#).0, 200);
    assert_eq!(
        s.json(
            "PUT",
            "/collections/q/points?wait=true",
            r#"{"points":[{"id":2,"vector":[1,0]}]}"#
        )
        .0,
        200
    );
}

#[test]
fn request_size_limits_are_clear_422s() {
    let s = Server::start_with_config(
        "[limits]\npoints_per_request_max = 5\nsearches_per_batch_max = 2\n",
    );
    create_2d(&s, "l");
    let points = |n: usize| {
        json!({"points": (0..n).map(|i| json!({"id": i, "vector": [1, 0]})).collect::<Vec<_>>()})
            .to_string()
    };
    assert_eq!(
        s.json("PUT", "/collections/l/points?wait=true", &points(5))
            .0,
        200
    );
    let (st, v) = s.json("PUT", "/collections/l/points?wait=true", &points(6));
    assert_eq!(st, 422, "{v}");
    assert!(
        v["status"]["error"]
            .as_str()
            .expect("msg")
            .contains("limit is 5"),
        "{v}"
    );
    assert_eq!(
        s.json("POST", "/collections/l/points", r#"{"ids":[0,1,2,3,4,5]}"#)
            .0,
        422
    );
    assert_eq!(
        s.json(
            "POST",
            "/collections/l/points/delete",
            r#"{"points":[0,1,2,3,4,5]}"#
        )
        .0,
        422
    );
    let search = r#"{"vector":[1,0],"limit":1}"#;
    let batch = |n: usize| format!(r#"{{"searches":[{}]}}"#, vec![search; n].join(","));
    assert_eq!(
        s.json("POST", "/collections/l/points/search/batch", &batch(2))
            .0,
        200
    );
    assert_eq!(
        s.json("POST", "/collections/l/points/search/batch", &batch(3))
            .0,
        422
    );
    let (st, _) = s.json(
        "POST",
        "/collections/l/points/search",
        r#"{"vector":[1,0],"limit":1,"offset":1000001}"#,
    );
    assert_eq!(st, 422);
    // Nothing above changed the data, and the connection-level server is fine.
    assert_eq!(
        s.json("POST", "/collections/l/points/count", "{}").1["result"]["count"],
        5
    );
}

#[test]
fn conditional_upserts_and_vector_updates() {
    let s = Server::start();
    let (status, v) = s.json(
        "PUT",
        "/collections/c",
        r#"{"vectors":{"size":2,"distance":"Dot"},"shard_number":2}"#,
    );
    assert_eq!(status, 200, "{v}");
    let put = |body: Value| {
        let (status, v) = s.json("PUT", "/collections/c/points?wait=true", &body.to_string());
        assert_eq!(status, 200, "{v}");
    };
    let tag_of = |id: u64| {
        let (status, v) = s.json("GET", &format!("/collections/c/points/{id}"), "");
        (status == 200).then(|| v["result"]["payload"]["tag"].clone())
    };
    put(
        json!({"points": (1..=6).map(|i| json!({"id": i, "vector": [i, 1], "payload": {"tag": "old", "odd": i % 2 == 1}})).collect::<Vec<_>>()}),
    );

    // update_filter: existing points change only if they match; new points are inserted.
    put(json!({
        "points": ([1, 2, 7].map(|i| json!({"id": i, "vector": [0, 1], "payload": {"tag": "new"}}))),
        "update_filter": {"must": [{"key": "odd", "match": {"value": true}}]}
    }));
    assert_eq!(tag_of(1), Some(json!("new")));
    assert_eq!(tag_of(2), Some(json!("old")));
    assert_eq!(tag_of(7), Some(json!("new")));

    // update_mode in the batch form.
    put(
        json!({"batch": {"ids": [3, 8], "vectors": [[0, 0], [0, 0]], "payloads": [{"tag": "ins"}, {"tag": "ins"}]}, "update_mode": "insert_only"}),
    );
    assert_eq!(tag_of(3), Some(json!("old")));
    assert_eq!(tag_of(8), Some(json!("ins")));
    put(
        json!({"points": [{"id": 4, "vector": [0, 0], "payload": {"tag": "upd"}}, {"id": 9, "vector": [0, 0]}], "update_mode": "update_only"}),
    );
    assert_eq!(tag_of(4), Some(json!("upd")));
    assert_eq!(tag_of(9), None);

    // Vector updates under a filter skip existing points that fail it.
    let (status, v) = s.json(
        "PUT",
        "/collections/c/points/vectors?wait=true",
        &json!({"points": [{"id": 5, "vector": [9, 9]}, {"id": 6, "vector": [9, 9]}],
                "update_filter": {"must": [{"key": "odd", "match": {"value": true}}]}})
        .to_string(),
    );
    assert_eq!(status, 200, "{v}");
    let vec_of = |id: u64| {
        let (_, v) = s.json("GET", &format!("/collections/c/points/{id}"), "");
        v["result"]["vector"].clone()
    };
    assert_eq!(vec_of(5), json!([9.0, 9.0]));
    assert_eq!(vec_of(6), json!([6.0, 1.0]));

    // Bad input: an unknown mode and an invalid filter.
    let (status, v) = s.json(
        "PUT",
        "/collections/c/points",
        r#"{"points":[{"id":1,"vector":[1,1]}],"update_mode":"sometimes"}"#,
    );
    assert_eq!(status, 400, "{v}");
    assert!(
        v["status"]["error"]
            .as_str()
            .unwrap()
            .contains("Format error in JSON body"),
        "{v}"
    );
    let (status, v) = s.json(
        "PUT",
        "/collections/c/points",
        r#"{"points":[{"id":1,"vector":[1,1]}],"update_filter":{"must":[{"key":"a","match":{"value":[1]}}]}}"#,
    );
    assert!(status == 400 || status == 422, "{status} {v}");
}
