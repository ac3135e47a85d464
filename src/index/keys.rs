//! Blocking keys and deterministic rules for one record at a time.
//!
//! The batch blocker numbers each key's values densely over a whole store; an index that
//! grows one record at a time cannot. Here a key's value is computed from the record's
//! normalised values alone (a name's first token, its Soundex, a postcode district, a year of
//! birth), so a query that is not in the store and a row that is get equal keys exactly when
//! a batch run would give them equal keys. Blocking buckets are keyed by a 64-bit hash of a
//! rule's values (a collision only adds a candidate, which is then scored); rule conditions
//! compare the values themselves.

use std::borrow::Cow;
use std::hash::{BuildHasher, Hash, Hasher};

use rustc_hash::FxBuildHasher;

use crate::block::{BlockingRule, Field, Key, Transform};
use crate::normalise::name::canonical_given_name;
use crate::normalise::phonetic::{nysiis, soundex};
use crate::record::{NO_ID, NewRow, Records, TextColumn};
use crate::rules::{Condition, MatchRule, dob_or_swap, nhs_conflict};
use crate::schema::Role;

/// One record's normalised values, borrowed from a [`NewRow`] or a row of a store.
pub(crate) struct View<'a> {
    pub(crate) given: Option<&'a str>,
    pub(crate) surname: Option<&'a str>,
    pub(crate) dob: u32,
    pub(crate) sex: u8,
    /// Unit (or other text), then sector, district and area of a UK postcode.
    pub(crate) postcode: [Option<&'a str>; 4],
    pub(crate) nhs: u64,
    pub(crate) address: Option<&'a str>,
    /// The carried columns' values, in the store's column order.
    pub(crate) others: Vec<Option<&'a str>>,
}

impl<'a> View<'a> {
    /// The view of a record not in a store.
    pub(crate) fn of_new(r: &'a NewRow) -> View<'a> {
        let postcode = match &r.postcode {
            None => [None; 4],
            Some(p) => p.levels().map(Some),
        };
        View {
            given: r.given.as_deref(),
            surname: r.surname.as_deref(),
            dob: r.dob,
            sex: r.sex,
            postcode,
            nhs: r.nhs,
            address: r.address.as_deref(),
            others: r.others.iter().map(|o| o.as_deref()).collect(),
        }
    }

    /// The view of row `row` of `r`.
    pub(crate) fn of_row(r: &'a Records, row: u32) -> View<'a> {
        let i = row as usize;
        let postcode = postcode_parts(r, r.postcodes().rows[i]);
        View {
            given: r.given_name(row),
            surname: r.surname(row),
            dob: r.dates_of_birth()[i],
            sex: r.sex_codes()[i],
            postcode,
            nhs: r.nhs_numbers()[i],
            address: r.address(row),
            others: r
                .others()
                .iter()
                .map(|c| {
                    let v = c.values[i];
                    (v != NO_ID).then(|| c.dict.get(v))
                })
                .collect(),
        }
    }
}

/// The unit (or other text), sector, district and area of postcode value `p` of `r`
/// (all `None` for `NO_ID`).
fn postcode_parts(r: &Records, p: u32) -> [Option<&str>; 4] {
    if p == NO_ID {
        return [None; 4];
    }
    let pd = r.postcodes().dict;
    // Parts are stored with a two-byte prefix ("s:", "d:", "a:").
    let part = |v: &[u32]| {
        let id = *v.get(p as usize)?;
        (id != NO_ID).then(|| pd.parts.get(id).get(2..).unwrap_or(""))
    };
    [
        Some(pd.values.get(p)),
        part(&pd.sector),
        part(&pd.district),
        part(&pd.area),
    ]
}

/// A key's value: text or a number.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum KeyValue<'a> {
    Text(Cow<'a, str>),
    Number(u64),
}

/// The key of a name under transform `t`.
fn name_key(t: Transform, name: &str) -> Option<KeyValue<'_>> {
    let text = |s| Some(KeyValue::Text(Cow::Borrowed(s)));
    let owned = |s: String| Some(KeyValue::Text(Cow::Owned(s)));
    let first = name.split(' ').next().unwrap_or("");
    match t {
        Transform::Exact => text(name),
        Transform::Token => text(first),
        Transform::Soundex => owned(soundex(first)?),
        Transform::Nysiis => owned(nysiis(first)?),
        Transform::Nickname => text(canonical_given_name(first).unwrap_or(first)),
        Transform::Initial | Transform::First(_) => text_key(t, name),
        _ => None,
    }
}

/// The key of a postcode (unit or other text, sector, district, area) under transform `t`.
fn postcode_key(t: Transform, p: [Option<&str>; 4]) -> Option<KeyValue<'_>> {
    let part = match t {
        Transform::Sector => p[1],
        Transform::District => p[2],
        Transform::Area => p[3],
        _ => p[0],
    };
    Some(KeyValue::Text(Cow::Borrowed(part?)))
}

/// The key of an address or a carried column's text under transform `t`.
fn text_key(t: Transform, s: &str) -> Option<KeyValue<'_>> {
    crate::block::text_key(t, s).map(KeyValue::Text)
}

/// The `names:soundex` key of a given name and a surname.
fn names_key<'a>(given: &str, surname: &str) -> Option<KeyValue<'a>> {
    let sx = |n: &str| crate::record::soundex_code(n.split(' ').next().unwrap_or(""));
    crate::block::names_pair(sx(given), sx(surname)).map(KeyValue::Number)
}

/// The value of `key` on `v`, as the batch blocker computes it; `None` when missing.
/// `others` names the store's carried columns (a key on a column the store lacks is
/// missing).
pub(crate) fn key_value<'a>(key: &Key, v: &View<'a>, others: &[String]) -> Option<KeyValue<'a>> {
    let t = key.transform;
    match &key.field {
        Field::Role(Role::GivenName) => name_key(t, v.given?),
        Field::Role(Role::Surname) => name_key(t, v.surname?),
        Field::Role(Role::Postcode) => postcode_key(t, v.postcode),
        Field::Role(Role::Address) => text_key(t, v.address?),
        Field::Other(name) => {
            let i = others.iter().position(|o| o == name)?;
            text_key(t, (*v.others.get(i)?)?)
        }
        Field::Role(Role::DateOfBirth) => match (v.dob, t) {
            (0, _) => None,
            (d, Transform::Year) => Some(KeyValue::Number(u64::from(d / 10000))),
            (d, Transform::YearMonth) => Some(KeyValue::Number(u64::from(d / 100))),
            (d, _) => Some(KeyValue::Number(u64::from(d))),
        },
        Field::Role(Role::NhsNumber) => (v.nhs != 0).then_some(KeyValue::Number(v.nhs)),
        Field::Role(Role::Sex) => (v.sex != 0).then_some(KeyValue::Number(u64::from(v.sex))),
        Field::Names => names_key(v.given?, v.surname?),
        Field::Role(Role::Id) => None,
    }
}

/// A key value's hash; buckets combine these.
fn hash_value(k: &KeyValue<'_>) -> u64 {
    FxBuildHasher.hash_one(k)
}

/// The bucket of a rule from its keys' hashes (in key order).
fn combine(hashes: impl Iterator<Item = u64>) -> u64 {
    let mut h = FxBuildHasher.build_hasher();
    for (i, x) in hashes.enumerate() {
        (i, x).hash(&mut h);
    }
    // Fx's low bits are weak; the bucket maps hash again, so mix the high bits down.
    let x = h.finish();
    x ^ (x >> 29).wrapping_mul(0xbf58_476d_1ce4_e5b9)
}

/// The bucket of `v` under `rule`: a hash of every key's value, `None` when a key is missing.
pub(crate) fn bucket(rule: &BlockingRule, v: &View<'_>, others: &[String]) -> Option<u64> {
    let mut hashes = [0u64; crate::block::MAX_KEYS];
    let n = rule.keys().len();
    for (h, k) in hashes.iter_mut().zip(rule.keys()) {
        *h = hash_value(&key_value(k, v, others)?);
    }
    Some(combine(hashes[..n].iter().copied()))
}

/// One key's hash on every row of a store, computed once per distinct value (as the batch
/// blocker does) rather than once per row: equal to hashing [`key_value`] on the row's view.
enum KeyColumn<'r> {
    /// Per row a value id; per value id its key's hash.
    Table(&'r [u32], Vec<Option<u64>>),
    /// Per row directly.
    Direct(Vec<Option<u64>>),
}

impl<'r> KeyColumn<'r> {
    fn new(r: &'r Records, key: &Key, others: &[String]) -> KeyColumn<'r> {
        use rayon::prelude::*;
        let t = key.transform;
        let table = |n: usize, f: &(dyn Fn(u32) -> Option<u64> + Sync)| -> Vec<Option<u64>> {
            (0..n as u32).into_par_iter().map(f).collect()
        };
        let row = |f: &(dyn Fn(usize) -> Option<u64> + Sync)| -> Vec<Option<u64>> {
            (0..r.len()).into_par_iter().map(f).collect()
        };
        match &key.field {
            Field::Role(role @ (Role::GivenName | Role::Surname)) => {
                let names = r.names(*role == Role::GivenName);
                let d = &names.dict.values;
                KeyColumn::Table(
                    names.rows,
                    table(d.len(), &|i| Some(hash_value(&name_key(t, d.get(i))?))),
                )
            }
            Field::Role(Role::Postcode) => {
                let postcodes = r.postcodes();
                KeyColumn::Table(
                    postcodes.rows,
                    table(postcodes.dict.values.len(), &|i| {
                        Some(hash_value(&postcode_key(t, postcode_parts(r, i))?))
                    }),
                )
            }
            Field::Role(Role::Address) => {
                let TextColumn { rows, dict } = r.addresses();
                KeyColumn::Table(
                    rows,
                    table(dict.len(), &|i| {
                        Some(hash_value(&text_key(t, dict.get(i))?))
                    }),
                )
            }
            Field::Other(name) => match others.iter().position(|o| o == name) {
                Some(c) => {
                    let TextColumn { rows, dict } = r.other_column(c);
                    KeyColumn::Table(
                        rows,
                        table(dict.len(), &|i| {
                            Some(hash_value(&text_key(t, dict.get(i))?))
                        }),
                    )
                }
                None => KeyColumn::Direct(vec![None; r.len()]),
            },
            // From the Soundex codes the store's dictionaries keep, as the batch does.
            Field::Names => KeyColumn::Direct(row(&|i| {
                let pair = crate::block::names_of_row(r, i as u32)?;
                Some(hash_value(&KeyValue::Number(pair)))
            })),
            Field::Role(Role::DateOfBirth | Role::NhsNumber | Role::Sex | Role::Id) => {
                let v = |row: usize| {
                    let view = View {
                        given: None,
                        surname: None,
                        dob: r.dates_of_birth()[row],
                        sex: r.sex_codes()[row],
                        postcode: [None; 4],
                        nhs: r.nhs_numbers()[row],
                        address: None,
                        others: Vec::new(),
                    };
                    Some(hash_value(&key_value(key, &view, others)?))
                };
                KeyColumn::Direct(row(&v))
            }
        }
    }

    #[inline]
    fn get(&self, row: usize) -> Option<u64> {
        match self {
            KeyColumn::Table(rows, t) => {
                let id = rows[row];
                if id == NO_ID { None } else { t[id as usize] }
            }
            KeyColumn::Direct(v) => v[row],
        }
    }
}

/// Every row's bucket under `rule` (rows with a missing key left out), as (bucket, row).
pub(crate) fn buckets(r: &Records, rule: &BlockingRule, others: &[String]) -> Vec<(u64, u32)> {
    use rayon::prelude::*;
    let cols: Vec<KeyColumn<'_>> = rule
        .keys()
        .iter()
        .map(|k| KeyColumn::new(r, k, others))
        .collect();
    (0..r.len())
        .into_par_iter()
        .filter_map(|row| {
            let mut hashes = [0u64; crate::block::MAX_KEYS];
            for (i, c) in cols.iter().enumerate() {
                hashes[i] = c.get(row)?;
            }
            Some((combine(hashes[..cols.len()].iter().copied()), row as u32))
        })
        .collect()
}

/// The first rule of `rules` that records `a` and `b` satisfy: [`crate::MatchRule`]
/// semantics, including the refusal of two different valid NHS numbers.
pub(crate) fn first_match(
    rules: &[MatchRule],
    a: &View<'_>,
    b: &View<'_>,
    others: &[String],
) -> Option<u16> {
    if nhs_conflict(a.nhs, b.nhs) {
        return None;
    }
    rules
        .iter()
        .position(|r| r.conditions().iter().all(|c| holds(c, a, b, others)))
        .map(|i| i as u16)
}

fn holds(c: &Condition, a: &View<'_>, b: &View<'_>, others: &[String]) -> bool {
    match c {
        Condition::Agree(k) => match (key_value(k, a, others), key_value(k, b, others)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
        Condition::DobSwap => dob_or_swap(a.dob, b.dob),
        Condition::Any(cs) => cs.iter().any(|c| holds(c, a, b, others)),
    }
}

/// A number that changes when the hashing behind bucket keys or address words changes: a
/// saved index's bucket tables and words are used only when the file's fingerprint is this.
pub(crate) fn fingerprint() -> u64 {
    let text = hash_value(&KeyValue::Text(Cow::Borrowed("carematch bucket v1")));
    let number = hash_value(&KeyValue::Number(1_234_567_890));
    let words = crate::record::address_words("1 high street leeds");
    combine([text, number].into_iter().chain(words))
}
