//! The rows of each blocking key: one bucket table per blocking rule.
//!
//! A rule's buckets are 64-bit hashes of its keys' values (see `keys::bucket`), spread
//! evenly over the 64-bit range. The table built from a population is flat arrays, not a
//! hash map: its (bucket, row) entries sorted by bucket, a directory on the buckets' top
//! `bits` bits (about one slot per four to eight entries), and per entry only the 32 bits of
//! its bucket below those and its row. A lookup reads one directory slot and searches a
//! few neighbouring entries: two or three cache lines. That is about 8.75 bytes per entry,
//! where a hash map of buckets to (start, count) plus the rows took 20 to 38; and the arrays
//! are written to and read from the index file as they are, with nothing to rebuild.
//!
//! Two buckets that agree on their top `bits + 32` bits share entries, so a lookup may
//! return a row of another bucket: one in about 2^32 per neighbouring entry. As with a
//! collision of the full 64-bit hash, that only adds a candidate, which is then scored.
//! Rows inserted after the build go to a small hash map beside the arrays.

use rayon::prelude::*;
use rustc_hash::FxHashMap;

/// Entries per directory slot, at most (on average four to eight).
const PER_SLOT: usize = 8;

/// Rows per bucket of one blocking rule: sorted arrays from the build, plus inserts since.
#[derive(Default)]
pub(super) struct Block {
    /// Directory bits: slot `s` holds the entries whose bucket's top `bits` bits are `s`.
    pub(super) bits: u32,
    /// `dir[s]..dir[s + 1]` are slot `s`'s entries (`2^bits + 1` values).
    pub(super) dir: Vec<u32>,
    /// Per entry: the 32 bits of its bucket below the top `bits`, ascending in a slot.
    pub(super) fps: Vec<u32>,
    /// Per entry: its row.
    pub(super) rows: Vec<u32>,
    /// Rows inserted since the build, by bucket.
    pub(super) extra: FxHashMap<u64, Vec<u32>>,
}

/// The directory bits for `n` entries: enough slots that each holds at most `PER_SLOT`
/// entries on average, and at least one bit.
fn bits_for(n: usize) -> u32 {
    (usize::BITS - (n / PER_SLOT).max(1).leading_zeros()).clamp(1, 32)
}

/// The slot and the 32 bits below it of bucket `h`.
#[inline]
fn split(h: u64, bits: u32) -> (usize, u32) {
    ((h >> (64 - bits)) as usize, ((h << bits) >> 32) as u32)
}

impl Block {
    /// The table of (bucket, row) pairs, in any order.
    pub(super) fn build(keys: Vec<(u64, u32)>) -> Block {
        let mut pairs = keys;
        pairs.par_sort_unstable();
        let n = pairs.len();
        let bits = bits_for(n);
        let slots = 1usize << bits;
        let mut b = Block {
            bits,
            dir: Vec::with_capacity(slots + 1),
            fps: Vec::with_capacity(n),
            rows: Vec::with_capacity(n),
            extra: FxHashMap::default(),
        };
        for (i, &(h, row)) in pairs.iter().enumerate() {
            let (slot, fp) = split(h, bits);
            while b.dir.len() <= slot {
                b.dir.push(i as u32);
            }
            b.fps.push(fp);
            b.rows.push(row);
        }
        while b.dir.len() <= slots {
            b.dir.push(n as u32);
        }
        b
    }

    /// The table from its saved arrays, or `None` when they are not a table: a directory of
    /// another size or not ascending from 0 to the entry count, entries out of order in a
    /// slot, or a row at or past `records`.
    pub(super) fn from_parts(
        bits: u32,
        dir: Vec<u32>,
        fps: Vec<u32>,
        rows: Vec<u32>,
        records: u32,
    ) -> Option<Block> {
        let ok = (1..=32).contains(&bits)
            && dir.len() == (1usize << bits) + 1
            && dir.first() == Some(&0)
            && dir.last().map(|&d| d as usize) == Some(fps.len())
            && fps.len() == rows.len()
            && dir.windows(2).all(|w| w[0] <= w[1])
            && dir.par_windows(2).all(|w| {
                fps[w[0] as usize..w[1] as usize]
                    .windows(2)
                    .all(|f| f[0] <= f[1])
            })
            && rows.par_iter().all(|&r| r < records);
        ok.then(|| Block {
            bits,
            dir,
            fps,
            rows,
            extra: FxHashMap::default(),
        })
    }

    /// The built entries of bucket `h` (and, rarely, of a bucket agreeing with it on its
    /// top `bits + 32` bits).
    #[inline]
    fn built(&self, h: u64) -> &[u32] {
        if self.rows.is_empty() {
            return &[];
        }
        let (slot, fp) = split(h, self.bits);
        let (lo, hi) = (self.dir[slot] as usize, self.dir[slot + 1] as usize);
        let fps = &self.fps[lo..hi];
        let start = fps.partition_point(|&f| f < fp);
        let end = start + fps[start..].partition_point(|&f| f == fp);
        &self.rows[lo + start..lo + end]
    }

    /// Rows in bucket `h`: the build's, then those inserted since.
    pub(super) fn rows(&self, h: u64) -> impl Iterator<Item = u32> + '_ {
        let extra = self.extra.get(&h).map_or(&[][..], Vec::as_slice);
        self.built(h).iter().chain(extra).copied()
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
            .chain([0, 1 << 31, 2 << 31, u64::MAX, u64::MAX - (1 << 31)])
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
        assert!(all(&b, 3 << 31).is_empty());
        assert!(all(&b, u64::MAX - (2 << 31)).is_empty());
        // A bucket that differs from a built one only in its low bits shares its entries
        // (an extra candidate, scored like any other).
        assert_eq!(all(&b, 1), all(&b, 0));
        // The saved arrays give the same table back.
        let c = Block::from_parts(
            b.bits,
            b.dir.clone(),
            b.fps.clone(),
            b.rows.clone(),
            1 << 20,
        )
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
        // One bit: two slots; entries 0-1 in slot 0, entry 2 in slot 1.
        let ok = |bits: u32, d: Vec<u32>, f: Vec<u32>, r: Vec<u32>| {
            Block::from_parts(bits, d, f, r, 10).is_some()
        };
        assert!(ok(1, vec![0, 2, 3], vec![1, 5, 0], vec![3, 4, 5]));
        assert!(
            ok(1, vec![0, 2, 3], vec![5, 5, 0], vec![3, 4, 5]),
            "equal bits"
        );
        let refused = [
            (
                "out of order in a slot",
                1,
                vec![0, 2, 3],
                vec![5, 1, 0],
                vec![3, 4, 5],
            ),
            (
                "directory size",
                2,
                vec![0, 2, 3],
                vec![1, 5, 0],
                vec![3, 4, 5],
            ),
            ("no bits", 0, vec![0, 3], vec![1, 5, 0], vec![3, 4, 5]),
            ("not from 0", 1, vec![1, 2, 3], vec![1, 5, 0], vec![3, 4, 5]),
            (
                "past the entries",
                1,
                vec![0, 2, 4],
                vec![1, 5, 0],
                vec![3, 4, 5],
            ),
            (
                "a row past the store",
                1,
                vec![0, 2, 3],
                vec![1, 5, 0],
                vec![3, 4, 10],
            ),
            (
                "lengths differ",
                1,
                vec![0, 2, 3],
                vec![1, 5],
                vec![3, 4, 5],
            ),
        ];
        for (why, bits, d, f, r) in refused {
            assert!(!ok(bits, d, f, r), "{why}");
        }
    }
}
