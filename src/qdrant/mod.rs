//! The Qdrant REST dialect: routes → typed requests → runtime calls → Qdrant's JSON envelope.

mod aliases;
mod batch;
mod cluster;
mod collections;
mod discover;
pub mod error;
mod facet;
mod groups;
mod index;
mod json;
mod lookup;
mod matrix;
pub mod model;
pub mod openapi;
mod order_by;
mod payload;
mod points;
mod query;
mod quotas;
mod recommend;
mod search;
pub mod service;
mod snapshots;
mod vector_names;

use std::rc::Rc;
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;
use vexfs_shard::filter::Filter;

pub use self::error::Error;
use crate::auth::Denied;
use crate::http::{self, Handler, Request, ResponseBody, ResponseHead};
use crate::limits;
use crate::router::{route, Route};
use crate::runtime::core::Core;

const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";
const PROMETHEUS: &str = "text/plain; version=0.0.4";

/// Which port a connection came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// The API port: Qdrant's routes, and the admin routes unless they have their own port.
    Api,
    /// `[admin] port`: the admin routes, `/metrics` and the health probes only.
    Admin,
}

/// The application behind each core's HTTP connections.
pub struct App {
    core: Rc<Core>,
    kind: Listener,
}

impl App {
    pub fn new(core: Rc<Core>, kind: Listener) -> Self {
        App { core, kind }
    }

    /// Whether this port answers the admin routes and `/metrics`.
    fn serves_admin(&self) -> bool {
        self.kind == Listener::Admin || !self.core.shared.admin_port_separate
    }

    async fn dispatch(
        &self,
        route: Route,
        req: Request<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let core = &self.core;
        let Request { query, body, .. } = req;
        match route {
            Route::ListCollections => collections::list(core, out),
            Route::Telemetry => service::telemetry(core, out),
            Route::Quotas => quotas::get(core, out),
            Route::SetQuotas => quotas::set(core, body, out).await,
            Route::Issues => write_result(out, &serde_json::json!({"issues": []})),
            Route::ClearIssues => write_result(out, &true),
            Route::ClusterStatus => cluster::status(out),
            Route::CollectionCluster(c) => cluster::collection_info(core, &c, out).await,
            Route::ShardKeys(c) => {
                core.catalog.borrow().get(&c)?;
                write_result(out, &serde_json::json!({"shard_keys": null}))
            }
            Route::DistributedOnly => Err(cluster::distributed_only()),
            Route::ListAliases => aliases::list_all(core, out),
            Route::UpdateAliases => aliases::change(core, body, out).await,
            Route::CollectionAliases(c) => aliases::list_for(core, &c, out),
            Route::CreateCollection(c) => collections::create(core, &c, body, out).await,
            Route::GetCollection(c) => collections::get(core, &c, out).await,
            Route::DeleteCollection(c) => collections::delete(core, &c, out).await,
            Route::UpdateCollection(c) => collections::update(core, &c, body, out).await,
            Route::Optimizations(c) => collections::optimizations(core, &c, query, out).await,
            Route::CollectionExists(c) => collections::exists(core, &c, out),
            Route::Upsert(c) => points::upsert(core, &c, query, body, out).await,
            Route::GetPoint(c, id) => points::get(core, &c, &id, out).await,
            Route::Retrieve(c) => points::retrieve(core, &c, body, out).await,
            Route::DeletePoints(c) => points::delete(core, &c, query, body, out).await,
            Route::Count(c) => points::count(core, &c, body, out).await,
            Route::Scroll(c) => points::scroll(core, &c, body, out).await,
            Route::Search(c) => search::search(core, &c, body, out).await,
            Route::SearchBatch(c) => search::search_batch(core, &c, body, out).await,
            Route::Query(c) => query::query(core, &c, body, out).await,
            Route::QueryBatch(c) => query::query_batch(core, &c, body, out).await,
            Route::Recommend(c) => recommend::recommend(core, &c, body, out).await,
            Route::RecommendBatch(c) => recommend::recommend_batch(core, &c, body, out).await,
            Route::Discover(c) => discover::discover(core, &c, body, out).await,
            Route::DiscoverBatch(c) => discover::discover_batch(core, &c, body, out).await,
            Route::SearchGroups(c) => groups::search_groups(core, &c, body, out).await,
            Route::RecommendGroups(c) => groups::recommend_groups(core, &c, body, out).await,
            Route::QueryGroups(c) => groups::query_groups(core, &c, body, out).await,
            Route::Facet(c) => facet::facet(core, &c, body, out).await,
            Route::MatrixPairs(c) => matrix::pairs(core, &c, body, out).await,
            Route::MatrixOffsets(c) => matrix::offsets(core, &c, body, out).await,
            Route::SetPayload(c) => payload::set(core, &c, query, body, out).await,
            Route::OverwritePayload(c) => payload::overwrite(core, &c, query, body, out).await,
            Route::DeletePayload(c) => payload::delete(core, &c, query, body, out).await,
            Route::ClearPayload(c) => payload::clear(core, &c, query, body, out).await,
            Route::UpdateVectors(c) => payload::update_vectors(core, &c, query, body, out).await,
            Route::DeleteVectors(c) => payload::delete_vectors(core, &c, query, body, out).await,
            Route::Batch(c) => batch::batch(core, &c, query, body, out).await,
            Route::CreateIndex(c) => index::create(core, &c, query, body, out).await,
            Route::DeleteIndex(c, field) => index::delete(core, &c, &field, query, out).await,
            Route::CreateVectorName(c, v) => {
                vector_names::create(core, &c, &v, query, body, out).await
            }
            Route::DeleteVectorName(c, v) => vector_names::delete(core, &c, &v, query, out).await,
            Route::MethodNotAllowed => Err(Error::MethodNotAllowed),
            Route::NotFound => Err(Error::NotFound("Not found: no such route".into())),
            Route::Root
            | Route::Healthz
            | Route::Livez
            | Route::Readyz
            | Route::OpenApi
            | Route::Docs
            | Route::Metrics => Err(Error::Internal(
                "service route reached the JSON dispatcher".into(),
            )),
            Route::Snapshot(_) => Err(Error::Internal(
                "snapshot route reached the JSON dispatcher".into(),
            )),
        }
    }
}

impl App {
    fn denied(&self, denied: Denied, started: Instant, out: &mut Vec<u8>) -> ResponseHead {
        let e = match denied {
            Denied::Unauthenticated(msg) => Error::Unauthorized(msg.to_owned()),
            Denied::ReadOnly => {
                Error::Forbidden("Write access is denied for the read-only API key".into())
            }
        };
        http::error_body(out, &e.to_string(), started.elapsed().as_secs_f64());
        ResponseHead {
            status: e.status(),
            content_type: JSON,
        }
    }
}

impl Handler for App {
    async fn handle(&self, req: Request<'_>, out: &mut ResponseBody) -> ResponseHead {
        // A connection whose pipelined requests never wait on I/O (wait=false upserts on a
        // local shard) would otherwise keep the core from every other connection.
        glommio::yield_if_needed().await;
        let started = Instant::now();
        if self.serves_admin() {
            if let Some(head) = crate::admin::handle(&self.core, &req, started, out).await {
                return head;
            }
        }
        let route = match route(req.method, req.path) {
            Route::Metrics if !self.serves_admin() => Route::NotFound,
            r @ (Route::Root | Route::Healthz | Route::Livez | Route::Readyz | Route::Metrics) => r,
            _ if self.kind == Listener::Admin => Route::NotFound,
            r => r,
        };
        let _latency = crate::admin::LatencyTimer::start(&self.core, &route, started);
        match route {
            Route::Root => {
                service::root(out);
                return ResponseHead {
                    status: 200,
                    content_type: JSON,
                };
            }
            Route::Healthz | Route::Livez => {
                out.extend_from_slice(b"healthz check passed");
                return ResponseHead {
                    status: 200,
                    content_type: TEXT,
                };
            }
            Route::Metrics => {
                if let Err(denied) = self.core.shared.api_keys.check(&req, false) {
                    return self.denied(denied, started, out);
                }
                let written = async {
                    service::metrics(&self.core, out).await?;
                    crate::admin::metrics(&self.core, out).await
                };
                return match written.await {
                    Ok(()) => ResponseHead {
                        status: 200,
                        content_type: PROMETHEUS,
                    },
                    Err(e) => {
                        out.clear();
                        http::error_body(out, &e.to_string(), started.elapsed().as_secs_f64());
                        ResponseHead {
                            status: e.status(),
                            content_type: JSON,
                        }
                    }
                };
            }
            Route::OpenApi => {
                out.extend_from_slice(openapi::document());
                return ResponseHead {
                    status: 200,
                    content_type: JSON,
                };
            }
            Route::Docs => {
                out.extend_from_slice(openapi::DOCS_HTML.as_bytes());
                return ResponseHead {
                    status: 200,
                    content_type: HTML,
                };
            }
            Route::Readyz => {
                let ready = self.core.shared.ready();
                out.extend_from_slice(if ready {
                    &b"all shards are ready"[..]
                } else {
                    b"some shards are not ready"
                });
                return ResponseHead {
                    status: if ready { 200 } else { 503 },
                    content_type: TEXT,
                };
            }
            _ => {}
        }
        if !route.is_open() {
            if let Err(denied) = self.core.shared.api_keys.check(&req, route.is_write()) {
                let e = match denied {
                    Denied::Unauthenticated(msg) => Error::Unauthorized(msg.to_owned()),
                    Denied::ReadOnly => {
                        Error::Forbidden("Write access is denied for the read-only API key".into())
                    }
                };
                http::error_body(out, &e.to_string(), started.elapsed().as_secs_f64());
                return ResponseHead {
                    status: e.status(),
                    content_type: JSON,
                };
            }
        }
        if let Route::Snapshot(r) = route {
            // Downloads are not JSON and `wait=false` answers 202: their own envelope.
            return snapshots::handle(&self.core, r, req, started, out).await;
        }
        out.extend_from_slice(b"{\"result\":");
        let result = self.dispatch(route, req, out).await;
        let elapsed = started.elapsed().as_secs_f64();
        match result {
            Ok(()) => {
                out.extend_from_slice(b",\"status\":\"ok\",\"time\":");
                push_f64(out, elapsed);
                out.push(b'}');
                ResponseHead {
                    status: 200,
                    content_type: JSON,
                }
            }
            Err(e) => {
                out.clear();
                http::error_body(out, &e.to_string(), elapsed);
                ResponseHead {
                    status: e.status(),
                    content_type: JSON,
                }
            }
        }
    }
}

fn push_f64(out: &mut Vec<u8>, x: f64) {
    use std::io::Write;
    let _ = write!(out, "{x}");
}

/// Serializes the `result` value of the envelope.
fn write_result<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), Error> {
    serde_json::to_writer(&mut *out, value)
        .map_err(|e| Error::Internal(format!("serializing the response: {e}")))
}

/// Validates a parsed filter (422 for rules it breaks, as Qdrant's validation errors).
fn check_filter(filter: Option<Filter>) -> Result<Option<Filter>, Error> {
    if let Some(f) = &filter {
        f.validate()
            .map_err(|e| Error::Validation(format!("filter: {e}")))?;
    }
    Ok(filter)
}

fn refuse_shard_key(key: &Option<Value>) -> Result<(), Error> {
    match key {
        Some(_) => Err(Error::unsupported("shard_key (custom sharding)")),
        None => Ok(()),
    }
}

/// `offset` of a search, at most [`limits::RESULT_OFFSET_MAX`].
fn check_offset(offset: Option<usize>) -> Result<usize, Error> {
    let offset = offset.unwrap_or(0);
    if offset > limits::RESULT_OFFSET_MAX {
        return Err(Error::Validation(format!(
            "offset: value {offset} invalid, must be at most {}",
            limits::RESULT_OFFSET_MAX
        )));
    }
    Ok(offset)
}

/// A request naming more points than `[limits] points_per_request_max` allows.
fn check_points(core: &Core, what: &str, n: usize) -> Result<(), Error> {
    let max = core.shared.points_per_request_max;
    if n > max {
        return Err(Error::Validation(format!(
            "{what}: {n} points in one request, the limit is {max}; split the request"
        )));
    }
    Ok(())
}

/// A batch with more entries than `[limits] searches_per_batch_max` allows.
fn check_batch(core: &Core, what: &str, n: usize) -> Result<(), Error> {
    let max = core.shared.searches_per_batch_max;
    if n > max {
        return Err(Error::Validation(format!(
            "{what}: {n} entries in one batch, the limit is {max}; split the request"
        )));
    }
    Ok(())
}

/// `limit` must be at least 1 and at most [`limits::RESULT_LIMIT_MAX`].
fn check_limit(limit: usize) -> Result<usize, Error> {
    if limit == 0 || limit > limits::RESULT_LIMIT_MAX {
        return Err(Error::Validation(format!(
            "limit: value {limit} invalid, must be from 1 to {}",
            limits::RESULT_LIMIT_MAX
        )));
    }
    Ok(limit)
}
