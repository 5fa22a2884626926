//! Point routes: upsert, get, retrieve, delete, count, scroll.

use schemars::JsonSchema;
use std::rc::Rc;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};
use vexfs_shard::filter::Filter;
use vexfs_shard::{
    PayloadSelector, PointId, PointWrite, UpdateCondition, UpdateMode, Vector, VectorSelector,
    WriteOp,
};

use super::error::Error;
use super::json::{parse_body, wait_param};
use super::model::{
    read_shape, seq, BatchVector, RecordOut, UpdateResult, VectorInput, WithPayload, WithVector,
};
use super::payload::{Target, TargetBody, Update};
use super::{check_filter, check_limit, check_points, refuse_shard_key, write_result};
use crate::runtime::core::Core;
use crate::runtime::ops::{self, ReadShape};

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpsertBody {
    points: Option<Vec<PointIn>>,
    batch: Option<BatchIn>,
    shard_key: Option<Value>,
    update_filter: Option<Filter>,
    update_mode: Option<UpdateModeIn>,
}

/// Qdrant's `UpdateMode`.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum UpdateModeIn {
    Upsert,
    InsertOnly,
    UpdateOnly,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct PointIn {
    id: PointId,
    vector: VectorInput,
    payload: Option<Map<String, Value>>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct BatchIn {
    ids: Vec<PointId>,
    vectors: BatchVectors,
    payloads: Option<Vec<Option<Map<String, Value>>>>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
enum BatchVectors {
    Unnamed(Vec<BatchVector>),
    Named(std::collections::BTreeMap<String, Vec<BatchVector>>),
}

fn batch_points(b: BatchIn) -> Result<Vec<PointWrite>, Error> {
    let n = b.ids.len();
    let mismatch =
        |what: &str, got: usize| Error::wrong_input(format!("batch has {n} ids but {got} {what}"));
    let mut payloads = match b.payloads {
        Some(p) if p.len() != n => return Err(mismatch("payloads", p.len())),
        Some(p) => p,
        None => vec![None; n],
    };
    let mut vectors: Vec<Vec<(String, Vector)>> = match b.vectors {
        BatchVectors::Unnamed(v) if v.len() != n => return Err(mismatch("vectors", v.len())),
        BatchVectors::Unnamed(v) => v.into_iter().map(|v| vec![(String::new(), v.0)]).collect(),
        BatchVectors::Named(map) => {
            let mut per_point: Vec<Vec<(String, Vector)>> = vec![Vec::new(); n];
            for (name, list) in map {
                if list.len() != n {
                    return Err(mismatch(&format!("vectors named {name}"), list.len()));
                }
                for (slot, v) in per_point.iter_mut().zip(list) {
                    slot.push((name.clone(), v.0));
                }
            }
            per_point
        }
    };
    Ok(b.ids
        .into_iter()
        .enumerate()
        .map(|(i, id)| PointWrite {
            id,
            vectors: std::mem::take(&mut vectors[i]),
            payload: payloads[i].take(),
        })
        .collect())
}

impl UpsertBody {
    /// The points to write and the condition they are written under.
    pub fn into_update(self) -> Result<Update, Error> {
        refuse_shard_key(&self.shard_key)?;
        let condition = UpdateCondition {
            filter: check_filter(self.update_filter)?,
            mode: match self.update_mode {
                None | Some(UpdateModeIn::Upsert) => UpdateMode::Upsert,
                Some(UpdateModeIn::InsertOnly) => UpdateMode::InsertOnly,
                Some(UpdateModeIn::UpdateOnly) => UpdateMode::UpdateOnly,
            },
        };
        let points = match (self.points, self.batch) {
            (Some(p), None) => Ok(p
                .into_iter()
                .map(|p| PointWrite {
                    id: p.id,
                    vectors: p.vector.into_named(),
                    payload: p.payload,
                })
                .collect()),
            (None, Some(b)) => batch_points(b),
            _ => Err(Error::format("expected exactly one of `points` or `batch`")),
        }?;
        Ok(Update::conditional(WriteOp::Upsert(points), condition))
    }
}

/// `PUT /collections/{name}/points`
pub async fn upsert(
    core: &Rc<Core>,
    name: &str,
    query: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let wait = wait_param(query)?;
    let update = parse_body::<UpsertBody>(body)?.into_update()?;
    let op = update.run(core, name, wait).await?;
    write_result(out, &UpdateResult::new(op, wait))
}

/// `POST /collections/{name}/points/delete`
pub async fn delete(
    core: &Rc<Core>,
    name: &str,
    query: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let wait = wait_param(query)?;
    let target = parse_body::<TargetBody>(body)?.target()?;
    let id = match target {
        Target::Ids(ids) => {
            check_points(core, "points", ids.len())?;
            ops::write(core, name, WriteOp::Delete(ids), wait).await?
        }
        Target::Filter(f) => {
            ops::write_by_filter(core, name, f, WriteOp::Delete(Vec::new()), wait).await?
        }
    };
    write_result(out, &UpdateResult::new(id, wait))
}

fn unnamed(core: &Core, name: &str) -> Result<bool, Error> {
    Ok(core.catalog.borrow().get(name)?.config.unnamed_vector)
}

/// `GET /collections/{name}/points/{id}`
pub async fn get(core: &Rc<Core>, name: &str, id: &str, out: &mut Vec<u8>) -> Result<(), Error> {
    let unnamed = unnamed(core, name)?;
    let Some(pid) = PointId::parse(id) else {
        return Err(Error::BadRequest(format!(
            "Format error in path: `{id}` is neither an unsigned integer nor a UUID"
        )));
    };
    let shape = ReadShape {
        payload: PayloadSelector::All,
        vectors: VectorSelector::All,
    };
    let mut found = ops::retrieve(core, name, vec![pid], shape).await?;
    match found.pop() {
        Some(record) => write_result(
            out,
            &RecordOut {
                record: &record,
                unnamed,
            },
        ),
        None => Err(Error::NotFound(format!(
            "Not found: No point with id {pid} found"
        ))),
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RetrieveBody {
    ids: Vec<PointId>,
    with_payload: Option<WithPayload>,
    #[serde(alias = "with_vectors")]
    with_vector: Option<WithVector>,
    shard_key: Option<Value>,
}

/// `POST /collections/{name}/points`
pub async fn retrieve(
    core: &Rc<Core>,
    name: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let req: RetrieveBody = parse_body(body)?;
    check_points(core, "ids", req.ids.len())?;
    refuse_shard_key(&req.shard_key)?;
    let unnamed = unnamed(core, name)?;
    let shape = read_shape(req.with_payload, true, req.with_vector);
    let records = ops::retrieve(core, name, req.ids, shape).await?;
    write_result(
        out,
        &seq(records.iter().map(|r| RecordOut { record: r, unnamed })),
    )
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CountBody {
    filter: Option<Filter>,
    exact: Option<bool>,
    shard_key: Option<Value>,
}

/// `POST /collections/{name}/points/count`
pub async fn count(
    core: &Rc<Core>,
    name: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let req: CountBody = parse_body(body)?;
    refuse_shard_key(&req.shard_key)?;
    let filter = check_filter(req.filter)?.map(Arc::new);
    // Counting is exact either way: every shard knows its live points.
    let _exact = req.exact;
    let n = ops::count(core, name, filter).await?;
    write_result(out, &serde_json::json!({ "count": n }))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ScrollBody {
    offset: Option<PointId>,
    limit: Option<usize>,
    filter: Option<Filter>,
    with_payload: Option<WithPayload>,
    #[serde(alias = "with_vectors")]
    with_vector: Option<WithVector>,
    order_by: Option<super::order_by::OrderByIn>,
    shard_key: Option<Value>,
}

/// Default page size of scroll (Qdrant's).
const SCROLL_LIMIT_DEFAULT: usize = 10;

/// `POST /collections/{name}/points/scroll`
pub async fn scroll(
    core: &Rc<Core>,
    name: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let req: ScrollBody = parse_body(body)?;
    refuse_shard_key(&req.shard_key)?;
    let filter = check_filter(req.filter)?.map(Arc::new);
    let limit = check_limit(req.limit.unwrap_or(SCROLL_LIMIT_DEFAULT))?;
    let unnamed = unnamed(core, name)?;
    let shape = read_shape(req.with_payload, true, req.with_vector);
    if let Some(order) = req.order_by {
        if req.offset.is_some() {
            return Err(Error::BadRequest(
                "Bad request: Can't use offset with order_by; use order_by.start_from instead"
                    .into(),
            ));
        }
        return super::order_by::scroll(core, name, order, limit, filter, shape, out).await;
    }
    let (records, next) = ops::scroll(core, name, req.offset, limit, filter, shape).await?;
    #[derive(serde::Serialize)]
    struct Page<P> {
        points: P,
        next_page_offset: Option<PointId>,
    }
    let page = Page {
        points: seq(records.iter().map(|r| RecordOut { record: r, unnamed })),
        next_page_offset: next,
    };
    write_result(out, &page)
}
