//! One shard: the point store plus its write-ahead log. Owned by exactly one core; used
//! through `&self` from that core's tasks, never holding a borrow across an await.

use std::cell::{Ref, RefCell};
use std::path::Path;

use vexfs_io::{File, Storage};

use crate::error::Result;
use crate::op::WriteOp;
use crate::schema::ShardSchema;
use crate::store::PointStore;
use crate::wal::{Lsn, RecoveryPolicy, Wal, WalStats};

/// Name of the log file inside a shard's directory.
pub const WAL_FILE_NAME: &str = "wal.log";

pub struct Shard<F: File> {
    store: RefCell<PointStore>,
    wal: Wal<F>,
    /// Reused encoding buffer for log records.
    scratch: RefCell<Vec<u8>>,
}

impl<F: File> Shard<F> {
    /// Opens (or creates) the shard in `dir` and replays its log.
    pub async fn open<S: Storage<File = F>>(
        storage: &S,
        dir: &Path,
        schema: ShardSchema,
        policy: RecoveryPolicy,
    ) -> Result<Self> {
        storage.create_dir_all(dir).await?;
        let path = dir.join(WAL_FILE_NAME);
        let file = storage.open(&path).await?;
        let (wal, records) = Wal::open(file, path.display().to_string(), policy).await?;
        let mut store = PointStore::new(schema);
        // Records are consecutive and end at `last_lsn`.
        let first_lsn = wal.last_lsn() + 1 - records.len() as Lsn;
        for (i, record) in records.iter().enumerate() {
            store.apply(WriteOp::decode(record)?, first_lsn + i as Lsn);
        }
        Ok(Shard {
            store: RefCell::new(store),
            wal,
            scratch: RefCell::new(Vec::new()),
        })
    }

    /// Validates, logs (buffered) and applies a write. Durable once `sync_to(lsn)` returns.
    pub fn write(&self, mut op: WriteOp) -> Result<Lsn> {
        self.store.borrow().prepare(&mut op)?;
        let mut scratch = self.scratch.borrow_mut();
        scratch.clear();
        op.encode(&mut scratch);
        let lsn = self.wal.append(&scratch)?;
        self.store.borrow_mut().apply(op, lsn);
        Ok(lsn)
    }

    /// Resolves once every write up to `lsn` is on disk (shared fdatasync per flush).
    pub async fn sync_to(&self, lsn: Lsn) -> Result<()> {
        Ok(self.wal.sync_to(lsn).await?)
    }

    /// Read access to the points. Do not hold across an await.
    pub fn store(&self) -> Ref<'_, PointStore> {
        self.store.borrow()
    }

    pub fn wal_stats(&self) -> WalStats {
        self.wal.stats()
    }

    pub fn last_lsn(&self) -> Lsn {
        self.wal.last_lsn()
    }
}
