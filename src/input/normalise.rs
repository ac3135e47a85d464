//! Per-role normalisation of raw values: each distinct value of a column once, in parallel,
//! and one record at a time for the index.

use rayon::prelude::*;

use super::{MAX_VALUE_BYTES, VALUE_ROLES};
use crate::normalise::address::normalise_address;
use crate::normalise::date::parse_date;
use crate::normalise::name::normalise_name;
use crate::normalise::nhs_number::parse_nhs_number;
use crate::normalise::postcode::{Postcode, parse_postcode};
use crate::normalise::sex::{Sex, parse_sex};
use crate::normalise::text::fold;
use crate::record::{NO_ID, NewRow, first_seen, key_hash, seen_entry, span};
use crate::schema::Role;

use super::quality::{Status, status_of};

/// A normalised value, or why there is none.
pub(super) enum Normalised<T> {
    Missing,
    Invalid(&'static str),
    Value(T),
}

/// Raw values normalised per chunk, in parallel: a chunk's normalised values are held only
/// until their keys are copied out.
const NORMALISE_CHUNK: usize = 32_768;

/// Values a thread normalises at a time within a chunk.
const NORMALISE_PIECE: usize = 4_096;

/// The normalised keys of one piece of raw values, or of a whole column once the pieces
/// are appended in order: the pieces are small and short-lived (the allocator reuses them
/// piece after piece), the column's arrays are few and large.
#[derive(Default)]
struct Keys {
    statuses: Vec<Status>,
    text: String,
    /// Per raw value: the end of its key in `text` (an empty key when it has no value).
    ends: Vec<usize>,
    /// [`first_seen`]'s entry (key hash and raw index) of each raw value that has a key.
    entries: Vec<u64>,
}

impl Keys {
    fn append(&mut self, piece: Keys) {
        let at = self.text.len();
        self.text.push_str(&piece.text);
        self.ends.extend(piece.ends.iter().map(|e| e + at));
        self.entries.extend_from_slice(&piece.entries);
        self.statuses.extend(piece.statuses);
    }

    /// The key of raw value `i`.
    fn key(&self, i: u32) -> &str {
        self.text.get(span(&self.ends, i)).unwrap_or("")
    }
}

/// Normalises the raw values `raw` of one column with `norm`, in parallel, and numbers the
/// distinct keys (`key` of each normalised value) in first-seen order ([`first_seen`], so
/// ids do not depend on the thread count); `add` is then given each distinct key once, in
/// that order, and returns its id in the dictionary being built (the next id: a dictionary
/// that starts empty takes them with `push_distinct`, without looking them up). Returns each
/// raw value's id (`NO_ID` when it has no value) and its status.
pub(super) fn normalise_interned<T>(
    raw: &[&[u8]],
    norm: impl Fn(&[u8]) -> Normalised<T> + Sync,
    key: impl Fn(&T) -> &str + Sync,
    mut add: impl FnMut(&str) -> u32,
) -> (Vec<u32>, Vec<Status>) {
    let piece = |base: usize, part: &[&[u8]]| {
        let mut p = Keys {
            statuses: Vec::with_capacity(part.len()),
            ends: Vec::with_capacity(part.len()),
            entries: Vec::with_capacity(part.len()),
            text: String::new(),
        };
        for (j, r) in part.iter().enumerate() {
            let v = norm(r);
            p.statuses.push(status_of(&v));
            if let Normalised::Value(t) = &v {
                let k = key(t);
                p.text.push_str(k);
                let i = (base + j) as u32;
                p.entries.push(seen_entry(key_hash(k.as_bytes()), i));
            }
            p.ends.push(p.text.len());
        }
        p
    };
    // The keys' text reserved at the raw values' size (a normalised key is rarely longer):
    // grown by doubling instead, each step copied the text to new pages (perf: a fifth of
    // the 1M link's page faults were in appending keys).
    let raw_bytes: usize = raw.iter().map(|r| r.len()).sum();
    let mut all = Keys {
        statuses: Vec::with_capacity(raw.len()),
        ends: Vec::with_capacity(raw.len()),
        entries: Vec::with_capacity(raw.len()),
        text: String::with_capacity(raw_bytes),
    };
    // A chunk is normalised (its pieces in parallel) while the one before is appended.
    let mut pending: Vec<Keys> = Vec::new();
    for (c, chunk) in raw.chunks(NORMALISE_CHUNK).enumerate() {
        let (next, ()) = rayon::join(
            || {
                (chunk.par_chunks(NORMALISE_PIECE).enumerate())
                    .map(|(p, part)| piece(c * NORMALISE_CHUNK + p * NORMALISE_PIECE, part))
                    .collect::<Vec<_>>()
            },
            || pending.drain(..).for_each(|p| all.append(p)),
        );
        pending = next;
    }
    for p in pending {
        all.append(p);
    }
    let statuses = std::mem::take(&mut all.statuses);
    let entries = std::mem::take(&mut all.entries);
    let (mut ids, firsts) = first_seen(raw.len(), entries, |i| all.key(i).as_bytes());
    let given: Vec<u32> = firsts.iter().map(|&i| add(all.key(i))).collect();
    if given.iter().enumerate().any(|(k, &id)| id as usize != k) {
        for id in ids.iter_mut().filter(|id| **id != NO_ID) {
            *id = given[*id as usize];
        }
    }
    (ids, statuses)
}

/// Normalises the raw values `raw` of one column with `norm`, in parallel, in order.
pub(super) fn normalise_all<T: Send>(
    raw: &[&[u8]],
    norm: impl Fn(&[u8]) -> Normalised<T> + Sync,
) -> Vec<Normalised<T>> {
    raw.par_iter().map(|r| norm(r)).collect()
}

pub(super) fn norm_name(raw: &[u8]) -> Normalised<String> {
    text_norm(raw, normalise_name)
}

pub(super) fn norm_address(raw: &[u8]) -> Normalised<String> {
    text_norm(raw, normalise_address)
}

pub(super) fn norm_other(raw: &[u8]) -> Normalised<String> {
    text_norm(raw, |s| Some(fold(s)).filter(|f| !f.is_empty()))
}

pub(super) fn norm_date(raw: &[u8]) -> Normalised<u32> {
    checked(raw, |s| match parse_date(s) {
        Ok(Some(d)) => Normalised::Value(d.to_u32()),
        Ok(None) => Normalised::Missing,
        Err(p) => Normalised::Invalid(p.as_str()),
    })
}

pub(super) fn norm_sex(raw: &[u8]) -> Normalised<u8> {
    checked(raw, |s| match parse_sex(s) {
        Ok(Some(sex)) => Normalised::Value(sex.code()),
        Ok(None) => Normalised::Missing,
        Err(p) => Normalised::Invalid(p.as_str()),
    })
}

pub(super) fn norm_postcode(raw: &[u8]) -> Normalised<Postcode> {
    checked(raw, |s| match parse_postcode(s) {
        Some(p) => Normalised::Value(p),
        None => Normalised::Missing,
    })
}

pub(super) fn norm_nhs(raw: &[u8], accept_test: bool) -> Normalised<u64> {
    checked(raw, |s| match parse_nhs_number(s) {
        Ok(Some(n)) if n.is_test_range() && !accept_test => Normalised::Invalid("999 test range"),
        Ok(Some(n)) => Normalised::Value(n.to_u64()),
        Ok(None) => Normalised::Missing,
        Err(p) => Normalised::Invalid(p.as_str()),
    })
}

/// A normalised value's status (value, missing or invalid) and the value itself.
fn split<T>(n: Normalised<T>) -> (Normalised<()>, Option<T>) {
    match n {
        Normalised::Value(v) => (Normalised::Value(()), Some(v)),
        Normalised::Missing => (Normalised::Missing, None),
        Normalised::Invalid(p) => (Normalised::Invalid(p), None),
    }
}

/// One record's fields normalised as a file's rows are (the same functions, so a record
/// queried or inserted one at a time gets exactly the values it would get in a batch):
/// `raw(role)` gives a role's raw value (several address columns already joined), `other(i)`
/// the raw value of carried column `others[i]`. Invalid values become missing; each is
/// returned as (role, problem), without the value.
pub(crate) fn normalise_record<'a>(
    id: &str,
    raw: impl Fn(Role) -> Option<&'a [u8]>,
    other: impl Fn(usize) -> Option<&'a [u8]>,
    n_others: usize,
    accept_test: bool,
) -> (NewRow, Vec<(Role, &'static str)>) {
    let mut problems = Vec::new();
    let mut take = |role: Role, n: Normalised<()>| {
        if let Normalised::Invalid(p) = n {
            problems.push((role, p));
        }
    };
    let get = |role: Role| raw(role).map(<[u8]>::trim_ascii).filter(|r| !r.is_empty());
    let mut row = NewRow {
        id: id.to_string(),
        ..NewRow::default()
    };
    for &role in VALUE_ROLES {
        let Some(r) = get(role) else { continue };
        match role {
            Role::GivenName => {
                let (n, v) = split(norm_name(r));
                take(role, n);
                row.given = v;
                row.placeholder = is_newborn_placeholder(r);
            }
            Role::Surname => {
                let (n, v) = split(norm_name(r));
                take(role, n);
                row.surname = v;
            }
            Role::DateOfBirth => {
                let (n, v) = split(norm_date(r));
                take(role, n);
                row.dob = v.unwrap_or(0);
            }
            Role::Sex => {
                let (n, v) = split(norm_sex(r));
                take(role, n);
                row.sex = v.unwrap_or(0);
            }
            Role::Postcode => {
                let (n, v) = split(norm_postcode(r));
                take(role, n);
                row.postcode = v;
            }
            Role::NhsNumber => {
                let (n, v) = split(norm_nhs(r, accept_test));
                take(role, n);
                row.nhs = v.unwrap_or(0);
                row.nhs_invalid = mistyped_nhs(r);
            }
            Role::Address => {
                let (n, v) = split(norm_address(r));
                take(role, n);
                row.address = v;
            }
            Role::Id => {}
        }
    }
    row.others = (0..n_others)
        .map(|i| match other(i).map(<[u8]>::trim_ascii) {
            Some(r) if !r.is_empty() => match norm_other(r) {
                Normalised::Value(v) => Some(v),
                _ => None,
            },
            _ => None,
        })
        .collect();
    (row, problems)
}

/// The normalised text of one raw value of `role`, as a file's value is normalised:
/// `Ok(None)` when missing (or a placeholder), `Err(problem)` when invalid (the problem's
/// name, never the value). Names and addresses as compared (`"obrien"`), dates as
/// `YYYY-MM-DD`, sex as `M` or `F`, postcodes in canonical form, NHS numbers as ten digits.
///
/// # Errors
///
/// The problem's name (`"impossible date"`) when the value is invalid.
///
/// # Example
///
/// ```
/// use carematch::Role;
/// use carematch::input::normalise_value;
/// assert_eq!(normalise_value(Role::DateOfBirth, b"01/02/1980", true), Ok(Some("1980-02-01".into())));
/// assert_eq!(normalise_value(Role::Postcode, b"ls14ap", true), Ok(Some("LS1 4AP".into())));
/// assert_eq!(normalise_value(Role::DateOfBirth, b"31/02/1980", true), Err("impossible date"));
/// ```
pub fn normalise_value(
    role: Role,
    raw: &[u8],
    accept_test_nhs_numbers: bool,
) -> Result<Option<String>, &'static str> {
    let (row, problems) = normalise_record(
        "",
        |r| (r == role).then_some(raw),
        |_| None,
        0,
        accept_test_nhs_numbers,
    );
    if let Some((_, p)) = problems.first() {
        return Err(p);
    }
    Ok(match role {
        Role::GivenName => row.given,
        Role::Surname => row.surname,
        Role::DateOfBirth => crate::normalise::date::Date::from_u32(row.dob).map(|d| d.to_string()),
        Role::Sex => Sex::from_code(row.sex).map(|s| s.to_string()),
        Role::Postcode => row.postcode.map(|p| p.to_string()),
        Role::NhsNumber => (row.nhs != 0).then(|| format!("{:010}", row.nhs)),
        Role::Address => row.address,
        Role::Id => std::str::from_utf8(raw).ok().map(|s| s.trim().to_string()),
    })
}

/// True for a given name that stands for a newborn of a multiple birth not yet named:
/// "Twin 1", "Twin B", "Triplet 2" and the like. ("Baby of …" alone says nothing of a twin:
/// the ambiguity check catches two babies who match one record equally well.)
pub(super) fn is_newborn_placeholder(raw: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(raw) else {
        return false;
    };
    let f = fold(s);
    let multiple = f
        .split(' ')
        .any(|t| t.starts_with("twin") || t.starts_with("triplet") || t.starts_with("quad"));
    multiple && normalise_name(s).is_none()
}

/// The ten digits of a raw NHS number that fails only its check digit, else 0.
pub(super) fn mistyped_nhs(raw: &[u8]) -> u64 {
    let mut digits = [0u8; 10];
    let mut len = 0;
    for &b in raw.iter().filter(|b| !matches!(b, b' ' | b'-')) {
        match digits.get_mut(len) {
            Some(d) if b.is_ascii_digit() => *d = b,
            _ => return 0,
        }
        len += 1;
    }
    if len != 10 {
        return 0;
    }
    let s = std::str::from_utf8(&digits).unwrap_or("");
    match parse_nhs_number(s) {
        Err(crate::normalise::nhs_number::NhsProblem::CheckDigit) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

/// Applies `f` to a raw value that is valid UTF-8 and not too long.
pub(super) fn checked<T>(raw: &[u8], f: impl Fn(&str) -> Normalised<T>) -> Normalised<T> {
    if raw.len() > MAX_VALUE_BYTES {
        return Normalised::Invalid("too long");
    }
    match std::str::from_utf8(raw) {
        Ok(s) => f(s),
        Err(_) => Normalised::Invalid("not valid UTF-8"),
    }
}

pub(super) fn text_norm(raw: &[u8], f: impl Fn(&str) -> Option<String>) -> Normalised<String> {
    checked(raw, |s| f(s).map_or(Normalised::Missing, Normalised::Value))
}

pub(super) fn value_or<T: Copy>(x: &Normalised<T>, none: T) -> T {
    match x {
        Normalised::Value(t) => *t,
        _ => none,
    }
}
