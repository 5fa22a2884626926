//! `parse_head` on arbitrary bytes: never panics, and a parsed head stays inside its input.
#![no_main]

mod limits;

use libfuzzer_sys::fuzz_target;
use vexfs_server::http::{parse_head, BodyFraming};

fuzz_target!(|data: &[u8]| {
    let limits = limits::small();
    if let Ok(Some(head)) = parse_head(data, &limits) {
        assert!(head.len <= data.len().min(limits.head_max_bytes));
        assert!(head.headers().len() <= limits.headers_max_count);
        for h in head.headers() {
            assert!(!h.name.slice(data).is_empty());
        }
        let _ = head.path_str(data);
        let _ = head.query_str(data);
        if let BodyFraming::ContentLength(n) = head.framing {
            assert!(n > 0 && n <= limits.body_max_bytes as u64);
        }
        // A head never contains a bare LF (RFC 9112 §2.2, refused on purpose).
        let bytes = &data[..head.len];
        for (i, &b) in bytes.iter().enumerate() {
            assert!(
                b != b'\n' || (i > 0 && bytes[i - 1] == b'\r'),
                "bare LF accepted"
            );
        }
    }
});
