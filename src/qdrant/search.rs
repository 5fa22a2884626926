//! Nearest-neighbour search: legacy `points/search` and `points/search/batch`, and the
//! shared machinery other search routes (query, recommend) build on.

use schemars::JsonSchema;
use std::rc::Rc;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use vexfs_shard::filter::Filter;
use vexfs_shard::quant::QuantSearch;
use vexfs_shard::{PointId, ScoredRecord, Vector, VectorSelector};

use super::error::Error;
use super::json::parse_body;
use super::model::{read_shape, seq, BatchVector, ScoredOut, WithPayload, WithVector};
use super::{check_batch, check_filter, check_limit, check_offset, refuse_shard_key, write_result};
use crate::runtime::core::Core;
use crate::runtime::ops::{self, IndexParams, ReadShape, SearchRequest};

/// Search parameters (`params`): how segments with an HNSW graph are searched.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchParamsIn {
    hnsw_ef: Option<u64>,
    exact: Option<bool>,
    quantization: Option<QuantizationParamsIn>,
    indexed_only: Option<bool>,
    /// ACORN only changes how a filtered graph walk expands; walks here already pass
    /// through filtered-out nodes, so it is accepted and has no further effect.
    #[allow(dead_code)]
    acorn: Option<Value>,
}

/// `params.quantization`: how segments with quantized codes are searched.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuantizationParamsIn {
    ignore: Option<bool>,
    /// `null`: rescore, since the original vectors are always kept.
    rescore: Option<bool>,
    oversampling: Option<f64>,
}

/// Checks `params` and returns what the engine uses of them.
pub fn check_params(p: &Option<SearchParamsIn>) -> Result<IndexParams, Error> {
    let Some(p) = p else {
        return Ok(IndexParams::default());
    };
    let mut quantization = QuantSearch::default();
    if let Some(q) = &p.quantization {
        if let Some(o) = q.oversampling {
            if !(o >= 1.0 && o.is_finite()) {
                return Err(Error::Validation(format!(
                    "params.quantization.oversampling: value {o} invalid, must be 1 or larger"
                )));
            }
        }
        quantization = QuantSearch {
            ignore: q.ignore.unwrap_or(false),
            rescore: q.rescore,
            oversampling: q.oversampling,
        };
    }
    Ok(IndexParams {
        quantization,
        // Clamped by the engine (HNSW_MAX_EF); a u64 above usize saturates.
        hnsw_ef: p.hnsw_ef.map(|e| usize::try_from(e).unwrap_or(usize::MAX)),
        exact: p.exact.unwrap_or(false),
        indexed_only: p.indexed_only.unwrap_or(false),
    })
}

/// A resolved nearest-neighbour search: one query vector, and the points to leave out
/// (examples given by id are never their own results).
pub struct Plan {
    pub vector_name: String,
    pub vector: Vector,
    pub exclude: Vec<PointId>,
    pub limit: usize,
    pub offset: usize,
    pub score_threshold: Option<f32>,
    pub filter: Option<Filter>,
    pub shape: ReadShape,
}

/// Runs a plan. Excluded points are removed before the offset is applied, so they cannot
/// shift the page.
pub async fn nearest(
    core: &Rc<Core>,
    name: &str,
    plan: Plan,
    index: IndexParams,
) -> Result<Vec<ScoredRecord>, Error> {
    let (limit, offset) = fetch_window(&plan);
    let page = (plan.offset, plan.limit);
    let exclude = plan.exclude;
    let mut hits = ops::search(
        core,
        name,
        SearchRequest {
            vector_name: plan.vector_name,
            vector: plan.vector,
            limit,
            offset,
            score_threshold: plan.score_threshold,
            filter: plan.filter,
            shape: plan.shape,
            index,
        },
    )
    .await?;
    page_excluding(&mut hits, &exclude, page);
    Ok(hits)
}

/// How many hits to fetch, from which offset: with points to exclude, fetch from the start
/// with room for them, so that [`page_excluding`] can apply the offset after removing them.
pub fn fetch_window(plan: &Plan) -> (usize, usize) {
    if plan.exclude.is_empty() {
        (plan.limit, plan.offset)
    } else {
        (plan.offset + plan.limit + plan.exclude.len(), 0)
    }
}

/// Removes excluded points, then applies `(offset, limit)`; nothing to do without exclusions
/// (the engine already paged).
pub fn page_excluding(
    hits: &mut Vec<ScoredRecord>,
    exclude: &[PointId],
    (offset, limit): (usize, usize),
) {
    if exclude.is_empty() {
        return;
    }
    hits.retain(|h| !exclude.contains(&h.record.id));
    hits.drain(..offset.min(hits.len()));
    hits.truncate(limit);
}

/// The stored dense vector `vector_name` of each point, in order; 404 for a missing point,
/// Qdrant's error for a sparse space.
pub async fn stored_vectors(
    core: &Rc<Core>,
    name: &str,
    vector_name: &str,
    ids: &[PointId],
) -> Result<Vec<Vec<f32>>, Error> {
    stored_any(core, name, vector_name, ids)
        .await?
        .into_iter()
        .map(|v| {
            v.into_dense().ok_or_else(|| {
                Error::wrong_input(format!(
                    "Conversion between sparse and regular vectors failed: {vector_name} is a sparse vector"
                ))
            })
        })
        .collect()
}

/// The stored vector `vector_name` (dense or sparse) of each point, in order; 404 for a
/// missing point.
pub async fn stored_any(
    core: &Rc<Core>,
    name: &str,
    vector_name: &str,
    ids: &[PointId],
) -> Result<Vec<Vector>, Error> {
    let shape = ReadShape {
        payload: Default::default(),
        vectors: VectorSelector::Names(vec![vector_name.to_owned()]),
    };
    let found = ops::retrieve(core, name, ids.to_vec(), shape).await?;
    let mut by_id: std::collections::HashMap<PointId, Vector> = found
        .into_iter()
        .filter_map(|r| Some((r.id, r.vectors?.pop()?.1)))
        .collect();
    ids.iter()
        .map(|id| {
            by_id
                .remove(id)
                .ok_or_else(|| Error::NotFound(format!("Not found: No point with id {id} found")))
        })
        .collect()
}

pub fn unnamed(core: &Core, name: &str) -> Result<bool, Error> {
    Ok(core.catalog.borrow().get(name)?.config.unnamed_vector)
}

/// A batch request of the legacy search family: `{"searches": [...]}`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Batch<B> {
    searches: Vec<B>,
}

/// Parses one request of the search family, runs it and writes its hits.
pub async fn answer_one<B: DeserializeOwned>(
    core: &Rc<Core>,
    name: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
    run: impl AsyncFn(&Rc<Core>, &str, B) -> Result<Vec<ScoredRecord>, Error>,
) -> Result<(), Error> {
    let req: B = parse_body(body)?;
    let unnamed = unnamed(core, name)?;
    let hits = run(core, name, req).await?;
    write_hits(out, &hits, unnamed)
}

/// Parses a `{"searches": [...]}` batch, runs each in order and writes one list of hits each.
pub async fn answer_batch<B: DeserializeOwned>(
    core: &Rc<Core>,
    name: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
    run: impl AsyncFn(&Rc<Core>, &str, B) -> Result<Vec<ScoredRecord>, Error>,
) -> Result<(), Error> {
    let req: Batch<B> = parse_body(body)?;
    check_batch(core, "searches", req.searches.len())?;
    let unnamed = unnamed(core, name)?;
    let mut all = Vec::with_capacity(req.searches.len());
    for item in req.searches {
        all.push(run(core, name, item).await?);
    }
    let lists = all
        .iter()
        .map(|hits| seq(hits.iter().map(|hit| ScoredOut { hit, unnamed })));
    write_result(out, &seq(lists))
}

pub fn write_hits(out: &mut Vec<u8>, hits: &[ScoredRecord], unnamed: bool) -> Result<(), Error> {
    write_result(out, &seq(hits.iter().map(|hit| ScoredOut { hit, unnamed })))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SearchBody {
    vector: Value,
    filter: Option<Filter>,
    params: Option<SearchParamsIn>,
    limit: usize,
    offset: Option<usize>,
    with_payload: Option<WithPayload>,
    #[serde(alias = "with_vectors")]
    with_vector: Option<WithVector>,
    score_threshold: Option<f32>,
    shard_key: Option<Value>,
}

/// `vector` of a legacy search: a bare array, `{"name": …, "vector": […]}`, or a named
/// sparse vector `{"name": …, "vector": {"indices": […], "values": […]}}`.
pub fn named_vector(v: Value) -> Result<(String, Vector), Error> {
    #[derive(Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Named {
        name: String,
        vector: Value,
    }
    match v {
        Value::Array(_) => Ok((
            String::new(),
            Vector::Dense(serde_json::from_value(v).map_err(Error::format)?),
        )),
        Value::Object(ref m) if m.contains_key("indices") => Err(Error::format(
            "vector: a sparse vector must be named: {\"name\": …, \"vector\": {\"indices\", \"values\"}}",
        )),
        Value::Object(_) => {
            let n: Named = serde_json::from_value(v).map_err(Error::format)?;
            let vector = match serde_json::from_value::<BatchVector>(n.vector) {
                Ok(v) => v.0,
                Err(e) => return Err(Error::format(format!("vector: {e}"))),
            };
            Ok((n.name, vector))
        }
        _ => Err(Error::format(
            "vector: expected an array of numbers or a named vector",
        )),
    }
}

async fn run_search(
    core: &Rc<Core>,
    name: &str,
    req: SearchBody,
) -> Result<Vec<ScoredRecord>, Error> {
    refuse_shard_key(&req.shard_key)?;
    let index = check_params(&req.params)?;
    let (vector_name, vector) = named_vector(req.vector)?;
    let plan = Plan {
        vector_name,
        vector,
        exclude: Vec::new(),
        limit: check_limit(req.limit)?,
        offset: check_offset(req.offset)?,
        score_threshold: req.score_threshold,
        filter: check_filter(req.filter)?,
        shape: read_shape(req.with_payload, false, req.with_vector),
    };
    nearest(core, name, plan, index).await
}

/// `POST /collections/{name}/points/search`
pub async fn search(
    core: &Rc<Core>,
    name: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    answer_one::<SearchBody>(core, name, body, out, run_search).await
}

/// `POST /collections/{name}/points/search/batch`: one list of hits per search, in order.
pub async fn search_batch(
    core: &Rc<Core>,
    name: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    answer_batch::<SearchBody>(core, name, body, out, run_search).await
}
