//! Recall results: one row per (`hnsw_ef`, clients, filter), as a table, as JSON, and as
//! `compare / target` ratios.

use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::report::fmt_us;

/// One measured row.
#[derive(Serialize)]
pub struct RecallRow {
    pub hnsw_ef: usize,
    pub clients: usize,
    /// Queries restricted to the 10 % of points with the filter tag.
    pub filtered: bool,
    /// Mean recall@k over the row's queries (a failed query scores 0).
    pub recall: f64,
    pub qps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub errors: u64,
    #[serde(skip)]
    pub latency: Histogram<u64>,
}

impl RecallRow {
    /// A short label for plots: `ef 64, 1 client, filtered`.
    pub fn label(&self) -> String {
        format!(
            "ef {}, {} client{}{}",
            self.hnsw_ef,
            self.clients,
            if self.clients == 1 { "" } else { "s" },
            if self.filtered { ", 10% filter" } else { "" }
        )
    }
}

/// Everything measured against one target.
#[derive(Serialize)]
pub struct RecallReport {
    pub target: String,
    pub data: String,
    pub points: usize,
    pub dim: usize,
    pub distance: String,
    pub queries: usize,
    pub k: usize,
    pub upload_s: f64,
    /// From the last acknowledged upload to indexing settled (see `server::wait_indexed`).
    pub build_s: f64,
    pub indexed_vectors: u64,
    /// First error message seen, if any row had errors.
    pub first_error: Option<String>,
    pub rows: Vec<RecallRow>,
}

impl RecallReport {
    pub fn render(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "target      {}", self.target);
        let _ = writeln!(
            o,
            "data        {} points x {} dims, {}, {}",
            self.points, self.dim, self.distance, self.data
        );
        let _ = writeln!(
            o,
            "load        upload {:.2}s, index build {:.2}s ({} vectors indexed)",
            self.upload_s, self.build_s, self.indexed_vectors
        );
        let _ = writeln!(o, "queries     {} per row, recall@{}", self.queries, self.k);
        if let Some(e) = &self.first_error {
            let _ = writeln!(o, "first error {e}");
        }
        let _ = writeln!(
            o,
            "{:>8} {:>8} {:>8} {:>9} {:>10} {:>9} {:>9} {:>7}",
            "hnsw_ef", "clients", "filter", "recall", "QPS", "p50", "p99", "errors"
        );
        for r in &self.rows {
            let _ = writeln!(
                o,
                "{:>8} {:>8} {:>8} {:>9.4} {:>10.0} {:>9} {:>9} {:>7}",
                r.hnsw_ef,
                r.clients,
                if r.filtered { "10%" } else { "none" },
                r.recall,
                r.qps,
                fmt_us(r.p50_us),
                fmt_us(r.p99_us),
                r.errors
            );
        }
        o
    }
}

/// `compare / target` per row (the rows of both runs line up: same sweep, same order).
pub fn render_ratio(a: &RecallReport, b: &RecallReport) -> String {
    let mut o = String::new();
    let r = |x: f64, y: f64| {
        if x > 0.0 {
            format!("{:.2}x", y / x)
        } else {
            "-".into()
        }
    };
    let _ = writeln!(o, "index build: {}", r(a.build_s, b.build_s));
    let _ = writeln!(
        o,
        "{:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9}",
        "hnsw_ef", "clients", "filter", "recall", "QPS", "p50", "p99"
    );
    for (x, y) in a.rows.iter().zip(&b.rows) {
        let _ = writeln!(
            o,
            "{:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9}",
            x.hnsw_ef,
            x.clients,
            if x.filtered { "10%" } else { "none" },
            r(x.recall, y.recall),
            r(x.qps, y.qps),
            r(x.p50_us, y.p50_us),
            r(x.p99_us, y.p99_us)
        );
    }
    o
}

/// The same ratios as JSON, one object per row.
pub fn ratio_json(a: &RecallReport, b: &RecallReport) -> serde_json::Value {
    let r = |x: f64, y: f64| if x > 0.0 { Some(y / x) } else { None };
    let rows: Vec<_> = a
        .rows
        .iter()
        .zip(&b.rows)
        .map(|(x, y)| {
            serde_json::json!({
                "hnsw_ef": x.hnsw_ef,
                "clients": x.clients,
                "filtered": x.filtered,
                "recall": r(x.recall, y.recall),
                "qps": r(x.qps, y.qps),
                "p50": r(x.p50_us, y.p50_us),
                "p99": r(x.p99_us, y.p99_us),
            })
        })
        .collect();
    serde_json::json!({ "build_s": r(a.build_s, b.build_s), "rows": rows })
}
