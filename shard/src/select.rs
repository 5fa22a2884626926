//! Which parts of a point a read returns, and the owned record it returns them in.

use serde_json::Value;

use crate::op::Payload;
use crate::point_id::PointId;

/// Payload selection (`with_payload`).
#[derive(Clone, Debug, Default, PartialEq)]
pub enum PayloadSelector {
    #[default]
    None,
    All,
    /// Only these keys (dotted paths select nested fields).
    Include(Vec<String>),
    /// Everything but these keys.
    Exclude(Vec<String>),
}

/// Vector selection (`with_vector`).
#[derive(Clone, Debug, Default, PartialEq)]
pub enum VectorSelector {
    #[default]
    None,
    All,
    Names(Vec<String>),
}

/// A point as returned by reads; owned so it can travel between cores.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub id: PointId,
    pub version: u64,
    pub payload: Option<Payload>,
    /// Selected vectors by name ("" = the unnamed vector); `None` when none were asked for.
    pub vectors: Option<crate::op::NamedVectors>,
}

/// A search hit: a record and its score as Qdrant reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoredRecord {
    pub record: Record,
    pub score: f32,
}

impl PayloadSelector {
    pub fn apply(&self, payload: Option<&Payload>) -> Option<Payload> {
        let payload = payload.cloned().unwrap_or_default();
        match self {
            PayloadSelector::None => None,
            PayloadSelector::All => Some(payload),
            PayloadSelector::Include(keys) => {
                let mut out = Payload::new();
                for key in keys {
                    if let Some(v) = lookup(&payload, key) {
                        insert_path(&mut out, key, v.clone());
                    }
                }
                Some(out)
            }
            PayloadSelector::Exclude(keys) => {
                let mut out = payload;
                for key in keys {
                    remove_path(&mut out, key);
                }
                Some(out)
            }
        }
    }
}

fn lookup<'a>(payload: &'a Payload, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut cur = payload.get(parts.next()?)?;
    for part in parts {
        cur = cur.as_object()?.get(part)?;
    }
    Some(cur)
}

pub(crate) fn insert_path(out: &mut Payload, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            out.insert(path.to_owned(), value);
        }
        Some((head, rest)) => {
            let entry = out
                .entry(head.to_owned())
                .or_insert_with(|| Value::Object(Payload::new()));
            if let Value::Object(inner) = entry {
                insert_path(inner, rest, value);
            }
        }
    }
}

pub(crate) fn remove_path(out: &mut Payload, path: &str) {
    match path.split_once('.') {
        None => {
            out.shift_remove(path);
        }
        Some((head, rest)) => {
            if let Some(Value::Object(inner)) = out.get_mut(head) {
                remove_path(inner, rest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn include_and_exclude_nested_paths() {
        let p: Payload =
            serde_json::from_value(json!({"a": 1, "b": {"c": 2, "d": 3}})).expect("object");
        let inc = PayloadSelector::Include(vec!["b.c".into(), "zz".into()]).apply(Some(&p));
        assert_eq!(Value::Object(inc.expect("some")), json!({"b": {"c": 2}}));
        let exc = PayloadSelector::Exclude(vec!["b.d".into(), "a".into()]).apply(Some(&p));
        assert_eq!(Value::Object(exc.expect("some")), json!({"b": {"c": 2}}));
        assert_eq!(PayloadSelector::None.apply(Some(&p)), None);
        assert_eq!(PayloadSelector::All.apply(None), Some(Payload::new()));
    }
}
