//! Discovery and context search: legacy `points/discover` (+ `/batch`, Qdrant ≤ 1.18) and
//! the `discover` / `context` queries of `points/query`.
//!
//! With a target, a point's score is its rank against the context pairs (+1 for each pair
//! whose positive is closer, −1 for each whose negative is, 0 on a tie) plus its similarity
//! to the target squashed into (0, 1); without one, it is the context loss, in (−pairs, 0].
//! `vexfs_shard::score::Objective` has the exact formulas and their source.

use schemars::JsonSchema;
use std::rc::Rc;

use serde::Deserialize;
use serde_json::Value;
use vexfs_shard::filter::Filter;
use vexfs_shard::score::{Objective, Pair};
use vexfs_shard::{PointId, ScoredRecord, Vector};

use super::error::Error;
use super::lookup::Lookup;
use super::model::{read_shape, WithPayload, WithVector};
use super::recommend::{example_vectors, run_query_with, sparse_examples, Example, Query};
use super::search::{answer_batch, answer_one};
use super::search::{check_params, Plan, SearchParamsIn};
use super::{check_filter, check_limit, check_offset, refuse_shard_key};
use crate::runtime::core::Core;

/// One `{positive, negative}` context pair.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContextPairIn {
    positive: Example,
    negative: Example,
}

/// `context` of the query API: one pair, a list of pairs, or null.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ContextInput {
    One(ContextPairIn),
    Many(Vec<ContextPairIn>),
    None,
}

impl ContextInput {
    pub fn into_vec(self) -> Vec<ContextPairIn> {
        match self {
            ContextInput::One(p) => vec![p],
            ContextInput::Many(v) => v,
            ContextInput::None => Vec::new(),
        }
    }
}

/// `discover` of the query API: the target is required, the context may be empty.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscoverInput {
    pub target: Example,
    #[serde(default = "no_context")]
    pub context: ContextInput,
}

fn no_context() -> ContextInput {
    ContextInput::None
}

/// Turns a target (optional) and context pairs into the objective to rank by, and the ids of
/// the examples given by id (left out of the results).
pub async fn resolve(
    core: &Rc<Core>,
    name: &str,
    using: &str,
    target: Option<Example>,
    pairs: Vec<ContextPairIn>,
    lookup: Option<&Lookup>,
) -> Result<(Query, Vec<PointId>), Error> {
    Lookup::check(lookup, core)?;
    if target.is_none() && pairs.is_empty() {
        return Err(Error::BadRequest(
            "Bad request: a context search needs at least one context pair".into(),
        ));
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
        return sparse_objective(core, name, using, target, pairs, lookup).await;
    }
    let mut ids = Vec::new();
    let target = match target {
        Some(t) => example_vectors(core, name, using, vec![t], lookup, &mut ids)
            .await?
            .pop(),
        None => None,
    };
    let (pos, neg): (Vec<Example>, Vec<Example>) =
        pairs.into_iter().map(|p| (p.positive, p.negative)).unzip();
    let pos = example_vectors(core, name, using, pos, lookup, &mut ids).await?;
    let neg = example_vectors(core, name, using, neg, lookup, &mut ids).await?;
    let objective = discover_or_context(target, pos, neg);
    Ok((Query::Objective(objective), ids))
}

/// Discover around `target` when there is one, else context; the pairs are `pos` and `neg`
/// zipped in order.
fn discover_or_context<T>(target: Option<T>, pos: Vec<T>, neg: Vec<T>) -> Objective<T> {
    let pairs = pos
        .into_iter()
        .zip(neg)
        .map(|(positive, negative)| Pair { positive, negative })
        .collect();
    match target {
        Some(target) => Objective::Discover { target, pairs },
        None => Objective::Context { pairs },
    }
}

/// [`resolve`] on a sparse space: the same objective over stored sparse examples, its
/// similarity the dot product (0 when no index is shared).
async fn sparse_objective(
    core: &Rc<Core>,
    name: &str,
    using: &str,
    target: Option<Example>,
    pairs: Vec<ContextPairIn>,
    lookup: Option<&Lookup>,
) -> Result<(Query, Vec<PointId>), Error> {
    let mut ids = Vec::new();
    let target = match target {
        Some(t) => sparse_examples(core, name, using, &[t], lookup, &mut ids)
            .await?
            .pop(),
        None => None,
    };
    let (pos, neg): (Vec<Example>, Vec<Example>) =
        pairs.into_iter().map(|p| (p.positive, p.negative)).unzip();
    let pos = sparse_examples(core, name, using, &pos, lookup, &mut ids).await?;
    let neg = sparse_examples(core, name, using, &neg, lookup, &mut ids).await?;
    let objective = discover_or_context(target, pos, neg);
    Ok((Query::SparseObjective(objective), ids))
}

/// Qdrant 1.18's `DiscoverRequest`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DiscoverBody {
    target: Option<Example>,
    context: Option<Vec<ContextPairIn>>,
    filter: Option<Filter>,
    params: Option<SearchParamsIn>,
    limit: usize,
    offset: Option<usize>,
    with_payload: Option<WithPayload>,
    #[serde(alias = "with_vectors")]
    with_vector: Option<WithVector>,
    using: Option<String>,
    lookup_from: Option<Value>,
    shard_key: Option<Value>,
}

async fn run(core: &Rc<Core>, name: &str, req: DiscoverBody) -> Result<Vec<ScoredRecord>, Error> {
    refuse_shard_key(&req.shard_key)?;
    let index = check_params(&req.params)?;
    let lookup = Lookup::parse(req.lookup_from)?;
    let using = req.using.unwrap_or_default();
    let pairs = req.context.unwrap_or_default();
    let (query, exclude) = resolve(core, name, &using, req.target, pairs, lookup.as_ref()).await?;
    let plan = Plan {
        vector_name: using,
        vector: Vector::Dense(Vec::new()),
        exclude,
        limit: check_limit(req.limit)?,
        offset: check_offset(req.offset)?,
        score_threshold: None,
        filter: check_filter(req.filter)?,
        shape: read_shape(req.with_payload, false, req.with_vector),
    };
    run_query_with(core, name, query, plan, index).await
}

/// `POST /collections/{name}/points/discover`
pub async fn discover(
    core: &Rc<Core>,
    name: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    answer_one::<DiscoverBody>(core, name, body, out, run).await
}

/// `POST /collections/{name}/points/discover/batch`: one list of hits per request, in order.
pub async fn discover_batch(
    core: &Rc<Core>,
    name: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    answer_batch::<DiscoverBody>(core, name, body, out, run).await
}
