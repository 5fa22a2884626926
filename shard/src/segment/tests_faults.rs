//! Damaged files, failed writes and crashes: always an error naming the file or the previous
//! state, never a panic or a half-written segment.

use futures_lite::future::block_on;
use vexfs_io::mem::FaultConfig;
use vexfs_io::{File, Storage};

use super::tests::{build, dir, point, storage_with_dir, write_and_open};
use super::*;
use crate::op::PointWrite;
use crate::test_support::unnamed_schema;

/// Every 97th byte is a fair sample of header, archive metadata, vectors, payloads, padding.
const CORRUPTION_STRIDE_BYTES: usize = 97;

fn points(n: u64) -> Vec<PointWrite> {
    (0..n).map(point).collect()
}

#[test]
fn corruption_of_any_byte_is_detected() {
    let storage = storage_with_dir();
    let path = dir().join("seg");
    let bytes = build(&points(60), 3);
    write_and_open(&storage, "seg", &bytes);
    let original = bytes.as_bytes();
    let mut checked = 0;
    for at in (0..original.len()).step_by(CORRUPTION_STRIDE_BYTES) {
        storage.corrupt(&path, at as u64, &[original[at] ^ 0x41]);
        let err = block_on(Segment::open(&storage, &path)).expect_err("corruption accepted");
        assert!(
            matches!(err, SegmentError::Corrupt { .. }),
            "byte {at}: {err}"
        );
        assert!(err.to_string().contains("/shard/seg"), "byte {at}: {err}");
        storage.corrupt(&path, at as u64, &original[at..at + 1]);
        checked += 1;
    }
    assert!(checked > 40, "file too small to mean anything: {checked}");
    block_on(Segment::open(&storage, &path)).expect("restored file opens");
}

#[test]
fn truncated_or_extended_file_is_detected() {
    let storage = storage_with_dir();
    let path = dir().join("seg");
    let bytes = build(&points(60), 3);
    write_and_open(&storage, "seg", &bytes);
    let len = bytes.len() as u64;
    let block = SEGMENT_FILE_ALIGN_BYTES as u64;
    let cuts = [0, 1, 8, 63, 64, 65, len / 2, len - block, len - 1];
    for cut in cuts {
        block_on(async {
            let f = storage.open(&path).await.expect("open");
            f.truncate(cut).await.expect("truncate");
        });
        let err = block_on(Segment::open(&storage, &path)).expect_err("truncation accepted");
        assert!(
            matches!(err, SegmentError::Corrupt { .. }),
            "cut {cut}: {err}"
        );
        block_on(write_segment(&storage, &dir(), "seg", &bytes)).expect("rewrite");
    }
    block_on(async {
        let f = storage.open(&path).await.expect("open");
        f.truncate(len + block).await.expect("extend with zeros");
    });
    let err = block_on(Segment::open(&storage, &path)).expect_err("extension accepted");
    assert!(err.to_string().contains("truncated or extended"), "{err}");
}

#[test]
fn other_files_and_versions_are_refused() {
    let storage = storage_with_dir();
    let path = dir().join("seg");
    let bytes = build(&points(5), 0);
    write_and_open(&storage, "seg", &bytes);
    block_on(storage.write_file_atomic(&path, &[b'x'; 200])).expect("write");
    let err = block_on(Segment::open(&storage, &path)).expect_err("garbage accepted");
    assert!(err.to_string().contains("bad magic"), "{err}");

    // A future version with a valid header checksum is refused as such, not as corruption.
    let mut future = bytes.as_bytes().to_vec();
    future[8..12].copy_from_slice(&(SEGMENT_FORMAT_VERSION + 1).to_le_bytes());
    let crc = crc32c::crc32c(&future[..60]);
    future[60..64].copy_from_slice(&crc.to_le_bytes());
    block_on(storage.write_file_atomic(&path, &future)).expect("write");
    let err = block_on(Segment::open(&storage, &path)).expect_err("future version accepted");
    assert!(
        matches!(err, SegmentError::UnsupportedVersion { .. }),
        "{err}"
    );
}

#[test]
fn read_error_names_the_file() {
    let storage = storage_with_dir();
    write_and_open(&storage, "seg", &build(&points(5), 0));
    storage.set_faults(FaultConfig {
        read_eio: 1.0,
        ..FaultConfig::none()
    });
    let err = block_on(Segment::open(&storage, &dir().join("seg"))).expect_err("eio");
    assert!(matches!(err, SegmentError::Io { .. }), "{err}");
    assert!(err.to_string().contains("/shard/seg"), "{err}");
}

#[test]
fn crash_during_write_leaves_old_segment_or_none() {
    for seed in 0..20u64 {
        let storage = vexfs_io::mem::MemStorage::new(seed);
        block_on(storage.create_dir_all(&dir())).expect("mkdir");
        let path = dir().join("seg");
        let old_points = points(20);
        let new_points = points(40);
        let old = build(&old_points, 1);
        let new = build(&new_points, 2);

        // A crash while the first version is written leaves no segment under the name.
        storage.set_faults(FaultConfig {
            torn_write: 1.0,
            ..FaultConfig::default()
        });
        assert!(block_on(write_segment(&storage, &dir(), "seg", &old)).is_err());
        storage.crash();
        storage.set_faults(FaultConfig::default());
        let err = block_on(Segment::open(&storage, &path)).expect_err("nothing written");
        assert!(
            matches!(err, SegmentError::Missing { .. }),
            "seed {seed}: {err}"
        );

        // Written and synced: survives a crash.
        block_on(write_segment(&storage, &dir(), "seg", &old)).expect("write");
        storage.crash();
        let seg = block_on(Segment::open(&storage, &path)).expect("durable");
        assert_eq!((seg.len(), seg.flushed_lsn()), (20, 1));

        // A replacement that fails (power loss, EIO on write or sync) leaves the old file whole.
        for faults in [
            FaultConfig {
                torn_write: 1.0,
                ..FaultConfig::default()
            },
            FaultConfig {
                write_eio: 1.0,
                ..FaultConfig::default()
            },
            FaultConfig {
                sync_eio: 1.0,
                ..FaultConfig::default()
            },
        ] {
            storage.set_faults(faults);
            assert!(block_on(write_segment(&storage, &dir(), "seg", &new)).is_err());
            storage.crash();
            storage.set_faults(FaultConfig::default());
            let seg = block_on(Segment::open(&storage, &path)).expect("old survives");
            assert_eq!((seg.len(), seg.flushed_lsn()), (20, 1), "seed {seed}");
        }

        block_on(write_segment(&storage, &dir(), "seg", &new)).expect("write");
        storage.crash();
        let seg = block_on(Segment::open(&storage, &path)).expect("new is durable");
        assert_eq!((seg.len(), seg.flushed_lsn()), (40, 2));
    }
}

/// Build and open time of a 100k × 128 segment. Run with
/// `cargo test -p vexfs-shard --release -- --ignored segment_timing --nocapture`.
#[test]
#[ignore]
#[allow(clippy::disallowed_methods)] // wall-clock timing is the point of this test
fn segment_timing_100k_x_128() {
    use std::time::Instant;

    use crate::point_id::PointId;
    use crate::schema::Distance;

    const POINTS: usize = 100_000;
    const DIM: usize = 128;
    let schema = unnamed_schema(DIM, Distance::Dot);
    let data: Vec<f32> = (0..POINTS * DIM)
        .map(|i| (i % 1013) as f32 * 0.001)
        .collect();
    let mut payload = crate::op::Payload::new();
    payload.insert("n".into(), serde_json::Value::from(1));

    let t = Instant::now();
    let mut b = SegmentBuilder::with_capacity(&schema, POINTS).expect("builder");
    for (i, v) in data.chunks_exact(DIM).enumerate() {
        b.push(PointId::Num(i as u64), 1, [("", v)], Some(&payload))
            .expect("push");
    }
    let bytes = b.finish().expect("finish");
    let build = t.elapsed();

    let storage = storage_with_dir();
    let t = Instant::now();
    block_on(write_segment(&storage, &dir(), "big", &bytes)).expect("write");
    let write = t.elapsed();
    let t = Instant::now();
    let seg = block_on(Segment::open(&storage, &dir().join("big"))).expect("open");
    let open = t.elapsed();
    let t = Instant::now();
    let from_bytes = Segment::from_bytes("mem", bytes).expect("valid");
    let validate = t.elapsed();
    assert_eq!(seg.len(), POINTS);
    assert_eq!(from_bytes.vector(0, 7), Some(&data[7 * DIM..8 * DIM]));

    let mb = seg.file_bytes() as f64 / 1e6;
    println!(
        "segment {POINTS}x{DIM}: {mb:.1} MB; build {:.1} ms ({:.0} MB/s); \
         write (mem) {:.1} ms; open {:.1} ms ({:.0} MB/s); verify+validate only {:.1} ms",
        build.as_secs_f64() * 1e3,
        mb / build.as_secs_f64(),
        write.as_secs_f64() * 1e3,
        open.as_secs_f64() * 1e3,
        mb / open.as_secs_f64(),
        validate.as_secs_f64() * 1e3,
    );
}

/// Damage that a checksum cannot see (the checksum is recomputed): the one-time validation must
/// turn every such file into an error or a segment whose every accessor works, never a panic.
#[test]
fn damaged_archive_with_valid_checksum_never_panics() {
    use rkyv::util::AlignedVec;

    use crate::select::{PayloadSelector, VectorSelector};

    let bytes = build(&points(12), 3);
    let original = bytes.as_bytes().to_vec();
    let mut len = [0; 8];
    len.copy_from_slice(&original[16..24]);
    let body_end = SEGMENT_HEADER_BYTES + u64::from_le_bytes(len) as usize;
    let (mut refused, mut accepted) = (0, 0);
    for at in SEGMENT_HEADER_BYTES..body_end {
        for flip in [0x01u8, 0x80, 0xFF] {
            let mut file = original.clone();
            file[at] ^= flip;
            // Recompute the body checksum, then the header's (which covers the first).
            let crc = crc32c::crc32c(&file[SEGMENT_HEADER_BYTES..body_end]);
            file[24..28].copy_from_slice(&crc.to_le_bytes());
            let crc = crc32c::crc32c(&file[..60]);
            file[60..64].copy_from_slice(&crc.to_le_bytes());
            let mut buf = AlignedVec::new();
            buf.extend_from_slice(&file);
            match Segment::from_bytes("fuzz", SegmentBytes { buf }) {
                Err(_) => refused += 1,
                Ok(seg) => {
                    accepted += 1;
                    for slot in 0..seg.len() as u32 + 2 {
                        let _ = seg.id(slot);
                        let _ = seg.version(slot);
                        let _ = seg.payload(slot);
                        let _ = seg.record(slot, &PayloadSelector::All, &VectorSelector::All);
                        for c in 0..seg.columns().len() + 1 {
                            let _ = seg.vector(c, slot);
                        }
                    }
                    let _ = seg.iter_from(None).count();
                }
            }
        }
    }
    // Most flips land in vector or payload bytes, which any value fills validly.
    assert!(
        refused > 0 && accepted > 0,
        "{refused} refused, {accepted} accepted"
    );
}
