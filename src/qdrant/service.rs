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
