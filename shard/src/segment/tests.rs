//! Round trips and lookups of segments, checked against the mutable store.

use std::path::{Path, PathBuf};

use futures_lite::future::block_on;
use serde_json::json;
use vexfs_io::mem::MemStorage;
use vexfs_io::Storage;

use super::*;
use crate::op::{Payload, PointWrite, WriteOp};
use crate::point_id::PointId;
use crate::schema::{Distance, ShardSchema, VectorSpec};
use crate::select::{PayloadSelector, VectorSelector};
use crate::store::{PointStore, SearchParams};
use crate::test_support::unnamed_schema;
use crate::topk::TopK;

pub(super) fn schema() -> ShardSchema {
    let spec = |name: &str, dim, distance| VectorSpec {
        name: name.into(),
        dim,
        distance,
    };
    ShardSchema {
        sparse: Vec::new(),
        multi: Vec::new(),
        vectors: vec![
            spec("", 4, Distance::Cosine),
            spec("img", 3, Distance::Euclid),
            spec("txt", 2, Distance::Dot),
        ],
    }
}

/// A point whose contents are a function of `i`: mixed id kinds, some vectors or the payload
/// missing, odd floats (subnormal, -0.0, NaN payload bits) to check bit-exactness.
pub(super) fn point(i: u64) -> PointWrite {
    let id = if i.is_multiple_of(3) {
        PointId::Uuid(u128::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835))
    } else {
        PointId::Num(i.wrapping_mul(7919) % 1_000_003)
    };
    let f = |k: u64| (i * 31 + k) as f32 * 0.37 - 5.0;
    let mut vectors = Vec::new();
    if i % 4 != 1 {
        vectors.push((
            "".to_string(),
            vec![f(0), f(1), -0.0, f32::MIN_POSITIVE / 2.0].into(),
        ));
    }
    if i % 5 != 2 {
        vectors.push(("img".to_string(), vec![f(2), f(3), f(4)].into()));
    }
    if i.is_multiple_of(2) {
        vectors.push((
            "txt".to_string(),
            vec![f32::from_bits(0x7fc0_0000 | i as u32), f(5)].into(),
        ));
    }
    let payload = match i % 4 {
        0 => None,
        1 => Some(Payload::new()),
        _ => match json!({"i": i, "name": format!("p{i}"), "nested": {"a": [1, 2.5, null]}}) {
            serde_json::Value::Object(m) => Some(m),
            _ => None,
        },
    };
    PointWrite {
        id,
        vectors,
        payload,
    }
}

pub(super) fn build(points: &[PointWrite], lsn: u64) -> SegmentBytes {
    let mut b = SegmentBuilder::new(&schema()).expect("builder");
    b.set_flushed_lsn(lsn);
    for (i, p) in points.iter().enumerate() {
        b.push_point(p, 100 + i as u64).expect("push");
    }
    b.finish().expect("finish")
}

pub(super) fn dir() -> PathBuf {
    PathBuf::from("/shard")
}

pub(super) fn storage_with_dir() -> MemStorage {
    let s = MemStorage::new(7);
    block_on(s.create_dir_all(&dir())).expect("mkdir");
    s
}

pub(super) fn write_and_open(storage: &MemStorage, name: &str, bytes: &SegmentBytes) -> Segment {
    block_on(write_segment(storage, &dir(), name, bytes)).expect("write");
    block_on(Segment::open(storage, &dir().join(name))).expect("open")
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Every point of `points` (pushed with version 100 + index) is in `seg`, bit for bit.
fn assert_holds(seg: &Segment, points: &[PointWrite]) {
    assert_eq!(seg.len(), points.len());
    for (i, p) in points.iter().enumerate() {
        let slot = seg.slot_of(p.id).expect("id present");
        assert_eq!(seg.id(slot), Some(p.id));
        assert_eq!(seg.version(slot), Some(100 + i as u64));
        assert!(!seg.is_deleted(slot));
        for (c, col) in seg.columns().iter().enumerate() {
            let given = p.vectors.iter().find(|(n, _)| *n == col.name);
            assert_eq!(seg.has_vector(c, slot), given.is_some());
            assert_eq!(
                seg.vector(c, slot).map(bits),
                given.and_then(|(_, v)| v.as_dense()).map(bits),
                "point {} vector {:?}",
                p.id,
                col.name
            );
        }
        assert_eq!(seg.payload(slot).expect("payload"), p.payload);
    }
}

#[test]
fn round_trip_through_storage_is_exact() {
    let points: Vec<PointWrite> = (0..500).map(point).collect();
    let storage = storage_with_dir();
    let seg = write_and_open(&storage, "seg-1", &build(&points, 42));
    assert_holds(&seg, &points);
    assert_eq!(seg.flushed_lsn(), 42);
    assert_eq!(seg.schema(), schema());
    assert_eq!(seg.live_len(), 500);
    assert_eq!(
        seg.file_bytes() % SEGMENT_FILE_ALIGN_BYTES,
        0,
        "padded for O_DIRECT"
    );
    // Slots are in id order, integers first.
    let ids: Vec<PointId> = seg.iter_from(None).map(|(_, id)| id).collect();
    let mut sorted: Vec<PointId> = points.iter().map(|p| p.id).collect();
    sorted.sort();
    assert_eq!(ids, sorted);
}

#[test]
fn push_order_does_not_change_the_file() {
    let mut points: Vec<PointWrite> = (0..300).map(point).collect();
    points.sort_by_key(|p| p.id);
    let ascending = build(&points, 1);
    let mut b = SegmentBuilder::new(&schema()).expect("builder");
    b.set_flushed_lsn(1);
    // Same points and versions, pushed in reverse.
    for (i, p) in points.iter().enumerate().rev() {
        let vectors = p.vectors.iter().map(|(n, v)| (n.as_str(), v.as_ref()));
        b.push(p.id, 100 + i as u64, vectors, p.payload.as_ref())
            .expect("push");
    }
    let reversed = b.finish().expect("finish");
    assert_eq!(ascending.as_bytes(), reversed.as_bytes());
    let seg = Segment::from_bytes("mem", reversed).expect("valid");
    assert_holds(&seg, &points);
}

thread_local! {
    static PAUSES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn count_pause() -> crate::shard::PauseFuture {
    PAUSES.with(|p| p.set(p.get() + 1));
    Box::pin(futures_lite::future::yield_now())
}

#[test]
fn paced_finish_writes_the_same_file_in_slices() {
    // Enough floats that the file spans several finish slices.
    let schema = unnamed_schema(256, Distance::Dot);
    let fill = |b: &mut SegmentBuilder| {
        b.set_flushed_lsn(9);
        for i in 0..3_000u64 {
            let v: Vec<f32> = (0..256).map(|d| (i * 256 + d) as f32).collect();
            b.push(PointId::Num(i), i, [("", v.as_slice())], None)
                .expect("push");
        }
    };
    let mut plain = SegmentBuilder::new(&schema).expect("builder");
    fill(&mut plain);
    let plain = plain.finish().expect("finish");
    let mut paced = SegmentBuilder::new(&schema).expect("builder");
    fill(&mut paced);
    let pace = crate::shard::Pace {
        should_yield: || true,
        pause: count_pause,
        pause_every_chunk: false,
    };
    PAUSES.with(|p| p.set(0));
    let paced = block_on(paced.finish_paced(pace)).expect("finish");
    assert_eq!(plain.as_bytes(), paced.as_bytes());
    // 3 MB of vectors: touched in slices, then checksummed in slices.
    let slices = plain.len().div_ceil(builder::FINISH_SLICE_BYTES);
    assert!(PAUSES.with(|p| p.get()) >= 2 * slices, "{slices} slices");
    let seg = Segment::from_bytes("mem", paced).expect("valid");
    assert_eq!(seg.len(), 3_000);
}

#[test]
fn empty_segment() {
    let storage = storage_with_dir();
    let empty = SegmentBuilder::new(&schema())
        .expect("builder")
        .finish()
        .expect("finish");
    let seg = write_and_open(&storage, "empty", &empty);
    assert!(seg.is_empty());
    assert_eq!(seg.live_len(), 0);
    assert_eq!(seg.slot_of(PointId::Num(0)), None);
    assert_eq!(seg.id(0), None);
    assert_eq!(seg.version(0), None);
    assert_eq!(seg.vector(0, 0), None);
    assert_eq!(
        seg.column_data(0).map(|(d, dim)| (d.len(), dim)),
        Some((0, 4))
    );
    assert_eq!(seg.payload(0).expect("no payload"), None);
    assert_eq!(seg.iter_from(None).count(), 0);
    assert_eq!(seg.lower_bound(PointId::Uuid(5)), 0);
    // A schema with no vectors at all is a valid segment too.
    let bare = SegmentBuilder::new(&ShardSchema::default())
        .expect("builder")
        .finish()
        .expect("finish");
    assert!(Segment::from_bytes("bare", bare).expect("valid").is_empty());
}

#[test]
fn refused_pushes_leave_no_trace_and_duplicates_fail_finish() {
    let mut b = SegmentBuilder::new(&schema()).expect("builder");
    let v4 = [1.0f32, 2.0, 3.0, 4.0];
    let err = b
        .push(PointId::Num(1), 1, [("nope", &v4[..])], None)
        .expect_err("unknown name");
    assert!(matches!(err, SegmentError::UnknownVector { .. }), "{err}");
    let err = b
        .push(PointId::Num(1), 1, [("", &v4[..]), ("img", &v4[..])], None)
        .expect_err("wrong dim");
    assert!(
        matches!(
            err,
            SegmentError::Dimension {
                expected: 3,
                got: 4,
                ..
            }
        ),
        "{err}"
    );
    assert!(b.is_empty());
    b.push(PointId::Num(2), 1, [("", &v4[..])], None)
        .expect("ok");
    b.push(PointId::Num(1), 1, [] as [(&str, &[f32]); 0], None)
        .expect("ok");
    b.push(PointId::Num(2), 2, [] as [(&str, &[f32]); 0], None)
        .expect("pushed, caught later");
    let err = b.finish().err().expect("duplicate");
    assert!(
        matches!(err, SegmentError::DuplicateId(PointId::Num(2))),
        "{err}"
    );
}

#[test]
fn lookups_scroll_and_deletions() {
    let points: Vec<PointWrite> = (0..200).map(point).collect();
    let mut b = SegmentBuilder::new(&schema()).expect("builder");
    for p in &points {
        let vectors = p.vectors.iter().map(|(n, v)| (n.as_str(), v.as_ref()));
        b.push(p.id, 1, vectors, p.payload.as_ref()).expect("push");
    }
    b.mark_deleted(points[5].id);
    b.mark_deleted(PointId::Num(u64::MAX)); // never pushed: ignored
    let mut seg = Segment::from_bytes("mem", b.finish().expect("finish")).expect("valid");
    let s5 = seg.slot_of(points[5].id).expect("present");
    assert!(seg.is_deleted(s5));
    assert_eq!(seg.live_len(), 199);
    assert_eq!(seg.slot_of(PointId::Num(u64::MAX)), None);
    assert_eq!(seg.slot_of(PointId::Uuid(1)), None);

    // Scroll from an id that is absent starts at the next larger one.
    let all: Vec<(u32, PointId)> = seg.iter_from(None).collect();
    let mid = all[all.len() / 2].1;
    let from_mid: Vec<PointId> = seg.iter_from(Some(mid)).map(|(_, id)| id).collect();
    assert_eq!(from_mid.first(), Some(&mid));
    assert!(from_mid.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(
        seg.lower_bound(PointId::Uuid(u128::MAX)) as usize,
        seg.len()
    );
    assert!(seg.iter_from(None).all(|(s, _)| s != s5));

    // Later deletions live beside the file and survive a sidecar round trip.
    assert!(seg.delete(points[6].id));
    assert!(!seg.delete(points[6].id), "already deleted");
    assert!(!seg.mark_deleted(seg.len() as u32), "out of range");
    let sidecar = seg.deleted().encode();
    let back = DeletedSet::decode("side", &sidecar).expect("decode");
    assert_eq!(&back, seg.deleted());
    assert_eq!(back.count(), 2);
    assert_eq!(back.iter().count(), 2);
    let storage = storage_with_dir();
    let side = dir().join("seg.deleted");
    assert_eq!(block_on(read_deleted(&storage, &side)).expect("none"), None);
    block_on(write_deleted(&storage, &side, seg.deleted())).expect("write");
    let back = block_on(read_deleted(&storage, &side))
        .expect("read")
        .expect("present");
    let mut reopened = Segment::from_bytes("mem", build(&points, 0)).expect("valid");
    reopened.apply_deleted(&back).expect("same size");
    assert_eq!(reopened.live_len(), 198);
    let err = reopened
        .apply_deleted(&DeletedSet::new(3))
        .expect_err("mismatch");
    assert!(matches!(err, SegmentError::DeletedSetMismatch { .. }));
    for at in 0..sidecar.len() {
        let mut bad = sidecar.clone();
        bad[at] ^= 0x10;
        assert!(DeletedSet::decode("side", &bad).is_err(), "byte {at}");
    }
    assert!(DeletedSet::decode("side", &sidecar[..sidecar.len() - 1]).is_err());
}

#[test]
fn records_and_search_match_the_mutable_store() {
    let mut points: Vec<PointWrite> = (0..300).map(point).collect();
    // NaN would make scores incomparable; the store refuses it anyway.
    for p in &mut points {
        p.vectors.retain(|(n, _)| n != "txt");
    }
    let mut store = PointStore::new(schema());
    store.prepare_points(&mut points).expect("valid");
    let mut b = SegmentBuilder::new(&schema()).expect("builder");
    for (i, p) in points.iter().enumerate() {
        store.apply(WriteOp::Upsert(vec![p.clone()]), 100 + i as u64);
        let vectors = p.vectors.iter().map(|(n, v)| (n.as_str(), v.as_ref()));
        b.push(p.id, 100 + i as u64, vectors, p.payload.as_ref())
            .expect("push");
    }
    let seg = Segment::from_bytes("mem", b.finish().expect("finish")).expect("valid");

    let selectors = [
        (PayloadSelector::All, VectorSelector::All),
        (PayloadSelector::None, VectorSelector::None),
        (
            PayloadSelector::Include(vec!["nested.a".into()]),
            VectorSelector::Names(vec!["img".into()]),
        ),
    ];
    for p in &points {
        let slot = seg.slot_of(p.id).expect("present");
        for (ps, vs) in &selectors {
            assert_eq!(
                Some(seg.record(slot, ps, vs).expect("record")),
                store.get(p.id, ps, vs)
            );
        }
    }

    for name in ["", "img"] {
        let mut query = vec![0.3f32, -1.0, 2.0, 0.5];
        query.truncate(schema().spec(name).expect("spec").dim);
        store.prepare_query(name, &mut query).expect("query");
        let params = SearchParams {
            vector_name: name,
            query: &query,
            top: 10,
            threshold: None,
            filter: None,
            hnsw_ef: None,
            exact: false,
            indexed_only: false,
            quantization: Default::default(),
        };
        let expected: Vec<(f32, PointId)> = store
            .search(&params, &PayloadSelector::None, &VectorSelector::None)
            .expect("search")
            .into_iter()
            .map(|(s, r)| (s, r.id))
            .collect();
        let mut top = TopK::new(10);
        seg.search_into(&params, &mut top, |slot| slot);
        let got: Vec<(f32, PointId)> = top
            .into_sorted()
            .into_iter()
            .map(|(s, id, _)| (s, id))
            .collect();
        assert_eq!(got, expected, "vector {name:?}");
    }
}

#[test]
fn open_reports_missing_file_by_name() {
    let storage = storage_with_dir();
    let err = block_on(Segment::open(&storage, Path::new("/shard/none"))).expect_err("missing");
    assert!(err.to_string().contains("/shard/none"), "{err}");
    assert!(matches!(err, SegmentError::Missing { .. }));
}
