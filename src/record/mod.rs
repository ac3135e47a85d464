//! The columnar record store.
//!
//! One [`Records`] holds the rows of every source in a run (the left and right files of a
//! link, or the one file of a dedupe), one column per role. Each distinct normalised value is
//! interned once, in a dictionary shared by all sources, together with its derived features
//! (name tokens and phonetic codes, postcode unit/sector/district/area). A row holds only
//! small integers: value ids, a packed date, an NHS number. Comparing two rows' names is
//! comparing two `u32`s; a feature is computed once per distinct value, not once per row.

mod features;
mod store_file;

pub(crate) use features::Derived;
pub(crate) use features::{
    EMPTY_WORDS, FOREIGN, NameSketches, Outside, RowFeatures, Words, address_words,
};

use std::ops::Range;

use std::hash::BuildHasher;

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use rustc_hash::{FxBuildHasher, FxHashMap};
use std::sync::{Arc, Mutex, OnceLock};

use crate::normalise::date::Date;
use crate::normalise::name::canonical_given_name;
use crate::normalise::phonetic::{nysiis, soundex};
use crate::normalise::postcode::{Postcode, parse_postcode};
use crate::normalise::sex::Sex;

/// The id of a missing value in every id column (a row with no given name, postcode, ...;
/// a key tuple with a missing part).
pub(crate) const NO_ID: u32 = u32::MAX;

/// An entry of a value table: the value's id and a 32-bit hash of its bytes. The hash is
/// kept so that growing the table never reads the values again, and a probe reads a value
/// only when its hash agrees: the arena is touched once per lookup, not once per probe.
#[derive(Clone, Copy)]
pub(crate) struct Slot {
    id: u32,
    hash: u32,
}

/// The 32-bit hash of a value kept in its [`Slot`].
#[inline]
pub(crate) fn value_hash(v: &[u8]) -> u32 {
    let h = FxBuildHasher.hash_one(v);
    (h ^ (h >> 32)) as u32
}

/// The table hash of a [`Slot`] hash: the 32 bits in both halves, so that the bucket (low
/// bits) and the control tag (top 7 bits) both come from it.
#[inline]
pub(crate) fn spread(h: u32) -> u64 {
    (u64::from(h) << 32) | u64::from(h)
}

/// Looks `v` up among the slots of `table`, whose bytes `get` returns; when absent, inserts
/// `next` (the caller then stores `v` as `next`) and returns `None`.
///
/// Values are stored once, in the caller's arena; the table holds only ids and hashes. This
/// halves the memory of a `HashMap<Box<str>, u32>` plus a `Vec<Box<str>>`, and makes one
/// allocation per arena growth instead of two per distinct value.
pub(crate) fn find_or_insert<'a>(
    table: &mut HashTable<Slot>,
    get: impl Fn(u32) -> &'a [u8],
    v: &[u8],
    next: u32,
) -> Option<u32> {
    let h = value_hash(v);
    insert_slot(table, Slot { id: next, hash: h }, |id| get(id) == v)
}

/// [`insert_unique`] for a [`Slot`] table: `same` is asked only of entries whose hash agrees.
fn insert_slot(table: &mut HashTable<Slot>, slot: Slot, same: impl Fn(u32) -> bool) -> Option<u32> {
    let h = slot.hash;
    insert_unique(
        table,
        spread(h),
        slot,
        |s| s.hash == h && same(s.id),
        |s| spread(s.hash),
    )
    .map(|s| s.id)
}

/// The id of `v` among the slots of `table`, whose bytes `get` returns.
pub(crate) fn find<'a>(
    table: &HashTable<Slot>,
    get: impl Fn(u32) -> &'a [u8],
    v: &[u8],
) -> Option<u32> {
    let h = value_hash(v);
    table
        .find(spread(h), |s| s.hash == h && get(s.id) == v)
        .map(|s| s.id)
}

/// A table of `hashes` (value `i` has `hashes[i]`), or `None` when two values `same` says are
/// equal are there.
pub(crate) fn table_of(hashes: &[u32], same: impl Fn(u32, u32) -> bool) -> Option<HashTable<Slot>> {
    let mut table: HashTable<Slot> = HashTable::with_capacity(hashes.len());
    for (id, &hash) in (0u32..).zip(hashes) {
        if insert_slot(&mut table, Slot { id, hash }, |o| same(o, id)).is_some() {
            return None;
        }
    }
    Some(table)
}

/// Inserts `entry`, of hash `h`, into `table` unless an entry `same` says is equal is there:
/// returns that entry, or `None` after inserting. `rehash` gives an entry's hash when the
/// table grows. The one loop of every id table (value dictionaries, saved dictionaries, the
/// index's record ids), where "already there" means a duplicate or a known value.
pub(crate) fn insert_unique<T: Copy>(
    table: &mut HashTable<T>,
    h: u64,
    entry: T,
    same: impl Fn(&T) -> bool,
    rehash: impl Fn(&T) -> u64,
) -> Option<T> {
    match table.entry(h, same, rehash) {
        Entry::Occupied(e) => Some(*e.get()),
        Entry::Vacant(e) => {
            e.insert(entry);
            None
        }
    }
}

/// Adds value `id`, of bytes `v`, to `table`, which does not hold it: no value is compared.
fn insert_new(table: &mut HashTable<Slot>, id: u32, v: &[u8]) {
    let h = value_hash(v);
    table.insert_unique(spread(h), Slot { id, hash: h }, |x| spread(x.hash));
}

/// Byte range of value `id` in an arena whose value ends are `ends`.
#[inline]
pub(crate) fn span(ends: &[usize], id: u32) -> std::ops::Range<usize> {
    let i = id as usize;
    let start = if i == 0 { 0 } else { ends[i - 1] };
    start..ends[i]
}

/// `items` ordered by (`bytes(item)`, item).
///
/// Each item is sorted with the first 8 bytes of its value held beside it (big-endian and
/// zero-padded, which orders as the bytes do, ties aside); the values are read only on a
/// tie. Sorting through the values themselves costs a cache miss and a `memcmp` per
/// comparison: perf on the separate generator's 1M link, whose record ids are random hex,
/// put 1,207 of normalising's 4,800 samples in `memcmp`; sorted this way, 288.
pub(crate) fn sort_by_bytes<'a>(items: &[u32], bytes: impl Fn(u32) -> &'a [u8] + Sync) -> Vec<u32> {
    use rayon::prelude::*;
    let mut keyed: Vec<(u64, u32)> = items
        .par_iter()
        .map(|&i| {
            let v = bytes(i);
            let mut head = [0u8; 8];
            let n = v.len().min(8);
            head[..n].copy_from_slice(&v[..n]);
            (u64::from_be_bytes(head), i)
        })
        .collect();
    keyed.par_sort_unstable_by(|a, b| {
        (a.0.cmp(&b.0))
            .then_with(|| bytes(a.1).cmp(bytes(b.1)))
            .then(a.1.cmp(&b.1))
    });
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// Strings interned to dense `u32` ids, in first-seen order, stored once in one arena.
#[derive(Clone, Default)]
pub(crate) struct Interner {
    /// The table from values to ids, built on first use: a dictionary filled with
    /// [`Interner::push_distinct`] and only read by id (a batch run's postcodes and
    /// addresses) never builds it.
    table: OnceLock<HashTable<Slot>>,
    text: String,
    ends: Vec<usize>,
}

impl Interner {
    /// The id of `s`, adding it if new.
    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        let next = u32::try_from(self.ends.len()).unwrap_or(NO_ID - 1);
        let mut table = self.table.take().unwrap_or_else(|| self.build_table());
        let (text, ends) = (&self.text, &self.ends);
        let get = |id: u32| &text.as_bytes()[span(ends, id)];
        let found = find_or_insert(&mut table, get, s.as_bytes(), next);
        self.table = OnceLock::from(table);
        if let Some(id) = found {
            return id;
        }
        self.text.push_str(s);
        self.ends.push(self.text.len());
        next
    }

    /// Adds `s`, which the caller knows is not here yet, as the next id, without looking it
    /// up (into the table too, if it is built).
    pub(crate) fn push_distinct(&mut self, s: &str) -> u32 {
        let next = u32::try_from(self.ends.len()).unwrap_or(NO_ID - 1);
        if let Some(table) = self.table.get_mut() {
            insert_new(table, next, s.as_bytes());
        }
        self.text.push_str(s);
        self.ends.push(self.text.len());
        next
    }

    /// The table of the values held.
    fn table(&self) -> &HashTable<Slot> {
        self.table.get_or_init(|| self.build_table())
    }

    fn build_table(&self) -> HashTable<Slot> {
        let (text, ends) = (&self.text, &self.ends);
        let mut table = HashTable::with_capacity(ends.len());
        for id in 0..ends.len() as u32 {
            insert_new(&mut table, id, &text.as_bytes()[span(ends, id)]);
        }
        table
    }

    /// The id of `s`, if interned.
    pub(crate) fn lookup(&self, s: &str) -> Option<u32> {
        find(
            self.table(),
            |id| &self.text.as_bytes()[span(&self.ends, id)],
            s.as_bytes(),
        )
    }

    /// The string of `id`.
    pub(crate) fn get(&self, id: u32) -> &str {
        if id as usize >= self.ends.len() {
            return "";
        }
        self.text.get(span(&self.ends, id)).unwrap_or("")
    }

    /// The number of distinct strings.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }
}

/// The 32-bit hash [`first_seen`] sorts keys by.
#[inline]
pub(crate) fn key_hash(v: &[u8]) -> u32 {
    value_hash(v)
}

/// [`first_seen`]'s entry for key `index` of hash `hash`: both in one integer, the hash
/// above, so that sorting entries puts one hash's keys side by side in index order.
#[inline]
pub(crate) fn seen_entry(hash: u32, index: u32) -> u64 {
    (u64::from(hash) << 32) | u64::from(index)
}

/// How many pieces [`first_seen`] splits the sorted keys into, to compare them in parallel.
const FIRST_SEEN_PIECES: usize = 64;

/// First-seen ids of `n` keys, found by sorting rather than by looking each key up in one
/// hash table. `order` holds `seen_entry(key_hash(key), index)` for each present key (an
/// index absent from it has no key and gets `NO_ID`); `key` gives key `index`'s bytes. Returns each
/// index's id (the rank of its key's first occurrence among first occurrences, which is the
/// id an [`Interner`] fed the keys in index order would give) and, per id, the index of that
/// first occurrence.
///
/// A table of a million keys does not fit in cache, so looking a key up there costs a miss
/// for its slot and, when found, two more for the stored key; sorted, keys with one hash are
/// side by side and the comparisons read memory that other threads' work does not wait on.
/// Keys of one hash that differ (a collision) are told apart by their bytes.
pub(crate) fn first_seen<'a>(
    n: usize,
    mut order: Vec<u64>,
    key: impl Fn(u32) -> &'a [u8] + Sync,
) -> (Vec<u32>, Vec<u32>) {
    use rayon::prelude::*;
    let hash = |e: u64| (e >> 32) as u32;
    let index = |e: u64| e as u32;
    order.par_sort_unstable();
    // Pieces start where a hash starts, so each run of one hash is compared in one piece.
    let mut starts = vec![0];
    for p in 1..FIRST_SEEN_PIECES {
        let mut at = (order.len() * p / FIRST_SEEN_PIECES).max(starts[starts.len() - 1]);
        while at > 0 && at < order.len() && hash(order[at]) == hash(order[at - 1]) {
            at += 1;
        }
        starts.push(at);
    }
    starts.push(order.len());
    // Per position of `order`: the index of its key's first occurrence. Entries of one hash
    // are in index order, so that is the run's first entry unless the hash collided; the
    // check reads two keys per entry with no dependence between entries, so their misses
    // overlap, and only a run where it fails is gone over key by key.
    let first: Vec<Vec<u32>> = starts
        .par_windows(2)
        .map(|w| {
            let piece = &order[w[0]..w[1]];
            let mut out = Vec::with_capacity(piece.len());
            let mut lead = 0;
            for (k, &e) in piece.iter().enumerate() {
                if hash(piece[lead]) != hash(e) {
                    lead = k;
                }
                out.push(index(piece[lead]));
            }
            let mut k = 0;
            while k < piece.len() {
                let (f, i) = (out[k], index(piece[k]));
                if f == i || key(f) == key(i) {
                    k += 1;
                    continue;
                }
                // A collision: the run of this hash, key by key.
                let h = hash(piece[k]);
                let start = piece[..k]
                    .iter()
                    .rposition(|&e| hash(e) != h)
                    .map_or(0, |p| p + 1);
                let end = k + piece[k..].iter().take_while(|&&e| hash(e) == h).count();
                let mut leaders: Vec<u32> = Vec::new();
                for j in start..end {
                    let i = index(piece[j]);
                    let same = leaders.iter().copied().find(|&l| key(l) == key(i));
                    out[j] = same.unwrap_or_else(|| {
                        leaders.push(i);
                        i
                    });
                }
                k = end;
            }
            out
        })
        .collect();
    let mut ids = vec![NO_ID; n];
    for (&e, f) in order.iter().zip(first.into_iter().flatten()) {
        ids[index(e) as usize] = f;
    }
    drop(order);
    // In index order each first occurrence takes the next id, and every other occurrence
    // the id its (earlier, so already numbered) first occurrence took.
    let mut firsts = Vec::new();
    for i in 0..ids.len() {
        let f = ids[i];
        if f == NO_ID {
            continue;
        }
        ids[i] = if f as usize == i {
            firsts.push(f);
            (firsts.len() - 1) as u32
        } else {
            ids[f as usize]
        };
    }
    (ids, firsts)
}

/// Names with their derived features, per distinct normalised name.
#[derive(Clone, Default)]
pub(crate) struct NameDict {
    /// Normalised names (tokens joined by spaces).
    pub(crate) values: Interner,
    /// Tokens of all names and canonical given names.
    pub(crate) tokens: Interner,
    /// Per value: the token id of its first token.
    pub(crate) first_token: Vec<u32>,
    /// Per value: the Soundex of its first token packed into a `u32`, or `NO_ID`.
    pub(crate) soundex: Vec<u32>,
    /// Per value: the id of its first token's NYSIIS code in `codes`, or `NO_ID`.
    pub(crate) nysiis: Vec<u32>,
    /// NYSIIS codes.
    pub(crate) codes: Interner,
    /// Per value: the token id of the canonical given name of its first token (itself when the
    /// nickname table does not know it).
    pub(crate) canonical: Vec<u32>,
}

impl NameDict {
    /// The id of normalised name `name`, computing its features when new.
    pub(crate) fn intern(&mut self, name: &str) -> u32 {
        let before = self.values.len();
        let id = self.values.intern(name);
        if self.values.len() > before {
            self.add_features(name);
        }
        id
    }

    /// Adds `name`, which the caller knows is not here yet, with its features (see
    /// [`Interner::push_distinct`]).
    pub(crate) fn push_distinct(&mut self, name: &str) -> u32 {
        let id = self.values.push_distinct(name);
        self.add_features(name);
        id
    }

    /// Computes the features of the name just added.
    fn add_features(&mut self, name: &str) {
        let f = NameFeatures::of(name);
        let t = self.tokens.intern(f.first);
        self.first_token.push(t);
        self.soundex.push(f.soundex);
        let n = f.nysiis.map_or(NO_ID, |c| self.codes.intern(&c));
        self.nysiis.push(n);
        self.canonical.push(self.tokens.intern(f.canonical));
    }
}

/// What a name's features are computed from, before interning: its first token, that
/// token's Soundex (packed, `NO_ID` when it has none) and NYSIIS, and its canonical given
/// name (the token itself when the nickname table does not know it). The store interns
/// these; a query not in the store looks them up.
pub(crate) struct NameFeatures<'a> {
    pub(crate) first: &'a str,
    pub(crate) soundex: u32,
    pub(crate) nysiis: Option<String>,
    pub(crate) canonical: &'a str,
}

impl<'a> NameFeatures<'a> {
    pub(crate) fn of(name: &'a str) -> NameFeatures<'a> {
        let first = name.split(' ').next().unwrap_or("");
        NameFeatures {
            first,
            soundex: soundex_code(first),
            nysiis: nysiis(first),
            canonical: canonical_given_name(first).unwrap_or(first),
        }
    }
}

/// The Soundex of a name's first token packed into a `u32` (as the name dictionaries keep
/// it), `NO_ID` when it has none.
pub(crate) fn soundex_code(first: &str) -> u32 {
    soundex(first).map_or(NO_ID, |s| pack4(&s))
}

/// Packs up to four ASCII bytes into a `u32` exactly.
fn pack4(s: &str) -> u32 {
    let mut v = 0u32;
    for b in s.bytes().take(4) {
        v = (v << 8) | u32::from(b);
    }
    v
}

/// Postcodes with their parts, per distinct normalised postcode.
#[derive(Clone, Default)]
pub(crate) struct PostcodeDict {
    /// Canonical text of each postcode (UK form, or folded other text).
    pub(crate) values: Interner,
    /// Sector, district and area strings.
    pub(crate) parts: Interner,
    /// Per value: sector / district / area ids in `parts` (for non-UK text, the text).
    pub(crate) sector: Vec<u32>,
    pub(crate) district: Vec<u32>,
    pub(crate) area: Vec<u32>,
}

impl PostcodeDict {
    /// Adds the postcode whose canonical text is `text`, which the caller knows is not here
    /// yet, with its parts (see [`Interner::push_distinct`]). The text is parsed again (the
    /// canonical text reads back to the same postcode); text that did not would be kept as
    /// it is, every level the text itself.
    pub(crate) fn push_distinct_text(&mut self, text: &str) -> u32 {
        let id = self.values.push_distinct(text);
        match parse_postcode(text) {
            Some(p) if p.as_str() == text => self.add_parts(&p),
            _ => self.add_parts(&Postcode::Other(text.to_string())),
        }
        id
    }

    /// The id of `postcode`, computing its parts when new.
    pub(crate) fn intern(&mut self, postcode: &Postcode) -> u32 {
        let before = self.values.len();
        let id = self.values.intern(postcode.as_str());
        if self.values.len() > before {
            self.add_parts(postcode);
        }
        id
    }

    /// Interns the sector, district and area of the postcode just added.
    fn add_parts(&mut self, postcode: &Postcode) {
        let [_, s, d, a] = postcode.levels();
        // Parts are stored with a prefix so that a sector never equals a district.
        let mut key = String::with_capacity(2 + s.len());
        let mut part = |prefix: &str, part: &str| {
            key.clear();
            key.push_str(prefix);
            key.push_str(part);
            self.parts.intern(&key)
        };
        let (s, d, a) = (part("s:", s), part("d:", d), part("a:", a));
        self.sector.push(s);
        self.district.push(d);
        self.area.push(a);
    }
}

/// A blocking rule's key per row: dense ids in the order of the key values, `NO_ID` when a
/// part is missing.
pub(crate) struct RuleKeys {
    /// Per row: the id of its key tuple, or `NO_ID`.
    pub(crate) ids: Vec<u32>,
    /// How many distinct key tuples there are (ids run from 0 to `distinct - 1`).
    pub(crate) distinct: usize,
}

/// Interned blocking keys per rule, computed once per store (see `block::rule_keys`).
#[derive(Default)]
pub(crate) struct RuleKeyCache(Mutex<FxHashMap<String, Arc<RuleKeys>>>);

impl RuleKeyCache {
    pub(crate) fn get(&self, rule: &str) -> Option<Arc<RuleKeys>> {
        self.0.lock().ok()?.get(rule).cloned()
    }

    /// Forgets every rule's keys: those a blocker holds live on with it, the rest (rules
    /// training considered and left out) are freed, instead of lasting to the end of the run.
    pub(crate) fn clear(&self) {
        if let Ok(mut m) = self.0.lock() {
            *m = FxHashMap::default();
        }
    }

    pub(crate) fn put(&self, rule: String, keys: RuleKeys) -> Arc<RuleKeys> {
        let keys = Arc::new(keys);
        if let Ok(mut m) = self.0.lock() {
            m.insert(rule, Arc::clone(&keys));
        }
        keys
    }
}

impl Clone for RuleKeyCache {
    /// A clone starts empty: the cache is derived data.
    fn clone(&self) -> Self {
        RuleKeyCache::default()
    }
}

/// A record normalised but not in a store: a query, or a row about to be inserted. Its
/// values are those a file's row would normalise to.
#[derive(Clone, Default, PartialEq)]
pub(crate) struct NewRow {
    pub(crate) id: String,
    pub(crate) given: Option<String>,
    /// The given name was a multiple-birth placeholder ("Twin 1").
    pub(crate) placeholder: bool,
    pub(crate) surname: Option<String>,
    /// YYYYMMDD, 0 when missing.
    pub(crate) dob: u32,
    /// 0 missing, 1 male, 2 female.
    pub(crate) sex: u8,
    pub(crate) postcode: Option<Postcode>,
    /// A valid NHS number, 0 when none.
    pub(crate) nhs: u64,
    /// Ten digits that failed the check digit, 0 otherwise.
    pub(crate) nhs_invalid: u64,
    pub(crate) address: Option<String>,
    /// Per carried column of the store, in its order: the folded value.
    pub(crate) others: Vec<Option<String>>,
}

impl std::fmt::Debug for NewRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the values: a row holds patient data.
        f.write_str("NewRow(..)")
    }
}

/// A column with no role, carried through under its header name.
#[derive(Clone)]
pub(crate) struct OtherColumn {
    /// The header name.
    pub(crate) name: String,
    /// Per row: id of the folded value in `dict`, `NO_ID` when missing or when the row's source
    /// has no such column.
    pub(crate) values: Vec<u32>,
    /// Distinct folded values.
    pub(crate) dict: Interner,
}

/// One name role's column of a [`Records`]: per row the id of its name in `dict`, `NO_ID`
/// when missing.
#[derive(Clone, Copy)]
pub(crate) struct NameColumn<'a> {
    pub(crate) rows: &'a [u32],
    pub(crate) dict: &'a NameDict,
}

impl NameColumn<'_> {
    /// Row `r`'s name id, `NO_ID` when missing.
    pub(crate) fn id(&self, r: u32) -> u32 {
        self.rows[r as usize]
    }
}

/// The postcode column of a [`Records`]: per row the id of its postcode in `dict`, `NO_ID`
/// when missing.
#[derive(Clone, Copy)]
pub(crate) struct PostcodeColumn<'a> {
    pub(crate) rows: &'a [u32],
    pub(crate) dict: &'a PostcodeDict,
}

/// A text column of a [`Records`] (the address or a carried-through column): per row the id
/// of its folded value in `dict`, `NO_ID` when missing.
#[derive(Clone, Copy)]
pub(crate) struct TextColumn<'a> {
    pub(crate) rows: &'a [u32],
    pub(crate) dict: &'a Interner,
}

/// The per-role columns of a [`Records`] and their dictionaries, as a
/// [`crate::RecordsBuilder`] fills them for [`Records::from_columns`]. Per row, a name,
/// postcode or address is the id of its value in the role's dictionary (`NO_ID` when missing).
#[derive(Clone, Default)]
pub(crate) struct Columns {
    pub(crate) given: Vec<u32>,
    /// Rows whose given name was a multiple-birth placeholder ("Twin 1"), one bit each.
    pub(crate) placeholder: Vec<u64>,
    pub(crate) surname: Vec<u32>,
    /// YYYYMMDD, 0 when missing.
    pub(crate) dob: Vec<u32>,
    /// A [`Sex::code`]: 0 missing, 1 male, 2 female.
    pub(crate) sex: Vec<u8>,
    pub(crate) postcode: Vec<u32>,
    /// The NHS number as an integer, 0 when missing or invalid.
    pub(crate) nhs: Vec<u64>,
    /// Ten digits that failed the check digit, as an integer (0 otherwise): a mistyped NHS
    /// number is still evidence when it is one digit away from the other record's.
    pub(crate) nhs_invalid: Vec<u64>,
    pub(crate) address: Vec<u32>,
    pub(crate) given_dict: NameDict,
    pub(crate) surname_dict: NameDict,
    pub(crate) postcode_dict: PostcodeDict,
    pub(crate) address_dict: Interner,
}

impl Columns {
    /// Moves the columns and dictionary of `role` from `part`, where they were built alone.
    pub(crate) fn take_role(&mut self, role: crate::schema::Role, part: Columns) {
        use crate::schema::Role;
        match role {
            Role::GivenName => {
                self.given = part.given;
                self.placeholder = part.placeholder;
                self.given_dict = part.given_dict;
            }
            Role::Surname => {
                self.surname = part.surname;
                self.surname_dict = part.surname_dict;
            }
            Role::DateOfBirth => self.dob = part.dob,
            Role::Sex => self.sex = part.sex,
            Role::Postcode => {
                self.postcode = part.postcode;
                self.postcode_dict = part.postcode_dict;
            }
            Role::NhsNumber => {
                self.nhs = part.nhs;
                self.nhs_invalid = part.nhs_invalid;
            }
            Role::Address => {
                self.address = part.address;
                self.address_dict = part.address_dict;
            }
            Role::Id => {}
        }
    }
}

/// One source (file) of a [`Records`].
#[derive(Clone, Debug)]
pub struct Source {
    /// A label for messages and output, usually the file path.
    pub name: String,
    /// The rows of this source in the store.
    pub rows: Range<u32>,
}

/// The columnar store of every record in a run.
///
/// Build one with [`crate::RecordsBuilder`]. Row numbers are dense `u32`s across all
/// sources, in the order the sources were added and the rows were read. The per-row
/// accessors panic for a row past [`Records::len`], as slice indexing does; [`Records::id`]
/// returns `""` instead.
#[derive(Clone, Default)]
pub struct Records {
    sources: Vec<Source>,
    /// Record ids, concatenated; row r's id is `id_text[id_end[r-1]..id_end[r]]`.
    id_text: String,
    id_end: Vec<u32>,
    /// Per row: its position in the order of (source, record id). Sorting by rank is sorting
    /// by id, with integer compares; it makes output independent of input row order.
    rank: Vec<u32>,
    /// The per-role columns and their dictionaries.
    cols: Columns,
    others: Vec<OtherColumn>,
    rule_keys: RuleKeyCache,
    /// Row features and address words for comparisons, computed once; cleared when a row
    /// is pushed.
    derived: Derived,
    /// The encoding scheme of pseudonymised input, checked once when the store is built.
    scheme: Option<String>,
    /// The identifier columns (see `config::identifier_columns`), profiled once; cleared
    /// when a row is pushed.
    identifiers: std::sync::OnceLock<Vec<String>>,
}

impl std::fmt::Debug for Records {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Counts only: a Records holds patient data.
        f.debug_struct("Records")
            .field("rows", &self.len())
            .field("sources", &self.sources)
            .finish_non_exhaustive()
    }
}

impl Records {
    /// The number of rows across all sources.
    pub fn len(&self) -> usize {
        self.id_end.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.id_end.is_empty()
    }

    /// The sources, in the order they were added.
    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    /// The record id of `row`, as read from its file.
    pub fn id(&self, row: u32) -> &str {
        let r = row as usize;
        let end = self.id_end.get(r).copied().unwrap_or(0) as usize;
        let start = if r == 0 {
            0
        } else {
            self.id_end.get(r - 1).copied().unwrap_or(0) as usize
        };
        self.id_text.get(start..end).unwrap_or("")
    }

    /// Appends `row` to the last source (making one called `source` when there is none),
    /// interning its values, and returns its row number. The appended row's rank is its row
    /// number: a store that grows this way (the real-time index's) orders by row.
    ///
    /// # Errors
    ///
    /// An input error when the store already holds the most rows it can.
    pub(crate) fn push(&mut self, row: &NewRow, source: &str) -> Result<u32, crate::Error> {
        // Everything derived from the rows is recomputed on next use.
        self.identifiers = std::sync::OnceLock::new();
        self.derived = Derived::default();
        self.rule_keys = RuleKeyCache::default();
        let r = u32::try_from(self.len())
            .ok()
            .filter(|&r| r < NO_ID - 1)
            .ok_or_else(|| {
                crate::Error::new(crate::ErrorKind::Input, "the store is full".to_string())
            })?;
        let ids_end = u32::try_from(self.id_text.len() + row.id.len()).map_err(|_| {
            crate::Error::new(crate::ErrorKind::Input, "the store is full".to_string())
        })?;
        if self.sources.is_empty() {
            self.sources.push(Source {
                name: source.to_string(),
                rows: r..r,
            });
        }
        self.id_text.push_str(&row.id);
        debug_assert_eq!(self.id_text.len(), ids_end as usize);
        self.id_end.push(ids_end);
        self.rank.push(r);
        let opt =
            |v: &Option<String>, f: &mut dyn FnMut(&str) -> u32| v.as_deref().map_or(NO_ID, f);
        let g = opt(&row.given, &mut |v| self.cols.given_dict.intern(v));
        self.cols.given.push(g);
        if self.cols.placeholder.len() * 64 <= r as usize {
            self.cols.placeholder.push(0);
        }
        if row.placeholder {
            self.cols.placeholder[r as usize / 64] |= 1 << (r % 64);
        }
        let s = opt(&row.surname, &mut |v| self.cols.surname_dict.intern(v));
        self.cols.surname.push(s);
        self.cols.dob.push(row.dob);
        self.cols.sex.push(row.sex);
        let p = row
            .postcode
            .as_ref()
            .map_or(NO_ID, |p| self.cols.postcode_dict.intern(p));
        self.cols.postcode.push(p);
        self.cols.nhs.push(row.nhs);
        self.cols.nhs_invalid.push(row.nhs_invalid);
        let a = opt(&row.address, &mut |v| self.cols.address_dict.intern(v));
        self.cols.address.push(a);
        for (i, c) in self.others.iter_mut().enumerate() {
            let v = row.others.get(i).and_then(|v| v.as_deref());
            c.values.push(v.map_or(NO_ID, |v| c.dict.intern(v)));
        }
        if let Some(last) = self.sources.last_mut() {
            last.rows.end = r + 1;
        }
        Ok(r)
    }

    /// Row `row` as a [`NewRow`]: its normalised values, as a query or an insert carries them.
    pub(crate) fn row(&self, row: u32) -> NewRow {
        let r = row as usize;
        let p = self.cols.postcode[r];
        let postcode = (p != NO_ID).then(|| {
            let text = self.cols.postcode_dict.values.get(p);
            // A UK postcode's canonical text parses back to itself; other text stays other.
            match self.cols.postcode_dict.sector.get(p as usize) {
                Some(&s) if s != NO_ID => crate::normalise::postcode::parse_postcode(text)
                    .unwrap_or_else(|| Postcode::Other(text.to_string())),
                _ => Postcode::Other(text.to_string()),
            }
        });
        NewRow {
            id: self.id(row).to_string(),
            given: self.given_name(row).map(str::to_string),
            placeholder: self.newborn_placeholder(row),
            surname: self.surname(row).map(str::to_string),
            dob: self.cols.dob[r],
            sex: self.cols.sex[r],
            postcode,
            nhs: self.cols.nhs[r],
            nhs_invalid: self.cols.nhs_invalid[r],
            address: self.address(row).map(str::to_string),
            others: self
                .others
                .iter()
                .map(|c| {
                    let v = c.values[r];
                    (v != NO_ID).then(|| c.dict.get(v).to_string())
                })
                .collect(),
        }
    }

    /// True when the given name of `row` was a multiple-birth placeholder ("Twin 2",
    /// "Triplet 1"): missing, and a sign that a twin shares every other field.
    pub fn newborn_placeholder(&self, row: u32) -> bool {
        let r = row as usize;
        self.cols
            .placeholder
            .get(r / 64)
            .is_some_and(|w| w >> (r % 64) & 1 == 1)
    }

    /// The position of `row` in the order of (source, record id).
    pub(crate) fn rank(&self, row: u32) -> u32 {
        self.rank[row as usize]
    }

    /// The index of the source that `row` belongs to.
    pub fn source_of(&self, row: u32) -> usize {
        self.sources
            .iter()
            .position(|s| s.rows.contains(&row))
            .unwrap_or(0)
    }

    /// The normalised given name of `row`, if any.
    pub fn given_name(&self, row: u32) -> Option<&str> {
        let v = self.cols.given[row as usize];
        (v != NO_ID).then(|| self.cols.given_dict.values.get(v))
    }

    /// The normalised surname of `row`, if any.
    pub fn surname(&self, row: u32) -> Option<&str> {
        let v = self.cols.surname[row as usize];
        (v != NO_ID).then(|| self.cols.surname_dict.values.get(v))
    }

    /// The date of birth of `row`, if any.
    pub fn date_of_birth(&self, row: u32) -> Option<Date> {
        Date::from_u32(self.cols.dob[row as usize])
    }

    /// The sex of `row`, if known.
    pub fn sex(&self, row: u32) -> Option<Sex> {
        Sex::from_code(self.cols.sex[row as usize])
    }

    /// The canonical postcode text of `row`, if any.
    pub fn postcode(&self, row: u32) -> Option<&str> {
        let v = self.cols.postcode[row as usize];
        (v != NO_ID).then(|| self.cols.postcode_dict.values.get(v))
    }

    /// A key per row that is equal for two rows exactly when they carry one valid NHS
    /// number, 0 when there is none: the NHS number itself, or in pseudonymised input its
    /// token's id (plus one). Used by the guards that keep two NHS numbers apart.
    pub(crate) fn nhs_keys(&self) -> std::borrow::Cow<'_, [u64]> {
        if let Some(c) = self
            .others
            .iter()
            .find(|c| c.name == crate::schema::NHS_TOKEN_COLUMN)
            && self.cols.nhs.iter().all(|&n| n == 0)
        {
            return std::borrow::Cow::Owned(
                c.values
                    .iter()
                    .map(|&v| if v == NO_ID { 0 } else { u64::from(v) + 1 })
                    .collect(),
            );
        }
        std::borrow::Cow::Borrowed(&self.cols.nhs)
    }

    /// The valid NHS number of `row`, if any.
    pub fn nhs_number(&self, row: u32) -> Option<u64> {
        let v = self.cols.nhs[row as usize];
        (v != 0).then_some(v)
    }

    /// The normalised address of `row`, if any.
    pub fn address(&self, row: u32) -> Option<&str> {
        let v = self.cols.address[row as usize];
        (v != NO_ID).then(|| self.cols.address_dict.get(v))
    }

    /// The names of the carried-through columns.
    pub fn other_columns(&self) -> impl Iterator<Item = &str> {
        self.others.iter().map(|c| c.name.as_str())
    }

    /// A store of the rows whose ids are `id_text` cut at `id_end`, in `sources`, with
    /// per-row `rank` (see the field), per-role `columns` and carried-through `others`.
    ///
    /// `check_scheme` reads the new store and returns the encoding scheme of pseudonymised
    /// input (`None` for clear input): every store is checked here, whoever reads it (CLI, C,
    /// Python, index). It is passed in because the check belongs to the pseudonymisation
    /// layer above.
    ///
    /// # Errors
    ///
    /// `check_scheme`'s error.
    pub(crate) fn from_columns(
        sources: Vec<Source>,
        (id_text, id_end): (String, Vec<u32>),
        rank: Vec<u32>,
        columns: Columns,
        others: Vec<OtherColumn>,
        check_scheme: impl FnOnce(&Records) -> Result<Option<String>, crate::Error>,
    ) -> Result<Records, crate::Error> {
        let n = id_end.len();
        debug_assert!(
            columns.given.len() == n && columns.nhs.len() == n && rank.len() == n,
            "every column has a value per row"
        );
        let mut records = Records {
            sources,
            id_text,
            id_end,
            rank,
            cols: columns,
            others,
            ..Records::default()
        };
        records.scheme = check_scheme(&records)?;
        Ok(records)
    }

    /// The given-name column: per row the id of its name in the dictionary.
    pub(crate) fn given_names(&self) -> NameColumn<'_> {
        NameColumn {
            rows: &self.cols.given,
            dict: &self.cols.given_dict,
        }
    }

    /// The surname column: per row the id of its name in the dictionary.
    pub(crate) fn surnames(&self) -> NameColumn<'_> {
        NameColumn {
            rows: &self.cols.surname,
            dict: &self.cols.surname_dict,
        }
    }

    /// The given-name or the surname column.
    pub(crate) fn names(&self, given: bool) -> NameColumn<'_> {
        if given {
            self.given_names()
        } else {
            self.surnames()
        }
    }

    /// The postcode column: per row the id of its postcode in the dictionary.
    pub(crate) fn postcodes(&self) -> PostcodeColumn<'_> {
        PostcodeColumn {
            rows: &self.cols.postcode,
            dict: &self.cols.postcode_dict,
        }
    }

    /// The address column: per row the id of its folded address line.
    pub(crate) fn addresses(&self) -> TextColumn<'_> {
        TextColumn {
            rows: &self.cols.address,
            dict: &self.cols.address_dict,
        }
    }

    /// The carried-through columns, in order.
    pub(crate) fn others(&self) -> &[OtherColumn] {
        &self.others
    }

    /// An empty store whose carried-through columns are `names`, in order.
    pub(crate) fn with_other_columns(names: &[String]) -> Records {
        Records {
            others: names
                .iter()
                .map(|name| OtherColumn {
                    name: name.clone(),
                    values: Vec::new(),
                    dict: Interner::default(),
                })
                .collect(),
            ..Records::default()
        }
    }

    /// The position of the carried-through column `name`, if there is one.
    pub(crate) fn other_position(&self, name: &str) -> Option<usize> {
        self.others.iter().position(|c| c.name == name)
    }

    /// The carried-through column `name`, if there is one.
    pub(crate) fn other_named(&self, name: &str) -> Option<TextColumn<'_>> {
        self.other_position(name).map(|c| self.other_column(c))
    }

    /// Carried-through column `c`: per row the id of its folded value.
    pub(crate) fn other_column(&self, c: usize) -> TextColumn<'_> {
        let col = &self.others[c];
        TextColumn {
            rows: &col.values,
            dict: &col.dict,
        }
    }

    /// Every row's date of birth as YYYYMMDD, 0 when missing.
    pub(crate) fn dates_of_birth(&self) -> &[u32] {
        &self.cols.dob
    }

    /// Every row's sex code: 0 missing, 1 male, 2 female (see [`Sex::code`]).
    pub(crate) fn sex_codes(&self) -> &[u8] {
        &self.cols.sex
    }

    /// Every row's valid NHS number, 0 when missing or invalid.
    pub(crate) fn nhs_numbers(&self) -> &[u64] {
        &self.cols.nhs
    }

    /// Ten digits in `row`'s NHS number column that failed the check digit, 0 otherwise.
    pub(crate) fn nhs_invalid(&self, row: u32) -> u64 {
        self.cols.nhs_invalid[row as usize]
    }

    /// The blocking-rule keys computed so far, by rule.
    pub(crate) fn rule_key_cache(&self) -> &RuleKeyCache {
        &self.rule_keys
    }

    /// The identifier columns, profiled on first use by `profile`; cleared when a row is
    /// pushed.
    pub(crate) fn identifier_columns(&self, profile: impl FnOnce() -> Vec<String>) -> &[String] {
        self.identifiers.get_or_init(profile)
    }

    /// Every row's [`RowFeatures`], computed on first use and shared.
    pub(crate) fn features(&self) -> Arc<Vec<RowFeatures>> {
        self.derived.features(self)
    }

    /// Stops keeping the rows' features ([`Records::features`]) once a run's scoring is done:
    /// they are freed with the last comparer that uses them.
    pub(crate) fn release_features(&self) {
        self.derived.release_features();
    }

    /// Each given name's and surname's [`crate::compare::Sketch`], computed on first use and
    /// shared.
    pub(crate) fn name_sketches(&self) -> Arc<NameSketches> {
        self.derived.names(self)
    }

    /// Each address value's words, computed on first use and shared.
    pub(crate) fn address_words(&self) -> Arc<Words> {
        self.derived.words(self)
    }

    /// True when the input is pseudonymised (it has the scheme column).
    pub(crate) fn is_encoded(&self) -> bool {
        self.other_columns()
            .any(|c| c == crate::schema::SCHEME_COLUMN)
    }

    /// The encoding scheme (scheme, key version, key fingerprint) of pseudonymised input,
    /// the same on every row (checked when the store was built); `None` for clear input.
    pub fn scheme(&self) -> Option<&str> {
        self.scheme.as_deref()
    }

    /// The folded value of carried-through column `name` on `row`, if any.
    pub fn other(&self, name: &str, row: u32) -> Option<&str> {
        let c = self.others.iter().find(|c| c.name == name)?;
        let v = *c.values.get(row as usize)?;
        (v != NO_ID).then(|| c.dict.get(v))
    }

    /// The folded value of the carried column at position `col` on `row`, if any.
    pub(crate) fn other_at(&self, col: usize, row: u32) -> Option<&str> {
        let c = &self.others[col];
        let v = c.values[row as usize];
        (v != NO_ID).then(|| c.dict.get(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interner_gives_dense_first_seen_ids() {
        let mut i = Interner::default();
        assert_eq!(i.intern("b"), 0);
        assert_eq!(i.intern("a"), 1);
        assert_eq!(i.intern("b"), 0);
        assert_eq!(i.get(1), "a");
        assert_eq!(i.len(), 2);
    }

    #[test]
    fn a_dictionary_filled_without_lookups_builds_its_table_when_first_asked() {
        let mut i = Interner::default();
        assert_eq!(i.push_distinct("b"), 0);
        assert_eq!(i.push_distinct("a"), 1);
        assert_eq!(i.lookup("a"), Some(1));
        assert_eq!(i.intern("b"), 0);
        assert_eq!(i.intern("c"), 2);
        // A value pushed after the table was built is found too.
        assert_eq!(i.push_distinct("d"), 3);
        assert_eq!(i.lookup("d"), Some(3));
        assert_eq!(i.lookup("c"), Some(2));
        assert_eq!(i.lookup("e"), None);
        assert_eq!(i.clone().intern("d"), 3);
    }

    /// Issue 12: a push used to leave the cached row features, address words and rule keys
    /// of the rows before it, so a comparer built afterwards read too few rows.
    #[test]
    fn a_push_clears_what_was_derived_from_the_rows() {
        let mut b = crate::Records::builder();
        b.add_reader(
            "t.csv",
            "id,given_name,surname,address\n1,Ann,Lee,4 High Street\n".as_bytes(),
        )
        .unwrap();
        let mut r = b.build().unwrap().0;
        assert_eq!(r.features().len(), 1);
        assert_eq!(r.address_words().get(0).len(), 3);
        let rule: crate::BlockingRule = "surname".parse().unwrap();
        let mode = crate::link::dedupe_mode(&r, 0).unwrap();
        crate::block::Blocker::new(&r, std::slice::from_ref(&rule), &mode).unwrap();
        assert!(r.rule_keys.get(&rule.to_string()).is_some());
        let row = NewRow {
            id: "2".into(),
            surname: Some("lee".into()),
            address: Some("9 low road west".into()),
            ..NewRow::default()
        };
        r.push(&row, "t.csv").unwrap();
        assert!(r.rule_keys.get(&rule.to_string()).is_none());
        assert_eq!(r.features().len(), 2);
        assert_eq!(r.address_words().get(1).len(), 4);
    }

    /// [`first_seen`] over `keys` (`None` is a missing key), with hash `hash`.
    fn by_sorting(keys: &[Option<&str>], hash: impl Fn(&str) -> u32) -> (Vec<u32>, Vec<u32>) {
        let order = (0u32..)
            .zip(keys)
            .filter_map(|(i, k)| k.map(|k| seen_entry(hash(k), i)))
            .collect();
        first_seen(keys.len(), order, |i| {
            keys[i as usize].unwrap_or("").as_bytes()
        })
    }

    /// The ids an [`Interner`] gives `keys` in order, and each id's first index.
    fn by_interning(keys: &[Option<&str>]) -> (Vec<u32>, Vec<u32>) {
        let mut i = Interner::default();
        let mut firsts = Vec::new();
        let ids = (0u32..)
            .zip(keys)
            .map(|(at, k)| {
                let Some(k) = k else { return NO_ID };
                let before = i.len();
                let id = i.intern(k);
                if i.len() > before {
                    firsts.push(at);
                }
                id
            })
            .collect();
        (ids, firsts)
    }

    proptest::proptest! {
        #[test]
        fn sorting_numbers_keys_as_interning_them_in_order_does(
            keys in proptest::collection::vec(proptest::option::of("[a-c]{0,3}"), 0..300),
        ) {
            let keys: Vec<Option<&str>> = keys.iter().map(|k| k.as_deref()).collect();
            let want = by_interning(&keys);
            proptest::prop_assert_eq!(&by_sorting(&keys, |k| key_hash(k.as_bytes())), &want);
            // Every key of one hash, and keys in a few hashes: collisions are told apart.
            proptest::prop_assert_eq!(&by_sorting(&keys, |_| 7), &want);
            proptest::prop_assert_eq!(&by_sorting(&keys, |k| k.len() as u32 % 2), &want);
        }

        /// Values that share 8 bytes, end inside them, hold zero bytes (which the padding
        /// also holds) or repeat: the order is the bytes' order, then the item's.
        #[test]
        fn sorting_by_bytes_orders_as_the_bytes_then_the_items_do(
            values in proptest::collection::vec(
                proptest::collection::vec(proptest::sample::select(vec![0u8, 1, b'a', 255]), 0..11),
                0..200,
            ),
            shuffle in proptest::collection::vec(0u32..1000, 0..200),
        ) {
            let mut items: Vec<u32> = (0..values.len() as u32).collect();
            // A different order of the items in: the result must not depend on it.
            for (i, s) in shuffle.iter().enumerate().take(items.len()) {
                let j = *s as usize % items.len();
                items.swap(i, j);
            }
            let mut want = items.clone();
            want.sort_by(|&a, &b| values[a as usize].cmp(&values[b as usize]).then(a.cmp(&b)));
            let got = sort_by_bytes(&items, |i| values[i as usize].as_slice());
            proptest::prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn pack4_is_exact_for_soundex_codes() {
        assert_ne!(pack4("R163"), pack4("R162"));
        assert_eq!(pack4("R163"), u32::from_be_bytes(*b"R163"));
    }
}
