//! How background work (flush, merge and vacuum, index builds) shares its core with requests.
//!
//! The shard never reads a clock and never names an executor, so that its tests stay
//! deterministic: the runtime hands it a [`Pace`] (two plain functions) in
//! [`super::ShardOptions::pace`]. Background loops do their work in small units (one point
//! pushed into a builder, one point inserted into a graph) and ask [`Pace::should_yield`]
//! after each; when it says yes they end the chunk early, drop their borrows and await
//! [`Pace::pause`], which lets the executor serve requests before the work goes on. The
//! default, [`Pace::EVERY_CHUNK`], never cuts a chunk short and pauses after every chunk: the
//! shard's own tests run with it.

use std::future::Future;
use std::pin::Pin;

/// What [`Pace::pause`] returns: a future that resolves once the executor has had a chance to
/// run other work (poll its rings, serve requests).
pub type PauseFuture = Pin<Box<dyn Future<Output = ()>>>;

/// When and how background work gives its core back. Two function pointers so the options
/// that hold it stay `Copy` and `Send` (they are shared by every core).
#[derive(Clone, Copy)]
pub struct Pace {
    /// Whether the work should stop and [`Pace::pause`] now (called after every unit of
    /// work, so it must be cheap: an atomic load, a clock read).
    pub should_yield: fn() -> bool,
    /// Gives the core back for a moment.
    pub pause: fn() -> PauseFuture,
    /// Pause after every full chunk even when [`Pace::should_yield`] says no.
    pub pause_every_chunk: bool,
}

impl Pace {
    /// Full chunks, one executor yield after each (deterministic: no clock).
    pub const EVERY_CHUNK: Pace = Pace {
        should_yield: never,
        pause: yield_once,
        pause_every_chunk: true,
    };

    /// Whether the current chunk should end now (asked after every unit of work).
    pub fn should_yield(&self) -> bool {
        (self.should_yield)()
    }

    /// Called at the end of every chunk, with no borrow held.
    pub async fn pause_if_needed(&self) {
        if self.pause_every_chunk || self.should_yield() {
            (self.pause)().await;
        }
    }
}

impl Default for Pace {
    fn default() -> Self {
        Pace::EVERY_CHUNK
    }
}

impl std::fmt::Debug for Pace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pace")
    }
}

fn never() -> bool {
    false
}

fn yield_once() -> PauseFuture {
    Box::pin(futures_lite::future::yield_now())
}
