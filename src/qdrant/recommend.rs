//! Recommendations: legacy `points/recommend` (+ `/batch`) and the `recommend` query of
//! `points/query`. Examples are point ids or raw vectors. The `average_vector` strategy turns
//! them into one query vector, `avg(positive) + (avg(positive) - avg(negative))`; `best_score`
//! and `sum_scores` rank every candidate by a custom objective over all examples
//! (`vexfs_shard::score::Objective` has the formulas and their source).

use schemars::JsonSchema;
use std::rc::Rc;

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use vexfs_shard::distance::Metric;
use vexfs_shard::filter::Filter;
use vexfs_shard::score::Objective;
use vexfs_shard::{PointId, ScoredRecord, SparseVector, Vector};

use super::error::Error;
use super::lookup::Lookup;
use super::model::{read_shape, WithPayload, WithVector};
use super::search::{answer_batch, answer_one, fetch_window, page_excluding};
use super::search::{check_params, nearest, stored_any, stored_vectors, Plan, SearchParamsIn};
use super::{check_filter, check_limit, check_offset, refuse_shard_key};
use crate::runtime::core::Core;
use crate::runtime::ops::{self, IndexParams, ObjectiveSearch, SearchRequest};

/// A recommendation example: a stored point or a raw vector.
#[derive(Deserialize, Clone, JsonSchema)]
#[serde(untagged)]
pub enum Example {
    Id(PointId),
    Vector(Vec<f32>),
}

/// How examples become scores (Qdrant's `RecommendStrategy`).
#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    #[default]
    AverageVector,
    BestScore,
    SumScores,
}

/// The examples of one recommendation.
pub struct Examples {
    pub positive: Vec<Example>,
    pub negative: Vec<Example>,
    pub strategy: Strategy,
}

/// What a resolved query ranks by: the distance to one vector, or a custom objective.
#[derive(Clone)]
pub enum Query {
    /// Dense or sparse: a plain search.
    Vector(Vector),
    Objective(Objective),
    /// A custom objective over sparse examples.
    SparseObjective(Objective<SparseVector>),
}

/// Turns examples into what to rank by (and the example ids to leave out of the results):
/// one averaged vector for `average_vector`, a custom objective for the other strategies.
pub async fn resolve(
    core: &Rc<Core>,
    name: &str,
    using: &str,
    ex: Examples,
    lookup: Option<&Lookup>,
) -> Result<(Query, Vec<PointId>), Error> {
    Lookup::check(lookup, core)?;
    match ex.strategy {
        Strategy::AverageVector if ex.positive.is_empty() => {
            return Err(Error::wrong_input(
                "Positive vectors must not be empty with the average_vector strategy",
            ))
        }
        Strategy::BestScore | Strategy::SumScores
            if ex.positive.is_empty() && ex.negative.is_empty() =>
        {
            return Err(Error::BadRequest(
                "Bad request: At least one positive or negative vector ID required with this strategy"
                    .into(),
            ))
        }
        _ => {}
    }
    let sparse = core
        .catalog
        .borrow()
        .get(name)?
        .config
        .schema
        .sparse_spec(using)
        .is_some();
    if sparse {
        return sparse_average(core, name, using, ex, lookup).await;
    }
    let mut ids = Vec::new();
    let positive = example_vectors(core, name, using, ex.positive, lookup, &mut ids).await?;
    let negative = example_vectors(core, name, using, ex.negative, lookup, &mut ids).await?;
    let query = match ex.strategy {
        Strategy::AverageVector => {
            Query::Vector(Vector::Dense(average_query(&positive, &negative)))
        }
        Strategy::BestScore => Query::Objective(Objective::BestScore { positive, negative }),
        Strategy::SumScores => Query::Objective(Objective::SumScores { positive, negative }),
    };
    Ok((query, ids))
}

/// Recommendation on a sparse space from stored examples: `average_vector` searches
/// `avg(positive) + (avg(positive) − avg(negative))` (index by index, a missing index counts
/// as 0) like any sparse query; `best_score` and `sum_scores` rank every point by the
/// objective over its dot products with the examples (0 when no index is shared).
async fn sparse_average(
    core: &Rc<Core>,
    name: &str,
    using: &str,
    ex: Examples,
    lookup: Option<&Lookup>,
) -> Result<(Query, Vec<PointId>), Error> {
    let mut exclude = Vec::new();
    let pos = sparse_examples(core, name, using, &ex.positive, lookup, &mut exclude).await?;
    let neg = sparse_examples(core, name, using, &ex.negative, lookup, &mut exclude).await?;
    if ex.strategy != Strategy::AverageVector {
        let (positive, negative) = (pos, neg);
        let objective = match ex.strategy {
            Strategy::SumScores => Objective::SumScores { positive, negative },
            _ => Objective::BestScore { positive, negative },
        };
        return Ok((Query::SparseObjective(objective), exclude));
    }
    let average = |list: &[SparseVector]| -> BTreeMap<u32, f32> {
        let mut sum: BTreeMap<u32, f32> = BTreeMap::new();
        for s in list {
            for (i, x) in s.indices().iter().zip(s.values()) {
                *sum.entry(*i).or_default() += x;
            }
        }
        let n = list.len().max(1) as f32;
        sum.values_mut().for_each(|x| *x /= n);
        sum
    };
    let avg_pos = average(&pos);
    let mut query = avg_pos.clone();
    if !neg.is_empty() {
        for x in query.values_mut() {
            *x *= 2.0;
        }
        for (i, x) in average(&neg) {
            *query.entry(i).or_default() -= x;
        }
    }
    let (indices, values) = query.into_iter().unzip();
    let query =
        SparseVector::new(indices, values).map_err(crate::runtime::error::RuntimeError::from)?;
    Ok((Query::Vector(Vector::Sparse(query)), exclude))
}

/// The stored sparse vectors `using` of `examples` (points only: raw examples are dense),
/// from `lookup` when given; ids of this collection's examples are appended to `ids`.
pub async fn sparse_examples(
    core: &Rc<Core>,
    name: &str,
    using: &str,
    examples: &[Example],
    lookup: Option<&Lookup>,
    ids: &mut Vec<PointId>,
) -> Result<Vec<SparseVector>, Error> {
    let wanted = examples
        .iter()
        .map(|e| match e {
            Example::Id(id) => Ok(*id),
            Example::Vector(_) => Err(Error::wrong_input(format!(
                "Conversion between sparse and regular vectors failed: {using} is a sparse vector"
            ))),
        })
        .collect::<Result<Vec<PointId>, Error>>()?;
    let (from, vector) = Lookup::source(lookup, name, using);
    let stored = stored_any(core, from, vector, &wanted).await?;
    if from == name {
        ids.extend(wanted);
    }
    stored
        .into_iter()
        .map(|v| match v {
            Vector::Sparse(s) => Ok(s),
            _ => Err(Error::wrong_input(format!(
                "Conversion between sparse and regular vectors failed: {vector} is not sparse"
            ))),
        })
        .collect()
}

/// `avg(positive) + (avg(positive) - avg(negative))`, or `avg(positive)` without negatives.
fn average_query(positive: &[Vec<f32>], negative: &[Vec<f32>]) -> Vec<f32> {
    let dim = positive.first().map_or(0, Vec::len);
    let avg_pos = average(positive, dim);
    if negative.is_empty() {
        return avg_pos;
    }
    let avg_neg = average(negative, dim);
    avg_pos
        .iter()
        .zip(&avg_neg)
        .map(|(p, n)| p + (p - n))
        .collect()
}

/// The vectors of `examples` in order, in stored form (raw ones checked and preprocessed,
/// stored ones read back, from `lookup` when given); ids of stored examples of this
/// collection are appended to `ids`. 404 for a missing point.
pub async fn example_vectors(
    core: &Rc<Core>,
    name: &str,
    using: &str,
    examples: Vec<Example>,
    lookup: Option<&Lookup>,
    ids: &mut Vec<PointId>,
) -> Result<Vec<Vec<f32>>, Error> {
    let spec = core
        .catalog
        .borrow()
        .get(name)?
        .config
        .schema
        .spec(using)
        .map_err(crate::runtime::error::RuntimeError::from)?
        .clone();
    let metric = Metric(spec.distance);
    let wanted: Vec<PointId> = examples
        .iter()
        .filter_map(|e| match e {
            Example::Id(id) => Some(*id),
            Example::Vector(_) => None,
        })
        .collect();
    let (from, vector) = Lookup::source(lookup, name, using);
    let mut stored = stored_vectors(core, from, vector, &wanted)
        .await?
        .into_iter();
    if from == name {
        ids.extend(wanted);
    }
    let mut out = Vec::with_capacity(examples.len());
    for e in examples {
        match e {
            // Stored vectors are already preprocessed; raw ones are brought to the same form.
            Example::Id(_) => out.push(
                stored
                    .next()
                    .ok_or_else(|| Error::Internal("example lookup".into()))?,
            ),
            Example::Vector(mut v) => {
                if v.len() != spec.dim {
                    return Err(Error::wrong_input(format!(
                        "Vector dimension error: expected dim: {}, got {}",
                        spec.dim,
                        v.len()
                    )));
                }
                metric.preprocess(&mut v);
                out.push(v);
            }
        }
    }
    Ok(out)
}

/// Runs a resolved query with `plan`'s limits, filter and shape (`plan.vector` is replaced)
/// and the request's search `params`. Excluded points are removed before the offset is
/// applied, as in [`nearest`].
pub async fn run_query_with(
    core: &Rc<Core>,
    name: &str,
    query: Query,
    mut plan: Plan,
    index: IndexParams,
) -> Result<Vec<ScoredRecord>, Error> {
    let objective = match query {
        Query::Vector(v) => {
            plan.vector = v;
            return nearest(core, name, plan, index).await;
        }
        Query::Objective(o) => o,
        Query::SparseObjective(o) => {
            let (limit, offset) = fetch_window(&plan);
            let page = (plan.offset, plan.limit);
            let request = SearchRequest {
                vector_name: plan.vector_name,
                vector: Vector::Dense(Vec::new()),
                limit,
                offset,
                score_threshold: plan.score_threshold,
                filter: plan.filter,
                shape: plan.shape,
                index,
            };
            let mut hits = ops::search_sparse_objective(core, name, o, request).await?;
            page_excluding(&mut hits, &plan.exclude, page);
            return Ok(hits);
        }
    };
    let (limit, offset) = fetch_window(&plan);
    let page = (plan.offset, plan.limit);
    let mut hits = ops::search_objective(
        core,
        name,
        ObjectiveSearch {
            vector_name: plan.vector_name,
            objective,
            limit,
            offset,
            score_threshold: plan.score_threshold,
            filter: plan.filter,
            shape: plan.shape,
            index,
        },
    )
    .await?;
    page_excluding(&mut hits, &plan.exclude, page);
    Ok(hits)
}

fn average(vectors: &[Vec<f32>], dim: usize) -> Vec<f32> {
    let mut sum = vec![0f32; dim];
    for v in vectors {
        for (s, x) in sum.iter_mut().zip(v) {
            *s += x;
        }
    }
    let n = vectors.len().max(1) as f32;
    sum.iter().map(|s| s / n).collect()
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RecommendBody {
    #[serde(default)]
    positive: Vec<Example>,
    #[serde(default)]
    negative: Vec<Example>,
    strategy: Option<Strategy>,
    filter: Option<Filter>,
    params: Option<SearchParamsIn>,
    limit: usize,
    offset: Option<usize>,
    with_payload: Option<WithPayload>,
    #[serde(alias = "with_vectors")]
    with_vector: Option<WithVector>,
    score_threshold: Option<f32>,
    using: Option<String>,
    lookup_from: Option<Value>,
    shard_key: Option<Value>,
}

async fn run(core: &Rc<Core>, name: &str, req: RecommendBody) -> Result<Vec<ScoredRecord>, Error> {
    refuse_shard_key(&req.shard_key)?;
    let index = check_params(&req.params)?;
    let lookup = Lookup::parse(req.lookup_from)?;
    let using = req.using.unwrap_or_default();
    let examples = Examples {
        positive: req.positive,
        negative: req.negative,
        strategy: req.strategy.unwrap_or_default(),
    };
    let (query, exclude) = resolve(core, name, &using, examples, lookup.as_ref()).await?;
    let plan = Plan {
        vector_name: using,
        vector: Vector::Dense(Vec::new()),
        exclude,
        limit: check_limit(req.limit)?,
        offset: check_offset(req.offset)?,
        score_threshold: req.score_threshold,
        filter: check_filter(req.filter)?,
        shape: read_shape(req.with_payload, false, req.with_vector),
    };
    run_query_with(core, name, query, plan, index).await
}

/// `POST /collections/{name}/points/recommend`
pub async fn recommend(
    core: &Rc<Core>,
    name: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    answer_one::<RecommendBody>(core, name, body, out, run).await
}

/// `POST /collections/{name}/points/recommend/batch`
pub async fn recommend_batch(
    core: &Rc<Core>,
    name: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    answer_batch::<RecommendBody>(core, name, body, out, run).await
}
