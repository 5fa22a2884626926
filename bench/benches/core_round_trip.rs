//! Cost of one core-to-core call, the primitive every fan-out (search, count, scroll) pays
//! per remote shard. `cargo bench -p vexfs-bench --bench core_round_trip`.
//!
//! Why this and not the search merge itself: the merge lives inline in the server's
//! `runtime::ops::search`, which needs a running `Core` (mesh, catalog, DMA storage) to call;
//! its own work (sort the per-shard top-k hits, take `limit`) is small next to the hop. So
//! this measures the hop with the server's mechanism: two glommio executors pinned to CPUs 0
//! and 1 joined by a full `channel_mesh` of the server's depth
//! (`vexfs_server::limits::MESH_CHANNEL_DEPTH`), a boxed job sent across, its answer returned
//! through a `futures_channel::oneshot`, as `Core::submit_to` does. One iteration is one
//! round trip; `fan_out_2` is the broadcast shape (local call plus one remote, joined); the
//! `_spin` variants let idle executors spin `SPIN_BEFORE_PARK` before parking.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use criterion::Criterion;
use futures_lite::StreamExt;
use glommio::channels::channel_mesh::{Full, MeshBuilder, Senders};
use glommio::{LocalExecutorBuilder, Placement};
use vexfs_server::limits::MESH_CHANNEL_DEPTH;

/// A job run on the receiving executor; it answers through its own oneshot.
type Job = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()>>> + Send>;
struct Msg(Job);

/// io_uring memory per executor (two of them stay well under an 8 MiB memlock limit).
const IO_MEMORY_BYTES: usize = 512 * 1024;
/// CPUs the two executors are pinned to.
const CALLER_CPU: usize = 0;
const CALLEE_CPU: usize = 1;

/// One remote call: send a job computing `x + 1` to executor `to`, await its answer.
async fn call(senders: &Senders<Msg>, to: usize, x: u64) -> u64 {
    let (tx, rx) = futures_channel::oneshot::channel();
    let job: Job = Box::new(move || {
        Box::pin(async move {
            let _ = tx.send(x + 1);
        })
    });
    if senders.send_to(to, Msg(job)).await.is_err() {
        panic!("callee executor is gone");
    }
    rx.await.expect("callee answered")
}

/// How long an idle executor spins before parking in the `_spin` variants: glommio parks an
/// idle executor (io_uring wait), and waking it for a mesh message is most of the hop.
const SPIN_BEFORE_PARK: Duration = Duration::from_millis(1);

/// Runs `iters` round trips (or fan-outs) on a fresh pair of executors; returns their time.
fn measure(iters: u64, fan_out: bool, spin: bool) -> Duration {
    let builder = |cpu| {
        let b = LocalExecutorBuilder::new(Placement::Fixed(cpu)).io_memory(IO_MEMORY_BYTES);
        if spin {
            b.spin_before_park(SPIN_BEFORE_PARK)
        } else {
            b
        }
    };
    let mesh: MeshBuilder<Msg, Full> = MeshBuilder::full(2, MESH_CHANNEL_DEPTH);
    let callee_mesh = mesh.clone();
    let callee = builder(CALLEE_CPU)
        .spawn(move || async move {
            let (_senders, mut receivers) = callee_mesh.join().await.expect("join mesh");
            // Serve jobs until the caller's channel closes.
            let streams: Vec<_> = receivers.streams().into_iter().map(|(_, s)| s).collect();
            for mut s in streams {
                while let Some(Msg(job)) = s.next().await {
                    job().await;
                }
            }
        })
        .expect("spawn the callee executor");
    let caller = builder(CALLER_CPU)
        .spawn(move || async move {
            let (senders, _receivers) = mesh.join().await.expect("join mesh");
            let me = senders.peer_id();
            let other = 1 - me;
            // Warm the path once so the first iteration does not pay for setup.
            let mut x = call(&senders, other, 0).await;
            let start = Instant::now();
            for _ in 0..iters {
                x = if fan_out {
                    let local = async { x + 1 };
                    let (a, b) = futures_lite::future::zip(local, call(&senders, other, x)).await;
                    a.max(b)
                } else {
                    call(&senders, other, x).await
                };
            }
            let elapsed = start.elapsed();
            assert!(x > iters, "every call must have answered");
            drop(senders);
            elapsed
        })
        .expect("spawn the caller executor");
    let elapsed = caller.join().expect("caller finished");
    callee.join().expect("callee finished");
    elapsed
}

fn round_trips(c: &mut Criterion) {
    let mut g = c.benchmark_group("core_call");
    for (name, fan_out, spin) in [
        ("round_trip", false, false),
        ("fan_out_2", true, false),
        ("round_trip_spin", false, true),
        ("fan_out_2_spin", true, true),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| measure(iters, fan_out, spin))
        });
    }
    g.finish();
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .configure_from_args();
    round_trips(&mut c);
    c.final_summary();
}
