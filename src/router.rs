//! Method + path → [`Route`]. Path segments are percent-decoded here, once.

use crate::http::Method;

mod snapshots;
pub use snapshots::SnapshotRoute;

/// Every route this server answers. Collection names are decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Root,
    Healthz,
    Livez,
    Readyz,
    /// Our OpenAPI document, and the page that renders it.
    OpenApi,
    Docs,
    ListCollections,
    Telemetry,
    Quotas,
    SetQuotas,
    Metrics,
    Issues,
    ClearIssues,
    ClusterStatus,
    ListAliases,
    UpdateAliases,
    CollectionAliases(String),
    CollectionCluster(String),
    ShardKeys(String),
    /// Routes that change the layout of a cluster: refused on this single node.
    DistributedOnly,
    CreateCollection(String),
    GetCollection(String),
    DeleteCollection(String),
    UpdateCollection(String),
    Optimizations(String),
    CollectionExists(String),
    Upsert(String),
    GetPoint(String, String),
    Retrieve(String),
    DeletePoints(String),
    Count(String),
    Scroll(String),
    Search(String),
    SearchBatch(String),
    Query(String),
    QueryBatch(String),
    Recommend(String),
    RecommendBatch(String),
    Discover(String),
    DiscoverBatch(String),
    SearchGroups(String),
    RecommendGroups(String),
    QueryGroups(String),
    Facet(String),
    MatrixPairs(String),
    MatrixOffsets(String),
    SetPayload(String),
    OverwritePayload(String),
    DeletePayload(String),
    ClearPayload(String),
    UpdateVectors(String),
    DeleteVectors(String),
    Batch(String),
    CreateIndex(String),
    DeleteIndex(String, String),
    /// Collection, vector name (`PUT`: create it, `DELETE`: delete it).
    CreateVectorName(String, String),
    DeleteVectorName(String, String),
    Snapshot(SnapshotRoute),
    /// The path exists but not with this method.
    MethodNotAllowed,
    NotFound,
}

impl Route {
    /// Whether the route needs no API key (Qdrant keeps its probes open).
    pub fn is_open(&self) -> bool {
        matches!(
            self,
            Route::Root
                | Route::Healthz
                | Route::Livez
                | Route::Readyz
                | Route::OpenApi
                | Route::Docs
        )
    }

    /// Whether the route changes data or configuration (refused for the read-only key).
    /// Exhaustive on purpose: a new route must be classified here.
    pub fn is_write(&self) -> bool {
        match self {
            Route::SetQuotas
            | Route::ClearIssues
            | Route::UpdateAliases
            | Route::DistributedOnly
            | Route::CreateCollection(_)
            | Route::DeleteCollection(_)
            | Route::UpdateCollection(_)
            | Route::Upsert(_)
            | Route::DeletePoints(_)
            | Route::SetPayload(_)
            | Route::OverwritePayload(_)
            | Route::DeletePayload(_)
            | Route::ClearPayload(_)
            | Route::UpdateVectors(_)
            | Route::DeleteVectors(_)
            | Route::Batch(_)
            | Route::CreateIndex(_)
            | Route::DeleteIndex(..)
            | Route::CreateVectorName(..)
            | Route::DeleteVectorName(..) => true,
            Route::Snapshot(r) => r.is_write(),
            Route::Root
            | Route::Healthz
            | Route::Livez
            | Route::Readyz
            | Route::OpenApi
            | Route::Docs
            | Route::ListCollections
            | Route::Telemetry
            | Route::Quotas
            | Route::Metrics
            | Route::Issues
            | Route::ClusterStatus
            | Route::ListAliases
            | Route::CollectionAliases(_)
            | Route::CollectionCluster(_)
            | Route::ShardKeys(_)
            | Route::GetCollection(_)
            | Route::Optimizations(_)
            | Route::CollectionExists(_)
            | Route::GetPoint(..)
            | Route::Retrieve(_)
            | Route::Count(_)
            | Route::Scroll(_)
            | Route::Search(_)
            | Route::SearchBatch(_)
            | Route::Query(_)
            | Route::QueryBatch(_)
            | Route::Recommend(_)
            | Route::RecommendBatch(_)
            | Route::Discover(_)
            | Route::DiscoverBatch(_)
            | Route::SearchGroups(_)
            | Route::RecommendGroups(_)
            | Route::QueryGroups(_)
            | Route::Facet(_)
            | Route::MatrixPairs(_)
            | Route::MatrixOffsets(_)
            | Route::MethodNotAllowed
            | Route::NotFound => false,
        }
    }
}

/// Longest path the router looks at, in segments; deeper paths are not ours.
const PATH_SEGMENTS_MAX: usize = 8;

pub fn route(method: Method, path: &str) -> Route {
    let mut segs = [""; PATH_SEGMENTS_MAX];
    let mut n = 0;
    for s in path.trim_start_matches('/').split('/') {
        if n == PATH_SEGMENTS_MAX {
            return Route::NotFound;
        }
        segs[n] = s;
        n += 1;
    }
    // A trailing slash is not the same resource in Qdrant either.
    let segs = &segs[..n];
    use Method::*;
    let m = if method == Head { Get } else { method };
    let Some(found) = match_path(m, segs) else {
        return Route::NotFound;
    };
    found.unwrap_or(Route::MethodNotAllowed)
}

/// `None`: no such path. `Some(None)`: the path exists with other methods.
fn match_path(m: Method, segs: &[&str]) -> Option<Option<Route>> {
    use Method::*;
    let r = match segs {
        [""] => (m == Get).then_some(Route::Root),
        ["healthz"] => (m == Get).then_some(Route::Healthz),
        ["livez"] => (m == Get).then_some(Route::Livez),
        ["readyz"] => (m == Get).then_some(Route::Readyz),
        ["openapi.json"] => (m == Get).then_some(Route::OpenApi),
        ["docs"] => (m == Get).then_some(Route::Docs),
        ["collections"] => (m == Get).then_some(Route::ListCollections),
        ["telemetry"] => (m == Get).then_some(Route::Telemetry),
        ["quotas"] => match m {
            Get => Some(Route::Quotas),
            Put => Some(Route::SetQuotas),
            _ => None,
        },
        ["metrics"] => (m == Get).then_some(Route::Metrics),
        ["issues"] => match m {
            Get => Some(Route::Issues),
            Delete => Some(Route::ClearIssues),
            _ => None,
        },
        ["cluster"] => (m == Get).then_some(Route::ClusterStatus),
        ["cluster", "telemetry"] => (m == Get).then_some(Route::DistributedOnly),
        ["cluster", "recover"] => (m == Post).then_some(Route::DistributedOnly),
        ["cluster", "peer", _] => (m == Delete).then_some(Route::DistributedOnly),
        ["aliases"] => (m == Get).then_some(Route::ListAliases),
        ["collections", "aliases"] => (m == Post).then_some(Route::UpdateAliases),
        ["collections", c, "aliases"] => {
            let c = decode(c)?;
            (m == Get).then_some(Route::CollectionAliases(c))
        }
        ["collections", c, "cluster"] => {
            let c = decode(c)?;
            match m {
                Get => Some(Route::CollectionCluster(c)),
                Post => Some(Route::DistributedOnly),
                _ => None,
            }
        }
        ["collections", c, "shards"] => {
            let c = decode(c)?;
            match m {
                Get => Some(Route::ShardKeys(c)),
                Put => Some(Route::DistributedOnly),
                _ => None,
            }
        }
        ["collections", _, "shards", "delete"] => (m == Post).then_some(Route::DistributedOnly),
        ["collections", c] if *c != "aliases" => {
            let c = decode(c)?;
            match m {
                Get => Some(Route::GetCollection(c)),
                Put => Some(Route::CreateCollection(c)),
                Delete => Some(Route::DeleteCollection(c)),
                Patch => Some(Route::UpdateCollection(c)),
                _ => None,
            }
        }
        ["collections", c, "facet"] => (m == Post).then_some(Route::Facet(decode(c)?)),
        ["collections", c, "index"] => {
            let c = decode(c)?;
            (m == Put).then_some(Route::CreateIndex(c))
        }
        ["collections", c, "index", field] => {
            let (c, field) = (decode(c)?, decode(field)?);
            (m == Delete).then_some(Route::DeleteIndex(c, field))
        }
        ["collections", c, "vectors", v] => {
            let (c, v) = (decode(c)?, decode(v)?);
            match m {
                Put => Some(Route::CreateVectorName(c, v)),
                Delete => Some(Route::DeleteVectorName(c, v)),
                _ => None,
            }
        }
        ["collections", c, "optimizations"] => {
            let c = decode(c)?;
            (m == Get).then_some(Route::Optimizations(c))
        }
        ["collections", c, "exists"] => {
            let c = decode(c)?;
            (m == Get).then_some(Route::CollectionExists(c))
        }
        ["collections", c, "points"] => {
            let c = decode(c)?;
            match m {
                Put => Some(Route::Upsert(c)),
                Post => Some(Route::Retrieve(c)),
                _ => None,
            }
        }
        ["collections", c, "points", action] => {
            let c = decode(c)?;
            match (m, *action) {
                (Post, "delete") => Some(Route::DeletePoints(c)),
                (Post, "count") => Some(Route::Count(c)),
                (Post, "scroll") => Some(Route::Scroll(c)),
                (Post, "search") => Some(Route::Search(c)),
                (Post, "query") => Some(Route::Query(c)),
                (Post, "recommend") => Some(Route::Recommend(c)),
                (Post, "discover") => Some(Route::Discover(c)),
                (_, "discover") => None,
                (Post, "batch") => Some(Route::Batch(c)),
                (Post, "payload") => Some(Route::SetPayload(c)),
                (Put, "payload") => Some(Route::OverwritePayload(c)),
                (Put, "vectors") => Some(Route::UpdateVectors(c)),
                (
                    _,
                    "delete" | "count" | "scroll" | "search" | "query" | "batch" | "payload"
                    | "vectors",
                ) => None,
                (Get, id) => Some(Route::GetPoint(c, decode(id)?)),
                // Not a point id but a route of ours we do not serve (yet): unknown route.
                _ => return None,
            }
        }
        ["collections", c, "points", family, action] => {
            let c = decode(c)?;
            match (m, *family, *action) {
                (Post, "payload", "delete") => Some(Route::DeletePayload(c)),
                (Post, "payload", "clear") => Some(Route::ClearPayload(c)),
                (Post, "vectors", "delete") => Some(Route::DeleteVectors(c)),
                (Post, "search", "batch") => Some(Route::SearchBatch(c)),
                (Post, "query", "batch") => Some(Route::QueryBatch(c)),
                (Post, "recommend", "batch") => Some(Route::RecommendBatch(c)),
                (Post, "discover", "batch") => Some(Route::DiscoverBatch(c)),
                (Post, "search", "groups") => Some(Route::SearchGroups(c)),
                (Post, "recommend", "groups") => Some(Route::RecommendGroups(c)),
                (Post, "query", "groups") => Some(Route::QueryGroups(c)),
                (_, "discover", "batch") | (_, "search" | "recommend" | "query", "groups") => None,
                (_, "payload", "delete" | "clear") | (_, "vectors", "delete") => None,
                (_, "search" | "query" | "recommend", "batch") => None,
                _ => return None,
            }
        }
        ["collections", c, "points", "search", "matrix", kind] => {
            let c = decode(c)?;
            match (m, *kind) {
                (Post, "pairs") => Some(Route::MatrixPairs(c)),
                (Post, "offsets") => Some(Route::MatrixOffsets(c)),
                (_, "pairs" | "offsets") => None,
                _ => return None,
            }
        }
        ["snapshots", ..]
        | ["collections", _, "snapshots", ..]
        | ["collections", _, "shards", _, "snapshot" | "snapshots", ..] => {
            return snapshots::match_path(m, segs).map(|r| r.map(Route::Snapshot))
        }
        _ => return None,
    };
    Some(r)
}

/// Percent-decodes one path segment; `None` for invalid escapes or non-UTF-8 results.
fn decode(seg: &str) -> Option<String> {
    if !seg.contains('%') {
        return Some(seg.to_owned());
    }
    let bytes = seg.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let s = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(s, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Value of `key` in a raw query string (`a=1&b=2`), undecoded.
pub fn query_param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Method::*;

    #[test]
    fn routes_qdrant_paths() {
        let c = || "c".to_string();
        let table = [
            (Get, "/", Route::Root),
            (Get, "/collections", Route::ListCollections),
            (
                Put,
                "/collections/a%20b",
                Route::CreateCollection("a b".into()),
            ),
            (Get, "/collections/c/exists", Route::CollectionExists(c())),
            (Put, "/collections/c/points", Route::Upsert(c())),
            (Post, "/collections/c/points", Route::Retrieve(c())),
            (Post, "/collections/c/points/search", Route::Search(c())),
            (
                Get,
                "/collections/c/points/42",
                Route::GetPoint(c(), "42".into()),
            ),
            (Head, "/healthz", Route::Healthz),
            (
                Post,
                "/collections/c/points/payload",
                Route::SetPayload(c()),
            ),
            (
                Put,
                "/collections/c/points/payload",
                Route::OverwritePayload(c()),
            ),
            (
                Post,
                "/collections/c/points/payload/clear",
                Route::ClearPayload(c()),
            ),
            (
                Post,
                "/collections/c/points/vectors/delete",
                Route::DeleteVectors(c()),
            ),
            (Post, "/collections/c/points/batch", Route::Batch(c())),
            (
                Get,
                "/collections/c/points/payload/clear",
                Route::MethodNotAllowed,
            ),
        ];
        for (method, path, want) in table {
            assert_eq!(route(method, path), want, "{path}");
        }
    }

    #[test]
    fn unknown_paths_and_methods() {
        assert_eq!(route(Get, "/nope"), Route::NotFound);
        assert_eq!(
            route(Get, "/collections/c/points/search"),
            Route::MethodNotAllowed
        );
        assert_eq!(route(Post, "/collections"), Route::MethodNotAllowed);
        assert_eq!(route(Get, "/a/b/c/d/e/f/g/h/i/j"), Route::NotFound);
        assert_eq!(route(Get, "/collections/%zz"), Route::NotFound);
        assert_eq!(route(Get, "/collections/%ff"), Route::NotFound);
    }

    #[test]
    fn query_params() {
        assert_eq!(query_param("wait=true&x=1", "wait"), Some("true"));
        assert_eq!(query_param("x=1&wait", "wait"), Some(""));
        assert_eq!(query_param("", "wait"), None);
    }
}
