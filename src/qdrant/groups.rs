//! Grouped search: `points/search/groups`, `points/recommend/groups` and
//! `points/query/groups`.
//!
//! Candidates are taken in score order (best first, ties by id). Each value of `group_by`
//! (a string or an integer; every element of an array value) names a group, so a point may
//! join several. A candidate joins each of its groups that has room (`group_size`); a new
//! group opens only while fewer than `limit` exist. The answer is therefore the `limit` groups
//! with the best best-hit, each with its `group_size` best hits, ordered by best hit. Points
//! without a usable value are skipped; a key no point has yields no groups.

use schemars::JsonSchema;
use std::collections::HashMap;
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use vexfs_shard::filter::{Condition, Filter, JsonPath};
use vexfs_shard::{PayloadSelector, PointId, ScoredRecord, Vector, VectorSelector};

use super::error::Error;
use super::json::parse_body;
use super::lookup::Lookup;
use super::model::{read_shape, seq, RecordOut, ScoredOut, WithPayload, WithVector};
use super::query::{resolve_query, staged_hits, Staged};
use super::recommend::{self, run_query_with, Example, Examples, Query, Strategy};
use super::search::{check_params, named_vector, unnamed, Plan, SearchParamsIn};
use super::{check_filter, check_limit, refuse_shard_key, write_result};
use crate::limits;
use crate::runtime::core::Core;
use crate::runtime::ops::{self, IndexParams, ReadShape};

/// Candidates fetched first, per hit wanted (`limit × group_size`): groups are rarely filled
/// from exactly as many candidates, since points share groups or lack the key.
const GROUPS_OVERFETCH: usize = 4;
/// Growth of the candidate count when the groups are not yet complete.
const GROUPS_FETCH_GROWTH: usize = 4;
/// Most candidates one grouped search looks at (each is materialized with its payload);
/// beyond that the groups found so far are returned.
const GROUPS_FETCH_MAX: usize = 50_000;
/// Qdrant's defaults for `points/query/groups`.
const QUERY_GROUP_SIZE_DEFAULT: usize = 3;
const QUERY_GROUPS_LIMIT_DEFAULT: usize = 10;

/// `with_lookup`: a collection name, or `{collection, with_payload, with_vectors}`.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
enum WithLookupIn {
    Name(String),
    Full(WithLookupFull),
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct WithLookupFull {
    collection: String,
    with_payload: Option<WithPayload>,
    with_vectors: Option<WithVector>,
}

/// How to group, checked.
struct Grouping {
    key: JsonPath,
    group_size: usize,
    limit: usize,
    lookup: Option<WithLookupIn>,
}

impl Grouping {
    fn new(
        group_by: &str,
        group_size: usize,
        limit: usize,
        lookup: Option<WithLookupIn>,
    ) -> Result<Grouping, Error> {
        if group_by.is_empty() {
            return Err(Error::Validation(
                "group_by: length must be at least 1".into(),
            ));
        }
        if group_size == 0 || group_size > limits::RESULT_LIMIT_MAX {
            return Err(Error::Validation(format!(
                "group_size: value {group_size} invalid, must be from 1 to {}",
                limits::RESULT_LIMIT_MAX
            )));
        }
        let key = JsonPath::parse(group_by)
            .map_err(|e| Error::BadRequest(format!("Bad request: group_by: {e}")))?;
        Ok(Grouping {
            key,
            group_size,
            limit: check_limit(limit)?,
            lookup,
        })
    }
}

/// What ranks the points to group: one search, or a query tree with prefetches.
enum Ranker {
    Search(Query),
    Staged(Box<Staged>),
}

/// The search to group: what to rank by and the rest of a plan (limit and offset unused).
struct Source {
    query: Ranker,
    vector_name: String,
    exclude: Vec<PointId>,
    score_threshold: Option<f32>,
    filter: Option<Filter>,
    payload: PayloadSelector,
    vectors: VectorSelector,
    /// The request's search `params`.
    index: IndexParams,
}

struct Group {
    /// The `group_by` value: a JSON string or integer.
    id: Value,
    hits: Vec<ScoredRecord>,
}

/// The usable group values of a point, distinct, in document order.
fn group_values(key: &JsonPath, hit: &ScoredRecord) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    key.any_value(hit.record.payload.as_ref(), |v| {
        let mut add = |v: &Value| {
            let usable = v.is_string() || v.is_i64() || v.is_u64();
            if usable && !out.contains(v) {
                out.push(v.clone());
            }
        };
        match v {
            Value::Array(items) => items.iter().for_each(&mut add),
            v => add(v),
        }
        false
    });
    out
}

/// Groups candidates given best first; also whether all `limit` groups are full.
fn aggregate(g: &Grouping, hits: &[ScoredRecord]) -> (Vec<Group>, bool) {
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut full = 0;
    for hit in hits {
        for v in group_values(&g.key, hit) {
            let k = v.to_string();
            let i = match index.get(&k) {
                Some(&i) => i,
                None if groups.len() < g.limit => {
                    index.insert(k, groups.len());
                    groups.push(Group {
                        id: v,
                        hits: Vec::with_capacity(g.group_size),
                    });
                    groups.len() - 1
                }
                None => continue,
            };
            let group = &mut groups[i];
            if group.hits.len() < g.group_size {
                group.hits.push(hit.clone());
                if group.hits.len() == g.group_size {
                    full += 1;
                }
            }
        }
        if full == g.limit {
            return (groups, true);
        }
    }
    (groups, false)
}

async fn grouped(
    core: &Rc<Core>,
    name: &str,
    src: Source,
    g: &Grouping,
) -> Result<Vec<Group>, Error> {
    // Points without a value at the key can never join a group: leave them out early.
    let mut filter: Filter =
        serde_json::from_value(json!({"must_not": [{"is_empty": {"key": g.key.as_str()}}]}))
            .map_err(|e| Error::Internal(format!("group filter: {e}")))?;
    if let Some(user) = src.filter {
        filter.must.push(Condition::Filter(user));
    }
    let mut fetch = (g.limit * g.group_size)
        .saturating_mul(GROUPS_OVERFETCH)
        .min(GROUPS_FETCH_MAX);
    loop {
        let shape = ReadShape {
            // The whole payload, to read the key; the caller's selection is applied after.
            payload: PayloadSelector::All,
            vectors: src.vectors.clone(),
        };
        let hits = match &src.query {
            Ranker::Search(query) => {
                let plan = Plan {
                    vector_name: src.vector_name.clone(),
                    vector: Vector::Dense(Vec::new()),
                    exclude: src.exclude.clone(),
                    limit: fetch,
                    offset: 0,
                    score_threshold: src.score_threshold,
                    filter: Some(filter.clone()),
                    shape,
                };
                run_query_with(core, name, query.clone(), plan, src.index).await?
            }
            Ranker::Staged(staged) => {
                let mut staged = Staged::clone(staged);
                staged.filter = Some(filter.clone());
                staged_hits(core, name, staged, fetch, shape).await?
            }
        };
        let exhausted = hits.len() < fetch;
        let (mut groups, complete) = aggregate(g, &hits);
        if complete || exhausted || fetch >= GROUPS_FETCH_MAX {
            for hit in groups.iter_mut().flat_map(|gr| gr.hits.iter_mut()) {
                hit.record.payload = src.payload.apply(hit.record.payload.as_ref());
            }
            return Ok(groups);
        }
        fetch = fetch
            .saturating_mul(GROUPS_FETCH_GROWTH)
            .min(GROUPS_FETCH_MAX);
    }
}

/// The point a group id names in the lookup collection: an integer or a UUID string.
fn lookup_id(id: &Value) -> Option<PointId> {
    serde_json::from_value(id.clone()).ok()
}

#[derive(Serialize)]
struct GroupOut<'a, H, L: Serialize> {
    id: &'a Value,
    hits: H,
    #[serde(skip_serializing_if = "Option::is_none")]
    lookup: Option<Option<L>>,
}

async fn write_groups(
    core: &Rc<Core>,
    name: &str,
    groups: Vec<Group>,
    lookup: Option<WithLookupIn>,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let here_unnamed = unnamed(core, name)?;
    let mut looked_up: Option<(HashMap<PointId, vexfs_shard::Record>, bool)> = None;
    if let Some(l) = lookup {
        let (coll, payload, vectors) = match l {
            WithLookupIn::Name(c) => (c, None, None),
            WithLookupIn::Full(f) => (f.collection, f.with_payload, f.with_vectors),
        };
        let ids: Vec<PointId> = groups.iter().filter_map(|g| lookup_id(&g.id)).collect();
        let shape = read_shape(payload, true, vectors);
        let found = ops::retrieve(core, &coll, ids, shape).await?;
        let by_id = found.into_iter().map(|r| (r.id, r)).collect();
        looked_up = Some((by_id, unnamed(core, &coll)?));
    }
    let items = groups.iter().map(|g| GroupOut {
        id: &g.id,
        hits: seq(g.hits.iter().map(|hit| ScoredOut {
            hit,
            unnamed: here_unnamed,
        })),
        lookup: looked_up.as_ref().map(|(by_id, unnamed)| {
            lookup_id(&g.id)
                .and_then(|id| by_id.get(&id))
                .map(|record| RecordOut {
                    record,
                    unnamed: *unnamed,
                })
        }),
    });
    write_result(out, &GroupsOut { groups: seq(items) })
}

#[derive(Serialize)]
struct GroupsOut<G> {
    groups: G,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SearchGroupsBody {
    vector: Value,
    filter: Option<Filter>,
    params: Option<SearchParamsIn>,
    with_payload: Option<WithPayload>,
    #[serde(alias = "with_vectors")]
    with_vector: Option<WithVector>,
    score_threshold: Option<f32>,
    group_by: String,
    group_size: usize,
    limit: usize,
    with_lookup: Option<WithLookupIn>,
    shard_key: Option<Value>,
}

/// `POST /collections/{name}/points/search/groups`
pub async fn search_groups(
    core: &Rc<Core>,
    name: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let req: SearchGroupsBody = parse_body(body)?;
    refuse_shard_key(&req.shard_key)?;
    let index = check_params(&req.params)?;
    let g = Grouping::new(&req.group_by, req.group_size, req.limit, req.with_lookup)?;
    let (vector_name, vector) = named_vector(req.vector)?;
    let src = Source {
        query: Ranker::Search(Query::Vector(vector)),
        vector_name,
        exclude: Vec::new(),
        score_threshold: req.score_threshold,
        filter: check_filter(req.filter)?,
        payload: WithPayload::selector(req.with_payload, false),
        vectors: WithVector::selector(req.with_vector),
        index,
    };
    finish(core, name, src, g, out).await
}

async fn finish(
    core: &Rc<Core>,
    name: &str,
    src: Source,
    mut g: Grouping,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let lookup = g.lookup.take();
    let groups = grouped(core, name, src, &g).await?;
    write_groups(core, name, groups, lookup, out).await
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RecommendGroupsBody {
    #[serde(default)]
    positive: Vec<Example>,
    #[serde(default)]
    negative: Vec<Example>,
    strategy: Option<Strategy>,
    filter: Option<Filter>,
    params: Option<SearchParamsIn>,
    with_payload: Option<WithPayload>,
    #[serde(alias = "with_vectors")]
    with_vector: Option<WithVector>,
    score_threshold: Option<f32>,
    using: Option<String>,
    lookup_from: Option<Value>,
    group_by: String,
    group_size: usize,
    limit: usize,
    with_lookup: Option<WithLookupIn>,
    shard_key: Option<Value>,
}

/// `POST /collections/{name}/points/recommend/groups`
pub async fn recommend_groups(
    core: &Rc<Core>,
    name: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let req: RecommendGroupsBody = parse_body(body)?;
    refuse_shard_key(&req.shard_key)?;
    let index = check_params(&req.params)?;
    let lookup = Lookup::parse(req.lookup_from)?;
    let g = Grouping::new(&req.group_by, req.group_size, req.limit, req.with_lookup)?;
    let using = req.using.unwrap_or_default();
    let examples = Examples {
        positive: req.positive,
        negative: req.negative,
        strategy: req.strategy.unwrap_or_default(),
    };
    let (query, exclude) =
        recommend::resolve(core, name, &using, examples, lookup.as_ref()).await?;
    let src = Source {
        query: Ranker::Search(query),
        vector_name: using,
        exclude,
        score_threshold: req.score_threshold,
        filter: check_filter(req.filter)?,
        payload: WithPayload::selector(req.with_payload, false),
        vectors: WithVector::selector(req.with_vector),
        index,
    };
    finish(core, name, src, g, out).await
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct QueryGroupsBody {
    prefetch: Option<Value>,
    query: Option<Value>,
    using: Option<String>,
    filter: Option<Filter>,
    params: Option<SearchParamsIn>,
    score_threshold: Option<f32>,
    #[serde(alias = "with_vectors")]
    with_vector: Option<WithVector>,
    with_payload: Option<WithPayload>,
    lookup_from: Option<Value>,
    group_by: String,
    group_size: Option<usize>,
    limit: Option<usize>,
    with_lookup: Option<WithLookupIn>,
    shard_key: Option<Value>,
}

/// `POST /collections/{name}/points/query/groups`
pub async fn query_groups(
    core: &Rc<Core>,
    name: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let req: QueryGroupsBody = parse_body(body)?;
    refuse_shard_key(&req.shard_key)?;
    let index = check_params(&req.params)?;
    let g = Grouping::new(
        &req.group_by,
        req.group_size.unwrap_or(QUERY_GROUP_SIZE_DEFAULT),
        req.limit.unwrap_or(QUERY_GROUPS_LIMIT_DEFAULT),
        req.with_lookup,
    )?;
    let filter = check_filter(req.filter)?;
    // Older clients always send `"prefetch": []`, which means none.
    let prefetch = req
        .prefetch
        .filter(|p| !p.is_null() && !matches!(p, Value::Array(a) if a.is_empty()));
    let src = match (prefetch, req.query) {
        // One search: resolved once, fetched with growing limits.
        (None, Some(q)) if !is_staged_only(&q) => {
            let lookup = Lookup::parse(req.lookup_from)?;
            let using = req.using.unwrap_or_default();
            let (query, exclude) = resolve_query(core, name, &using, q, lookup.as_ref()).await?;
            Source {
                query: Ranker::Search(query),
                vector_name: using,
                exclude,
                score_threshold: req.score_threshold,
                filter,
                payload: WithPayload::selector(req.with_payload, false),
                vectors: WithVector::selector(req.with_vector),
                index,
            }
        }
        (prefetch, query) => Source {
            query: Ranker::Staged(Box::new(Staged {
                prefetch,
                query,
                using: req.using,
                filter: None,
                score_threshold: req.score_threshold,
                lookup_from: req.lookup_from,
            })),
            vector_name: String::new(),
            exclude: Vec::new(),
            score_threshold: None,
            filter,
            payload: WithPayload::selector(req.with_payload, false),
            vectors: WithVector::selector(req.with_vector),
            // Staged queries search with the collection's defaults (see `query::Staged`).
            index,
        },
    };
    finish(core, name, src, g, out).await
}

/// Queries that only a query tree runs (they rank without one search vector).
fn is_staged_only(q: &Value) -> bool {
    ["order_by", "sample", "mmr", "formula", "fusion", "rrf"]
        .iter()
        .any(|k| q.get(k).is_some())
}
