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

use rayon::prelude::*;

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

struct UnionFind {
    parent: Vec<u32>,
    /// Per root: the valid NHS number the cluster holds, 0 for none.
    nhs: Vec<u64>,
}

impl UnionFind {
    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize];
            x = p;
        }
        x
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
        let mut order: Vec<u32> = (0..self.ids.len() as u32).collect();
        order.par_sort_unstable_by(|&a, &b| self.ids[a as usize].cmp(&self.ids[b as usize]));
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

/// `P` + 16 hex digits of BLAKE3 over a versioned context, the source index and the record id.
fn person_id(source: usize, id: &str) -> String {
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

    #[test]
    fn person_id_is_fixed_for_a_member() {
        // Regression guard: person ids must not change between releases.
        let a = person_id(0, "GP00000001");
        assert_eq!(a.len(), 17);
        assert_eq!(a, person_id(0, "GP00000001"));
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
