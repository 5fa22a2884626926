//! The background optimizer through the real binary: with a small flush threshold, segments
//! pile up while the optimizer is disabled, merge once it is enabled by a PATCH
//! (`segments_count` drops), deleted points are vacuumed once a flush persists them, and
//! searches answer exactly throughout and after a restart.

mod common;

use std::time::{Duration, Instant};

use common::Server;
use serde_json::{json, Value};

/// Points in the mutable part that trigger a flush (the server's `[storage]` setting).
const FLUSH_POINTS: u64 = 100;
/// Batches of `FLUSH_POINTS` points written before the optimizer is enabled.
const BATCHES: u64 = 6;
/// Longest the test waits for a background flush or optimization.
const WAIT_MAX: Duration = Duration::from_secs(30);

fn upsert(server: &Server, ids: std::ops::Range<u64>) {
    let points: Vec<Value> = ids
        .map(|i| json!({"id": i, "vector": [i as f32, 0.0, 0.0, 0.0], "payload": {"i": i}}))
        .collect();
    let body = json!({ "points": points }).to_string();
    let (status, v) = server.json("PUT", "/collections/opt/points?wait=true", &body);
    assert_eq!(status, 200, "{v}");
}

fn info(server: &Server) -> Value {
    let (status, v) = server.json("GET", "/collections/opt", "");
    assert_eq!(status, 200, "{v}");
    v["result"].clone()
}

/// Nearest neighbour of `q` by Euclid distance among `live` (ascending ids), ties to the
/// smaller id, checked against the server's answer.
fn check_search(server: &Server, q: f32, live: &[u64]) {
    let want = live
        .iter()
        .copied()
        .min_by(|a, b| {
            let d = |x: u64| (x as f32 - q).abs();
            d(*a).total_cmp(&d(*b)).then(a.cmp(b))
        })
        .unwrap();
    let body = json!({"vector": [q, 0.0, 0.0, 0.0], "limit": 1, "with_payload": true}).to_string();
    let (status, v) = server.json("POST", "/collections/opt/points/search", &body);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["result"][0]["id"], want, "query {q}: {v}");
    assert_eq!(v["result"][0]["payload"]["i"], want, "query {q}: {v}");
}

/// Polls until `done(info)` holds, searching meanwhile; panics after [`WAIT_MAX`].
fn wait_for(server: &Server, live: &[u64], what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    let mut q = 0.3;
    loop {
        let i = info(server);
        if done(&i) {
            return i;
        }
        assert!(
            start.elapsed() < WAIT_MAX,
            "timed out waiting for {what}: {i}"
        );
        check_search(server, q, live);
        q = (q + 37.7) % (BATCHES * FLUSH_POINTS) as f32;
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn segment_files(server: &Server) -> Vec<String> {
    let dir = server.storage().join("collections/opt/shard-0");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("seg-") && n.ends_with(".seg"))
        .collect();
    names.sort();
    names
}

#[test]
fn segments_merge_and_deleted_points_are_vacuumed() {
    let mut server = Server::start_with_config(&format!(
        "[storage]\nsegment_flush_points = {FLUSH_POINTS}\n"
    ));
    let create = json!({
        "vectors": {"size": 4, "distance": "Euclid"},
        "shard_number": 1,
        "optimizers_config": {"max_optimization_threads": 0, "default_segment_number": 1,
                              "vacuum_min_vector_number": 100, "deleted_threshold": 0.2},
    });
    let (status, v) = server.json("PUT", "/collections/opt", &create.to_string());
    assert_eq!(status, 200, "{v}");
    // Out-of-range optimizer settings are refused like Qdrant does.
    let bad = json!({"optimizers_config": {"vacuum_min_vector_number": 10}}).to_string();
    let (status, _) = server.json("PATCH", "/collections/opt", &bad);
    assert_eq!(status, 422);

    let mut live: Vec<u64> = Vec::new();
    for b in 0..BATCHES {
        let ids = b * FLUSH_POINTS..(b + 1) * FLUSH_POINTS;
        upsert(&server, ids.clone());
        live.extend(ids);
        // One flush per batch: its segments plus the mutable part (no frozen part left).
        wait_for(&server, &live, "a flush", |i| i["segments_count"] == b + 2);
    }
    let before = info(&server);
    assert_eq!(before["points_count"], BATCHES * FLUSH_POINTS);
    assert_eq!(before["status"], "green");
    assert_eq!(before["optimizer_status"], "ok");
    assert_eq!(
        segment_files(&server).len() as u64,
        BATCHES,
        "{:?} {before}",
        segment_files(&server)
    );

    // Enabling the optimizer merges them all into one segment.
    let patch = json!({"optimizers_config": {"max_optimization_threads": null}}).to_string();
    let (status, v) = server.json("PATCH", "/collections/opt", &patch);
    assert_eq!(status, 200, "{v}");
    let merged = wait_for(&server, &live, "the merge", |i| i["segments_count"] == 2);
    assert_eq!(merged["points_count"], BATCHES * FLUSH_POINTS);
    assert_eq!(merged["status"], "green");
    assert_eq!(segment_files(&server).len(), 1);
    for q in [0.0, 99.6, 350.2, 599.0] {
        check_search(&server, q, &live);
    }

    // Delete half; the deletions count once a flush persists them (the next 100 points).
    let deleted: Vec<u64> = (0..BATCHES * FLUSH_POINTS).filter(|i| i % 2 == 0).collect();
    let body = json!({ "points": deleted }).to_string();
    let (status, v) = server.json("POST", "/collections/opt/points/delete?wait=true", &body);
    assert_eq!(status, 200, "{v}");
    live.retain(|i| i % 2 == 1);
    let next = BATCHES * FLUSH_POINTS;
    upsert(&server, next..next + FLUSH_POINTS);
    live.extend(next..next + FLUSH_POINTS);
    let want_points = live.len();
    wait_for(&server, &live, "the vacuum", |_| {
        let (_, v) = server.json(
            "GET",
            "/collections/opt/optimizations?with=completed,idle_segments",
            "",
        );
        v["result"]["completed"]
            .as_array()
            .is_some_and(|c| c.iter().any(|o| o["optimizer"] == "vacuum"))
    });
    let after = wait_for(&server, &live, "one segment again", |i| {
        i["segments_count"] == 2
    });
    assert_eq!(after["points_count"], want_points);
    let (_, v) = server.json(
        "GET",
        "/collections/opt/optimizations?with=completed,queued,idle_segments",
        "",
    );
    let r = &v["result"];
    assert_eq!(r["running"], json!([]), "{v}");
    assert_eq!(r["summary"]["queued_optimizations"], 0, "{v}");
    assert_eq!(r["idle_segments"].as_array().unwrap().len(), 1, "{v}");
    // The one segment left holds exactly the live points: the deleted ones were dropped.
    assert_eq!(r["idle_segments"][0]["points_count"], want_points, "{v}");
    for o in r["completed"].as_array().unwrap() {
        assert_eq!(o["status"], "done", "{o}");
        assert_eq!(o["progress"]["done"], o["progress"]["total"], "{o}");
    }
    for q in [0.0, 2.2, 301.0, 640.4, 699.0] {
        check_search(&server, q, &live);
    }

    server.kill_and_restart();
    let restarted = info(&server);
    assert_eq!(restarted["points_count"], want_points);
    for q in [0.0, 4.0, 555.5, 699.0] {
        check_search(&server, q, &live);
    }
}

/// Points of the measurement: four segments of `MEASURE_SEGMENT_POINTS` 128-dim vectors.
const MEASURE_SEGMENT_POINTS: u64 = 50_000;
const MEASURE_SEGMENTS: u64 = 4;
const MEASURE_DIM: usize = 128;
const MEASURE_BATCH_POINTS: u64 = 1_000;
/// Idle GETs timed before the merge starts.
const MEASURE_IDLE_GETS: usize = 2_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn summary(label: &str, mut v: Vec<Duration>) {
    v.sort();
    eprintln!(
        "{label}: n={} p50={:?} p99={:?} max={:?}",
        v.len(),
        percentile(&v, 0.5),
        percentile(&v, 0.99),
        v.last().copied().unwrap_or_default()
    );
}

/// Measurement, not a check (run by hand: `cargo test --release --test optimizer -- --ignored
/// --nocapture`): the time to merge four segments of 50k 128-dim points into one, and the
/// latency of point GETs sent one after another while it runs, against the same GETs idle.
#[test]
#[ignore]
fn measure_merge_of_200k_points() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let server = Server::start_with_config(&format!(
        "[storage]\nsegment_flush_points = {MEASURE_SEGMENT_POINTS}\n"
    ));
    let create = json!({
        "vectors": {"size": MEASURE_DIM, "distance": "Dot"},
        "shard_number": 1,
        "optimizers_config": {"max_optimization_threads": 0, "default_segment_number": 1},
    });
    let (status, v) = server.json("PUT", "/collections/opt", &create.to_string());
    assert_eq!(status, 200, "{v}");
    let total = MEASURE_SEGMENT_POINTS * MEASURE_SEGMENTS;
    let load = Instant::now();
    for start in (0..total).step_by(MEASURE_BATCH_POINTS as usize) {
        let points: Vec<Value> = (start..start + MEASURE_BATCH_POINTS)
            .map(|i| {
                let v: Vec<f32> = (0..MEASURE_DIM)
                    .map(|d| ((i as usize * 31 + d * 7) % 97) as f32 / 97.0)
                    .collect();
                json!({"id": i, "vector": v, "payload": {"i": i}})
            })
            .collect();
        let body = json!({ "points": points }).to_string();
        let (status, v) = server.json("PUT", "/collections/opt/points?wait=true", &body);
        assert_eq!(status, 200, "{v}");
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while info(&server)["segments_count"] != MEASURE_SEGMENTS + 1 {
        assert!(Instant::now() < deadline, "{}", info(&server));
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("loaded {total} points in {:?}", load.elapsed());

    let port = server.port;
    let merging = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let getter = {
        let (merging, stop) = (merging.clone(), stop.clone());
        std::thread::spawn(move || {
            let (mut idle, mut busy) = (Vec::new(), Vec::new());
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) && busy.len() < 1_000_000 {
                let during = merging.load(Ordering::Relaxed);
                let t = Instant::now();
                let path = format!("/collections/opt/points/{}", (i * 7919) % total);
                let r = common::try_request(port, "GET", &path, b"").expect("GET");
                assert_eq!(r.status, 200);
                let took = t.elapsed();
                if during {
                    busy.push(took);
                } else if idle.len() < MEASURE_IDLE_GETS {
                    idle.push(took);
                }
                i += 1;
            }
            (idle, busy)
        })
    };
    std::thread::sleep(Duration::from_secs(2));
    let patch = json!({"optimizers_config": {"max_optimization_threads": null}}).to_string();
    let started = Instant::now();
    merging.store(true, Ordering::Relaxed);
    let (status, v) = server.json("PATCH", "/collections/opt", &patch);
    assert_eq!(status, 200, "{v}");
    while info(&server)["segments_count"] != 2 {
        assert!(started.elapsed() < Duration::from_secs(300));
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = started.elapsed();
    merging.store(false, Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    let (idle, busy) = getter.join().expect("getter");
    eprintln!("merge of {MEASURE_SEGMENTS} segments, {total} x {MEASURE_DIM}: {took:?}");
    summary("GET idle", idle);
    summary("GET during merge", busy);
    assert_eq!(info(&server)["points_count"], total);
}
