//! A connection's read loop without a socket: feeds byte pieces, as successive reads, to a
//! [`RequestReader`] and records what comes out. The reader's unit tests and the fuzz target
//! (`tests/fuzz`) both drive it, and it checks the reader's memory bounds on every step.

use super::reader::BUF_IDLE_BYTES;
use super::{empty_header_slots, HttpLimits, Method, Phase, RequestReader, Step};

/// One request as a handler would see it, owned.
#[derive(Debug, Clone, PartialEq)]
pub struct Replayed {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    pub keep_alive: bool,
}

/// How feeding stopped.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplayEnd {
    /// Input ran out while waiting in this phase.
    Waiting(Phase),
    /// A request without keep-alive was answered; the rest is ignored.
    Closed,
    /// A framing error: its status and message.
    Failed(u16, String),
}

/// Feeds `pieces` to a fresh reader. Panics if the reader breaks one of its bounds: a body
/// over the limit, no room to read into, a buffer larger than head plus body limits, or
/// buffers not shrunk back after a request.
pub fn replay(pieces: &[&[u8]], limits: &HttpLimits) -> (Vec<Replayed>, ReplayEnd) {
    let mut r = RequestReader::new();
    let mut seen = Vec::new();
    let mut phase = Phase::Idle;
    for piece in pieces {
        let mut rest = *piece;
        loop {
            loop {
                match r.step(limits) {
                    Ok(Step::Ready) => {
                        let keep_alive = r.head().is_some_and(|h| h.keep_alive);
                        let mut slots = empty_header_slots();
                        let req = r.request(&mut slots).expect("a ready request");
                        assert!(req.body.len() <= limits.body_max_bytes);
                        seen.push(Replayed {
                            method: req.method,
                            path: req.path.to_owned(),
                            query: req.query.to_owned(),
                            headers: req
                                .headers
                                .iter()
                                .map(|(n, v)| (n.to_string(), v.to_vec()))
                                .collect(),
                            body: req.body.to_vec(),
                            keep_alive,
                        });
                        r.finish();
                        assert!(r.capacity_bytes() <= 2 * BUF_IDLE_BYTES);
                        if !keep_alive {
                            return (seen, ReplayEnd::Closed);
                        }
                    }
                    Ok(Step::NeedMore { phase: p, .. }) => {
                        phase = p;
                        break;
                    }
                    Err(e) => return (seen, ReplayEnd::Failed(e.status(), e.to_string())),
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
            let cap = limits.head_max_bytes + limits.body_max_bytes;
            assert!(r.buffer_len() <= cap.max(BUF_IDLE_BYTES));
        }
    }
    (seen, ReplayEnd::Waiting(phase))
}
