//! The admin endpoint: per-route, per-core request latency (HdrHistogram), its JSON and
//! Prometheus views, and a dashboard page served from the binary.
//!
//! Recording is per core and lock-free: the core's [`histograms::Registry`] sits in a
//! `RefCell` on its `Core`, and [`LatencyTimer`] records each request when the handler has
//! produced its answer. Readers fan out over the core mesh ([`gather`]) and merge copies.

mod dashboard;
mod gather;
pub mod histograms;
mod latency_json;
mod prometheus;
pub mod route_labels;
pub mod routes;

use std::rc::Rc;
use std::time::Instant;

use self::routes::AdminRoute;
use crate::auth::Denied;
use crate::http::{self, Request, ResponseHead};
use crate::qdrant::Error;
use crate::router::{query_param, Route};
use crate::runtime::core::Core;

pub use self::histograms::Registry;
pub use self::prometheus::append as metrics;

const JSON: &str = "application/json";

/// Records the request's latency under its route label when dropped, i.e. once the handler
/// returns its answer (also if the connection drops the request midway: it still cost that
/// long).
pub struct LatencyTimer {
    core: Rc<Core>,
    label: &'static str,
    started: Instant,
}

impl LatencyTimer {
    pub fn start(core: &Rc<Core>, route: &Route, started: Instant) -> Self {
        LatencyTimer {
            core: core.clone(),
            label: route_labels::label(route),
            started,
        }
    }
}

impl Drop for LatencyTimer {
    fn drop(&mut self) {
        // Only this core's thread borrows its registry, and never across an await.
        if let Ok(mut reg) = self.core.latency.try_borrow_mut() {
            reg.record(self.label, self.started.elapsed());
        }
    }
}

/// Answers `/admin/...` requests; `None` for any other path (the router's business).
pub async fn handle(
    core: &Rc<Core>,
    req: &Request<'_>,
    started: Instant,
    out: &mut Vec<u8>,
) -> Option<ResponseHead> {
    let admin = routes::route(req.method, req.path)?;
    let _timer = LatencyTimer {
        core: core.clone(),
        label: route_labels::ADMIN,
        started,
    };
    if !admin.is_open() {
        if let Err(denied) = core.shared.api_keys.check(req, admin.is_write()) {
            return Some(error(out, &denied_error(denied), started));
        }
    }
    let text = |out: &mut Vec<u8>, body: &str, content_type| {
        out.extend_from_slice(body.as_bytes());
        ResponseHead {
            status: 200,
            content_type,
        }
    };
    Some(match admin {
        AdminRoute::Dashboard => text(out, dashboard::HTML, dashboard::HTML_TYPE),
        AdminRoute::DashboardJs => text(out, dashboard::JS, dashboard::JS_TYPE),
        AdminRoute::DashboardCss => text(out, dashboard::CSS, dashboard::CSS_TYPE),
        AdminRoute::Latency => match latency(core, req.query).await {
            Ok(v) => envelope(out, &v, started),
            Err(e) => error(out, &e, started),
        },
        AdminRoute::Reset => match gather::reset(core).await {
            Ok(()) => envelope(out, &serde_json::Value::Bool(true), started),
            Err(e) => error(out, &Error::Unavailable(e.to_string()), started),
        },
        AdminRoute::MethodNotAllowed => error(out, &Error::MethodNotAllowed, started),
        AdminRoute::NotFound => error(
            out,
            &Error::NotFound("Not found: no such admin route".into()),
            started,
        ),
    })
}

async fn latency(core: &Rc<Core>, query: &str) -> Result<serde_json::Value, Error> {
    let merged = gather::merged(core)
        .await
        .map_err(|e| Error::Unavailable(e.to_string()))?;
    match query_param(query, "format") {
        None | Some("" | "json") => Ok(latency_json::summary(&merged)),
        Some("hdr") => latency_json::hdr(&merged).map_err(Error::Internal),
        Some(other) => Err(Error::BadRequest(format!(
            "Wrong input: format={other}; expected json or hdr"
        ))),
    }
}

fn denied_error(denied: Denied) -> Error {
    match denied {
        Denied::Unauthenticated(msg) => Error::Unauthorized(msg.to_owned()),
        Denied::ReadOnly => {
            Error::Forbidden("Write access is denied for the read-only API key".into())
        }
    }
}

/// `{"result":…,"status":"ok","time":s}`, as every JSON answer of the server.
fn envelope(out: &mut Vec<u8>, result: &serde_json::Value, started: Instant) -> ResponseHead {
    let body = serde_json::json!({
        "result": result,
        "status": "ok",
        "time": started.elapsed().as_secs_f64(),
    });
    match serde_json::to_writer(&mut *out, &body) {
        Ok(()) => ResponseHead {
            status: 200,
            content_type: JSON,
        },
        Err(e) => {
            out.clear();
            error(
                out,
                &Error::Internal(format!("serializing the response: {e}")),
                started,
            )
        }
    }
}

fn error(out: &mut Vec<u8>, e: &Error, started: Instant) -> ResponseHead {
    http::error_body(out, &e.to_string(), started.elapsed().as_secs_f64());
    ResponseHead {
        status: e.status(),
        content_type: JSON,
    }
}
