//! The whole framing state machine (`RequestReader`: heads, bodies, chunked, pipelining) on
//! arbitrary bytes: never panics, and splitting the input in two reads (at the position the
//! first byte picks) never changes which requests come out or how the connection ends.
#![no_main]

mod limits;

use libfuzzer_sys::fuzz_target;
use vexfs_server::http::{empty_header_slots, HttpLimits, Phase, RequestReader, Step};

/// One request as the handler would see it.
#[derive(Debug, PartialEq)]
struct Seen {
    path: String,
    query: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

#[derive(Debug, PartialEq)]
enum End {
    Waiting(Phase),
    Closed,
    Failed(u16, String),
}

fn drive(pieces: &[&[u8]], limits: &HttpLimits) -> (Vec<Seen>, End) {
    let mut r = RequestReader::new();
    let mut seen = Vec::new();
    let mut phase = Phase::Idle;
    for piece in pieces {
        let mut rest = *piece;
        loop {
            loop {
                match r.step(limits) {
                    Ok(Step::Ready) => {
                        let keep_alive = r.head().map(|h| h.keep_alive).unwrap_or(false);
                        let mut slots = empty_header_slots();
                        let req = r.request(&mut slots).expect("ready request");
                        assert!(req.body.len() <= limits.body_max_bytes);
                        seen.push(Seen {
                            path: req.path.to_owned(),
                            query: req.query.to_owned(),
                            headers: req
                                .headers
                                .iter()
                                .map(|(n, v)| (n.to_string(), v.to_vec()))
                                .collect(),
                            body: req.body.to_vec(),
                        });
                        r.finish();
                        if !keep_alive {
                            return (seen, End::Closed);
                        }
                    }
                    Ok(Step::NeedMore { phase: p, .. }) => {
                        phase = p;
                        break;
                    }
                    Err(e) => return (seen, End::Failed(e.status(), e.to_string())),
                }
            }
            if rest.is_empty() {
                break;
            }
            let spare = r.spare(limits);
            assert!(!spare.is_empty(), "reader ran out of room");
            let n = spare.len().min(rest.len());
            spare[..n].copy_from_slice(&rest[..n]);
            r.commit(n);
            rest = &rest[n..];
        }
    }
    (seen, End::Waiting(phase))
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, raw)) = data.split_first() else {
        return;
    };
    let limits = limits::small();
    let whole = drive(&[raw], &limits);
    let split = usize::from(pick) * raw.len() / 255;
    let (a, b) = raw.split_at(split.min(raw.len()));
    assert_eq!(drive(&[a, b], &limits), whole, "split at {split}");
});
