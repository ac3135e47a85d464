//! The live rows by record id.
//!
//! The ids are in the store already, so the table holds row numbers only (4 bytes and a
//! control byte per slot) and compares a candidate's id in the store: a map of owned id
//! strings to rows held every id twice and cost about 70 bytes a record.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use rayon::prelude::*;
use rustc_hash::FxBuildHasher;

use crate::record::{Records, insert_unique};

fn hash(id: &str) -> u64 {
    FxBuildHasher.hash_one(id.as_bytes())
}

/// Shards, by the hash's top bits: built one per thread, each small enough to stay warm.
const SHARDS: usize = 16;

#[inline]
fn shard(h: u64) -> usize {
    (h >> 60) as usize
}

/// Live rows by the record id they hold in a store.
pub(super) struct Ids {
    shards: Vec<HashTable<u32>>,
}

impl Ids {
    /// The table of the rows of `records` for which `live` holds; `None` when two of them
    /// hold one id.
    pub(super) fn build(records: &Records, live: &[bool]) -> Option<Ids> {
        let hashes: Vec<(u64, u32)> = (0..records.len() as u32)
            .into_par_iter()
            .filter(|&r| live[r as usize])
            .map(|r| (hash(records.id(r)), r))
            .collect();
        let mut parts: Vec<Vec<(u64, u32)>> = vec![Vec::new(); SHARDS];
        for &(h, r) in &hashes {
            parts[shard(h)].push((h, r));
        }
        drop(hashes);
        let shards: Option<Vec<HashTable<u32>>> = parts
            .into_par_iter()
            .map(|part| {
                let mut table = HashTable::with_capacity(part.len());
                for (h, r) in part {
                    let id = records.id(r);
                    let same = |&o: &u32| records.id(o) == id;
                    if insert_unique(&mut table, h, r, same, |&o| hash(records.id(o))).is_some() {
                        return None;
                    }
                }
                Some(table)
            })
            .collect();
        Some(Ids { shards: shards? })
    }

    /// The live row holding `id`.
    pub(super) fn get(&self, records: &Records, id: &str) -> Option<u32> {
        let h = hash(id);
        self.shards[shard(h)]
            .find(h, |&r| records.id(r) == id)
            .copied()
    }

    /// Adds row `row` (its id not yet in the table).
    pub(super) fn insert(&mut self, records: &Records, row: u32) {
        let h = hash(records.id(row));
        self.shards[shard(h)].insert_unique(h, row, |&r| hash(records.id(r)));
    }

    /// Takes away row `row`.
    pub(super) fn remove(&mut self, records: &Records, row: u32) {
        let h = hash(records.id(row));
        if let Ok(e) = self.shards[shard(h)].find_entry(h, |&r| r == row) {
            e.remove();
        }
    }
}
