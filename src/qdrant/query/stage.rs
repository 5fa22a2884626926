//! A query stage — the request itself or one of its prefetches — and how it runs.
//!
//! A stage without prefetches searches the collection. A stage with prefetches runs them
//! first (each with its own limit) and then ranks only their candidates:
//! * vector queries (nearest, recommend, discover, context, MMR) search again with the
//!   stage's filter ANDed with a `has_id` condition on the candidate ids — the same exact
//!   search, restricted, so re-scoring equals a brute-force score of every candidate;
//! * fusion and formula combine the prefetch lists' scores directly, with no search;
//! * `order_by` and `sample` order or sample the candidates;
//! * no query: the prefetch results, in order (several prefetches are concatenated, each
//!   point kept at its first place).
//!
//! A stage's filter also applies to its prefetches (ANDed with theirs), as in Qdrant, so
//! every candidate passes the filters of all stages above it. Stages pass only ids and
//! scores between them; payloads and vectors are read for the final page only.

use std::rc::Rc;
use std::sync::Arc;

use futures_util::future::LocalBoxFuture;
use serde::Deserialize;
use serde_json::Value;
use vexfs_shard::distance::Metric;
use vexfs_shard::filter::{Condition, Filter, HasIdCondition};
use vexfs_shard::{PayloadSelector, PointId, VectorSelector};

use super::formula::{Candidate, Formula, PointInputs};
use super::hit::{sort_best_first, Hit};
use super::kind::{Mmr, QueryKind, Ranking, Target};
use super::mmr;
use crate::qdrant::discover;
use crate::qdrant::error::Error;
use crate::qdrant::lookup::Lookup;
use crate::qdrant::order_by;
use crate::qdrant::recommend::{self, run_query, Query};
use crate::qdrant::search::{check_params, nearest, stored_vectors, Plan, SearchParamsIn};
use crate::qdrant::{check_filter, check_limit};
use crate::runtime::core::Core;
use crate::runtime::ops::{self, ReadShape};

/// Qdrant's default `limit` of a prefetch and of a query.
pub const STAGE_LIMIT_DEFAULT: usize = 10;

/// Deepest nesting of prefetches. Real pipelines are two or three levels deep; each level
/// nests the filters one level deeper, so this also bounds filter evaluation recursion.
pub const PREFETCH_DEPTH_MAX: usize = 16;

/// Most prefetches in one query, counted over the whole tree: each one is a search.
pub const PREFETCHES_MAX: usize = 64;

/// The score Qdrant gives points that were not scored: scroll-like, `order_by` and `sample`
/// results.
const UNSCORED: f32 = 1.0;

/// One stage, parsed and checked.
pub struct Stage {
    pub prefetch: Vec<Stage>,
    pub query: Option<QueryKind>,
    pub using: String,
    pub filter: Option<Filter>,
    pub score_threshold: Option<f32>,
    pub limit: usize,
    pub lookup: Option<Lookup>,
}

/// Qdrant's `Prefetch`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrefetchIn {
    prefetch: Option<Value>,
    query: Option<Value>,
    using: Option<String>,
    filter: Option<Filter>,
    params: Option<SearchParamsIn>,
    score_threshold: Option<f32>,
    limit: Option<usize>,
    lookup_from: Option<Value>,
}

/// The parts of a request or prefetch that make a stage.
pub struct StageIn {
    pub prefetch: Option<Value>,
    pub query: Option<Value>,
    pub using: Option<String>,
    pub filter: Option<Filter>,
    pub params: Option<SearchParamsIn>,
    pub score_threshold: Option<f32>,
    pub limit: Option<usize>,
    pub lookup_from: Option<Value>,
}

impl Stage {
    /// Parses a stage and its prefetch tree. `depth` is its nesting level; `count` the
    /// prefetches seen so far in the request.
    pub fn parse(input: StageIn, depth: usize, count: &mut usize) -> Result<Stage, Error> {
        check_params(&input.params)?;
        let prefetch = match input.prefetch {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items,
            Some(one @ Value::Object(_)) => vec![one],
            Some(_) => {
                return Err(Error::format(
                    "prefetch: expected a prefetch object or a list of them",
                ))
            }
        };
        if !prefetch.is_empty() && depth >= PREFETCH_DEPTH_MAX {
            return Err(Error::Validation(format!(
                "prefetch: nested deeper than {PREFETCH_DEPTH_MAX} levels"
            )));
        }
        *count += prefetch.len();
        if *count > PREFETCHES_MAX {
            return Err(Error::Validation(format!(
                "prefetch: more than {PREFETCHES_MAX} prefetches in one query"
            )));
        }
        let mut children = Vec::with_capacity(prefetch.len());
        for p in prefetch {
            let p: PrefetchIn =
                serde_json::from_value(p).map_err(|e| Error::format(format!("prefetch: {e}")))?;
            let child = StageIn {
                prefetch: p.prefetch,
                query: p.query,
                using: p.using,
                filter: p.filter,
                params: p.params,
                score_threshold: p.score_threshold,
                limit: p.limit,
                lookup_from: p.lookup_from,
            };
            children.push(Stage::parse(child, depth + 1, count)?);
        }
        let query = match input.query {
            None | Some(Value::Null) => None,
            Some(q) => Some(QueryKind::from_value(q)?),
        };
        if children.is_empty() && matches!(query, Some(QueryKind::Fusion(_))) {
            return Err(Error::BadRequest(
                "Bad request: Fusion queries need prefetches to fuse".into(),
            ));
        }
        if children.is_empty() && matches!(query, Some(QueryKind::Formula(_))) {
            return Err(Error::BadRequest(
                "Bad request: Formula queries need prefetches to re-score".into(),
            ));
        }
        Ok(Stage {
            prefetch: children,
            query,
            using: input.using.unwrap_or_default(),
            filter: check_filter(input.filter)?,
            score_threshold: input.score_threshold,
            limit: check_limit(input.limit.unwrap_or(STAGE_LIMIT_DEFAULT))?,
            lookup: Lookup::parse(input.lookup_from)?,
        })
    }
}

/// Runs a stage: its best `window` hits (scores only), best first.
pub fn run<'a>(
    core: &'a Rc<Core>,
    name: &'a str,
    stage: Stage,
    inherited: Option<&'a Filter>,
    window: usize,
) -> LocalBoxFuture<'a, Result<Vec<Hit>, Error>> {
    Box::pin(async move {
        let filter = both(inherited, stage.filter.as_ref());
        if stage.prefetch.is_empty() {
            return direct(
                core,
                name,
                stage.query,
                stage.using,
                stage.lookup,
                Scope {
                    filter,
                    threshold: stage.score_threshold,
                    window,
                },
            )
            .await;
        }
        let mut lists = Vec::with_capacity(stage.prefetch.len());
        for child in stage.prefetch {
            let limit = child.limit;
            lists.push(run(core, name, child, filter.as_ref(), limit).await?);
        }
        let scope = Scope {
            filter,
            threshold: stage.score_threshold,
            window,
        };
        over_candidates(
            core,
            name,
            stage.query,
            stage.using,
            stage.lookup,
            lists,
            scope,
        )
        .await
    })
}

/// Where and how much a stage ranks.
struct Scope {
    filter: Option<Filter>,
    threshold: Option<f32>,
    window: usize,
}

impl Scope {
    /// Drops hits under the threshold and keeps the window.
    fn cut(&self, mut hits: Vec<Hit>) -> Vec<Hit> {
        if let Some(t) = self.threshold {
            hits.retain(|h| h.score >= t);
        }
        hits.truncate(self.window);
        hits
    }
}

/// A stage without prefetches: a query over the whole (filtered) collection.
async fn direct(
    core: &Rc<Core>,
    name: &str,
    query: Option<QueryKind>,
    using: String,
    lookup: Option<Lookup>,
    scope: Scope,
) -> Result<Vec<Hit>, Error> {
    match query {
        None => {
            let filter = scope.filter.map(Arc::new);
            let (records, _) =
                ops::scroll(core, name, None, scope.window, filter, ReadShape::default()).await?;
            Ok(records.iter().map(|r| Hit::new(r.id, UNSCORED)).collect())
        }
        Some(QueryKind::Rank(r)) => ranked(core, name, r, &using, lookup.as_ref(), scope).await,
        Some(QueryKind::Mmr(t, m)) => {
            diverse(core, name, t, m, &using, lookup.as_ref(), scope).await
        }
        Some(QueryKind::OrderBy(o)) => {
            let filter = scope.filter.map(Arc::new);
            ordered(core, name, o, scope.window, filter).await
        }
        Some(QueryKind::Sample) => sampled(core, name, scope.filter, scope.window).await,
        Some(QueryKind::Fusion(_) | QueryKind::Formula(_)) => Err(Error::Internal(
            "fusion or formula without prefetches passed parsing".into(),
        )),
    }
}

/// A stage with prefetches: ranks their candidates.
async fn over_candidates(
    core: &Rc<Core>,
    name: &str,
    query: Option<QueryKind>,
    using: String,
    lookup: Option<Lookup>,
    lists: Vec<Vec<Hit>>,
    scope: Scope,
) -> Result<Vec<Hit>, Error> {
    let ids = union(&lists);
    let restricted = Scope {
        filter: Some(with_ids(scope.filter.as_ref(), &ids)),
        threshold: scope.threshold,
        window: scope.window,
    };
    match query {
        None => {
            let mut merged = Vec::with_capacity(ids.len());
            let mut seen = std::collections::HashSet::with_capacity(ids.len());
            for hit in lists.into_iter().flatten() {
                if seen.insert(hit.id) {
                    merged.push(hit);
                }
            }
            merged.truncate(scope.window);
            Ok(merged)
        }
        Some(QueryKind::Fusion(f)) => Ok(scope.cut(f.fuse(lists)?)),
        Some(QueryKind::Formula(f)) => {
            let hits = formula_scores(core, name, &f, &lists, &ids).await?;
            Ok(scope.cut(hits))
        }
        // Nothing to rank: a search restricted to no ids would be a search of nothing anyway.
        _ if ids.is_empty() => Ok(Vec::new()),
        Some(QueryKind::Rank(r)) => {
            ranked(core, name, r, &using, lookup.as_ref(), restricted).await
        }
        Some(QueryKind::Mmr(t, m)) => {
            diverse(core, name, t, m, &using, lookup.as_ref(), restricted).await
        }
        Some(QueryKind::OrderBy(o)) => {
            let filter = restricted.filter.map(Arc::new);
            ordered(core, name, o, scope.window, filter).await
        }
        Some(QueryKind::Sample) => sampled(core, name, restricted.filter, scope.window).await,
    }
}

/// Resolves a vector ranking into what to search by, and the example ids to leave out.
pub async fn resolve(
    core: &Rc<Core>,
    name: &str,
    using: &str,
    r: Ranking,
    lookup: Option<&Lookup>,
) -> Result<(Query, Vec<PointId>), Error> {
    Ok(match r {
        Ranking::Nearest(t) => {
            let (v, exclude) = target_vector(core, name, using, t, lookup).await?;
            (Query::Vector(v), exclude)
        }
        Ranking::Recommend(ex) => recommend::resolve(core, name, using, ex, lookup).await?,
        Ranking::Discover(target, pairs) => {
            discover::resolve(core, name, using, target, pairs, lookup).await?
        }
        Ranking::Context(pairs) => {
            discover::resolve(core, name, using, None, pairs, lookup).await?
        }
    })
}

/// A `nearest` target's vector; a point of this collection is also left out of the results.
async fn target_vector(
    core: &Rc<Core>,
    name: &str,
    using: &str,
    t: Target,
    lookup: Option<&Lookup>,
) -> Result<(Vec<f32>, Vec<PointId>), Error> {
    Lookup::check(lookup, core)?;
    match t {
        Target::Vector(v) => Ok((v, Vec::new())),
        Target::Point(id) => {
            let (from, vector) = Lookup::source(lookup, name, using);
            let v = stored_vectors(core, from, vector, &[id])
                .await?
                .pop()
                .ok_or_else(|| Error::Internal("stored vector lookup".into()))?;
            let exclude = if from == name { vec![id] } else { Vec::new() };
            Ok((v, exclude))
        }
    }
}

async fn ranked(
    core: &Rc<Core>,
    name: &str,
    r: Ranking,
    using: &str,
    lookup: Option<&Lookup>,
    scope: Scope,
) -> Result<Vec<Hit>, Error> {
    let (query, exclude) = resolve(core, name, using, r, lookup).await?;
    let plan = Plan {
        vector_name: using.to_owned(),
        vector: Vec::new(),
        exclude,
        limit: scope.window,
        offset: 0,
        score_threshold: scope.threshold,
        filter: scope.filter,
        shape: ReadShape::default(),
    };
    let hits = run_query(core, name, query, plan).await?;
    Ok(hits.iter().map(Hit::from_scored).collect())
}

/// Nearest candidates (`candidates_limit`, else the window) re-ranked by MMR.
async fn diverse(
    core: &Rc<Core>,
    name: &str,
    t: Target,
    m: Mmr,
    using: &str,
    lookup: Option<&Lookup>,
    scope: Scope,
) -> Result<Vec<Hit>, Error> {
    let (vector, exclude) = target_vector(core, name, using, t, lookup).await?;
    let metric = {
        let catalog = core.catalog.borrow();
        let coll = catalog.get(name)?;
        let spec = coll
            .config
            .schema
            .spec(using)
            .map_err(crate::runtime::error::RuntimeError::from)?;
        Metric(spec.distance)
    };
    let mut query = vector.clone();
    metric.preprocess(&mut query);
    let plan = Plan {
        vector_name: using.to_owned(),
        vector,
        exclude,
        limit: m.candidates_limit.unwrap_or(scope.window).max(1),
        offset: 0,
        score_threshold: scope.threshold,
        filter: scope.filter,
        shape: ReadShape {
            payload: PayloadSelector::None,
            vectors: VectorSelector::Names(vec![using.to_owned()]),
        },
    };
    let found = nearest(core, name, plan).await?;
    let candidates = found
        .into_iter()
        .filter_map(|s| {
            let hit = Hit::from_scored(&s);
            let v = s.record.vectors?.into_iter().find(|(n, _)| n == using)?.1;
            Some((hit, v))
        })
        .collect();
    Ok(mmr::select(
        candidates,
        &query,
        metric,
        m.diversity,
        scope.window,
    ))
}

async fn ordered(
    core: &Rc<Core>,
    name: &str,
    order: order_by::OrderByIn,
    window: usize,
    filter: Option<Arc<Filter>>,
) -> Result<Vec<Hit>, Error> {
    let (entries, integer) = order_by::ordered(core, name, order, window, filter).await?;
    Ok(entries
        .into_iter()
        .map(|(value, id)| Hit {
            id,
            score: UNSCORED,
            order_value: Some(order_by::order_value(value, integer)),
        })
        .collect())
}

async fn sampled(
    core: &Rc<Core>,
    name: &str,
    filter: Option<Filter>,
    window: usize,
) -> Result<Vec<Hit>, Error> {
    let filter = Arc::new(filter.unwrap_or_default());
    let ids = ops::random_sample_ids(core, name, filter, window, fresh_seed()).await?;
    Ok(ids.into_iter().map(|id| Hit::new(id, UNSCORED)).collect())
}

/// Scores every candidate with the formula, best first.
async fn formula_scores(
    core: &Rc<Core>,
    name: &str,
    f: &Formula,
    lists: &[Vec<Hit>],
    ids: &[PointId],
) -> Result<Vec<Hit>, Error> {
    let prefetch_scores: Vec<std::collections::HashMap<PointId, f32>> = lists
        .iter()
        .map(|l| l.iter().map(|h| (h.id, h.score)).collect())
        .collect();
    let fields = f.payload_fields();
    let mut payloads = std::collections::HashMap::new();
    if !fields.is_empty() && !ids.is_empty() {
        let shape = ReadShape {
            payload: PayloadSelector::Include(fields),
            vectors: VectorSelector::None,
        };
        for r in ops::retrieve(core, name, ids.to_vec(), shape).await? {
            payloads.insert(r.id, r.payload);
        }
    }
    // Each condition is one filtered pass over the candidates, evaluated by the shards.
    let mut matching = Vec::with_capacity(f.conditions.len());
    for c in &f.conditions {
        let filter = Arc::new(with_ids(Some(c), ids));
        let (records, _) = ops::scroll(
            core,
            name,
            None,
            ids.len(),
            Some(filter),
            ReadShape::default(),
        )
        .await?;
        matching.push(
            records
                .iter()
                .map(|r| r.id)
                .collect::<std::collections::HashSet<_>>(),
        );
    }
    let all = PointInputs {
        prefetch_scores: &prefetch_scores,
    };
    let mut hits = Vec::with_capacity(ids.len());
    let mut matches = vec![false; matching.len()];
    for &id in ids {
        for (m, set) in matches.iter_mut().zip(&matching) {
            *m = set.contains(&id);
        }
        let payload = payloads.get(&id).and_then(Option::as_ref);
        let score = f.score(
            &all,
            &Candidate {
                id,
                payload,
                matches: &matches,
            },
        )?;
        hits.push(Hit::new(id, score));
    }
    sort_best_first(&mut hits);
    Ok(hits)
}

/// The ids of all lists, each once, in order of first appearance.
fn union(lists: &[Vec<Hit>]) -> Vec<PointId> {
    let mut seen = std::collections::HashSet::new();
    lists
        .iter()
        .flatten()
        .filter(|h| seen.insert(h.id))
        .map(|h| h.id)
        .collect()
}

/// Both filters (either may be absent).
fn both(a: Option<&Filter>, b: Option<&Filter>) -> Option<Filter> {
    match (a, b) {
        (None, None) => None,
        (Some(f), None) | (None, Some(f)) => Some(f.clone()),
        (Some(a), Some(b)) => Some(Filter {
            must: vec![Condition::Filter(a.clone()), Condition::Filter(b.clone())],
            ..Filter::default()
        }),
    }
}

/// `filter` restricted to the given ids.
fn with_ids(filter: Option<&Filter>, ids: &[PointId]) -> Filter {
    let mut has_id = ids.to_vec();
    has_id.sort_unstable();
    has_id.dedup();
    let mut must = vec![Condition::HasId(HasIdCondition { has_id })];
    if let Some(f) = filter {
        must.push(Condition::Filter(f.clone()));
    }
    Filter {
        must,
        ..Filter::default()
    }
}

/// A seed no earlier sample of this process used.
fn fresh_seed() -> u64 {
    use std::cell::Cell;
    use std::time::{SystemTime, UNIX_EPOCH};
    thread_local! {
        static DRAWS: Cell<u64> = const { Cell::new(0) };
    }
    let n = DRAWS.with(|d| {
        d.set(d.get() + 1);
        d.get()
    });
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}
