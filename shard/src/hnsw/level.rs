//! Deterministic level assignment. The engine never reads the clock or the OS for randomness:
//! the same points inserted in the same order build the same graph on every run.

use super::HNSW_MAX_LEVEL;

/// Seed of every graph's level generator (any constant works; this one is splitmix64's
/// increment, the golden ratio in 64 bits).
pub const HNSW_LEVEL_SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// splitmix64: tiny, full-period, good enough to draw levels.
pub(crate) struct LevelRng {
    state: u64,
}

impl LevelRng {
    pub fn new(seed: u64) -> Self {
        LevelRng { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform draw in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// Level of the next node: ⌊−ln(u) / ln(m)⌋, the HNSW paper's choice of mL = 1/ln(M),
    /// capped at [`HNSW_MAX_LEVEL`].
    pub fn level(&mut self, m: usize) -> usize {
        let m = m.max(2) as f64;
        let level = (-self.unit().ln() / m.ln()).floor();
        (level as usize).min(HNSW_MAX_LEVEL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_deterministic_and_geometric() {
        let mut a = LevelRng::new(HNSW_LEVEL_SEED);
        let mut b = LevelRng::new(HNSW_LEVEL_SEED);
        let la: Vec<usize> = (0..10_000).map(|_| a.level(16)).collect();
        let lb: Vec<usize> = (0..10_000).map(|_| b.level(16)).collect();
        assert_eq!(la, lb);
        // P(level ≥ 1) = 1/16: expect about 625 of 10 000.
        let upper = la.iter().filter(|&&l| l >= 1).count();
        assert!((450..800).contains(&upper), "{upper} nodes above layer 0");
    }
}
