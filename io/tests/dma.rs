//! DmaStorage against a real directory, inside a glommio executor with a small io_memory
//! (RLIMIT_MEMLOCK is tiny here, so buffer registration may be refused).

use std::path::Path;

use glommio::LocalExecutorBuilder;
use vexfs_io::dma::DmaStorage;
use vexfs_io::{Error, File, Storage};

/// Keeps every test executor within the locked-memory limit.
const TEST_IO_MEMORY_BYTES: usize = 1 << 20;

fn run<F, Fut>(f: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    LocalExecutorBuilder::default()
        .io_memory(TEST_IO_MEMORY_BYTES)
        .spawn(f)
        .expect("spawn executor")
        .join()
        .expect("executor thread");
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn write_read_sync_size_truncate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.bin");
    run(move || async move {
        let fs = DmaStorage;
        let f = fs.open(&path).await.unwrap();
        let a = f.alignment() as usize;
        assert!(a.is_power_of_two() && a >= 512);
        assert_eq!(f.size().await.unwrap(), 0);

        // Larger than one DMA chunk so the chunked path runs too.
        let data = pattern(3 * (1 << 20) / 2 / a * a, 7);
        f.write_at(0, &data).await.unwrap();
        f.sync_data().await.unwrap();
        assert_eq!(f.size().await.unwrap(), data.len() as u64);
        assert_eq!(f.read_at(0, data.len()).await.unwrap(), data);
        // Unaligned reads are fine; reads past the end come back short.
        assert_eq!(f.read_at(3, 10).await.unwrap(), &data[3..13]);
        let tail = f.read_at(data.len() as u64 - 5, 100).await.unwrap();
        assert_eq!(tail, &data[data.len() - 5..]);

        f.truncate(a as u64 + 1).await.unwrap();
        assert_eq!(f.size().await.unwrap(), a as u64 + 1);
        f.preallocate(1 << 20).await.unwrap();
        assert_eq!(
            f.size().await.unwrap(),
            a as u64 + 1,
            "preallocate keeps size"
        );
        f.close().await.unwrap();

        let f = fs.open(&path).await.unwrap();
        assert_eq!(f.read_at(0, 1 << 20).await.unwrap(), &data[..a + 1]);
        f.close().await.unwrap();
    });
}

#[test]
fn unaligned_write_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x");
    run(move || async move {
        let f = DmaStorage.open(&path).await.unwrap();
        let a = f.alignment();
        assert!(matches!(
            f.write_at(1, &vec![0; a as usize]).await,
            Err(Error::Invalid(_))
        ));
        assert!(matches!(
            f.write_at(0, &[1, 2, 3]).await,
            Err(Error::Invalid(_))
        ));
        f.close().await.unwrap();
    });
}

#[test]
fn atomic_write_and_list() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    run(move || async move {
        let fs = DmaStorage;
        let sub = root.join("a/b");
        fs.create_dir_all(&sub).await.unwrap();
        fs.create_dir_all(&sub).await.unwrap();
        let meta = sub.join("meta.json");
        assert_eq!(fs.read_file(&meta).await.unwrap(), None);
        fs.write_file_atomic(&meta, b"first").await.unwrap();
        assert_eq!(fs.read_file(&meta).await.unwrap().unwrap(), b"first");
        let big = pattern(10_000, 3);
        fs.write_file_atomic(&meta, &big).await.unwrap();
        assert_eq!(fs.read_file(&meta).await.unwrap().unwrap(), big);
        // Whole blocks are written without the padding copy.
        let blocks = pattern(16_384, 5);
        fs.write_file_atomic(&meta, &blocks).await.unwrap();
        assert_eq!(fs.read_file(&meta).await.unwrap().unwrap(), blocks);
        fs.write_file_atomic(&meta, b"").await.unwrap();
        assert_eq!(fs.read_file(&meta).await.unwrap().unwrap(), b"");

        fs.open(&sub.join("z.wal"))
            .await
            .unwrap()
            .close()
            .await
            .unwrap();
        fs.create_dir_all(&sub.join("c")).await.unwrap();
        fs.sync_dir(&sub).await.unwrap();
        assert_eq!(
            fs.list_dir(&sub).await.unwrap(),
            vec!["c", "meta.json", "z.wal"]
        );
        assert!(fs.list_dir(&root.join("nope")).await.unwrap().is_empty());

        fs.remove_dir_all(&root.join("a")).await.unwrap();
        fs.remove_dir_all(&root.join("a")).await.unwrap();
        assert!(!Path::new(&sub).exists());
    });
}

#[test]
fn rename_and_remove_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    run(move || async move {
        let fs = DmaStorage;
        fs.write_file_atomic(&root.join("a"), b"one").await.unwrap();
        fs.write_file_atomic(&root.join("b"), b"two").await.unwrap();
        fs.rename(&root.join("a"), &root.join("b")).await.unwrap();
        fs.sync_dir(&root).await.unwrap();
        assert_eq!(
            fs.read_file(&root.join("b")).await.unwrap().unwrap(),
            b"one"
        );
        assert_eq!(fs.read_file(&root.join("a")).await.unwrap(), None);
        assert!(fs.rename(&root.join("a"), &root.join("c")).await.is_err());
        fs.remove_file(&root.join("b")).await.unwrap();
        fs.remove_file(&root.join("b")).await.unwrap();
        fs.sync_dir(&root).await.unwrap();
        assert!(fs.list_dir(&root).await.unwrap().is_empty());
    });
}
