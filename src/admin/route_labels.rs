//! The stable label each [`Route`] is measured under (JSON keys, Prometheus `route="…"`).
//!
//! The match is exhaustive on purpose: a new route does not compile until it has a label,
//! so it never hides under `other`.

use crate::router::Route;
use crate::router::SnapshotRoute;

/// Requests that matched no route (404, 405).
pub const OTHER: &str = "other";
/// Requests to `/admin/...` (the dashboard polls every second; kept apart from the API's).
pub const ADMIN: &str = "admin";

pub fn label(route: &Route) -> &'static str {
    match route {
        Route::Root => "root",
        Route::Healthz => "healthz",
        Route::Livez => "livez",
        Route::Readyz => "readyz",
        Route::OpenApi => "openapi",
        Route::Docs => "docs",
        Route::ListCollections => "list_collections",
        Route::Telemetry => "telemetry",
        Route::Quotas => "quotas",
        Route::SetQuotas => "set_quotas",
        Route::Metrics => "metrics",
        Route::Issues => "issues",
        Route::ClearIssues => "clear_issues",
        Route::ClusterStatus => "cluster_status",
        Route::ListAliases => "list_aliases",
        Route::UpdateAliases => "update_aliases",
        Route::CollectionAliases(_) => "collection_aliases",
        Route::CollectionCluster(_) => "collection_cluster",
        Route::ShardKeys(_) => "shard_keys",
        Route::DistributedOnly => "distributed_only",
        Route::CreateCollection(_) => "create_collection",
        Route::GetCollection(_) => "get_collection",
        Route::DeleteCollection(_) => "delete_collection",
        Route::UpdateCollection(_) => "update_collection",
        Route::Optimizations(_) => "optimizations",
        Route::CollectionExists(_) => "collection_exists",
        Route::Upsert(_) => "upsert",
        Route::GetPoint(..) => "get_point",
        Route::Retrieve(_) => "retrieve",
        Route::DeletePoints(_) => "delete_points",
        Route::Count(_) => "count",
        Route::Scroll(_) => "scroll",
        Route::Search(_) => "search",
        Route::SearchBatch(_) => "search_batch",
        Route::Query(_) => "query",
        Route::QueryBatch(_) => "query_batch",
        Route::Recommend(_) => "recommend",
        Route::RecommendBatch(_) => "recommend_batch",
        Route::Discover(_) => "discover",
        Route::DiscoverBatch(_) => "discover_batch",
        Route::SearchGroups(_) => "search_groups",
        Route::RecommendGroups(_) => "recommend_groups",
        Route::QueryGroups(_) => "query_groups",
        Route::Facet(_) => "facet",
        Route::MatrixPairs(_) => "matrix_pairs",
        Route::MatrixOffsets(_) => "matrix_offsets",
        Route::SetPayload(_) => "set_payload",
        Route::OverwritePayload(_) => "overwrite_payload",
        Route::DeletePayload(_) => "delete_payload",
        Route::ClearPayload(_) => "clear_payload",
        Route::UpdateVectors(_) => "update_vectors",
        Route::DeleteVectors(_) => "delete_vectors",
        Route::Batch(_) => "batch",
        Route::CreateIndex(_) => "create_index",
        Route::DeleteIndex(..) => "delete_index",
        Route::CreateVectorName(..) => "create_vector_name",
        Route::DeleteVectorName(..) => "delete_vector_name",
        Route::Snapshot(s) => match s {
            SnapshotRoute::Create(_) => "create_snapshot",
            SnapshotRoute::List(_) => "list_snapshots",
            SnapshotRoute::Download(..) => "download_snapshot",
            SnapshotRoute::Delete(..) => "delete_snapshot",
            SnapshotRoute::Recover(_) => "recover_snapshot",
            SnapshotRoute::Upload(_) => "upload_snapshot",
            SnapshotRoute::CreateFull => "create_full_snapshot",
            SnapshotRoute::ListFull => "list_full_snapshots",
            SnapshotRoute::DownloadFull(_) => "download_full_snapshot",
            SnapshotRoute::DeleteFull(_) => "delete_full_snapshot",
            SnapshotRoute::Shard(..) => "shard_snapshot",
        },
        Route::MethodNotAllowed | Route::NotFound => OTHER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;
    use crate::router::route;

    #[test]
    fn labels_of_common_routes() {
        let l = |m, p| label(&route(m, p));
        assert_eq!(l(Method::Post, "/collections/c/points/search"), "search");
        assert_eq!(l(Method::Put, "/collections/c/points"), "upsert");
        assert_eq!(l(Method::Get, "/collections/c/points/7"), "get_point");
        assert_eq!(l(Method::Get, "/nope"), OTHER);
        assert_eq!(l(Method::Post, "/collections"), OTHER);
    }
}
