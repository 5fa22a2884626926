//! Universal query: `points/query` and `points/query/batch`. Nearest neighbours of a vector
//! or of a stored point, recommendations, discovery and context search; other query kinds
//! are refused by name.

use std::rc::Rc;

use serde::Deserialize;
use serde_json::Value;
use vexfs_shard::filter::Filter;
use vexfs_shard::{PointId, ScoredRecord};

use super::discover::{self, ContextInput, ContextPairIn, DiscoverInput};
use super::error::Error;
use super::json::parse_body;
use super::model::{seq, ScoredOut, WithPayload, WithVector};
use super::recommend::{self, Example, Examples, Query, Strategy};
use super::search::{check_params, stored_vectors, unnamed, Plan, SearchParamsIn};
use super::{check_batch, check_filter, check_limit, check_offset, refuse_shard_key, write_result};
use crate::runtime::core::Core;
use crate::runtime::ops::ReadShape;

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
    Recommend(Examples),
    Discover(Option<Example>, Vec<ContextPairIn>),
    Context(Vec<ContextPairIn>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecommendInput {
    #[serde(default)]
    positive: Vec<Example>,
    #[serde(default)]
    negative: Vec<Example>,
    strategy: Option<Strategy>,
}

fn query_kind(q: Value) -> Result<QueryKind, Error> {
    match q {
        Value::Array(_) => Ok(QueryKind::Vector(
            serde_json::from_value(q).map_err(Error::format)?,
        )),
        Value::Number(_) | Value::String(_) => Ok(QueryKind::Point(
            serde_json::from_value(q).map_err(Error::format)?,
        )),
        Value::Object(mut m) if m.len() == 1 => {
            if let Some(inner) = m.remove("nearest") {
                return query_kind(inner);
            }
            if let Some(inner) = m.remove("recommend") {
                let r: RecommendInput = serde_json::from_value(inner).map_err(Error::format)?;
                return Ok(QueryKind::Recommend(Examples {
                    positive: r.positive,
                    negative: r.negative,
                    strategy: r.strategy.unwrap_or_default(),
                }));
            }
            if let Some(inner) = m.remove("discover") {
                let d: DiscoverInput = serde_json::from_value(inner).map_err(Error::format)?;
                return Ok(QueryKind::Discover(Some(d.target), d.context.into_vec()));
            }
            if let Some(inner) = m.remove("context") {
                let c: ContextInput = serde_json::from_value(inner).map_err(Error::format)?;
                return Ok(QueryKind::Context(c.into_vec()));
            }
            let kind = m.keys().next().cloned().unwrap_or_default();
            Err(Error::unsupported(&format!("query `{kind}`")))
        }
        Value::Object(m) => {
            let keys: Vec<&String> = m.keys().collect();
            Err(Error::unsupported(&format!(
                "query object with keys {keys:?}"
            )))
        }
        _ => Err(Error::format(
            "query: expected a vector, a point id or a query object",
        )),
    }
}

async fn run(core: &Rc<Core>, name: &str, req: QueryBody) -> Result<Vec<ScoredRecord>, Error> {
    refuse_shard_key(&req.shard_key)?;
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
    let Some(q) = req.query else {
        return Err(Error::unsupported(
            "query without `query` (scroll-like query)",
        ));
    };
    let vector_name = req.using.unwrap_or_default();
    let (query, exclude) = resolve_query(core, name, &vector_name, q).await?;
    let plan = Plan {
        vector_name,
        vector: Vec::new(),
        exclude,
        limit: check_limit(req.limit.unwrap_or(QUERY_LIMIT_DEFAULT))?,
        offset: check_offset(req.offset)?,
        score_threshold: req.score_threshold,
        filter: check_filter(req.filter)?,
        shape: ReadShape {
            payload: WithPayload::selector(req.with_payload, false),
            vectors: WithVector::selector(req.with_vector),
        },
    };
    recommend::run_query(core, name, query, plan).await
}

/// What the `query` of a universal query ranks by, and the example ids it leaves out.
pub async fn resolve_query(
    core: &Rc<Core>,
    name: &str,
    using: &str,
    q: Value,
) -> Result<(Query, Vec<PointId>), Error> {
    Ok(match query_kind(q)? {
        QueryKind::Vector(v) => (Query::Vector(v), Vec::new()),
        QueryKind::Point(id) => {
            let mut v = stored_vectors(core, name, using, &[id]).await?;
            (Query::Vector(v.pop().unwrap_or_default()), vec![id])
        }
        QueryKind::Recommend(ex) => recommend::resolve(core, name, using, ex).await?,
        QueryKind::Discover(target, pairs) => {
            discover::resolve(core, name, using, target, pairs).await?
        }
        QueryKind::Context(pairs) => discover::resolve(core, name, using, None, pairs).await?,
    })
}

#[derive(serde::Serialize)]
struct QueryResponse<P> {
    points: P,
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
    let hits = run(core, name, req).await?;
    write_result(
        out,
        &QueryResponse {
            points: seq(hits.iter().map(|hit| ScoredOut { hit, unnamed })),
        },
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryBatchBody {
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
    let lists = all.iter().map(|hits| QueryResponse {
        points: seq(hits.iter().map(|hit| ScoredOut { hit, unnamed })),
    });
    write_result(out, &seq(lists))
}
