//! Every route this server answers, for the OpenAPI document: method, path, operation id,
//! tag, summary, request body and `result` schemas, query parameters.
//!
//! Operation ids and paths are Qdrant's (clients are generated from them); summaries are ours.
//! `tests/openapi.rs` checks that this table and the router agree, and that it covers every
//! route of Qdrant's `operations.txt`.

use schemars::{JsonSchema, Schema, SchemaGenerator};

use super::results;
use crate::qdrant::{
    aliases, batch, collections, discover, facet, groups, index, matrix, payload, points, query,
    recommend, search, snapshots, vector_names,
};
use crate::runtime::quotas::QuotaConfig;

/// A schema maker: the `$ref` to a type's schema, registered in the components.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

pub struct Operation {
    pub method: &'static str,
    pub path: &'static str,
    pub id: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    pub body: Option<SchemaFn>,
    /// The `result` of the `{"result", "status", "time"}` envelope; `None` for routes that
    /// answer outside it (probes, metrics, files, pages).
    pub result: Option<SchemaFn>,
    pub query: &'static [Param],
}

/// A query parameter.
pub struct Param {
    pub name: &'static str,
    pub kind: &'static str,
    pub about: &'static str,
}

const fn param(name: &'static str, kind: &'static str, about: &'static str) -> Param {
    Param { name, kind, about }
}

fn of<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

const WAIT: Param = param(
    "wait",
    "boolean",
    "true: answer once the change is durable; false (default): once it is accepted",
);
const ORDERING: Param = param(
    "ordering",
    "string",
    "weak, medium or strong; every value means the same on a single node",
);
const TIMEOUT: Param = param("timeout", "integer", "seconds the request may take");
const CONSISTENCY: Param = param(
    "consistency",
    "string",
    "read consistency; a single node is always consistent",
);
const SNAPSHOT_WAIT: Param = param(
    "wait",
    "boolean",
    "true (default): answer when done; false: 202 at once, the job runs on",
);
const OPT_WITH: Param = param(
    "with",
    "string",
    "comma-separated extras: queued, completed, idle_segments",
);
const OPT_COMPLETED: Param = param(
    "completed_limit",
    "integer",
    "how many finished optimizations to list",
);
const WRITE: &[Param] = &[WAIT, ORDERING, TIMEOUT];
const READ: &[Param] = &[CONSISTENCY, TIMEOUT];
const NONE: &[Param] = &[];

macro_rules! op {
    ($m:literal $p:literal $id:literal $tag:literal $sum:literal, $body:expr, $res:expr, $q:expr) => {
        Operation {
            method: $m,
            path: $p,
            id: $id,
            tag: $tag,
            summary: $sum,
            body: $body,
            result: $res,
            query: $q,
        }
    };
}

pub const OPERATIONS: &[Operation] = &[
    // Service
    op!("GET" "/" "root" "Service" "Server name and version", None, None, NONE),
    op!("GET" "/healthz" "healthz" "Service" "Liveness probe (plain text)", None, None, NONE),
    op!("GET" "/livez" "livez" "Service" "Liveness probe (plain text)", None, None, NONE),
    op!("GET" "/readyz" "readyz" "Service" "Readiness: every shard loaded (plain text)", None, None, NONE),
    op!("GET" "/telemetry" "telemetry" "Service" "Process and collection statistics", None, Some(results::object), NONE),
    op!("GET" "/metrics" "metrics" "Service" "Prometheus text exposition", None, None, NONE),
    op!("GET" "/issues" "get_issues" "Beta" "Known configuration issues (none are tracked)", None, Some(results::object), NONE),
    op!("DELETE" "/issues" "clear_issues" "Beta" "Clear reported issues", None, Some(results::boolean), NONE),
    op!("GET" "/quotas" "get_quotas" "Quotas" "Resource quota configuration and usage", None, Some(results::object), NONE),
    op!("PUT" "/quotas" "update_quotas" "Quotas" "Set the resource quotas (persisted)", Some(of::<QuotaConfig>), Some(results::boolean), NONE),
    op!("GET" "/openapi.json" "openapi" "Service" "This document", None, None, NONE),
    op!("GET" "/docs" "docs" "Service" "A page rendering this document", None, None, NONE),
    // Aliases
    op!("GET" "/aliases" "get_collections_aliases" "Aliases" "Every alias", None, Some(results::aliases), NONE),
    op!("GET" "/collections/{collection_name}/aliases" "get_collection_aliases" "Aliases" "Aliases of one collection", None, Some(results::aliases), NONE),
    op!("POST" "/collections/aliases" "update_aliases" "Aliases" "Create, delete and rename aliases, all or none", Some(of::<aliases::ChangeAliases>), Some(results::boolean), &[TIMEOUT]),
    // Collections
    op!("GET" "/collections" "get_collections" "Collections" "Names of every collection", None, Some(results::collections), NONE),
    op!("PUT" "/collections/{collection_name}" "create_collection" "Collections" "Create a collection", Some(of::<collections::CreateCollection>), Some(results::boolean), &[TIMEOUT]),
    op!("GET" "/collections/{collection_name}" "get_collection" "Collections" "Status, counts and configuration of a collection", None, Some(results::object), NONE),
    op!("PATCH" "/collections/{collection_name}" "update_collection" "Collections" "Change a collection's parameters", Some(of::<collections::UpdateCollection>), Some(results::boolean), &[TIMEOUT]),
    op!("DELETE" "/collections/{collection_name}" "delete_collection" "Collections" "Delete a collection and its files", None, Some(results::boolean), &[TIMEOUT]),
    op!("GET" "/collections/{collection_name}/exists" "collection_exists" "Collections" "Whether a collection exists", None, Some(results::exists), NONE),
    op!("GET" "/collections/{collection_name}/optimizations" "get_optimizations" "Collections" "Background optimizations of a collection", None, Some(results::object), &[OPT_WITH, OPT_COMPLETED]),
    op!("PUT" "/collections/{collection_name}/vectors/{vector_name}" "create_vector_name" "Collections" "Add a named vector (dense or sparse) to a collection; points start without it", Some(of::<vector_names::VectorNameConfigIn>), Some(results::update), WRITE),
    op!("DELETE" "/collections/{collection_name}/vectors/{vector_name}" "delete_vector_name" "Collections" "Remove a named vector from a collection and from every point", None, Some(results::update), WRITE),
    // Indexes
    op!("PUT" "/collections/{collection_name}/index" "create_field_index" "Indexes" "Declare a payload index", Some(of::<index::CreateFieldIndex>), Some(results::update), WRITE),
    op!("DELETE" "/collections/{collection_name}/index/{field_name}" "delete_field_index" "Indexes" "Drop a payload index", None, Some(results::update), WRITE),
    // Points
    op!("PUT" "/collections/{collection_name}/points" "upsert_points" "Points" "Insert or replace points (list or batch form; update_filter, update_mode)", Some(of::<points::UpsertBody>), Some(results::update), WRITE),
    op!("POST" "/collections/{collection_name}/points" "get_points" "Points" "Points by id", Some(of::<points::RetrieveBody>), Some(results::records), READ),
    op!("GET" "/collections/{collection_name}/points/{id}" "get_point" "Points" "One point by id", None, Some(results::record), READ),
    op!("POST" "/collections/{collection_name}/points/delete" "delete_points" "Points" "Delete points by id or filter", Some(of::<payload::TargetBody>), Some(results::update), WRITE),
    op!("POST" "/collections/{collection_name}/points/count" "count_points" "Points" "Count points passing a filter", Some(of::<points::CountBody>), Some(results::count), READ),
    op!("POST" "/collections/{collection_name}/points/scroll" "scroll_points" "Points" "Page through points in id order (or ordered by a payload key)", Some(of::<points::ScrollBody>), Some(results::scroll), READ),
    op!("POST" "/collections/{collection_name}/points/payload" "set_payload" "Points" "Merge keys into payloads", Some(of::<payload::SetPayloadBody>), Some(results::update), WRITE),
    op!("PUT" "/collections/{collection_name}/points/payload" "overwrite_payload" "Points" "Replace payloads", Some(of::<payload::SetPayloadBody>), Some(results::update), WRITE),
    op!("POST" "/collections/{collection_name}/points/payload/delete" "delete_payload" "Points" "Remove keys from payloads", Some(of::<payload::DeletePayloadBody>), Some(results::update), WRITE),
    op!("POST" "/collections/{collection_name}/points/payload/clear" "clear_payload" "Points" "Remove whole payloads", Some(of::<payload::TargetBody>), Some(results::update), WRITE),
    op!("PUT" "/collections/{collection_name}/points/vectors" "update_vectors" "Points" "Replace named vectors of points", Some(of::<payload::UpdateVectorsBody>), Some(results::update), WRITE),
    op!("POST" "/collections/{collection_name}/points/vectors/delete" "delete_vectors" "Points" "Remove named vectors from points", Some(of::<payload::DeleteVectorsBody>), Some(results::update), WRITE),
    op!("POST" "/collections/{collection_name}/points/batch" "batch_update" "Points" "Several updates, applied in order", Some(of::<batch::BatchBody>), Some(results::updates), WRITE),
    op!("POST" "/collections/{collection_name}/facet" "facet" "Points" "Counts of the values of a payload key", Some(of::<facet::FacetBody>), Some(results::object), READ),
    // Search
    op!("POST" "/collections/{collection_name}/points/search" "search_points" "Search" "Nearest neighbours of a vector (legacy)", Some(of::<search::SearchBody>), Some(results::scored), READ),
    op!("POST" "/collections/{collection_name}/points/search/batch" "search_batch_points" "Search" "Several searches (legacy)", Some(of::<search::Batch<search::SearchBody>>), Some(results::scored_batch), READ),
    op!("POST" "/collections/{collection_name}/points/search/groups" "search_point_groups" "Search" "Search grouped by a payload key (legacy)", Some(of::<groups::SearchGroupsBody>), Some(results::object), READ),
    op!("POST" "/collections/{collection_name}/points/recommend" "recommend_points" "Search" "Points like the positive examples, unlike the negative ones (legacy)", Some(of::<recommend::RecommendBody>), Some(results::scored), READ),
    op!("POST" "/collections/{collection_name}/points/recommend/batch" "recommend_batch_points" "Search" "Several recommendations (legacy)", Some(of::<search::Batch<recommend::RecommendBody>>), Some(results::scored_batch), READ),
    op!("POST" "/collections/{collection_name}/points/recommend/groups" "recommend_point_groups" "Search" "Recommendations grouped by a payload key (legacy)", Some(of::<groups::RecommendGroupsBody>), Some(results::object), READ),
    op!("POST" "/collections/{collection_name}/points/discover" "discover_points" "Search" "Discovery and context search (legacy)", Some(of::<discover::DiscoverBody>), Some(results::scored), READ),
    op!("POST" "/collections/{collection_name}/points/discover/batch" "discover_batch_points" "Search" "Several discovery searches (legacy)", Some(of::<search::Batch<discover::DiscoverBody>>), Some(results::scored_batch), READ),
    op!("POST" "/collections/{collection_name}/points/query" "query_points" "Search" "The universal query: nearest, recommend, discover, context, fusion, formula, order_by, sample, with prefetch", Some(of::<query::QueryBody>), Some(results::query), READ),
    op!("POST" "/collections/{collection_name}/points/query/batch" "query_batch_points" "Search" "Several universal queries", Some(of::<query::QueryBatchBody>), Some(results::object), READ),
    op!("POST" "/collections/{collection_name}/points/query/groups" "query_points_groups" "Search" "Universal query grouped by a payload key", Some(of::<groups::QueryGroupsBody>), Some(results::object), READ),
    op!("POST" "/collections/{collection_name}/points/search/matrix/pairs" "search_matrix_pairs" "Search" "Distance matrix of sampled points, as pairs", Some(of::<matrix::MatrixBody>), Some(results::object), READ),
    op!("POST" "/collections/{collection_name}/points/search/matrix/offsets" "search_matrix_offsets" "Search" "Distance matrix of sampled points, as sparse offsets", Some(of::<matrix::MatrixBody>), Some(results::object), READ),
    // Snapshots
    op!("POST" "/collections/{collection_name}/snapshots" "create_snapshot" "Snapshots" "Snapshot a collection", None, Some(results::snapshot), &[SNAPSHOT_WAIT]),
    op!("GET" "/collections/{collection_name}/snapshots" "list_snapshots" "Snapshots" "Snapshots of a collection", None, Some(results::snapshots), NONE),
    op!("GET" "/collections/{collection_name}/snapshots/{snapshot_name}" "get_snapshot" "Snapshots" "Download a snapshot (streamed file)", None, None, NONE),
    op!("DELETE" "/collections/{collection_name}/snapshots/{snapshot_name}" "delete_snapshot" "Snapshots" "Delete a snapshot", None, Some(results::boolean), &[SNAPSHOT_WAIT]),
    op!("PUT" "/collections/{collection_name}/snapshots/recover" "recover_from_snapshot" "Snapshots" "Recover a collection from a file:// snapshot under the snapshots directory", Some(of::<snapshots::RecoverBody>), Some(results::boolean), &[SNAPSHOT_WAIT]),
    op!("POST" "/collections/{collection_name}/snapshots/upload" "recover_from_uploaded_snapshot" "Snapshots" "Recover a collection from an uploaded snapshot (multipart field `snapshot`)", None, Some(results::boolean), &[SNAPSHOT_WAIT]),
    op!("POST" "/snapshots" "create_full_snapshot" "Snapshots" "Snapshot every collection and the aliases", None, Some(results::snapshot), &[SNAPSHOT_WAIT]),
    op!("GET" "/snapshots" "list_full_snapshots" "Snapshots" "Full snapshots", None, Some(results::snapshots), NONE),
    op!("GET" "/snapshots/{snapshot_name}" "get_full_snapshot" "Snapshots" "Download a full snapshot (streamed file)", None, None, NONE),
    op!("DELETE" "/snapshots/{snapshot_name}" "delete_full_snapshot" "Snapshots" "Delete a full snapshot", None, Some(results::boolean), &[SNAPSHOT_WAIT]),
    op!("GET" "/collections/{collection_name}/shards/{shard_id}/snapshot" "stream_shard_snapshot" "Snapshots" "Refused: shard snapshots are not supported (take a collection snapshot)", None, None, NONE),
    op!("GET" "/collections/{collection_name}/shards/{shard_id}/snapshots" "list_shard_snapshots" "Snapshots" "Refused: shard snapshots are not supported", None, None, NONE),
    op!("POST" "/collections/{collection_name}/shards/{shard_id}/snapshots" "create_shard_snapshot" "Snapshots" "Refused: shard snapshots are not supported", None, None, NONE),
    op!("GET" "/collections/{collection_name}/shards/{shard_id}/snapshots/{snapshot_name}" "get_shard_snapshot" "Snapshots" "Refused: shard snapshots are not supported", None, None, NONE),
    op!("DELETE" "/collections/{collection_name}/shards/{shard_id}/snapshots/{snapshot_name}" "delete_shard_snapshot" "Snapshots" "Refused: shard snapshots are not supported", None, None, NONE),
    op!("PUT" "/collections/{collection_name}/shards/{shard_id}/snapshots/recover" "recover_shard_from_snapshot" "Snapshots" "Refused: shard snapshots are not supported", None, None, NONE),
    op!("POST" "/collections/{collection_name}/shards/{shard_id}/snapshots/upload" "recover_shard_from_uploaded_snapshot" "Snapshots" "Refused: shard snapshots are not supported", None, None, NONE),
    // Distributed: a single node answers the status routes and refuses layout changes.
    op!("GET" "/cluster" "cluster_status" "Distributed" "Cluster status of this single node", None, Some(results::object), NONE),
    op!("GET" "/collections/{collection_name}/cluster" "collection_cluster_info" "Distributed" "Shards of a collection, all local", None, Some(results::object), NONE),
    op!("GET" "/collections/{collection_name}/shards" "list_shard_keys" "Distributed" "Shard keys (none: custom sharding is not supported)", None, Some(results::object), NONE),
    op!("GET" "/cluster/telemetry" "cluster_telemetry" "Distributed" "Refused: not a distributed deployment", None, None, NONE),
    op!("POST" "/cluster/recover" "recover_current_peer" "Distributed" "Refused: not a distributed deployment", None, None, NONE),
    op!("DELETE" "/cluster/peer/{peer_id}" "remove_peer" "Distributed" "Refused: not a distributed deployment", None, None, NONE),
    op!("POST" "/collections/{collection_name}/cluster" "update_collection_cluster" "Distributed" "Refused: not a distributed deployment", None, None, NONE),
    op!("PUT" "/collections/{collection_name}/shards" "create_shard_key" "Distributed" "Refused: not a distributed deployment", None, None, NONE),
    op!("POST" "/collections/{collection_name}/shards/delete" "delete_shard_key" "Distributed" "Refused: not a distributed deployment", None, None, NONE),
    // Admin
    op!("GET" "/admin/latency" "admin_latency" "Admin" "Latency percentiles per route and request rates per core (?format=hdr: serialized histograms)", None, Some(results::object), NONE),
    op!("POST" "/admin/latency/reset" "admin_latency_reset" "Admin" "Zero every latency histogram", None, Some(results::boolean), NONE),
    op!("GET" "/admin/dashboard" "admin_dashboard" "Admin" "Live latency dashboard (HTML page)", None, None, NONE),
];
