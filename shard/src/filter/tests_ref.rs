//! The reference evaluator for `tests_prop`: interprets a filter's JSON directly over
//! `serde_json::Value`, sharing no code with the implementation (own path splitting, own
//! tokenizer, collect-then-decide). Deliberately naive.

use serde_json::{json, Map, Value};

/// Values at a dotted path; each segment is `name` followed by any `[]` / `[n]`.
fn ref_values<'v>(payload: &'v Map<String, Value>, path: &str) -> Vec<&'v Value> {
    let mut current: Vec<&Value> = Vec::new();
    for (i, segment) in path.split('.').enumerate() {
        let (name, suffix) = segment.split_at(segment.find('[').unwrap_or(segment.len()));
        current = if i == 0 {
            payload.get(name).into_iter().collect()
        } else {
            current
                .iter()
                .filter_map(|v| v.as_object()?.get(name))
                .collect()
        };
        for sub in suffix.split_terminator(']') {
            let sub = sub.trim_start_matches('[');
            current = if sub.is_empty() {
                current
                    .iter()
                    .filter_map(|v| v.as_array())
                    .flatten()
                    .collect()
            } else {
                let n: usize = sub.parse().expect("index");
                current
                    .iter()
                    .filter_map(|v| v.as_array()?.get(n))
                    .collect()
            };
        }
    }
    current
}

/// The reached values with one level of final arrays opened.
fn ref_flat<'v>(values: &[&'v Value]) -> Vec<&'v Value> {
    let mut out = Vec::new();
    for v in values {
        match v {
            Value::Array(items) => out.extend(items.iter()),
            other => out.push(*other),
        }
    }
    out
}

fn ref_same(stored: &Value, wanted: &Value) -> bool {
    match (stored, wanted) {
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Number(a), Value::Number(b)) => a.is_i64() && a.as_i64() == b.as_i64(),
        _ => false,
    }
}

fn ref_words(s: &str) -> Vec<String> {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect()
}

fn ref_bounds_ok(bounds: &Value, x: f64) -> bool {
    let b = |k: &str| bounds.get(k).and_then(Value::as_f64);
    b("lt").is_none_or(|v| x < v)
        && b("gt").is_none_or(|v| x > v)
        && b("lte").is_none_or(|v| x <= v)
        && b("gte").is_none_or(|v| x >= v)
}

fn ref_is_empty(values: &[&Value]) -> bool {
    values
        .iter()
        .all(|v| v.is_null() || v.as_array().is_some_and(|a| a.is_empty()))
}

fn ref_is_null(values: &[&Value]) -> bool {
    values
        .iter()
        .any(|v| v.is_null() || v.as_array().is_some_and(|a| a.iter().any(Value::is_null)))
}

fn ref_field(c: &Value, payload: &Map<String, Value>) -> bool {
    let values = ref_values(payload, c["key"].as_str().expect("key"));
    let flat = ref_flat(&values);
    if let Some(flag) = c.get("is_empty") {
        return ref_is_empty(&values) == flag.as_bool().expect("flag");
    }
    if let Some(flag) = c.get("is_null") {
        return ref_is_null(&values) == flag.as_bool().expect("flag");
    }
    if let Some(bounds) = c.get("values_count") {
        let counts: Vec<f64> = if values.is_empty() {
            vec![0.0]
        } else {
            values
                .iter()
                .map(|v| match v {
                    Value::Null => 0.0,
                    Value::Array(a) => a.len() as f64,
                    _ => 1.0,
                })
                .collect()
        };
        return counts.iter().any(|&n| ref_bounds_ok(bounds, n));
    }
    if let Some(bounds) = c.get("range") {
        return flat
            .iter()
            .any(|v| v.is_number() && ref_bounds_ok(bounds, v.as_f64().expect("num")));
    }
    let m = &c["match"];
    if let Some(want) = m.get("value") {
        return flat.iter().any(|v| ref_same(v, want));
    }
    if let Some(list) = m.get("any") {
        let list = list.as_array().expect("list");
        return flat.iter().any(|v| list.iter().any(|w| ref_same(v, w)));
    }
    if let Some(list) = m.get("except") {
        let list = list.as_array().expect("list");
        return flat
            .iter()
            .any(|v| !v.is_null() && !list.iter().any(|w| ref_same(v, w)));
    }
    let query = ref_words(m["text"].as_str().expect("text"));
    flat.iter().any(|v| {
        let doc = ref_words(v.as_str().unwrap_or(""));
        v.is_string() && !query.is_empty() && query.iter().all(|w| doc.contains(w))
    })
}

fn ref_condition(c: &Value, payload: &Map<String, Value>, id: Option<u64>) -> bool {
    if c.get("key").is_some() {
        return ref_field(c, payload);
    }
    if let Some(f) = c.get("is_empty") {
        return ref_is_empty(&ref_values(payload, f["key"].as_str().expect("key")));
    }
    if let Some(f) = c.get("is_null") {
        return ref_is_null(&ref_values(payload, f["key"].as_str().expect("key")));
    }
    if let Some(ids) = c.get("has_id") {
        return id.is_some_and(|id| ids.as_array().expect("ids").contains(&json!(id)));
    }
    if let Some(name) = c.get("has_vector") {
        // The vectors test points have, decided by `ref_has_vector`.
        return id.is_some_and(|id| ref_has_vector(id, name.as_str().expect("name")));
    }
    if let Some(n) = c.get("nested") {
        let key = n["key"].as_str().expect("key").trim_end_matches("[]");
        let arrays = ref_values(payload, key);
        let elements = arrays.iter().filter_map(|v| v.as_array()).flatten();
        return elements
            .filter_map(Value::as_object)
            .any(|obj| ref_filter(&n["filter"], obj, None));
    }
    ref_filter(c, payload, id)
}

fn ref_list(clause: Option<&Value>) -> Vec<&Value> {
    match clause {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one) => vec![one],
    }
}

pub(super) fn ref_filter(f: &Value, payload: &Map<String, Value>, id: Option<u64>) -> bool {
    let eval = |c: &&Value| ref_condition(c, payload, id);
    let must = ref_list(f.get("must"));
    let should = ref_list(f.get("should"));
    let must_not = ref_list(f.get("must_not"));
    let min_ok = match f.get("min_should") {
        None => true,
        Some(m) => {
            let hits = ref_list(m.get("conditions"))
                .iter()
                .filter(|c| eval(c))
                .count();
            hits as u64 >= m["min_count"].as_u64().expect("min_count")
        }
    };
    must.iter().all(eval)
        && !must_not.iter().any(eval)
        && (should.is_empty() || should.iter().any(eval))
        && min_ok
}

pub(super) fn ref_has_vector(id: u64, name: &str) -> bool {
    match name {
        "" => true,
        "v1" => id.is_multiple_of(2),
        _ => false,
    }
}
