//! Limits shared by the targets: small, so inputs of a few KiB reach every bound.

use vexfs_server::http::HttpLimits;

pub fn small() -> HttpLimits {
    HttpLimits {
        head_max_bytes: 1024,
        headers_max_count: 16,
        body_max_bytes: 4096,
        head_timeout_ms: 1_000,
        body_timeout_ms: 1_000,
        idle_timeout_ms: 1_000,
        connections_max_per_core: 16,
        pipeline_max_in_flight: 4,
        json_depth_max: 8,
    }
}
