//! Collection lifecycle around a run — create, preload, delete — over a plain blocking
//! keep-alive connection: setup speed is not what is measured.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::Args;
use crate::response;
use crate::rng::Rng;
use crate::target::Target;
use crate::workload::upsert_body;

/// Longest wait for one setup response: a `wait=true` preload batch may fsync.
const SETUP_IO_TIMEOUT: Duration = Duration::from_secs(120);
/// Read granularity of the setup client, in bytes.
const READ_CHUNK_BYTES: usize = 64 * 1024;
/// Most response bytes quoted in an error message.
const ERROR_QUOTE_BYTES: usize = 300;
/// Seed offset so preloaded vectors differ from the query vectors built from `--seed`.
const PRELOAD_SEED_SALT: u64 = 0x9e37_79b9;

/// One blocking HTTP/1.1 connection.
pub struct SetupClient<'a> {
    target: &'a Target,
    stream: TcpStream,
    buf: Vec<u8>,
}

impl<'a> SetupClient<'a> {
    pub fn connect(target: &'a Target) -> Result<SetupClient<'a>, String> {
        let stream = TcpStream::connect_timeout(&target.addr, SETUP_IO_TIMEOUT)
            .map_err(|e| format!("cannot connect to {}: {e}", target.url))?;
        let _ = stream.set_nodelay(true);
        stream
            .set_read_timeout(Some(SETUP_IO_TIMEOUT))
            .and_then(|_| stream.set_write_timeout(Some(SETUP_IO_TIMEOUT)))
            .map_err(|e| format!("socket options: {e}"))?;
        Ok(SetupClient {
            target,
            stream,
            buf: Vec::new(),
        })
    }

    /// Sends one request and returns the status and the raw response (head and body).
    pub fn call(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<(u16, Vec<u8>), String> {
        let req = self.target.request(method, path, body);
        let io = |e: std::io::Error| format!("{method} {path}: {e}");
        self.stream.write_all(&req).map_err(io)?;
        self.buf.clear();
        loop {
            match response::frame(&self.buf) {
                Ok(Some(f)) => {
                    let raw = self.buf[..f.len].to_vec();
                    self.buf.drain(..f.len);
                    return Ok((f.status, raw));
                }
                Ok(None) => {}
                Err(e) => return Err(format!("{method} {path}: {e}")),
            }
            let old = self.buf.len();
            self.buf.resize(old + READ_CHUNK_BYTES, 0);
            let n = self.stream.read(&mut self.buf[old..]).map_err(io)?;
            self.buf.truncate(old + n);
            if n == 0 {
                return Err(format!("{method} {path}: server closed the connection"));
            }
        }
    }

    /// Like [`call`](Self::call) but a non-2xx status is an error.
    pub fn call_ok(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> Result<(), String> {
        let (status, raw) = self.call(method, path, body)?;
        if (200..300).contains(&status) {
            return Ok(());
        }
        let quote = String::from_utf8_lossy(&raw[..raw.len().min(ERROR_QUOTE_BYTES)]).into_owned();
        Err(format!("{method} {path}: HTTP {status}: {quote}"))
    }
}

/// Drops any leftover collection of the same name, creates it fresh, and preloads
/// `--points` points (ids `0..points`) in `wait=true` batches.
pub fn create_and_preload(args: &Args, target: &Target, quiet: bool) -> Result<(), String> {
    let mut client = SetupClient::connect(target)?;
    let path = format!("/collections/{}", args.collection);
    // A leftover from an interrupted run; 404 is the normal answer.
    client.call("DELETE", &path, None)?;
    let create = format!(
        "{{\"vectors\":{{\"size\":{},\"distance\":\"{}\"}}}}",
        args.dim,
        args.distance.qdrant_name()
    );
    client.call_ok("PUT", &path, Some(create.as_bytes()))?;
    if args.points() == 0 {
        return Ok(());
    }
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(args.points())
    };
    bar.set_style(
        ProgressStyle::with_template("preload {bar:40} {pos}/{len} points  {per_sec}  eta {eta}")
            .map_err(|e| format!("progress bar template: {e}"))?,
    );
    let mut rng = Rng::new(args.seed ^ PRELOAD_SEED_SALT);
    let upsert = format!("{path}/points?wait=true");
    let mut next = 0u64;
    while next < args.points() {
        let end = (next + args.preload_batch as u64).min(args.points());
        let ids: Vec<u64> = (next..end).collect();
        let body = upsert_body(&ids, args.dim, &mut rng);
        client.call_ok("PUT", &upsert, Some(&body))?;
        bar.inc(end - next);
        next = end;
    }
    bar.finish_and_clear();
    Ok(())
}

/// Deletes the benchmark collection.
pub fn delete(args: &Args, target: &Target) -> Result<(), String> {
    let mut client = SetupClient::connect(target)?;
    client.call_ok("DELETE", &format!("/collections/{}", args.collection), None)
}
