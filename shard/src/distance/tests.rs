//! Property tests: every kernel set this CPU can run against its scalar twin, on random
//! lengths (0..2000, so every tail length of every lane width shows up) and random values.

use super::float16::{self, f16};
use super::{available, dot, manhattan, scalar, squared_euclid, uint8, Kernels};

/// Random cases per kernel set and metric.
const CASES: usize = 400;
/// Longest vector tried (exclusive).
const LEN_MAX: usize = 2000;
/// Allowed difference relative to the sum of the terms' magnitudes: f32 sums of up to 2000
/// terms in different orders differ by a few ulps of that sum, far below this.
const REL_TOL: f64 = 1e-5;

/// xorshift64*: a seeded, dependency-free source of test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Uniform in [-scale, scale).
    fn f32(&mut self, scale: f32) -> f32 {
        ((self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
    }
    fn f32s(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.f32(scale)).collect()
    }
}

/// Sum of |term| in f64: the magnitude the tolerance is relative to.
fn magnitude(a: &[f32], b: &[f32], term: fn(f64, f64) -> f64) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| term(f64::from(*x), f64::from(*y)).abs())
        .sum()
}

fn assert_close(got: f32, want: f32, magnitude: f64, what: &str) {
    let diff = (f64::from(got) - f64::from(want)).abs();
    assert!(
        diff <= REL_TOL * magnitude + 1e-6,
        "{what}: got {got}, scalar twin {want}, |diff| {diff}, magnitude {magnitude}"
    );
}

/// Checks every non-scalar set against `twin` on random inputs built by `make`.
fn check_sets<Q, S>(
    sets: &[Kernels<Q, S>],
    twin: &Kernels<Q, S>,
    seed: u64,
    make: impl Fn(&mut Rng, usize) -> (Vec<Q>, Vec<S>, Vec<f32>, Vec<f32>),
) {
    assert_eq!(sets.last().map(|k| k.isa), Some("scalar"));
    let mut rng = Rng(seed);
    for set in sets {
        for case in 0..CASES {
            // Some exact multiples of every lane width, the rest anywhere.
            let len = if case % 10 == 0 {
                64 * rng.below(LEN_MAX / 64)
            } else {
                rng.below(LEN_MAX)
            };
            let (q, s, qf, sf) = make(&mut rng, len);
            let what = |m: &str| format!("{} {m} len {len}", set.isa);
            let dot_mag = magnitude(&qf, &sf, |x, y| x * y);
            assert_close((set.dot)(&q, &s), (twin.dot)(&q, &s), dot_mag, &what("dot"));
            let l2_mag = magnitude(&qf, &sf, |x, y| (x - y) * (x - y));
            let (got, want) = ((set.squared_euclid)(&q, &s), (twin.squared_euclid)(&q, &s));
            assert_close(got, want, l2_mag, &what("squared_euclid"));
            let l1_mag = magnitude(&qf, &sf, |x, y| x - y);
            let (got, want) = ((set.manhattan)(&q, &s), (twin.manhattan)(&q, &s));
            assert_close(got, want, l1_mag, &what("manhattan"));
        }
    }
}

#[test]
fn f32_sets_match_scalar_twin() {
    check_sets(&available(), &scalar::KERNELS, 0x5eed_0001, |rng, len| {
        let scale = if rng.below(2) == 0 { 1.0 } else { 1000.0 };
        let (a, b) = (rng.f32s(len, scale), rng.f32s(len, scale));
        (a.clone(), b.clone(), a, b)
    });
}

#[test]
fn f16_sets_match_scalar_twin() {
    check_sets(
        &float16::available(),
        &float16::scalar::KERNELS,
        0x5eed_0002,
        |rng, len| {
            let q = rng.f32s(len, 2.0);
            let s: Vec<f16> = rng.f32s(len, 2.0).into_iter().map(f16::from_f32).collect();
            let sf = s.iter().map(|x| x.to_f32()).collect();
            (q.clone(), s, q, sf)
        },
    );
}

#[test]
fn u8_sets_equal_scalar_twin_exactly() {
    let sets = uint8::available();
    let mut rng = Rng(0x5eed_0003);
    for set in &sets {
        for _ in 0..CASES {
            let len = rng.below(LEN_MAX);
            let a: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let twin = &uint8::scalar::KERNELS;
            assert_eq!(
                (set.dot)(&a, &b),
                (twin.dot)(&a, &b),
                "{} dot {len}",
                set.isa
            );
            let l2 = ((set.squared_euclid)(&a, &b), (twin.squared_euclid)(&a, &b));
            assert_eq!(l2.0, l2.1, "{} squared_euclid {len}", set.isa);
            let l1 = ((set.manhattan)(&a, &b), (twin.manhattan)(&a, &b));
            assert_eq!(l1.0, l1.1, "{} manhattan {len}", set.isa);
        }
    }
}

#[test]
fn u8_sums_past_the_lane_flush_stay_exact() {
    // All-255 vectors make every i32 lane as large as possible; 200,000 elements cross the
    // flush boundary three times.
    let len = 200_000;
    let a = vec![255u8; len];
    let z = vec![0u8; len];
    let max = (len as u64 * 255 * 255) as f32;
    for set in uint8::available() {
        assert_eq!((set.dot)(&a, &a), max, "{}", set.isa);
        assert_eq!((set.squared_euclid)(&a, &z), max, "{}", set.isa);
        assert_eq!(
            (set.manhattan)(&a, &z),
            (len as u64 * 255) as f32,
            "{}",
            set.isa
        );
    }
}

#[test]
fn known_values() {
    let (a, b) = ([1.0, 2.0, 3.0], [4.0, -5.0, 6.0]);
    assert_eq!(dot(&a, &b), 12.0);
    assert_eq!(squared_euclid(&a, &b), 9.0 + 49.0 + 9.0);
    assert_eq!(manhattan(&a, &b), 3.0 + 7.0 + 3.0);
    let bh: Vec<f16> = b.iter().map(|x| f16::from_f32(*x)).collect();
    assert_eq!(float16::dot(&a, &bh), 12.0);
    assert_eq!(float16::squared_euclid(&a, &bh), 67.0);
    assert_eq!(float16::manhattan(&a, &bh), 13.0);
    assert_eq!(uint8::dot(&[1, 2, 3], &[4, 5, 6]), 32.0);
    assert_eq!(
        uint8::squared_euclid(&[1, 200, 3], &[4, 5, 6]),
        9.0 + 38025.0 + 9.0
    );
    assert_eq!(
        uint8::manhattan(&[1, 200, 3], &[4, 5, 6]),
        3.0 + 195.0 + 3.0
    );
}

#[test]
fn mismatched_lengths_use_the_shorter_and_never_panic() {
    let a: Vec<f32> = (0..100).map(|i| i as f32).collect();
    let b = vec![1.0f32; 37];
    let want: f32 = (0..37).map(|i| i as f32).sum();
    for set in available() {
        assert_eq!((set.dot)(&a[..100], &b), want, "{}", set.isa);
        assert_eq!((set.dot)(&b, &a[..100]), want, "{}", set.isa);
    }
}

#[test]
fn this_cpu_gets_its_best_set() {
    let isas: Vec<&str> = available().iter().map(|k| k.isa).collect();
    assert_eq!(super::active().isa, isas[0]);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        assert_eq!(isas[0], "avx512f");
    }
}
