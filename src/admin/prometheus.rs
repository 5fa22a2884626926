//! The latency series appended to `GET /metrics` (Prometheus text format 0.0.4).

use std::io::Write;
use std::rc::Rc;

use super::gather;
use super::histograms::{Merged, RouteLatency};
use crate::qdrant::Error;
use crate::runtime::core::Core;

/// Upper bounds (`le`) of the exported request-duration buckets, in seconds: 100 µs to 10 s,
/// roughly ×2.5 apart, so fast point reads and slow flushes both land in a useful bucket.
pub const DURATION_BUCKETS_S: [f64; 16] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

const MICROS_PER_SECOND: f64 = 1_000_000.0;

/// Appends `vexfs_request_duration_seconds` (per route) and `vexfs_core_requests_total`.
pub async fn append(core: &Rc<Core>, out: &mut Vec<u8>) -> Result<(), Error> {
    let merged = gather::merged(core)
        .await
        .map_err(|e| Error::Unavailable(e.to_string()))?;
    write(&merged, out);
    Ok(())
}

fn write(merged: &Merged, out: &mut Vec<u8>) {
    let w = out;
    let _ = writeln!(
        w,
        "# HELP vexfs_request_duration_seconds time from a parsed request to its answer, per route (since start or the last /admin/latency/reset)"
    );
    let _ = writeln!(w, "# TYPE vexfs_request_duration_seconds histogram");
    for (route, lat) in &merged.routes {
        write_histogram(w, route, lat);
    }
    let _ = writeln!(
        w,
        "# HELP vexfs_core_requests_total requests answered per core (since start or the last /admin/latency/reset)"
    );
    let _ = writeln!(w, "# TYPE vexfs_core_requests_total counter");
    for c in &merged.cores {
        let _ = writeln!(
            w,
            "vexfs_core_requests_total{{core=\"{}\"}} {}",
            c.core, c.requests
        );
    }
}

/// Route labels are our own fixed identifiers (`[a-z_]`), so they need no escaping.
fn write_histogram(w: &mut Vec<u8>, route: &str, lat: &RouteLatency) {
    let mut counts = [0u64; DURATION_BUCKETS_S.len()];
    for v in lat.hist.iter_recorded() {
        // The lowest value of the recorded bucket, so a value exactly on a bound counts as
        // `le` that bound (the histogram's 0.1 % resolution decides the rest).
        let s = lat.hist.lowest_equivalent(v.value_iterated_to()) as f64 / MICROS_PER_SECOND;
        if let Some(i) = DURATION_BUCKETS_S.iter().position(|le| s <= *le) {
            counts[i] += v.count_at_value();
        }
    }
    let mut cumulative = 0;
    for (le, n) in DURATION_BUCKETS_S.iter().zip(counts) {
        cumulative += n;
        let _ = writeln!(
            w,
            "vexfs_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {cumulative}"
        );
    }
    let count = lat.hist.len();
    let _ = writeln!(
        w,
        "vexfs_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}"
    );
    let _ = writeln!(
        w,
        "vexfs_request_duration_seconds_sum{{route=\"{route}\"}} {}",
        lat.sum_us as f64 / MICROS_PER_SECOND
    );
    let _ = writeln!(
        w,
        "vexfs_request_duration_seconds_count{{route=\"{route}\"}} {count}"
    );
}

#[cfg(test)]
mod tests {
    use super::super::histograms::Registry;
    use super::*;
    use std::time::Duration;

    #[test]
    fn buckets_are_cumulative_and_end_in_count() {
        let mut r = Registry::default();
        for us in [50, 100, 2_000, 30_000, 20_000_000] {
            r.record("search", Duration::from_micros(us));
        }
        let merged = Merged::new(vec![r.snapshot(0)]);
        let mut out = Vec::new();
        write(&merged, &mut out);
        let text = String::from_utf8(out).unwrap();
        let line = |needle: &str| {
            text.lines()
                .find(|l| l.starts_with(needle))
                .unwrap_or_else(|| panic!("{needle} missing in\n{text}"))
                .rsplit(' ')
                .next()
                .unwrap()
                .to_owned()
        };
        assert_eq!(
            line("vexfs_request_duration_seconds_bucket{route=\"search\",le=\"0.0001\"}"),
            "2"
        );
        assert_eq!(
            line("vexfs_request_duration_seconds_bucket{route=\"search\",le=\"0.0025\"}"),
            "3"
        );
        assert_eq!(
            line("vexfs_request_duration_seconds_bucket{route=\"search\",le=\"0.05\"}"),
            "4"
        );
        assert_eq!(
            line("vexfs_request_duration_seconds_bucket{route=\"search\",le=\"10\"}"),
            "4"
        );
        assert_eq!(
            line("vexfs_request_duration_seconds_bucket{route=\"search\",le=\"+Inf\"}"),
            "5"
        );
        assert_eq!(
            line("vexfs_request_duration_seconds_count{route=\"search\"}"),
            "5"
        );
        assert_eq!(
            line("vexfs_request_duration_seconds_sum{route=\"search\"}"),
            "20.03215"
        );
        assert_eq!(line("vexfs_core_requests_total{core=\"0\"}"), "5");
    }
}
