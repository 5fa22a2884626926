//! Thread-per-core runtime: one pinned glommio executor per core, each with its own
//! SO_REUSEPORT listener, joined by a channel mesh.

pub mod aliases;
pub mod background;
pub mod catalog;
pub mod core;
pub mod error;
pub mod ops;
pub mod quotas;
mod signals;
pub mod snapshots;

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_rustls::TlsAcceptor;
use glommio::channels::channel_mesh::{MeshBuilder, Receivers};
use glommio::net::TcpListener;
use glommio::{LocalExecutorBuilder, Placement};
use vexfs_io::dma::DmaStorage;

use self::core::{Core, CoreMsg, Shared};
use crate::auth::ApiKeys;
use crate::config::Config;
use crate::http::{serve_connection, serve_tls_connection, Shutdown};
use crate::limits;
use crate::qdrant::{App, Listener};

/// How long the start-up check waits for an existing listener to answer.
const PORT_PROBE_TIMEOUT_MS: u64 = 200;
/// How long a listener that still answers may take to go away before we give up.
const PORT_PROBE_PATIENCE_MS: u64 = 3_000;
const PORT_PROBE_RETRY_MS: u64 = 50;
/// How often an executor checks whether a stop signal arrived.
const STOP_POLL_MS: u64 = 50;

/// Starts the server and blocks until it stops. Errors are one line for the operator.
pub fn run(config: Config) -> Result<(), String> {
    let cpus = allowed_cpus()?;
    let cores = match config.runtime.cores {
        0 => cpus.len(),
        n if n > cpus.len() => {
            return Err(format!(
                "runtime.cores = {n} but this process may only run on {} CPUs ({cpus:?})",
                cpus.len()
            ))
        }
        n => n,
    };
    // Built once and shared read-only by every core; bad files stop the start here.
    let tls = config.tls_server_config()?;
    let _storage_lock = vexfs_io::lock::DirLock::acquire(&config.storage.path)
        .map_err(|e| format!("storage.path: {e}"))?;
    let addr: SocketAddr = format!("{}:{}", config.server.host, config.server.port)
        .parse()
        .or_else(|_| {
            use std::net::ToSocketAddrs;
            (config.server.host.as_str(), config.server.port)
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .ok_or(())
        })
        .map_err(|_| format!("cannot resolve server.host {:?}", config.server.host))?;
    probe_port(addr)?;
    let admin_addr = config.admin.port.map(|p| SocketAddr::new(addr.ip(), p));
    if let Some(a) = admin_addr {
        probe_port(a)?;
    }
    let shared = Arc::new(Shared {
        cores,
        storage_root: config.storage.path.clone(),
        limits: config.http_limits(),
        points_per_request_max: config.limits.points_per_request_max.max(1),
        searches_per_batch_max: config.limits.searches_per_batch_max.max(1),
        shard_options: vexfs_shard::ShardOptions {
            flush_points: config.storage.segment_flush_points,
            wal_preallocate_bytes: config.storage.wal_preallocate_bytes,
            policy: config.storage.wal_recovery.policy(),
            pace: background::pace(),
            ..Default::default()
        },
        admin_port_separate: admin_addr.is_some(),
        api_keys: ApiKeys::new(
            config.service.api_key.clone(),
            config.service.read_only_api_key.clone(),
        ),
        started: Instant::now(),
        started_at_rfc3339: rfc3339_now(),
        instance_id: uuid::Uuid::new_v4().to_string(),
        loaded: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        drained: AtomicUsize::new(0),
    });
    signals::install(shared.clone())?;
    let mesh = MeshBuilder::<CoreMsg, _>::full(cores, limits::MESH_CHANNEL_DEPTH);
    let io_memory = config.runtime.io_memory_kib * 1024;
    let (err_tx, err_rx) = std::sync::mpsc::channel::<String>();
    let mut handles = Vec::with_capacity(cores);
    for (id, cpu) in cpus.iter().copied().take(cores).enumerate() {
        let shared = shared.clone();
        let mesh = mesh.clone();
        let err_tx = err_tx.clone();
        let tls = tls.clone();
        let mut builder = LocalExecutorBuilder::new(Placement::Fixed(cpu))
            .name(&format!("vexfs-core-{id}"))
            .io_memory(io_memory)
            .ring_depth(config.runtime.io_ring_depth)
            .preempt_timer(Duration::from_millis(config.runtime.preempt_timer_ms));
        if config.runtime.spin_before_park_us > 0 {
            builder =
                builder.spin_before_park(Duration::from_micros(config.runtime.spin_before_park_us));
        }
        let handle = builder
            .spawn(move || async move {
                let addrs = Addrs {
                    api: addr,
                    admin: admin_addr,
                };
                if let Err(e) = serve_core(id, shared.clone(), mesh, addrs, tls).await {
                    // One failing core stops the whole server.
                    shared.stop.store(true, Ordering::Release);
                    let _ = err_tx.send(e);
                }
            })
            .map_err(|e| format!("cannot start executor for core {id} on CPU {cpu}: {e}"))?;
        handles.push(handle);
    }
    drop(err_tx);
    for h in handles {
        if h.join().is_err() {
            return Err("an executor thread panicked".into());
        }
    }
    match err_rx.try_recv() {
        Ok(e) => Err(e),
        Err(_) => Ok(()),
    }
}

/// Where each core listens.
#[derive(Clone, Copy)]
struct Addrs {
    api: SocketAddr,
    /// The admin routes' own port, if configured.
    admin: Option<SocketAddr>,
}

async fn serve_core(
    id: usize,
    shared: Arc<Shared>,
    mesh: MeshBuilder<CoreMsg, glommio::channels::channel_mesh::Full>,
    addrs: Addrs,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Result<(), String> {
    let addr = addrs.api;
    let (senders, receivers) = mesh
        .join()
        .await
        .map_err(|_| format!("core {id}: cannot join the core mesh"))?;
    let core = Rc::new(Core {
        id,
        shared: shared.clone(),
        senders,
        catalog: RefCell::new(Default::default()),
        storage: DmaStorage,
        quotas: Default::default(),
        shutdown: Shutdown::new(),
        connections: Cell::new(0),
        latency: Default::default(),
        background: background::create_queue(),
    });
    spawn_mesh_receivers(&core, receivers);
    let listener = TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let admin_listener = match addrs.admin {
        Some(a) => Some(
            TcpListener::bind(a).map_err(|e| format!("cannot listen on admin port {a}: {e}"))?,
        ),
        None => None,
    };
    catalog::load_all(&core)
        .await
        .map_err(|e| format!("core {id}: loading collections failed: {e}"))?;
    quotas::load(&core)
        .await
        .map_err(|e| format!("core {id}: loading quotas failed: {e}"))?;
    shared.loaded.fetch_add(1, Ordering::AcqRel);
    tracing::info!(core = id, %addr, admin = ?addrs.admin, tls = tls.is_some(), "core serving");
    let tls = tls.map(TlsAcceptor::from);
    glommio::spawn_local(watch_stop(core.clone())).detach();
    // Each listener in its own task: a task awaiting two accepts at once would re-poll the
    // pending one whenever the other completes (see `Shutdown::unless_triggered`).
    let admin = admin_listener.map(|admin| {
        let (core, tls) = (core.clone(), tls.clone());
        glommio::spawn_local(async move { accept_loop(&core, &admin, tls, Listener::Admin).await })
    });
    accept_loop(&core, &listener, tls, Listener::Api).await;
    if let Some(admin) = admin {
        admin.await;
    }
    drop(listener);
    drain(&core).await;
    Ok(())
}

/// Each peer's channel gets a task that runs the jobs it carries.
fn spawn_mesh_receivers(core: &Rc<Core>, mut receivers: Receivers<CoreMsg>) {
    for (_, rx) in receivers.streams() {
        let core = core.clone();
        glommio::spawn_local(async move {
            while let Some(CoreMsg(job)) = rx.recv().await {
                glommio::spawn_local(job(core.clone())).detach();
            }
        })
        .detach();
    }
}

/// With `tls`, every accepted connection is served over TLS (never plain HTTP on that port).
async fn accept_loop(
    core: &Rc<Core>,
    listener: &TcpListener,
    tls: Option<TlsAcceptor>,
    kind: Listener,
) {
    let app = Rc::new(App::new(core.clone(), kind));
    loop {
        let accepted = core.shutdown.unless_triggered(listener.accept()).await;
        let stream = match accepted {
            None => break,
            Some(Ok(s)) => s,
            Some(Err(e)) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(core = core.id, "accept failed: {e}");
                glommio::timer::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let core = core.clone();
        let tls = tls.clone();
        core.connections.set(core.connections.get() + 1);
        glommio::spawn_local(async move {
            let (limits, shutdown) = (&core.shared.limits, &core.shutdown);
            match tls {
                // The handshake runs here, in the connection's task, bounded by the head
                // timeout: a slow handshake never holds up the accept loop.
                Some(tls) => serve_tls_connection(stream, &tls, &*app, limits, shutdown).await,
                None => serve_connection(stream, &*app, limits, shutdown).await,
            }
            core.connections.set(core.connections.get() - 1);
        })
        .detach();
    }
}

/// Turns the process-wide stop flag (set by the signal thread) into this core's shutdown
/// switch, which ends the accept loops and closes idle connections.
async fn watch_stop(core: Rc<Core>) {
    while !core.shared.stop.load(Ordering::Acquire) {
        glommio::timer::sleep(Duration::from_millis(STOP_POLL_MS)).await;
    }
    core.shutdown.trigger();
}

/// After a stop: let open connections finish, wait for every core (peers may still call us),
/// then make every local shard's log durable.
async fn drain(core: &Rc<Core>) {
    core.shutdown.trigger();
    let deadline = Instant::now() + Duration::from_millis(limits::SHUTDOWN_GRACE_MS);
    while core.connections.get() > 0 && Instant::now() < deadline {
        glommio::timer::sleep(Duration::from_millis(5)).await;
    }
    core.shared.drained.fetch_add(1, Ordering::AcqRel);
    while core.shared.drained.load(Ordering::Acquire) < core.cores() && Instant::now() < deadline {
        glommio::timer::sleep(Duration::from_millis(5)).await;
    }
    let collections: Vec<_> = core
        .catalog
        .borrow()
        .collections
        .values()
        .cloned()
        .collect();
    for coll in collections {
        for (s, shard) in coll.local_shards() {
            if let Err(e) = shard.sync_to(shard.last_lsn()).await {
                tracing::error!(collection = %coll.name, shard = s, "final sync failed: {e}");
            }
        }
    }
    tracing::info!(core = core.id, "core stopped");
}

/// CPUs this process may run on (respects taskset / cgroups).
fn allowed_cpus() -> Result<Vec<usize>, String> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it for the calling thread.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return Err(format!(
            "sched_getaffinity: {}",
            std::io::Error::last_os_error()
        ));
    }
    let cpus: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect();
    if cpus.is_empty() {
        return Err("no CPU available to this process".into());
    }
    Ok(cpus)
}

/// Fails when something already listens on the port. Every core binds with SO_REUSEPORT,
/// which would otherwise silently share the port with another instance of this server.
/// A bind probe cannot tell: TIME_WAIT sockets of a killed predecessor make it fail although
/// the port is free. A killed predecessor's listener also lingers for a moment while the
/// kernel tears down its io_uring, so a listener that answers is retried for a while.
fn probe_port(addr: SocketAddr) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_millis(PORT_PROBE_PATIENCE_MS);
    loop {
        let timeout = Duration::from_millis(PORT_PROBE_TIMEOUT_MS);
        if std::net::TcpStream::connect_timeout(&addr, timeout).is_err() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "cannot listen on {addr}: another process is already listening there"
            ));
        }
        std::thread::sleep(Duration::from_millis(PORT_PROBE_RETRY_MS));
    }
}

/// The current UTC time as RFC 3339 with seconds, computed from the Unix clock (civil-from-days).
fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
