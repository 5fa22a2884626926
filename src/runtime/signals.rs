//! SIGINT/SIGTERM: a plain thread waits for them with sigwait and sets the stop flag the
//! executors poll. The signals are blocked in every thread so none is interrupted by them.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::core::Shared;

pub fn install(shared: Arc<Shared>) -> Result<(), String> {
    // SAFETY: plain libc signal-set manipulation on a zeroed set.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        // Threads spawned after this inherit the mask.
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return Err("cannot block SIGINT/SIGTERM".into());
        }
    }
    std::thread::Builder::new()
        .name("vexfs-signals".into())
        .spawn(move || loop {
            let mut sig: libc::c_int = 0;
            // SAFETY: `set` outlives the call; sigwait writes the signal number.
            let rc = unsafe { libc::sigwait(&set, &mut sig) };
            if rc != 0 {
                continue;
            }
            if shared.stop.swap(true, Ordering::AcqRel) {
                // Second signal: the operator does not want to wait. Acknowledged writes are
                // already in the log, so nothing acknowledged is lost by leaving now.
                tracing::warn!(signal = sig, "second stop signal: exiting immediately");
                std::process::exit(130);
            }
            tracing::info!(signal = sig, "stopping: finishing in-flight requests");
        })
        .map(drop)
        .map_err(|e| format!("cannot start the signal thread: {e}"))
}
