//! One executor's state and the core-to-core call primitive.
//!
//! Every executor owns a [`Core`]. Work meant for another core travels as a [`Job`] over
//! glommio's channel mesh: a closure that runs on the target core and replies through a
//! oneshot channel (Seastar's `submit_to`). Nothing else is shared between cores.

use std::cell::RefCell;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use glommio::channels::channel_mesh::Senders;
use vexfs_io::dma::DmaStorage;

use super::catalog::Catalog;
use crate::auth::ApiKeys;
use crate::http::{HttpLimits, Shutdown};

/// Work sent to another core: runs there, on that core's [`Core`].
pub type Job = Box<dyn FnOnce(Rc<Core>) -> Pin<Box<dyn Future<Output = ()>>> + Send>;

/// The mesh message: a job to run.
pub struct CoreMsg(pub Job);

/// State shared by all cores (read-mostly atomics; no locks on the request path).
pub struct Shared {
    pub cores: usize,
    pub storage_root: PathBuf,
    pub limits: HttpLimits,
    /// Points per request and searches per batch (0 read as 1).
    pub points_per_request_max: usize,
    pub searches_per_batch_max: usize,
    pub api_keys: ApiKeys,
    /// The admin routes have a port of their own (`[admin] port`), not the API port.
    pub admin_port_separate: bool,
    /// How shards are opened (flush threshold, log growth step).
    pub shard_options: vexfs_shard::ShardOptions,
    pub started: Instant,
    /// Start time as RFC 3339 (telemetry's `startup`).
    pub started_at_rfc3339: String,
    /// Random id of this process (telemetry's `id`).
    pub instance_id: String,
    /// Cores that finished loading their shards; ready when it equals `cores`.
    pub loaded: AtomicUsize,
    /// Set by the signal thread.
    pub stop: AtomicBool,
    /// Cores that finished draining connections after a stop.
    pub drained: AtomicUsize,
}

impl Shared {
    pub fn ready(&self) -> bool {
        self.loaded.load(Ordering::Acquire) == self.cores
    }
}

pub struct Core {
    pub id: usize,
    pub shared: Arc<Shared>,
    pub senders: Senders<CoreMsg>,
    pub catalog: RefCell<Catalog>,
    pub storage: DmaStorage,
    /// Resource quotas and this core's enforcement state.
    pub quotas: super::quotas::QuotaState,
    pub shutdown: Shutdown,
    /// Open client connections on this core.
    pub connections: std::cell::Cell<usize>,
    /// Request latencies answered on this core, per route (read by `/admin/latency`).
    pub latency: RefCell<crate::admin::Registry>,
    /// The task queue of shard background work ([`super::background`]).
    pub background: glommio::TaskQueueHandle,
}

/// A call to another core could not complete (it stopped).
#[derive(Debug, thiserror::Error)]
#[error("core {0} is not answering (shutting down)")]
pub struct CoreGone(pub usize);

impl Core {
    pub fn cores(&self) -> usize {
        self.shared.cores
    }

    /// Runs `f` on core `target` and returns its output. Runs inline when `target` is this
    /// core, so callers need not special-case locality.
    pub async fn submit_to<T, F, Fut>(self: &Rc<Self>, target: usize, f: F) -> Result<T, CoreGone>
    where
        F: FnOnce(Rc<Core>) -> Fut + Send + 'static,
        Fut: Future<Output = T> + 'static,
        T: Send + 'static,
    {
        if target == self.id {
            return Ok(f(self.clone()).await);
        }
        let (tx, rx) = futures_channel::oneshot::channel();
        let job: Job = Box::new(move |core| {
            Box::pin(async move {
                // The caller may have gone away (connection closed); nothing to do then.
                let _ = tx.send(f(core).await);
            })
        });
        if self.senders.send_to(target, CoreMsg(job)).await.is_err() {
            return Err(CoreGone(target));
        }
        rx.await.map_err(|_| CoreGone(target))
    }

    /// Runs `f` on every core concurrently; results in core order.
    pub async fn broadcast<T, F, Fut>(self: &Rc<Self>, f: F) -> Result<Vec<T>, CoreGone>
    where
        F: Fn(Rc<Core>) -> Fut + Send + Clone + 'static,
        Fut: Future<Output = T> + 'static,
        T: Send + 'static,
    {
        let calls = (0..self.cores()).map(|c| self.submit_to(c, f.clone()));
        futures_util::future::join_all(calls)
            .await
            .into_iter()
            .collect()
    }
}
