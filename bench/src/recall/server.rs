//! The server side of a recall run: create the collection with a keyword index on the tag
//! field, upload the data set (progress bar), and wait until the server reports indexing done.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;

use super::dataset::{Dataset, TAG_FIELD};
use crate::cli::Args;
use crate::response;
use crate::setup::SetupClient;
use crate::target::Target;
use crate::workload::push_vector;

/// Pause between two polls of the collection's indexing status.
const INDEX_POLL_INTERVAL: Duration = Duration::from_millis(250);
/// Consecutive polls with a green status and the same `indexed_vectors_count` that count as
/// "indexing finished".
const INDEX_STABLE_POLLS: usize = 4;

/// Upload and index timings of one target.
pub struct Loaded {
    pub upload: Duration,
    pub build: Duration,
    pub indexed_vectors: u64,
}

/// Drops any leftover collection, creates it, indexes `tag`, uploads every point in `wait=true`
/// batches, then waits for indexing to settle.
pub fn create_and_fill(
    args: &Args,
    target: &Target,
    data: &Dataset,
    quiet: bool,
) -> Result<Loaded, String> {
    let mut client = SetupClient::connect(target)?;
    let path = format!("/collections/{}", args.collection);
    client.call("DELETE", &path, None)?;
    let create = format!(
        "{{\"vectors\":{{\"size\":{},\"distance\":\"{}\"}},\"quantization_config\":{}}}",
        data.dim,
        args.distance.qdrant_name(),
        args.quantization.config_json()
    );
    client.call_ok("PUT", &path, Some(create.as_bytes()))?;
    let index = format!("{{\"field_name\":\"{TAG_FIELD}\",\"field_schema\":\"keyword\"}}");
    client.call_ok(
        "PUT",
        &format!("{path}/index?wait=true"),
        Some(index.as_bytes()),
    )?;

    let n = data.len();
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(n as u64)
    };
    bar.set_style(
        ProgressStyle::with_template("upload {bar:40} {pos}/{len} points  {per_sec}  eta {eta}")
            .map_err(|e| format!("progress bar template: {e}"))?,
    );
    let upsert = format!("{path}/points?wait=true");
    let started = Instant::now();
    let mut next = 0;
    while next < n {
        let end = (next + args.preload_batch).min(n);
        client.call_ok("PUT", &upsert, Some(&points_body(data, next..end)))?;
        bar.inc((end - next) as u64);
        next = end;
    }
    bar.finish_and_clear();
    let upload = started.elapsed();

    let (indexed_vectors, build) = wait_indexed(&mut client, &path, args.index_timeout)?;
    Ok(Loaded {
        upload,
        build,
        indexed_vectors,
    })
}

/// `{"points":[{"id":i,"vector":[..],"payload":{"tag":"t3"}},..]}` for base vectors `ids`.
fn points_body(data: &Dataset, ids: std::ops::Range<usize>) -> Vec<u8> {
    let mut s = String::with_capacity(ids.len() * (data.dim * 12 + 48) + 16);
    s.push_str("{\"points\":[");
    for (n, i) in ids.enumerate() {
        if n > 0 {
            s.push(',');
        }
        let _ = write!(s, "{{\"id\":{i},\"vector\":");
        push_vector(&mut s, data.vector(i));
        let _ = write!(
            s,
            ",\"payload\":{{\"{TAG_FIELD}\":\"t{}\"}}}}",
            data.tags[i]
        );
    }
    s.push_str("]}");
    s.into_bytes()
}

#[derive(Deserialize)]
struct InfoAnswer {
    result: Info,
}

#[derive(Deserialize)]
struct Info {
    status: String,
    #[serde(default)]
    indexed_vectors_count: Option<u64>,
}

/// Polls `GET /collections/{c}` until `status` is green and `indexed_vectors_count` has not
/// changed for `INDEX_STABLE_POLLS` polls; returns that count and the build time: from the
/// first poll to the first poll of the final stable streak (so the confirming polls are not
/// charged to the server).
fn wait_indexed(
    client: &mut SetupClient,
    path: &str,
    timeout: Duration,
) -> Result<(u64, Duration), String> {
    let started = Instant::now();
    let deadline = started + timeout;
    let mut last: Option<u64> = None;
    let mut stable = 0;
    let mut streak_start = started;
    loop {
        let (status, raw) = client.call("GET", path, None)?;
        if status != 200 {
            return Err(format!(
                "GET {path}: HTTP {status} while waiting for indexing"
            ));
        }
        let body = response::body(&raw).map_err(|e| format!("GET {path}: {e}"))?;
        let info: InfoAnswer = serde_json::from_slice(&body)
            .map_err(|e| format!("GET {path}: unexpected collection info: {e}"))?;
        let polled = Instant::now();
        let count = info.result.indexed_vectors_count.unwrap_or(0);
        let green = info.result.status == "green";
        if green && last == Some(count) {
            stable += 1;
        } else {
            stable = 0;
            streak_start = polled;
        }
        last = green.then_some(count);
        if stable + 1 >= INDEX_STABLE_POLLS {
            return Ok((count, streak_start - started));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "indexing not finished after {:?} (status {:?}, {count} vectors indexed)",
                timeout, info.result.status
            ));
        }
        std::thread::sleep(INDEX_POLL_INTERVAL);
    }
}
