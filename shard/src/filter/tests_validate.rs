//! Validation: what parses but is refused, with the place named; and the depth limits.

use serde_json::{json, Value};

use super::tests_de::parse;
use super::*;

fn invalid(j: Value) -> String {
    let f: Filter = serde_json::from_value(j.clone()).unwrap_or_else(|e| panic!("{j}: {e}"));
    match f.validate() {
        Ok(()) => panic!("{j} should be invalid"),
        Err(e) => e,
    }
}

#[test]
fn validation_errors_name_the_place() {
    let cases = [
        (
            json!({"must": [{"key": "a"}]}),
            "filter.must[0]: condition on `a` has nothing to check",
        ),
        (
            json!({"should": [{"key": "a", "match": {"value": 1}, "range": {"gt": 1}}]}),
            "filter.should[0]: condition on `a` has several checks (match, range)",
        ),
        (
            json!({"must": [{"key": "l", "geo_radius": {"center": {"lon": 0.0, "lat": 0.0}, "radius": -1.0}}]}),
            "non-negative",
        ),
        (
            json!({"must": [{"key": "l", "geo_radius": {"center": {"lon": 200.0, "lat": 0.0}, "radius": 1.0}}]}),
            "out of range",
        ),
        (
            json!({"must": [{"key": "l", "geo_bounding_box": {
                "top_left": {"lon": 0.0, "lat": 95.0}, "bottom_right": {"lon": 1.0, "lat": 0.0}}}]}),
            "geo_bounding_box: geo point",
        ),
        (
            json!({"must": [{"key": "l", "geo_polygon": {"exterior": {"points": [
                {"lon": 0.0, "lat": 0.0}, {"lon": 1.0, "lat": 0.0}, {"lon": 1.0, "lat": 1.0}, {"lon": 0.0, "lat": 1.0}]}}}]}),
            "not closed",
        ),
        (
            json!({"must": [{"key": "l", "geo_polygon": {"exterior": {"points": [
                {"lon": 0.0, "lat": 0.0}, {"lon": 1.0, "lat": 0.0}, {"lon": 1.0, "lat": 1.0}, {"lon": 0.0, "lat": 0.0}]},
                "interiors": [{"points": []}]}}]}),
            "interior 0 has 0 points",
        ),
        (
            json!({"min_should": {"conditions": [], "min_count": 0}}),
            "filter.min_should: min_count",
        ),
        (
            json!({"must": [{"slice": {"total": 0, "index": 0}}]}),
            "at least 1",
        ),
        (
            json!({"must": [{"slice": {"total": 3, "index": 3}}]}),
            "in 0..3",
        ),
        (
            json!({"must": [{"nested": {"key": "a", "filter": {"must": [{"has_id": [1]}]}}}]}),
            "filter.must[0].nested.filter.must[0]: `has_id` is not supported inside `nested`",
        ),
        (
            json!({"must": [{"nested": {"key": "a", "filter": {"should": [{"must_not": {"has_vector": ""}}]}}}]}),
            "`has_vector` is not supported",
        ),
        (
            json!({"must": [{"nested": {"key": "a", "filter": {"must": {"slice": {"total": 1, "index": 0}}}}}]}),
            "`slice` is not supported",
        ),
        (
            json!({"min_should": {"min_count": 1, "conditions": [{"key": "x"}]}}),
            "filter.min_should.conditions[0]",
        ),
    ];
    for (j, want) in cases {
        let e = invalid(j.clone());
        assert!(
            e.contains(want),
            "{j}: got {e:?}, wanted it to contain {want:?}"
        );
    }
    // Nested inside nested is fine.
    parse(
        json!({"must": {"nested": {"key": "a", "filter": {"must": {"nested": {"key": "b",
        "filter": {"must": {"key": "c", "match": {"value": 1}}}}}}}}}),
    );
    assert!(Filter::from_value(json!({"must": {"key": "a"}})).is_err());
    assert!(Filter::from_value(json!({"must": {"key": "a", "is_null": true}})).is_ok());
}

/// `levels` filters, each the only `must` condition of the one above.
fn deep_json(levels: usize) -> String {
    let mut s = String::new();
    for _ in 1..levels {
        s.push_str(r#"{"must":["#);
    }
    s.push_str(r#"{"must":[{"key":"a","match":{"value":1}}]}"#);
    for _ in 1..levels {
        s.push_str("]}");
    }
    s
}

#[test]
fn depth_limit() {
    let at_limit: Filter = serde_json::from_str(&deep_json(FILTER_DEPTH_MAX)).expect("parses");
    assert!(at_limit.validate().is_ok());
    let over: Filter = serde_json::from_str(&deep_json(FILTER_DEPTH_MAX + 1)).expect("parses");
    assert!(over.validate().unwrap_err().contains("deeper than 32"));
    // Nested conditions count as levels too.
    let mut j = json!({"key": "a", "match": {"value": 1}});
    for _ in 0..FILTER_DEPTH_MAX {
        j = json!({"nested": {"key": "n", "filter": {"must": j}}});
    }
    let f: Filter = serde_json::from_value(json!({ "must": j })).expect("parses");
    assert!(f.validate().unwrap_err().contains("deeper than"));
}

#[test]
fn hostile_depth_is_an_error_not_a_crash() {
    // Far beyond serde_json's recursion limit (128): must fail cleanly.
    let e = serde_json::from_str::<Filter>(&deep_json(10_000)).unwrap_err();
    assert!(e.to_string().contains("recursion limit"), "{e}");
}
