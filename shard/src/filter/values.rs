//! Value tests of a field condition: `match` and `range`, with their deserializers. Both are
//! untagged unions in Qdrant's spec; here the key (for `match`) or the bound types (for
//! `range`) decide, so a mistake gets a precise message.

use serde::de::{self, Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::datetime::Timestamp;
use super::model::kind;
use super::text::TextQuery;

#[derive(Clone, Debug, PartialEq)]
pub enum Match {
    Value(ValueVariant),
    /// All query tokens appear in the value.
    Text(TextQuery),
    /// At least one query token appears.
    TextAny(TextQuery),
    /// The query tokens appear consecutively, in order.
    Phrase(TextQuery),
    /// A keyword starting with this (byte-wise, case-sensitive).
    Prefix(String),
    /// A keyword or integer in the list.
    Any(AnyVariants),
    /// A value not in the list (see `eval.rs` for what counts).
    Except(AnyVariants),
}

#[derive(Clone, Debug, PartialEq)]
pub enum ValueVariant {
    Keyword(String),
    Integer(i64),
    Bool(bool),
}

/// Sorted and deduplicated, for binary search. An empty list is `Keywords`, as in Qdrant.
#[derive(Clone, Debug, PartialEq)]
pub enum AnyVariants {
    Keywords(Vec<String>),
    Integers(Vec<i64>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum RangeInterface {
    Float(Range),
    Datetime(DatetimeRange),
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Range {
    pub lt: Option<f64>,
    pub gt: Option<f64>,
    pub gte: Option<f64>,
    pub lte: Option<f64>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DatetimeRange {
    pub lt: Option<Timestamp>,
    pub gt: Option<Timestamp>,
    pub gte: Option<Timestamp>,
    pub lte: Option<Timestamp>,
}

const MATCH_KEYS: &str = "value, text, text_any, phrase, prefix, any, except";

impl<'de> Deserialize<'de> for Match {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = Map::<String, Value>::deserialize(d)?;
        match_from_json(map).map_err(de::Error::custom)
    }
}

fn match_from_json(map: Map<String, Value>) -> Result<Match, String> {
    let mut entries = map.into_iter();
    let (Some((key, value)), None) = (entries.next(), entries.next()) else {
        return Err(format!("`match` needs exactly one of: {MATCH_KEYS}"));
    };
    let text = |v: Value| match v {
        Value::String(s) => Ok(TextQuery::new(s)),
        other => Err(format!(
            "`match.{key}` must be a string, got {}",
            kind(&other)
        )),
    };
    Ok(match key.as_str() {
        "value" => Match::Value(match value {
            Value::String(s) => ValueVariant::Keyword(s),
            Value::Bool(b) => ValueVariant::Bool(b),
            Value::Number(n) if n.is_i64() || n.is_u64() => match n.as_i64() {
                Some(i) => ValueVariant::Integer(i),
                None => return Err(format!("`match.value` {n} does not fit a 64-bit integer")),
            },
            other => {
                return Err(format!(
                    "`match.value` must be a string, a 64-bit integer or a bool, got {other}"
                ))
            }
        }),
        "text" => Match::Text(text(value)?),
        "text_any" => Match::TextAny(text(value)?),
        "phrase" => Match::Phrase(text(value)?),
        "prefix" => match value {
            Value::String(s) => Match::Prefix(s),
            other => {
                return Err(format!(
                    "`match.prefix` must be a string, got {}",
                    kind(&other)
                ))
            }
        },
        "any" => Match::Any(any_variants("any", value)?),
        "except" => Match::Except(any_variants("except", value)?),
        other => {
            return Err(format!(
                "unknown match `{other}`; expected one of: {MATCH_KEYS}"
            ))
        }
    })
}

fn any_variants(key: &str, value: Value) -> Result<AnyVariants, String> {
    let bad = || format!("`match.{key}` must be a list of strings or a list of 64-bit integers");
    let Value::Array(items) = value else {
        return Err(bad());
    };
    if items.iter().all(Value::is_string) {
        let mut v: Vec<String> = items
            .into_iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect();
        v.sort_unstable();
        v.dedup();
        Ok(AnyVariants::Keywords(v))
    } else {
        let mut v = items
            .iter()
            .map(Value::as_i64)
            .collect::<Option<Vec<i64>>>()
            .ok_or_else(bad)?;
        v.sort_unstable();
        v.dedup();
        Ok(AnyVariants::Integers(v))
    }
}

impl<'de> Deserialize<'de> for RangeInterface {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = Map::<String, Value>::deserialize(d)?;
        range_from_json(map).map_err(de::Error::custom)
    }
}

/// Numbers make a numeric range, strings a datetime range; mixing them is an error.
fn range_from_json(map: Map<String, Value>) -> Result<RangeInterface, String> {
    let mut nums = Range::default();
    let mut times = DatetimeRange::default();
    let (mut any_num, mut any_time) = (false, false);
    for (key, value) in map {
        let (num_slot, time_slot) = match key.as_str() {
            "lt" => (&mut nums.lt, &mut times.lt),
            "gt" => (&mut nums.gt, &mut times.gt),
            "gte" => (&mut nums.gte, &mut times.gte),
            "lte" => (&mut nums.lte, &mut times.lte),
            other => {
                return Err(format!(
                    "unknown range bound `{other}`; expected lt, gt, gte, lte"
                ))
            }
        };
        match value {
            Value::Null => {}
            Value::Number(n) => {
                any_num = true;
                *num_slot = n.as_f64();
            }
            Value::String(s) => {
                any_time = true;
                let t = Timestamp::parse(&s).ok_or_else(|| {
                    format!(
                        "range `{key}`: {s:?} is not a datetime (RFC 3339, \
                         \"YYYY-MM-DD HH:MM:SS\" or \"YYYY-MM-DD\")"
                    )
                })?;
                *time_slot = Some(t);
            }
            other => {
                return Err(format!(
                    "range `{key}` must be a number or a datetime string, got {}",
                    kind(&other)
                ))
            }
        }
    }
    match (any_num, any_time) {
        (true, true) => Err("a range mixes numbers and datetimes".to_owned()),
        (false, true) => Ok(RangeInterface::Datetime(times)),
        _ => Ok(RangeInterface::Float(nums)),
    }
}
