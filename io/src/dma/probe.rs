//! Workaround for glommio's polled-I/O probe, which misjudges devices when the first DmaFile
//! opened on them is empty.

use std::cell::RefCell;
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use glommio::io::DmaFile;

use super::{os_err, parent_dir, std_err};
use crate::Result;

thread_local! {
    /// Devices (st_dev) whose io_uring polling support this thread has already had glommio
    /// probe on a non-empty file, and whether a probe is running right now.
    static PROBED_DEVICES: RefCell<HashMap<u64, bool>> = RefCell::new(HashMap::new());
}

/// Name of the scratch file used to make glommio probe polled-I/O support correctly.
const IOPOLL_PROBE_FILE: &str = ".vexfs-iopoll-probe";

/// Bytes written to the probe file: one block of the largest O_DIRECT alignment.
const IOPOLL_PROBE_BYTES: usize = 4096;

/// glommio decides, once per thread and device, whether O_DIRECT reads may use the polled ring
/// by reading the first block of whatever DmaFile is opened first. When that file is empty the
/// kernel answers "end of file" without touching the device, glommio concludes polling works,
/// and every later read on a device without poll queues fails with EOPNOTSUPP. So before the
/// first DmaFile on a device, open a scratch file that holds data, letting the probe see the
/// real answer.
pub(super) async fn ensure_iopoll_probed(path: &Path) -> Result<()> {
    let dir = parent_dir(path);
    let dev = std::fs::metadata(&dir)
        .map_err(|e| std_err("stat", &dir, e))?
        .dev();
    loop {
        // Some(false) = probe running on another task of this thread: wait for it.
        match PROBED_DEVICES.with(|m| m.borrow().get(&dev).copied()) {
            Some(true) => return Ok(()),
            Some(false) => futures_lite::future::yield_now().await,
            None => break,
        }
    }
    PROBED_DEVICES.with(|m| m.borrow_mut().insert(dev, false));
    // Unique per process and thread: executors probing the same directory at once must not
    // remove each other's file (glommio panics when a file vanishes while it opens it).
    let thread = format!("{:?}", std::thread::current().id());
    let thread: String = thread.chars().filter(char::is_ascii_digit).collect();
    let probe = dir.join(format!(
        "{IOPOLL_PROBE_FILE}-{}-{thread}",
        std::process::id()
    ));
    let result = async {
        std::fs::write(&probe, [0xA5u8; IOPOLL_PROBE_BYTES])
            .map_err(|e| std_err("write", &probe, e))?;
        let shown = probe.display().to_string();
        let file = DmaFile::open(&probe)
            .await
            .map_err(|e| os_err("open", &shown, e))?;
        file.close().await.map_err(|e| os_err("close", &shown, e))
    }
    .await;
    let _ = std::fs::remove_file(&probe);
    match result {
        Ok(()) => {
            PROBED_DEVICES.with(|m| m.borrow_mut().insert(dev, true));
            Ok(())
        }
        Err(e) => {
            PROBED_DEVICES.with(|m| m.borrow_mut().remove(&dev));
            Err(e)
        }
    }
}
