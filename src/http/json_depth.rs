//! A cheap pre-scan of request bodies for JSON nesting depth.
//!
//! simd-json stops at 1024 levels, but what it accepts below that is handed to serde, and a
//! `serde_json::Value` payload or a recursive filter is then walked recursively again when it
//! is stored, encoded and sent back. Qdrant refuses anything deeper than serde_json's limit
//! (128); the connection checks every body against `json_depth_max` before the handler runs,
//! so no parser or visitor behind it ever recurses on hostile input.

/// Whether `body` nests arrays or objects more than `max` levels deep.
///
/// Counts `[` and `{` outside strings (honouring `\"` escapes); it does not validate JSON, which
/// the parser does afterwards. One pass, no allocation, no recursion, stops at the first level
/// past `max`. Unbalanced closers never make the depth negative.
pub fn json_depth_exceeds(body: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'"' => i = string_end(body, i + 1),
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    false
}

/// Offset of the quote closing the string whose contents start at `from` (or the end of input).
fn string_end(body: &[u8], from: usize) -> usize {
    let mut i = from;
    while i < body.len() {
        match body[i] {
            b'\\' => i += 2,
            b'"' => return i,
            _ => i += 1,
        }
    }
    body.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> Vec<u8> {
        let mut v = vec![b'['; depth];
        v.resize(2 * depth, b']');
        v
    }

    #[test]
    fn depth_at_the_limit_passes_and_one_more_fails() {
        assert!(!json_depth_exceeds(&nested(128), 128));
        assert!(json_depth_exceeds(&nested(129), 128));
        assert!(json_depth_exceeds(&nested(100_000), 128));
        assert!(!json_depth_exceeds(b"", 0));
        assert!(!json_depth_exceeds(b"7", 0));
        assert!(json_depth_exceeds(b"{}", 0));
    }

    #[test]
    fn objects_and_arrays_count_together() {
        let body = br#"{"a":[{"b":[1,2,{"c":{}}]}]}"#;
        assert!(!json_depth_exceeds(body, 6));
        assert!(json_depth_exceeds(body, 5));
    }

    #[test]
    fn brackets_inside_strings_do_not_count() {
        let body = br#"{"a":"[[[[{{{{","b":"\"[[[[","c":"\\"}"#;
        assert!(!json_depth_exceeds(body, 1));
        // The escaped backslash ends the string, so this bracket is real.
        assert!(json_depth_exceeds(br#"{"c":"\\",[[]]}"#, 2));
    }

    #[test]
    fn siblings_do_not_add_up() {
        let body = "[[1],[2],[3]]".repeat(1000);
        assert!(!json_depth_exceeds(body.as_bytes(), 2));
    }

    #[test]
    fn garbage_never_panics() {
        for body in [&b"]]]]]"[..], b"\"", b"\"\\", b"[\"\\\"]", b"}{", b"\\\\\\"] {
            let _ = json_depth_exceeds(body, 1);
        }
        assert!(
            !json_depth_exceeds(b"]]]][", 1),
            "closers never go below zero"
        );
    }
}
