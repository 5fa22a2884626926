//! Fault configuration and the seeded random source that drives every fault decision.

/// Probabilities (0.0 ..= 1.0) of each injected fault. The default injects nothing at I/O time
/// but still tears unsynced writes on [`crate::mem::MemStorage::crash`], because that is what
/// power loss does.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultConfig {
    /// A `write_at` fails with an injected EIO after landing a random prefix (volatile).
    pub write_eio: f64,
    /// A `sync_data` fails with an injected EIO; nothing becomes durable.
    pub sync_eio: f64,
    /// A `read_at` fails with an injected EIO.
    pub read_eio: f64,
    /// Power is lost in the middle of a `write_at`: a random prefix lands (volatile), the call
    /// fails, and every later operation fails until [`crate::mem::MemStorage::crash`] is called.
    pub torn_write: f64,
    /// At `crash()`, chance that one unsynced write survives whole.
    pub crash_keep_write: f64,
    /// At `crash()`, chance that one unsynced write survives only partly: a random byte prefix,
    /// or a random subset of its alignment-sized sectors (disks reorder sector writes).
    pub crash_tear_write: f64,
    /// At `crash()`, chance that an unsynced truncate / extend survives.
    pub crash_keep_resize: f64,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            write_eio: 0.0,
            sync_eio: 0.0,
            read_eio: 0.0,
            torn_write: 0.0,
            crash_keep_write: 0.3,
            crash_tear_write: 0.3,
            crash_keep_resize: 0.5,
        }
    }
}

impl FaultConfig {
    /// No faults at all, and a crash drops every unsynced write.
    pub fn none() -> Self {
        FaultConfig {
            crash_keep_write: 0.0,
            crash_tear_write: 0.0,
            crash_keep_resize: 0.0,
            ..FaultConfig::default()
        }
    }
}

/// SplitMix64: tiny, fast, and good enough to make fault schedules reproducible from a seed.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`; `n` must be positive.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0)");
        self.next_u64() % n
    }

    /// True with probability `p` (clamped to 0..=1). Draws a number even when `p` is 0 or 1 so
    /// that changing one probability does not shift every later decision.
    pub fn chance(&mut self, p: f64) -> bool {
        let x = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        x < p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }

    #[test]
    fn chance_extremes() {
        let mut r = Rng::new(3);
        assert!((0..1000).all(|_| !r.chance(0.0)));
        assert!((0..1000).all(|_| r.chance(1.0)));
    }
}
