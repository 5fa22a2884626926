//! Point conditions, `nested`, and the boolean structure of filters.

use serde_json::{json, Value};

use super::tests_de::parse;
use super::tests_eval::{hit, matches_point, ID};
use super::*;

#[test]
fn point_conditions() {
    let uuid = PointId::parse("550e8400-e29b-41d4-a716-446655440000").expect("uuid");
    let f = parse(json!({"must": {"has_id": [1, 7, "550e8400-e29b-41d4-a716-446655440000"]}}));
    let on = |id: PointId| matches_point(&f, id, &json!({}));
    assert!(on(ID) && on(uuid) && on(PointId::Num(1)));
    assert!(!on(PointId::Num(2)) && !on(PointId::Uuid(1)));
    assert!(hit(json!({"has_vector": ""}), json!({})));
    assert!(hit(json!({"has_vector": "image"}), json!({})));
    assert!(!hit(json!({"has_vector": "text"}), json!({})));
    let in_slice = |id: PointId, index: u32| {
        let f = parse(json!({"must": {"slice": {"total": 3, "index": index}}}));
        matches_point(&f, id, &json!({}))
    };
    for id in [ID, uuid, PointId::Num(0)] {
        assert_eq!((0..3).filter(|&i| in_slice(id, i)).count(), 1, "{id}");
    }
}

/// The dinosaur example from Qdrant's docs on nested object filters.
#[test]
fn nested_holds_for_one_element() {
    let t_rex = json!({"dinosaur": "t-rex", "diet": [
        {"food": "leaves", "likes": false}, {"food": "meat", "likes": true}]});
    let diplodocus = json!({"dinosaur": "diplodocus", "diet": [
        {"food": "leaves", "likes": true}, {"food": "meat", "likes": false}]});
    let flat = parse(json!({"must": [
        {"key": "diet[].food", "match": {"value": "meat"}},
        {"key": "diet[].likes", "match": {"value": true}}]}));
    assert!(matches_point(&flat, ID, &t_rex) && matches_point(&flat, ID, &diplodocus));
    for key in ["diet", "diet[]"] {
        let nested = parse(json!({"must": {"nested": {"key": key, "filter": {"must": [
            {"key": "food", "match": {"value": "meat"}},
            {"key": "likes", "match": {"value": true}}]}}}}));
        assert!(matches_point(&nested, ID, &t_rex), "{key}");
        assert!(!matches_point(&nested, ID, &diplodocus), "{key}");
    }
    let not_liked = parse(
        json!({"must_not": {"nested": {"key": "diet", "filter": {"must": [
        {"key": "food", "match": {"value": "meat"}},
        {"key": "likes", "match": {"value": false}}]}}}}),
    );
    assert!(matches_point(&not_liked, ID, &t_rex) && !matches_point(&not_liked, ID, &diplodocus));
    // Not an array of objects: nothing to hold for.
    let any_food = |p: Value| {
        hit(
            json!({"nested": {"key": "diet", "filter": {"must": {"is_empty": {"key": "x"}}}}}),
            p,
        )
    };
    assert!(any_food(json!({"diet": [{"food": 1}]})));
    assert!(!any_food(json!({"diet": {"food": 1}})));
    assert!(!any_food(json!({"diet": [1, "x", null]})));
    assert!(!any_food(json!({"diet": []})));
    assert!(!any_food(json!({})));
    // Deeper: countries whose some city has population > 8 and a sight named "Tower".
    let p = json!({"country": {"cities": [
        {"population": 9, "sights": ["Gate"]}, {"population": 1, "sights": ["Tower"]}]}});
    let deep = |pop: i64| {
        hit(
            json!({"nested": {"key": "country.cities", "filter": {"must": [
            {"key": "population", "range": {"gt": pop}},
            {"key": "sights", "match": {"value": "Tower"}}]}}}),
            p.clone(),
        )
    };
    assert!(deep(0) && !deep(8));
}

#[test]
fn point_conditions_are_false_inside_nested_even_unvalidated() {
    let f: Filter = serde_json::from_value(json!({"must": {"nested": {"key": "a", "filter":
        {"must_not": {"has_id": [7]}}}}}))
    .expect("parses");
    assert!(f.validate().is_err());
    assert!(
        matches_point(&f, ID, &json!({"a": [{}]})),
        "has_id is false there, so must_not holds"
    );
}

#[test]
fn boolean_structure() {
    let p = json!({"city": "London", "color": "red", "n": 3});
    let city = |c: &str| json!({"key": "city", "match": {"value": c}});
    let color = |c: &str| json!({"key": "color", "match": {"value": c}});
    let on = |f: Value| matches_point(&parse(f), ID, &p);
    assert!(on(json!({})));
    assert!(on(json!({"must": [city("London"), color("red")]})));
    assert!(!on(json!({"must": [city("London"), color("blue")]})));
    assert!(on(json!({"should": [city("Paris"), color("red")]})));
    assert!(!on(json!({"should": [city("Paris"), color("blue")]})));
    assert!(
        on(json!({"should": []})),
        "an empty should constrains nothing"
    );
    assert!(!on(json!({"must_not": [city("Paris"), color("red")]})));
    assert!(on(json!({"must_not": [city("Paris"), color("blue")]})));
    assert!(on(
        json!({"must": city("London"), "must_not": color("blue"), "should": color("red")})
    ));
    assert!(!on(
        json!({"must": city("London"), "must_not": color("red")})
    ));
    let min =
        |n: usize, conds: Value| on(json!({"min_should": {"conditions": conds, "min_count": n}}));
    let three = json!([city("London"), color("red"), color("blue")]);
    assert!(min(1, three.clone()) && min(2, three.clone()) && !min(3, three));
    assert!(!min(1, json!([])));
    assert!(!min(5, json!([city("London")])));
    assert!(
        on(json!({"must_not": {"must_not": city("London")}})),
        "a filter as a condition"
    );
    assert!(!on(
        json!({"should": [{"must": [city("London"), color("blue")]}, {"must": [city("Paris")]}]})
    ));
}

#[test]
fn missing_payload_is_an_empty_one() {
    let none = |f: Value| {
        let never = |_: &str| false;
        parse(f).matches(&PointView {
            id: ID,
            payload: None,
            has_vector: &never,
        })
    };
    assert!(none(json!({})));
    assert!(none(json!({"must": {"is_empty": {"key": "a"}}})));
    assert!(none(
        json!({"must": {"key": "a", "values_count": {"lt": 1}}})
    ));
    assert!(!none(json!({"must": {"is_null": {"key": "a"}}})));
    assert!(!none(
        json!({"must": {"key": "a", "match": {"except": ["x"]}}})
    ));
    assert!(none(
        json!({"must_not": {"key": "a", "match": {"value": "x"}}})
    ));
    assert!(none(json!({"must": {"has_id": [7]}})));
}
