//! A full disk against the real binary: the storage directory is a small tmpfs, writes go on
//! until the file system refuses space, and then
//! - the failing write and every later one get 503 with a clear error (never 500, never a
//!   fake success, never a crash);
//! - reads keep working and show every acknowledged point;
//! - after the file system grows and the server restarts, every acknowledged point is there
//!   with its payload, and writes work again.
//!
//! Needs permission to mount a tmpfs (root or CAP_SYS_ADMIN, as on the CI machine); without it
//! the test says so on stderr and does nothing else.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Server;
use serde_json::{json, Value};

/// Size of the file system the server starts on, and what it grows to for the restart.
const SMALL_FS: &str = "1536k";
const LARGE_FS: &str = "64m";
/// Small log growth steps, so the log asks for space often.
const CONFIG: &str = "[storage]\nwal_preallocate_bytes = 65536\nsegment_flush_points = 200\n";
const DIM: usize = 64;
const BATCH_POINTS: u64 = 50;
/// More batches than the small file system can hold.
const BATCHES_MAX: u64 = 400;

/// Unmounts on drop (after the server, which is declared later and so dropped first).
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn mount_tmpfs(dir: &Path, size: &str) -> Result<(), String> {
    let out = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .output()
        .map_err(|e| format!("cannot run mount: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
    }
    Ok(())
}

fn batch(b: u64) -> String {
    let points: Vec<Value> = (b * BATCH_POINTS..(b + 1) * BATCH_POINTS)
        .map(|i| json!({"id": i, "vector": vec![i as f32; DIM], "payload": {"i": i}}))
        .collect();
    json!({ "points": points }).to_string()
}

fn count(s: &Server) -> u64 {
    let (status, v) = s.json(
        "POST",
        "/collections/full/points/count",
        r#"{"exact":true}"#,
    );
    assert_eq!(status, 200, "{v}");
    v["result"]["count"].as_u64().expect("count")
}

#[test]
fn a_full_disk_refuses_writes_with_503_keeps_reads_and_loses_nothing_acknowledged() {
    let mut mounted: Option<Mount> = None;
    let started = Server::start_prepared(CONFIG, |dir| {
        mount_tmpfs(dir, SMALL_FS)?;
        mounted = Some(Mount(dir.to_owned()));
        Ok(())
    });
    let mut s = match started {
        Ok(s) => s,
        Err(why) => {
            eprintln!("SKIPPED a_full_disk_…: cannot mount a tmpfs here: {why}");
            return;
        }
    };
    let (status, v) = s.json(
        "PUT",
        "/collections/full",
        &json!({"vectors": {"size": DIM, "distance": "Dot"}, "shard_number": 1}).to_string(),
    );
    assert_eq!(status, 200, "{v}");

    let mut acknowledged = 0;
    let mut refusal = None;
    for b in 0..BATCHES_MAX {
        let (status, v) = s.json("PUT", "/collections/full/points?wait=true", &batch(b));
        match status {
            200 => {
                assert_eq!(v["result"]["status"], "completed", "{v}");
                acknowledged = b + 1;
            }
            503 => {
                refusal = Some(v);
                break;
            }
            other => panic!("batch {b}: status {other} on a full disk: {v}"),
        }
    }
    let refusal = refusal.unwrap_or_else(|| {
        panic!("{BATCHES_MAX} batches fit in {SMALL_FS}; the disk never filled")
    });
    let msg = refusal["status"]["error"].as_str().unwrap_or_default();
    assert!(
        msg.contains("writes are refused"),
        "unclear error: {refusal}"
    );
    assert!(acknowledged > 0, "not even one batch fit: {refusal}");
    eprintln!("disk full after {acknowledged} acknowledged batches of {BATCH_POINTS}: {msg}");

    // Later writes are refused too, reads go on and see every acknowledged point.
    let (status, v) = s.json("PUT", "/collections/full/points?wait=true", &batch(0));
    assert_eq!(status, 503, "a write after the failure: {v}");
    let (status, _) = s.json("PUT", "/collections/full/points?wait=false", &batch(0));
    assert_eq!(status, 503, "a wait=false write after the failure");
    assert_eq!(s.request("GET", "/healthz", "").status, 200);
    let known = count(&s);
    assert!(
        known >= acknowledged * BATCH_POINTS,
        "{known} points visible"
    );
    let (status, v) = s.json("GET", "/collections/full/points/0", "");
    assert_eq!(status, 200, "{v}");

    // More space and a restart: everything acknowledged is back, and writes work.
    let storage = s.storage();
    s.kill_now();
    let out = Command::new("mount")
        .args(["-o", &format!("remount,size={LARGE_FS}")])
        .arg(&storage)
        .output()
        .expect("remount");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.restart();
    let after = count(&s);
    assert!(
        after >= acknowledged * BATCH_POINTS,
        "after restart {after} points, {} acknowledged",
        acknowledged * BATCH_POINTS
    );
    for id in [0, acknowledged * BATCH_POINTS - 1] {
        let (status, v) = s.json("GET", &format!("/collections/full/points/{id}"), "");
        assert_eq!(status, 200, "point {id}: {v}");
        assert_eq!(v["result"]["payload"]["i"], id, "{v}");
        assert_eq!(v["result"]["vector"][0], id as f64, "{v}");
    }
    let (status, v) = s.json(
        "PUT",
        "/collections/full/points?wait=true",
        &batch(BATCHES_MAX),
    );
    assert_eq!(status, 200, "writes after the restart: {v}");
    drop(s);
    drop(mounted);
}
