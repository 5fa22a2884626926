//! MemStorage: semantics shared with the real backend, plus crash and fault injection.

use std::path::{Path, PathBuf};

use futures_lite::future::block_on;
use vexfs_io::mem::{FaultConfig, MemStorage};
use vexfs_io::{Error, File, Storage};

fn p(s: &str) -> PathBuf {
    PathBuf::from(s)
}

#[test]
fn write_read_sync_size_truncate() {
    block_on(async {
        let fs = MemStorage::new(1);
        fs.create_dir_all(&p("/d")).await.unwrap();
        let f = fs.open(&p("/d/f")).await.unwrap();
        assert_eq!(f.alignment(), 512);
        let data: Vec<u8> = (0..1024u32).map(|i| i as u8).collect();
        f.write_at(512, &data).await.unwrap();
        assert_eq!(f.size().await.unwrap(), 1536);
        assert_eq!(f.read_at(512, 2000).await.unwrap(), data);
        assert_eq!(f.read_at(0, 4).await.unwrap(), vec![0; 4]);
        assert_eq!(f.read_at(5000, 4).await.unwrap(), Vec::<u8>::new());
        f.sync_data().await.unwrap();
        f.truncate(600).await.unwrap();
        assert_eq!(f.size().await.unwrap(), 600);
        f.preallocate(1 << 20).await.unwrap();
        assert_eq!(f.size().await.unwrap(), 600);
        assert_eq!(fs.stats().syncs, 1);
        assert_eq!(fs.stats().writes, 1);
    });
}

#[test]
fn alignment_is_enforced() {
    block_on(async {
        let fs = MemStorage::with_alignment(1, 4096);
        let f = fs.open(&p("f")).await.unwrap();
        assert!(matches!(
            f.write_at(512, &[0; 4096]).await,
            Err(Error::Invalid(_))
        ));
        assert!(matches!(
            f.write_at(0, &[0; 512]).await,
            Err(Error::Invalid(_))
        ));
        f.write_at(4096, &[1; 4096]).await.unwrap();
    });
}

#[test]
fn open_needs_parent_dir() {
    block_on(async {
        let fs = MemStorage::new(1);
        assert!(fs.open(&p("/missing/f")).await.is_err());
        fs.create_dir_all(&p("/missing")).await.unwrap();
        assert!(fs.open(&p("/missing/f")).await.is_ok());
    });
}

#[test]
fn crash_drops_unsynced_data() {
    block_on(async {
        let fs = MemStorage::new(9);
        fs.set_faults(FaultConfig::none());
        fs.create_dir_all(&p("/d")).await.unwrap();
        let f = fs.open(&p("/d/f")).await.unwrap();
        f.write_at(0, &[1; 512]).await.unwrap();
        f.sync_data().await.unwrap();
        f.write_at(512, &[2; 512]).await.unwrap();
        f.write_at(0, &[3; 512]).await.unwrap();
        fs.crash();
        // The old handle belongs to the dead process.
        assert!(f.read_at(0, 1).await.is_err());
        let f = fs.open(&p("/d/f")).await.unwrap();
        assert_eq!(f.read_at(0, 4096).await.unwrap(), vec![1; 512]);
    });
}

#[test]
fn unsynced_new_file_is_forgotten_by_crash() {
    block_on(async {
        let fs = MemStorage::new(9);
        fs.create_dir_all(&p("/d")).await.unwrap();
        fs.open(&p("/d/a")).await.unwrap();
        let b = fs.open(&p("/d/b")).await.unwrap();
        b.sync_data().await.unwrap();
        fs.open(&p("/d/c")).await.unwrap();
        assert_eq!(fs.list_dir(&p("/d")).await.unwrap(), vec!["a", "b", "c"]);
        fs.crash();
        assert_eq!(fs.list_dir(&p("/d")).await.unwrap(), vec!["b"]);
        fs.open(&p("/d/c")).await.unwrap();
        fs.sync_dir(&p("/d")).await.unwrap();
        fs.crash();
        assert_eq!(fs.list_dir(&p("/d")).await.unwrap(), vec!["b", "c"]);
    });
}

#[test]
fn crash_may_keep_torn_prefixes_of_unsynced_writes() {
    // Over many seeds, crash outcomes must include dropped, whole and partial writes, and the
    // synced prefix must always survive.
    let (mut dropped, mut whole, mut partial) = (0, 0, 0);
    for seed in 0..200 {
        block_on(async {
            let fs = MemStorage::new(seed);
            let f = fs.open(&p("f")).await.unwrap();
            f.write_at(0, &[1; 512]).await.unwrap();
            f.sync_data().await.unwrap();
            f.write_at(512, &[2; 2048]).await.unwrap();
            fs.crash();
            let got = fs.contents(&p("f")).unwrap();
            assert_eq!(&got[..512], &[1; 512]);
            let survived = got[512..].iter().filter(|b| **b == 2).count();
            match survived {
                0 => dropped += 1,
                2048 => whole += 1,
                _ => partial += 1,
            }
        });
    }
    assert!(
        dropped > 0 && whole > 0 && partial > 0,
        "{dropped} {whole} {partial}"
    );
}

#[test]
fn injected_eio_on_write_and_sync() {
    block_on(async {
        let fs = MemStorage::new(5);
        let f = fs.open(&p("f")).await.unwrap();
        f.sync_data().await.unwrap();
        fs.set_faults(FaultConfig {
            write_eio: 1.0,
            ..FaultConfig::none()
        });
        assert!(matches!(
            f.write_at(0, &[1; 512]).await,
            Err(Error::Injected { .. })
        ));
        fs.set_faults(FaultConfig {
            sync_eio: 1.0,
            ..FaultConfig::none()
        });
        f.write_at(0, &[1; 512]).await.unwrap();
        assert!(matches!(f.sync_data().await, Err(Error::Injected { .. })));
        fs.crash();
        assert_eq!(
            fs.contents(&p("f")),
            Some(vec![]),
            "failed sync made nothing durable"
        );
        assert!(fs.stats().faults >= 2);
    });
}

#[test]
fn torn_write_powers_off_until_crash() {
    block_on(async {
        let fs = MemStorage::new(5);
        let f = fs.open(&p("f")).await.unwrap();
        f.sync_data().await.unwrap();
        fs.set_faults(FaultConfig {
            torn_write: 1.0,
            ..FaultConfig::default()
        });
        assert!(f.write_at(0, &[7; 4096]).await.is_err());
        assert!(fs.is_powered_off());
        fs.set_faults(FaultConfig::default());
        assert!(f.sync_data().await.is_err(), "power is off");
        assert!(fs.open(&p("g")).await.is_err());
        fs.crash();
        assert!(!fs.is_powered_off());
        let got = fs.contents(&p("f")).unwrap();
        assert!(got.len() <= 4096 && got.iter().all(|b| *b == 0 || *b == 7));
    });
}

#[test]
fn atomic_write_is_old_or_new_across_crashes() {
    for seed in 0..100 {
        block_on(async {
            let fs = MemStorage::new(seed);
            fs.create_dir_all(&p("/m")).await.unwrap();
            let path = Path::new("/m/meta");
            fs.write_file_atomic(path, b"old").await.unwrap();
            fs.set_faults(FaultConfig {
                write_eio: 0.2,
                sync_eio: 0.2,
                torn_write: 0.2,
                ..FaultConfig::default()
            });
            let ok = fs.write_file_atomic(path, b"new content").await.is_ok();
            fs.crash();
            fs.set_faults(FaultConfig::none());
            let got = fs.read_file(path).await.unwrap().unwrap();
            if ok {
                assert_eq!(got, b"new content");
            } else {
                assert_eq!(got, b"old");
            }
        });
    }
}

#[test]
fn remove_and_list() {
    block_on(async {
        let fs = MemStorage::new(1);
        fs.create_dir_all(&p("/a/b/c")).await.unwrap();
        fs.open(&p("/a/b/f")).await.unwrap();
        assert_eq!(fs.list_dir(&p("/a/b")).await.unwrap(), vec!["c", "f"]);
        assert_eq!(fs.list_dir(&p("/a")).await.unwrap(), vec!["b"]);
        fs.remove_dir_all(&p("/a/b")).await.unwrap();
        fs.remove_dir_all(&p("/a/b")).await.unwrap();
        assert!(fs.list_dir(&p("/a")).await.unwrap().is_empty());
        assert_eq!(fs.read_file(&p("/a/b/f")).await.unwrap(), None);
    });
}

#[test]
fn rename_and_remove_are_visible_at_once_and_durable_at_sync_dir() {
    block_on(async {
        let fs = MemStorage::new(3);
        fs.set_faults(FaultConfig::none());
        fs.create_dir_all(&p("/d")).await.unwrap();
        let f = fs.open(&p("/d/a")).await.unwrap();
        f.write_at(0, &[7; 512]).await.unwrap();
        f.sync_data().await.unwrap();
        fs.open(&p("/d/gone")).await.unwrap();
        fs.sync_dir(&p("/d")).await.unwrap();

        fs.rename(&p("/d/a"), &p("/d/b")).await.unwrap();
        fs.remove_file(&p("/d/gone")).await.unwrap();
        fs.remove_file(&p("/d/never")).await.unwrap();
        assert_eq!(fs.list_dir(&p("/d")).await.unwrap(), vec!["b"]);
        assert_eq!(fs.read_file(&p("/d/b")).await.unwrap(), Some(vec![7; 512]));
        // Syncing the data persists no rename; a crash brings back the old names.
        f.sync_data().await.unwrap();
        fs.crash();
        assert_eq!(fs.list_dir(&p("/d")).await.unwrap(), vec!["a", "gone"]);

        fs.rename(&p("/d/a"), &p("/d/b")).await.unwrap();
        fs.remove_file(&p("/d/gone")).await.unwrap();
        fs.sync_dir(&p("/d")).await.unwrap();
        fs.crash();
        assert_eq!(fs.list_dir(&p("/d")).await.unwrap(), vec!["b"]);
        assert_eq!(fs.read_file(&p("/d/b")).await.unwrap(), Some(vec![7; 512]));
    });
}

#[test]
fn rename_replaces_the_target_and_checks_its_arguments() {
    block_on(async {
        let fs = MemStorage::new(4);
        fs.create_dir_all(&p("/d/sub")).await.unwrap();
        fs.write_file_atomic(&p("/d/x"), b"new").await.unwrap();
        fs.write_file_atomic(&p("/d/y"), b"old").await.unwrap();
        fs.rename(&p("/d/x"), &p("/d/y")).await.unwrap();
        assert_eq!(fs.read_file(&p("/d/y")).await.unwrap().unwrap(), b"new");
        assert_eq!(fs.read_file(&p("/d/x")).await.unwrap(), None);
        assert!(fs.rename(&p("/d/x"), &p("/d/z")).await.is_err());
        assert!(fs.rename(&p("/d/y"), &p("/nope/z")).await.is_err());
        assert!(fs.rename(&p("/d/y"), &p("/d/sub")).await.is_err());
    });
}

/// Runs a fixed faulty workload and returns everything observable about it.
fn faulty_run(seed: u64) -> (Vec<bool>, Vec<u8>, u64) {
    block_on(async {
        let fs = MemStorage::new(seed);
        fs.set_faults(FaultConfig {
            write_eio: 0.1,
            sync_eio: 0.1,
            ..FaultConfig::default()
        });
        let f = fs.open(&p("f")).await.unwrap();
        let mut results = Vec::new();
        for i in 0..40u64 {
            results.push(f.write_at(i * 512, &[i as u8; 512]).await.is_ok());
            if i % 3 == 0 {
                results.push(f.sync_data().await.is_ok());
            }
        }
        fs.crash();
        (results, fs.contents(&p("f")).unwrap(), fs.stats().faults)
    })
}

#[test]
fn same_seed_same_behaviour() {
    assert_eq!(faulty_run(42), faulty_run(42));
    let differs = (0..10).any(|s| faulty_run(s) != faulty_run(42));
    assert!(differs);
}
