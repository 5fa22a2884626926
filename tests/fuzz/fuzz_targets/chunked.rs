//! The chunked decoder on arbitrary bytes: never panics, never decodes past the body limit or
//! consumes bytes it was not given, and one or two reads (split where the first byte picks)
//! give the same outcome.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vexfs_server::http::ChunkedDecoder;

const BODY_MAX_BYTES: usize = 4096;

fn decode(pieces: &[&[u8]]) -> Result<(Vec<u8>, usize, bool), String> {
    let mut d = ChunkedDecoder::new();
    let mut out = Vec::new();
    let mut used = 0;
    for piece in pieces {
        let n = d
            .decode(piece, &mut out, BODY_MAX_BYTES)
            .map_err(|e| format!("{} {e}", e.status()))?;
        assert!(n <= piece.len());
        // Fewer bytes than offered are consumed only once the body is complete.
        assert!(n == piece.len() || d.is_done());
        used += n;
        if d.is_done() {
            break;
        }
    }
    assert!(out.len() <= BODY_MAX_BYTES);
    Ok((out, used, d.is_done()))
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, raw)) = data.split_first() else {
        return;
    };
    let whole = decode(&[raw]);
    let split = usize::from(pick) * raw.len() / 255;
    let (a, b) = raw.split_at(split.min(raw.len()));
    assert_eq!(decode(&[a, b]), whole, "split at {split}");
});
