//! Evaluation of a filter against one point. Semantics of Qdrant 1.19.1 without payload
//! indexes (which this server does not have):
//!
//! * A key path yields zero or more values (see `path.rs`). A field condition with `match`,
//!   `range` or a geo shape holds if some yielded value holds, where a yielded array holds if
//!   one of its elements does (one level only).
//! * `values_count` counts per yielded value (array length, 0 for null, 1 otherwise) and holds
//!   if some count fits; a missing key counts as 0 (Qdrant fixed this in qdrant#9065).
//! * `is_empty`: no value, or every value is null or `[]`. `[null]` is not empty.
//! * `is_null`: some value is null or an array holding a null (qdrant#10101).
//!   The field-condition flags `is_empty: b` / `is_null: b` are these tests compared with `b`.
//! * `except` holds for a value that is present, not null, and not in the list; a value of
//!   another type than the list (a bool, a float, an object, a string against integers...)
//!   counts as "not in the list". A missing key, null or `[]` never matches.
//! * `has_id`, `has_vector` and `slice` are false inside `nested` (no point there); `validate`
//!   refuses them in that position.
//! * `should: []` constrains nothing (Qdrant's server behaviour), `min_should` needs at least
//!   `min_count` of its conditions, so an empty list with `min_count >= 1` matches nothing.

use serde_json::Value;

use super::datetime::Timestamp;
use super::geo::GeoPoint;
use super::model::{Condition, FieldCondition, Filter, MinShould, ValuesCount};
use super::path::JsonPath;
use super::values::{AnyVariants, Match, Range, RangeInterface, ValueVariant};
use super::{DatetimeRange, PointView};
use crate::op::Payload;
use crate::point_id::PointId;

/// What conditions see: the payload (the point's, or one array element inside `nested`) and,
/// outside `nested`, the point itself.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    payload: Option<&'a Payload>,
    point: Option<PointRef<'a>>,
}

/// The point's id and its vector-presence test.
type PointRef<'a> = (PointId, &'a dyn Fn(&str) -> bool);

impl Filter {
    /// Whether the point passes the filter. Validate the filter first ([`Filter::validate`]):
    /// that bounds the recursion here.
    pub fn matches(&self, point: &PointView<'_>) -> bool {
        self.eval(Ctx {
            payload: point.payload,
            point: Some((point.id, point.has_vector)),
        })
    }

    fn eval(&self, cx: Ctx<'_>) -> bool {
        self.must.iter().all(|c| c.eval(cx))
            && self.must_not.iter().all(|c| !c.eval(cx))
            && (self.should.is_empty() || self.should.iter().any(|c| c.eval(cx)))
            && self.min_should.as_ref().is_none_or(|m| m.eval(cx))
    }
}

impl MinShould {
    fn eval(&self, cx: Ctx<'_>) -> bool {
        let mut hits = 0;
        for c in &self.conditions {
            if hits >= self.min_count {
                break;
            }
            hits += usize::from(c.eval(cx));
        }
        hits >= self.min_count
    }
}

impl Condition {
    fn eval(&self, cx: Ctx<'_>) -> bool {
        match self {
            Condition::Field(f) => f.eval(cx.payload),
            Condition::IsEmpty(c) => is_empty(&c.is_empty.key, cx.payload),
            Condition::IsNull(c) => is_null(&c.is_null.key, cx.payload),
            Condition::HasId(c) => cx
                .point
                .is_some_and(|(id, _)| c.has_id.binary_search(&id).is_ok()),
            Condition::HasVector(c) => cx.point.is_some_and(|(_, has)| has(&c.has_vector)),
            Condition::Slice(c) => cx.point.is_some_and(|(id, _)| c.slice.contains(id)),
            Condition::Nested(c) => c.nested.key.any_value(cx.payload, |element| {
                element.as_object().is_some_and(|obj| {
                    c.nested.filter.eval(Ctx {
                        payload: Some(obj),
                        point: None,
                    })
                })
            }),
            Condition::Filter(f) => f.eval(cx),
        }
    }
}

fn is_empty(key: &JsonPath, payload: Option<&Payload>) -> bool {
    let empty = |v: &Value| match v {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        _ => false,
    };
    !key.any_value(payload, |v| !empty(v))
}

fn is_null(key: &JsonPath, payload: Option<&Payload>) -> bool {
    key.any_value(payload, |v| match v {
        Value::Null => true,
        Value::Array(items) => items.iter().any(Value::is_null),
        _ => false,
    })
}

impl FieldCondition {
    /// With several parts set (refused by `validate`) the first in this order decides:
    /// is_empty, is_null, values_count, then the value tests ORed, as Qdrant's checker does.
    fn eval(&self, payload: Option<&Payload>) -> bool {
        if let Some(flag) = self.is_empty {
            return is_empty(&self.key, payload) == flag;
        }
        if let Some(flag) = self.is_null {
            return is_null(&self.key, payload) == flag;
        }
        if let Some(count) = &self.values_count {
            let mut seen = false;
            let hit = self.key.any_value(payload, |v| {
                seen = true;
                count.fits(count_of(v))
            });
            return hit || (!seen && count.fits(0));
        }
        self.key.any_value(payload, |v| match v {
            Value::Array(items) => items.iter().any(|x| self.check_one(x)),
            x => self.check_one(x),
        })
    }

    fn check_one(&self, v: &Value) -> bool {
        let geo = || GeoPoint::from_payload(v);
        self.r#match.as_ref().is_some_and(|m| m.check(v))
            || self.range.as_ref().is_some_and(|r| match r {
                RangeInterface::Float(r) => v.as_f64().is_some_and(|x| r.fits(x)),
                RangeInterface::Datetime(r) => v
                    .as_str()
                    .and_then(Timestamp::parse)
                    .is_some_and(|t| r.fits(t)),
            })
            || self
                .geo_radius
                .as_ref()
                .is_some_and(|g| geo().is_some_and(|p| g.contains(&p)))
            || self
                .geo_bounding_box
                .as_ref()
                .is_some_and(|g| geo().is_some_and(|p| g.contains(&p)))
            || self
                .geo_polygon
                .as_ref()
                .is_some_and(|g| geo().is_some_and(|p| g.contains(&p)))
    }
}

fn count_of(v: &Value) -> usize {
    match v {
        Value::Null => 0,
        Value::Array(items) => items.len(),
        _ => 1,
    }
}

impl ValuesCount {
    pub fn fits(&self, n: usize) -> bool {
        self.lt.is_none_or(|b| n < b)
            && self.gt.is_none_or(|b| n > b)
            && self.gte.is_none_or(|b| n >= b)
            && self.lte.is_none_or(|b| n <= b)
    }
}

impl Range {
    pub fn fits(&self, x: f64) -> bool {
        self.lt.is_none_or(|b| x < b)
            && self.gt.is_none_or(|b| x > b)
            && self.gte.is_none_or(|b| x >= b)
            && self.lte.is_none_or(|b| x <= b)
    }
}

impl DatetimeRange {
    pub fn fits(&self, t: Timestamp) -> bool {
        self.lt.is_none_or(|b| t < b)
            && self.gt.is_none_or(|b| t > b)
            && self.gte.is_none_or(|b| t >= b)
            && self.lte.is_none_or(|b| t <= b)
    }
}

impl AnyVariants {
    fn contains_str(&self, s: &str) -> bool {
        match self {
            AnyVariants::Keywords(list) => list.binary_search_by(|x| x.as_str().cmp(s)).is_ok(),
            AnyVariants::Integers(_) => false,
        }
    }

    fn contains_int(&self, i: i64) -> bool {
        match self {
            AnyVariants::Integers(list) => list.binary_search(&i).is_ok(),
            AnyVariants::Keywords(_) => false,
        }
    }
}

impl Match {
    /// Against one (non-array, or array-inside-array) value.
    fn check(&self, v: &Value) -> bool {
        let text = |f: &dyn Fn(&str) -> bool| v.as_str().is_some_and(f);
        match self {
            Match::Value(ValueVariant::Keyword(s)) => v.as_str() == Some(s.as_str()),
            Match::Value(ValueVariant::Integer(i)) => v.as_i64() == Some(*i),
            Match::Value(ValueVariant::Bool(b)) => v.as_bool() == Some(*b),
            Match::Text(q) => text(&|s| q.all_in(s)),
            Match::TextAny(q) => text(&|s| q.any_in(s)),
            Match::Phrase(q) => text(&|s| q.phrase_in(s)),
            Match::Prefix(p) => text(&|s| s.starts_with(p.as_str())),
            Match::Any(list) => match v {
                Value::String(s) => list.contains_str(s),
                Value::Number(n) => n.as_i64().is_some_and(|i| list.contains_int(i)),
                _ => false,
            },
            Match::Except(list) => match v {
                Value::Null => false,
                Value::String(s) => !list.contains_str(s),
                Value::Number(n) => n.as_i64().is_none_or(|i| !list.contains_int(i)),
                Value::Bool(_) | Value::Array(_) | Value::Object(_) => true,
            },
        }
    }
}
