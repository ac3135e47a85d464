//! Blocking: generating candidate pairs without comparing everyone with everyone.
//!
//! A [`BlockingRule`] is a conjunction of [`Key`]s, written `"surname:soundex & dob:year"`:
//! two records are a candidate pair under the rule when every key has a value on both and the
//! values are equal. Rules are OR-ed: a pair is a candidate when any rule produces it, and it
//! comes out once, from the first rule that produces it (a later rule skips pairs that an
//! earlier rule already produced, as Splink does). Pairs are streamed in chunks; they are
//! never all held in memory.
//!
//! Each key's value on each row is a small integer (a value id from the store's
//! dictionaries, a packed date, an NHS number), so a rule's key is interned to one dense
//! `u32` per row and rows are bucketed by counting sort. The number of comparisons a rule
//! will generate is known from the bucket sizes before any pair is produced.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;
use std::sync::Arc;

use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;
use crate::error::config_err;
use crate::record::{NO_ID, Records, RuleKeys, TextColumn};
use crate::schema::Role;

/// The field a key reads.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// A matching role (not `Id`).
    Role(Role),
    /// A carried-through column, by header name.
    Other(String),
    /// Both names, unordered (written `names`): with `soundex`, the pair of the given name's
    /// and the surname's Soundex codes, smaller first, so that a record whose given name and
    /// surname were entered the wrong way round meets the other.
    Names,
}

/// How a key transforms a field's value before comparing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transform {
    /// The whole normalised value.
    Exact,
    /// The first token of a name.
    Token,
    /// The first character.
    Initial,
    /// The first `n` characters.
    First(u8),
    /// Soundex of the first token of a name.
    Soundex,
    /// NYSIIS of the first token of a name.
    Nysiis,
    /// The canonical given name of the first token (nickname table).
    Nickname,
    /// Year of a date.
    Year,
    /// Year and month of a date.
    YearMonth,
    /// Postcode sector ("LS1 4").
    Sector,
    /// Postcode district ("LS1").
    District,
    /// Postcode area ("LS").
    Area,
    /// The characters of a code sorted (`7364009` → `0034679`): the key survives two
    /// transposed digits, the commonest error in a typed identifier.
    Sorted,
    /// The street of an address: a house number with the word after it (`11 dorset` of
    /// `flat 2 11 dorset close`), or the first word when there is no number.
    Street,
}

impl Transform {
    fn as_str(self) -> String {
        match self {
            Transform::Exact => "exact".into(),
            Transform::Token => "token".into(),
            Transform::Initial => "initial".into(),
            Transform::First(n) => format!("first{n}"),
            Transform::Soundex => "soundex".into(),
            Transform::Nysiis => "nysiis".into(),
            Transform::Nickname => "nickname".into(),
            Transform::Year => "year".into(),
            Transform::YearMonth => "year_month".into(),
            Transform::Sector => "sector".into(),
            Transform::District => "district".into(),
            Transform::Area => "area".into(),
            Transform::Sorted => "sorted".into(),
            Transform::Street => "street".into(),
        }
    }
}

/// A field with a transform, written `field` or `field:transform`.
///
/// Fields: `given_name`, `surname`, `dob`, `sex`, `postcode`, `nhs_number`, `address`,
/// `names` (both names, unordered; only `names:soundex`), or the header of a carried-through
/// column. Transforms: for names `token`, `initial`, `firstN` (`first3`), `soundex`,
/// `nysiis`, `nickname`; for `dob` `year`, `year_month`; for `postcode` `sector`,
/// `district`, `area`; for `address` `street`; for text `initial`, `firstN`, `sorted`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    /// The field read.
    pub field: Field,
    /// The transform applied.
    pub transform: Transform,
}

impl FromStr for Key {
    type Err = Error;

    fn from_str(s: &str) -> Result<Key, Error> {
        let s = s.trim();
        let (f, t) = match s.split_once(':') {
            Some((f, t)) => (f.trim(), t.trim()),
            None => (s, "exact"),
        };
        if f.is_empty() {
            return Err(config_err(format!("key '{s}' has no field")));
        }
        let field = match Role::parse(f) {
            _ if f == "names" => Field::Names,
            Some(Role::Id) => {
                return Err(config_err(format!(
                    "key '{s}': the id column cannot be a key"
                )));
            }
            Some(r) => Field::Role(r),
            None => Field::Other(f.to_string()),
        };
        let transform = match t {
            "exact" => Transform::Exact,
            "token" => Transform::Token,
            "initial" => Transform::Initial,
            "soundex" => Transform::Soundex,
            "nysiis" => Transform::Nysiis,
            "nickname" => Transform::Nickname,
            "year" => Transform::Year,
            "year_month" => Transform::YearMonth,
            "sector" => Transform::Sector,
            "district" => Transform::District,
            "area" => Transform::Area,
            "sorted" => Transform::Sorted,
            "street" => Transform::Street,
            _ => match t.strip_prefix("first").map(str::parse::<u8>) {
                Some(Ok(n)) if n > 0 => Transform::First(n),
                _ => return Err(config_err(format!("key '{s}': unknown transform '{t}'"))),
            },
        };
        let ok = match (&field, transform) {
            (Field::Names, t) => t == Transform::Soundex,
            (_, Transform::Exact) => true,
            (Field::Role(Role::GivenName | Role::Surname), t) => matches!(
                t,
                Transform::Token
                    | Transform::Initial
                    | Transform::First(_)
                    | Transform::Soundex
                    | Transform::Nysiis
                    | Transform::Nickname
            ),
            (Field::Role(Role::DateOfBirth), t) => {
                matches!(t, Transform::Year | Transform::YearMonth)
            }
            (Field::Role(Role::Postcode), t) => {
                matches!(t, Transform::Sector | Transform::District | Transform::Area)
            }
            (Field::Role(Role::Address), t) => {
                matches!(
                    t,
                    Transform::Initial | Transform::First(_) | Transform::Street
                )
            }
            (Field::Other(_), t) => {
                matches!(
                    t,
                    Transform::Initial | Transform::First(_) | Transform::Sorted
                )
            }
            _ => false,
        };
        if !ok {
            return Err(config_err(format!(
                "key '{s}': transform '{t}' does not apply to field '{f}'"
            )));
        }
        Ok(Key { field, transform })
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Field::Role(r) => f.write_str(r.as_str())?,
            Field::Other(n) => f.write_str(n)?,
            Field::Names => f.write_str("names")?,
        }
        if self.transform != Transform::Exact {
            write!(f, ":{}", self.transform.as_str())?;
        }
        Ok(())
    }
}

/// The rules of `rules` whose columns the input has.
pub(crate) fn available(records: &Records, rules: Vec<BlockingRule>) -> Vec<BlockingRule> {
    rules
        .into_iter()
        .filter(|r| r.reads_columns_of(records))
        .collect()
}

/// A conjunction of keys, written `"key & key & ..."`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockingRule {
    keys: Vec<Key>,
}

/// True when a column's name can be written in a rule and read back as the same column: not
/// empty, no surrounding space, none of the rule syntax's `& : | ( )`, no control character.
pub(crate) fn is_rule_column(name: &str) -> bool {
    !name.is_empty()
        && name.trim() == name
        && !name.contains(['&', ':', '|', '(', ')'])
        && !name.chars().any(char::is_control)
}

impl BlockingRule {
    /// True when every key of the rule reads a column (or role) that `records` has.
    pub(crate) fn reads_columns_of(&self, records: &Records) -> bool {
        self.keys.iter().all(|k| match &k.field {
            Field::Other(name) => records.other_columns().any(|c| c == name),
            Field::Role(_) | Field::Names => true,
        })
    }

    /// A rule from its keys.
    ///
    /// # Errors
    ///
    /// A config error when `keys` is empty or has more than six keys, or a key reads a
    /// column whose name cannot be written in a rule (empty, with spaces around it, a control
    /// character or one of `& : | ( )`): a rule is
    /// saved as text (in the model file) and must read back as the same rule.
    pub fn new(keys: Vec<Key>) -> Result<BlockingRule, Error> {
        if keys.is_empty() || keys.len() > MAX_KEYS {
            return Err(config_err(format!(
                "a blocking rule needs 1 to {MAX_KEYS} keys"
            )));
        }
        for k in &keys {
            if let Field::Other(name) = &k.field
                && !is_rule_column(name)
            {
                return Err(config_err(format!(
                    "column '{}' cannot be used in a rule: its name is empty or holds one of \
                     & : | ( ) or a control character; rename the column",
                    name.escape_debug()
                )));
            }
        }
        Ok(BlockingRule { keys })
    }

    /// The keys of the rule.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// The default blocking rules for NHS data: NHS number; date of birth with surname
    /// Soundex; date of birth with given name's first token; date of birth with postcode
    /// district; given and surname Soundex with year of birth; given and surname Soundex
    /// with postcode district; postcode unit with given-name initial.
    ///
    /// # Panics
    ///
    /// Never: the built-in rules parse (a unit test holds them to it).
    pub fn defaults() -> Vec<BlockingRule> {
        [
            "nhs_number",
            "dob & surname:soundex",
            "dob & given_name:token",
            "dob & postcode:district",
            "given_name:soundex & surname:soundex & dob:year",
            "given_name:soundex & surname:soundex & postcode:district",
            "postcode & given_name:initial",
        ]
        .iter()
        .map(|s| s.parse().expect("default blocking rules parse"))
        .collect()
    }
}

impl FromStr for BlockingRule {
    type Err = Error;

    fn from_str(s: &str) -> Result<BlockingRule, Error> {
        let keys = s
            .split('&')
            .map(str::parse)
            .collect::<Result<Vec<Key>, Error>>()?;
        BlockingRule::new(keys)
    }
}

impl fmt::Display for BlockingRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, k) in self.keys.iter().enumerate() {
            if i > 0 {
                f.write_str(" & ")?;
            }
            write!(f, "{k}")?;
        }
        Ok(())
    }
}

impl Serialize for BlockingRule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BlockingRule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A key's value on every row, computed once.
pub(crate) struct KeyValues<'a> {
    kind: KeyKind<'a>,
}

enum KeyKind<'a> {
    /// Per row via a per-dictionary-value table: rows[r] is a value id, table[id] the key.
    Table { rows: &'a [u32], table: Vec<u64> },
    /// Per row directly.
    Direct(Vec<u64>),
}

/// The "no key" marker in key tables.
const MISSING: u64 = u64::MAX;

impl<'a> KeyValues<'a> {
    /// Computes `key` for every row of `records`.
    pub(crate) fn new(records: &'a Records, key: &Key) -> Result<KeyValues<'a>, Error> {
        let kind = match &key.field {
            Field::Role(Role::GivenName | Role::Surname) => {
                let crate::record::NameColumn { rows, dict } =
                    records.names(key.field == Field::Role(Role::GivenName));
                let n = dict.values.len();
                let table: Vec<u64> = match key.transform {
                    Transform::Exact => (0..n as u64).collect(),
                    Transform::Token => dict.first_token.iter().map(|&t| u64::from(t)).collect(),
                    Transform::Soundex => dict.soundex.iter().map(|&v| opt(v)).collect(),
                    Transform::Nysiis => dict.nysiis.iter().map(|&v| opt(v)).collect(),
                    Transform::Nickname => dict.canonical.iter().map(|&v| u64::from(v)).collect(),
                    t => prefix_table((0..n).map(|i| dict.values.get(i as u32)), t),
                };
                KeyKind::Table { rows, table }
            }
            Field::Role(Role::Postcode) => {
                let crate::record::PostcodeColumn { rows, dict: d } = records.postcodes();
                let table: Vec<u64> = match key.transform {
                    Transform::Sector => d.sector.iter().map(|&v| opt(v)).collect(),
                    Transform::District => d.district.iter().map(|&v| opt(v)).collect(),
                    Transform::Area => d.area.iter().map(|&v| opt(v)).collect(),
                    _ => (0..d.values.len() as u64).collect(),
                };
                KeyKind::Table { rows, table }
            }
            Field::Role(Role::Address) => {
                let TextColumn { rows, dict: d } = records.addresses();
                KeyKind::Table {
                    rows,
                    table: prefix_table((0..d.len()).map(|i| d.get(i as u32)), key.transform),
                }
            }
            Field::Other(name) => {
                let TextColumn { rows, dict } = records.other_named(name).ok_or_else(|| {
                    config_err(format!(
                        "key '{key}': no column '{name}' in the input (and it is not a role)"
                    ))
                })?;
                KeyKind::Table {
                    rows,
                    table: prefix_table((0..dict.len()).map(|i| dict.get(i as u32)), key.transform),
                }
            }
            Field::Role(Role::DateOfBirth) => KeyKind::Direct(
                records
                    .dates_of_birth()
                    .iter()
                    .map(|&d| match (d, key.transform) {
                        (0, _) => MISSING,
                        (d, Transform::Year) => u64::from(d / 10000),
                        (d, Transform::YearMonth) => u64::from(d / 100),
                        (d, _) => u64::from(d),
                    })
                    .collect(),
            ),
            Field::Role(Role::NhsNumber) => KeyKind::Direct(
                records
                    .nhs_numbers()
                    .iter()
                    .map(|&v| if v == 0 { MISSING } else { v })
                    .collect(),
            ),
            Field::Role(Role::Sex) => KeyKind::Direct(
                records
                    .sex_codes()
                    .iter()
                    .map(|&v| if v == 0 { MISSING } else { u64::from(v) })
                    .collect(),
            ),
            Field::Names => KeyKind::Direct(
                (0..records.len() as u32)
                    .into_par_iter()
                    .map(|r| names_of_row(records, r).unwrap_or(MISSING))
                    .collect(),
            ),
            Field::Role(Role::Id) => {
                return Err(config_err("the id column cannot be a key".into()));
            }
        };
        Ok(KeyValues { kind })
    }

    /// The key of `row`, `None` when missing.
    #[inline]
    pub(crate) fn get(&self, row: u32) -> Option<u64> {
        let v = match &self.kind {
            KeyKind::Table { rows, table } => {
                let id = rows[row as usize];
                if id == NO_ID {
                    return None;
                }
                table[id as usize]
            }
            KeyKind::Direct(v) => v[row as usize],
        };
        (v != MISSING).then_some(v)
    }
}

impl KeyValues<'_> {
    /// Makes the keys small while keeping their order, and returns the bits they then need:
    /// a table's keys become their ranks among its distinct keys, a row's keys their
    /// distance from the smallest.
    fn compact(&mut self) -> u32 {
        let values: &mut [u64] = match &mut self.kind {
            KeyKind::Table { table, .. } => {
                let mut distinct: Vec<u64> =
                    table.iter().copied().filter(|&v| v != MISSING).collect();
                distinct.sort_unstable();
                distinct.dedup();
                for v in table.iter_mut().filter(|v| **v != MISSING) {
                    *v = distinct.binary_search(v).unwrap_or(0) as u64;
                }
                return bits(distinct.len().saturating_sub(1) as u64);
            }
            KeyKind::Direct(v) => v,
        };
        let (min, max) = values
            .par_iter()
            .filter(|&&v| v != MISSING)
            .fold(|| (u64::MAX, 0), |(lo, hi), &v| (lo.min(v), hi.max(v)))
            .reduce(|| (u64::MAX, 0), |a, b| (a.0.min(b.0), a.1.max(b.1)));
        if min > max {
            return 0; // every key missing
        }
        values
            .par_iter_mut()
            .filter(|v| **v != MISSING)
            .for_each(|v| *v -= min);
        bits(max - min)
    }
}

/// The bits needed to write `v`.
fn bits(v: u64) -> u32 {
    u64::BITS - v.leading_zeros()
}

fn opt(v: u32) -> u64 {
    if v == NO_ID { MISSING } else { u64::from(v) }
}

/// The `names:soundex` key of a row from its given name's and surname's packed Soundex
/// codes: the two, smaller first; `None` when either is missing.
pub(crate) fn names_pair(given: u32, surname: u32) -> Option<u64> {
    if given == NO_ID || surname == NO_ID {
        return None;
    }
    let (a, b) = (given.min(surname), given.max(surname));
    Some((u64::from(a) << 32) | u64::from(b))
}

/// The `names:soundex` key of row `r` of `records`, from the Soundex codes its name
/// dictionaries keep.
pub(crate) fn names_of_row(records: &Records, r: u32) -> Option<u64> {
    let sx = |names: crate::record::NameColumn<'_>| {
        let id = names.id(r);
        if id == NO_ID {
            NO_ID
        } else {
            names.dict.soundex[id as usize]
        }
    };
    names_pair(sx(records.given_names()), sx(records.surnames()))
}

/// The key text of a normalised address or carried value under a text transform (whole
/// value, `initial`, `firstN`, `sorted`, `street`); `None` when empty. The index computes
/// one record's keys with this too.
pub(crate) fn text_key(t: Transform, v: &str) -> Option<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    let prefix = |n: usize| {
        let end = v.char_indices().nth(n).map_or(v.len(), |(i, _)| i);
        &v[..end]
    };
    let k: Cow<'_, str> = match t {
        Transform::Initial => Cow::Borrowed(prefix(1)),
        Transform::First(n) => Cow::Borrowed(prefix(usize::from(n))),
        Transform::Sorted => {
            let mut c: Vec<char> = v.chars().filter(|c| !c.is_whitespace()).collect();
            c.sort_unstable();
            Cow::Owned(c.into_iter().collect())
        }
        Transform::Street => Cow::Borrowed(street(v)),
        _ => Cow::Borrowed(v),
    };
    (!k.is_empty()).then_some(k)
}

/// The street of a normalised address: the last token holding a digit with the word after
/// it (`flat 2 11 dorset close` → `11 dorset`), else the first token.
fn street(v: &str) -> &str {
    let tokens: Vec<(usize, &str)> = v
        .split(' ')
        .scan(0usize, |at, t| {
            let start = *at;
            *at += t.len() + 1;
            Some((start, t))
        })
        .filter(|(_, t)| !t.is_empty())
        .collect();
    let digit = |t: &str| t.bytes().any(|b| b.is_ascii_digit());
    let numbered = (0..tokens.len().saturating_sub(1))
        .rev()
        .find(|&i| digit(tokens[i].1) && !digit(tokens[i + 1].1));
    match numbered {
        Some(i) => {
            let (start, _) = tokens[i];
            let (next, t) = tokens[i + 1];
            &v[start..next + t.len()]
        }
        None => tokens.first().map_or("", |t| t.1),
    }
}

/// Interns each value's key under text transform `t` (see [`text_key`]) into dense ids.
fn prefix_table<'a>(values: impl Iterator<Item = &'a str>, t: Transform) -> Vec<u64> {
    let mut ids: FxHashMap<std::borrow::Cow<'a, str>, u64> = FxHashMap::default();
    values
        .map(|v| {
            let Some(p) = text_key(t, v) else {
                return MISSING;
            };
            let next = ids.len() as u64;
            *ids.entry(p).or_insert(next)
        })
        .collect()
}

/// A candidate pair: two rows of the store. In a link, `left` is a row of the left source
/// and `right` of the right source; in a dedupe, `left < right`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pair {
    /// The left (or lower) row.
    pub left: u32,
    /// The right (or higher) row.
    pub right: u32,
}

/// Rows bucketed by a rule's interned key: bucket k holds `rows[offsets[k]..offsets[k+1]]`.
struct Buckets {
    offsets: Vec<u32>,
    rows: Vec<u32>,
}

impl Buckets {
    fn new(keys: &[u32], n_keys: usize, rows: Range<u32>) -> Buckets {
        let mut offsets = vec![0u32; n_keys + 1];
        for r in rows.clone() {
            let k = keys[r as usize];
            if k != NO_ID {
                offsets[k as usize + 1] += 1;
            }
        }
        for i in 0..n_keys {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets.clone();
        let mut out = vec![0u32; offsets[n_keys] as usize];
        for r in rows {
            let k = keys[r as usize];
            if k != NO_ID {
                out[fill[k as usize] as usize] = r;
                fill[k as usize] += 1;
            }
        }
        Buckets { offsets, rows: out }
    }

    fn get(&self, k: usize) -> &[u32] {
        &self.rows[self.offsets[k] as usize..self.offsets[k + 1] as usize]
    }
}

/// What to pair: two sources (link) or one (dedupe).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Pairs of a left row and a right row.
    Link {
        /// Rows of the left source.
        left: Range<u32>,
        /// Rows of the right source.
        right: Range<u32>,
    },
    /// Pairs of two rows of one source.
    Dedupe {
        /// Rows of the source.
        rows: Range<u32>,
    },
}

impl Mode {
    /// How many pairs the mode has in all (as a float: 14M records make ~10^14 pairs).
    pub fn all_pairs(&self) -> f64 {
        match self {
            Mode::Link { left, right } => {
                f64::from(left.end - left.start) * f64::from(right.end - right.start)
            }
            Mode::Dedupe { rows } => {
                let n = f64::from(rows.end - rows.start);
                n * (n - 1.0).max(0.0) / 2.0
            }
        }
    }

    /// The rows of pairs of record ids (known true pairs, for training): a left id in the
    /// left source and a right id in the right (in a dedupe, both in the one source).
    ///
    /// # Errors
    ///
    /// `(i, side)` for the first pair `i` (from 0) with an id its source lacks: side 0 the
    /// left id, 1 the right. The caller names its file line or list entry.
    pub fn pairs_of_ids<'a>(
        &self,
        records: &Records,
        ids: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Vec<Pair>, (usize, usize)> {
        let index = |rows: &Range<u32>| -> rustc_hash::FxHashMap<&str, u32> {
            rows.clone().map(|r| (records.id(r), r)).collect()
        };
        let (left, right) = match self {
            Mode::Link { left, right } => (index(left), index(right)),
            Mode::Dedupe { rows } => (index(rows), index(rows)),
        };
        ids.into_iter()
            .enumerate()
            .map(|(i, (a, b))| match (left.get(a), right.get(b)) {
                (Some(&l), Some(&r)) => Ok(Pair { left: l, right: r }),
                (None, _) => Err((i, 0)),
                _ => Err((i, 1)),
            })
            .collect()
    }

    /// The number of records the mode pairs: both sources of a link, the one of a dedupe.
    pub fn records(&self) -> u32 {
        match self {
            Mode::Link { left, right } => left.len() as u32 + right.len() as u32,
            Mode::Dedupe { rows } => rows.len() as u32,
        }
    }
}

/// Blocking rules made ready on a store: per rule, every row's interned key and buckets.
pub struct Blocker {
    rules: Vec<BlockingRule>,
    /// Per rule: per row, interned key id or `NO_ID`.
    keys: Vec<Arc<RuleKeys>>,
    /// Per rule: (left buckets, right buckets); in dedupe the right is empty.
    buckets: Vec<(Buckets, Option<Buckets>)>,
    n_keys: Vec<usize>,
}

impl fmt::Debug for Blocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Blocker")
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

impl Blocker {
    /// Computes every rule's keys on `records` and buckets the rows of `mode`.
    ///
    /// # Errors
    ///
    /// A config error when a rule names a column the input does not have.
    pub fn new(records: &Records, rules: &[BlockingRule], mode: &Mode) -> Result<Blocker, Error> {
        // The rules side by side (a rule's keys are sorted on one thread); the first error
        // in rule order is the one reported.
        let per_rule: Vec<Result<Arc<RuleKeys>, Error>> = rules
            .par_iter()
            .map(|rule| rule_keys(records, rule))
            .collect();
        let per_rule: Vec<Arc<RuleKeys>> = per_rule.into_iter().collect::<Result<_, Error>>()?;
        Ok(Blocker::from_keys(rules.to_vec(), per_rule, mode))
    }

    /// The blocker of `rules` whose keys per row are `keys`, bucketing the rows of `mode`:
    /// the rules' and sides' buckets side by side.
    fn from_keys(rules: Vec<BlockingRule>, keys: Vec<Arc<RuleKeys>>, mode: &Mode) -> Blocker {
        let buckets: Vec<(Buckets, Option<Buckets>)> = keys
            .par_iter()
            .map(|kn| {
                let (k, n) = (&kn.ids, kn.distinct);
                match mode {
                    Mode::Link { left, right } => {
                        let (l, r) = rayon::join(
                            || Buckets::new(k, n, left.clone()),
                            || Buckets::new(k, n, right.clone()),
                        );
                        (l, Some(r))
                    }
                    Mode::Dedupe { rows } => (Buckets::new(k, n, rows.clone()), None),
                }
            })
            .collect();
        let n_keys = keys.iter().map(|kn| kn.distinct).collect();
        Blocker {
            rules,
            keys,
            buckets,
            n_keys,
        }
    }

    /// The rules.
    pub fn rules(&self) -> &[BlockingRule] {
        &self.rules
    }

    /// The number of comparisons each rule generates on its own, before pairs produced by an
    /// earlier rule are removed. Cheap: computed from bucket sizes.
    pub fn comparisons_per_rule(&self) -> Vec<u64> {
        self.buckets
            .iter()
            .zip(&self.n_keys)
            .map(|((l, r), &n)| {
                (0..n)
                    .map(|k| {
                        let a = l.get(k).len() as u64;
                        match r {
                            Some(r) => a * r.get(k).len() as u64,
                            None => a * a.saturating_sub(1) / 2,
                        }
                    })
                    .sum()
            })
            .collect()
    }

    /// True when `pair` is produced by rule `rule`.
    #[inline]
    fn produced_by(&self, rule: usize, pair: Pair) -> bool {
        let k = &self.keys[rule].ids;
        let a = k[pair.left as usize];
        a != NO_ID && a == k[pair.right as usize]
    }

    /// Streams the candidate pairs, each once, in a fixed order (by rule, key, then rows), in
    /// chunks of at most `chunk` pairs.
    pub fn pairs(&self, chunk: usize) -> PairChunks<'_> {
        PairChunks {
            blocker: self,
            chunk: chunk.max(1),
            part: PART,
            at: Cursor::default(),
            produced: vec![0; self.rules.len()],
            examined: 0,
        }
    }
}

/// Rows counted per source by [`estimate_comparisons`]; larger sources are sampled. On the
/// 1M-person link, counting 200,000 rows per source made the run 1.14x as long as with fixed
/// rules, and 50,000 rows 1.08x (paired medians of five runs, the same rules chosen).
const ESTIMATE_ROWS: u32 = 50_000;

/// The number of comparisons `rule` would generate on its own on `records` in `mode`,
/// without numbering its keys (the rules a data-driven choice tries and leaves out cost a
/// hash count, not a sort). Exact for sources of up to 50,000 rows; a larger source is
/// sampled (every k-th row) and the count scaled up, which estimates the pairs of large
/// buckets well and is deterministic.
///
/// # Errors
///
/// A config error when the rule names a column the input does not have.
pub(crate) fn estimate_comparisons(
    records: &Records,
    rule: &BlockingRule,
    mode: &Mode,
) -> Result<u64, Error> {
    let parts = key_parts(records, rule)?;
    let key = |r: u32| -> Option<[u64; MAX_KEYS]> {
        let mut t = [MISSING; MAX_KEYS];
        for (slot, p) in t.iter_mut().zip(&parts) {
            *slot = p.get(r)?;
        }
        Some(t)
    };
    let stride = |rows: &Range<u32>| (rows.end - rows.start).div_ceil(ESTIMATE_ROWS).max(1);
    let count = |rows: &Range<u32>| {
        let mut h: FxHashMap<[u64; MAX_KEYS], u64> = FxHashMap::default();
        for r in rows.clone().step_by(stride(rows) as usize) {
            if let Some(k) = key(r) {
                *h.entry(k).or_default() += 1;
            }
        }
        h
    };
    let pairs = match mode {
        Mode::Link { left, right } => {
            // The sides counted side by side.
            let (l, r) = rayon::join(|| count(left), || count(right));
            let scale = f64::from(stride(left)) * f64::from(stride(right));
            l.iter()
                .map(|(k, a)| a * r.get(k).copied().unwrap_or(0))
                .sum::<u64>() as f64
                * scale
        }
        Mode::Dedupe { rows } => {
            let s = f64::from(stride(rows));
            count(rows)
                .values()
                .map(|c| c * c.saturating_sub(1) / 2)
                .sum::<u64>() as f64
                * s
                * s
        }
    };
    Ok(pairs.round() as u64)
}

/// Every key of `rule` on every row of `records`, the keys side by side; the first error in
/// key order is the one reported.
fn key_parts<'a>(records: &'a Records, rule: &BlockingRule) -> Result<Vec<KeyValues<'a>>, Error> {
    let parts: Vec<Result<KeyValues, Error>> = rule
        .keys
        .par_iter()
        .map(|k| KeyValues::new(records, k))
        .collect();
    parts.into_iter().collect()
}

/// The most keys a blocking rule may have.
pub(crate) const MAX_KEYS: usize = 6;

/// Gives each row a dense id for its key tuple under `rule` (`NO_ID` when any part is
/// missing): the tuples are sorted in parallel and numbered in sorted order, so ids depend on
/// the values only, not on row order or thread count. The store caches the result by rule,
/// so a rule shared by the deterministic ladder, the model and training is computed once.
fn rule_keys(records: &Records, rule: &BlockingRule) -> Result<Arc<RuleKeys>, Error> {
    let name = rule.to_string();
    if let Some(hit) = records.rule_key_cache().get(&name) {
        return Ok(hit);
    }
    let mut parts = key_parts(records, rule)?;
    if let Some(keys) = number_packed(records.len(), &mut parts) {
        return Ok(records.rule_key_cache().put(name, keys));
    }
    let keys = match parts.len() {
        1 => number::<1>(records.len(), &parts),
        2 => number::<2>(records.len(), &parts),
        3 => number::<3>(records.len(), &parts),
        4 => number::<4>(records.len(), &parts),
        5 => number::<5>(records.len(), &parts),
        _ => number::<MAX_KEYS>(records.len(), &parts),
    };
    Ok(records.rule_key_cache().put(name, keys))
}

/// Numbers the `N`-part key tuples of `n` rows in sorted order (see [`rule_keys`]).
fn number<const N: usize>(n: usize, parts: &[KeyValues]) -> RuleKeys {
    let mut tuples: Vec<([u64; N], u32)> = (0..n as u32)
        .into_par_iter()
        .filter_map(|r| {
            let mut t = [0u64; N];
            for (slot, p) in t.iter_mut().zip(parts) {
                *slot = p.get(r)?;
            }
            Some((t, r))
        })
        .collect();
    tuples.par_sort_unstable();
    number_sorted(n, tuples.into_iter())
}

/// The ids of `n` rows' keys from (key, row) in key order: equal keys one id, ids from 0 in
/// that order; `NO_ID` for rows not given.
fn number_sorted<K: PartialEq>(n: usize, sorted: impl Iterator<Item = (K, u32)>) -> RuleKeys {
    let mut out = vec![NO_ID; n];
    let mut next = 0u32;
    let mut last: Option<K> = None;
    for (k, r) in sorted {
        if last.as_ref().is_some_and(|l| *l != k) {
            next += 1;
        }
        out[r as usize] = next;
        last = Some(k);
    }
    RuleKeys {
        ids: out,
        distinct: if last.is_some() { next as usize + 1 } else { 0 },
    }
}

/// [`number`] when a row's key tuple and the row itself fit in 128 bits (the keys made
/// small by [`KeyValues::compact`]): the tuples are packed as single integers, key parts
/// first, then the row, and radix-sorted by their key bits ([`sort_by_bits`]; made in row
/// order, so that is the order of [`number`]'s tuples); `None` when they do not fit.
/// Sorting 8 bytes a row instead of 16 to 48 took the 1M-person link's blocking phase from
/// 0.55-0.68 s to 0.34-0.55 s (three runs each, in turns); the four-key demographics rule,
/// 88 bits on the 1M-person link, took 0.165 s as tuples.
fn number_packed(n: usize, parts: &mut [KeyValues]) -> Option<RuleKeys> {
    let widths: Vec<u32> = parts.iter_mut().map(KeyValues::compact).collect();
    let row_bits = bits(n.saturating_sub(1) as u64);
    let total = widths.iter().sum::<u32>() + row_bits;
    if total <= u64::BITS {
        Some(number_packed_in::<u64>(n, parts, &widths, row_bits))
    } else if total <= u128::BITS {
        Some(number_packed_in::<u128>(n, parts, &widths, row_bits))
    } else {
        None
    }
}

/// [`number_packed`] with the tuples packed in `P`, which holds them.
fn number_packed_in<P: Packed>(
    n: usize,
    parts: &[KeyValues],
    widths: &[u32],
    row_bits: u32,
) -> RuleKeys {
    let mut packed: Vec<P> = (0..n as u32)
        .into_par_iter()
        .filter_map(|r| {
            let mut k = 0u128;
            for (p, &w) in parts.iter().zip(widths) {
                k = (k << w) | u128::from(p.get(r)?);
            }
            Some(P::from_bits((k << row_bits) | u128::from(r)))
        })
        .collect();
    // Made in row order, so sorting by the key bits alone, stably, puts each key's rows in
    // order too.
    sort_by_bits(&mut packed, row_bits, widths.iter().sum::<u32>() + row_bits);
    let row_mask = (1u128 << row_bits) - 1;
    let key_and_row = |v: P| {
        let v = v.bits();
        (v >> row_bits, (v & row_mask) as u32)
    };
    number_sorted(n, packed.into_iter().map(key_and_row))
}

/// An unsigned integer that packed keys are sorted in.
trait Packed: Copy + Default + Send {
    /// The value of the low bits of `v` (those `Self` holds).
    fn from_bits(v: u128) -> Self;
    /// The value as a `u128`.
    fn bits(self) -> u128;
    /// Bits `shift..shift + width` (width below 64).
    fn digit(self, shift: u32, width: u32) -> usize;
}

impl Packed for u64 {
    fn from_bits(v: u128) -> u64 {
        v as u64
    }
    fn bits(self) -> u128 {
        u128::from(self)
    }
    #[inline]
    fn digit(self, shift: u32, width: u32) -> usize {
        ((self >> shift) & ((1 << width) - 1)) as usize
    }
}

impl Packed for u128 {
    fn from_bits(v: u128) -> u128 {
        v
    }
    fn bits(self) -> u128 {
        self
    }
    #[inline]
    fn digit(self, shift: u32, width: u32) -> usize {
        ((self >> shift) & ((1 << width) - 1)) as usize
    }
}

/// Sorts `v` stably by bits `lo..hi` of each value: a least-significant-digit radix sort,
/// 11 bits a pass. Sorting a rule's 1.4M packed keys this way takes a few passes over them,
/// where a comparison sort of all 64 bits took most of the blocking phase's time.
fn sort_by_bits<P: Packed>(v: &mut Vec<P>, lo: u32, hi: u32) {
    const DIGIT: u32 = 11;
    let mut spare = vec![P::default(); v.len()];
    let mut counts = vec![0usize; 1 << DIGIT];
    let mut shift = lo;
    while shift < hi {
        let width = DIGIT.min(hi - shift);
        counts[..1 << width].fill(0);
        for &x in v.iter() {
            counts[x.digit(shift, width)] += 1;
        }
        let mut at = 0;
        for c in &mut counts[..1 << width] {
            (*c, at) = (at, at + *c);
        }
        for &x in v.iter() {
            let d = x.digit(shift, width);
            spare[counts[d]] = x;
            counts[d] += 1;
        }
        std::mem::swap(v, &mut spare);
        shift += width;
    }
}

/// An iterator over chunks of candidate pairs; see [`Blocker::pairs`].
pub struct PairChunks<'a> {
    blocker: &'a Blocker,
    chunk: usize,
    /// Pairs of the order a part passes ([`PART`]; the tests set it small).
    part: u64,
    at: Cursor,
    produced: Vec<u64>,
    examined: u64,
}

/// A place in a blocker's pair order: rule, key, the left row's place in the key's left
/// bucket, the right row's place in its right bucket (0: the left row's first pair; in a
/// dedupe the row's pairs start after it). Places compare in pair order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Cursor {
    rule: usize,
    key: usize,
    i: usize,
    j: usize,
}

/// Pairs a chunk's part holds (counting those an earlier rule made): a chunk is made a part
/// per thread task. On the 1M-person link making pairs was one thread's work, 20% of the
/// linking phase's samples, while the pool compared the chunk before.
const PART: u64 = 1 << 14;

impl Blocker {
    /// The left and right rows of `key` under `rule`, and whether they are one source's.
    fn sides(&self, rule: usize, key: usize) -> (&[u32], &[u32], bool) {
        let (left, right) = &self.buckets[rule];
        let ls = left.get(key);
        match right {
            Some(r) => (ls, r.get(key), false),
            None => (ls, ls, true),
        }
    }

    /// Moves `c` over at most `n` pairs of the order (pairs an earlier rule made count
    /// too) and returns how many it passed: fewer only at the end.
    fn advance(&self, c: &mut Cursor, n: u64) -> u64 {
        let mut left = n;
        while left > 0 && c.rule < self.rules.len() {
            if c.key >= self.n_keys[c.rule] {
                *c = Cursor {
                    rule: c.rule + 1,
                    ..Cursor::default()
                };
                continue;
            }
            let (ls, rs, dedupe) = self.sides(c.rule, c.key);
            let (a, b) = (ls.len() as u64, rs.len() as u64);
            let first_j = |i: u64, j: u64| if dedupe { j.max(i + 1) } else { j };
            let (i, j) = (c.i as u64, c.j as u64);
            let rest = if i >= a {
                0
            } else if dedupe {
                let later = a - i - 1;
                (a - first_j(i, j)) + later * later.saturating_sub(1) / 2
            } else {
                (a - i) * b - j
            };
            if rest <= left {
                left -= rest;
                *c = Cursor {
                    rule: c.rule,
                    key: c.key + 1,
                    ..Cursor::default()
                };
                continue;
            }
            // The key holds more than is left to pass: its rows one at a time.
            loop {
                let (i, j) = (c.i as u64, first_j(c.i as u64, c.j as u64));
                let row = b - j;
                if row <= left {
                    left -= row;
                    c.i += 1;
                    c.j = 0;
                } else {
                    c.j = (j + left) as usize;
                    left = 0;
                    break;
                }
                debug_assert!(i + 1 < a, "a key's rest was larger than its rows");
            }
        }
        n - left
    }

    /// Appends the pairs from `c` up to `end` (not included) that no earlier rule makes, in
    /// order, to `out`, counting them per rule in `produced`.
    fn fill(&self, mut c: Cursor, end: Cursor, out: &mut Vec<Pair>, produced: &mut [u64]) {
        while c < end && c.rule < self.rules.len() {
            if c.key >= self.n_keys[c.rule] {
                c = Cursor {
                    rule: c.rule + 1,
                    ..Cursor::default()
                };
                continue;
            }
            let (ls, rs, dedupe) = self.sides(c.rule, c.key);
            let rule = c.rule;
            while c.i < ls.len() {
                let from = if dedupe { c.j.max(c.i + 1) } else { c.j };
                let ends_here = (end.rule, end.key, end.i) == (c.rule, c.key, c.i);
                let to = if ends_here { end.j } else { rs.len() };
                let l = ls[c.i];
                for &r in rs.get(from..to).unwrap_or_default() {
                    let pair = Pair { left: l, right: r };
                    if (0..rule).any(|e| self.produced_by(e, pair)) {
                        continue;
                    }
                    out.push(pair);
                    produced[rule] += 1;
                }
                if ends_here {
                    return;
                }
                c.i += 1;
                c.j = 0;
                if c >= end {
                    return;
                }
            }
            c = Cursor {
                rule,
                key: c.key + 1,
                ..Cursor::default()
            };
        }
    }
}

impl PairChunks<'_> {
    /// Pairs produced so far by each rule (after removing those of earlier rules): once the
    /// iterator is exhausted, the marginal count of each rule.
    pub fn produced_per_rule(&self) -> &[u64] {
        &self.produced
    }

    /// Pairs examined so far, counting a pair once for each rule that makes it: at the end,
    /// the sum of [`Blocker::comparisons_per_rule`] (what progress is measured against).
    pub fn examined(&self) -> u64 {
        self.examined
    }
}

impl PairChunks<'_> {
    /// Runs `work` on every chunk in the thread pool while the pool also makes the next
    /// chunk, then hands each chunk's result, in order, to `then` with the chunk's length.
    /// `then` sees [`PairChunks::examined`] counting the chunk after the one it is given.
    ///
    /// # Errors
    ///
    /// The first error `then` returns; no chunk is worked on after it.
    pub(crate) fn pipelined<T: Send>(
        &mut self,
        work: impl Fn(&[Pair]) -> T + Sync,
        mut then: impl FnMut(T, &Self, usize) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut current = self.next();
        while let Some(chunk) = current {
            let (out, next) = rayon::join(|| work(&chunk), || self.next());
            then(out, self, chunk.len())?;
            current = next;
        }
        Ok(())
    }
}

impl Iterator for PairChunks<'_> {
    type Item = Vec<Pair>;

    /// The next pairs, at most `chunk` of them (a chunk passes at most `chunk` pairs of the
    /// order, those an earlier rule made included), made in parts side by side; `None` at
    /// the end. The pairs and their order do not depend on the chunk size or thread count.
    fn next(&mut self) -> Option<Vec<Pair>> {
        let b = self.blocker;
        let chunk = self.chunk as u64;
        loop {
            let mut parts = Vec::new();
            let mut passed = 0u64;
            while passed < chunk {
                let from = self.at;
                let n = b.advance(&mut self.at, self.part.min(chunk - passed));
                if n == 0 {
                    break;
                }
                parts.push((from, self.at));
                passed += n;
            }
            if parts.is_empty() {
                return None;
            }
            self.examined += passed;
            let rules = b.rules.len();
            let made: Vec<(Vec<Pair>, Vec<u64>)> = parts
                .par_iter()
                .map(|&(from, to)| {
                    let mut out = Vec::new();
                    let mut produced = vec![0u64; rules];
                    b.fill(from, to, &mut out, &mut produced);
                    (out, produced)
                })
                .collect();
            let mut out = Vec::with_capacity(made.iter().map(|(p, _)| p.len()).sum());
            for (pairs, produced) in made {
                out.extend_from_slice(&pairs);
                for (total, n) in self.produced.iter_mut().zip(produced) {
                    *total += n;
                }
            }
            if !out.is_empty() {
                return Some(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The radix sort orders by the bits asked for and keeps the order of values whose
        /// bits there are equal.
        #[test]
        fn sorting_by_some_bits_is_a_stable_sort_by_them(
            v in proptest::collection::vec(proptest::num::u64::ANY, 0..2000),
            lo in 0u32..64,
            span in 0u32..40,
        ) {
            let hi = (lo + span).min(64);
            let key = |x: u64| if hi == lo { 0 } else { (x >> lo) & (u64::MAX >> (64 - (hi - lo))) };
            let mut want = v.clone();
            want.sort_by_key(|&x| key(x));
            let mut got = v;
            sort_by_bits(&mut got, lo, hi);
            proptest::prop_assert_eq!(got, want);
        }

        /// Chunks of any size, made in parts side by side, give the pairs of the plain
        /// walk (rule, key, left row, right row; a pair an earlier rule makes left out), in
        /// its order, with its counts per rule and of pairs examined.
        #[test]
        fn chunks_of_any_size_give_the_pairs_of_the_plain_walk_in_order(
            keys in proptest::collection::vec(
                proptest::collection::vec(proptest::option::weighted(0.8, 0u32..6), 40),
                1..4,
            ),
            dedupe in proptest::bool::ANY,
            split in 0u32..40,
            chunk in 1usize..300,
            part in 1u64..60,
        ) {
            let per_rule: Vec<Arc<RuleKeys>> = keys
                .iter()
                .map(|k| {
                    Arc::new(RuleKeys {
                        ids: k.iter().map(|v| v.unwrap_or(NO_ID)).collect(),
                        distinct: 6,
                    })
                })
                .collect();
            let rules: Vec<BlockingRule> = (0..keys.len()).map(|_| "dob".parse().unwrap()).collect();
            let mode = if dedupe {
                Mode::Dedupe { rows: 0..40 }
            } else {
                Mode::Link { left: 0..split, right: split..40 }
            };
            let b = Blocker::from_keys(rules, per_rule, &mode);
            // The plain walk.
            let mut want = Vec::new();
            let mut want_produced = vec![0u64; keys.len()];
            let mut want_examined = 0u64;
            let key = |rule: usize, row: u32| keys[rule][row as usize];
            for (rule, produced) in want_produced.iter_mut().enumerate() {
                for k in 0..6u32 {
                    let (ls, rs): (Vec<u32>, Vec<u32>) = match &mode {
                        Mode::Link { left, right } => (
                            left.clone().filter(|&r| key(rule, r) == Some(k)).collect(),
                            right.clone().filter(|&r| key(rule, r) == Some(k)).collect(),
                        ),
                        Mode::Dedupe { rows } => {
                            let v: Vec<u32> = rows.clone().filter(|&r| key(rule, r) == Some(k)).collect();
                            (v.clone(), v)
                        }
                    };
                    for (i, &l) in ls.iter().enumerate() {
                        for &r in &rs[if dedupe { i + 1 } else { 0 }..] {
                            want_examined += 1;
                            let earlier = (0..rule).any(|e| key(e, l).is_some() && key(e, l) == key(e, r));
                            if !earlier {
                                want.push(Pair { left: l, right: r });
                                *produced += 1;
                            }
                        }
                    }
                }
            }
            let mut chunks = b.pairs(chunk);
            // Parts smaller than chunks, so that a chunk joins several.
            chunks.part = part;
            let mut got = Vec::new();
            for c in chunks.by_ref() {
                proptest::prop_assert!(!c.is_empty() && c.len() <= chunk);
                got.extend(c);
            }
            proptest::prop_assert_eq!(got, want);
            proptest::prop_assert_eq!(chunks.produced_per_rule(), &want_produced[..]);
            proptest::prop_assert_eq!(chunks.examined(), want_examined);
            proptest::prop_assert_eq!(
                b.comparisons_per_rule().iter().sum::<u64>(),
                want_examined
            );
        }
    }

    /// Key parts over `n` rows: a row's key (some missing) from a fixed pseudo-random
    /// sequence, directly per row (`spread` apart) or through a table of 50 values.
    fn parts(n: usize, spreads: &[u64], rows: &[u32]) -> Vec<KeyValues<'static>> {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut out: Vec<KeyValues<'static>> = spreads
            .iter()
            .map(|&spread| {
                let v = (0..n)
                    .map(|_| match next() % 10 {
                        0 => MISSING,
                        k => 1_000 + (k + next() % 7) * spread,
                    })
                    .collect();
                KeyValues {
                    kind: KeyKind::Direct(v),
                }
            })
            .collect();
        let table = (0..50)
            .map(|i| if i % 9 == 0 { MISSING } else { 7 * (50 - i) })
            .collect();
        let rows: &'static [u32] = Vec::leak(rows.to_vec());
        out.push(KeyValues {
            kind: KeyKind::Table { rows, table },
        });
        out
    }

    #[test]
    fn keys_packed_into_one_integer_are_numbered_as_tuples_are() {
        let n = 5_000;
        let rows: Vec<u32> = (0..n as u32)
            .map(|r| if r % 13 == 0 { NO_ID } else { r % 50 })
            .collect();
        let reference = |p: &[KeyValues]| match p.len() {
            2 => number::<2>(n, p),
            3 => number::<3>(n, p),
            _ => number::<4>(n, p),
        };
        for spreads in [
            &[1u64][..],
            &[3, 1 << 20],
            &[1 << 40, 1 << 40],
            &[1 << 59, 1 << 59, 1 << 59],
        ] {
            let expected = reference(&parts(n, spreads, &rows));
            let mut p = parts(n, spreads, &rows);
            let packed = number_packed(n, &mut p);
            // Two parts 44 bits wide fit with the row in 128 bits, three of 63 do not: they
            // are numbered as tuples, on the compacted keys, alike.
            assert_eq!(packed.is_none(), spreads.len() == 3, "{spreads:?}");
            let got = packed.unwrap_or_else(|| reference(&p));
            assert_eq!(got.distinct, expected.distinct, "{spreads:?}");
            assert!(got.ids == expected.ids, "{spreads:?}");
            assert!(got.distinct > 10 && got.ids.contains(&NO_ID), "{spreads:?}");
        }
    }

    #[test]
    fn keys_parse_and_print_back() {
        for s in [
            "surname:soundex",
            "dob:year",
            "postcode:district",
            "given_name:first3",
            "nhs_number",
        ] {
            let k: Key = s.parse().unwrap();
            assert_eq!(k.to_string(), s);
        }
        let r: BlockingRule = "dob & surname:soundex".parse().unwrap();
        assert_eq!(r.to_string(), "dob & surname:soundex");
    }

    #[test]
    fn bad_keys_are_config_errors_naming_the_key() {
        for s in [
            "dob:soundex",
            "surname:bogus",
            ":year",
            "id",
            "given_name:first0",
            "sex:initial",
        ] {
            let e = s.parse::<Key>().unwrap_err();
            assert!(e.is_config(), "{s}");
        }
        let e = "postcode:soundex".parse::<Key>().unwrap_err();
        assert!(e.to_string().contains("postcode:soundex"), "{e}");
    }

    #[test]
    fn default_rules_parse() {
        assert_eq!(BlockingRule::defaults().len(), 7);
    }

    #[test]
    fn rules_round_trip_through_json() {
        let rules = BlockingRule::defaults();
        let j = serde_json::to_string(&rules).unwrap();
        let back: Vec<BlockingRule> = serde_json::from_str(&j).unwrap();
        assert_eq!(rules, back);
        assert!(serde_json::from_str::<BlockingRule>("\"dob:nope\"").is_err());
    }
}
