//! JSON Schemas of the filter language, for the server's OpenAPI document.
//!
//! Structs that deserialize field by field derive theirs (see `model.rs`, `geo.rs`); the types
//! with hand-written deserializers describe here exactly what those deserializers accept, so
//! the document and the parser cannot drift apart without these impls being wrong in review.

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};

use super::model::Condition;
use super::path::JsonPath;
use super::values::{Match, RangeInterface};
use super::{
    FieldCondition, Filter, HasIdCondition, HasVectorCondition, IsEmptyCondition, IsNullCondition,
    NestedCondition,
};
use crate::point_id::PointId;

fn named(name: &'static str) -> Cow<'static, str> {
    Cow::Borrowed(name)
}

impl JsonSchema for PointId {
    fn schema_name() -> Cow<'static, str> {
        named("PointId")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A point id: an unsigned 64-bit integer or a UUID string.",
            "anyOf": [
                {"type": "integer", "format": "uint64", "minimum": 0},
                {"type": "string", "format": "uuid"}
            ]
        })
    }
}

impl JsonSchema for JsonPath {
    fn schema_name() -> Cow<'static, str> {
        named("PayloadKey")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A payload path: keys joined by dots, `[]` for every element of an \
                            array, `[n]` for one element (e.g. `country.cities[].name`).",
            "type": "string"
        })
    }
}

impl JsonSchema for Condition {
    fn schema_name() -> Cow<'static, str> {
        named("Condition")
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "One condition; its kind is decided by the keys present.",
            "anyOf": [
                g.subschema_for::<FieldCondition>(),
                g.subschema_for::<IsEmptyCondition>(),
                g.subschema_for::<IsNullCondition>(),
                g.subschema_for::<HasIdCondition>(),
                g.subschema_for::<HasVectorCondition>(),
                g.subschema_for::<NestedCondition>(),
                g.subschema_for::<super::model::SliceCondition>(),
                g.subschema_for::<Filter>()
            ]
        })
    }
}

/// `must`, `should`, `must_not`: one condition or a list of them.
pub(super) fn one_or_many_conditions(g: &mut SchemaGenerator) -> Schema {
    let one = g.subschema_for::<Condition>();
    json_schema!({
        "anyOf": [one, {"type": "array", "items": one}, {"type": "null"}]
    })
}

impl JsonSchema for Match {
    fn schema_name() -> Cow<'static, str> {
        named("Match")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let one = |key: &str, value: serde_json::Value| {
            json_schema!({
                "type": "object",
                "properties": {key: value},
                "required": [key],
                "additionalProperties": false
            })
        };
        let keyword_or_int = json_schema!({
            "anyOf": [{"type": "string"}, {"type": "integer", "format": "int64"}, {"type": "boolean"}]
        });
        let list = json_schema!({
            "anyOf": [
                {"type": "array", "items": {"type": "string"}},
                {"type": "array", "items": {"type": "integer", "format": "int64"}}
            ]
        });
        let text = serde_json::json!({"type": "string"});
        json_schema!({
            "description": "Exactly one test of the values at `key`: equal to a value, full-text \
                            (`text`: all tokens, `text_any`: any token, `phrase`: in order), \
                            keyword prefix, one of a list (`any`) or none of it (`except`).",
            "anyOf": [
                one("value", keyword_or_int.to_value()),
                one("text", text.clone()),
                one("text_any", text.clone()),
                one("phrase", text.clone()),
                one("prefix", text),
                one("any", list.clone().to_value()),
                one("except", list.to_value())
            ]
        })
    }
}

impl JsonSchema for RangeInterface {
    fn schema_name() -> Cow<'static, str> {
        named("Range")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let bound = serde_json::json!({
            "anyOf": [
                {"type": "number", "format": "double"},
                {"type": "string", "format": "date-time"},
                {"type": "null"}
            ]
        });
        json_schema!({
            "description": "Bounds on numbers, or (all bounds strings) on datetimes: RFC 3339, \
                            `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DD` (UTC when no zone is given).",
            "type": "object",
            "properties": {"lt": bound, "gt": bound, "gte": bound, "lte": bound},
            "additionalProperties": false
        })
    }
}
