//! The rankers of a query stage, one per query kind that reads the collection: vector
//! searches (nearest, recommend, discover, context), MMR, `order_by`, `sample` and formula
//! scoring. Each ranks within a [`Scope`]: a filter (already restricted to the candidates
//! when the stage has prefetches), a score threshold and how many hits to keep.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;

use vexfs_shard::distance::Metric;
use vexfs_shard::filter::Filter;
use vexfs_shard::{PayloadSelector, PointId, Vector, VectorSelector};

use super::formula::{Candidate, Formula, PointInputs};
use super::hit::{sort_best_first, Hit};
use super::kind::{Mmr, Ranking, Target};
use super::mmr;
use super::stage::{with_ids, Scope};
use crate::qdrant::discover;
use crate::qdrant::error::Error;
use crate::qdrant::lookup::Lookup;
use crate::qdrant::order_by;
use crate::qdrant::recommend::{self, run_query_with, Query};
use crate::qdrant::search::{nearest, stored_any, Plan};
use crate::runtime::core::Core;
use crate::runtime::ops::{self, ReadShape};

/// The score Qdrant gives points that were not scored: scroll-like, `order_by` and `sample`
/// results.
pub const UNSCORED: f32 = 1.0;

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
) -> Result<(Vector, Vec<PointId>), Error> {
    Lookup::check(lookup, core)?;
    match t {
        Target::Vector(v) => Ok((v, Vec::new())),
        Target::Point(id) => {
            let (from, vector) = Lookup::source(lookup, name, using);
            let v = stored_any(core, from, vector, &[id])
                .await?
                .pop()
                .ok_or_else(|| Error::Internal("stored vector lookup".into()))?;
            let exclude = if from == name { vec![id] } else { Vec::new() };
            Ok((v, exclude))
        }
    }
}

pub async fn ranked(
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
        vector: Vector::Dense(Vec::new()),
        exclude,
        limit: scope.window,
        offset: 0,
        score_threshold: scope.threshold,
        filter: scope.filter,
        shape: ReadShape::default(),
    };
    let hits = run_query_with(core, name, query, plan, scope.index).await?;
    Ok(hits.iter().map(Hit::from_scored).collect())
}

/// Nearest candidates (`candidates_limit`, else the window) re-ranked by MMR.
pub async fn diverse(
    core: &Rc<Core>,
    name: &str,
    t: Target,
    m: Mmr,
    using: &str,
    lookup: Option<&Lookup>,
    scope: Scope,
) -> Result<Vec<Hit>, Error> {
    let (vector, exclude) = target_vector(core, name, using, t, lookup).await?;
    let Vector::Dense(vector) = vector else {
        return Err(Error::unsupported("mmr with a sparse vector"));
    };
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
        vector: Vector::Dense(vector),
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
    let found = nearest(core, name, plan, scope.index).await?;
    let candidates = found
        .into_iter()
        .filter_map(|s| {
            let hit = Hit::from_scored(&s);
            let v = s
                .record
                .vectors?
                .into_iter()
                .find(|(n, _)| n == using)?
                .1
                .into_dense()?;
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

pub async fn ordered(
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

pub async fn sampled(
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
pub async fn formula_scores(
    core: &Rc<Core>,
    name: &str,
    f: &Formula,
    lists: &[Vec<Hit>],
    ids: &[PointId],
) -> Result<Vec<Hit>, Error> {
    let prefetch_scores: Vec<HashMap<PointId, f32>> = lists
        .iter()
        .map(|l| l.iter().map(|h| (h.id, h.score)).collect())
        .collect();
    let fields = f.payload_fields();
    let mut payloads = HashMap::new();
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
        matching.push(records.iter().map(|r| r.id).collect::<HashSet<_>>());
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
