//! Deserialization of Qdrant's documented filter forms, and error messages.

use serde_json::{json, Value};

use super::*;

pub(super) fn parse(j: Value) -> Filter {
    let f: Filter = serde_json::from_value(j.clone()).unwrap_or_else(|e| panic!("{j}: {e}"));
    f.validate().unwrap_or_else(|e| panic!("{j}: {e}"));
    f
}

fn de_err(j: Value) -> String {
    match serde_json::from_value::<Filter>(j.clone()) {
        Ok(f) => panic!("{j} should not deserialize, got {f:?}"),
        Err(e) => e.to_string(),
    }
}

fn field(c: &Condition) -> &FieldCondition {
    match c {
        Condition::Field(f) => f,
        other => panic!("not a field condition: {other:?}"),
    }
}

#[test]
fn clauses_take_one_condition_a_list_or_null() {
    let one = parse(json!({"must": {"key": "city", "match": {"value": "London"}}}));
    let list = parse(json!({"must": [{"key": "city", "match": {"value": "London"}}]}));
    assert_eq!(one, list);
    assert_eq!(one.must.len(), 1);
    let nulls = parse(json!({"must": null, "should": null, "must_not": null, "min_should": null}));
    assert!(nulls.is_empty());
    assert!(parse(json!({})).is_empty());
    let f = parse(json!({
        "should": [{"key": "city", "match": {"value": "London"}}],
        "must_not": {"key": "color", "match": {"value": "red"}}
    }));
    assert_eq!((f.must.len(), f.should.len(), f.must_not.len()), (0, 1, 1));
    assert!(!f.is_empty());
}

#[test]
fn match_forms() {
    let m = |j: Value| {
        let f = parse(json!({"must": [{"key": "k", "match": j}]}));
        field(&f.must[0]).r#match.clone().expect("match")
    };
    assert_eq!(
        m(json!({"value": "red"})),
        Match::Value(ValueVariant::Keyword("red".into()))
    );
    assert_eq!(
        m(json!({"value": -3})),
        Match::Value(ValueVariant::Integer(-3))
    );
    assert_eq!(
        m(json!({"value": true})),
        Match::Value(ValueVariant::Bool(true))
    );
    assert_eq!(
        m(json!({"any": ["b", "a", "b"]})),
        Match::Any(AnyVariants::Keywords(vec!["a".into(), "b".into()]))
    );
    assert_eq!(
        m(json!({"any": [3, 1, 3]})),
        Match::Any(AnyVariants::Integers(vec![1, 3]))
    );
    assert_eq!(
        m(json!({"any": []})),
        Match::Any(AnyVariants::Keywords(vec![]))
    );
    assert_eq!(
        m(json!({"except": ["black", "yellow"]})),
        Match::Except(AnyVariants::Keywords(vec!["black".into(), "yellow".into()]))
    );
    let Match::Text(q) = m(json!({"text": "Good cheap"})) else {
        panic!("text")
    };
    assert_eq!(
        (q.text.as_str(), q.tokens.clone()),
        ("Good cheap", vec!["good".into(), "cheap".into()])
    );
    assert!(matches!(
        m(json!({"text_any": "good cheap"})),
        Match::TextAny(_)
    ));
    assert!(matches!(
        m(json!({"phrase": "good cheap"})),
        Match::Phrase(_)
    ));
    assert_eq!(m(json!({"prefix": "ab"})), Match::Prefix("ab".into()));
}

#[test]
fn range_forms() {
    let r = |j: Value| {
        let f = parse(json!({"must": [{"key": "k", "range": j}]}));
        field(&f.must[0]).range.clone().expect("range")
    };
    assert_eq!(
        r(json!({"gt": null, "gte": 100.0, "lt": null, "lte": 450})),
        RangeInterface::Float(Range {
            gte: Some(100.0),
            lte: Some(450.0),
            ..Range::default()
        })
    );
    assert_eq!(r(json!({})), RangeInterface::Float(Range::default()));
    let RangeInterface::Datetime(d) = r(json!({
        "gt": "2023-02-08T10:49:00Z",
        "gte": null,
        "lt": "2024-01-31 10:14:31",
        "lte": "2024-01-31"
    })) else {
        panic!("datetime range")
    };
    assert_eq!(d.gt, Timestamp::parse("2023-02-08T10:49:00Z"));
    assert_eq!(d.lt, Timestamp::parse("2024-01-31T10:14:31Z"));
    assert_eq!(d.lte, Timestamp::parse("2024-01-31T00:00:00Z"));
    assert_eq!(d.gte, None);
}

#[test]
fn geo_values_count_and_flag_forms() {
    let f = parse(json!({"must": [
        {"key": "location", "geo_bounding_box": {
            "bottom_right": {"lon": 13.455868, "lat": 52.495862},
            "top_left": {"lon": 13.403683, "lat": 52.520711}}},
        {"key": "location", "geo_radius": {"center": {"lon": 13.403683, "lat": 52.520711}, "radius": 1000.0}},
        {"key": "location", "geo_polygon": {
            "exterior": {"points": [
                {"lon": -70.0, "lat": -70.0}, {"lon": 60.0, "lat": -70.0},
                {"lon": 60.0, "lat": 60.0}, {"lon": -70.0, "lat": 60.0}, {"lon": -70.0, "lat": -70.0}]},
            "interiors": [{"points": [
                {"lon": -65.0, "lat": -65.0}, {"lon": 0.0, "lat": -65.0},
                {"lon": 0.0, "lat": 0.0}, {"lon": -65.0, "lat": 0.0}, {"lon": -65.0, "lat": -65.0}]}]}},
        {"key": "comments", "values_count": {"gt": 2}},
        {"key": "reports", "is_empty": true},
        {"key": "reports", "is_null": false}
    ]}));
    assert_eq!(f.must.len(), 6);
    let c = field(&f.must[1]).geo_radius.clone().expect("radius");
    assert_eq!((c.center.lat, c.radius), (52.520711, 1000.0));
    let p = field(&f.must[2]).geo_polygon.clone().expect("polygon");
    assert_eq!(p.interiors.map(|i| i.len()), Some(1));
    assert_eq!(field(&f.must[3]).values_count.map(|v| v.gt), Some(Some(2)));
    assert_eq!(field(&f.must[4]).is_empty, Some(true));
    assert_eq!(field(&f.must[5]).is_null, Some(false));
}

#[test]
fn point_and_structure_conditions() {
    let uuid = "550e8400-e29b-41d4-a716-446655440000";
    let f = parse(json!({
        "must": [
            {"is_empty": {"key": "reports"}},
            {"is_null": {"key": "reports"}},
            {"has_id": [5, 1, uuid, 1]},
            {"has_vector": "image"},
            {"nested": {"key": "diet", "filter": {"must": [
                {"key": "food", "match": {"value": "meat"}},
                {"key": "likes", "match": {"value": true}}]}}},
            {"slice": {"total": 4, "index": 1}},
            {"should": [{"key": "a", "match": {"value": 1}}]}
        ],
        "min_should": {"conditions": [
            {"key": "city", "match": {"value": "London"}},
            {"key": "color", "match": {"value": "red"}}], "min_count": 1}
    }));
    let Condition::HasId(ids) = &f.must[2] else {
        panic!("has_id")
    };
    let want = [
        PointId::Num(1),
        PointId::Num(5),
        PointId::parse(uuid).expect("uuid"),
    ];
    assert_eq!(ids.has_id, want, "sorted, deduplicated");
    let Condition::Nested(n) = &f.must[4] else {
        panic!("nested")
    };
    assert_eq!(n.nested.key.as_str(), "diet[]");
    assert_eq!(n.nested.filter.must.len(), 2);
    assert!(matches!(&f.must[3], Condition::HasVector(h) if h.has_vector == "image"));
    assert!(matches!(&f.must[5], Condition::Slice(s) if s.slice == Slice { total: 4, index: 1 }));
    assert!(matches!(&f.must[6], Condition::Filter(g) if g.should.len() == 1));
    assert_eq!(
        f.min_should
            .as_ref()
            .map(|m| (m.min_count, m.conditions.len())),
        Some((1, 2))
    );
}

#[test]
fn key_paths() {
    let p = |s: &str| JsonPath::parse(s);
    let ok = p(r#"country.cities[].sightseeing[0]."a.b""#).expect("path");
    assert_eq!(ok.first_key(), "country");
    assert_eq!(
        ok.rest(),
        [
            PathItem::Key("cities".into()),
            PathItem::Wildcard,
            PathItem::Key("sightseeing".into()),
            PathItem::Index(0),
            PathItem::Key("a.b".into()),
        ]
    );
    assert_eq!(p("snake_case-kebab.ünï").expect("unicode").rest().len(), 1);
    assert_eq!(
        p(r#""with space""#).expect("quoted").first_key(),
        "with space"
    );
    for bad in [
        "", ".a", "a.", "a..b", "a[x]", "a[", "a[1", "a b", "[]", "a.\"open", "a]",
    ] {
        assert!(p(bad).is_err(), "{bad:?} should not parse");
    }
    let deep = vec!["a"; PATH_ITEMS_MAX + 1].join(".");
    assert!(p(&deep).unwrap_err().contains("more than"));
    assert!(p(&vec!["a"; PATH_ITEMS_MAX].join(".")).is_ok());
    let e = de_err(json!({"must": [{"key": "a b", "match": {"value": 1}}]}));
    assert!(e.contains("bad payload key path"), "{e}");
}

#[test]
fn unknown_and_mistyped_fields_are_errors() {
    let cases = [
        (json!({"musts": []}), "unknown field `musts`"),
        (
            json!({"must": [{"key": "a", "match": {"value": 1}, "extra": 1}]}),
            "unknown field `extra`",
        ),
        (
            json!({"must": [{"key": "a", "match": {"values": 1}}]}),
            "unknown match `values`",
        ),
        (
            json!({"must": [{"key": "a", "match": {"value": 1, "any": [1]}}]}),
            "exactly one of",
        ),
        (
            json!({"must": [{"key": "a", "match": {}}]}),
            "exactly one of",
        ),
        (
            json!({"must": [{"key": "a", "match": {"value": 1.5}}]}),
            "64-bit integer",
        ),
        (
            json!({"must": [{"key": "a", "match": {"value": null}}]}),
            "match.value",
        ),
        (
            json!({"must": [{"key": "a", "match": {"value": u64::MAX}}]}),
            "does not fit",
        ),
        (
            json!({"must": [{"key": "a", "match": {"any": ["a", 1]}}]}),
            "list of strings",
        ),
        (
            json!({"must": [{"key": "a", "match": {"except": [1.5]}}]}),
            "list of strings",
        ),
        (
            json!({"must": [{"key": "a", "match": {"text": 3}}]}),
            "must be a string",
        ),
        (
            json!({"must": [{"key": "a", "range": {"gt": 1, "lt": "2020-01-01"}}]}),
            "mixes",
        ),
        (
            json!({"must": [{"key": "a", "range": {"gt": "yesterday"}}]}),
            "not a datetime",
        ),
        (
            json!({"must": [{"key": "a", "range": {"from": 1}}]}),
            "unknown range bound",
        ),
        (
            json!({"must": [{"key": "a", "range": {"gt": true}}]}),
            "number or a datetime",
        ),
        (
            json!({"must": [{"key": "a", "geo_radius": {"center": {"lon": 1.0}, "radius": 1.0}}]}),
            "missing field `lat`",
        ),
        (
            json!({"must": [{"key": "a", "values_count": {"gt": -1}}]}),
            "invalid value",
        ),
        (json!({"must": [1]}), "must be an object"),
        (
            json!({"must": [{"foo": 1}]}),
            "unknown condition field `foo`",
        ),
        (
            json!({"must": [{"must": [], "foo": 1}]}),
            "unknown condition field `foo`",
        ),
        (json!({"must": [{"has_id": [-1]}]}), "unsigned"),
        (json!({"must": [{"has_id": ["not-a-uuid"]}]}), "UUID"),
        (
            json!({"must": [{"has_id": [1], "must": []}]}),
            "unknown field `must`",
        ),
        (
            json!({"must": [{"nested": {"key": "a"}}]}),
            "missing field `filter`",
        ),
        (
            json!({"min_should": {"conditions": []}}),
            "missing field `min_count`",
        ),
        (json!({"must": [{"is_empty": "reports"}]}), "invalid type"),
        (
            json!({"must": [{"slice": {"total": 2}}]}),
            "missing field `index`",
        ),
        (
            json!({"must": "x"}),
            "a condition, a list of conditions, or null",
        ),
    ];
    for (j, want) in cases {
        let e = de_err(j.clone());
        assert!(
            e.contains(want),
            "{j}: got {e:?}, wanted it to contain {want:?}"
        );
    }
}

#[test]
fn filter_is_send_sync_clone_debug() {
    fn assert_traits<T: Send + Sync + Clone + std::fmt::Debug + 'static>() {}
    assert_traits::<Filter>();
    assert_traits::<Condition>();
}
