//! Custom scoring (recommend strategies, discover, context), grouped search, facets and the
//! distance matrix against the real binary. Scores are checked against values computed by
//! hand on tiny data sets; groups, facets and matrices against brute force in the test.
//!
//! Points are spread over several segments and the mutable store (a flush every few points),
//! so every read path of the engine is exercised.

mod common;

use common::{assert_hits, hits, Server};
use serde_json::{json, Value};

/// Flush a segment every few points so searches span segments and the mutable store.
const SEGMENTED: &str = "[storage]\nsegment_flush_points = 2\nwal_preallocate_bytes = 65536\n";
/// Float tolerance of score comparisons (scores go through f32 and JSON).
const EPS: f64 = 1e-5;

fn create(s: &Server, coll: &str, distance: &str) {
    let (st, v) = s.json(
        "PUT",
        &format!("/collections/{coll}"),
        &json!({"vectors": {"size": 2, "distance": distance}}).to_string(),
    );
    assert_eq!(st, 200, "{v}");
}

/// Upserts one point per request, so the flushes cut them into several segments.
fn put(s: &Server, coll: &str, points: &[Value]) {
    for p in points {
        let (st, v) = s.json(
            "PUT",
            &format!("/collections/{coll}/points?wait=true"),
            &json!({ "points": [p] }).to_string(),
        );
        assert_eq!(st, 200, "{v}");
    }
}

fn post(s: &Server, path: &str, body: Value) -> (u16, Value) {
    s.json("POST", path, &body.to_string())
}

fn ok(s: &Server, path: &str, body: Value) -> Value {
    common::ok(s, "POST", path, body)
}

/// Qdrant's scaled fast sigmoid, 0.5·(x / (1 + |x|) + 1).
fn sig(x: f64) -> f64 {
    0.5 * (x / (1.0 + x.abs()) + 1.0)
}

/// Six 2-d points (Dot): 1 (1,0), 2 (0,1), 3 (1,1), 4 (2,−1), 5 (−1,2), 6 (.5,.5).
fn tiny(s: &Server, coll: &str) {
    create(s, coll, "Dot");
    let vs = [
        [1.0, 0.0],
        [0.0, 1.0],
        [1.0, 1.0],
        [2.0, -1.0],
        [-1.0, 2.0],
        [0.5, 0.5],
    ];
    let points: Vec<Value> = vs
        .iter()
        .enumerate()
        .map(|(i, v)| json!({"id": i + 1, "vector": v}))
        .collect();
    put(s, coll, &points);
}

#[test]
fn recommend_strategies_score_exactly() {
    let s = Server::start_with_config(SEGMENTED);
    tiny(&s, "r");
    // best_score, positive (1,0), negative (0,1): sim+ = x, sim− = y. x > y → sig(x), else
    // −sig(y): 1 → sig(1), 2 → −sig(1), 3 (tie) → −sig(1), 4 → sig(2), 5 → −sig(2), 6 → −sig(.5).
    let want = [
        (4, sig(2.0)),
        (1, sig(1.0)),
        (6, -sig(0.5)),
        (2, -sig(1.0)),
        (3, -sig(1.0)),
        (5, -sig(2.0)),
    ];
    let body =
        json!({"positive": [[1, 0]], "negative": [[0, 1]], "strategy": "best_score", "limit": 10});
    assert_hits(
        &hits(&ok(&s, "/collections/r/points/recommend", body)),
        &want,
    );
    let q = json!({"query": {"recommend": {"positive": [[1, 0]], "negative": [[0, 1]], "strategy": "best_score"}}, "limit": 10});
    assert_hits(
        &hits(&ok(&s, "/collections/r/points/query", q)["points"]),
        &want,
    );
    // By id: the same examples, left out of the results.
    let body = json!({"positive": [1], "negative": [2], "strategy": "best_score", "limit": 10});
    let got = hits(&ok(&s, "/collections/r/points/recommend", body));
    let want_ids: Vec<_> = want
        .iter()
        .filter(|(id, _)| *id != 1 && *id != 2)
        .copied()
        .collect();
    assert_hits(&got, &want_ids);
    // Only negatives are allowed with best_score.
    let body = json!({"negative": [[0, 1]], "strategy": "best_score", "limit": 1});
    assert_hits(
        &hits(&ok(&s, "/collections/r/points/recommend", body)),
        &[(4, -sig(-1.0))],
    );

    // sum_scores, positives (1,0), (1,1), negative (0,1): x + (x + y) − y = 2x.
    let body = json!({"positive": [[1, 0], [1, 1]], "negative": [[0, 1]], "strategy": "sum_scores", "limit": 10, "offset": 1});
    assert_hits(
        &hits(&ok(&s, "/collections/r/points/recommend", body)),
        &[(1, 2.0), (3, 2.0), (6, 1.0), (2, 0.0), (5, -2.0)],
    );
    // score_threshold applies to the objective's score as is.
    let body = json!({"positive": [[1, 0], [1, 1]], "negative": [[0, 1]], "strategy": "sum_scores", "limit": 10, "score_threshold": 1.5});
    assert_hits(
        &hits(&ok(&s, "/collections/r/points/recommend", body)),
        &[(4, 4.0), (1, 2.0), (3, 2.0)],
    );
    // The batch route and a filter.
    let body = json!({"searches": [
        {"positive": [[1, 0]], "strategy": "sum_scores", "limit": 2},
        {"positive": [[1, 0]], "strategy": "sum_scores", "limit": 2,
         "filter": {"must": [{"has_id": [2, 5, 6]}]}}
    ]});
    let r = ok(&s, "/collections/r/points/recommend/batch", body);
    assert_hits(&hits(&r[0]), &[(4, 2.0), (1, 1.0)]);
    assert_hits(&hits(&r[1]), &[(6, 0.5), (2, 0.0)]);

    // Bad input: no examples, unknown strategy, a missing example point.
    let (st, v) = post(
        &s,
        "/collections/r/points/recommend",
        json!({"strategy": "best_score", "limit": 1}),
    );
    assert_eq!(st, 400, "{v}");
    assert!(v["status"]["error"]
        .as_str()
        .is_some_and(|e| e.contains("positive or negative")));
    let (st, v) = post(
        &s,
        "/collections/r/points/recommend",
        json!({"positive": [1], "strategy": "best_ever", "limit": 1}),
    );
    assert_eq!(st, 400, "{v}");
    let (st, v) = post(
        &s,
        "/collections/r/points/query",
        json!({"query": {"recommend": {"strategy": "sum_scores"}}}),
    );
    assert_eq!(st, 400, "{v}");
    let (st, v) = post(
        &s,
        "/collections/r/points/recommend",
        json!({"positive": [99], "strategy": "sum_scores", "limit": 1}),
    );
    assert_eq!(st, 404, "{v}");
    let (st, v) = post(
        &s,
        "/collections/r/points/recommend",
        json!({"positive": [[1, 0, 0]], "strategy": "best_score", "limit": 1}),
    );
    assert_eq!(st, 400, "{v}");
}

#[test]
fn discover_and_context_score_exactly() {
    let s = Server::start_with_config(SEGMENTED);
    tiny(&s, "d");
    // Pairs: A = (+ (1,1), − (−1,0)): x + y vs −x; B = (+ (0,1), − (1,0)): y vs x.
    // Target (1,0): sim = x. Rank: A ±1/0, B ±1/0 (0 on a tie).
    //   1 (1,0): A +1, B −1 → 0 + sig(1)      4 (2,−1): A +1, B −1 → 0 + sig(2)
    //   2 (0,1): A +1, B +1 → 2 + sig(0)      5 (−1,2): A 0,  B +1 → 1 + sig(−1)
    //   3 (1,1): A +1, B 0  → 1 + sig(1)      6 (.5,.5): A +1, B 0 → 1 + sig(.5)
    let context = json!([
        {"positive": [1, 1], "negative": [-1, 0]},
        {"positive": [0, 1], "negative": [1, 0]}
    ]);
    let want = [
        (2, 2.0 + sig(0.0)),
        (3, 1.0 + sig(1.0)),
        (6, 1.0 + sig(0.5)),
        (5, 1.0 + sig(-1.0)),
        (4, sig(2.0)),
        (1, sig(1.0)),
    ];
    let q = json!({"query": {"discover": {"target": [1, 0], "context": context}}, "limit": 10});
    assert_hits(
        &hits(&ok(&s, "/collections/d/points/query", q)["points"]),
        &want,
    );
    // Legacy route, examples by id (1 = (1,0), 2 = (0,1), 3 = (1,1)) and left out.
    let body = json!({"target": 1, "context": [
        {"positive": 3, "negative": [-1, 0]},
        {"positive": 2, "negative": 1}
    ], "limit": 10});
    assert_hits(
        &hits(&ok(&s, "/collections/d/points/discover", body.clone())),
        &[(6, 1.0 + sig(0.5)), (5, 1.0 + sig(-1.0)), (4, sig(2.0))],
    );
    let r = ok(
        &s,
        "/collections/d/points/discover/batch",
        json!({"searches": [body, {"target": [0, 1], "limit": 1}]}),
    );
    assert_eq!(r[0].as_array().map(Vec::len), Some(3));
    // No context: the target alone, 5 (−1,2) has sim 2.
    assert_hits(&hits(&r[1]), &[(5, sig(2.0))]);

    // Context search: Σ fast_sigmoid(min(sim+ − sim− − ε, 0)); a tie costs only ε.
    //   1: B −1 → −0.5; 4: B −3 → −0.75; 2: no loss; 3, 5, 6: one tie each → −ε.
    let tie = -(f32::EPSILON as f64);
    let want = [
        (2, 0.0),
        (3, tie),
        (5, tie),
        (6, tie),
        (1, -0.5),
        (4, -0.75),
    ];
    let q = json!({"query": {"context": context}, "limit": 10});
    assert_hits(
        &hits(&ok(&s, "/collections/d/points/query", q)["points"]),
        &want,
    );
    let body = json!({"context": context, "limit": 10});
    assert_hits(
        &hits(&ok(&s, "/collections/d/points/discover", body)),
        &want,
    );
    // A single pair is accepted without the list.
    let q = json!({"query": {"context": {"positive": [0, 1], "negative": [1, 0]}}, "limit": 1});
    assert_hits(
        &hits(&ok(&s, "/collections/d/points/query", q)["points"]),
        &[(2, 0.0)],
    );

    // Bad input: a discover query without target, nothing to discover, empty context.
    for (path, body) in [
        (
            "/collections/d/points/query",
            json!({"query": {"discover": {"context": context}}}),
        ),
        ("/collections/d/points/discover", json!({"limit": 3})),
        (
            "/collections/d/points/query",
            json!({"query": {"context": []}}),
        ),
        (
            "/collections/d/points/query",
            json!({"query": {"context": [{"positive": [1, 0]}]}}),
        ),
        (
            "/collections/d/points/discover",
            json!({"target": [1, 0, 0], "limit": 3}),
        ),
    ] {
        let (st, v) = post(&s, path, body.clone());
        assert_eq!(st, 400, "{path} {body}: {v}");
        assert!(v["status"]["error"].is_string(), "{v}");
    }
    let (st, _) = s.json("GET", "/collections/d/points/discover", "");
    assert_eq!(st, 405);
}

#[test]
fn cosine_objectives_use_normalized_examples() {
    let s = Server::start();
    create(&s, "c", "Cosine");
    put(
        &s,
        "c",
        &[
            json!({"id": 1, "vector": [3, 4]}),
            json!({"id": 2, "vector": [4, -3]}),
        ],
    );
    // Raw examples are normalized like stored vectors: (3,4)/5 · (0,10)/10 = 0.8.
    let q = json!({"query": {"recommend": {"positive": [[0, 10]], "strategy": "sum_scores"}}, "limit": 2});
    assert_hits(
        &hits(&ok(&s, "/collections/c/points/query", q)["points"]),
        &[(1, 0.8), (2, -0.6)],
    );
}

/// Greedy reference grouping of hits given best first (see `src/qdrant/groups.rs`).
fn reference_groups(
    ranked: &[(u64, f64, Vec<Value>)],
    limit: usize,
    size: usize,
) -> Vec<(Value, Vec<u64>)> {
    let mut groups: Vec<(Value, Vec<u64>)> = Vec::new();
    for (id, _, values) in ranked {
        for v in values {
            match groups.iter().position(|(g, _)| g == v) {
                Some(i) if groups[i].1.len() < size => groups[i].1.push(*id),
                Some(_) => {}
                None if groups.len() < limit => groups.push((v.clone(), vec![*id])),
                None => {}
            }
        }
    }
    groups
}

fn group_ids(r: &Value) -> Vec<(Value, Vec<u64>)> {
    r["groups"]
        .as_array()
        .unwrap_or_else(|| panic!("no groups: {r}"))
        .iter()
        .map(|g| {
            let ids = g["hits"]
                .as_array()
                .expect("hits")
                .iter()
                .map(|h| h["id"].as_u64().expect("id"))
                .collect();
            (g["id"].clone(), ids)
        })
        .collect()
}

#[test]
fn groups_follow_best_hits() {
    let s = Server::start_with_config(SEGMENTED);
    create(&s, "g", "Dot");
    // Point i has vector (i, 1) and group value(s) by a fixed pattern: strings, an integer,
    // arrays (several groups), a bool (unusable) and no key at all.
    let doc = |i: u64| -> Value {
        match i % 6 {
            0 => json!("a"),
            1 => json!("b"),
            2 => json!(["a", "c"]),
            3 => json!(7),
            4 => json!(true),
            _ => Value::Null,
        }
    };
    let points: Vec<Value> = (1..=24u64)
        .map(|i| {
            let payload = match doc(i) {
                Value::Null => json!({"other": i}),
                d => json!({"doc": d, "i": i}),
            };
            json!({"id": i, "vector": [i as f32, 1.0], "payload": payload})
        })
        .collect();
    put(&s, "g", &points);
    let usable = |i: u64| -> Vec<Value> {
        match doc(i) {
            Value::Array(a) => a,
            Value::Bool(_) | Value::Null => vec![],
            v => vec![v],
        }
    };
    // Dot with (1, 0): score = i, so the ranking is by descending id.
    let ranked: Vec<(u64, f64, Vec<Value>)> = (1..=24u64)
        .rev()
        .map(|i| (i, i as f64, usable(i)))
        .collect();
    for (limit, size) in [(2, 2), (3, 3), (10, 1), (4, 10)] {
        let want = reference_groups(&ranked, limit, size);
        let r = ok(
            &s,
            "/collections/g/points/search/groups",
            json!({"vector": [1, 0], "group_by": "doc", "limit": limit, "group_size": size}),
        );
        assert_eq!(group_ids(&r), want, "limit {limit} size {size}");
        let r = ok(
            &s,
            "/collections/g/points/query/groups",
            json!({"query": [1, 0], "group_by": "doc", "limit": limit, "group_size": size}),
        );
        assert_eq!(group_ids(&r), want, "query: limit {limit} size {size}");
    }
    // Hand-checked: best first 24 (a), 23 (no key), 22 (bool), 21 (7), 20 (a, c), 19 (b) …
    let r = ok(
        &s,
        "/collections/g/points/search/groups",
        json!({"vector": [1, 0], "group_by": "doc", "limit": 3, "group_size": 2,
               "with_payload": ["i"]}),
    );
    assert_eq!(
        group_ids(&r),
        vec![
            (json!("a"), vec![24, 20]),
            (json!(7), vec![21, 15]),
            (json!("c"), vec![20, 14]),
        ]
    );
    let first = &r["groups"][0]["hits"][0];
    assert_eq!(first["payload"], json!({"i": 24}), "{first}");
    assert!((first["score"].as_f64().unwrap_or(0.0) - 24.0).abs() < EPS);
    assert!(r["groups"][0].get("lookup").is_none());

    // Recommend groups with sum_scores and a filter; the example is left out.
    let r = ok(
        &s,
        "/collections/g/points/recommend/groups",
        json!({"positive": [24], "strategy": "sum_scores", "group_by": "doc",
               "limit": 2, "group_size": 2,
               "filter": {"must_not": [{"has_id": [20]}]}}),
    );
    // sim to (24, 1) is 24·i + 1: still by descending id, without 24 and 20.
    assert_eq!(
        group_ids(&r),
        vec![(json!(7), vec![21, 15]), (json!("b"), vec![19, 13])]
    );
    // Discovery through query/groups.
    let r = ok(
        &s,
        "/collections/g/points/query/groups",
        json!({"query": {"discover": {"target": [-1, 0], "context": []}},
               "group_by": "doc", "limit": 1, "group_size": 3}),
    );
    assert_eq!(group_ids(&r), vec![(json!("b"), vec![1, 7, 13])]);

    // with_lookup: group ids that name points of another collection.
    create(&s, "docs", "Dot");
    put(
        &s,
        "docs",
        &[json!({"id": 7, "vector": [0, 0], "payload": {"title": "seven"}})],
    );
    let r = ok(
        &s,
        "/collections/g/points/search/groups",
        json!({"vector": [1, 0], "group_by": "doc", "limit": 2, "group_size": 1,
               "with_lookup": "docs"}),
    );
    assert_eq!(r["groups"][0]["id"], json!("a"));
    assert!(r["groups"][0]["lookup"].is_null(), "{r}");
    assert_eq!(r["groups"][1]["lookup"]["id"], json!(7), "{r}");
    assert_eq!(
        r["groups"][1]["lookup"]["payload"],
        json!({"title": "seven"})
    );

    // A key no point has: no groups (as Qdrant). Bad input: 4xx.
    let r = ok(
        &s,
        "/collections/g/points/search/groups",
        json!({"vector": [1, 0], "group_by": "nope", "limit": 3, "group_size": 2}),
    );
    assert_eq!(r["groups"], json!([]));
    for (body, status) in [
        (json!({"vector": [1, 0], "limit": 3, "group_size": 2}), 400),
        (
            json!({"vector": [1, 0], "group_by": "", "limit": 3, "group_size": 2}),
            422,
        ),
        (
            json!({"vector": [1, 0], "group_by": "doc", "limit": 0, "group_size": 2}),
            422,
        ),
        (
            json!({"vector": [1, 0], "group_by": "doc", "limit": 3, "group_size": 0}),
            422,
        ),
        (
            json!({"vector": [1, 0], "group_by": "doc", "limit": 3, "group_size": 2, "with_lookup": "missing"}),
            404,
        ),
    ] {
        let (st, v) = post(&s, "/collections/g/points/search/groups", body.clone());
        assert_eq!(st, status, "{body}: {v}");
    }
}

#[test]
fn facet_counts_match_brute_force() {
    let s = Server::start_with_config(SEGMENTED);
    create(&s, "f", "Dot");
    let colors = ["red", "green", "blue", "red", "red", "green"];
    let mut payloads = Vec::new();
    for i in 0..30u64 {
        let p = match i % 7 {
            0 => json!({"color": [colors[(i % 6) as usize], "red", "red"], "n": i % 4}),
            1 => json!({"n": i % 4}),
            2 => json!({"color": 5, "n": i % 4}),
            _ => json!({"color": colors[(i % 6) as usize], "n": i % 4}),
        };
        payloads.push(p);
    }
    let points: Vec<Value> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| json!({"id": i, "vector": [1, 0], "payload": p}))
        .collect();
    put(&s, "f", &points);
    // Without an index: Qdrant's 400.
    let (st, v) = post(&s, "/collections/f/facet", json!({"key": "color"}));
    assert_eq!(st, 400, "{v}");
    assert!(v["status"]["error"]
        .as_str()
        .is_some_and(|e| e.contains("Index required")));
    for (field, ty) in [("color", "keyword"), ("n", "integer")] {
        let (st, v) = s.json(
            "PUT",
            "/collections/f/index?wait=true",
            &json!({"field_name": field, "field_schema": ty}).to_string(),
        );
        assert_eq!(st, 200, "{v}");
    }
    // Brute force: points per distinct string value, optionally only even n.
    let count = |only_even: bool| -> Vec<(Value, u64)> {
        let mut m: std::collections::BTreeMap<String, u64> = Default::default();
        for p in &payloads {
            if only_even && p["n"].as_u64().unwrap_or(1) % 2 != 0 {
                continue;
            }
            let mut vals: Vec<String> = match &p["color"] {
                Value::String(c) => vec![c.clone()],
                Value::Array(a) => a
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                _ => vec![],
            };
            vals.sort();
            vals.dedup();
            for v in vals {
                *m.entry(v).or_default() += 1;
            }
        }
        let mut out: Vec<(Value, u64)> = m.into_iter().map(|(k, n)| (json!(k), n)).collect();
        out.sort_by_key(|e| std::cmp::Reverse(e.1));
        out
    };
    let got = |r: &Value| -> Vec<(Value, u64)> {
        r["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .map(|h| (h["value"].clone(), h["count"].as_u64().expect("count")))
            .collect()
    };
    let r = ok(
        &s,
        "/collections/f/facet",
        json!({"key": "color", "exact": true}),
    );
    assert_eq!(got(&r), count(false));
    let filtered =
        json!({"key": "color", "filter": {"must": [{"key": "n", "match": {"any": [0, 2]}}]}});
    assert_eq!(got(&ok(&s, "/collections/f/facet", filtered)), count(true));
    let r = ok(
        &s,
        "/collections/f/facet",
        json!({"key": "color", "limit": 1}),
    );
    assert_eq!(got(&r), count(false)[..1].to_vec());
    // Integers: n = i % 4 over 30 points → 0..=1 eight times, 2..=3 seven times; ties by value.
    let r = ok(&s, "/collections/f/facet", json!({"key": "n"}));
    assert_eq!(
        got(&r),
        vec![(json!(0), 8), (json!(1), 8), (json!(2), 7), (json!(3), 7)]
    );
    let (st, _) = post(&s, "/collections/f/facet", json!({"key": "n", "limit": 0}));
    assert_eq!(st, 422);
    let (st, _) = post(&s, "/collections/f/facet", json!({"limit": 3}));
    assert_eq!(st, 400);
}

#[test]
fn matrix_matches_exact_search() {
    let s = Server::start_with_config(SEGMENTED);
    create(&s, "m", "Euclid");
    let points: Vec<Value> = (0..12u64)
        .map(|i| {
            let x = ((i * 7) % 12) as f32;
            let y = ((i * 5) % 11) as f32;
            json!({"id": i + 1, "vector": [x, y], "payload": {"even": i % 2 == 0}})
        })
        .collect();
    put(&s, "m", &points);
    // The whole collection sampled: each row is that point's exact search among the others.
    let limit = 3;
    let pairs = ok(
        &s,
        "/collections/m/points/search/matrix/pairs",
        json!({"sample": 100, "limit": limit}),
    );
    let pairs = pairs["pairs"].as_array().expect("pairs").clone();
    assert_eq!(pairs.len(), 12 * limit);
    for a in 1..=12u64 {
        let row: Vec<(u64, f64)> = pairs
            .iter()
            .filter(|p| p["a"] == json!(a))
            .map(|p| (p["b"].as_u64().expect("b"), p["score"].as_f64().expect("s")))
            .collect();
        let exact = ok(
            &s,
            "/collections/m/points/search",
            json!({"vector": points[(a - 1) as usize]["vector"], "limit": limit,
                   "filter": {"must_not": [{"has_id": [a]}]}}),
        );
        assert_hits(&row, &hits(&exact));
    }
    // Offsets: the same matrix by index.
    let o = ok(
        &s,
        "/collections/m/points/search/matrix/offsets",
        json!({"sample": 100, "limit": limit}),
    );
    let ids = o["ids"].as_array().expect("ids");
    assert_eq!(ids.len(), 12);
    let rows = o["offsets_row"].as_array().expect("rows");
    let cols = o["offsets_col"].as_array().expect("cols");
    let scores = o["scores"].as_array().expect("scores");
    assert_eq!(rows.len(), pairs.len());
    for (k, p) in pairs.iter().enumerate() {
        let i = rows[k].as_u64().expect("row") as usize;
        let j = cols[k].as_u64().expect("col") as usize;
        assert_eq!(ids[i], p["a"]);
        assert_eq!(ids[j], p["b"]);
        assert_eq!(scores[k], p["score"]);
    }
    // A sample of a filtered subset: rows and neighbours only among the sample.
    let o = ok(
        &s,
        "/collections/m/points/search/matrix/offsets",
        json!({"sample": 4, "limit": 2, "filter": {"must": [{"key": "even", "match": {"value": true}}]}}),
    );
    let ids: Vec<u64> = o["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|v| v.as_u64().expect("id"))
        .collect();
    assert_eq!(ids.len(), 4);
    assert!(ids.iter().all(|id| (id - 1) % 2 == 0), "{ids:?}");
    assert_eq!(o["offsets_row"].as_array().map(Vec::len), Some(8));
    // The sample is stable across calls.
    let again = ok(
        &s,
        "/collections/m/points/search/matrix/offsets",
        json!({"sample": 4, "limit": 2, "filter": {"must": [{"key": "even", "match": {"value": true}}]}}),
    );
    assert_eq!(again, o);
    // Bad input.
    for body in [json!({"sample": 1}), json!({"limit": 0})] {
        let (st, v) = post(&s, "/collections/m/points/search/matrix/pairs", body);
        assert_eq!(st, 422, "{v}");
    }
    let (st, _) = post(
        &s,
        "/collections/m/points/search/matrix/pairs",
        json!({"using": "nope"}),
    );
    assert!((400..500).contains(&st));
}
