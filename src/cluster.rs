//! Clustering links into people.
//!
//! Links are merged with union-find. A merge that would put two different valid NHS numbers
//! into one person is refused and counted: two records that each link to a third record, but
//! carry different NHS numbers, are two people (the classic chain "twin A - mother's record -
//! twin B"). Links are merged in a fixed order (rule, then record ids), so the result does not
//! depend on input order or thread count.
//!
//! A person id is derived from the person's smallest member, `(source index, record id)`:
//! `P` and 16 hex digits of a BLAKE3 hash of it. The same links give the same ids on every
//! run, whatever the row order; a person keeps its id while its smallest member stays.

use std::fmt;
use std::path::Path;

use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::Error;
use crate::block::Pair;
use crate::record::Records;

/// Person clusters over the rows of a [`Records`] store.
#[derive(Clone)]
pub struct Clusters {
    /// Per row: index into `ids`.
    of_row: Vec<u32>,
    /// Per cluster: the person id.
    ids: Vec<String>,
    /// Merges refused because of conflicting NHS numbers.
    refused: u64,
}

impl std::fmt::Debug for Clusters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clusters")
            .field("rows", &self.of_row.len())
            .field("clusters", &self.ids.len())
            .field("refused", &self.refused)
            .finish()
    }
}

/// The root of `x` in the union-find forest `parent`, halving the path on the way (shared
/// by the clusters and the error estimate's competition).
pub(crate) fn find_root(parent: &mut [u32], mut x: u32) -> u32 {
    while parent[x as usize] != x {
        let p = parent[parent[x as usize] as usize];
        parent[x as usize] = p;
        x = p;
    }
    x
}

struct UnionFind {
    parent: Vec<u32>,
    /// Per root: the valid NHS number the cluster holds, 0 for none.
    nhs: Vec<u64>,
}

impl UnionFind {
    fn find(&mut self, x: u32) -> u32 {
        find_root(&mut self.parent, x)
    }

    /// Merges the clusters of `a` and `b`; false when their NHS numbers conflict.
    fn union(&mut self, a: u32, b: u32) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return true;
        }
        let (na, nb) = (self.nhs[ra as usize], self.nhs[rb as usize]);
        if na != 0 && nb != 0 && na != nb {
            return false;
        }
        let (root, child) = if ra < rb { (ra, rb) } else { (rb, ra) };
        self.parent[child as usize] = root;
        self.nhs[root as usize] = na.max(nb);
        true
    }
}

impl Clusters {
    /// Clusters every row of `records` by `links` (each a pair of rows, with a rank: lower is
    /// merged first).
    pub fn new(records: &Records, links: &[(Pair, u16)]) -> Clusters {
        let n = records.len();
        let mut uf = UnionFind {
            parent: (0..n as u32).collect(),
            nhs: records.nhs_keys().into_owned(),
        };
        // Merge order: rule, then the pair's ranks (record ids), never row numbers.
        let mut order: Vec<(u16, u32, u32, u32)> = links
            .iter()
            .enumerate()
            .map(|(i, (p, rule))| {
                let (a, b) = (records.rank(p.left), records.rank(p.right));
                (*rule, a.min(b), a.max(b), i as u32)
            })
            .collect();
        order.par_sort_unstable();
        let mut refused = 0;
        for &(_, _, _, i) in &order {
            let p = links[i as usize].0;
            if !uf.union(p.left, p.right) {
                refused += 1;
            }
        }
        // The smallest member (by rank) of each cluster names it.
        let mut smallest: Vec<u32> = (0..n as u32).collect();
        for r in 0..n as u32 {
            let root = uf.find(r) as usize;
            if records.rank(r) < records.rank(smallest[root]) {
                smallest[root] = r;
            }
        }
        let mut index = vec![u32::MAX; n];
        let mut roots = Vec::new();
        let mut of_row = Vec::with_capacity(n);
        for r in 0..n as u32 {
            let root = uf.find(r) as usize;
            if index[root] == u32::MAX {
                index[root] = roots.len() as u32;
                roots.push(smallest[root]);
            }
            of_row.push(index[root]);
        }
        let ids = roots
            .par_iter()
            .map(|&m| person_id(records.source_of(m), records.id(m)))
            .collect();
        Clusters {
            of_row,
            ids,
            refused,
        }
    }

    /// The person id of `row`.
    pub fn person_id(&self, row: u32) -> &str {
        self.of_row
            .get(row as usize)
            .and_then(|&c| self.ids.get(c as usize))
            .map_or("", String::as_str)
    }

    /// The person of `row` as a number in `0..len()` (the order of person ids is not
    /// implied): for counting per person without the id strings.
    pub fn person_index(&self, row: u32) -> usize {
        self.of_row.get(row as usize).map_or(0, |&c| c as usize)
    }

    /// The person id of person number `index` ([`Clusters::person_index`]).
    pub fn id_of_index(&self, index: usize) -> &str {
        self.ids.get(index).map_or("", String::as_str)
    }

    /// The number of people (clusters, including single records).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when there are no clusters.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// How many links were not merged because the two people already held different valid
    /// NHS numbers.
    pub fn refused_merges(&self) -> u64 {
        self.refused
    }

    /// Every row, ordered by person id and then by (source, record id).
    pub fn rows_by_person(&self, records: &Records) -> Vec<u32> {
        // Ids in string order (a person id is "P" and 16 random hex digits): sorting 14M
        // ids through their pointers cost a cache miss and a memcmp per comparison (perf:
        // half of the 14M dedupe's writing).
        let all: Vec<u32> = (0..self.ids.len() as u32).collect();
        let order = crate::record::sort_by_bytes(&all, |i| self.ids[i as usize].as_bytes());
        let mut pos = vec![0u32; self.ids.len()];
        for (i, &c) in order.iter().enumerate() {
            pos[c as usize] = i as u32;
        }
        let mut rows: Vec<u32> = (0..self.of_row.len() as u32).collect();
        rows.par_sort_unstable_by_key(|&r| {
            (pos[self.of_row[r as usize] as usize], records.rank(r))
        });
        rows
    }
}

/// Person ids from an earlier run, by (source file name, record id).
#[derive(Clone, Default)]
pub struct PreviousIds {
    ids: FxHashMap<(String, String), String>,
}

impl fmt::Debug for PreviousIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreviousIds")
            .field("records", &self.ids.len())
            .finish()
    }
}

impl PreviousIds {
    /// Reads a clusters file written by an earlier run (`cluster_id,source,record_id`).
    ///
    /// # Errors
    ///
    /// An I/O error naming `path`; an input error naming the file and line for a malformed
    /// row or a record listed twice.
    pub fn read(path: &Path) -> Result<PreviousIds, Error> {
        let (name, f) = crate::csvread::open(path)?;
        let mut rdr = crate::csvread::CsvReader::new(&name, f, true, None)?;
        let want = ["cluster_id", "source", "record_id"];
        if rdr.headers() != want {
            return Err(Error::input_at(
                &name,
                1,
                None,
                "a clusters file has the header cluster_id,source,record_id",
            ));
        }
        let mut ids = FxHashMap::default();
        let mut rec = csv::ByteRecord::new();
        while let Some(line) = rdr.read(&mut rec)? {
            let fields = crate::csvread::text_fields(&rec, &name, line)?;
            if fields.len() != 3 || fields.iter().any(|f| f.is_empty()) {
                return Err(Error::input_at(
                    &name,
                    line,
                    None,
                    "needs three non-empty fields",
                ));
            }
            let rec = fields;
            let key = (rec[1].to_string(), rec[2].to_string());
            if ids.insert(key, rec[0].to_string()).is_some() {
                return Err(Error::input_at(
                    &name,
                    line,
                    Some("record_id"),
                    "record listed twice",
                ));
            }
        }
        Ok(PreviousIds { ids })
    }

    /// Previous ids from (person id, source file name, record id) triples.
    pub fn from_triples<'a>(rows: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>) -> Self {
        PreviousIds {
            ids: rows
                .into_iter()
                .map(|(p, s, r)| ((s.to_string(), r.to_string()), p.to_string()))
                .collect(),
        }
    }
}

/// A change to the person ids: of an index when a record is linked, updated or removed, or
/// of a batch run when ids are carried over from an earlier one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PersonChange {
    /// Two or more people were found to be one: `kept` keeps its id, `absorbed` ids are
    /// retired.
    Merge {
        /// The surviving person id.
        kept: String,
        /// The person ids merged into it.
        absorbed: Vec<String>,
    },
    /// A person's records no longer link to each other: `kept` stays on the largest part,
    /// `new` are the ids of the other parts.
    Split {
        /// The person id that stays.
        kept: String,
        /// The new person ids.
        new: Vec<String>,
    },
}

/// What carrying person ids over from an earlier run did (or what linking a batch into an
/// index did, for `carematch index add`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CarriedIds {
    /// People whose earlier id was kept.
    pub kept: u64,
    /// People with no earlier id (new ids).
    pub new: u64,
    /// The merges, sorted by surviving id, then the splits, sorted by the id that stays.
    pub changes: Vec<PersonChange>,
}

impl CarriedIds {
    /// The merges among the changes.
    pub fn merges(&self) -> impl Iterator<Item = &PersonChange> {
        self.changes
            .iter()
            .filter(|c| matches!(c, PersonChange::Merge { .. }))
    }

    /// The splits among the changes.
    pub fn splits(&self) -> impl Iterator<Item = &PersonChange> {
        self.changes
            .iter()
            .filter(|c| matches!(c, PersonChange::Split { .. }))
    }
}

impl Clusters {
    /// Gives each person the id it had in an earlier run where it can, so ids do not change
    /// under the users' feet: a person keeps the earlier id most of its records had; when
    /// earlier people are found to be one, the one with most records here survives and the
    /// others are reported as merged into it; when an earlier person is found to be several,
    /// the part with most of its records keeps the id and the other parts get new ids,
    /// reported as a split. Ties go to the smaller id, then to the part with the smallest
    /// record. People with no earlier id keep their derived id. The result depends only on
    /// the clusters and `previous`, not on row order or thread count.
    pub fn carry_over(&mut self, records: &Records, previous: &PreviousIds) -> CarriedIds {
        let names: Vec<String> = records
            .sources()
            .iter()
            .map(|s| source_file_name(&s.name))
            .collect();
        let n_clusters = self.ids.len();
        // Clusters in the order of their smallest member, for determinism.
        let mut first = vec![u32::MAX; n_clusters];
        for (row, &c) in self.of_row.iter().enumerate() {
            let rank = records.rank(row as u32);
            first[c as usize] = first[c as usize].min(rank);
        }
        let mut order: Vec<usize> = (0..n_clusters).collect();
        order.sort_by_key(|&c| first[c]);
        // Earlier ids per cluster, with counts.
        let mut per_cluster: Vec<Vec<(String, u32)>> = vec![Vec::new(); n_clusters];
        for (row, &c) in self.of_row.iter().enumerate() {
            let r = row as u32;
            let key = (
                names.get(records.source_of(r)).cloned().unwrap_or_default(),
                records.id(r).to_string(),
            );
            if let Some(old) = previous.ids.get(&key) {
                let v = &mut per_cluster[c as usize];
                match v.iter_mut().find(|(id, _)| id == old) {
                    Some((_, n)) => *n += 1,
                    None => v.push((old.clone(), 1)),
                }
            }
        }
        // Each earlier id goes to the cluster holding most of its records.
        let mut winner: FxHashMap<&str, (u32, u32, usize)> = FxHashMap::default();
        for &c in &order {
            for (id, n) in &per_cluster[c] {
                let e = winner.entry(id.as_str()).or_insert((0, u32::MAX, c));
                if (*n, std::cmp::Reverse(first[c])) > (e.0, std::cmp::Reverse(e.1)) {
                    *e = (*n, first[c], c);
                }
            }
        }
        let mut used: FxHashSet<String> = previous.ids.values().cloned().collect();
        let mut changes = CarriedIds::default();
        let mut merges: Vec<(String, Vec<String>)> = Vec::new();
        let mut split_parts: FxHashMap<String, Vec<String>> = FxHashMap::default();
        let mut new_ids = vec![String::new(); n_clusters];
        for &c in &order {
            let mut mine: Vec<&(String, u32)> = per_cluster[c]
                .iter()
                .filter(|(id, _)| winner.get(id.as_str()).is_some_and(|w| w.2 == c))
                .collect();
            mine.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let id = if let Some((survivor, absorbed)) = mine.split_first() {
                if !absorbed.is_empty() {
                    merges.push((
                        survivor.0.clone(),
                        absorbed.iter().map(|a| a.0.clone()).collect(),
                    ));
                }
                changes.kept += 1;
                survivor.0.clone()
            } else {
                changes.new += 1;
                let mut id = self.ids[c].clone();
                let mut k = 1u32;
                while used.contains(&id) {
                    id = format!("{}-{k}", self.ids[c]);
                    k += 1;
                }
                used.insert(id.clone());
                id
            };
            // Earlier ids this cluster holds but lost to another cluster: a split of them.
            for (old, _) in &per_cluster[c] {
                if winner.get(old.as_str()).is_some_and(|w| w.2 != c) {
                    split_parts.entry(old.clone()).or_default().push(id.clone());
                }
            }
            new_ids[c] = id;
        }
        let mut splits: Vec<(String, Vec<String>)> = split_parts.into_iter().collect();
        splits.sort();
        for (_, parts) in &mut splits {
            parts.sort();
            parts.dedup();
        }
        merges.sort();
        let merges = merges
            .into_iter()
            .map(|(kept, absorbed)| PersonChange::Merge { kept, absorbed });
        let splits = splits
            .into_iter()
            .map(|(kept, new)| PersonChange::Split { kept, new });
        changes.changes = merges.chain(splits).collect();
        self.ids = new_ids;
        changes
    }
}

/// The file name of a source, as written in the clusters file.
pub(crate) fn source_file_name(name: &str) -> String {
    Path::new(name)
        .file_name()
        .map_or_else(|| name.to_string(), |n| n.to_string_lossy().into_owned())
}

/// `P` + 16 hex digits of BLAKE3 over a versioned context, the source index and the record id.
pub(crate) fn person_id(source: usize, id: &str) -> String {
    let mut h = blake3::Hasher::new();
    h.update(b"carematch person id v1\0");
    h.update(&(source as u64).to_le_bytes());
    h.update(id.as_bytes());
    let hex = h.finalize().to_hex();
    format!("P{}", &hex[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows come in person-id order (strings, not their first 8 bytes: ids that share them,
    /// are shorter or are a prefix of another, as carried-over ids may be), then by rank.
    #[test]
    fn rows_come_in_person_id_order_then_rank() {
        let n = 3_000u32;
        let mut text = String::from("id,given_name\n");
        for r in 0..n {
            text.push_str(&format!("R{},A\n", (r * 7919) % n));
        }
        let mut b = Records::builder();
        b.add_reader("s", text.as_bytes()).unwrap();
        let records = b.build().unwrap().0;
        let ids: Vec<String> = (0..400u32)
            .map(|i| match i % 4 {
                0 => format!("P0000000{:03}", 999 - i),
                1 => format!("P0000000{i}"),
                2 => format!("P{i}"),
                _ => format!("Q{:016x}", u64::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            })
            .collect();
        let clusters = Clusters {
            of_row: (0..n).map(|r| (r * 31) % 400).collect(),
            ids,
            refused: 0,
        };
        let got = clusters.rows_by_person(&records);
        let mut want: Vec<u32> = (0..n).collect();
        want.sort_by(|&a, &b| {
            (clusters.person_id(a), records.rank(a)).cmp(&(clusters.person_id(b), records.rank(b)))
        });
        assert_eq!(got, want);
    }

    #[test]
    fn person_id_is_fixed_for_a_member() {
        // Person ids must not change between releases, so the expected id is written out.
        let a = person_id(0, "GP00000001");
        assert_eq!(a, "P4a924cb17b559514");
        assert_ne!(a, person_id(1, "GP00000001"));
    }

    #[test]
    fn conflicting_nhs_numbers_refuse_the_merge() {
        let mut uf = UnionFind {
            parent: vec![0, 1, 2],
            nhs: vec![9434765919, 0, 9434765870],
        };
        assert!(uf.union(0, 1));
        assert!(!uf.union(1, 2), "would join two NHS numbers");
        assert_ne!(uf.find(0), uf.find(2));
        assert_eq!(uf.find(0), uf.find(1));
    }
}
