//! Search routes: legacy `points/search` and universal `points/query` (nearest neighbours).

use std::rc::Rc;

use serde::Deserialize;
use serde_json::Value;
use vexfs_shard::filter::Filter;
use vexfs_shard::{PointId, ScoredRecord, VectorSelector};

use super::error::Error;
use super::json::parse_body;
use super::model::{seq, ScoredOut, WithPayload, WithVector};
use super::{check_filter, check_limit, refuse_shard_key, write_result};
use crate::runtime::core::Core;
use crate::runtime::ops::{self, ReadShape, SearchRequest};

/// Search parameters (`params`); search is exact, so they cannot make results worse.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchParamsIn {
    #[allow(dead_code)]
    hnsw_ef: Option<u64>,
    #[allow(dead_code)]
    exact: Option<bool>,
    quantization: Option<Value>,
    #[allow(dead_code)]
    indexed_only: Option<bool>,
    #[allow(dead_code)]
    acorn: Option<Value>,
}

fn check_params(p: &Option<SearchParamsIn>) -> Result<(), Error> {
    if p.as_ref().is_some_and(|p| p.quantization.is_some()) {
        return Err(Error::unsupported("params.quantization"));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchBody {
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

/// `vector` of a legacy search: a bare array or `{"name": …, "vector": […]}`.
fn named_vector(v: Value) -> Result<(String, Vec<f32>), Error> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Named {
        name: String,
        vector: Value,
    }
    match v {
        Value::Array(_) => Ok((
            String::new(),
            serde_json::from_value(v).map_err(Error::format)?,
        )),
        Value::Object(ref m)
            if m.contains_key("indices") || m.get("vector").is_some_and(Value::is_object) =>
        {
            Err(Error::unsupported("sparse vector search"))
        }
        Value::Object(_) => {
            let n: Named = serde_json::from_value(v).map_err(Error::format)?;
            Ok((
                n.name,
                serde_json::from_value(n.vector).map_err(Error::format)?,
            ))
        }
        _ => Err(Error::format(
            "vector: expected an array of numbers or a named vector",
        )),
    }
}

fn unnamed(core: &Core, name: &str) -> Result<bool, Error> {
    Ok(core.catalog.borrow().get(name)?.config.unnamed_vector)
}

fn write_hits(out: &mut Vec<u8>, hits: &[ScoredRecord], unnamed: bool) -> Result<(), Error> {
    write_result(out, &seq(hits.iter().map(|hit| ScoredOut { hit, unnamed })))
}

/// `POST /collections/{name}/points/search`
pub async fn search(
    core: &Rc<Core>,
    name: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let req: SearchBody = parse_body(body)?;
    refuse_shard_key(&req.shard_key)?;
    let filter = check_filter(req.filter)?;
    check_params(&req.params)?;
    let unnamed = unnamed(core, name)?;
    let (vector_name, vector) = named_vector(req.vector)?;
    let hits = ops::search(
        core,
        name,
        SearchRequest {
            vector_name,
            vector,
            limit: check_limit(req.limit)?,
            offset: req.offset.unwrap_or(0),
            score_threshold: req.score_threshold,
            filter,
            shape: ReadShape {
                payload: WithPayload::selector(req.with_payload, false),
                vectors: WithVector::selector(req.with_vector),
            },
        },
    )
    .await?;
    write_hits(out, &hits, unnamed)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryBody {
    query: Option<Value>,
    using: Option<String>,
    prefetch: Option<Value>,
    filter: Option<Filter>,
    params: Option<SearchParamsIn>,
    score_threshold: Option<f32>,
    limit: Option<usize>,
    offset: Option<usize>,
    with_payload: Option<WithPayload>,
    #[serde(alias = "with_vectors")]
    with_vector: Option<WithVector>,
    lookup_from: Option<Value>,
    shard_key: Option<Value>,
}

/// Default `limit` of a query (Qdrant's).
const QUERY_LIMIT_DEFAULT: usize = 10;

/// What a query asks for, as far as this server answers it.
enum QueryKind {
    Vector(Vec<f32>),
    /// Nearest to an existing point's vector, excluding that point.
    Point(PointId),
}

fn query_kind(q: Value) -> Result<QueryKind, Error> {
    match q {
        Value::Array(_) => Ok(QueryKind::Vector(
            serde_json::from_value(q).map_err(Error::format)?,
        )),
        Value::Number(_) | Value::String(_) => Ok(QueryKind::Point(
            serde_json::from_value(q).map_err(Error::format)?,
        )),
        Value::Object(mut m) => match m.remove("nearest") {
            Some(inner) if m.is_empty() => query_kind(inner),
            _ => {
                let kind = m.keys().next().cloned().unwrap_or_default();
                Err(Error::unsupported(&format!("query `{kind}`")))
            }
        },
        _ => Err(Error::format(
            "query: expected a vector, a point id or a query object",
        )),
    }
}

/// `POST /collections/{name}/points/query`
pub async fn query(
    core: &Rc<Core>,
    name: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let req: QueryBody = parse_body(body)?;
    refuse_shard_key(&req.shard_key)?;
    let filter = check_filter(req.filter)?;
    check_params(&req.params)?;
    // Older clients always send `"prefetch": []`, which means none.
    if req
        .prefetch
        .as_ref()
        .is_some_and(|p| !matches!(p, Value::Array(a) if a.is_empty()))
    {
        return Err(Error::unsupported("prefetch"));
    }
    if req.lookup_from.is_some() {
        return Err(Error::unsupported("lookup_from"));
    }
    let unnamed = unnamed(core, name)?;
    let limit = check_limit(req.limit.unwrap_or(QUERY_LIMIT_DEFAULT))?;
    let offset = req.offset.unwrap_or(0);
    let vector_name = req.using.unwrap_or_default();
    let shape = ReadShape {
        payload: WithPayload::selector(req.with_payload, false),
        vectors: WithVector::selector(req.with_vector),
    };
    let Some(q) = req.query else {
        return Err(Error::unsupported(
            "query without `query` (scroll-like query)",
        ));
    };
    let (vector, exclude) = match query_kind(q)? {
        QueryKind::Vector(v) => (v, None),
        QueryKind::Point(id) => {
            let only = ReadShape {
                payload: Default::default(),
                vectors: VectorSelector::Names(vec![vector_name.clone()]),
            };
            let found = ops::retrieve(core, name, vec![id], only).await?;
            let v = found
                .into_iter()
                .next()
                .and_then(|r| r.vectors)
                .and_then(|mut v| v.pop())
                .map(|(_, v)| v)
                .ok_or_else(|| {
                    Error::NotFound(format!("Not found: No point with id {id} found"))
                })?;
            (v, Some(id))
        }
    };
    let mut hits = ops::search(
        core,
        name,
        SearchRequest {
            vector_name,
            vector,
            // With a point as the query, fetch from the start plus one extra, drop the point
            // itself, then apply the offset here, so it cannot shift the page.
            limit: if exclude.is_some() {
                offset + limit + 1
            } else {
                limit
            },
            offset: if exclude.is_some() { 0 } else { offset },
            score_threshold: req.score_threshold,
            filter,
            shape,
        },
    )
    .await?;
    if let Some(id) = exclude {
        hits.retain(|h| h.record.id != id);
        hits.drain(..offset.min(hits.len()));
        hits.truncate(limit);
    }
    #[derive(serde::Serialize)]
    struct QueryResponse<P> {
        points: P,
    }
    write_result(
        out,
        &QueryResponse {
            points: seq(hits.iter().map(|hit| ScoredOut { hit, unnamed })),
        },
    )
}
