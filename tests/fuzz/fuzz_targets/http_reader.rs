//! The whole framing state machine (`RequestReader`: heads, bodies, chunked, pipelining) on
//! arbitrary bytes: never panics, and splitting the input in two reads (at the position the
//! first byte picks) never changes which requests come out or how the connection ends.
#![no_main]

mod limits;

use libfuzzer_sys::fuzz_target;
use vexfs_server::http::replay::replay;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, raw)) = data.split_first() else {
        return;
    };
    let limits = limits::small();
    let whole = replay(&[raw], &limits);
    let split = usize::from(pick) * raw.len() / 255;
    let (a, b) = raw.split_at(split.min(raw.len()));
    assert_eq!(replay(&[a, b], &limits), whole, "split at {split}");
});
