//! Qdrant's Snapshots tag: create, list, download, delete and recover collection snapshots;
//! create, list, download and delete full snapshots. Shard snapshots are refused with
//! Qdrant's error for what this server does not support.
//!
//! These routes answer outside the common `{"result":…}` path: downloads are
//! `application/octet-stream`, and `?wait=false` answers 202 `{"status":"accepted"}` while the
//! job goes on in the background (Qdrant's default for these routes is to wait).
//!
//! Limits: a download is streamed from disk a piece at a time (any size); an upload
//! must fit the request body limit (`[limits] body_max_bytes`, 32 MiB by default); recovery
//! from a location takes only `file://` paths under `<storage>/snapshots/` (the server has no
//! outbound network, and a path anywhere else would let a client read any file).

mod multipart;

use schemars::JsonSchema;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Instant;

use serde::Deserialize;

use super::error::Error;
use super::json::{bool_param, parse_body};
use super::{push_f64, write_result, JSON};
use crate::http::{self, BodyStream, Request, ResponseBody, ResponseHead};
use crate::router::{query_param, SnapshotRoute};
use crate::runtime::core::Core;
use crate::runtime::error::RuntimeError;
use crate::runtime::snapshots::{self, Scope};

const OCTET_STREAM: &str = "application/octet-stream";
/// The multipart field Qdrant's clients send the snapshot in.
const UPLOAD_FIELD: &str = "snapshot";

/// What a snapshot route answers with.
enum Reply {
    /// The `result` of the usual envelope, serialized.
    Json(Vec<u8>),
    /// `?wait=false`: the job runs on in the background.
    Accepted,
    /// A snapshot file, streamed from disk.
    File(BodyStream),
}

/// Answers one snapshot route (authorization already checked).
pub(super) async fn handle(
    core: &Rc<Core>,
    route: SnapshotRoute,
    req: Request<'_>,
    started: Instant,
    out: &mut ResponseBody,
) -> ResponseHead {
    let result = run(core, route, req).await;
    let elapsed = started.elapsed().as_secs_f64();
    match result {
        Ok(Reply::Json(result)) => {
            out.extend_from_slice(b"{\"result\":");
            out.extend_from_slice(&result);
            out.extend_from_slice(b",\"status\":\"ok\",\"time\":");
            push_f64(out, elapsed);
            out.push(b'}');
            ResponseHead {
                status: 200,
                content_type: JSON,
            }
        }
        Ok(Reply::Accepted) => {
            out.extend_from_slice(b"{\"status\":\"accepted\",\"time\":");
            push_f64(out, elapsed);
            out.push(b'}');
            ResponseHead {
                status: 202,
                content_type: JSON,
            }
        }
        Ok(Reply::File(stream)) => {
            out.set_stream(stream);
            ResponseHead {
                status: 200,
                content_type: OCTET_STREAM,
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

fn json<T: serde::Serialize>(value: &T) -> Result<Reply, Error> {
    let mut out = Vec::new();
    write_result(&mut out, value)?;
    Ok(Reply::Json(out))
}

/// `?wait=`, which defaults to true on these routes.
fn wait(query: &str) -> Result<bool, Error> {
    bool_param(query, "wait", true)
}

/// Runs `job` now, or in the background when the client does not wait.
async fn maybe_background<T, Fut>(wait: bool, job: Fut) -> Result<Option<T>, Error>
where
    Fut: std::future::Future<Output = Result<T, RuntimeError>> + 'static,
    T: 'static,
{
    if wait {
        return Ok(Some(job.await?));
    }
    glommio::spawn_local(async move {
        if let Err(e) = job.await {
            tracing::warn!("background snapshot job failed: {e}");
        }
    })
    .detach();
    Ok(None)
}

async fn run(core: &Rc<Core>, route: SnapshotRoute, req: Request<'_>) -> Result<Reply, Error> {
    use SnapshotRoute as R;
    let query = req.query;
    match route {
        R::Create(c) => {
            let wait = wait(query)?;
            core.catalog.borrow().get(&c)?;
            let core = core.clone();
            let job = async move { snapshots::create_collection(&core, &c).await };
            match maybe_background(wait, job).await? {
                Some(d) => json(&d),
                None => Ok(Reply::Accepted),
            }
        }
        R::CreateFull => {
            let wait = wait(query)?;
            let core = core.clone();
            let job = async move { snapshots::create_full(&core).await };
            match maybe_background(wait, job).await? {
                Some(d) => json(&d),
                None => Ok(Reply::Accepted),
            }
        }
        R::List(c) => json(&snapshots::list(core, Scope::Collection(c)).await?),
        R::ListFull => json(&snapshots::list(core, Scope::Full).await?),
        R::Download(c, name) => Ok(Reply::File(
            snapshots::open_stream(core, Scope::Collection(c), &name).await?,
        )),
        R::DownloadFull(name) => Ok(Reply::File(
            snapshots::open_stream(core, Scope::Full, &name).await?,
        )),
        R::Delete(c, name) => delete(core, Scope::Collection(c), name, query).await,
        R::DeleteFull(name) => delete(core, Scope::Full, name, query).await,
        R::Recover(c) => recover(core, c, req).await,
        R::Upload(c) => upload(core, c, req).await,
        R::Shard(c, _) => {
            core.catalog.borrow().get(&c)?;
            Err(Error::unsupported(
                "shard snapshots (take a collection snapshot instead)",
            ))
        }
    }
}

async fn delete(core: &Rc<Core>, scope: Scope, name: String, query: &str) -> Result<Reply, Error> {
    let wait = wait(query)?;
    // Checked before answering, so a wrong name is a 404 even when not waiting.
    let scope = snapshots::resolve(core, scope)?;
    let core = core.clone();
    let job = async move { snapshots::delete(&core, scope, name).await };
    match maybe_background(wait, job).await? {
        Some(()) => json(&true),
        None => Ok(Reply::Accepted),
    }
}

/// Qdrant's `SnapshotPriority`; one node has no replicas, so every value means the same.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Priority {
    NoSync,
    Snapshot,
    Replica,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RecoverBody {
    location: String,
    #[allow(dead_code)] // accepted: see `Priority`
    priority: Option<Priority>,
    checksum: Option<String>,
    /// Only for fetching from a remote URL, which is refused anyway.
    #[allow(dead_code)]
    api_key: Option<String>,
}

async fn recover(core: &Rc<Core>, target: String, req: Request<'_>) -> Result<Reply, Error> {
    let wait = wait(req.query)?;
    let body: RecoverBody = parse_body(req.body)?;
    let path = location_path(&body.location)?;
    let core = core.clone();
    let job = async move { snapshots::recover_from_file(&core, target, path, body.checksum).await };
    match maybe_background(wait, job).await? {
        Some(()) => json(&true),
        None => Ok(Reply::Accepted),
    }
}

async fn upload(core: &Rc<Core>, target: String, req: Request<'_>) -> Result<Reply, Error> {
    let wait = wait(req.query)?;
    if let Some(p) = query_param(req.query, "priority") {
        if !matches!(p, "no_sync" | "snapshot" | "replica") {
            return Err(Error::BadRequest(format!(
                "Query deserialize error: priority: unknown variant `{p}`, expected one of \
                 `no_sync`, `snapshot`, `replica`"
            )));
        }
    }
    let checksum = query_param(req.query, "checksum").map(str::to_owned);
    let content_type = req.header("content-type").unwrap_or_default();
    let file = multipart::file_part(content_type, req.body, UPLOAD_FIELD)
        .map_err(|e| Error::BadRequest(format!("Bad request: {e}")))?
        .to_vec();
    let core = core.clone();
    let job = async move { snapshots::recover_from_upload(&core, target, file, checksum).await };
    match maybe_background(wait, job).await? {
        Some(()) => json(&true),
        None => Ok(Reply::Accepted),
    }
}

/// The local path of a `file://` snapshot location. Other schemes are refused: this server
/// has no outbound network to fetch from.
fn location_path(location: &str) -> Result<PathBuf, Error> {
    let bad = |msg: String| Error::BadRequest(format!("Bad request: {msg}"));
    let Some((scheme, rest)) = location.split_once("://") else {
        return Err(bad(format!(
            "snapshot location `{location}` is not a URL; expected file:///path/to/name.snapshot"
        )));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "file" => {}
        "http" | "https" => {
            return Err(bad(format!(
                "recovering from {scheme} URLs is not supported by this server: it has no \
                 outbound network. Upload the file to /collections/{{name}}/snapshots/upload or \
                 give a file:// location under the snapshots directory"
            )))
        }
        other => {
            return Err(bad(format!(
                "snapshot location scheme `{other}` is not supported; use file://"
            )))
        }
    }
    // file:///path or file://localhost/path; no other host.
    let path = match rest.strip_prefix("localhost") {
        Some(p) if p.starts_with('/') => p,
        _ if rest.starts_with('/') => rest,
        _ => {
            return Err(bad(format!(
                "snapshot location `{location}` must be an absolute local path (file:///…)"
            )))
        }
    };
    let decoded = percent_decode(path)
        .ok_or_else(|| bad(format!("snapshot location `{location}` has a bad % escape")))?;
    Ok(PathBuf::from(decoded))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(
            location_path("file:///s/a%20b.snapshot").unwrap(),
            PathBuf::from("/s/a b.snapshot")
        );
        assert_eq!(
            location_path("file://localhost/s/x").unwrap(),
            PathBuf::from("/s/x")
        );
        for bad in [
            "http://h/x",
            "s3://b/x",
            "/plain/path",
            "file://host/x",
            "file:///%zz",
        ] {
            let e = location_path(bad).unwrap_err();
            assert_eq!(e.status(), 400, "{bad}");
        }
    }
}
