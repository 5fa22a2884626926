//! Semantics of each condition against hand-written payloads.

use serde_json::{json, Value};

use super::tests_de::parse;
use super::*;

pub(super) const ID: PointId = PointId::Num(7);

pub(super) fn matches_point(filter: &Filter, id: PointId, payload: &Value) -> bool {
    let has_vector = |name: &str| name.is_empty() || name == "image";
    let payload = payload.as_object();
    filter.matches(&PointView {
        id,
        payload,
        has_vector: &has_vector,
    })
}

/// Whether a filter with the single `must` condition `cond` matches `payload`.
pub(super) fn hit(cond: Value, payload: Value) -> bool {
    matches_point(&parse(json!({ "must": cond })), ID, &payload)
}

fn field(key: &str, check: &str, arg: Value) -> Value {
    let mut c = json!({ "key": key });
    c[check] = arg;
    c
}

/// For each payload (as the value of key `k`), whether the condition matches it.
fn on_values(check: &str, arg: Value, values: &[Value]) -> Vec<bool> {
    let cond = field("k", check, arg);
    values
        .iter()
        .map(|v| hit(cond.clone(), json!({ "k": v })))
        .collect()
}

#[test]
fn match_value_compares_type_and_value() {
    let values = [
        json!("red"),
        json!(["blue", "red"]),
        json!([["red"]]),
        json!(1),
        json!(1.0),
        json!([0, 1]),
        json!(true),
        json!(null),
        json!({"red": 1}),
        json!("1"),
    ];
    let m = |v: Value| on_values("match", json!({ "value": v }), &values);
    assert_eq!(
        m(json!("red")),
        [true, true, false, false, false, false, false, false, false, false]
    );
    assert_eq!(
        m(json!(1)),
        [false, false, false, true, false, true, false, false, false, false]
    );
    assert_eq!(
        m(json!(true)),
        [false, false, false, false, false, false, true, false, false, false]
    );
    assert_eq!(
        m(json!("1")),
        [false, false, false, false, false, false, false, false, false, true]
    );
    assert!(!hit(
        field("missing", "match", json!({"value": "red"})),
        json!({"k": "red"})
    ));
    assert!(!matches_point(
        &parse(json!({"must": field("k", "match", json!({"value": "red"}))})),
        ID,
        &Value::Null
    ));
}

#[test]
fn paths_step_into_arrays_only_when_asked() {
    let p = json!({
        "a": {"b": {"c": 5}},
        "arr": [{"x": 1}, {"x": [2, 3]}, {"y": 4}],
        "grid": [[1, 2], [3, 4]],
        "the": {"dotted.key": "v"}
    });
    let eq = |key: &str, v: Value| hit(field(key, "match", json!({ "value": v })), p.clone());
    assert!(eq("a.b.c", json!(5)));
    assert!(!eq("a.b", json!(5)));
    assert!(
        !eq("arr.x", json!(1)),
        "no implicit flattening of intermediate arrays"
    );
    assert!(eq("arr[].x", json!(1)));
    assert!(eq("arr[].x", json!(3)), "a final array is looked into");
    assert!(eq("arr[1].x", json!(2)));
    assert!(!eq("arr[0].x", json!(2)));
    assert!(!eq("arr[9].x", json!(1)));
    assert!(eq("grid[][]", json!(4)));
    assert!(!eq("grid", json!(4)), "only one level of a final array");
    assert!(eq("grid[1]", json!(4)));
    assert!(eq("grid[][0]", json!(3)));
    assert!(eq(r#"the."dotted.key""#, json!("v")));
    assert!(!eq("the.dotted.key", json!("v")));
    assert!(!eq("a.b.c.d", json!(5)));
}

#[test]
fn match_any_and_except() {
    let values = [
        json!("a"),
        json!("z"),
        json!(["z", "a"]),
        json!(["z"]),
        json!(1),
        json!(2.5),
        json!(true),
        json!(null),
        json!([]),
        json!([null]),
        json!({"o": 1}),
    ];
    let any = |l: Value| on_values("match", json!({ "any": l }), &values);
    let except = |l: Value| on_values("match", json!({ "except": l }), &values);
    let (t, f) = (true, false);
    assert_eq!(any(json!(["a", "b"])), [t, f, t, f, f, f, f, f, f, f, f]);
    assert_eq!(any(json!([1, 3])), [f, f, f, f, t, f, f, f, f, f, f]);
    assert_eq!(any(json!([])), [f; 11]);
    assert_eq!(except(json!(["a", "b"])), [f, t, t, t, t, t, t, f, f, f, t]);
    assert_eq!(except(json!([1])), [t, t, t, t, f, t, t, f, f, f, t]);
    assert_eq!(except(json!([])), [t, t, t, t, t, t, t, f, f, f, t]);
    assert!(
        !hit(field("gone", "match", json!({"except": ["a"]})), json!({})),
        "missing"
    );
}

#[test]
fn full_text_prefix() {
    let values = [
        json!("Good, cheap hardware"),
        json!("goodness only"),
        json!(["nothing", "cheap and good"]),
        json!(5),
    ];
    let m = |k: &str, q: &str| on_values("match", json!({ k: q }), &values);
    assert_eq!(m("text", "good cheap"), [true, false, true, false]);
    assert_eq!(m("text", "GOOD"), [true, false, true, false]);
    assert_eq!(m("text", ""), [false; 4]);
    assert_eq!(m("text_any", "good only"), [true, true, true, false]);
    assert_eq!(m("phrase", "cheap hardware"), [true, false, false, false]);
    assert_eq!(m("phrase", "good cheap"), [true, false, false, false]);
    assert_eq!(m("phrase", "cheap good"), [false; 4]);
    assert_eq!(
        m("prefix", "good"),
        [false, true, false, false],
        "case-sensitive"
    );
    assert_eq!(m("prefix", "Good"), [true, false, false, false]);
    assert_eq!(m("prefix", ""), [true, true, true, false]);
}

#[test]
fn numeric_range() {
    let values = [
        json!(1),
        json!(2.5),
        json!(3),
        json!([0, 10]),
        json!([0, 2]),
        json!("2"),
        json!(true),
        json!(null),
        json!(u64::MAX),
    ];
    let r = |b: Value| on_values("range", b, &values);
    let (t, f) = (true, false);
    assert_eq!(r(json!({"gte": 1, "lt": 3})), [t, t, f, f, t, f, f, f, f]);
    assert_eq!(r(json!({"gt": 1, "lte": 3})), [f, t, t, f, t, f, f, f, f]);
    assert_eq!(r(json!({"gt": 2.5})), [f, f, t, t, f, f, f, f, t]);
    assert_eq!(r(json!({})), [t, t, t, t, t, f, f, f, t], "numbers only");
    assert_eq!(r(json!({"gt": 5, "lt": 1})), [f; 9]);
}

#[test]
fn datetime_range() {
    let values = [
        json!("2023-02-08T10:49:00Z"),
        json!("2023-02-08T11:49:00+02:00"),
        json!("2023-02-08 12:00:00"),
        json!("2023-02-09"),
        json!(["junk", "2023-02-08T10:50:00.000000001Z"]),
        json!("yesterday"),
        json!(1_675_853_340),
    ];
    let r = |b: Value| on_values("range", b, &values);
    let (t, f) = (true, false);
    assert_eq!(
        r(json!({"gte": "2023-02-08T10:49:00Z", "lt": "2023-02-09"})),
        [t, f, t, f, t, f, f]
    );
    assert_eq!(
        r(json!({"gt": "2023-02-08T10:50:00Z"})),
        [f, f, t, t, t, f, f],
        "nanoseconds count"
    );
    assert_eq!(r(json!({"lte": "2023-02-08 09:49"})), [f, t, f, f, f, f, f]);
}

#[test]
fn geo_conditions_on_payload() {
    let berlin = json!({"lon": 13.404954, "lat": 52.520008});
    let moscow = json!({"lon": 37.6173, "lat": 55.7558});
    let values = [
        berlin.clone(),
        moscow.clone(),
        json!([moscow.clone(), berlin.clone()]),
        json!({"lon": 13.404954}),
        json!({"lon": "13.4", "lat": "52.5"}),
        json!([13.404954, 52.520008]),
        json!({"lon": 13.404954, "lat": 52.520008, "name": "x"}),
    ];
    let (t, f) = (true, false);
    let radius = json!({"center": {"lon": 13.41, "lat": 52.52}, "radius": 2000.0});
    assert_eq!(
        on_values("geo_radius", radius, &values),
        [t, f, t, f, f, f, t]
    );
    let bbox = json!({"top_left": {"lon": 13.08835, "lat": 52.67551},
                      "bottom_right": {"lon": 13.76116, "lat": 52.33826}});
    assert_eq!(
        on_values("geo_bounding_box", bbox, &values),
        [t, f, t, f, f, f, t]
    );
    let square = |lo: f64, hi: f64| {
        json!({"points": [{"lon": lo, "lat": lo}, {"lon": hi, "lat": lo}, {"lon": hi, "lat": hi},
                          {"lon": lo, "lat": hi}, {"lon": lo, "lat": lo}]})
    };
    let poly = json!({"exterior": square(10.0, 60.0), "interiors": [square(35.0, 58.0)]});
    assert_eq!(
        on_values("geo_polygon", poly, &values),
        [t, f, t, f, f, f, t],
        "Moscow in the hole"
    );
}

#[test]
fn values_count() {
    let values = [
        json!([1, 2, 3]),
        json!("x"),
        json!(null),
        json!([]),
        json!({"a": 1, "b": 2}),
    ];
    let c = |b: Value| on_values("values_count", b, &values);
    let (t, f) = (true, false);
    assert_eq!(c(json!({"gt": 2})), [t, f, f, f, f]);
    assert_eq!(c(json!({"lte": 1})), [f, t, t, t, t]);
    assert_eq!(c(json!({"gte": 1, "lt": 3})), [f, t, f, f, t]);
    assert!(
        hit(field("gone", "values_count", json!({"lt": 1})), json!({})),
        "missing = 0 values"
    );
    assert!(!hit(
        field("gone", "values_count", json!({"gt": 0})),
        json!({})
    ));
    // Counted per value reached: some element of `a` has 3 tags.
    let p = json!({"a": [{"tags": [1]}, {"tags": [1, 2, 3]}]});
    assert!(hit(
        field("a[].tags", "values_count", json!({"gte": 3})),
        p.clone()
    ));
    assert!(!hit(
        field("a[].tags", "values_count", json!({"gte": 4})),
        p.clone()
    ));
    assert!(hit(field("a", "values_count", json!({"lt": 3})), p));
}

#[test]
fn is_empty_and_is_null() {
    let values = [
        json!(null),
        json!([]),
        json!([null]),
        json!([null, 1]),
        json!(""),
        json!({}),
        json!(0),
        json!(false),
    ];
    let p = |v: &Value| json!({ "k": v });
    let (t, f) = (true, false);
    let empty: Vec<bool> = values
        .iter()
        .map(|v| hit(json!({"is_empty": {"key": "k"}}), p(v)))
        .collect();
    assert_eq!(empty, [t, t, f, f, f, f, f, f]);
    let null: Vec<bool> = values
        .iter()
        .map(|v| hit(json!({"is_null": {"key": "k"}}), p(v)))
        .collect();
    assert_eq!(null, [t, f, t, t, f, f, f, f]);
    assert!(hit(json!({"is_empty": {"key": "k"}}), json!({})));
    assert!(!hit(json!({"is_null": {"key": "k"}}), json!({})));
    // The field-condition flags are the same tests, compared with the flag.
    for v in &values {
        for flag in [true, false] {
            let want_e = hit(json!({"is_empty": {"key": "k"}}), p(v)) == flag;
            assert_eq!(
                hit(field("k", "is_empty", json!(flag)), p(v)),
                want_e,
                "{v} {flag}"
            );
            let want_n = hit(json!({"is_null": {"key": "k"}}), p(v)) == flag;
            assert_eq!(
                hit(field("k", "is_null", json!(flag)), p(v)),
                want_n,
                "{v} {flag}"
            );
        }
    }
    assert!(
        hit(field("k", "is_null", json!(false)), json!({})),
        "missing is not null"
    );
    // Over several values: empty needs all of them empty, null needs one null.
    let multi = json!({"a": [{"b": 1}, {"b": []}, {"b": null}]});
    assert!(!hit(json!({"is_empty": {"key": "a[].b"}}), multi.clone()));
    assert!(hit(json!({"is_null": {"key": "a[].b"}}), multi));
    assert!(hit(
        json!({"is_empty": {"key": "a[].b"}}),
        json!({"a": [{"b": []}, {"c": 1}]})
    ));
}
