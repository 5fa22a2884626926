//! What each executor counts during the measured window; merged once the run ends.

use std::collections::BTreeMap;
use std::time::Instant;

use hdrhistogram::Histogram;

/// Highest latency the histograms track, in nanoseconds (60 s); longer ones saturate.
pub const LATENCY_MAX_NS: u64 = 60_000_000_000;
/// Significant decimal digits kept by the histograms (0.1 % resolution).
pub const LATENCY_SIGFIGS: u8 = 3;

/// Counters of one request kind.
pub struct KindStats {
    pub latency: Histogram<u64>,
    /// Responses received in the window, any status.
    pub responses: u64,
    /// 2xx responses; times the pool's ops per request gives point-ops.
    pub ok: u64,
}

impl KindStats {
    fn new() -> KindStats {
        KindStats {
            latency: new_histogram(),
            responses: 0,
            ok: 0,
        }
    }
}

/// Counters of one executor (or, after [`Stats::merge`], of the whole run).
pub struct Stats {
    /// Indexed like `Workload::pools`.
    pub kinds: Vec<KindStats>,
    /// Responses by non-2xx status.
    pub error_statuses: BTreeMap<u16, u64>,
    /// Transport failures (connect, read, write, unparseable response) by description;
    /// requests in flight on a failed connection count here too.
    pub io_errors: BTreeMap<String, u64>,
    /// Last measured completion, for `--requests` runs whose window ends when work does.
    pub last_completion: Option<Instant>,
}

pub fn new_histogram() -> Histogram<u64> {
    // Bounds are constants that hdrhistogram accepts; failing here is a programming error.
    Histogram::new_with_bounds(1, LATENCY_MAX_NS, LATENCY_SIGFIGS)
        .expect("constant histogram bounds are valid")
}

impl Stats {
    pub fn new(kinds: usize) -> Stats {
        Stats {
            kinds: (0..kinds).map(|_| KindStats::new()).collect(),
            error_statuses: BTreeMap::new(),
            io_errors: BTreeMap::new(),
            last_completion: None,
        }
    }

    /// One measured response.
    pub fn record(&mut self, kind: usize, status: u16, latency_ns: u64, at: Instant) {
        let k = &mut self.kinds[kind];
        k.latency.saturating_record(latency_ns.max(1));
        k.responses += 1;
        if (200..300).contains(&status) {
            k.ok += 1;
        } else {
            *self.error_statuses.entry(status).or_default() += 1;
        }
        if self.last_completion.is_none_or(|t| t < at) {
            self.last_completion = Some(at);
        }
    }

    pub fn io_error(&mut self, what: &str, count: u64) {
        if count > 0 {
            *self.io_errors.entry(what.to_string()).or_default() += count;
        }
    }

    /// Folds another executor's counts into this one.
    pub fn merge(&mut self, other: Stats) {
        for (mine, theirs) in self.kinds.iter_mut().zip(other.kinds) {
            // Same bounds on both sides, so adding cannot fail.
            let _ = mine.latency.add(&theirs.latency);
            mine.responses += theirs.responses;
            mine.ok += theirs.ok;
        }
        for (s, n) in other.error_statuses {
            *self.error_statuses.entry(s).or_default() += n;
        }
        for (e, n) in other.io_errors {
            *self.io_errors.entry(e).or_default() += n;
        }
        self.last_completion = match (self.last_completion, other.last_completion) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    /// All kinds' latencies in one histogram.
    pub fn overall_latency(&self) -> Histogram<u64> {
        let mut h = new_histogram();
        for k in &self.kinds {
            let _ = h.add(&k.latency);
        }
        h
    }

    pub fn responses(&self) -> u64 {
        self.kinds.iter().map(|k| k.responses).sum()
    }

    /// Point-ops of 2xx responses, given each kind's ops per request.
    pub fn point_ops(&self, ops_per_request: &[u64]) -> u64 {
        self.kinds
            .iter()
            .zip(ops_per_request)
            .map(|(k, ops)| k.ok * ops)
            .sum()
    }

    pub fn errors(&self) -> u64 {
        self.error_statuses.values().sum::<u64>() + self.io_errors.values().sum::<u64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges() {
        let now = Instant::now();
        let mut a = Stats::new(2);
        a.record(0, 200, 1_000, now);
        a.record(1, 404, 5_000, now);
        let mut b = Stats::new(2);
        b.record(0, 200, 3_000, now);
        b.io_error("read: reset", 2);
        a.merge(b);
        assert_eq!(a.responses(), 3);
        assert_eq!(a.point_ops(&[10, 1]), 20);
        assert_eq!(a.error_statuses.get(&404), Some(&1));
        assert_eq!(a.errors(), 3);
        assert_eq!(a.overall_latency().len(), 3);
    }
}
