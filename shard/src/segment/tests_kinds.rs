//! Segment bodies whose sparse or multivector columns are malformed (behind a valid
//! checksum, as a bug in a writer would leave them) are refused at open, never read.

use rkyv::rancor;
use rkyv::util::AlignedVec;

use super::builder::SegmentBytes;
use super::format::{
    encode_header_with_crc, Body, MultiColumnBody, SparseColumnBody, SEGMENT_BUFFER_ALIGN_BYTES,
    SEGMENT_FILE_ALIGN_BYTES, SEGMENT_HEADER_BYTES,
};
use super::{Segment, SegmentError};

/// Two points (ids 1 and 2), no dense columns, the given extra columns.
fn body(sparse: Vec<SparseColumnBody>, multi: Vec<MultiColumnBody>) -> Body {
    Body {
        flushed_lsn: 0,
        num_ids: vec![1, 2],
        uuid_ids: Vec::new(),
        versions: vec![1, 1],
        columns: Vec::new(),
        payload_ends: vec![0, 0],
        payload_blob: Vec::new(),
        deleted: vec![0],
        sparse,
        multi,
    }
}

/// A correct sparse column: slot 0 {3: 1}, slot 1 {3: 2, 9: 1}.
fn sparse() -> SparseColumnBody {
    SparseColumnBody {
        name: "s".into(),
        present: vec![0b11],
        ends: vec![1, 3],
        indices: vec![3, 3, 9],
        values: vec![1.0, 2.0, 1.0],
        terms: vec![3, 9],
        term_ends: vec![2, 3],
        post_slots: vec![0, 1, 1],
        post_values: vec![1.0, 2.0, 1.0],
    }
}

/// A correct multivector column of dimension 2: slot 0 one row, slot 1 two rows.
fn multi() -> MultiColumnBody {
    MultiColumnBody {
        name: "m".into(),
        dim: 2,
        distance: 2,
        present: vec![0b11],
        ends: vec![2, 6],
        data: vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0],
    }
}

/// The file bytes of `body` with a correct header and padding, opened.
fn open(body: &Body) -> Result<Segment, SegmentError> {
    let archive = rkyv::to_bytes::<rancor::Error>(body).expect("serialize");
    let mut buf = AlignedVec::<SEGMENT_BUFFER_ALIGN_BYTES>::new();
    buf.extend_from_slice(&encode_header_with_crc(
        archive.len(),
        crc32c::crc32c(&archive),
        2,
    ));
    buf.extend_from_slice(&archive);
    buf.resize(buf.len().next_multiple_of(SEGMENT_FILE_ALIGN_BYTES), 0);
    assert!(SEGMENT_HEADER_BYTES.is_multiple_of(SEGMENT_BUFFER_ALIGN_BYTES));
    Segment::from_bytes("kinds", SegmentBytes { buf })
}

#[test]
fn well_formed_columns_open_and_read_back() {
    let seg = open(&body(vec![sparse()], vec![multi()])).expect("valid");
    assert_eq!(
        seg.sparse_vector(0, 1),
        Some((&[3u32, 9][..], &[2.0f32, 1.0][..]))
    );
    assert_eq!(seg.multi_vector(0, 1), Some(&[0.0f32, 1.0, 1.0, 1.0][..]));
}

#[test]
fn malformed_columns_are_refused() {
    let mut cases: Vec<(&str, Body)> = Vec::new();
    let mut c = sparse();
    c.post_slots = vec![0, 1, 7];
    cases.push(("posting slot out of range", body(vec![c], vec![])));
    let mut c = sparse();
    c.indices = vec![3, 9, 3];
    cases.push(("unsorted row", body(vec![c], vec![])));
    let mut c = sparse();
    c.ends = vec![2, 1];
    cases.push(("offsets going back", body(vec![c], vec![])));
    let mut c = sparse();
    c.term_ends = vec![2, 4];
    cases.push(("postings past the end", body(vec![c], vec![])));
    let mut c = sparse();
    c.terms = vec![9, 3];
    cases.push(("terms out of order", body(vec![c], vec![])));
    let mut m = multi();
    m.ends = vec![3, 6];
    cases.push(("partial row", body(vec![], vec![m])));
    let mut m = multi();
    m.dim = 0;
    cases.push(("dimension 0", body(vec![], vec![m])));
    let mut m = multi();
    m.ends = vec![2, 8];
    cases.push(("rows past the data", body(vec![], vec![m])));
    let mut m = multi();
    m.name = "s".into();
    cases.push(("name used twice", body(vec![sparse()], vec![m])));
    for (what, b) in cases {
        match open(&b) {
            Err(SegmentError::Corrupt { .. }) => {}
            other => panic!("{what}: {other:?}"),
        }
    }
}
