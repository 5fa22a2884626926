//! One keep-alive HTTP/1.1 connection driving load: up to `pipeline` requests in flight,
//! responses matched to requests in order.
//!
//! Everything runs in one task per connection: one task is cheaper than a reader/writer pair
//! and keeps the in-flight queue free of sharing. Newly due requests are written between
//! reads. That cannot deadlock as long as one side's burst fits the kernel socket buffers
//! (pipeline x request size, a few MiB on loopback). The cost: while a write of large bodies
//! (pipelined upserts to a saturated server) waits for the server to drain its socket,
//! responses already received wait to be timestamped, so such latencies read slightly high.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_lite::future;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use glommio::timer::Timer;

use crate::response;
use crate::rng::Rng;
use crate::stats::Stats;
use crate::workload::Workload;

/// Read granularity, in bytes; the buffer grows past it for larger responses.
const READ_CHUNK_BYTES: usize = 64 * 1024;
/// Longest wait for a connection to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause before reconnecting after a failure, so a dead server is not hammered.
const RECONNECT_BACKOFF: Duration = Duration::from_millis(50);
/// Longest silence from the server while requests are in flight, after the deadline:
/// bounds how long a stalled server can stretch a run.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// When and how much one connection works.
pub struct Schedule {
    /// Common start of all connections (after they have had time to open).
    pub start: Instant,
    /// Measurement starts (warmup ends) here.
    pub measure_from: Instant,
    /// No request is sent at or after this instant; responses after it are not counted.
    pub deadline: Instant,
    /// `--requests` share of this connection; `None` in duration mode.
    pub quota: Option<u64>,
    /// Open-loop: first scheduled send and the gap between sends.
    pub open_loop: Option<(Instant, Duration)>,
    pub pipeline: usize,
}

/// A request on the wire: when it was meant to go out, which pool it came from.
struct InFlight {
    intended: Instant,
    pool: usize,
}

/// Why a connection stopped.
enum End {
    /// Deadline reached or quota spent.
    Done,
    /// The server asked to close (`connection: close`); open a new one.
    Reconnect,
}

/// Runs one connection (reconnecting after failures) until the schedule ends.
pub async fn drive(
    addr: std::net::SocketAddr,
    seed: u64,
    workload: Arc<Workload>,
    mut sched: Schedule,
    stats: Rc<RefCell<Stats>>,
) {
    let mut rng = Rng::new(seed);
    while Instant::now() < sched.deadline && sched.quota != Some(0) {
        let stream = match TcpStream::connect_timeout(addr, CONNECT_TIMEOUT).await {
            Ok(s) => s,
            Err(e) => {
                stats.borrow_mut().io_error(&format!("connect: {e}"), 1);
                Timer::new(RECONNECT_BACKOFF).await;
                continue;
            }
        };
        // Small requests must leave at once, not wait for Nagle.
        let _ = stream.set_nodelay(true);
        let now = Instant::now();
        if now < sched.start {
            Timer::new(sched.start - now).await;
        }
        let mut conn = Conn {
            stream,
            rbuf: Vec::with_capacity(READ_CHUNK_BYTES),
            wbuf: Vec::new(),
            inflight: VecDeque::with_capacity(sched.pipeline),
        };
        match conn.run(&mut sched, &workload, &mut rng, &stats).await {
            Ok(End::Done) => return,
            Ok(End::Reconnect) => {
                // Requests pipelined behind the server's last response go unanswered.
                let lost = conn.inflight.len() as u64;
                stats
                    .borrow_mut()
                    .io_error("request lost to connection: close", lost);
            }
            Err(e) => {
                {
                    let lost = conn.inflight.len() as u64;
                    let mut s = stats.borrow_mut();
                    s.io_error(&e, 1);
                    s.io_error("request lost with its connection", lost.saturating_sub(1));
                }
                Timer::new(RECONNECT_BACKOFF).await;
            }
        }
    }
}

struct Conn {
    stream: TcpStream,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    inflight: VecDeque<InFlight>,
}

impl Conn {
    async fn run(
        &mut self,
        sched: &mut Schedule,
        workload: &Workload,
        rng: &mut Rng,
        stats: &RefCell<Stats>,
    ) -> Result<End, String> {
        let mut filled = 0usize;
        loop {
            let now = Instant::now();
            if now < sched.deadline {
                self.queue_due(sched, workload, rng, now);
            }
            if !self.wbuf.is_empty() {
                self.stream
                    .write_all(&self.wbuf)
                    .await
                    .map_err(|e| format!("write: {e}"))?;
                self.wbuf.clear();
            }
            if self.inflight.is_empty() {
                if now >= sched.deadline || sched.quota == Some(0) {
                    return Ok(End::Done);
                }
                if let Some((next, _)) = sched.open_loop {
                    // Nothing due yet: sleep until the next scheduled send.
                    Timer::new(next.min(sched.deadline).saturating_duration_since(now)).await;
                    continue;
                }
            }
            // Wake for data, for the next open-loop send if the pipeline has room for it, or
            // to give up on a stalled server. (A wake time already past would spin without
            // ever letting the reactor deliver the response.)
            let room = self.inflight.len() < sched.pipeline;
            let wake = match sched.open_loop {
                Some((next, _)) if room && now < sched.deadline => next.min(sched.deadline),
                _ => sched.deadline.max(now) + DRAIN_TIMEOUT,
            };
            if self.rbuf.len() - filled < READ_CHUNK_BYTES {
                self.rbuf.resize(filled + READ_CHUNK_BYTES, 0);
            }
            let stream = &mut self.stream;
            let spare = &mut self.rbuf[filled..];
            let read = future::or(async { Some(stream.read(spare).await) }, async {
                Timer::new(wake.saturating_duration_since(Instant::now())).await;
                None
            })
            .await;
            let n = match read {
                Some(r) => r.map_err(|e| format!("read: {e}"))?,
                None if Instant::now() >= sched.deadline + DRAIN_TIMEOUT => {
                    return Err("timeout waiting for a response".into());
                }
                None => continue,
            };
            if n == 0 {
                return Err("server closed the connection".into());
            }
            filled += n;
            let (consumed, close) =
                take_responses(&mut self.inflight, &self.rbuf[..filled], sched, stats)?;
            self.rbuf.copy_within(consumed..filled, 0);
            filled -= consumed;
            if close {
                return Ok(End::Reconnect);
            }
        }
    }

    /// Queues every request that is due now and fits the pipeline.
    fn queue_due(
        &mut self,
        sched: &mut Schedule,
        workload: &Workload,
        rng: &mut Rng,
        now: Instant,
    ) {
        while self.inflight.len() < sched.pipeline {
            let intended = match &mut sched.open_loop {
                None => now,
                Some((next, gap)) => {
                    if *next > now {
                        break;
                    }
                    let t = *next;
                    *next += *gap;
                    t
                }
            };
            if intended >= sched.measure_from {
                match &mut sched.quota {
                    Some(0) => break,
                    Some(q) => *q -= 1,
                    None => {}
                }
            }
            let (pool, bytes) = workload.pick(rng);
            self.wbuf.extend_from_slice(bytes);
            self.inflight.push_back(InFlight { intended, pool });
        }
    }
}

/// Frames every complete response in `buf`, records it against the oldest request in
/// flight, and returns the bytes consumed and whether the server announced it is closing.
fn take_responses(
    inflight: &mut VecDeque<InFlight>,
    buf: &[u8],
    sched: &Schedule,
    stats: &RefCell<Stats>,
) -> Result<(usize, bool), String> {
    let mut pos = 0;
    let now = Instant::now();
    let mut stats = stats.borrow_mut();
    while let Some(f) = response::frame(&buf[pos..]).map_err(|e| format!("response: {e}"))? {
        let req = inflight
            .pop_front()
            .ok_or_else(|| "response without a request".to_string())?;
        pos += f.len;
        if req.intended >= sched.measure_from && now <= sched.deadline {
            // Open loop: from the scheduled send, so queueing behind a slow server counts.
            let latency = now.saturating_duration_since(req.intended).as_nanos();
            let latency = u64::try_from(latency).unwrap_or(u64::MAX);
            stats.record(req.pool, f.status, latency, now);
        }
        if f.close {
            return Ok((pos, true));
        }
    }
    Ok((pos, false))
}
