//! Collection routes: create, get, list, exists, delete, update, optimizations.

use schemars::JsonSchema;
use std::collections::BTreeMap;
use std::rc::Rc;

use serde::Deserialize;
use serde_json::{json, Map, Value};
use vexfs_shard::quant::{QuantConfig, QuantConfigError, QuantSetting};
use vexfs_shard::shard::{
    name_uuid, OptimizationReport, OptimizationStatus, OPTIMIZATIONS_COMPLETED_MAX,
};
use vexfs_shard::{Distance, Modifier, MultiSpec, ShardSchema, SparseSpec, VectorSpec};

use super::error::Error;
use super::json::parse_body;
use super::write_result;
use crate::limits;
use crate::router::query_param;
use crate::runtime::catalog::{self, CollectionConfig};
use crate::runtime::core::Core;
use crate::runtime::error::RuntimeError;
use crate::runtime::ops;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateCollection {
    vectors: Option<Value>,
    shard_number: Option<u32>,
    sharding_method: Option<String>,
    replication_factor: Option<u32>,
    write_consistency_factor: Option<u32>,
    on_disk_payload: Option<bool>,
    hnsw_config: Option<Map<String, Value>>,
    wal_config: Option<Map<String, Value>>,
    optimizers_config: Option<Map<String, Value>>,
    quantization_config: Option<Value>,
    sparse_vectors: Option<Map<String, Value>>,
    strict_mode_config: Option<Value>,
    metadata: Option<Map<String, Value>>,
    payload: Option<Value>,
    init_from: Option<Value>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct VectorParamsIn {
    size: u64,
    distance: Distance,
    hnsw_config: Option<Map<String, Value>>,
    quantization_config: Option<Value>,
    on_disk: Option<bool>,
    datatype: Option<String>,
    multivector_config: Option<MultiVectorConfigIn>,
    memory: Option<Value>,
}

/// Qdrant's `MultiVectorConfig`: the only comparator is `max_sim`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct MultiVectorConfigIn {
    comparator: MultiComparatorIn,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum MultiComparatorIn {
    MaxSim,
}

/// One checked vector space: dense, or a multivector space (rows compared by max_sim).
pub(super) enum Space {
    Dense(VectorSpec),
    Multi(MultiSpec),
}

impl Space {
    pub(super) fn add_to(self, schema: &mut ShardSchema) {
        match self {
            Space::Dense(s) => schema.vectors.push(s),
            Space::Multi(s) => schema.multi.push(s),
        }
    }
}

fn refuse_if_set<T>(v: &Option<T>, what: &str) -> Result<(), Error> {
    match v {
        Some(_) => Err(Error::unsupported(what)),
        None => Ok(()),
    }
}

/// Checks a `quantization_config` at `field`: `Ok(None)` when not given, else the value to
/// store ("Disabled", only where `allow_disabled`, is returned as is).
fn check_quantization(
    v: &Option<Value>,
    field: &str,
    allow_disabled: bool,
) -> Result<Option<QuantSetting>, Error> {
    let Some(v) = v else { return Ok(None) };
    QuantConfig::parse(v, field, allow_disabled).map_err(|e| match e {
        QuantConfigError::Format(m) => Error::format(m),
        QuantConfigError::Invalid(m) => Error::Validation(m),
        QuantConfigError::Unsupported(what) => Error::unsupported(&what),
    })
}

/// Checks one vector space and returns its spec plus what is reported back for it.
pub(super) fn vector_params(name: &str, raw: Value) -> Result<(Space, Value), Error> {
    let p: VectorParamsIn = serde_json::from_value(raw).map_err(Error::format)?;
    let field = if name.is_empty() {
        "vectors".to_owned()
    } else {
        format!("vectors.{name}")
    };
    if p.size == 0 || p.size > limits::VECTOR_DIM_MAX as u64 {
        return Err(Error::Validation(format!(
            "{field}.size: value {} invalid, must be from 1 to {}",
            p.size,
            limits::VECTOR_DIM_MAX
        )));
    }
    let quantization = check_quantization(
        &p.quantization_config,
        &format!("{field}.quantization_config"),
        false,
    )?;
    if quantization.is_some() && p.multivector_config.is_some() {
        return Err(Error::unsupported("quantization_config of a multivector"));
    }
    refuse_if_set(&p.memory, "memory placement")?;
    if let Some(dt) = &p.datatype {
        if dt != "float32" {
            return Err(Error::unsupported(&format!("datatype {dt}")));
        }
    }
    let mut shown = json!({"size": p.size, "distance": p.distance});
    if let Some(h) = p.hnsw_config {
        shown["hnsw_config"] = Value::Object(h);
    }
    if let Some(d) = p.on_disk {
        shown["on_disk"] = Value::Bool(d);
    }
    if let (Some(_), Some(q)) = (quantization, p.quantization_config) {
        shown["quantization_config"] = q;
    }
    let spec = match p.multivector_config {
        // Multivector columns are scanned; HNSW settings are stored and reported only.
        Some(MultiVectorConfigIn {
            comparator: MultiComparatorIn::MaxSim,
        }) => {
            shown["multivector_config"] = json!({"comparator": "max_sim"});
            Space::Multi(MultiSpec {
                name: name.to_owned(),
                dim: p.size as usize,
                distance: p.distance,
            })
        }
        None => Space::Dense(VectorSpec {
            name: name.to_owned(),
            dim: p.size as usize,
            distance: p.distance,
        }),
    };
    Ok((spec, shown))
}

/// A sparse space's `index` settings (Qdrant's `SparseIndexParams`), stored and reported:
/// every segment has its inverted index, so the threshold and placement change nothing.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SparseIndexIn {
    full_scan_threshold: Option<u64>,
    on_disk: Option<bool>,
    datatype: Option<String>,
}

/// Qdrant's `Modifier`.
#[derive(Deserialize, JsonSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum ModifierIn {
    None,
    Idf,
}

/// Qdrant's `SparseVectorParams`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SparseParamsIn {
    index: Option<SparseIndexIn>,
    modifier: Option<ModifierIn>,
}

/// Checks one sparse space and returns its modifier (if given) and what is reported back.
pub(super) fn sparse_params(name: &str, raw: Value) -> Result<(Option<Modifier>, Value), Error> {
    let p: SparseParamsIn = serde_json::from_value(raw)
        .map_err(|e| Error::format(format!("sparse_vectors.{name}: {e}")))?;
    let mut shown = Map::new();
    if let Some(index) = p.index {
        if let Some(dt) = index.datatype.as_deref().filter(|d| *d != "float32") {
            return Err(Error::unsupported(&format!("sparse vector datatype {dt}")));
        }
        let mut i = Map::new();
        if let Some(t) = index.full_scan_threshold {
            i.insert("full_scan_threshold".into(), json!(t));
        }
        if let Some(d) = index.on_disk {
            i.insert("on_disk".into(), json!(d));
        }
        if let Some(d) = index.datatype {
            i.insert("datatype".into(), json!(d));
        }
        shown.insert("index".into(), Value::Object(i));
    }
    let modifier = p.modifier.map(|m| match m {
        ModifierIn::None => Modifier::None,
        ModifierIn::Idf => Modifier::Idf,
    });
    if let Some(m) = p.modifier {
        let m = match m {
            ModifierIn::None => "none",
            ModifierIn::Idf => "idf",
        };
        shown.insert("modifier".into(), json!(m));
    }
    Ok((modifier, Value::Object(shown)))
}

/// The sparse spaces of a new collection, sorted by name (every core builds the same column
/// order), and what is reported back for them.
fn sparse_spaces(
    given: Option<Map<String, Value>>,
    dense: &ShardSchema,
) -> Result<(Vec<SparseSpec>, Map<String, Value>), Error> {
    let given: BTreeMap<String, Value> = given.unwrap_or_default().into_iter().collect();
    let mut specs = Vec::with_capacity(given.len());
    let mut shown = Map::new();
    for (name, raw) in given {
        if name.is_empty() {
            return Err(Error::Validation(
                "sparse_vectors: vector name must not be empty".into(),
            ));
        }
        if dense.column(&name).is_some() || dense.multi_spec(&name).is_some() {
            return Err(Error::wrong_input(format!(
                "Vector name {name} is used for both dense and sparse vectors"
            )));
        }
        let (modifier, s) = sparse_params(&name, raw)?;
        specs.push(SparseSpec {
            name: name.clone(),
            modifier: modifier.unwrap_or_default(),
        });
        shown.insert(name, s);
    }
    Ok((specs, shown))
}

fn merged(defaults: Value, given: Option<Map<String, Value>>) -> Value {
    let mut base = defaults;
    if let (Value::Object(b), Some(g)) = (&mut base, given) {
        for (k, v) in g {
            b.insert(k, v);
        }
    }
    base
}

/// `PUT /collections/{name}`
pub async fn create(
    core: &Rc<Core>,
    name: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    catalog::validate_name(name).map_err(|e| Error::Validation(format!("collection_name: {e}")))?;
    let req: CreateCollection = parse_body(body)?;
    check_quantization(&req.quantization_config, "quantization_config", false)?;
    refuse_if_set(&req.strict_mode_config, "strict_mode_config")?;
    refuse_if_set(&req.init_from, "init_from")?;
    refuse_if_set(&req.payload, "payload storage configuration")?;
    if let Some(m) = &req.sharding_method {
        if m != "auto" {
            return Err(Error::unsupported(&format!("sharding_method {m}")));
        }
    }
    let shard_number = req.shard_number.unwrap_or(core.cores() as u32);
    if shard_number == 0 || shard_number > limits::SHARDS_MAX_COUNT {
        return Err(Error::Validation(format!(
            "shard_number: value {shard_number} invalid, must be from 1 to {}",
            limits::SHARDS_MAX_COUNT
        )));
    }
    for (field, v) in [
        ("replication_factor", req.replication_factor),
        ("write_consistency_factor", req.write_consistency_factor),
    ] {
        if v == Some(0) {
            return Err(Error::Validation(format!(
                "{field}: value 0 invalid, must be 1 or larger"
            )));
        }
    }
    let (mut schema, vectors_shown, unnamed) = match req.vectors {
        None => (ShardSchema::default(), json!({}), false),
        Some(v @ Value::Object(_)) if v.get("size").is_some() || v.get("distance").is_some() => {
            let (space, shown) = vector_params("", v)?;
            let mut schema = ShardSchema::default();
            space.add_to(&mut schema);
            (schema, shown, true)
        }
        Some(Value::Object(named)) => {
            let mut schema = ShardSchema::default();
            let mut shown = Map::new();
            // Sorted so every core builds the same column order.
            let named: BTreeMap<String, Value> = named.into_iter().collect();
            for (n, raw) in named {
                if n.is_empty() {
                    return Err(Error::Validation(
                        "vectors: vector name must not be empty".into(),
                    ));
                }
                let (space, s) = vector_params(&n, raw)?;
                space.add_to(&mut schema);
                shown.insert(n, s);
            }
            (schema, Value::Object(shown), false)
        }
        Some(_) => return Err(Error::format("vectors: expected an object")),
    };
    let (sparse, sparse_shown) = sparse_spaces(req.sparse_vectors, &schema)?;
    schema.sparse = sparse;
    if let Some(o) = &req.optimizers_config {
        validate_optimizers(o)?;
    }
    let extra = json!({
        "vectors": vectors_shown,
        "sparse_vectors": sparse_shown,
        "replication_factor": req.replication_factor.unwrap_or(1),
        "write_consistency_factor": req.write_consistency_factor.unwrap_or(1),
        "on_disk_payload": req.on_disk_payload.unwrap_or(true),
        "hnsw_config": merged(json!({"m": 16, "ef_construct": 100, "full_scan_threshold": 10000,
            "max_indexing_threads": 0, "on_disk": false}), req.hnsw_config),
        "optimizer_config": merged(json!({"deleted_threshold": 0.2, "vacuum_min_vector_number": 1000,
            "default_segment_number": 0, "max_segment_size": null, "memmap_threshold": null,
            "indexing_threshold": 10000, "flush_interval_sec": 5, "max_optimization_threads": null}),
            req.optimizers_config),
        "wal_config": merged(json!({"wal_capacity_mb": 32, "wal_segments_ahead": 0}), req.wal_config),
        "metadata": req.metadata,
        "quantization_config": req.quantization_config,
    });
    let config = CollectionConfig {
        schema,
        shard_number,
        unnamed_vector: unnamed,
        extra,
        payload_indexes: Default::default(),
    };
    catalog::create(core, name.to_owned(), config).await?;
    write_result(out, &true)
}

/// `GET /collections/{name}`
pub async fn get(core: &Rc<Core>, name: &str, out: &mut Vec<u8>) -> Result<(), Error> {
    let coll = core.catalog.borrow().get(name)?;
    let points = ops::count(core, name, None).await?;
    let optimizers = catalog::optimizers(core, name).await?;
    let (indexed, indexing) = ops::index_state(core, name).await?;
    let x = &coll.config.extra;
    let mut config = json!({
        "params": {
            "vectors": x["vectors"],
            "shard_number": coll.config.shard_number,
            "replication_factor": x["replication_factor"],
            "write_consistency_factor": x["write_consistency_factor"],
            "on_disk_payload": x["on_disk_payload"],
        },
        "hnsw_config": x["hnsw_config"],
        "optimizer_config": x["optimizer_config"],
        "wal_config": x["wal_config"],
        "quantization_config": x["quantization_config"],
    });
    if !x["metadata"].is_null() {
        config["metadata"] = x["metadata"].clone();
    }
    if x["sparse_vectors"]
        .as_object()
        .is_some_and(|m| !m.is_empty())
    {
        config["params"]["sparse_vectors"] = x["sparse_vectors"].clone();
    }
    // Red when an optimizer stopped on an error (it stays stopped until restart); yellow
    // while one runs or segments wait for their graphs (Qdrant: optimizations pending).
    let error = optimizers.iter().find_map(|o| o.report.error.clone());
    let running = optimizers.iter().any(|o| o.report.running.is_some());
    let (status, optimizer_status) = match error {
        Some(e) => ("red", json!({ "error": e })),
        None if running || indexing => ("yellow", json!("ok")),
        None => ("green", json!("ok")),
    };
    let info = json!({
        "status": status,
        "optimizer_status": optimizer_status,
        "indexed_vectors_count": indexed,
        "points_count": points,
        "segments_count": optimizers.iter().map(|o| o.parts).sum::<usize>(),
        "config": config,
        "payload_schema": super::index::payload_schema(core, name, &coll.config.payload_indexes).await?,
    });
    write_result(out, &info)
}

/// `GET /collections`
pub fn list(core: &Core, out: &mut Vec<u8>) -> Result<(), Error> {
    let collections: Vec<Value> = catalog::names(core)
        .into_iter()
        .map(|n| json!({"name": n}))
        .collect();
    write_result(out, &json!({"collections": collections}))
}

/// `GET /collections/{name}/exists`
pub fn exists(core: &Core, name: &str, out: &mut Vec<u8>) -> Result<(), Error> {
    let exists = core.catalog.borrow().collections.contains_key(name);
    write_result(out, &json!({"exists": exists}))
}

/// `DELETE /collections/{name}`
pub async fn delete(core: &Rc<Core>, name: &str, out: &mut Vec<u8>) -> Result<(), Error> {
    let existed = catalog::delete(core, name.to_owned()).await?;
    write_result(out, &existed)
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct UpdateCollection {
    vectors: Option<Map<String, Value>>,
    optimizers_config: Option<Map<String, Value>>,
    params: Option<ParamsDiff>,
    hnsw_config: Option<Map<String, Value>>,
    quantization_config: Option<Value>,
    sparse_vectors: Option<Map<String, Value>>,
    strict_mode_config: Option<Value>,
    metadata: Option<Map<String, Value>>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ParamsDiff {
    replication_factor: Option<u32>,
    write_consistency_factor: Option<u32>,
    read_fan_out_factor: Option<u32>,
    read_fan_out_delay_ms: Option<u64>,
    on_disk_payload: Option<bool>,
    payload: Option<Value>,
}

/// Merges `diff` into the object `target[key]` (created when missing).
fn merge_into(target: &mut Value, key: &str, diff: Map<String, Value>) {
    if !target[key].is_object() {
        target[key] = Value::Object(Map::new());
    }
    if let Value::Object(m) = &mut target[key] {
        for (k, v) in diff {
            m.insert(k, v);
        }
    }
}

/// `PATCH /collections/{name}`: settings that are stored and reported change; anything that
/// would need the engine to change its data layout is refused by name.
pub async fn update(
    core: &Rc<Core>,
    name: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let req: UpdateCollection = parse_body(body)?;
    // `"Disabled"` turns quantization off; a config replaces the one stored.
    let quantization = check_quantization(&req.quantization_config, "quantization_config", true)?;
    refuse_if_set(&req.strict_mode_config, "strict_mode_config")?;
    let mut sparse_diffs = Vec::new();
    for (sname, raw) in req.sparse_vectors.unwrap_or_default() {
        let (modifier, shown) = sparse_params(&sname, raw)?;
        sparse_diffs.push((sname, modifier, shown));
    }
    if let Some(o) = &req.optimizers_config {
        validate_optimizers(o)?;
    }
    if let Some(p) = &req.params {
        refuse_if_set(&p.payload, "payload storage configuration")?;
        for (field, v) in [
            ("replication_factor", p.replication_factor),
            ("write_consistency_factor", p.write_consistency_factor),
        ] {
            if v == Some(0) {
                return Err(Error::Validation(format!(
                    "params.{field}: value 0 invalid, must be 1 or larger"
                )));
            }
        }
    }
    let mut vector_diffs = Vec::new();
    for (vname, diff) in req.vectors.unwrap_or_default() {
        #[derive(Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        struct VectorDiff {
            hnsw_config: Option<Map<String, Value>>,
            quantization_config: Option<Value>,
            on_disk: Option<bool>,
        }
        let d: VectorDiff = serde_json::from_value(diff).map_err(Error::format)?;
        let field = format!("vectors.{vname}.quantization_config");
        let q = check_quantization(&d.quantization_config, &field, true)?
            .map(|setting| (setting, d.quantization_config.unwrap_or(Value::Null)));
        vector_diffs.push((vname, d.hnsw_config, d.on_disk, q));
    }
    catalog::update_config(core, name.to_owned(), move |config| {
        let x = &mut config.extra;
        for (vname, hnsw, on_disk, quant) in vector_diffs {
            let known = config.schema.column(&vname).is_some()
                || config.schema.multi_spec(&vname).is_some();
            if !known {
                return Err(RuntimeError::WrongInput(format!(
                    "Wrong input: Not existing vector name error: {vname}"
                )));
            }
            // The unnamed vector is reported as the `vectors` object itself.
            let target = if config.unnamed_vector {
                &mut x["vectors"]
            } else {
                &mut x["vectors"][vname.as_str()]
            };
            if let Some(h) = hnsw {
                merge_into(target, "hnsw_config", h);
            }
            if let Some(d) = on_disk {
                target["on_disk"] = Value::Bool(d);
            }
            // A vector without its own quantization follows the collection's (Qdrant).
            match quant {
                Some((QuantSetting::On(_), q)) => target["quantization_config"] = q,
                Some((QuantSetting::Disabled, _)) => {
                    if let Value::Object(m) = target {
                        m.remove("quantization_config");
                    }
                }
                None => {}
            }
        }
        match quantization {
            Some(QuantSetting::On(_)) => {
                x["quantization_config"] = req.quantization_config.unwrap_or(Value::Null)
            }
            Some(QuantSetting::Disabled) => x["quantization_config"] = Value::Null,
            None => {}
        }
        for (sname, modifier, shown) in sparse_diffs {
            let Some(spec) = config.schema.sparse.iter_mut().find(|s| s.name == sname) else {
                return Err(RuntimeError::WrongInput(format!(
                    "Wrong input: Not existing vector name error: {sname}"
                )));
            };
            if let Some(m) = modifier {
                spec.modifier = m;
            }
            if let Value::Object(diff) = shown {
                if !x["sparse_vectors"].is_object() {
                    x["sparse_vectors"] = json!({});
                }
                merge_into(&mut x["sparse_vectors"], &sname, diff);
            }
        }
        if let Some(h) = req.hnsw_config {
            merge_into(x, "hnsw_config", h);
        }
        if let Some(o) = req.optimizers_config {
            merge_into(x, "optimizer_config", o);
        }
        if let Some(m) = req.metadata {
            merge_into(x, "metadata", m);
        }
        if let Some(p) = req.params {
            if let Some(v) = p.replication_factor {
                x["replication_factor"] = json!(v);
            }
            if let Some(v) = p.write_consistency_factor {
                x["write_consistency_factor"] = json!(v);
            }
            if let Some(v) = p.on_disk_payload {
                x["on_disk_payload"] = json!(v);
            }
            // Read fan-out only matters with replicas; accepted and not reported.
            let _ = (p.read_fan_out_factor, p.read_fan_out_delay_ms);
        }
        Ok(())
    })
    .await?;
    write_result(out, &true)
}

/// Checks the `optimizers_config` fields the engine acts on against the ranges of Qdrant's
/// schema (the others are stored and reported as given).
fn validate_optimizers(o: &Map<String, Value>) -> Result<(), Error> {
    let invalid = |field: &str, v: &Value, rule: &str| {
        Err(Error::Validation(format!(
            "optimizers_config.{field}: value {v} invalid, {rule}"
        )))
    };
    for (field, v) in o {
        let (ok, rule) = match field.as_str() {
            "deleted_threshold" => (
                v.as_f64().is_some_and(|t| (0.0..=1.0).contains(&t)),
                "must be a number from 0.0 to 1.0",
            ),
            "vacuum_min_vector_number" => (
                v.as_u64()
                    .is_some_and(|n| n >= OPTIMIZER_VACUUM_MIN_VECTORS_FLOOR),
                "must be 100 or larger",
            ),
            "default_segment_number" => (v.as_u64().is_some(), "must be a non-negative integer"),
            "max_segment_size" => (
                v.is_null() || v.as_u64().is_some_and(|n| n >= 1),
                "must be 1 or larger",
            ),
            _ => (true, ""),
        };
        if !ok {
            return invalid(field, v, rule);
        }
    }
    Ok(())
}

/// Qdrant's smallest accepted `vacuum_min_vector_number`.
const OPTIMIZER_VACUUM_MIN_VECTORS_FLOOR: u64 = 100;

/// `GET /collections/{name}/optimizations`: the running optimization of each shard, and with
/// `?with=queued,completed,idle_segments` the one due next, the recent finished ones (newest
/// first, at most `completed_limit`) and the segments no optimization wants.
pub async fn optimizations(
    core: &Rc<Core>,
    name: &str,
    query: &str,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    // Clients may percent-encode the commas.
    let with_list = query_param(query, "with")
        .unwrap_or_default()
        .replace("%2C", ",")
        .replace("%2c", ",");
    let with: Vec<&str> = with_list.split(',').filter(|w| !w.is_empty()).collect();
    for w in &with {
        if !matches!(*w, "queued" | "completed" | "idle_segments") {
            return Err(Error::BadRequest(format!(
                "Query deserialize error: with: unknown variant `{w}`, expected one of `queued`, `completed`, `idle_segments`"
            )));
        }
    }
    let completed_limit = match query_param(query, "completed_limit") {
        None => OPTIMIZATIONS_COMPLETED_MAX,
        Some(v) => v.parse::<usize>().map_err(|_| {
            Error::BadRequest(format!(
                "Query deserialize error: completed_limit: invalid digit found in {v:?}"
            ))
        })?,
    };
    let coll = core.catalog.borrow().get(name)?;
    let shards = catalog::optimizers(core, &coll.name).await?;
    let seg = |shard: usize, (file, points): &(String, usize)| json!({"uuid": name_uuid(&format!("{}/shard-{shard}/{file}", coll.name)), "points_count": points});
    let optimization = |shard: usize, r: &OptimizationReport| {
        let status = match &r.status {
            OptimizationStatus::Running => json!("optimizing"),
            OptimizationStatus::Done => json!("done"),
            OptimizationStatus::Cancelled => json!({"cancelled": "the shard was closed"}),
            OptimizationStatus::Failed(e) => json!({"error": e}),
        };
        json!({
            "uuid": name_uuid(&format!("{}/shard-{shard}/optimization-{}", coll.name, r.seq)),
            "optimizer": r.kind.name(),
            "status": status,
            "segments": r.sources.iter().map(|s| seg(shard, s)).collect::<Vec<_>>(),
            "progress": {"name": r.kind.name(), "done": r.points_done, "total": r.points_total},
        })
    };
    let mut running = Vec::new();
    let mut queued = Vec::new();
    let mut completed = Vec::new();
    let mut idle = Vec::new();
    let (mut queued_segments, mut queued_points) = (0, 0);
    for o in &shards {
        let busy: Vec<&str> = o
            .report
            .running
            .iter()
            .flat_map(|r| r.sources.iter())
            .chain(o.pending.iter().flat_map(|(_, s)| s.iter()))
            .map(|(f, _)| f.as_str())
            .collect();
        if let Some(r) = &o.report.running {
            running.push(optimization(o.shard, r));
        }
        if let Some((kind, sources)) = &o.pending {
            queued_segments += sources.len();
            queued_points += sources.iter().map(|(_, p)| p).sum::<usize>();
            queued.push(json!({
                "optimizer": kind.name(),
                "segments": sources.iter().map(|s| seg(o.shard, s)).collect::<Vec<_>>(),
            }));
        }
        completed.extend(o.report.completed.iter().map(|r| optimization(o.shard, r)));
        idle.extend(
            o.segments
                .iter()
                .filter(|(f, _)| !busy.contains(&f.as_str()))
                .map(|s| seg(o.shard, s)),
        );
    }
    // Newest first: each shard's list is oldest first.
    completed.reverse();
    completed.truncate(completed_limit);
    let mut result = json!({
        "summary": {
            "queued_optimizations": queued.len(),
            "queued_segments": queued_segments,
            "queued_points": queued_points,
            "idle_segments": idle.len(),
        },
        "running": running,
    });
    if with.contains(&"queued") {
        result["queued"] = json!(queued);
    }
    if with.contains(&"completed") {
        result["completed"] = json!(completed);
    }
    if with.contains(&"idle_segments") {
        result["idle_segments"] = json!(idle);
    }
    write_result(out, &result)
}
