//! `GET /admin/latency` bodies: percentiles per route and rates per core, or the raw
//! histograms (`?format=hdr`) for tools that merge them.

use base64::Engine as _;
use hdrhistogram::serialization::{Serializer as _, V2DeflateSerializer};
use serde::Serialize;
use serde_json::{Map, Value};

use super::histograms::{Merged, RouteLatency};

/// Name of the `?format=hdr` encoding, stated in the answer so readers can check it.
pub const HDR_FORMAT: &str = "hdrhistogram-v2-deflate-base64";

#[derive(Serialize)]
struct RouteSummary {
    count: u64,
    mean: f64,
    p50: u64,
    p90: u64,
    p99: u64,
    #[serde(rename = "p99.9")]
    p99_9: u64,
    #[serde(rename = "p99.99")]
    p99_99: u64,
    max: u64,
}

impl RouteSummary {
    fn of(lat: &RouteLatency) -> Self {
        let h = &lat.hist;
        let count = h.len();
        // An empty histogram (after a reset) reports zeros, not the library's defaults.
        let q = |quantile: f64| {
            if count == 0 {
                0
            } else {
                h.value_at_quantile(quantile)
            }
        };
        RouteSummary {
            count,
            mean: if count == 0 {
                0.0
            } else {
                lat.sum_us as f64 / count as f64
            },
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            p99_9: q(0.999),
            p99_99: q(0.9999),
            max: if count == 0 { 0 } else { h.max() },
        }
    }
}

#[derive(Serialize)]
struct CoreSummary {
    core: usize,
    requests: u64,
    /// Seconds since start or the last reset on this core.
    seconds: f64,
    requests_per_second: f64,
}

/// The summary: `{"unit":"us","routes":{label:{count,mean,p50,…,max}},"cores":[…]}`.
pub fn summary(merged: &Merged) -> Value {
    let mut routes = Map::new();
    for (label, lat) in &merged.routes {
        routes.insert((*label).to_owned(), to_value(&RouteSummary::of(lat)));
    }
    let cores: Vec<CoreSummary> = merged
        .cores
        .iter()
        .map(|c| CoreSummary {
            core: c.core,
            requests: c.requests,
            seconds: c.elapsed.as_secs_f64(),
            requests_per_second: c.requests_per_second(),
        })
        .collect();
    serde_json::json!({
        "unit": "us",
        "routes": routes,
        "cores": cores,
    })
}

/// The histograms merged across cores, serialized per route.
pub fn hdr(merged: &Merged) -> Result<Value, String> {
    let mut serializer = V2DeflateSerializer::new();
    let mut buf = Vec::new();
    let mut routes = Map::new();
    for (label, lat) in &merged.routes {
        buf.clear();
        serializer
            .serialize(&lat.hist, &mut buf)
            .map_err(|e| format!("serializing the {label} histogram: {e:?}"))?;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&buf);
        routes.insert((*label).to_owned(), Value::String(b64));
    }
    Ok(serde_json::json!({
        "unit": "us",
        "format": HDR_FORMAT,
        "routes": routes,
    }))
}

fn to_value<T: Serialize>(v: &T) -> Value {
    // Plain structs of numbers always serialize.
    serde_json::to_value(v).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::super::histograms::Registry;
    use super::*;
    use hdrhistogram::serialization::Deserializer;
    use std::time::Duration;

    #[test]
    fn summary_and_hdr_round_trip() {
        let mut r = Registry::default();
        for us in 1..=1000 {
            r.record("search", Duration::from_micros(us));
        }
        let merged = Merged::new(vec![r.snapshot(0)]);
        let s = summary(&merged);
        let search = &s["routes"]["search"];
        assert_eq!(search["count"], 1000);
        assert_eq!(search["p50"], 500);
        assert_eq!(search["p99"], 990);
        assert_eq!(search["max"], 1000);
        assert_eq!(s["cores"][0]["requests"], 1000);

        let h = hdr(&merged).unwrap();
        let b64 = h["routes"]["search"].as_str().unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let back: hdrhistogram::Histogram<u64> =
            Deserializer::new().deserialize(&mut &bytes[..]).unwrap();
        assert_eq!(back.len(), 1000);
        assert_eq!(back.max(), 1000);
    }
}
