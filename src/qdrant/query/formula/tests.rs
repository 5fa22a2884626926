//! Formula parsing and evaluation against hand-computed values.

use std::collections::HashMap;

use serde_json::{json, Value};
use vexfs_shard::{Payload, PointId};

use super::*;

fn formula(v: Value) -> Formula {
    Formula::parse(serde_json::from_value(v).expect("formula input")).expect("formula parses")
}

fn score_with(
    f: &Formula,
    scores: &[(u64, f32)],
    payload: Value,
    matches: &[bool],
) -> Result<f32, Error> {
    let map: HashMap<PointId, f32> = scores.iter().map(|(i, s)| (PointId::Num(*i), *s)).collect();
    let all = [map];
    let payload: Payload = serde_json::from_value(payload).expect("payload");
    f.score(
        &PointInputs {
            prefetch_scores: &all,
        },
        &Candidate {
            id: PointId::Num(1),
            payload: Some(&payload),
            matches,
        },
    )
}

fn close(a: f32, b: f64) {
    assert!((f64::from(a) - b).abs() < 1e-5, "{a} vs {b}");
}

#[test]
fn arithmetic_over_score_and_payload() {
    let f = formula(json!({"formula": {"sum": ["$score", {"mult": [2, "price"]}, {"neg": 1}]}}));
    close(
        score_with(&f, &[(1, 0.5)], json!({"price": 3}), &[]).unwrap(),
        0.5 + 6.0 - 1.0,
    );
    let f = formula(json!({"formula": {"pow": {"base": {"abs": -3}, "exponent": 2}}}));
    close(score_with(&f, &[], json!({}), &[]).unwrap(), 9.0);
    let f =
        formula(json!({"formula": {"sum": [{"sqrt": 16}, {"log10": 100}, {"ln": {"exp": 2}}]}}));
    close(
        score_with(&f, &[], json!({}), &[]).unwrap(),
        4.0 + 2.0 + 2.0,
    );
}

#[test]
fn division_by_zero() {
    let f = formula(json!({"formula": {"div": {"left": 1, "right": "d", "by_zero_default": 7}}}));
    close(score_with(&f, &[], json!({"d": 0}), &[]).unwrap(), 7.0);
    close(score_with(&f, &[], json!({"d": 4}), &[]).unwrap(), 0.25);
    let f = formula(json!({"formula": {"div": {"left": 1, "right": 0}}}));
    let err = score_with(&f, &[], json!({}), &[]).unwrap_err();
    assert!(err.to_string().contains("non-finite"), "{err}");
    // A zero numerator is 0 whatever the denominator.
    let f = formula(json!({"formula": {"div": {"left": 0, "right": "missing"}}}));
    close(score_with(&f, &[], json!({}), &[]).unwrap(), 0.0);
}

#[test]
fn missing_variable_uses_default_else_fails() {
    let f = formula(json!({"formula": {"sum": ["$score", "boost"]}, "defaults": {"boost": 2.5}}));
    close(score_with(&f, &[(1, 1.0)], json!({}), &[]).unwrap(), 3.5);
    close(
        score_with(&f, &[(1, 1.0)], json!({"boost": 1}), &[]).unwrap(),
        2.0,
    );
    let f = formula(json!({"formula": {"sum": ["$score", "boost"]}}));
    let err = score_with(&f, &[(1, 1.0)], json!({}), &[]).unwrap_err();
    assert_eq!(err.status(), 400);
    assert!(
        err.to_string()
            .contains("No value found in a payload nor defaults"),
        "{err}"
    );
    let err = score_with(&f, &[(1, 1.0)], json!({"boost": "high"}), &[]).unwrap_err();
    assert!(err.to_string().contains("not a number"), "{err}");
    // A missing prefetch score is its default, else 0.
    let f = formula(json!({"formula": {"sum": ["$score[1]", 1]}, "defaults": {"$score[1]": 4}}));
    close(score_with(&f, &[(1, 1.0)], json!({}), &[]).unwrap(), 5.0);
    let f = formula(json!({"formula": "$score[3]"}));
    close(score_with(&f, &[(1, 1.0)], json!({}), &[]).unwrap(), 0.0);
}

#[test]
fn conditions_are_zero_or_one() {
    let f = formula(
        json!({"formula": {"sum": ["$score", {"mult": [0.5, {"key": "tag", "match": {"value": "a"}}]}]}}),
    );
    assert_eq!(f.conditions.len(), 1);
    close(
        score_with(&f, &[(1, 1.0)], json!({}), &[true]).unwrap(),
        1.5,
    );
    close(
        score_with(&f, &[(1, 1.0)], json!({}), &[false]).unwrap(),
        1.0,
    );
}

#[test]
fn decays_hit_midpoint_at_scale() {
    for kind in ["lin_decay", "exp_decay", "gauss_decay"] {
        let f = formula(
            json!({"formula": {kind: {"x": "v", "target": 10, "scale": 5, "midpoint": 0.2}}}),
        );
        close(score_with(&f, &[], json!({"v": 15}), &[]).unwrap(), 0.2);
        close(score_with(&f, &[], json!({"v": 10}), &[]).unwrap(), 1.0);
    }
    // Defaults: target 0, scale 1, midpoint 0.5.
    let f = formula(json!({"formula": {"exp_decay": {"x": 2}}}));
    close(score_with(&f, &[], json!({}), &[]).unwrap(), 0.25);
    let f = formula(json!({"formula": {"gauss_decay": {"x": 2}}}));
    close(score_with(&f, &[], json!({}), &[]).unwrap(), 0.5f64.powi(4));
    let f = formula(json!({"formula": {"lin_decay": {"x": 3}}}));
    close(score_with(&f, &[], json!({}), &[]).unwrap(), 0.0);
    let bad = Formula::parse(
        serde_json::from_value(json!({"formula": {"lin_decay": {"x": 1, "scale": 0}}})).unwrap(),
    );
    assert!(matches!(bad, Err(Error::Validation(_))));
}

#[test]
fn geo_and_datetime() {
    let f = formula(
        json!({"formula": {"geo_distance": {"origin": {"lat": 0.0, "lon": 0.0}, "to": "loc"}}}),
    );
    // One degree of longitude on the equator: 2πR/360.
    let want = 2.0 * std::f64::consts::PI * 6_371_008.8 / 360.0;
    let got = score_with(&f, &[], json!({"loc": {"lat": 0.0, "lon": 1.0}}), &[]).unwrap();
    assert!((f64::from(got) - want).abs() < 1.0, "{got} vs {want}");
    let f = formula(
        json!({"formula": {"sum": [{"datetime_key": "t"}, {"neg": {"datetime": "2024-01-01T00:00:00Z"}}]}}),
    );
    close(
        score_with(&f, &[], json!({"t": "2024-01-02T00:00:00Z"}), &[]).unwrap(),
        86_400.0,
    );
}

#[test]
fn bad_formulas_are_refused() {
    for bad in [
        json!({"formula": {"sum": 3}}),
        json!({"formula": {"nope": 1}}),
        json!({"formula": true}),
        json!({"formula": "$score[x]"}),
        json!({"formula": {"datetime": "yesterday"}}),
    ] {
        let parsed = Formula::parse(serde_json::from_value(bad.clone()).unwrap());
        assert!(parsed.is_err(), "{bad}");
    }
}

#[test]
fn conditions_are_bounded() {
    let cond = json!({"key": "tag", "match": {"value": "a"}});
    let many: Vec<Value> = (0..=FORMULA_CONDITIONS_MAX).map(|_| cond.clone()).collect();
    let parsed = Formula::parse(serde_json::from_value(json!({"formula": {"sum": many}})).unwrap());
    assert!(matches!(parsed, Err(Error::Validation(m)) if m.contains("conditions")));
}
