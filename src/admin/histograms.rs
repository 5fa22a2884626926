//! Per-core request latency: one HdrHistogram per route label, recorded without locks.
//!
//! Each core owns a [`Registry`] (in a `RefCell` on its `Core`); only that core's thread ever
//! touches it. Readers ask every core for a [`CoreSnapshot`] (a clone, sent over the mesh) and
//! merge them with [`Merged::add`].

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Smallest latency the histograms tell apart, in microseconds (the unit of every value).
pub const LOWEST_DISCERNIBLE_US: u64 = 1;
/// Largest latency tracked, in microseconds (60 s); slower requests count as this value.
pub const HIGHEST_TRACKABLE_US: u64 = 60_000_000;
/// Significant decimal digits kept: values are exact to 0.1 %.
pub const SIGNIFICANT_DIGITS: u8 = 3;

/// A fresh, empty histogram with the bounds above.
pub fn new_histogram() -> Histogram<u64> {
    // The bounds are constants that satisfy the library's rules (low ≥ 1, high ≥ 2·low,
    // digits ≤ 5), so creation cannot fail.
    Histogram::new_with_bounds(
        LOWEST_DISCERNIBLE_US,
        HIGHEST_TRACKABLE_US,
        SIGNIFICANT_DIGITS,
    )
    .expect("constant histogram bounds are valid")
}

/// Latencies of one route.
#[derive(Clone)]
pub struct RouteLatency {
    pub hist: Histogram<u64>,
    /// Exact sum of the recorded latencies in µs (the histogram keeps only bucketed values);
    /// Prometheus' `_sum` needs it.
    pub sum_us: u64,
}

impl RouteLatency {
    fn new() -> Self {
        RouteLatency {
            hist: new_histogram(),
            sum_us: 0,
        }
    }

    fn record(&mut self, us: u64) {
        // Beyond HIGHEST_TRACKABLE_US the value is clamped rather than dropped, so the count
        // still matches the requests answered.
        self.hist.saturating_record(us);
        self.sum_us = self.sum_us.saturating_add(us);
    }

    fn reset(&mut self) {
        self.hist.reset();
        self.sum_us = 0;
    }

    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &RouteLatency) {
        // Same bounds on both sides: the addition cannot run out of range, but clamp anyway
        // rather than lose the counts.
        if self.hist.add(&other.hist).is_err() {
            for v in other.hist.iter_recorded() {
                let _ = self.hist.record_n(
                    v.value_iterated_to().min(HIGHEST_TRACKABLE_US),
                    v.count_at_value(),
                );
            }
        }
        self.sum_us = self.sum_us.saturating_add(other.sum_us);
    }
}

/// One core's latencies since start or the last reset.
pub struct Registry {
    /// Histograms are created on a route's first request and kept across resets (a reset
    /// zeroes them), so the hot path never allocates after warm-up.
    routes: BTreeMap<&'static str, RouteLatency>,
    requests: u64,
    since: Instant,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            routes: BTreeMap::new(),
            requests: 0,
            since: Instant::now(),
        }
    }
}

impl Registry {
    /// Records one answered request of route `label` that took `elapsed`.
    pub fn record(&mut self, label: &'static str, elapsed: Duration) {
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.routes
            .entry(label)
            .or_insert_with(RouteLatency::new)
            .record(us);
        self.requests += 1;
    }

    /// Zeroes every histogram and restarts the request-rate clock.
    pub fn reset(&mut self) {
        self.routes.values_mut().for_each(RouteLatency::reset);
        self.requests = 0;
        self.since = Instant::now();
    }

    /// A copy that can travel to another core.
    pub fn snapshot(&self, core: usize) -> CoreSnapshot {
        CoreSnapshot {
            core,
            requests: self.requests,
            elapsed: self.since.elapsed(),
            routes: self.routes.iter().map(|(k, v)| (*k, v.clone())).collect(),
        }
    }
}

/// One core's [`Registry`], copied.
pub struct CoreSnapshot {
    pub core: usize,
    pub requests: u64,
    /// Time since start or the last reset of this core.
    pub elapsed: Duration,
    pub routes: Vec<(&'static str, RouteLatency)>,
}

impl CoreSnapshot {
    pub fn requests_per_second(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.requests as f64 / s
        } else {
            0.0
        }
    }
}

/// Every core's snapshot plus the per-route merge across cores.
pub struct Merged {
    pub cores: Vec<CoreSnapshot>,
    /// Sorted by route label.
    pub routes: BTreeMap<&'static str, RouteLatency>,
}

impl Merged {
    pub fn new(cores: Vec<CoreSnapshot>) -> Self {
        let mut routes: BTreeMap<&'static str, RouteLatency> = BTreeMap::new();
        for core in &cores {
            for (label, lat) in &core.routes {
                routes
                    .entry(label)
                    .and_modify(|m| m.add(lat))
                    .or_insert_with(|| lat.clone());
            }
        }
        Merged { cores, routes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_per_route_and_resets() {
        let mut r = Registry::default();
        r.record("search", Duration::from_micros(100));
        r.record("search", Duration::from_micros(300));
        r.record("upsert", Duration::from_secs(120)); // beyond the bound: clamped, counted
        let s = r.snapshot(0);
        assert_eq!(s.requests, 3);
        let search = &s.routes.iter().find(|(l, _)| *l == "search").unwrap().1;
        assert_eq!(search.hist.len(), 2);
        assert_eq!(search.sum_us, 400);
        assert_eq!(search.hist.max(), 300);
        let upsert = &s.routes.iter().find(|(l, _)| *l == "upsert").unwrap().1;
        assert_eq!(upsert.hist.len(), 1);
        assert!(upsert.hist.max() >= HIGHEST_TRACKABLE_US);
        r.reset();
        let s = r.snapshot(0);
        assert_eq!(s.requests, 0);
        assert!(s
            .routes
            .iter()
            .all(|(_, l)| l.hist.is_empty() && l.sum_us == 0));
    }

    #[test]
    fn merges_across_cores() {
        let mut a = Registry::default();
        let mut b = Registry::default();
        a.record("get_point", Duration::from_micros(10));
        b.record("get_point", Duration::from_micros(20));
        b.record("scroll", Duration::from_micros(5));
        let m = Merged::new(vec![a.snapshot(0), b.snapshot(1)]);
        assert_eq!(m.routes["get_point"].hist.len(), 2);
        assert_eq!(m.routes["get_point"].sum_us, 30);
        assert_eq!(m.routes["scroll"].hist.len(), 1);
        assert_eq!(m.cores.len(), 2);
    }
}
