//! Turning merged counts into numbers: a human table, JSON, and target-vs-target ratios.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::load::Outcome;
use crate::workload::Workload;

/// How the load was applied, echoed in every report.
#[derive(Serialize, Clone)]
pub struct LoadShape {
    pub scenario: String,
    pub connections: usize,
    pub pipeline: usize,
    pub cpus: Vec<usize>,
    /// `closed` (next request when a response arrives) or `open` (fixed schedule).
    pub mode: String,
    pub rate: Option<f64>,
    pub warmup_s: f64,
}

/// Latency percentiles, in microseconds.
#[derive(Serialize, Clone, Copy)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p99_9: f64,
    pub p99_99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Latency {
        let us = |ns: u64| ns as f64 / 1_000.0;
        Latency {
            p50: us(h.value_at_quantile(0.50)),
            p90: us(h.value_at_quantile(0.90)),
            p99: us(h.value_at_quantile(0.99)),
            p99_9: us(h.value_at_quantile(0.999)),
            p99_99: us(h.value_at_quantile(0.9999)),
            max: us(h.max()),
            mean: h.mean() / 1_000.0,
        }
    }
}

/// One request kind's numbers.
#[derive(Serialize, Clone)]
pub struct KindReport {
    pub kind: String,
    /// What one point-op is for this kind.
    pub op_unit: String,
    pub ops_per_request: u64,
    pub responses: u64,
    pub req_per_s: f64,
    pub point_ops_per_s: f64,
    pub latency_us: Latency,
}

/// Everything measured against one target.
#[derive(Serialize, Clone)]
pub struct Report {
    pub target: String,
    pub load: LoadShape,
    pub elapsed_s: f64,
    pub responses: u64,
    pub req_per_s: f64,
    pub point_ops: u64,
    pub point_ops_per_s: f64,
    pub latency_us: Latency,
    pub errors: u64,
    /// Non-2xx responses by status code.
    pub errors_by_status: BTreeMap<u16, u64>,
    /// Transport failures by description.
    pub io_errors: BTreeMap<String, u64>,
    pub kinds: Vec<KindReport>,
}

impl Report {
    pub fn new(target: &str, load: LoadShape, workload: &Workload, out: &Outcome) -> Report {
        let secs = out.elapsed.as_secs_f64().max(f64::MIN_POSITIVE);
        let ops: Vec<u64> = workload.pools.iter().map(|p| p.ops_per_request).collect();
        let s = &out.stats;
        let kinds = workload
            .pools
            .iter()
            .zip(&s.kinds)
            .map(|(p, k)| KindReport {
                kind: p.kind.name().to_string(),
                op_unit: p.kind.op_unit().to_string(),
                ops_per_request: p.ops_per_request,
                responses: k.responses,
                req_per_s: k.responses as f64 / secs,
                point_ops_per_s: (k.ok * p.ops_per_request) as f64 / secs,
                latency_us: Latency::of(&k.latency),
            })
            .collect();
        let point_ops = s.point_ops(&ops);
        Report {
            target: target.to_string(),
            load,
            elapsed_s: secs,
            responses: s.responses(),
            req_per_s: s.responses() as f64 / secs,
            point_ops,
            point_ops_per_s: point_ops as f64 / secs,
            latency_us: Latency::of(&s.overall_latency()),
            errors: s.errors(),
            errors_by_status: s.error_statuses.clone(),
            io_errors: s.io_errors.clone(),
            kinds,
        }
    }

    /// The human table.
    pub fn render(&self) -> String {
        let mut o = String::new();
        let l = &self.load;
        let _ = writeln!(o, "target   {}", self.target);
        let mode = match l.rate {
            Some(r) => format!("open loop at {r} req/s (latency from scheduled send)"),
            None => "closed loop".to_string(),
        };
        let _ = writeln!(
            o,
            "load     {}: {} connections x pipeline {} on CPUs {:?}, {mode}; {:.1}s measured after {:.1}s warmup",
            l.scenario, l.connections, l.pipeline, l.cpus, self.elapsed_s, l.warmup_s
        );
        for k in &self.kinds {
            let _ = if k.ops_per_request == 0 {
                writeln!(o, "op       {}: no point-ops (HTTP only)", k.kind)
            } else {
                writeln!(
                    o,
                    "op       {}: 1 point-op = 1 {}, {} per request",
                    k.kind, k.op_unit, k.ops_per_request
                )
            };
        }
        let _ = writeln!(
            o,
            "\n{:<10} {:>10} {:>11} {:>13} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "", "responses", "req/s", "point-ops/s", "p50", "p90", "p99", "p99.9", "p99.99", "max"
        );
        let row = |o: &mut String, name: &str, n: u64, rps: f64, ops: f64, lat: &Latency| {
            let _ = writeln!(
                o,
                "{:<10} {:>10} {:>11.0} {:>13.0} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
                name,
                n,
                rps,
                ops,
                fmt_us(lat.p50),
                fmt_us(lat.p90),
                fmt_us(lat.p99),
                fmt_us(lat.p99_9),
                fmt_us(lat.p99_99),
                fmt_us(lat.max)
            );
        };
        for k in &self.kinds {
            row(
                &mut o,
                &k.kind,
                k.responses,
                k.req_per_s,
                k.point_ops_per_s,
                &k.latency_us,
            );
        }
        if self.kinds.len() > 1 {
            row(
                &mut o,
                "total",
                self.responses,
                self.req_per_s,
                self.point_ops_per_s,
                &self.latency_us,
            );
        }
        if self.errors == 0 {
            let _ = writeln!(o, "\nerrors   none");
        } else {
            let _ = writeln!(o, "\nerrors   {} in total", self.errors);
            for (status, n) in &self.errors_by_status {
                let _ = writeln!(o, "         HTTP {status}: {n}");
            }
            for (what, n) in &self.io_errors {
                let _ = writeln!(o, "         {what}: {n}");
            }
        }
        o
    }
}

/// Side-by-side numbers of two targets and `compare / target` per metric.
pub fn render_ratio(a: &Report, b: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{:<14} {:>14} {:>14} {:>8}",
        "metric", "target", "compare", "ratio"
    );
    let mut line = |name: &str, x: f64, y: f64, fmt: fn(f64) -> String| {
        // A zero baseline (no errors, say) has no meaningful ratio.
        let ratio = if x > 0.0 {
            format!("{:.2}x", y / x)
        } else {
            "-".to_string()
        };
        let _ = writeln!(o, "{:<14} {:>14} {:>14} {:>8}", name, fmt(x), fmt(y), ratio);
    };
    let plain = |v: f64| format!("{v:.0}");
    line("req/s", a.req_per_s, b.req_per_s, plain);
    line("point-ops/s", a.point_ops_per_s, b.point_ops_per_s, plain);
    let (la, lb) = (&a.latency_us, &b.latency_us);
    line("p50", la.p50, lb.p50, fmt_us);
    line("p90", la.p90, lb.p90, fmt_us);
    line("p99", la.p99, lb.p99, fmt_us);
    line("p99.9", la.p99_9, lb.p99_9, fmt_us);
    line("p99.99", la.p99_99, lb.p99_99, fmt_us);
    line("max", la.max, lb.max, fmt_us);
    line("errors", a.errors as f64, b.errors as f64, plain);
    o
}

/// Ratios as JSON: `compare / target` per metric.
pub fn ratio_json(a: &Report, b: &Report) -> serde_json::Value {
    let r = |x: f64, y: f64| if x > 0.0 { Some(y / x) } else { None };
    let (la, lb) = (&a.latency_us, &b.latency_us);
    serde_json::json!({
        "req_per_s": r(a.req_per_s, b.req_per_s),
        "point_ops_per_s": r(a.point_ops_per_s, b.point_ops_per_s),
        "p50": r(la.p50, lb.p50),
        "p90": r(la.p90, lb.p90),
        "p99": r(la.p99, lb.p99),
        "p99_9": r(la.p99_9, lb.p99_9),
        "p99_99": r(la.p99_99, lb.p99_99),
        "max": r(la.max, lb.max),
    })
}

/// Microseconds as `850us`, `1.25ms` or `2.10s`.
pub fn fmt_us(us: f64) -> String {
    if us < 1_000.0 {
        format!("{us:.0}us")
    } else if us < 1_000_000.0 {
        format!("{:.2}ms", us / 1_000.0)
    } else {
        format!("{:.2}s", us / 1_000_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_latency() {
        assert_eq!(fmt_us(850.0), "850us");
        assert_eq!(fmt_us(1_250.0), "1.25ms");
        assert_eq!(fmt_us(2_100_000.0), "2.10s");
    }
}

/// Prints the report of the target, and when a second target ran, its report and the ratios
/// of the two: as one JSON document with `json`, else as tables.
pub fn print_compared<R: Serialize>(
    a: &R,
    b: Option<&R>,
    json: bool,
    render: fn(&R) -> String,
    render_ratio: fn(&R, &R) -> String,
    ratio_json: fn(&R, &R) -> serde_json::Value,
) -> Result<(), String> {
    if json {
        let doc = match b {
            None => serde_json::to_value(a),
            Some(b) => Ok(serde_json::json!({
                "target": a,
                "compare": b,
                "ratio": ratio_json(a, b),
            })),
        }
        .map_err(|e| format!("serializing the report: {e}"))?;
        println!("{doc:#}");
    } else {
        print!("{}", render(a));
        if let Some(b) = b {
            println!();
            print!("{}", render(b));
            println!("\ncompare / target");
            print!("{}", render_ratio(a, b));
        }
    }
    Ok(())
}
