//! Recommendations: legacy `points/recommend` (+ `/batch`) and the `recommend` query of
//! `points/query`. Examples are point ids or raw vectors; the `average_vector` strategy turns
//! them into one query vector, `avg(positive) + (avg(positive) - avg(negative))`.

use std::rc::Rc;

use serde::Deserialize;
use serde_json::Value;
use vexfs_shard::distance::Metric;
use vexfs_shard::filter::Filter;
use vexfs_shard::{PointId, ScoredRecord};

use super::error::Error;
use super::json::parse_body;
use super::model::{seq, ScoredOut, WithPayload, WithVector};
use super::search::{
    check_params, nearest, stored_vectors, unnamed, write_hits, Plan, SearchParamsIn,
};
use super::{check_filter, check_limit, refuse_shard_key, write_result};
use crate::runtime::core::Core;
use crate::runtime::ops::ReadShape;

/// A recommendation example: a stored point or a raw vector.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
pub enum Example {
    Id(PointId),
    Vector(Vec<f32>),
}

/// How examples become scores (Qdrant's `RecommendStrategy`).
#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Default)]
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

/// Turns examples into a query vector (and the example ids to leave out of the results).
pub async fn resolve(
    core: &Rc<Core>,
    name: &str,
    using: &str,
    ex: Examples,
) -> Result<(Vec<f32>, Vec<PointId>), Error> {
    if ex.strategy != Strategy::AverageVector {
        return Err(Error::unsupported(
            "recommend strategies other than average_vector",
        ));
    }
    if ex.positive.is_empty() {
        return Err(Error::wrong_input(
            "Positive vectors must not be empty with the average_vector strategy",
        ));
    }
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
    let mut ids = Vec::new();
    let mut vectors_of = async |examples: Vec<Example>| -> Result<Vec<Vec<f32>>, Error> {
        let wanted: Vec<PointId> = examples
            .iter()
            .filter_map(|e| match e {
                Example::Id(id) => Some(*id),
                Example::Vector(_) => None,
            })
            .collect();
        let mut stored = stored_vectors(core, name, using, &wanted)
            .await?
            .into_iter();
        ids.extend(wanted);
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
    };
    let positive = vectors_of(ex.positive).await?;
    let negative = vectors_of(ex.negative).await?;
    let avg_pos = average(&positive, spec.dim);
    let query = if negative.is_empty() {
        avg_pos
    } else {
        let avg_neg = average(&negative, spec.dim);
        avg_pos
            .iter()
            .zip(&avg_neg)
            .map(|(p, n)| p + (p - n))
            .collect()
    };
    Ok((query, ids))
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecommendBody {
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
    check_params(&req.params)?;
    if req.lookup_from.is_some() {
        return Err(Error::unsupported("lookup_from"));
    }
    let using = req.using.unwrap_or_default();
    let examples = Examples {
        positive: req.positive,
        negative: req.negative,
        strategy: req.strategy.unwrap_or_default(),
    };
    let (vector, exclude) = resolve(core, name, &using, examples).await?;
    let plan = Plan {
        vector_name: using,
        vector,
        exclude,
        limit: check_limit(req.limit)?,
        offset: req.offset.unwrap_or(0),
        score_threshold: req.score_threshold,
        filter: check_filter(req.filter)?,
        shape: ReadShape {
            payload: WithPayload::selector(req.with_payload, false),
            vectors: WithVector::selector(req.with_vector),
        },
    };
    nearest(core, name, plan).await
}

/// `POST /collections/{name}/points/recommend`
pub async fn recommend(
    core: &Rc<Core>,
    name: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let req: RecommendBody = parse_body(body)?;
    let unnamed = unnamed(core, name)?;
    let hits = run(core, name, req).await?;
    write_hits(out, &hits, unnamed)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecommendBatchBody {
    searches: Vec<RecommendBody>,
}

/// `POST /collections/{name}/points/recommend/batch`
pub async fn recommend_batch(
    core: &Rc<Core>,
    name: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let req: RecommendBatchBody = parse_body(body)?;
    let unnamed = unnamed(core, name)?;
    let mut all = Vec::with_capacity(req.searches.len());
    for r in req.searches {
        all.push(run(core, name, r).await?);
    }
    let lists = all
        .iter()
        .map(|hits| seq(hits.iter().map(|hit| ScoredOut { hit, unnamed })));
    write_result(out, &seq(lists))
}
