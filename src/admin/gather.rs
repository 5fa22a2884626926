//! Reading and resetting every core's latency registry over the core mesh.

use std::rc::Rc;

use super::histograms::Merged;
use crate::runtime::core::{Core, CoreGone};

/// Every core's latencies, copied on its own thread and merged here.
pub async fn merged(core: &Rc<Core>) -> Result<Merged, CoreGone> {
    let snapshots = core
        .broadcast(|c: Rc<Core>| async move { c.latency.borrow().snapshot(c.id) })
        .await?;
    Ok(Merged::new(snapshots))
}

/// Zeroes every core's histograms and request counters.
pub async fn reset(core: &Rc<Core>) -> Result<(), CoreGone> {
    core.broadcast(|c: Rc<Core>| async move { c.latency.borrow_mut().reset() })
        .await?;
    Ok(())
}
