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

use schemars::JsonSchema;
use std::rc::Rc;
use std::sync::Arc;

use futures_util::future::{try_join_all, LocalBoxFuture};
use serde::Deserialize;
use serde_json::Value;
use vexfs_shard::filter::{Condition, Filter, HasIdCondition};
use vexfs_shard::PointId;

use super::hit::Hit;
use super::kind::QueryKind;
use super::rank::{diverse, formula_scores, ordered, ranked, sampled, UNSCORED};
use crate::qdrant::error::Error;
use crate::qdrant::lookup::Lookup;
use crate::qdrant::search::{check_params, SearchParamsIn};
use crate::qdrant::{check_filter, check_limit};
use crate::runtime::core::Core;
use crate::runtime::ops::{self, IndexParams, ReadShape};

/// Qdrant's default `limit` of a prefetch and of a query.
pub const STAGE_LIMIT_DEFAULT: usize = 10;

/// Deepest nesting of prefetches. Real pipelines are two or three levels deep; each level
/// nests the filters one level deeper, so this also bounds filter evaluation recursion.
pub const PREFETCH_DEPTH_MAX: usize = 16;

/// Most prefetches in one query, counted over the whole tree: each one is a search.
pub const PREFETCHES_MAX: usize = 64;

/// One stage, parsed and checked.
pub struct Stage {
    pub prefetch: Vec<Stage>,
    pub query: Option<QueryKind>,
    pub using: String,
    pub filter: Option<Filter>,
    pub score_threshold: Option<f32>,
    pub limit: usize,
    pub lookup: Option<Lookup>,
    /// The stage's search `params`.
    pub index: IndexParams,
}

/// Qdrant's `Prefetch`.
#[derive(Deserialize, JsonSchema)]
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
        let index = check_params(&input.params)?;
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
            index,
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
                    index: stage.index,
                },
            )
            .await;
        }
        // Sibling prefetches are independent: they run concurrently.
        let lists = try_join_all(stage.prefetch.into_iter().map(|child| {
            let limit = child.limit;
            run(core, name, child, filter.as_ref(), limit)
        }))
        .await?;
        let scope = Scope {
            filter,
            threshold: stage.score_threshold,
            window,
            index: stage.index,
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
pub struct Scope {
    pub filter: Option<Filter>,
    pub threshold: Option<f32>,
    pub window: usize,
    /// Search `params` of the stage.
    pub index: IndexParams,
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
    // The stage's own scope, narrowed to the candidates.
    let restricted = |scope: Scope| Scope {
        filter: Some(with_ids(scope.filter.as_ref(), &ids)),
        threshold: scope.threshold,
        window: scope.window,
        index: scope.index,
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
            ranked(core, name, r, &using, lookup.as_ref(), restricted(scope)).await
        }
        Some(QueryKind::Mmr(t, m)) => {
            diverse(core, name, t, m, &using, lookup.as_ref(), restricted(scope)).await
        }
        Some(QueryKind::OrderBy(o)) => {
            let scope = restricted(scope);
            ordered(core, name, o, scope.window, scope.filter.map(Arc::new)).await
        }
        Some(QueryKind::Sample) => {
            let scope = restricted(scope);
            sampled(core, name, scope.filter, scope.window).await
        }
    }
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
pub fn with_ids(filter: Option<&Filter>, ids: &[PointId]) -> Filter {
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
