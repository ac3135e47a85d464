//! The level of a pair on one clear comparison: the functions the batch comparer and the
//! index both call.

use super::Kind;
use super::similarity::{
    Sketch, common_sorted, jaccard_sorted, jaro_winkler, jaro_winkler_bound, one_digit_apart,
    one_edit_apart,
};
use crate::normalise::name::are_nickname_variants;
use crate::record::{FOREIGN, NO_ID, NameSketches, Outside, Records, RowFeatures, Words};

/// What the clear comparisons read besides the two rows' features: the store's dictionaries,
/// its address words, and the strings of a left side that is not in the store.
#[derive(Clone, Copy)]
pub(crate) struct Lookup<'c> {
    pub(crate) records: &'c Records,
    pub(crate) words: &'c Words,
    pub(crate) outside: Option<&'c Outside>,
    /// The names' sketches, when the caller keeps them: without them every name pair that
    /// differs is compared in full.
    pub(crate) names: Option<&'c NameSketches>,
}

impl<'c> Lookup<'c> {
    /// A name's value and first token: from the dictionary, or from outside when foreign.
    #[inline]
    fn name(&self, id: u32, given: bool) -> (&'c str, &'c str) {
        if id == FOREIGN {
            return self.outside.map_or(("", ""), |o| {
                let n = if given { &o.given } else { &o.surname };
                (n.0.as_str(), n.1.as_str())
            });
        }
        let dict = self.records.names(given).dict;
        let t = dict.first_token[id as usize];
        (dict.values.get(id), dict.tokens.get(t))
    }

    /// The sketch of a stored name (none for a foreign one, or without sketches).
    #[inline]
    fn sketch(&self, id: u32, given: bool) -> Option<Sketch> {
        let s = self.names?;
        let v = if given { &s.given } else { &s.surname };
        v.get(id as usize).copied()
    }

    #[inline]
    fn words_of(&self, address: u32) -> &'c [u64] {
        if address == FOREIGN {
            return self.outside.map_or(&[], |o| o.address_words.as_slice());
        }
        self.words.get(address)
    }
}

/// The level of two different names (ids `a` and `b` of the given-name dictionary when
/// `given`, else of the surnames) from level 2 on: 2 when `given` and their first tokens are
/// variants of one given name; then one level per Jaro-Winkler threshold from 3; then
/// phonetic (Soundex or NYSIIS of the first token equal); then else. Jaro-Winkler is not
/// computed, nor the names read, when their sketches bound it below every threshold.
fn name_level(
    lookup: &Lookup<'_>,
    [a, b]: [u32; 2],
    given: bool,
    thresholds: &[f64],
    [pa, pb]: [[u32; 2]; 2],
) -> u8 {
    if given {
        let first_token = &lookup.records.names(true).dict.first_token;
        let known = lookup
            .names
            .and_then(|n| n.nickname_variants(a, b, first_token));
        if known.unwrap_or_else(|| {
            are_nickname_variants(lookup.name(a, true).1, lookup.name(b, true).1)
        }) {
            return 2;
        }
    }
    let lowest = thresholds.iter().copied().fold(f64::INFINITY, f64::min);
    let below = match (lookup.sketch(a, given), lookup.sketch(b, given)) {
        // A margin far above rounding: the bound skips only what is surely below.
        (Some(x), Some(y)) => jaro_winkler_bound(x, y) + 1e-9 < lowest,
        _ => false,
    };
    let level = if below {
        thresholds.len() as u8 + 3
    } else {
        let sim = jaro_winkler(lookup.name(a, given).0, lookup.name(b, given).0);
        threshold_level(sim, thresholds, 3)
    };
    if usize::from(level) < thresholds.len() + 3 {
        return level;
    }
    let same = |i: usize| pa[i] != NO_ID && pa[i] == pb[i];
    if same(0) || same(1) { level } else { level + 1 }
}

/// The level of a clear comparison of `kind` (not `Text`, not encoded: those read columns by
/// row) for the rows whose features are `x` and `y`.
#[inline]
pub(crate) fn clear_level(
    kind: Kind,
    thresholds: &[f64],
    lookup: &Lookup<'_>,
    x: &RowFeatures,
    y: &RowFeatures,
) -> u8 {
    match kind {
        Kind::GivenName => given_name_level(thresholds, lookup, x, y),
        Kind::Surname => surname_level(thresholds, lookup, x, y),
        Kind::DateOfBirth => dob_level(x.dob(), y.dob()),
        Kind::Postcode => postcode_level(x, y),
        Kind::Location => location_level(lookup, x, y),
        Kind::Address => address_level(thresholds, lookup, x, y),
        Kind::NhsNumber => nhs_level(x, y),
        Kind::Sex => match (x.sex(), y.sex()) {
            (0, _) | (_, 0) => 0,
            (a, b) if a == b => 1,
            _ => 2,
        },
        _ => 0,
    }
}

/// Given name: exact; nickname; Jaro-Winkler thresholds; phonetic; else (null when swapped).
#[inline]
fn given_name_level(
    thresholds: &[f64],
    lookup: &Lookup<'_>,
    x: &RowFeatures,
    y: &RowFeatures,
) -> u8 {
    let (a, b) = (x.given, y.given);
    if a == NO_ID || b == NO_ID || swapped(x, y, lookup) {
        return 0;
    }
    if a == b {
        return 1;
    }
    if x.given_canonical == y.given_canonical {
        return 2;
    }
    name_level(
        lookup,
        [a, b],
        true,
        thresholds,
        [x.given_phonetic, y.given_phonetic],
    )
}

/// Surname: exact; swapped with the given name; Jaro-Winkler thresholds; phonetic; else.
#[inline]
fn surname_level(thresholds: &[f64], lookup: &Lookup<'_>, x: &RowFeatures, y: &RowFeatures) -> u8 {
    let (a, b) = (x.surname, y.surname);
    if a == NO_ID || b == NO_ID {
        return 0;
    }
    if a == b {
        return 1;
    }
    if swapped(x, y, lookup) {
        return 2;
    }
    name_level(
        lookup,
        [a, b],
        false,
        thresholds,
        [x.surname_phonetic, y.surname_phonetic],
    )
}

/// Location: same address; postcode unit, sector, district, area; else.
#[inline]
fn location_level(lookup: &Lookup<'_>, x: &RowFeatures, y: &RowFeatures) -> u8 {
    let (pa, pb) = (x.postcode[0], y.postcode[0]);
    let (aa, ab) = (x.address, y.address);
    let postcode_differs = pa != NO_ID && pb != NO_ID && pa != pb;
    if aa != NO_ID
        && ab != NO_ID
        && !postcode_differs
        && (aa == ab || jaccard_sorted(lookup.words_of(aa), lookup.words_of(ab)) >= 0.8)
    {
        return 1;
    }
    // Two addresses and no postcode on either side (an extract without postcodes):
    // the address alone decides. One system often drops the town or the flat, so
    // the shorter address's words (at least two) mostly within the longer one's are
    // the same address; different addresses are a disagreement, not an absence of
    // evidence.
    if aa != NO_ID && ab != NO_ID && pa == NO_ID && pb == NO_ID {
        let (wa, wb) = (lookup.words_of(aa), lookup.words_of(ab));
        let common = common_sorted(wa, wb);
        let shorter = wa.len().min(wb.len());
        return if common >= 2 && common * 4 >= shorter * 3 {
            1
        } else {
            6
        };
    }
    match postcode_level(x, y) {
        0 => 0,
        l => l + 1,
    }
}

/// Address alone: one level per word-Jaccard threshold, else.
#[inline]
fn address_level(thresholds: &[f64], lookup: &Lookup<'_>, x: &RowFeatures, y: &RowFeatures) -> u8 {
    let (a, b) = (x.address, y.address);
    if a == NO_ID || b == NO_ID {
        return 0;
    }
    let j = if a == b {
        1.0
    } else {
        jaccard_sorted(lookup.words_of(a), lookup.words_of(b))
    };
    threshold_level(j, thresholds, 1)
}

/// NHS number: equal; one digit apart (one side failed its check digit); different.
#[inline]
fn nhs_level(x: &RowFeatures, y: &RowFeatures) -> u8 {
    let (a, b) = (x.nhs(), y.nhs());
    if a != 0 && b != 0 {
        return if a == b { 1 } else { 3 };
    }
    // One side failed its check digit: near misses are evidence, the rest is not.
    let ((0, 0, p, q) | (p, 0, 0, q) | (0, q, p, 0)) = (a, b, x.nhs_invalid(), y.nhs_invalid())
    else {
        return 0;
    };
    if p == 0 || q == 0 {
        return 0;
    }
    if one_digit_apart(&digits::<10>(p), &digits::<10>(q)) {
        2
    } else {
        0
    }
}

/// The level of two values of a carried column compared as `kind` (`Text` or
/// `Identifier`): ids in the column's dictionary, or a foreign left value given as text.
/// The batch and the index both call it.
pub(crate) fn column_level(kind: Kind, a: &str, b: &str, same: bool, thresholds: &[f64]) -> u8 {
    if same {
        return 1;
    }
    match kind {
        Kind::Identifier => {
            if one_edit_apart(a.as_bytes(), b.as_bytes()) {
                2
            } else {
                3
            }
        }
        _ => threshold_level(jaro_winkler(a, b), thresholds, 2),
    }
}

/// True when the given name of each side is the surname of the other (and they differ).
/// With `outside`, `x` is a query that is not in the store: its surname's text may be no
/// stored surname, so it is matched against `y`'s given name through the given-name id
/// `outside` carries.
#[inline]
pub(super) fn swapped(x: &RowFeatures, y: &RowFeatures, lookup: &Lookup<'_>) -> bool {
    exactly_swapped(x, y, lookup.outside) || fuzzily_swapped(x, y, lookup)
}

pub(super) fn exactly_swapped(x: &RowFeatures, y: &RowFeatures, outside: Option<&Outside>) -> bool {
    // Every id must be present: NO_ID == NO_ID is not agreement, or a record with given name
    // "John" and no surname would look swapped with ("Elizabeth", "John"). The oracle test
    // `fast_comparisons_equal_naive_ones` covers this.
    let other = match outside {
        None => {
            y.given_as_surname != NO_ID && x.surname != NO_ID && y.given_as_surname == x.surname
        }
        Some(o) => o.surname_as_given != NO_ID && y.given != NO_ID && o.surname_as_given == y.given,
    };
    other
        && x.given_as_surname != NO_ID
        && y.surname != NO_ID
        && x.given_as_surname == y.surname
        && x.given_as_surname != x.surname
}

/// Jaro-Winkler similarity both crossed pairs of names must reach for names entered the
/// wrong way round with a typo (`campblel joshua` / `joshua campbell`) to count as swapped.
pub(super) const SWAP_SIMILARITY: f64 = 0.9;

/// True when each record's given name is, but for a typo, the other's surname (and neither
/// record's own names agree): FEBRL, for one, swaps names and then misspells one. Names that
/// start with different letters are not compared (cheap, and typos rarely hit the first).
pub(super) fn fuzzily_swapped(x: &RowFeatures, y: &RowFeatures, lookup: &Lookup<'_>) -> bool {
    if x.given == NO_ID || x.surname == NO_ID || y.given == NO_ID || y.surname == NO_ID {
        return false;
    }
    if x.given == y.given || x.surname == y.surname {
        return false;
    }
    // First letters from the sketches, before four names are fetched: most pairs stop here.
    let first = |id: u32, given: bool| lookup.sketch(id, given).map(Sketch::first);
    if let (Some(xg), Some(ys), Some(xs), Some(yg)) = (
        first(x.given, true),
        first(y.surname, false),
        first(x.surname, false),
        first(y.given, true),
    ) && (xg != ys || xs != yg)
    {
        return false;
    }
    let xg = lookup.name(x.given, true).0;
    let xs = lookup.name(x.surname, false).0;
    let yg = lookup.name(y.given, true).0;
    let ys = lookup.name(y.surname, false).0;
    let first = |s: &str| s.chars().next();
    if xg == xs || first(xg) != first(ys) || first(xs) != first(yg) {
        return false;
    }
    jaro_winkler(xg, ys) >= SWAP_SIMILARITY && jaro_winkler(xs, yg) >= SWAP_SIMILARITY
}

/// The first level (counting from `first`) whose threshold `sim` reaches, else the last.
pub(super) fn threshold_level(sim: f64, thresholds: &[f64], first: u8) -> u8 {
    let mut level = first;
    for t in thresholds {
        if sim >= *t {
            return level;
        }
        level += 1;
    }
    level
}

/// The last `N` decimal digits of `v`, most significant first.
pub(super) fn digits<const N: usize>(v: u64) -> [u8; N] {
    let mut d = [0u8; N];
    let mut x = v;
    for slot in d.iter_mut().rev() {
        *slot = (x % 10) as u8;
        x /= 10;
    }
    d
}

pub(super) fn dob_level(a: u32, b: u32) -> u8 {
    if a == 0 || b == 0 {
        return 0;
    }
    if a == b {
        return 1;
    }
    let (ya, ma, da) = (a / 10000, a / 100 % 100, a % 100);
    let (yb, mb, db) = (b / 10000, b / 100 % 100, b % 100);
    if ya == yb && ma == db && da == mb {
        return 2;
    }
    if one_digit_apart(&digits::<8>(u64::from(a)), &digits::<8>(u64::from(b))) {
        return 3;
    }
    if ya == yb && ma == mb {
        return 4;
    }
    let days = |y: u32, m: u32, d: u32| {
        crate::normalise::date::Date::new(y as u16, m as u8, d as u8)
            .map_or(0, super::super::normalise::date::Date::days_since_epoch)
    };
    if (days(ya, ma, da) - days(yb, mb, db)).abs() <= 365 {
        return 5;
    }
    6
}

/// Postcode levels from unit (1) to else (5); 0 when either is missing.
pub(super) fn postcode_level(x: &RowFeatures, y: &RowFeatures) -> u8 {
    let (a, b) = (x.postcode, y.postcode);
    if a[0] == NO_ID || b[0] == NO_ID {
        return 0;
    }
    if a[0] == b[0] {
        return 1;
    }
    for (level, i) in [(2, 1), (3, 2), (4, 3)] {
        if a[i] != NO_ID && a[i] == b[i] {
            return level;
        }
    }
    5
}
