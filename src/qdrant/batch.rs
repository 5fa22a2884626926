//! `POST /collections/{name}/points/batch`: several update operations applied in order.

use schemars::JsonSchema;
use std::rc::Rc;

use serde::Deserialize;
use vexfs_shard::WriteOp;

use super::error::Error;
use super::json::{parse_body, wait_param};
use super::model::{seq, UpdateResult};
use super::payload::{
    DeletePayloadBody, DeleteVectorsBody, SetPayloadBody, TargetBody, Update, UpdateVectorsBody,
};
use super::points::UpsertBody;
use super::{check_batch, write_result};
use crate::runtime::core::Core;

/// One operation of a batch, in Qdrant's `{"<kind>": {…}}` form.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Operation {
    Upsert(UpsertBody),
    Delete(TargetBody),
    SetPayload(SetPayloadBody),
    OverwritePayload(SetPayloadBody),
    DeletePayload(DeletePayloadBody),
    ClearPayload(TargetBody),
    UpdateVectors(UpdateVectorsBody),
    DeleteVectors(DeleteVectorsBody),
}

impl Operation {
    fn into_update(self) -> Result<Update, Error> {
        match self {
            Operation::Upsert(b) => b.into_update(),
            Operation::Delete(b) => b.target().map(|t| Update::aim(t, WriteOp::Delete)),
            Operation::SetPayload(b) => b.into_set(),
            Operation::OverwritePayload(b) => b.into_overwrite(),
            Operation::DeletePayload(b) => b.into_op(),
            Operation::ClearPayload(b) => b.target().map(|t| Update::aim(t, WriteOp::ClearPayload)),
            Operation::UpdateVectors(b) => b.into_op(),
            Operation::DeleteVectors(b) => b.into_op(),
        }
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct BatchBody {
    operations: Vec<Operation>,
}

/// Operations are converted (and so checked for shape) before any runs; each then runs to
/// completion (durable with `wait=true`) before the next, so later ones see earlier ones.
pub async fn batch(
    core: &Rc<Core>,
    name: &str,
    query: &str,
    body: &mut [u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let wait = wait_param(query)?;
    let req: BatchBody = parse_body(body)?;
    check_batch(core, "operations", req.operations.len())?;
    let updates = req
        .operations
        .into_iter()
        .map(Operation::into_update)
        .collect::<Result<Vec<_>, _>>()?;
    let mut results = Vec::with_capacity(updates.len());
    for update in updates {
        let id = update.run(core, name, wait).await?;
        results.push(UpdateResult::new(id, wait));
    }
    write_result(out, &seq(results.into_iter()))
}
