//! Person ids kept by an index: stable across inserts, with merges and splits reported.
//!
//! The population's first ids come from a dedupe of it (the batch clusters' ids: `P` and 16
//! hex digits derived from each person's smallest member). A record linked later takes the
//! id of the person it matches; one that matches nobody starts a person whose id is derived
//! from its own record id; one that matches two people merges them, and the larger keeps
//! its id. The links that made each person are kept (each record's matches at the time it
//! was linked), so removing or changing a record splits its person only when the links
//! that remain no longer connect it (not when a later re-scoring, with term frequencies
//! that have moved, would judge an old link differently): the largest part keeps the id
//! and the others get new ones. Every merge and
//! split is returned as a [`PersonChange`]; nothing is silently renumbered. Ids depend only
//! on the records and the order of the calls, never on thread count.

use std::io::{self, Read, Write};

pub use crate::cluster::PersonChange;
use crate::colfile::{ColReader, ColWriter};
use crate::record::Interner;

/// The person ids a link of one record gave.
#[derive(Clone, Debug, PartialEq)]
pub struct PersonChanges {
    /// The person id of the linked record.
    pub person_id: String,
    /// True when the record started a new person.
    pub new_person: bool,
    /// Merges caused by the record (at most one).
    pub changes: Vec<PersonChange>,
}

const UNSET: u32 = u32::MAX;

/// Person of each row, and person ids.
#[derive(Clone, Default)]
pub(crate) struct People {
    person: Vec<u32>,
    /// Person ids, each stored once.
    names: Interner,
    /// Per row: the rows it was linked with (both directions).
    edges: Vec<Vec<u32>>,
}

/// `P` + 16 hex digits of BLAKE3 over a versioned context and a record id (and, when that id
/// is taken, an attempt number).
fn derived_id(record_id: &str, attempt: u32) -> String {
    let mut h = blake3::Hasher::new();
    h.update(b"carematch index person id v1\0");
    h.update(record_id.as_bytes());
    if attempt > 0 {
        h.update(&attempt.to_le_bytes());
    }
    let hex = h.finalize().to_hex();
    format!("P{}", &hex[..16])
}

impl People {
    /// The people of a dedupe's clusters, for rows `0..n`, linked by `links` (the matched
    /// pairs the clustering merged).
    pub(crate) fn from_clusters(c: &crate::Clusters, n: usize, links: &[(u32, u32)]) -> People {
        let mut p = People::default();
        for row in 0..n as u32 {
            let id = p.intern(c.person_id(row));
            p.person.push(id);
        }
        p.edges = vec![Vec::new(); n];
        for &(a, b) in links {
            if c.person_id(a) == c.person_id(b) {
                p.link(a, b);
            }
        }
        p
    }

    /// People from each row's person id and links (as saved).
    pub(crate) fn from_saved(ids: &[String], edges: Vec<Vec<u32>>) -> People {
        let mut p = People::default();
        for id in ids {
            let i = p.intern(id);
            p.person.push(i);
        }
        p.edges = edges;
        p.edges.resize(ids.len(), Vec::new());
        p
    }

    /// Records that rows `a` and `b` were linked.
    pub(crate) fn link(&mut self, a: u32, b: u32) {
        let n = (a.max(b) as usize) + 1;
        if self.edges.len() < n {
            self.edges.resize(n, Vec::new());
        }
        if a != b && !self.edges[a as usize].contains(&b) {
            self.edges[a as usize].push(b);
            self.edges[b as usize].push(a);
        }
    }

    /// Forgets the links of row `row`.
    pub(crate) fn unlink(&mut self, row: u32) {
        let Some(list) = self.edges.get_mut(row as usize) else {
            return;
        };
        for b in std::mem::take(list) {
            if let Some(l) = self.edges.get_mut(b as usize) {
                l.retain(|&x| x != row);
            }
        }
    }

    /// The rows row `row` is linked with.
    pub(crate) fn links(&self, row: u32) -> &[u32] {
        self.edges.get(row as usize).map_or(&[], Vec::as_slice)
    }

    fn intern(&mut self, name: &str) -> u32 {
        self.names.intern(name)
    }

    /// The person id of `row` (empty while unassigned).
    pub(crate) fn id_of(&self, row: u32) -> &str {
        match self.person.get(row as usize) {
            Some(&p) if p != UNSET => self.names.get(p),
            _ => "",
        }
    }

    /// The person index of `row`.
    pub(crate) fn of(&self, row: u32) -> Option<u32> {
        self.person
            .get(row as usize)
            .copied()
            .filter(|&p| p != UNSET)
    }

    /// A slot for a row just appended.
    pub(crate) fn push_row(&mut self) {
        self.person.push(UNSET);
        self.edges.push(Vec::new());
    }

    /// Gives `row` a new person, its id derived from `record_id`.
    pub(crate) fn assign_new(&mut self, row: u32, record_id: &str) -> String {
        let mut attempt = 0;
        let name = loop {
            let n = derived_id(record_id, attempt);
            if self.names.lookup(&n).is_none() {
                break n;
            }
            attempt += 1;
        };
        let p = self.intern(&name);
        self.set(row, p);
        name
    }

    /// Gives `row` person `p`.
    pub(crate) fn set(&mut self, row: u32, p: u32) {
        if let Some(slot) = self.person.get_mut(row as usize) {
            *slot = p;
        }
    }

    /// Gives row `to` the person of row `from`.
    pub(crate) fn copy(&mut self, from: u32, to: u32) {
        if let Some(p) = self.of(from) {
            self.set(to, p);
        }
    }

    /// The name of person `p`.
    pub(crate) fn name(&self, p: u32) -> &str {
        self.names.get(p)
    }

    /// Writes the person ids, each row's person and its links (rows `0..n`).
    pub(crate) fn write_to<W: Write>(&self, w: &mut ColWriter<W>, n: usize) -> io::Result<()> {
        self.names.write_to(w)?;
        let mut person = self.person.clone();
        person.resize(n, UNSET);
        w.u32s(&person)?;
        let mut starts = Vec::with_capacity(n + 1);
        let mut links = Vec::new();
        starts.push(0u32);
        for row in 0..n as u32 {
            links.extend_from_slice(self.links(row));
            starts.push(links.len() as u32);
        }
        w.u32s(&starts)?;
        w.u32s(&links)
    }

    /// Reads what [`People::write_to`] wrote for `n` rows; `None` when it is malformed.
    pub(crate) fn read_from<R: Read>(r: &mut ColReader<R>, n: usize) -> Option<People> {
        let names = Interner::read_from(r)?;
        let person = r.u32s()?;
        let starts = r.u32s()?;
        let links = r.u32s()?;
        let ok = person.len() == n
            && person
                .iter()
                .all(|&p| p == UNSET || (p as usize) < names.len())
            && starts.len() == n + 1
            && starts.first() == Some(&0)
            && starts.windows(2).all(|w| w[0] <= w[1])
            && starts.last().map(|&s| s as usize) == Some(links.len())
            && links.iter().all(|&b| (b as usize) < n);
        if !ok {
            return None;
        }
        let edges = starts
            .windows(2)
            .map(|w| links[w[0] as usize..w[1] as usize].to_vec())
            .collect();
        Some(People {
            person,
            names,
            edges,
        })
    }

    /// The live rows of `start`'s person that links connect to `start`, sorted. Every
    /// person's live rows are connected by its links (a build's clusters are spanned by
    /// their matches, a linked record is linked to what it matched, and a split leaves
    /// connected parts), so this is the whole person when nothing was removed: a walk over
    /// its records, not a scan of the index.
    pub(crate) fn part(&self, start: u32, live: &[bool]) -> Vec<u32> {
        let person = self.of(start);
        let mut seen = vec![start];
        let mut todo = vec![start];
        while let Some(r) = todo.pop() {
            for &o in self.links(r) {
                if live[o as usize] && self.of(o) == person && !seen.contains(&o) {
                    seen.push(o);
                    todo.push(o);
                }
            }
        }
        seen.sort_unstable();
        seen
    }

    /// Gives the rows `part` a new person derived from `record_id` (their smallest id).
    pub(crate) fn split_off(&mut self, part: &[u32], record_id: &str) -> String {
        let Some((&first, rest)) = part.split_first() else {
            return String::new();
        };
        let name = self.assign_new(first, record_id);
        let p = self.of(first).unwrap_or(UNSET);
        for &r in rest {
            self.set(r, p);
        }
        name
    }
}
