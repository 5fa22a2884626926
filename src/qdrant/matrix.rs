//! Distance matrix: `points/search/matrix/pairs` and `points/search/matrix/offsets`.
//!
//! A sample of `sample` points passing `filter` that have the vector `using` is taken; for
//! each, its `limit` nearest other points of the sample (exact, ties by id) are returned with
//! Qdrant's scores. The sample is the points with the smallest mixed id hash
//! (`ops::sample_ids`): uniform, and the same on every call. Rows follow ascending id.

use schemars::JsonSchema;
use std::rc::Rc;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{json, Value};
use vexfs_shard::distance::Metric;
use vexfs_shard::filter::{Condition, Filter};
use vexfs_shard::topk::TopK;
use vexfs_shard::{PayloadSelector, PointId, VectorSelector};

use super::error::Error;
use super::json::parse_body;
use super::{check_filter, refuse_shard_key, write_result};
use crate::runtime::core::Core;
use crate::runtime::error::RuntimeError;
use crate::runtime::ops::{self, ReadShape};

/// Default sample size and neighbours per sampled point (Qdrant's).
const MATRIX_SAMPLE_DEFAULT: usize = 10;
const MATRIX_LIMIT_DEFAULT: usize = 3;
/// Largest sample: the matrix costs sample² similarity evaluations on the receiving core.
const MATRIX_SAMPLE_MAX: usize = 1_000;

#[derive(serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct MatrixBody {
    filter: Option<Filter>,
    sample: Option<usize>,
    limit: Option<usize>,
    using: Option<String>,
    shard_key: Option<Value>,
}

/// The sampled ids, ascending, and each row's neighbours as `(column index, Qdrant score)`,
/// best first.
struct Matrix {
    ids: Vec<PointId>,
    rows: Vec<Vec<(usize, f32)>>,
}

async fn compute(core: &Rc<Core>, name: &str, req: MatrixBody) -> Result<Matrix, Error> {
    refuse_shard_key(&req.shard_key)?;
    let sample = req.sample.unwrap_or(MATRIX_SAMPLE_DEFAULT);
    if !(2..=MATRIX_SAMPLE_MAX).contains(&sample) {
        return Err(Error::Validation(format!(
            "sample: value {sample} invalid, must be from 2 to {MATRIX_SAMPLE_MAX}"
        )));
    }
    let limit = req.limit.unwrap_or(MATRIX_LIMIT_DEFAULT);
    if limit == 0 {
        return Err(Error::Validation(
            "limit: value 0 invalid, must be 1 or more".into(),
        ));
    }
    let using = req.using.unwrap_or_default();
    let spec = core
        .catalog
        .borrow()
        .get(name)?
        .config
        .schema
        .spec(&using)
        .map_err(RuntimeError::from)?
        .clone();
    let metric = Metric(spec.distance);
    // Only points that have the vector can be compared.
    let mut filter: Filter = serde_json::from_value(json!({"must": [{"has_vector": using}]}))
        .map_err(|e| Error::Internal(format!("matrix filter: {e}")))?;
    if let Some(user) = check_filter(req.filter)? {
        filter.must.push(Condition::Filter(user));
    }
    let mut ids = ops::sample_ids(core, name, Arc::new(filter), sample).await?;
    ids.sort_unstable();
    let shape = ReadShape {
        payload: PayloadSelector::None,
        vectors: VectorSelector::Names(vec![using.clone()]),
    };
    // A point deleted since it was sampled is left out.
    let found = ops::retrieve(core, name, ids, shape).await?;
    let points: Vec<(PointId, Vec<f32>)> = found
        .into_iter()
        .filter_map(|r| Some((r.id, r.vectors?.pop()?.1.into_dense()?)))
        .collect();
    let mut rows = Vec::with_capacity(points.len());
    for (i, (_, a)) in points.iter().enumerate() {
        let mut top = TopK::new(limit);
        for (j, (b_id, b)) in points.iter().enumerate() {
            if i != j {
                top.push(metric.score(a, b), *b_id, j);
            }
        }
        rows.push(
            top.into_sorted()
                .into_iter()
                .map(|(s, _, j)| (j, metric.to_user_score(s)))
                .collect(),
        );
        // A large sample is a lot of arithmetic: let the core serve others between rows.
        glommio::yield_if_needed().await;
    }
    Ok(Matrix {
        ids: points.into_iter().map(|(id, _)| id).collect(),
        rows,
    })
}

#[derive(Serialize)]
struct PairOut {
    a: PointId,
    b: PointId,
    score: f32,
}

/// `POST /collections/{name}/points/search/matrix/pairs`
pub async fn pairs(
    core: &Rc<Core>,
    name: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let req: MatrixBody = parse_body(body)?;
    let m = compute(core, name, req).await?;
    let pairs: Vec<PairOut> = m
        .rows
        .iter()
        .enumerate()
        .flat_map(|(i, row)| {
            let ids = &m.ids;
            row.iter().map(move |&(j, score)| PairOut {
                a: ids[i],
                b: ids[j],
                score,
            })
        })
        .collect();
    // Serialized from f32 directly, as the scores of other routes (json! would widen them).
    #[derive(Serialize)]
    struct PairsOut {
        pairs: Vec<PairOut>,
    }
    write_result(out, &PairsOut { pairs })
}

/// `POST /collections/{name}/points/search/matrix/offsets`
pub async fn offsets(
    core: &Rc<Core>,
    name: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let req: MatrixBody = parse_body(body)?;
    let m = compute(core, name, req).await?;
    #[derive(Serialize)]
    struct OffsetsOut<'a> {
        offsets_row: Vec<usize>,
        offsets_col: Vec<usize>,
        scores: Vec<f32>,
        ids: &'a [PointId],
    }
    let mut o = OffsetsOut {
        offsets_row: Vec::new(),
        offsets_col: Vec::new(),
        scores: Vec::new(),
        ids: &m.ids,
    };
    for (i, row) in m.rows.iter().enumerate() {
        for &(j, score) in row {
            o.offsets_row.push(i);
            o.offsets_col.push(j);
            o.scores.push(score);
        }
    }
    write_result(out, &o)
}
