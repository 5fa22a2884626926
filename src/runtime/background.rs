//! Where a core's background work runs and how often it gives the core back.
//!
//! Every shard's flusher (flush, merge, vacuum) and indexer (payload indexes, HNSW graphs) run
//! in one glommio task queue per core with [`BACKGROUND_SHARES`], so that when requests and
//! background work are both runnable the requests get almost all of the core. Shares alone are
//! not enough: glommio switches queues only when a task yields and the reactor learns about
//! new I/O only when it polls its rings, which a busy CPU loop never lets it do (a file write
//! or fdatasync completing does not preempt). So the shard's loops also ask [`pace`] after
//! every unit of work: they stop when a socket event is pending (`need_preempt`) or when
//! [`BACKGROUND_SLICE_US`] of work has passed, and pause on a short timer, which takes the
//! queue off the run list until the reactor has polled.

use std::cell::Cell;
use std::time::{Duration, Instant};

use glommio::{Latency, Shares, TaskQueueHandle};
use vexfs_shard::shard::{Pace, PauseFuture};

/// Shares of the background queue; glommio's default queue (requests) has 1000. With both
/// runnable, background work gets about 1/11 of the core.
pub const BACKGROUND_SHARES: usize = 100;

/// Longest stretch of background work between two pauses, in microseconds. A request that
/// arrives while a chunk runs waits at most this long (plus one unit of work: an HNSW insert
/// is 0.3–0.8 ms at 100k × 128).
pub const BACKGROUND_SLICE_US: u64 = 500;

/// How long a pause sleeps, in microseconds: long enough that the timer is still pending when
/// first polled, so the executor polls its rings before the work goes on.
pub const BACKGROUND_PAUSE_US: u64 = 20;

thread_local! {
    /// When the current slice of background work on this core started.
    static SLICE_START: Cell<Instant> = Cell::new(Instant::now());
}

/// Creates this core's background queue (call once per executor).
pub fn create_queue() -> TaskQueueHandle {
    glommio::executor().create_task_queue(
        Shares::Static(BACKGROUND_SHARES),
        Latency::NotImportant,
        "background",
    )
}

/// The pace the runtime gives every shard.
pub fn pace() -> Pace {
    Pace {
        should_yield,
        pause,
        pause_every_chunk: false,
    }
}

fn should_yield() -> bool {
    glommio::executor().need_preempt()
        || SLICE_START.with(|s| s.get().elapsed()) >= Duration::from_micros(BACKGROUND_SLICE_US)
}

fn pause() -> PauseFuture {
    Box::pin(async {
        glommio::timer::sleep(Duration::from_micros(BACKGROUND_PAUSE_US)).await;
        SLICE_START.with(|s| s.set(Instant::now()));
    })
}
