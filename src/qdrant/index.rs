//! Payload index routes: `PUT /collections/{c}/index`, `DELETE /collections/{c}/index/{field}`.
//!
//! Definitions are validated, persisted with the collection and reported in `payload_schema`.
//! Filters are evaluated by scanning payloads today, so an index changes speed only once the
//! index structures land; results are the same either way.

use schemars::JsonSchema;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Map, Value};
use vexfs_shard::filter::Filter;

use super::error::Error;
use super::json::{parse_body, wait_param};
use super::model::UpdateResult;
use super::write_result;
use crate::runtime::catalog;
use crate::runtime::core::Core;
use crate::runtime::error::RuntimeError;
use crate::runtime::ops;

/// Payload types an index can have (Qdrant's `PayloadSchemaType`).
const INDEX_TYPES: [&str; 8] = [
    "keyword", "integer", "float", "geo", "text", "bool", "datetime", "uuid",
];

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateFieldIndex {
    field_name: String,
    field_schema: Option<Value>,
}

/// The index type of a schema given as `"keyword"` or `{"type": "keyword", …}`.
fn index_type(schema: &Value) -> Result<&str, Error> {
    let ty = match schema {
        Value::String(s) => s.as_str(),
        Value::Object(m) => m
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::format("field_schema: missing `type`"))?,
        _ => {
            return Err(Error::format(
                "field_schema: expected a type name or an object",
            ))
        }
    };
    if INDEX_TYPES.contains(&ty) {
        Ok(ty)
    } else {
        Err(Error::format(format!(
            "field_schema: unknown variant `{ty}`, expected one of {}",
            INDEX_TYPES.join(", ")
        )))
    }
}

/// `PUT /collections/{name}/index`
pub async fn create(
    core: &Rc<Core>,
    name: &str,
    query: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let wait = wait_param(query)?;
    let req: CreateFieldIndex = parse_body(body)?;
    if req.field_name.is_empty() {
        return Err(Error::Validation("field_name: must not be empty".into()));
    }
    let Some(schema) = req.field_schema else {
        // Qdrant infers the type from stored values; we ask for it explicitly.
        return Err(Error::wrong_input("field_schema is required"));
    };
    index_type(&schema)?;
    let field = req.field_name;
    catalog::update_config(core, name.to_owned(), move |config| {
        config.payload_indexes.insert(field, schema);
        Ok(())
    })
    .await?;
    write_result(out, &UpdateResult::new(0, wait))
}

/// `DELETE /collections/{name}/index/{field}`
pub async fn delete(
    core: &Rc<Core>,
    name: &str,
    field: &str,
    query: &str,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let wait = wait_param(query)?;
    let field = field.to_owned();
    catalog::update_config(core, name.to_owned(), move |config| {
        match config.payload_indexes.remove(&field) {
            Some(_) => Ok(()),
            None => Err(RuntimeError::NotFound(format!(
                "Not found: Field index for `{field}` doesn't exist"
            ))),
        }
    })
    .await?;
    write_result(out, &UpdateResult::new(0, wait))
}

/// `payload_schema` of collection info: each indexed field, its type and how many points
/// have a value there.
pub async fn payload_schema(
    core: &Rc<Core>,
    name: &str,
    indexes: &BTreeMap<String, Value>,
) -> Result<Value, Error> {
    let mut out = Map::new();
    for (field, schema) in indexes {
        let filter: Filter =
            serde_json::from_value(json!({"must_not": [{"is_empty": {"key": field}}]}))
                .map_err(|e| Error::Internal(format!("index count filter: {e}")))?;
        let points = ops::count(core, name, Some(Arc::new(filter))).await?;
        let mut info = json!({"data_type": index_type(schema)?, "points": points});
        if let Value::Object(params) = schema {
            info["params"] = Value::Object(params.clone());
        }
        out.insert(field.clone(), info);
    }
    Ok(Value::Object(out))
}
