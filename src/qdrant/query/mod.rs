//! Universal query: `points/query` and `points/query/batch`.
//!
//! A query is a tree of stages (`stage.rs`): prefetches of any depth, each with its own
//! query, filter, limit and threshold, and a root that ranks their candidates — by vector
//! (nearest, recommend, discover, context, MMR), by fusion (`fusion.rs`), by formula
//! (`formula/`), by a payload field (`order_by`) or at random (`sample`). A root without
//! prefetches whose query ranks by vector runs as one plain search, as before.

mod formula;
mod fusion;
mod hit;
mod kind;
mod mmr;
mod rank;
mod stage;

use schemars::JsonSchema;
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use vexfs_shard::filter::Filter;
use vexfs_shard::{PointId, Record, ScoredRecord, Vector};

use self::hit::Hit;
use self::kind::QueryKind;
use self::stage::{Stage, StageIn};
use super::error::Error;
use super::json::parse_body;
use super::lookup::Lookup;
use super::model::{read_shape, seq, ScoredOut, WithPayload, WithVector};
use super::recommend::{run_query_with, Query};
use super::search::{unnamed, Plan, SearchParamsIn};
use super::{check_batch, check_offset, refuse_shard_key, write_result};
use crate::runtime::core::Core;
use crate::runtime::ops::{self, ReadShape};

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct QueryBody {
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

/// One result point: a hit with its record, and the `order_value` of `order_by` queries.
struct QueryPoint {
    hit: ScoredRecord,
    order_value: Option<Value>,
}

async fn run(core: &Rc<Core>, name: &str, req: QueryBody) -> Result<Vec<QueryPoint>, Error> {
    refuse_shard_key(&req.shard_key)?;
    let offset = check_offset(req.offset)?;
    let shape = read_shape(req.with_payload, false, req.with_vector);
    let mut count = 0;
    let root = Stage::parse(
        StageIn {
            prefetch: req.prefetch,
            query: req.query,
            using: req.using,
            filter: req.filter,
            params: req.params,
            score_threshold: req.score_threshold,
            limit: req.limit,
            lookup_from: req.lookup_from,
        },
        0,
        &mut count,
    )?;
    let limit = root.limit;
    // The plain search: one pass that also reads payloads and vectors.
    if root.prefetch.is_empty() && matches!(root.query, Some(QueryKind::Rank(_))) {
        let Some(QueryKind::Rank(r)) = root.query else {
            return Err(Error::Internal("plain search without a ranking".into()));
        };
        let (query, exclude) =
            rank::resolve(core, name, &root.using, r, root.lookup.as_ref()).await?;
        let plan = Plan {
            vector_name: root.using,
            vector: Vector::Dense(Vec::new()),
            exclude,
            limit,
            offset,
            score_threshold: root.score_threshold,
            filter: root.filter,
            shape,
        };
        let hits = run_query_with(core, name, query, plan, root.index).await?;
        return Ok(hits
            .into_iter()
            .map(|hit| QueryPoint {
                hit,
                order_value: None,
            })
            .collect());
    }
    let hits = stage::run(core, name, root, None, offset.saturating_add(limit)).await?;
    let page: Vec<Hit> = hits.into_iter().skip(offset).take(limit).collect();
    with_records(core, name, page, shape).await
}

/// Reads the records of the final page (a point deleted meanwhile is left out).
async fn with_records(
    core: &Rc<Core>,
    name: &str,
    page: Vec<Hit>,
    shape: ReadShape,
) -> Result<Vec<QueryPoint>, Error> {
    let ids: Vec<PointId> = page.iter().map(|h| h.id).collect();
    let records = ops::retrieve(core, name, ids, shape).await?;
    let by_id: std::collections::HashMap<PointId, Record> =
        records.into_iter().map(|r| (r.id, r)).collect();
    Ok(page
        .into_iter()
        .filter_map(|h| {
            let record = by_id.get(&h.id)?.clone();
            Some(QueryPoint {
                hit: ScoredRecord {
                    record,
                    score: h.score,
                },
                order_value: h.order_value,
            })
        })
        .collect())
}

/// A query tree to run for `query/groups`: the request's stages, unparsed, so that each
/// (growing) fetch re-runs it.
#[derive(Clone)]
pub struct Staged {
    pub prefetch: Option<Value>,
    pub query: Option<Value>,
    pub using: Option<String>,
    pub filter: Option<Filter>,
    pub score_threshold: Option<f32>,
    pub lookup_from: Option<Value>,
}

/// Runs a query tree: its best `window` points, best first, read with `shape`.
pub async fn staged_hits(
    core: &Rc<Core>,
    name: &str,
    s: Staged,
    window: usize,
    shape: ReadShape,
) -> Result<Vec<ScoredRecord>, Error> {
    let mut count = 0;
    let root = Stage::parse(
        StageIn {
            prefetch: s.prefetch,
            query: s.query,
            using: s.using,
            filter: s.filter,
            params: None,
            score_threshold: s.score_threshold,
            limit: None,
            lookup_from: s.lookup_from,
        },
        0,
        &mut count,
    )?;
    let hits = stage::run(core, name, root, None, window).await?;
    let points = with_records(core, name, hits, shape).await?;
    Ok(points.into_iter().map(|p| p.hit).collect())
}

/// What a vector query ranks by, and the example ids it leaves out (for `query/groups`).
pub async fn resolve_query(
    core: &Rc<Core>,
    name: &str,
    using: &str,
    q: Value,
    lookup: Option<&Lookup>,
) -> Result<(Query, Vec<PointId>), Error> {
    match QueryKind::from_value(q)? {
        QueryKind::Rank(r) => rank::resolve(core, name, using, r, lookup).await,
        QueryKind::Mmr(..) => Err(Error::unsupported("query `nearest` with `mmr` in groups")),
        QueryKind::Fusion(_) | QueryKind::Formula(_) => Err(Error::unsupported(
            "fusion and formula queries in groups (they need prefetch)",
        )),
        QueryKind::OrderBy(_) => Err(Error::unsupported("query `order_by` in groups")),
        QueryKind::Sample => Err(Error::unsupported("query `sample` in groups")),
    }
}

/// A point as Qdrant's `ScoredPoint`, with `order_value` for `order_by` queries.
#[derive(Serialize)]
struct PointOut<'a> {
    #[serde(flatten)]
    point: ScoredOut<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    order_value: Option<&'a Value>,
}

/// `{"points": [...]}`, serialized as it is written.
#[derive(Serialize)]
struct QueryResponse<P> {
    points: P,
}

fn response(points: &[QueryPoint], unnamed: bool) -> QueryResponse<impl Serialize + '_> {
    QueryResponse {
        points: seq(points.iter().map(move |p| PointOut {
            point: ScoredOut {
                hit: &p.hit,
                unnamed,
            },
            order_value: p.order_value.as_ref(),
        })),
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
    let unnamed = unnamed(core, name)?;
    let points = run(core, name, req).await?;
    let body = response(&points, unnamed);
    write_result(out, &body)
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct QueryBatchBody {
    searches: Vec<QueryBody>,
}

/// `POST /collections/{name}/points/query/batch`
pub async fn query_batch(
    core: &Rc<Core>,
    name: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let req: QueryBatchBody = parse_body(body)?;
    check_batch(core, "searches", req.searches.len())?;
    let unnamed = unnamed(core, name)?;
    let mut all = Vec::with_capacity(req.searches.len());
    for q in req.searches {
        all.push(run(core, name, q).await?);
    }
    write_result(
        out,
        &seq(all.iter().map(|points| response(points, unnamed))),
    )
}
