//! Cluster routes, answered as the single-node deployment this server is.

use std::rc::Rc;

use serde_json::json;

use super::error::Error;
use super::write_result;
use crate::runtime::core::Core;
use crate::runtime::ops;

/// `GET /cluster`: distributed mode is off.
pub fn status(out: &mut Vec<u8>) -> Result<(), Error> {
    write_result(out, &json!({"status": "disabled"}))
}

/// `GET /collections/{name}/cluster`: every shard is local and active.
pub async fn collection_info(core: &Rc<Core>, name: &str, out: &mut Vec<u8>) -> Result<(), Error> {
    let coll = core.catalog.borrow().get(name)?;
    let counts = ops::shard_counts(core, &coll.name).await?;
    let local: Vec<_> = counts
        .into_iter()
        .map(|(shard_id, points_count)| json!({"shard_id": shard_id, "points_count": points_count, "state": "Active"}))
        .collect();
    write_result(
        out,
        &json!({
            "peer_id": 0,
            "shard_count": coll.config.shard_number,
            "local_shards": local,
            "remote_shards": [],
            "shard_transfers": [],
        }),
    )
}

/// Routes that change a cluster's layout; a single node has none to change.
pub fn distributed_only() -> Error {
    Error::BadRequest("Bad request: Distributed mode disabled".into())
}
