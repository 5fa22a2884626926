//! Our OpenAPI document against the router and against Qdrant's route list: every route
//! Qdrant has is described (or on the short list of routes not built yet), every described
//! route is one the router answers, every `$ref` resolves, and `/docs` serves the page.

mod common;

use std::collections::BTreeSet;

use common::Server;
use serde_json::Value;
use vexfs_server::admin::routes::{self as admin_routes, AdminRoute};
use vexfs_server::http::Method;
use vexfs_server::router::{route, Route};

/// Qdrant routes this server does not have yet, by operation id. The test fails when one of
/// them appears in the document, so the list only shrinks.
const NOT_BUILT_YET: [&str; 0] = [];

fn qdrant_routes() -> Vec<(String, String, String)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/qdrant/operations.txt"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((
                f.next()?.to_owned(),
                f.next()?.to_owned(),
                f.next()?.to_owned(),
            ))
        })
        .collect()
}

fn method(m: &str) -> Method {
    match m {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "PATCH" => Method::Patch,
        "DELETE" => Method::Delete,
        other => panic!("method {other}"),
    }
}

/// Placeholders filled with plausible values, so the router sees a concrete path.
fn concrete(path: &str) -> String {
    path.replace("{collection_name}", "c")
        .replace("{field_name}", "f")
        .replace("{id}", "1")
        .replace("{snapshot_name}", "s.snapshot")
        .replace("{shard_id}", "0")
        .replace("{peer_id}", "1")
        .replace("{vector_name}", "v")
}

fn refs(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.insert(r.clone());
            }
            m.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[test]
fn the_document_covers_qdrants_routes_and_matches_the_router() {
    let s = Server::start();
    let r = s.request("GET", "/openapi.json", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().expect("paths");

    let mut described = BTreeSet::new();
    for (path, item) in paths {
        for (m, op) in item.as_object().expect("path item") {
            let id = op["operationId"].as_str().expect("operationId").to_owned();
            assert!(described.insert(id.clone()), "operationId {id} twice");
            let (m_up, p) = (method(&m.to_ascii_uppercase()), concrete(path));
            let answered = match admin_routes::route(m_up, &p) {
                Some(a) => !matches!(a, AdminRoute::NotFound | AdminRoute::MethodNotAllowed),
                None => !matches!(route(m_up, &p), Route::NotFound | Route::MethodNotAllowed),
            };
            assert!(
                answered,
                "{m} {path} ({id}) is described but the router does not answer it"
            );
            assert!(op["responses"]["200"].is_object(), "{id}: no 200 response");
        }
    }
    for (m, path, id) in qdrant_routes() {
        if NOT_BUILT_YET.contains(&id.as_str()) {
            assert!(
                !described.contains(&id),
                "{id} is described now: take it off NOT_BUILT_YET"
            );
            continue;
        }
        assert!(
            described.contains(&id),
            "Qdrant's {m} {path} ({id}) is not described"
        );
        let op = &paths[path.as_str()][m.to_ascii_lowercase()];
        assert_eq!(op["operationId"], id.as_str(), "{m} {path}");
    }

    let mut all = BTreeSet::new();
    refs(&doc, &mut all);
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for r in &all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("$ref {r} outside the components"));
        assert!(schemas.contains_key(name), "$ref {r} resolves to nothing");
    }
    // Request bodies come from our types: the filter language and the point id are there.
    for name in [
        "Filter",
        "Condition",
        "FieldCondition",
        "Match",
        "PointId",
        "UpsertBody",
    ] {
        assert!(schemas.contains_key(name), "no schema {name}");
    }
    let upsert = &paths["/collections/{collection_name}/points"]["put"]["requestBody"];
    assert_eq!(
        upsert["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/UpsertBody"
    );
}

#[test]
fn docs_page_and_document_need_no_api_key() {
    let s = Server::start_with_config("[service]\napi_key = \"k\"\n");
    let r = s.request("GET", "/docs", "");
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .unwrap_or_default()
        .starts_with("text/html"));
    assert!(
        r.text().contains("fetch(\"/openapi.json\")"),
        "{}",
        r.text()
    );
    assert_eq!(s.request("GET", "/openapi.json", "").status, 200);
    assert_eq!(s.request("GET", "/collections", "").status, 401);
}
