//! The rows of each blocking key: one bucket table per blocking rule.
//!
//! A rule's buckets are 64-bit hashes of its keys' values (see `keys::bucket`), so they are
//! spread evenly over the 64-bit range. The table built from a population is three flat
//! arrays, not a hash map: the distinct bucket hashes sorted, where each bucket's rows start,
//! and the rows. A directory on the hashes' top bits narrows a lookup to about eight
//! neighbouring hashes (one or two cache lines), searched in place. That is about 12.5 bytes
//! per distinct bucket and 4 per row, where a hash map of (start, count) took 20 to 34 bytes
//! per bucket; and the arrays are written to and read from the index file as they are, with
//! nothing to rebuild. Rows inserted after the build go to a small hash map beside it.

use rayon::prelude::*;
use rustc_hash::FxHashMap;

/// Distinct hashes per directory slot, on average.
const PER_SLOT: usize = 8;

/// Rows per bucket of one blocking rule: sorted arrays from the build, plus inserts since.
#[derive(Default)]
pub(super) struct Block {
    /// The distinct bucket hashes of the build, ascending.
    pub(super) keys: Vec<u64>,
    /// `starts[k]..starts[k + 1]` are bucket `keys[k]`'s positions in `rows`.
    pub(super) starts: Vec<u32>,
    /// The rows, bucket by bucket, ascending within a bucket.
    pub(super) rows: Vec<u32>,
    /// `dir[s]` is the first key whose top `bits` bits are `s` or more (`2^bits + 1`
    /// entries).
    dir: Vec<u32>,
    bits: u32,
    /// Rows inserted since the build, by bucket.
    pub(super) extra: FxHashMap<u64, Vec<u32>>,
}

impl Block {
    /// The table of (bucket, row) pairs, in any order.
    pub(super) fn build(keys: Vec<(u64, u32)>) -> Block {
        let mut pairs = keys;
        pairs.par_sort_unstable();
        let mut b = Block {
            rows: Vec::with_capacity(pairs.len()),
            ..Block::default()
        };
        for &(h, row) in &pairs {
            if b.keys.last() != Some(&h) {
                b.keys.push(h);
                b.starts.push(b.rows.len() as u32);
            }
            b.rows.push(row);
        }
        drop(pairs);
        b.starts.push(b.rows.len() as u32);
        b.keys.shrink_to_fit();
        b.starts.shrink_to_fit();
        b.index();
        b
    }

    /// The table from its saved arrays, or `None` when they are not a table: keys not
    /// strictly ascending, starts not ascending from 0 to the row count, or a row at or past
    /// `records`.
    pub(super) fn from_parts(
        keys: Vec<u64>,
        starts: Vec<u32>,
        rows: Vec<u32>,
        records: u32,
    ) -> Option<Block> {
        let ok = starts.len() == keys.len() + 1
            && starts.first() == Some(&0)
            && starts.last().map(|&s| s as usize) == Some(rows.len())
            && keys.windows(2).all(|w| w[0] < w[1])
            && starts.windows(2).all(|w| w[0] < w[1])
            && rows.iter().all(|&r| r < records);
        if !ok {
            return None;
        }
        let mut b = Block {
            keys,
            starts,
            rows,
            ..Block::default()
        };
        b.index();
        Some(b)
    }

    /// Builds the directory over the sorted keys.
    fn index(&mut self) {
        let n = self.keys.len();
        // Enough slots for about PER_SLOT keys each; at least one bit.
        self.bits = (usize::BITS - (n / PER_SLOT).max(1).leading_zeros()).clamp(1, 32);
        let slots = 1usize << self.bits;
        let shift = 64 - self.bits;
        let mut dir = Vec::with_capacity(slots + 1);
        let mut k = 0usize;
        for s in 0..slots as u64 {
            while k < n && (self.keys[k] >> shift) < s {
                k += 1;
            }
            dir.push(k as u32);
        }
        dir.push(n as u32);
        self.dir = dir;
    }

    /// The position of bucket `h` among the built keys.
    #[inline]
    fn find(&self, h: u64) -> Option<usize> {
        if self.keys.is_empty() {
            return None;
        }
        let s = (h >> (64 - self.bits)) as usize;
        let (lo, hi) = (self.dir[s] as usize, self.dir[s + 1] as usize);
        self.keys[lo..hi].binary_search(&h).ok().map(|i| lo + i)
    }

    /// Rows in bucket `h`: the build's, then those inserted since.
    pub(super) fn rows(&self, h: u64) -> impl Iterator<Item = u32> + '_ {
        let built = self.find(h).map_or(&[][..], |k| {
            &self.rows[self.starts[k] as usize..self.starts[k + 1] as usize]
        });
        let extra = self.extra.get(&h).map_or(&[][..], Vec::as_slice);
        built.iter().chain(extra).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(b: &Block, h: u64) -> Vec<u32> {
        b.rows(h).collect()
    }

    #[test]
    fn every_bucket_is_found_with_its_rows_and_no_other() {
        // Hashes at the ends of the range, in one slot, and spread out.
        let mut pairs = Vec::new();
        let hashes: Vec<u64> = (10..5010u64)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .chain([0, 1, 2, u64::MAX, u64::MAX - 1])
            .collect();
        for (i, &h) in hashes.iter().enumerate() {
            for r in 0..(i % 3 + 1) as u32 {
                pairs.push((h, i as u32 * 4 + r));
            }
        }
        let b = Block::build(pairs.clone());
        for (i, &h) in hashes.iter().enumerate() {
            let want: Vec<u32> = (0..(i % 3 + 1) as u32).map(|r| i as u32 * 4 + r).collect();
            assert_eq!(all(&b, h), want, "bucket {i}");
        }
        assert!(all(&b, 3).is_empty());
        assert!(all(&b, u64::MAX - 2).is_empty());
        // The saved arrays give the same table back.
        let c = Block::from_parts(b.keys.clone(), b.starts.clone(), b.rows.clone(), 1 << 20)
            .expect("a table");
        for &h in &hashes {
            assert_eq!(all(&b, h), all(&c, h));
        }
    }

    #[test]
    fn an_empty_table_finds_nothing_and_inserts_are_found() {
        let mut b = Block::build(Vec::new());
        assert!(all(&b, 42).is_empty());
        b.extra.entry(42).or_default().push(7);
        assert_eq!(all(&b, 42), vec![7]);
    }

    #[test]
    fn arrays_that_are_not_a_table_are_refused() {
        let ok = |k: Vec<u64>, s: Vec<u32>, r: Vec<u32>| Block::from_parts(k, s, r, 10).is_some();
        assert!(ok(vec![1, 5], vec![0, 1, 2], vec![3, 4]));
        assert!(
            !ok(vec![5, 1], vec![0, 1, 2], vec![3, 4]),
            "keys out of order"
        );
        assert!(!ok(vec![1, 1], vec![0, 1, 2], vec![3, 4]), "a key twice");
        assert!(
            !ok(vec![1, 5], vec![0, 2, 2], vec![3, 4]),
            "an empty bucket"
        );
        assert!(!ok(vec![1, 5], vec![0, 1, 3], vec![3, 4]), "past the rows");
        assert!(
            !ok(vec![1, 5], vec![0, 1, 2], vec![3, 10]),
            "a row past the store"
        );
        assert!(!ok(vec![1], vec![1, 2], vec![3, 4]), "not from 0");
    }
}
