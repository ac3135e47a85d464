//! The live rows by record id.
//!
//! The ids are in the store already, so the table holds row numbers only (4 bytes and a
//! control byte per slot) and compares a candidate's id in the store: a map of owned id
//! strings to rows held every id twice and cost about 70 bytes a record.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use rayon::prelude::*;
use rustc_hash::FxBuildHasher;

use crate::record::Records;

fn hash(id: &str) -> u64 {
    FxBuildHasher.hash_one(id.as_bytes())
}

/// Live rows by the record id they hold in a store.
#[derive(Default)]
pub(super) struct Ids {
    table: HashTable<u32>,
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
        let mut table = HashTable::with_capacity(hashes.len());
        for &(h, r) in &hashes {
            let id = records.id(r);
            match table.entry(h, |&o| records.id(o) == id, |&o| hash(records.id(o))) {
                hashbrown::hash_table::Entry::Occupied(_) => return None,
                hashbrown::hash_table::Entry::Vacant(e) => {
                    e.insert(r);
                }
            }
        }
        Some(Ids { table })
    }

    /// The live row holding `id`.
    pub(super) fn get(&self, records: &Records, id: &str) -> Option<u32> {
        self.table.find(hash(id), |&r| records.id(r) == id).copied()
    }

    /// Adds row `row` (its id not yet in the table).
    pub(super) fn insert(&mut self, records: &Records, row: u32) {
        self.table
            .insert_unique(hash(records.id(row)), row, |&r| hash(records.id(r)));
    }

    /// Takes away row `row`.
    pub(super) fn remove(&mut self, records: &Records, row: u32) {
        if let Ok(e) = self.table.find_entry(hash(records.id(row)), |&r| r == row) {
            e.remove();
        }
    }
}
