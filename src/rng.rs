//! A small, fixed pseudo-random number generator, shared by training (its random pairs) and
//! the synthetic-data generator.
//!
//! The generator is written out here rather than taken from a crate so that trained models
//! and synthetic files never change when a dependency is upgraded: the same seed gives the
//! same bytes in every version of carematch that keeps this file unchanged. `SplitMix64`
//! expands a 64-bit seed into the state of xoshiro256** (Blackman and Vigna, 2018).

/// `SplitMix64`'s output function: a strong 64-bit mixer (a bijection).
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A hash of `(seed, stream, index)`, used to seed independent generators.
pub(crate) fn hash3(seed: u64, stream: u64, index: u64) -> u64 {
    let a = mix(seed ^ 0x9e37_79b9_7f4a_7c15);
    let b = mix(a ^ stream.wrapping_mul(0xd6e8_feb8_6659_fd93));
    mix(b ^ index.wrapping_mul(0xa076_1d64_78bd_642f))
}

/// xoshiro256** seeded by `SplitMix64`.
#[derive(Clone, Debug)]
pub(crate) struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator for `(seed, stream, index)`.
    pub(crate) fn new(seed: u64, stream: u64, index: u64) -> Rng {
        let mut x = hash3(seed, stream, index);
        let mut s = [0u64; 4];
        for word in &mut s {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            *word = mix(x);
        }
        // SplitMix64 outputs are a bijection of distinct inputs, so the state is never all
        // zero in practice; guard anyway.
        if s == [0; 4] {
            s[0] = 1;
        }
        Rng { s }
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// A number in `0..n` (0 when `n` is 0), by Lemire's multiply-shift (bias below 2^-32
    /// for the small `n` used here).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// An index into a slice of length `n`.
    pub(crate) fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// A number in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// A float in `[0, 1)` with 53 random bits.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p` (clamped to `[0, 1]`).
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let mut a = Rng::new(7, 1, 3);
        let mut b = Rng::new(7, 1, 3);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let mut c = Rng::new(7, 1, 4);
        assert_ne!(Rng::new(7, 1, 3).next_u64(), c.next_u64());
    }

    /// Pins the generator: if this changes, every synthetic file changes.
    #[test]
    fn output_is_pinned() {
        let mut r = Rng::new(0, 0, 0);
        assert_eq!(r.next_u64(), 0xb91f_665d_b5de_b69e);
        assert_eq!(mix(0), 0);
        assert_eq!(mix(1), 0x5692_161d_100b_05e5);
    }

    #[test]
    fn below_and_unit_stay_in_range() {
        let mut r = Rng::new(1, 2, 3);
        for n in 1..50u64 {
            for _ in 0..50 {
                assert!(r.below(n) < n);
            }
        }
        for _ in 0..1000 {
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
        }
        assert_eq!(r.range(5, 5), 5);
    }
}
