//! Randomized comparison against a reference evaluator that interprets the filter's JSON
//! directly over `serde_json::Value`, with its own path splitting and no shared code: the
//! implementation parses, the reference reads the raw request. Both follow the semantics in
//! `eval.rs`, written here as plainly as possible (collect everything, then decide).

use serde_json::{json, Map, Value};

use super::tests_ref::{ref_filter, ref_has_vector};
use super::*;

/// splitmix64: deterministic, dependency-free.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub(crate) fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const KEYS: [&str; 3] = ["a", "b", "c"];
const WORDS: [&str; 4] = ["x", "y", "x y", "Y"];
pub(crate) const PATHS: [&str; 9] = ["a", "b", "c", "a.b", "a[].b", "a[]", "c[0]", "a.c", "b[][]"];

fn gen_value(r: &mut Rng, depth: usize) -> Value {
    let kinds = if depth == 0 { 5 } else { 7 };
    match r.below(kinds) {
        0 => Value::Null,
        1 => json!(r.chance(50)),
        2 => json!(r.below(5) as i64 - 2),
        3 => json!(r.pick(&[0.5, 1.5, 2.0])),
        4 => json!(r.pick(&WORDS)),
        5 => Value::Array((0..r.below(4)).map(|_| gen_value(r, depth - 1)).collect()),
        _ => Value::Object(gen_object(r, depth - 1)),
    }
}

pub(crate) fn gen_object(r: &mut Rng, depth: usize) -> Map<String, Value> {
    let mut obj = Map::new();
    for k in KEYS {
        if r.chance(60) {
            obj.insert(k.to_string(), gen_value(r, depth));
        }
    }
    obj
}

fn gen_scalar_list(r: &mut Rng) -> Value {
    if r.chance(50) {
        Value::Array((0..r.below(3)).map(|_| json!(r.pick(&WORDS))).collect())
    } else {
        Value::Array(
            (0..r.below(3))
                .map(|_| json!(r.below(5) as i64 - 2))
                .collect(),
        )
    }
}

pub(crate) fn gen_field(r: &mut Rng) -> Value {
    let key = r.pick(&PATHS);
    let check = match r.below(9) {
        0 => json!({"match": {"value": r.pick(&WORDS)}}),
        1 => json!({"match": {"value": r.below(5) as i64 - 2}}),
        2 => json!({"match": {"value": r.chance(50)}}),
        3 => json!({"match": {"any": gen_scalar_list(r)}}),
        4 => json!({"match": {"except": gen_scalar_list(r)}}),
        5 => {
            let mut b = Map::new();
            for bound in ["lt", "gt", "gte", "lte"] {
                if r.chance(40) {
                    b.insert(bound.into(), json!(r.pick(&[-1.0, 0.0, 0.5, 1.0, 2.0])));
                }
            }
            json!({ "range": b })
        }
        6 => json!({"values_count": {r.pick(&["lt", "gt", "gte", "lte"]): r.below(4)}}),
        7 => json!({r.pick(&["is_empty", "is_null"]): r.chance(50)}),
        _ => json!({"match": {"text": r.pick(&["x", "Y x", "y", ""])}}),
    };
    let mut c = check;
    c["key"] = json!(key);
    c
}

fn gen_condition(r: &mut Rng, depth: usize, in_nested: bool) -> Value {
    let kinds = if depth == 0 { 5 } else { 7 };
    match r.below(kinds) {
        0 | 1 => gen_field(r),
        2 => json!({ r.pick(&["is_empty", "is_null"]): {"key": r.pick(&PATHS)} }),
        3 if !in_nested => json!({"has_id": [r.below(4), r.below(4)]}),
        3 => gen_field(r),
        4 if !in_nested => json!({"has_vector": r.pick(&["", "v1", "v2"])}),
        4 => gen_field(r),
        5 => {
            json!({"nested": {"key": r.pick(&["a", "c", "a[]"]), "filter": gen_filter(r, depth - 1, true)}})
        }
        _ => gen_filter(r, depth - 1, in_nested),
    }
}

pub(crate) fn gen_filter(r: &mut Rng, depth: usize, in_nested: bool) -> Value {
    let mut f = Map::new();
    for clause in ["must", "should", "must_not"] {
        if r.chance(45) {
            let conds: Vec<Value> = (0..r.below(3))
                .map(|_| gen_condition(r, depth, in_nested))
                .collect();
            // Exercise the single-condition form too.
            let v = match (conds.len(), r.chance(50)) {
                (1, true) => conds[0].clone(),
                _ => Value::Array(conds),
            };
            f.insert(clause.into(), v);
        }
    }
    if r.chance(20) {
        let conds: Vec<Value> = (0..r.below(4))
            .map(|_| gen_condition(r, depth, in_nested))
            .collect();
        f.insert(
            "min_should".into(),
            json!({"conditions": conds, "min_count": 1 + r.below(2)}),
        );
    }
    Value::Object(f)
}

#[test]
fn random_filters_agree_with_reference() {
    const SEEDS: u64 = 400;
    const PAYLOADS_PER_FILTER: usize = 25;
    const FILTER_DEPTH: usize = 3;
    let mut outcomes = [0usize; 2];
    for seed in 0..SEEDS {
        let mut r = Rng(seed);
        let json_filter = gen_filter(&mut r, FILTER_DEPTH, false);
        let filter = Filter::from_value(json_filter.clone())
            .unwrap_or_else(|e| panic!("seed {seed}: {json_filter}: {e}"));
        for _ in 0..PAYLOADS_PER_FILTER {
            let payload = gen_object(&mut r, 3);
            let id = r.below(4) as u64;
            let has_vector = |name: &str| ref_has_vector(id, name);
            let got = filter.matches(&PointView {
                id: PointId::Num(id),
                payload: Some(&payload),
                has_vector: &has_vector,
            });
            let want = ref_filter(&json_filter, &payload, Some(id));
            assert_eq!(
                got,
                want,
                "seed {seed}\nfilter {json_filter}\npayload {}\nid {id}",
                Value::Object(payload.clone())
            );
            outcomes[usize::from(got)] += 1;
        }
    }
    // Both answers must be common, or the comparison proves little.
    let total = outcomes[0] + outcomes[1];
    assert!(outcomes.iter().all(|&n| n * 20 > total), "{outcomes:?}");
}

/// The same comparison for single field conditions, where disagreements are easiest to read.
#[test]
fn random_field_conditions_agree_with_reference() {
    const CASES: u64 = 20_000;
    let mut outcomes = [0usize; 2];
    let mut r = Rng(0xF1E1D);
    for _ in 0..CASES {
        let cond = gen_field(&mut r);
        let json_filter = json!({ "must": cond });
        let filter = Filter::from_value(json_filter.clone()).expect("valid");
        let payload = gen_object(&mut r, 3);
        let never = |_: &str| false;
        let got = filter.matches(&PointView {
            id: PointId::Num(0),
            payload: Some(&payload),
            has_vector: &never,
        });
        let want = ref_filter(&json_filter, &payload, Some(0));
        assert_eq!(got, want, "{cond} on {}", Value::Object(payload.clone()));
        outcomes[usize::from(got)] += 1;
    }
    assert!(
        outcomes.iter().all(|&n| n * 10 > CASES as usize),
        "{outcomes:?}"
    );
}
