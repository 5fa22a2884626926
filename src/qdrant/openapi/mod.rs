//! Our own OpenAPI 3.1 document (`GET /openapi.json`) and a page that renders it (`GET /docs`),
//! both served from the binary.
//!
//! Request schemas are generated from the types the routes deserialize (schemars derives, and
//! hand-written impls next to hand-written deserializers); the route list is [`routes`]. The
//! document is built once per process on first use.

mod results;
pub mod routes;

use std::sync::OnceLock;

use schemars::generate::SchemaSettings;
use serde_json::{json, Map, Value};

use routes::{Operation, OPERATIONS};

/// The page of `GET /docs`: renders `/openapi.json` in the browser, no external resources.
pub const DOCS_HTML: &str = include_str!("docs.html");

/// The document, serialized.
pub fn document() -> &'static [u8] {
    static DOC: OnceLock<Vec<u8>> = OnceLock::new();
    DOC.get_or_init(|| serde_json::to_vec(&build()).expect("a JSON value serializes"))
}

fn build() -> Value {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    let mut g = settings.into_generator();
    let mut paths = Map::new();
    for op in OPERATIONS {
        let item = paths
            .entry(op.path)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("path items are objects");
        item.insert(op.method.to_ascii_lowercase(), operation(op, &mut g));
    }
    let schemas = g.take_definitions(true);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "vexfs-unified-server",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A thread-per-core vector database speaking Qdrant's REST API. \
                            Every answer with a JSON body is {\"result\": …, \"status\": \"ok\", \
                            \"time\": seconds} or, on error, {\"status\": {\"error\": message}, \
                            \"time\": seconds}.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "api-key": {"type": "apiKey", "in": "header", "name": "api-key"},
                "bearer": {"type": "http", "scheme": "bearer"}
            }
        },
        "security": [{}, {"api-key": []}, {"bearer": []}],
    })
}

fn operation(op: &Operation, g: &mut schemars::SchemaGenerator) -> Value {
    let mut params: Vec<Value> = op
        .path
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    params.extend(op.query.iter().map(|p| {
        json!({"name": p.name, "in": "query", "required": false,
               "description": p.about, "schema": {"type": p.kind}})
    }));
    let ok = match op.result {
        Some(result) => json!({
            "description": "success",
            "content": {"application/json": {"schema": {
                "type": "object",
                "required": ["result", "status", "time"],
                "properties": {
                    "result": result(g),
                    "status": {"type": "string", "enum": ["ok"]},
                    "time": {"type": "number", "description": "seconds spent"}
                }
            }}}
        }),
        None => json!({"description": "success (not a JSON envelope)"}),
    };
    let error = json!({
        "description": "error",
        "content": {"application/json": {"schema": {
            "type": "object",
            "required": ["status", "time"],
            "properties": {
                "status": {"type": "object", "required": ["error"],
                           "properties": {"error": {"type": "string"}}},
                "time": {"type": "number"}
            }
        }}}
    });
    let mut v = json!({
        "operationId": op.id,
        "tags": [op.tag],
        "summary": op.summary,
        "parameters": params,
        "responses": {"200": ok, "4XX": error.clone(), "5XX": error},
    });
    if let Some(body) = op.body {
        v["requestBody"] = json!({
            "required": true,
            "content": {"application/json": {"schema": body(g)}}
        });
    }
    v
}
