//! The superset contract, on random payloads and random filters (the filter module's own
//! generators): every slot whose payload passes a filter is among the index's candidates.

use serde_json::json;

use super::*;
use crate::filter::tests_prop::{gen_field, gen_filter, gen_object, Rng, PATHS};
use crate::filter::{Filter, PointView};
use crate::point_id::PointId;

const KINDS: [IndexKind; 8] = [
    IndexKind::Keyword,
    IndexKind::Integer,
    IndexKind::Float,
    IndexKind::Bool,
    IndexKind::Datetime,
    IndexKind::Uuid,
    IndexKind::Text,
    IndexKind::Geo,
];

fn passes(filter: &Filter, payload: &Payload) -> bool {
    let never = |_: &str| false;
    filter.matches(&PointView {
        id: PointId::Num(0),
        payload: Some(payload),
        has_vector: &never,
    })
}

#[test]
fn candidates_always_contain_every_match() {
    const SEEDS: u64 = 3_000;
    const SLOTS: u32 = 40;
    let (mut narrowed, mut exact) = (0, 0);
    for seed in 0..SEEDS {
        let mut r = Rng(seed ^ 0x1DE_C0DE);
        let defs: Vec<(JsonPath, IndexKind)> = PATHS
            .iter()
            .map(|p| (JsonPath::parse(p).unwrap(), r.pick(&KINDS)))
            .collect();
        let payloads: Vec<Payload> = (0..SLOTS).map(|_| gen_object(&mut r, 3)).collect();
        let index = PayloadIndex::build(&defs, SLOTS, |s| Some(payloads[s as usize].clone()));
        // Plain conjunctions of field conditions (what indexes serve), and whole random
        // filters (every other shape must be handled safely).
        let json_filter = match seed % 3 {
            0 => gen_filter(&mut r, 2, false),
            1 => json!({"must": [gen_field(&mut r)]}),
            _ => json!({"must": [gen_field(&mut r), gen_field(&mut r)],
                        "should": [gen_field(&mut r), gen_field(&mut r)]}),
        };
        let filter = Filter::from_value(json_filter.clone()).unwrap();
        let matches: Vec<u32> = (0..SLOTS)
            .filter(|s| passes(&filter, &payloads[*s as usize]))
            .collect();
        match index.candidates(&filter) {
            Candidates::All => {}
            Candidates::Slots(c) => {
                for m in &matches {
                    assert!(
                        c.binary_search(m).is_ok(),
                        "seed {seed}: slot {m} passes {json_filter} but is no candidate \
                         ({c:?}); payload {}; index {defs:?}",
                        json!(payloads[*m as usize])
                    );
                }
                narrowed += usize::from(c.len() < SLOTS as usize);
                exact += usize::from(c == matches);
            }
        }
    }
    // The index must narrow in a good share of cases, or the superset check proves little.
    assert!(
        narrowed * 20 > SEEDS as usize,
        "narrowed only {narrowed} of {SEEDS}"
    );
    assert!(exact > 0);
}

#[test]
fn indexed_conditions_give_exact_posting_lists() {
    let payloads = [
        json!({"city": "Oslo", "n": 3, "t": "2024-01-02T00:00:00Z", "ok": true}),
        json!({"city": ["Rome", "Oslo"], "n": 7.5, "ok": false}),
        json!({"city": "Lima", "n": [1, 10], "t": "2023-05-01"}),
        json!({"n": "3"}),
    ];
    let payloads: Vec<Payload> = payloads
        .iter()
        .map(|v| v.as_object().unwrap().clone())
        .collect();
    let defs = [
        ("city", IndexKind::Keyword),
        ("n", IndexKind::Integer),
        ("t", IndexKind::Datetime),
        ("ok", IndexKind::Bool),
    ]
    .map(|(p, k)| (JsonPath::parse(p).unwrap(), k));
    let index = PayloadIndex::build(&defs, 4, |s| Some(payloads[s as usize].clone()));
    let slots = |f: serde_json::Value| index.candidates(&Filter::from_value(f).unwrap());
    let s = |v: &[u32]| Candidates::Slots(v.to_vec());
    assert_eq!(
        slots(json!({"must": [{"key": "city", "match": {"value": "Oslo"}}]})),
        s(&[0, 1])
    );
    assert_eq!(
        slots(json!({"must": [{"key": "city", "match": {"any": ["Lima", "Rome"]}}]})),
        s(&[1, 2])
    );
    // Integers by match; every number (7.5 too) by range; the string "3" never.
    assert_eq!(
        slots(json!({"must": [{"key": "n", "match": {"value": 3}}]})),
        s(&[0])
    );
    assert_eq!(
        slots(json!({"must": [{"key": "n", "range": {"gte": 3, "lt": 8}}]})),
        s(&[0, 1])
    );
    assert_eq!(
        slots(json!({"must": [{"key": "t", "range": {"gt": "2023-12-31"}}]})),
        s(&[0])
    );
    assert_eq!(
        slots(json!({"must": [{"key": "ok", "match": {"value": false}}]})),
        s(&[1])
    );
    // AND narrows, OR of indexed alternatives widens, one unindexed alternative gives up.
    assert_eq!(
        slots(json!({"must": [{"key": "city", "match": {"value": "Oslo"}},
                              {"key": "n", "range": {"gt": 5}}]})),
        s(&[1])
    );
    assert_eq!(
        slots(json!({"should": [{"key": "ok", "match": {"value": true}},
                                {"key": "n", "match": {"value": 1}}]})),
        s(&[0, 2])
    );
    assert_eq!(
        slots(json!({"should": [{"key": "ok", "match": {"value": true}},
                                {"key": "other", "match": {"value": 1}}]})),
        Candidates::All
    );
    assert_eq!(
        slots(json!({"must_not": [{"key": "ok", "match": {"value": true}}]})),
        Candidates::All
    );
    // A keyword index cannot answer an integer match.
    assert_eq!(
        slots(json!({"must": [{"key": "city", "match": {"value": 1}}]})),
        Candidates::All
    );
}
