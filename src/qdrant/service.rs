//! Service routes: version, health probes.

use serde::Serialize;

/// Qdrant API version we implement; clients compare their own version against it.
pub const QDRANT_API_VERSION: &str = "1.19.0";

#[derive(Serialize)]
struct VersionInfo {
    title: &'static str,
    version: &'static str,
    commit: Option<&'static str>,
}

/// `GET /`: version information, without the result envelope (as Qdrant answers it).
pub fn root(out: &mut Vec<u8>) {
    let info = VersionInfo {
        title: concat!(
            "vexfs-unified-server ",
            env!("CARGO_PKG_VERSION"),
            " (Qdrant REST API)"
        ),
        version: QDRANT_API_VERSION,
        commit: None,
    };
    // Serializing a struct of strings into a Vec cannot fail.
    let _ = serde_json::to_writer(out, &info);
}

/// `GET /telemetry`: the parts of Qdrant's telemetry this server can report truthfully.
pub fn telemetry(
    core: &std::rc::Rc<crate::runtime::core::Core>,
    out: &mut Vec<u8>,
) -> Result<(), super::Error> {
    let names = crate::runtime::catalog::names(core);
    let started = core.shared.started_at_rfc3339.as_str();
    let body = serde_json::json!({
        "id": core.shared.instance_id,
        "app": {
            "name": "vexfs-unified-server",
            "version": env!("CARGO_PKG_VERSION"),
            "startup": started,
        },
        "collections": {
            "number_of_collections": names.len(),
        },
    });
    super::write_result(out, &body)
}

/// `GET /metrics`: Prometheus text exposition.
pub async fn metrics(
    core: &std::rc::Rc<crate::runtime::core::Core>,
    out: &mut Vec<u8>,
) -> Result<(), super::Error> {
    use std::io::Write;
    let names = crate::runtime::catalog::names(core);
    let mut points_total = 0;
    let mut per_collection = Vec::with_capacity(names.len());
    for name in &names {
        let n = crate::runtime::ops::count(core, name, None).await?;
        points_total += n;
        per_collection.push((name, n));
    }
    let w = &mut *out;
    let _ = writeln!(w, "# HELP app_info information about the server");
    let _ = writeln!(w, "# TYPE app_info gauge");
    let _ = writeln!(
        w,
        "app_info{{name=\"vexfs-unified-server\",version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(w, "# HELP collections_total number of collections");
    let _ = writeln!(w, "# TYPE collections_total gauge");
    let _ = writeln!(w, "collections_total {}", names.len());
    let _ = writeln!(
        w,
        "# HELP collections_vector_total total number of points in all collections"
    );
    let _ = writeln!(w, "# TYPE collections_vector_total gauge");
    let _ = writeln!(w, "collections_vector_total {points_total}");
    let _ = writeln!(
        w,
        "# HELP collection_points number of points per collection"
    );
    let _ = writeln!(w, "# TYPE collection_points gauge");
    for (name, n) in per_collection {
        let _ = writeln!(
            w,
            "collection_points{{collection=\"{}\"}} {n}",
            escape_label(name)
        );
    }
    let (flushes, records, bytes) = crate::runtime::ops::wal_totals(core).await?;
    let w = &mut *out;
    let _ = writeln!(
        w,
        "# HELP vexfs_wal_fdatasync_total log flushes, each ending in one fdatasync"
    );
    let _ = writeln!(w, "# TYPE vexfs_wal_fdatasync_total counter");
    let _ = writeln!(w, "vexfs_wal_fdatasync_total {flushes}");
    let _ = writeln!(w, "# HELP vexfs_wal_records_flushed_total log records made durable (records per fdatasync = group commit)");
    let _ = writeln!(w, "# TYPE vexfs_wal_records_flushed_total counter");
    let _ = writeln!(w, "vexfs_wal_records_flushed_total {records}");
    let _ = writeln!(
        w,
        "# HELP vexfs_wal_bytes_written_total bytes written to logs"
    );
    let _ = writeln!(w, "# TYPE vexfs_wal_bytes_written_total counter");
    let _ = writeln!(w, "vexfs_wal_bytes_written_total {bytes}");
    let _ = writeln!(w, "# HELP cores number of executor cores");
    let _ = writeln!(w, "# TYPE cores gauge");
    let _ = writeln!(w, "cores {}", core.shared.cores);
    Ok(())
}

/// Prometheus label values escape backslash, quote and newline.
fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
