//! The requests a run sends, serialized once during setup: the hot loop only copies bytes.

use std::fmt::Write as _;

use crate::cli::{Args, Scenario};
use crate::rng::Rng;
use crate::target::Target;

/// Bytes of pre-serialized requests kept per request kind: bounds memory for big upserts.
pub const POOL_MAX_BYTES: usize = 32 * 1024 * 1024;
/// Distinct requests kept per kind: enough variety that caches see a realistic spread.
pub const POOL_MAX_REQUESTS: usize = 1024;

/// One kind of request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Upsert,
    Get,
    Retrieve,
    Search,
    Query,
    Scroll,
    Healthz,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Upsert => "upsert",
            Kind::Get => "get",
            Kind::Retrieve => "retrieve",
            Kind::Search => "search",
            Kind::Query => "query",
            Kind::Scroll => "scroll",
            Kind::Healthz => "healthz",
        }
    }

    /// What one point-op of this kind is.
    pub fn op_unit(self) -> &'static str {
        match self {
            Kind::Upsert => "point written",
            Kind::Get | Kind::Retrieve | Kind::Scroll => "point read",
            Kind::Search | Kind::Query => "query answered",
            Kind::Healthz => "nothing (HTTP only)",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        [
            Kind::Upsert,
            Kind::Get,
            Kind::Retrieve,
            Kind::Search,
            Kind::Query,
            Kind::Scroll,
            Kind::Healthz,
        ]
        .into_iter()
        .find(|k| k.name() == s)
    }
}

/// Pre-built requests of one kind and what each is worth.
pub struct Pool {
    pub kind: Kind,
    /// Point-ops one request performs (upsert batch N = N).
    pub ops_per_request: u64,
    pub weight: u32,
    pub requests: Vec<Vec<u8>>,
}

/// Everything a run sends; shared read-only by all executors.
pub struct Workload {
    pub pools: Vec<Pool>,
    total_weight: u32,
}

impl Workload {
    pub fn build(args: &Args, target: &Target) -> Result<Workload, String> {
        let weights = match args.scenario {
            Scenario::Mixed => parse_mix(&args.mix)?,
            s => vec![(single_kind(s), 1)],
        };
        let mut rng = Rng::new(args.seed);
        let pools: Vec<Pool> = weights
            .into_iter()
            .map(|(kind, weight)| build_pool(kind, weight, args, target, &mut rng))
            .collect();
        let total_weight = pools.iter().map(|p| p.weight).sum();
        Ok(Workload {
            pools,
            total_weight,
        })
    }

    /// Picks a pool by weight and a request from it: (pool index, request bytes).
    pub fn pick(&self, rng: &mut Rng) -> (usize, &[u8]) {
        let mut w = rng.below(u64::from(self.total_weight)) as u32;
        let mut idx = 0;
        for (i, p) in self.pools.iter().enumerate() {
            if w < p.weight {
                idx = i;
                break;
            }
            w -= p.weight;
        }
        let pool = &self.pools[idx];
        let r = rng.below(pool.requests.len() as u64) as usize;
        (idx, &pool.requests[r])
    }
}

fn single_kind(s: Scenario) -> Kind {
    match s {
        Scenario::Upsert => Kind::Upsert,
        Scenario::Get => Kind::Get,
        Scenario::Retrieve => Kind::Retrieve,
        Scenario::Search => Kind::Search,
        Scenario::Query => Kind::Query,
        Scenario::Scroll => Kind::Scroll,
        // `recall` never builds a load workload (main runs `recall::run` instead).
        Scenario::Healthz | Scenario::Mixed | Scenario::Recall => Kind::Healthz,
    }
}

/// `get=50,search=30,upsert=20` → weighted kinds.
pub fn parse_mix(s: &str) -> Result<Vec<(Kind, u32)>, String> {
    let mut out: Vec<(Kind, u32)> = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || format!("bad --mix part {part:?}: use kind=weight, e.g. get=50");
        let (k, w) = part.split_once('=').ok_or_else(bad)?;
        let kind = Kind::parse(k.trim()).ok_or_else(bad)?;
        let weight: u32 = w.trim().parse().map_err(|_| bad())?;
        if out.iter().any(|(seen, _)| *seen == kind) {
            return Err(format!("--mix names {} twice", kind.name()));
        }
        if weight > 0 {
            out.push((kind, weight));
        }
    }
    if out.is_empty() {
        return Err("--mix has no kind with a weight above zero".into());
    }
    Ok(out)
}

fn build_pool(kind: Kind, weight: u32, args: &Args, target: &Target, rng: &mut Rng) -> Pool {
    let c = &args.collection;
    // Reads hit preloaded ids; upserts overwrite them (an update workload keeps the
    // collection size, and so search cost, constant through long runs).
    let id_space = args.points().max(1);
    let ops_per_request = match kind {
        Kind::Upsert => args.upsert_batch() as u64,
        Kind::Retrieve => args.retrieve_batch() as u64,
        Kind::Scroll => args.scroll_page() as u64,
        Kind::Get | Kind::Search | Kind::Query => 1,
        Kind::Healthz => 0,
    };
    let mut requests = Vec::new();
    let mut bytes = 0usize;
    while requests.len() < POOL_MAX_REQUESTS && bytes < POOL_MAX_BYTES {
        let req = match kind {
            Kind::Healthz => target.request("GET", "/healthz", None),
            Kind::Get => {
                let id = rng.below(id_space);
                target.request("GET", &format!("/collections/{c}/points/{id}"), None)
            }
            Kind::Retrieve => {
                let ids: Vec<u64> = (0..args.retrieve_batch())
                    .map(|_| rng.below(id_space))
                    .collect();
                let body = format!("{{\"ids\":{ids:?}}}");
                target.request(
                    "POST",
                    &format!("/collections/{c}/points"),
                    Some(body.as_bytes()),
                )
            }
            Kind::Search | Kind::Query => {
                let v = vector_json(&rng.vector(args.dim));
                let (path, field) = if kind == Kind::Search {
                    ("search", "vector")
                } else {
                    ("query", "query")
                };
                let body = format!("{{\"{field}\":{v},\"limit\":{}}}", args.top_k);
                let path = format!("/collections/{c}/points/{path}");
                target.request("POST", &path, Some(body.as_bytes()))
            }
            Kind::Scroll => {
                let body = format!(
                    "{{\"limit\":{},\"offset\":{}}}",
                    args.scroll_page(),
                    rng.below(id_space)
                );
                let path = format!("/collections/{c}/points/scroll");
                target.request("POST", &path, Some(body.as_bytes()))
            }
            Kind::Upsert => {
                let ids: Vec<u64> = (0..args.upsert_batch())
                    .map(|_| rng.below(id_space.max(args.upsert_batch() as u64)))
                    .collect();
                let body = upsert_body(&ids, args.dim, rng);
                let path = format!("/collections/{c}/points?wait={}", args.wait);
                target.request("PUT", &path, Some(&body))
            }
        };
        bytes += req.len();
        requests.push(req);
    }
    Pool {
        kind,
        ops_per_request,
        weight,
        requests,
    }
}

/// `{"points":[{"id":..,"vector":[..],"payload":{"i":..}}, ..]}` with random vectors.
pub fn upsert_body(ids: &[u64], dim: usize, rng: &mut Rng) -> Vec<u8> {
    let mut s = String::with_capacity(ids.len() * (dim * 12 + 40) + 16);
    s.push_str("{\"points\":[");
    for (n, id) in ids.iter().enumerate() {
        if n > 0 {
            s.push(',');
        }
        let v = vector_json(&rng.vector(dim));
        let _ = write!(
            s,
            "{{\"id\":{id},\"vector\":{v},\"payload\":{{\"i\":{id}}}}}"
        );
    }
    s.push_str("]}");
    s.into_bytes()
}

/// `[0.1,-0.5,...]` with the shortest round-tripping decimal of each f32.
fn vector_json(v: &[f32]) -> String {
    let mut s = String::with_capacity(v.len() * 12 + 2);
    push_vector(&mut s, v);
    s
}

/// Appends `[0.1,-0.5,...]` with the shortest round-tripping decimal of each f32, so a server
/// stores exactly the vectors sent (the recall ground truth is computed on them).
pub fn push_vector(s: &mut String, v: &[f32]) {
    s.push('[');
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{x}");
    }
    s.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes() {
        let m = parse_mix("get=50, search=30,upsert=20").unwrap();
        assert_eq!(
            m,
            vec![(Kind::Get, 50), (Kind::Search, 30), (Kind::Upsert, 20)]
        );
        assert!(parse_mix("get=50,get=1").is_err());
        assert!(parse_mix("fly=1").is_err());
        assert!(parse_mix("get=0").is_err());
    }

    #[test]
    fn upsert_bodies_are_json() {
        let body = upsert_body(&[1, 2], 3, &mut Rng::new(1));
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["points"][1]["id"], 2);
        assert_eq!(v["points"][0]["vector"].as_array().unwrap().len(), 3);
    }
}
