//! The per-core cap on open connections (`connections_max_per_core`).
//!
//! Beyond the cap a new connection is still accepted, answered `503` with Qdrant's error
//! envelope and closed; it is not left waiting in the kernel's accept queue. Why:
//! - a client learns at once that the server is full and can back off or go elsewhere; a
//!   connection parked in the backlog looks like a hang until the client's own timeout;
//! - every core has its own `SO_REUSEPORT` listener and the kernel hashes connections to them,
//!   so a core that stopped accepting would hold its queued connections even while the other
//!   cores have free slots;
//! - the backlog stays short, so the next connection after a slot frees is served at once.
//!
//! Refusing costs one short task per refused connection; [`REFUSALS_MAX_IN_FLIGHT`] bounds
//! them, past which a refused connection is closed without an answer.
//!
//! The counts are thread-locals: each core is one executor thread that serves its own
//! connections, so a thread-local count is exactly the per-core count, and the runtime's accept
//! loop needs no HTTP policy of its own.

use std::cell::Cell;
use std::time::Duration;

use futures_lite::AsyncWriteExt;
use glommio::net::TcpStream;

use super::conn::linger;
use super::response::write_error;
use crate::limits::{REFUSALS_MAX_IN_FLIGHT, REFUSAL_LINGER_MS};

/// What a refused peer may still send before it reads the 503 (its request), drained so the
/// close does not reset the answer away.
const REFUSAL_DRAIN_MAX_BYTES: usize = 64 * 1024;

thread_local! {
    /// Connections this core serves now.
    static OPEN: Cell<usize> = const { Cell::new(0) };
    /// Connections this core is refusing now.
    static REFUSING: Cell<usize> = const { Cell::new(0) };
}

/// A place among the open connections of this core, given back on drop.
pub struct Slot(());

impl Slot {
    /// Takes a place if fewer than `max` connections are open on this core.
    pub fn take(max: usize) -> Option<Slot> {
        OPEN.with(|open| {
            (open.get() < max).then(|| {
                open.set(open.get() + 1);
                Slot(())
            })
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        OPEN.with(|open| open.set(open.get().saturating_sub(1)));
    }
}

/// Connections served on this core (the calling thread) right now.
pub fn open_connections() -> usize {
    OPEN.with(Cell::get)
}

/// One of the bounded refusals in progress.
struct Refusal(());

impl Refusal {
    fn take() -> Option<Refusal> {
        REFUSING.with(|n| {
            (n.get() < REFUSALS_MAX_IN_FLIGHT).then(|| {
                n.set(n.get() + 1);
                Refusal(())
            })
        })
    }
}

impl Drop for Refusal {
    fn drop(&mut self) {
        REFUSING.with(|n| n.set(n.get().saturating_sub(1)));
    }
}

/// Answers `503` on a connection over the cap and closes it.
pub async fn refuse(mut stream: TcpStream, max: usize) {
    let Some(_refusal) = Refusal::take() else {
        // Too many refusals at once: a flood. Dropping closes the socket without an answer.
        return;
    };
    let mut out = Vec::new();
    let mut scratch = Vec::new();
    write_error(
        &mut out,
        &mut scratch,
        503,
        &format!("Service Unavailable: too many open connections (limit {max} per core)"),
    );
    // The answer fits any socket buffer; a peer that does not even take that is not waited for.
    let _ = stream.set_write_timeout(Some(Duration::from_millis(REFUSAL_LINGER_MS)));
    if stream.write_all(&out).await.is_ok() {
        linger(
            &mut stream,
            &mut scratch,
            Duration::from_millis(REFUSAL_LINGER_MS),
            REFUSAL_DRAIN_MAX_BYTES,
        )
        .await;
    }
    let _ = stream.close().await;
}
