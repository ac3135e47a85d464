//! The rows of each blocking key: one bucket table per blocking rule.

use rayon::prelude::*;
use rustc_hash::FxHashMap;

/// Rows per bucket of one blocking rule: a CSR table from the build, plus inserts since.
#[derive(Default)]
pub(super) struct Block {
    pub(super) table: FxHashMap<u64, (u32, u32)>,
    pub(super) rows: Vec<u32>,
    pub(super) extra: FxHashMap<u64, Vec<u32>>,
}

impl Block {
    pub(super) fn build(keys: Vec<(u64, u32)>) -> Block {
        let mut keys = keys;
        keys.par_sort_unstable();
        let mut b = Block {
            table: FxHashMap::default(),
            rows: Vec::with_capacity(keys.len()),
            extra: FxHashMap::default(),
        };
        let mut i = 0;
        while i < keys.len() {
            let h = keys[i].0;
            let start = b.rows.len() as u32;
            while i < keys.len() && keys[i].0 == h {
                b.rows.push(keys[i].1);
                i += 1;
            }
            b.table.insert(h, (start, b.rows.len() as u32 - start));
        }
        b
    }

    pub(super) fn rows(&self, h: u64) -> impl Iterator<Item = u32> + '_ {
        let built = self
            .table
            .get(&h)
            .map_or(&[][..], |&(s, n)| &self.rows[s as usize..(s + n) as usize]);
        let extra = self.extra.get(&h).map_or(&[][..], Vec::as_slice);
        built.iter().chain(extra).copied()
    }
}
