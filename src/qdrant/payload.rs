//! Payload and vector update routes: set, overwrite, delete and clear payload; update and
//! delete vectors. Points are named by id or picked by a filter.

use schemars::JsonSchema;
use std::rc::Rc;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};
use vexfs_shard::filter::Filter;
use vexfs_shard::{PointId, UpdateCondition, UpdateMode, WriteOp};

use super::error::Error;
use super::json::{parse_body, wait_param};
use super::model::{UpdateResult, VectorInput};
use super::{check_filter, check_points, refuse_shard_key, write_result};
use crate::runtime::core::Core;
use crate::runtime::ops;

/// Which points an operation applies to.
pub enum Target {
    Ids(Vec<PointId>),
    Filter(Filter),
}

/// `{points}` or `{filter}` (Qdrant's `PointsSelector`).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetBody {
    points: Option<Vec<PointId>>,
    filter: Option<Filter>,
    shard_key: Option<Value>,
}

impl TargetBody {
    pub fn target(self) -> Result<Target, Error> {
        target(self.points, self.filter, self.shard_key)
    }
}

fn target(
    points: Option<Vec<PointId>>,
    filter: Option<Filter>,
    shard_key: Option<Value>,
) -> Result<Target, Error> {
    refuse_shard_key(&shard_key)?;
    match (points, check_filter(filter)?) {
        (Some(ids), None) => Ok(Target::Ids(ids)),
        (None, Some(f)) => Ok(Target::Filter(f)),
        (Some(_), Some(_)) => Err(Error::format(
            "expected either `points` or `filter`, not both",
        )),
        (None, None) => Err(Error::format(
            "expected `points` (a list of ids) or `filter`",
        )),
    }
}

/// An update ready to run: the operation (with its ids when aimed by id) and, when aimed by
/// filter, the filter that picks its points on each shard.
pub struct Update {
    op: WriteOp,
    filter: Option<Filter>,
    /// `update_mode` / `update_filter` of an operation aimed by id.
    condition: Option<UpdateCondition>,
}

impl Update {
    pub fn by_ids(op: WriteOp) -> Update {
        Update {
            op,
            filter: None,
            condition: None,
        }
    }

    /// An operation by id that runs only on the points `condition` lets through.
    pub fn conditional(op: WriteOp, condition: UpdateCondition) -> Update {
        let unconditional = condition.filter.is_none() && condition.mode == UpdateMode::Upsert;
        Update {
            op,
            filter: None,
            condition: (!unconditional).then_some(condition),
        }
    }

    pub fn aim(target: Target, make: impl FnOnce(Vec<PointId>) -> WriteOp) -> Update {
        match target {
            Target::Ids(ids) => Update::by_ids(make(ids)),
            Target::Filter(f) => Update {
                op: make(Vec::new()),
                filter: Some(f),
                condition: None,
            },
        }
    }

    pub async fn run(self, core: &Rc<Core>, name: &str, wait: bool) -> Result<u64, Error> {
        if self.filter.is_none() {
            check_points(core, "points", self.op.point_count())?;
        }
        Ok(match self.filter {
            None => ops::write_if(core, name, self.op, self.condition, wait).await?,
            Some(f) => ops::write_by_filter(core, name, f, self.op, wait).await?,
        })
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPayloadBody {
    payload: Map<String, Value>,
    points: Option<Vec<PointId>>,
    filter: Option<Filter>,
    key: Option<String>,
    shard_key: Option<Value>,
}

impl SetPayloadBody {
    pub fn into_set(self) -> Result<Update, Error> {
        let (payload, key) = (self.payload, self.key);
        let t = target(self.points, self.filter, self.shard_key)?;
        Ok(Update::aim(t, |ids| WriteOp::SetPayload {
            ids,
            payload,
            key,
        }))
    }

    pub fn into_overwrite(self) -> Result<Update, Error> {
        if self.key.is_some() {
            return Err(Error::unsupported("`key` with overwrite_payload"));
        }
        let payload = self.payload;
        let t = target(self.points, self.filter, self.shard_key)?;
        Ok(Update::aim(t, |ids| WriteOp::OverwritePayload {
            ids,
            payload,
        }))
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeletePayloadBody {
    keys: Vec<String>,
    points: Option<Vec<PointId>>,
    filter: Option<Filter>,
    shard_key: Option<Value>,
}

impl DeletePayloadBody {
    pub fn into_op(self) -> Result<Update, Error> {
        let keys = self.keys;
        let t = target(self.points, self.filter, self.shard_key)?;
        Ok(Update::aim(t, |ids| WriteOp::DeletePayload { ids, keys }))
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct PointVectorsIn {
    id: PointId,
    vector: VectorInput,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateVectorsBody {
    points: Vec<PointVectorsIn>,
    shard_key: Option<Value>,
    update_filter: Option<Filter>,
}

impl UpdateVectorsBody {
    pub fn into_op(self) -> Result<Update, Error> {
        refuse_shard_key(&self.shard_key)?;
        let condition = UpdateCondition {
            filter: check_filter(self.update_filter)?,
            mode: UpdateMode::Upsert,
        };
        let op = WriteOp::UpdateVectors(
            self.points
                .into_iter()
                .map(|p| (p.id, p.vector.into_named()))
                .collect(),
        );
        Ok(Update::conditional(op, condition))
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteVectorsBody {
    vector: Vec<String>,
    points: Option<Vec<PointId>>,
    filter: Option<Filter>,
    shard_key: Option<Value>,
}

impl DeleteVectorsBody {
    pub fn into_op(self) -> Result<Update, Error> {
        let names = self.vector;
        let t = target(self.points, self.filter, self.shard_key)?;
        Ok(Update::aim(t, |ids| WriteOp::DeleteVectors { ids, names }))
    }
}

/// Parses a body, turns it into an update, runs it and answers Qdrant's `UpdateResult`.
async fn apply<B: DeserializeOwned>(
    core: &Rc<Core>,
    name: &str,
    query: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
    into: fn(B) -> Result<Update, Error>,
) -> Result<(), Error> {
    let wait = wait_param(query)?;
    let update = into(parse_body::<B>(body)?)?;
    let id = update.run(core, name, wait).await?;
    write_result(out, &UpdateResult::new(id, wait))
}

/// `POST /collections/{name}/points/payload`
pub async fn set(
    core: &Rc<Core>,
    name: &str,
    query: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    apply(core, name, query, body, out, SetPayloadBody::into_set).await
}

/// `PUT /collections/{name}/points/payload`
pub async fn overwrite(
    core: &Rc<Core>,
    name: &str,
    query: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    apply(core, name, query, body, out, SetPayloadBody::into_overwrite).await
}

/// `POST /collections/{name}/points/payload/delete`
pub async fn delete(
    core: &Rc<Core>,
    name: &str,
    query: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    apply(core, name, query, body, out, DeletePayloadBody::into_op).await
}

/// `POST /collections/{name}/points/payload/clear`
pub async fn clear(
    core: &Rc<Core>,
    name: &str,
    query: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    apply(core, name, query, body, out, |b: TargetBody| {
        Ok(Update::aim(b.target()?, WriteOp::ClearPayload))
    })
    .await
}

/// `PUT /collections/{name}/points/vectors`
pub async fn update_vectors(
    core: &Rc<Core>,
    name: &str,
    query: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    apply(core, name, query, body, out, UpdateVectorsBody::into_op).await
}

/// `POST /collections/{name}/points/vectors/delete`
pub async fn delete_vectors(
    core: &Rc<Core>,
    name: &str,
    query: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    apply(core, name, query, body, out, DeleteVectorsBody::into_op).await
}
