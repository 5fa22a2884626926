//! Named vector routes: `PUT /collections/{c}/vectors/{name}` (create_vector_name) and
//! `DELETE /collections/{c}/vectors/{name}` (delete_vector_name).
//!
//! Core 0 checks the change against the collection's spaces and writes `config.json`; then
//! every shard logs the new spaces in order with its writes (`WriteOp::SetSchema`). Existing
//! points simply lack a new vector. A deleted vector vanishes from the config, from every
//! point and from searches at once; its data in segments is hidden and dropped when the
//! optimizer next rewrites them. Errors: an existing name, or a missing one, is
//! `400 Wrong input`; a missing collection is `404`.

use std::rc::Rc;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use vexfs_shard::schema::SparseSpec;

use super::collections::{sparse_params, vector_params};
use super::error::Error;
use super::json::{parse_body, wait_param};
use super::model::UpdateResult;
use super::write_result;
use crate::limits::VECTOR_NAME_MAX_BYTES;
use crate::runtime::catalog::{self, CollectionConfig};
use crate::runtime::core::Core;
use crate::runtime::error::RuntimeError;

/// Qdrant's `VectorNameConfig`: exactly one of a dense (`DenseVectorConfig`: size,
/// distance, multivector_config, datatype) or a sparse (`SparseVectorConfig`: modifier,
/// datatype) space.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VectorNameConfigIn {
    #[schemars(with = "Option<super::collections::VectorParamsIn>")]
    dense: Option<Value>,
    #[schemars(with = "Option<SparseVectorConfigIn>")]
    sparse: Option<Map<String, Value>>,
}

/// Qdrant's `SparseVectorConfig`, for the route's described body (the body is checked by
/// the collection's sparse parser).
#[derive(JsonSchema)]
#[allow(dead_code)]
struct SparseVectorConfigIn {
    /// `idf` or `none`.
    modifier: Option<String>,
    /// Only `float32`.
    datatype: Option<String>,
}

/// `PUT /collections/{c}/vectors/{name}`
pub async fn create(
    core: &Rc<Core>,
    collection: &str,
    name: &str,
    query: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let wait = wait_param(query)?;
    check_name(name)?;
    let req: VectorNameConfigIn = parse_body(body)?;
    let space = match (req.dense, req.sparse) {
        (Some(dense), None) => NewSpace::Dense(vector_params(name, dense)?),
        (None, Some(mut sparse)) => {
            // `SparseVectorConfig` puts the datatype beside the modifier; stored like the
            // collection's `sparse_vectors.{name}.index.datatype`.
            if let Some(dt) = sparse.remove("datatype").filter(|v| !v.is_null()) {
                sparse.insert("index".into(), json!({ "datatype": dt }));
            }
            let (modifier, shown) = sparse_params(name, Value::Object(sparse))?;
            NewSpace::Sparse(
                SparseSpec {
                    name: name.to_owned(),
                    modifier: modifier.unwrap_or_default(),
                },
                shown,
            )
        }
        _ => return Err(Error::format("expected exactly one of `dense` or `sparse`")),
    };
    let name = name.to_owned();
    catalog::update_config(core, collection.to_owned(), move |config| {
        add_space(config, name, space)
    })
    .await?;
    write_result(out, &UpdateResult::new(0, wait))
}

/// `DELETE /collections/{c}/vectors/{name}`
pub async fn delete(
    core: &Rc<Core>,
    collection: &str,
    name: &str,
    query: &str,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let wait = wait_param(query)?;
    let name = name.to_owned();
    catalog::update_config(core, collection.to_owned(), move |config| {
        remove_space(config, &name)
    })
    .await?;
    write_result(out, &UpdateResult::new(0, wait))
}

/// A checked space to add, with what the collection info reports for it.
enum NewSpace {
    Dense((super::collections::Space, Value)),
    Sparse(SparseSpec, Value),
}

fn check_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || name.len() > VECTOR_NAME_MAX_BYTES {
        return Err(Error::Validation(format!(
            "vector_name: length must be from 1 to {VECTOR_NAME_MAX_BYTES} bytes"
        )));
    }
    Ok(())
}

fn exists(config: &CollectionConfig, name: &str) -> bool {
    config.schema.names().any(|n| n == name)
}

fn add_space(
    config: &mut CollectionConfig,
    name: String,
    space: NewSpace,
) -> Result<(), RuntimeError> {
    if exists(config, &name) {
        return Err(RuntimeError::WrongInput(format!(
            "Wrong input: Vector with name {name} already exists"
        )));
    }
    let x = &mut config.extra;
    match space {
        NewSpace::Dense((space, shown)) => {
            // The collection reports its single unnamed vector as the `vectors` object
            // itself; there is no place for a second dense vector in that shape.
            if config.unnamed_vector {
                return Err(RuntimeError::WrongInput(format!(
                    "Wrong input: collection has a single unnamed vector; a dense vector {name} \
                     can only be added to a collection with named vectors"
                )));
            }
            space.add_to(&mut config.schema);
            if !x["vectors"].is_object() {
                x["vectors"] = json!({});
            }
            x["vectors"][name.as_str()] = shown;
        }
        NewSpace::Sparse(spec, shown) => {
            config.schema.sparse.push(spec);
            if !x["sparse_vectors"].is_object() {
                x["sparse_vectors"] = json!({});
            }
            x["sparse_vectors"][name.as_str()] = shown;
        }
    }
    Ok(())
}

fn remove_space(config: &mut CollectionConfig, name: &str) -> Result<(), RuntimeError> {
    if !exists(config, name) {
        return Err(RuntimeError::WrongInput(format!(
            "Wrong input: Not existing vector name error: {name}"
        )));
    }
    if name.is_empty() {
        return Err(RuntimeError::WrongInput(
            "Wrong input: the unnamed vector cannot be deleted".into(),
        ));
    }
    let schema = &mut config.schema;
    schema.vectors.retain(|v| v.name != name);
    schema.multi.retain(|v| v.name != name);
    schema.sparse.retain(|v| v.name != name);
    for key in ["vectors", "sparse_vectors"] {
        if let Some(m) = config.extra[key].as_object_mut() {
            m.remove(name);
        }
    }
    Ok(())
}
