//! Schemas of `result` values this server builds as JSON directly (not from a derived type):
//! each describes what the handler writes.

use schemars::{json_schema, Schema, SchemaGenerator};

use crate::qdrant::model::VectorInput;
use vexfs_shard::PointId;

/// A JSON object whose fields the route's description gives.
pub fn object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "object"})
}

pub fn boolean(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "boolean"})
}

pub fn exists(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "required": ["exists"],
        "properties": {"exists": {"type": "boolean"}}
    })
}

pub fn collections(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "required": ["collections"],
        "properties": {"collections": {"type": "array", "items": {
            "type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}
        }}}
    })
}

pub fn aliases(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "required": ["aliases"],
        "properties": {"aliases": {"type": "array", "items": {
            "type": "object",
            "required": ["alias_name", "collection_name"],
            "properties": {"alias_name": {"type": "string"}, "collection_name": {"type": "string"}}
        }}}
    })
}

/// What a write answers: its operation id (the log position) and whether it is durable.
pub fn update(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "required": ["status"],
        "properties": {
            "operation_id": {"type": "integer", "format": "uint64", "minimum": 0},
            "status": {"type": "string", "enum": ["acknowledged", "completed"]}
        }
    })
}

pub fn updates(g: &mut SchemaGenerator) -> Schema {
    let one = update(g);
    json_schema!({"type": "array", "items": one})
}

pub fn count(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "required": ["count"],
        "properties": {"count": {"type": "integer", "minimum": 0}}
    })
}

fn payload() -> serde_json::Value {
    serde_json::json!({"anyOf": [{"type": "object"}, {"type": "null"}]})
}

/// A point as read back.
pub fn record(g: &mut SchemaGenerator) -> Schema {
    let id = g.subschema_for::<PointId>();
    let vector = g.subschema_for::<VectorInput>();
    json_schema!({
        "type": "object",
        "required": ["id"],
        "properties": {"id": id, "payload": payload(), "vector": vector,
                       "shard_key": {}, "order_value": {}}
    })
}

pub fn records(g: &mut SchemaGenerator) -> Schema {
    let one = record(g);
    json_schema!({"type": "array", "items": one})
}

pub fn scroll(g: &mut SchemaGenerator) -> Schema {
    let points = records(g);
    let id = g.subschema_for::<PointId>();
    json_schema!({
        "type": "object",
        "required": ["points"],
        "properties": {"points": points, "next_page_offset": {"anyOf": [id, {"type": "null"}]}}
    })
}

/// A search hit: the point and its score, best first.
pub fn scored(g: &mut SchemaGenerator) -> Schema {
    let id = g.subschema_for::<PointId>();
    let vector = g.subschema_for::<VectorInput>();
    json_schema!({
        "type": "array",
        "items": {
            "type": "object",
            "required": ["id", "version", "score"],
            "properties": {"id": id, "version": {"type": "integer"}, "score": {"type": "number"},
                           "payload": payload(), "vector": vector}
        }
    })
}

pub fn scored_batch(g: &mut SchemaGenerator) -> Schema {
    let one = scored(g);
    json_schema!({"type": "array", "items": one})
}

pub fn query(g: &mut SchemaGenerator) -> Schema {
    let points = scored(g);
    json_schema!({"type": "object", "required": ["points"], "properties": {"points": points}})
}

pub fn snapshot(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "required": ["name", "size"],
        "properties": {
            "name": {"type": "string"},
            "creation_time": {"type": ["string", "null"]},
            "size": {"type": "integer", "minimum": 0},
            "checksum": {"type": ["string", "null"], "description": "SHA-256, hex"}
        }
    })
}

pub fn snapshots(g: &mut SchemaGenerator) -> Schema {
    let one = snapshot(g);
    json_schema!({"type": "array", "items": one})
}
