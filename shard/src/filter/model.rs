//! The filter model, deserializing exactly Qdrant's JSON (components.schemas `Filter`,
//! `Condition`, `FieldCondition`, `Match*`, `Range`, ... in the OpenAPI spec).
//!
//! Qdrant's untagged `Condition` union is decided by the keys present instead of by trial, so
//! a mistake gets a precise message rather than "did not match any variant" (the same for
//! `Match` and `RangeInterface`, in `values.rs`). Every object rejects unknown fields.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::geo::{GeoBoundingBox, GeoPolygon, GeoRadius};
use super::path::JsonPath;
use super::slice::Slice;
use super::values::{Match, RangeInterface};
use crate::point_id::PointId;

/// `must`: all hold; `should`: at least one holds (empty = no constraint, as Qdrant's server
/// does); `must_not`: none holds; `min_should`: at least `min_count` of its conditions hold.
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    #[serde(default, deserialize_with = "one_or_many")]
    #[schemars(schema_with = "super::schema::one_or_many_conditions")]
    pub must: Vec<Condition>,
    #[serde(default, deserialize_with = "one_or_many")]
    #[schemars(schema_with = "super::schema::one_or_many_conditions")]
    pub should: Vec<Condition>,
    #[serde(default, deserialize_with = "one_or_many")]
    #[schemars(schema_with = "super::schema::one_or_many_conditions")]
    pub must_not: Vec<Condition>,
    #[serde(default)]
    pub min_should: Option<MinShould>,
}

#[derive(Clone, Debug, PartialEq, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MinShould {
    pub conditions: Vec<Condition>,
    pub min_count: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// Boxed: by far the largest variant.
    Field(Box<FieldCondition>),
    IsEmpty(IsEmptyCondition),
    IsNull(IsNullCondition),
    HasId(HasIdCondition),
    HasVector(HasVectorCondition),
    Nested(NestedCondition),
    Slice(SliceCondition),
    Filter(Filter),
}

/// A condition on the values at `key`. Exactly one of the optional parts must be set (checked
/// by `validate`; Qdrant's handling of several at once is inconsistent, so they are refused).
#[derive(Clone, Debug, PartialEq, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldCondition {
    pub key: JsonPath,
    #[serde(default, rename = "match")]
    pub r#match: Option<Match>,
    #[serde(default)]
    pub range: Option<RangeInterface>,
    #[serde(default)]
    pub geo_bounding_box: Option<GeoBoundingBox>,
    #[serde(default)]
    pub geo_radius: Option<GeoRadius>,
    #[serde(default)]
    pub geo_polygon: Option<GeoPolygon>,
    #[serde(default)]
    pub values_count: Option<ValuesCount>,
    /// Same as the `is_empty` condition when true; its negation when false.
    #[serde(default)]
    pub is_empty: Option<bool>,
    /// Same as the `is_null` condition when true; its negation when false.
    #[serde(default)]
    pub is_null: Option<bool>,
}

/// Bounds on the number of values (array length; 1 for a scalar; 0 for null or missing).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValuesCount {
    pub lt: Option<usize>,
    pub gt: Option<usize>,
    pub gte: Option<usize>,
    pub lte: Option<usize>,
}

#[derive(Clone, Debug, PartialEq, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PayloadField {
    pub key: JsonPath,
}

#[derive(Clone, Debug, PartialEq, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IsEmptyCondition {
    pub is_empty: PayloadField,
}

#[derive(Clone, Debug, PartialEq, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IsNullCondition {
    pub is_null: PayloadField,
}

#[derive(Clone, Debug, PartialEq, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HasIdCondition {
    /// Sorted and deduplicated, for binary search.
    #[serde(deserialize_with = "sorted_ids")]
    pub has_id: Vec<PointId>,
}

#[derive(Clone, Debug, PartialEq, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HasVectorCondition {
    /// Vector name; "" is the unnamed vector.
    pub has_vector: String,
}

#[derive(Clone, Debug, PartialEq, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NestedCondition {
    pub nested: Nested,
}

/// `filter` must hold for one element of the array at `key` (all its conditions on the same
/// element). `key` is stored with a trailing `[]`.
#[derive(Clone, Debug, PartialEq, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Nested {
    #[serde(deserialize_with = "wildcard_path")]
    pub key: JsonPath,
    pub filter: Filter,
}

#[derive(Clone, Debug, PartialEq, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SliceCondition {
    pub slice: Slice,
}

impl Filter {
    /// Parses and validates a filter from JSON.
    pub fn from_value(value: Value) -> Result<Filter, String> {
        let filter: Filter = serde_json::from_value(value).map_err(|e| e.to_string())?;
        filter.validate()?;
        Ok(filter)
    }

    /// Whether the filter has no condition at all (it matches every point).
    pub fn is_empty(&self) -> bool {
        self.must.is_empty()
            && self.should.is_empty()
            && self.must_not.is_empty()
            && self.min_should.is_none()
    }
}

const FILTER_KEYS: [&str; 4] = ["must", "should", "must_not", "min_should"];

impl Condition {
    /// Decides the kind by the keys present: `key` makes a field condition (which may itself
    /// hold `is_empty` / `is_null` flags), then the single-key conditions, then a filter.
    fn from_json(value: Value) -> Result<Condition, String> {
        fn parse<T: de::DeserializeOwned>(v: Value) -> Result<T, String> {
            serde_json::from_value(v).map_err(|e| e.to_string())
        }
        let Value::Object(map) = &value else {
            return Err(format!(
                "a condition must be an object, got {}",
                kind(&value)
            ));
        };
        let has = |k: &str| map.contains_key(k);
        Ok(if has("key") {
            Condition::Field(Box::new(parse(value)?))
        } else if has("is_empty") {
            Condition::IsEmpty(parse(value)?)
        } else if has("is_null") {
            Condition::IsNull(parse(value)?)
        } else if has("has_id") {
            Condition::HasId(parse(value)?)
        } else if has("has_vector") {
            Condition::HasVector(parse(value)?)
        } else if has("nested") {
            Condition::Nested(parse(value)?)
        } else if has("slice") {
            Condition::Slice(parse(value)?)
        } else if let Some(k) = map.keys().find(|k| !FILTER_KEYS.contains(&k.as_str())) {
            return Err(format!(
                "unknown condition field `{k}`: a condition has `key` (field condition), \
                 `is_empty`, `is_null`, `has_id`, `has_vector`, `nested` or `slice`, \
                 or is a filter with `must`, `should`, `must_not`, `min_should`"
            ));
        } else {
            Condition::Filter(parse(value)?)
        })
    }
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Condition::from_json(Value::deserialize(d)?).map_err(de::Error::custom)
    }
}

pub(super) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `must` / `should` / `must_not`: one condition, a list, or null.
fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Condition>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<Condition>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a condition, a list of conditions, or null")
        }

        fn visit_unit<E: de::Error>(self) -> Result<Vec<Condition>, E> {
            Ok(Vec::new())
        }

        fn visit_none<E: de::Error>(self) -> Result<Vec<Condition>, E> {
            Ok(Vec::new())
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Condition>, A::Error> {
            let mut out = Vec::new();
            while let Some(c) = seq.next_element()? {
                out.push(c);
            }
            Ok(out)
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Vec<Condition>, A::Error> {
            let c = Condition::deserialize(de::value::MapAccessDeserializer::new(map))?;
            Ok(vec![c])
        }
    }
    d.deserialize_any(V)
}

fn sorted_ids<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PointId>, D::Error> {
    let mut ids = Vec::<PointId>::deserialize(d)?;
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

fn wildcard_path<'de, D: Deserializer<'de>>(d: D) -> Result<JsonPath, D::Error> {
    Ok(JsonPath::deserialize(d)?.with_wildcard_suffix())
}
