//! Comparisons: each maps a pair of records to a level of agreement on one field.
//!
//! Level 0 of every comparison is the null level: a value is missing on one side, so the
//! comparison says nothing (its weight is exactly 0). Levels 1.. run from the strongest
//! agreement to the last level, "else" (disagreement). A pair's comparison vector is one
//! level per comparison, packed four bits each into a `u64`.
//!
//! The defaults for NHS data ([`Comparison::defaults`]):
//!
//! | field | levels |
//! |---|---|
//! | given name | exact; nickname (same name per the nickname table); Jaro-Winkler ≥ 0.92; ≥ 0.88; phonetic (Soundex or NYSIIS); else |
//! | surname | exact; swapped with the given name (exactly, or both crossed pairs at Jaro-Winkler ≥ 0.9 with the same initials); Jaro-Winkler ≥ 0.92; ≥ 0.88; phonetic; else |
//! | date of birth | exact; day and month swapped; one digit different or two adjacent digits transposed; same year and month; within a year; else |
//! | location | same address (address tokens' Jaccard ≥ 0.8, postcode not contradicting); postcode unit; sector; district; area; else. With no postcode on either side: same address also when at least two words and three quarters of the shorter address's words are in the other; else otherwise |
//! | NHS number | equal; one digit or one adjacent transposition apart (one side failed its check digit); different |
//! | sex | agree; disagree |
//!
//! Postcode and address are one comparison, "location", because they are one fact (where a
//! household lives): counting them as two independent agreements would double the evidence
//! that a twin or a relative at the same address is the same person. When the given names
//! are swapped with the surnames, the surname comparison takes the "swapped" level and the
//! given-name comparison is null, so the swap is counted once.

mod encoded;
mod similarity;

use std::fmt;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use encoded::columns_of as encoded_columns;
pub use similarity::jaro_winkler;
use similarity::{common_sorted, jaccard_sorted, one_digit_apart, one_edit_apart};

use crate::Error;
use crate::block::Pair;
use crate::error::config_err;
use crate::normalise::name::are_nickname_variants;
use crate::record::{EMPTY_WORDS, FOREIGN, NONE, NameDict, Outside, Records, RowFeatures, Words};

/// The most comparisons a model may have (four bits each in a `u64`).
pub const MAX_COMPARISONS: usize = 16;

/// What a comparison compares, and so which levels it has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Given name: exact, nickname, Jaro-Winkler thresholds, phonetic, else.
    GivenName,
    /// Surname: exact, swapped with given name, Jaro-Winkler thresholds, phonetic, else.
    Surname,
    /// Date of birth: exact, day/month swapped, one digit, year and month, within a year, else.
    DateOfBirth,
    /// Postcode and address together: same address, unit, sector, district, area, else.
    Location,
    /// Postcode alone: unit, sector, district, area, else.
    Postcode,
    /// Address alone: token Jaccard thresholds, else.
    Address,
    /// NHS number: equal, one digit apart, different.
    NhsNumber,
    /// Sex: agree, disagree.
    Sex,
    /// A carried-through column: exact, Jaro-Winkler thresholds, else.
    Text,
    /// A carried-through identifier (a social-security number, an MRN two systems share):
    /// exact, one edit apart (one character substituted, inserted or deleted, or two
    /// adjacent ones transposed), else. Agreement lifts the vetoes as an NHS number's does.
    Identifier,
    /// Pseudonymised given name: exact token, nickname token, Bloom Dice thresholds,
    /// phonetic token, else.
    EncodedGivenName,
    /// Pseudonymised surname: exact token, Dice thresholds, phonetic token, else.
    EncodedSurname,
    /// Pseudonymised date of birth: exact, day/month swapped, one digit, year and month, year,
    /// else.
    EncodedDateOfBirth,
    /// Pseudonymised location: same address (Dice), unit, sector, district, area, else.
    EncodedLocation,
    /// Pseudonymised NHS number: equal, one digit apart, different.
    EncodedNhsNumber,
    /// Pseudonymised sex: agree, disagree.
    EncodedSex,
}

/// One comparison of a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Comparison {
    /// The field: a role name (`given_name`, `surname`, `dob`, `location`, `postcode`,
    /// `address`, `nhs_number`, `sex`) or a carried column's header.
    pub field: String,
    /// What kind of comparison; inferred from `field` when absent in a config.
    pub kind: Kind,
    /// Similarity thresholds, highest first: Jaro-Winkler for names and text, Jaccard for
    /// address; empty for the other kinds.
    #[serde(default)]
    pub thresholds: Vec<f64>,
}

impl Comparison {
    /// A comparison of `field` with the default kind and thresholds for it.
    ///
    /// # Errors
    ///
    /// A config error when `field` is `id`.
    pub fn for_field(field: &str) -> Result<Comparison, Error> {
        let kind = match field {
            "given_name" => Kind::GivenName,
            "surname" => Kind::Surname,
            "dob" | "date_of_birth" => Kind::DateOfBirth,
            "location" => Kind::Location,
            "postcode" => Kind::Postcode,
            "address" => Kind::Address,
            "nhs_number" => Kind::NhsNumber,
            "sex" => Kind::Sex,
            "id" => return Err(config_err("the id column cannot be compared".into())),
            _ => Kind::Text,
        };
        let thresholds = match kind {
            Kind::GivenName | Kind::Surname => vec![0.92, 0.88],
            Kind::Address => vec![0.9, 0.6, 0.3],
            Kind::Text => vec![0.9],
            _ => Vec::new(),
        };
        let field = if field == "date_of_birth" {
            "dob"
        } else {
            field
        };
        Ok(Comparison {
            field: field.to_string(),
            kind,
            thresholds,
        })
    }

    /// The comparisons of pseudonymised files (see [`Kind`]'s `Encoded*` kinds), with Dice
    /// thresholds for the balanced Bloom filters of names.
    pub fn encoded_defaults() -> Vec<Comparison> {
        [
            ("given_name", Kind::EncodedGivenName, vec![0.85, 0.75]),
            ("surname", Kind::EncodedSurname, vec![0.85, 0.75]),
            ("dob", Kind::EncodedDateOfBirth, vec![]),
            ("location", Kind::EncodedLocation, vec![]),
            ("nhs_number", Kind::EncodedNhsNumber, vec![]),
            ("sex", Kind::EncodedSex, vec![]),
        ]
        .into_iter()
        .map(|(f, kind, thresholds)| Comparison {
            field: f.to_string(),
            kind,
            thresholds,
        })
        .collect()
    }

    /// The default comparisons for NHS data: given name, surname, date of birth, location,
    /// NHS number, sex.
    pub fn defaults() -> Vec<Comparison> {
        [
            "given_name",
            "surname",
            "dob",
            "location",
            "nhs_number",
            "sex",
        ]
        .iter()
        .map(|f| Comparison::for_field(f).expect("default fields"))
        .collect()
    }

    /// Checks thresholds and level count.
    ///
    /// # Errors
    ///
    /// A config error naming the field when a threshold is outside 0..=1 or thresholds are
    /// not strictly decreasing, or there are too many levels.
    pub fn validate(&self) -> Result<(), Error> {
        let wants = matches!(
            self.kind,
            Kind::GivenName
                | Kind::Surname
                | Kind::Address
                | Kind::Text
                | Kind::EncodedGivenName
                | Kind::EncodedSurname
        );
        if wants && self.thresholds.is_empty() {
            return Err(config_err(format!(
                "comparison '{}': needs at least one threshold",
                self.field
            )));
        }
        if !wants && !self.thresholds.is_empty() {
            return Err(config_err(format!(
                "comparison '{}': takes no thresholds",
                self.field
            )));
        }
        let ok = self.thresholds.iter().all(|t| (0.0..=1.0).contains(t))
            && self.thresholds.windows(2).all(|w| w[0] > w[1]);
        if !ok {
            return Err(config_err(format!(
                "comparison '{}': thresholds must be between 0 and 1, highest first",
                self.field
            )));
        }
        if self.level_names().len() > 15 {
            return Err(config_err(format!(
                "comparison '{}': too many levels (at most 14 besides null)",
                self.field
            )));
        }
        Ok(())
    }

    /// The names of the levels, index 0 being `null`.
    pub fn level_names(&self) -> Vec<String> {
        let mut v = vec!["null".to_string()];
        let jw = |v: &mut Vec<String>, t: &[f64]| {
            for t in t {
                v.push(format!("jaro_winkler>={t}"));
            }
        };
        match self.kind {
            Kind::GivenName => {
                v.extend(["exact".into(), "nickname".into()]);
                jw(&mut v, &self.thresholds);
                v.extend(["phonetic".into(), "else".into()]);
            }
            Kind::Surname => {
                v.extend(["exact".into(), "swapped".into()]);
                jw(&mut v, &self.thresholds);
                v.extend(["phonetic".into(), "else".into()]);
            }
            Kind::DateOfBirth => v.extend(
                [
                    "exact",
                    "day_month_swapped",
                    "one_digit",
                    "year_month",
                    "within_year",
                    "else",
                ]
                .map(String::from),
            ),
            Kind::Location | Kind::EncodedLocation => v.extend(
                ["same_address", "unit", "sector", "district", "area", "else"].map(String::from),
            ),
            Kind::Postcode => {
                v.extend(["unit", "sector", "district", "area", "else"].map(String::from))
            }
            Kind::Address => {
                for t in &self.thresholds {
                    v.push(format!("jaccard>={t}"));
                }
                v.push("else".into());
            }
            Kind::NhsNumber | Kind::EncodedNhsNumber => {
                v.extend(["exact", "one_digit", "different"].map(String::from))
            }
            Kind::Sex | Kind::EncodedSex => v.extend(["agree", "disagree"].map(String::from)),
            Kind::Text => {
                v.push("exact".into());
                jw(&mut v, &self.thresholds);
                v.push("else".into());
            }
            Kind::Identifier => v.extend(["exact", "one_edit", "else"].map(String::from)),
            Kind::EncodedGivenName | Kind::EncodedSurname => {
                v.push("exact".into());
                if self.kind == Kind::EncodedGivenName {
                    v.push("nickname".into());
                }
                for t in &self.thresholds {
                    v.push(format!("dice>={t}"));
                }
                v.extend(["phonetic".into(), "else".into()]);
            }
            Kind::EncodedDateOfBirth => v.extend(
                [
                    "exact",
                    "day_month_swapped",
                    "one_digit",
                    "year_month",
                    "year",
                    "else",
                ]
                .map(String::from),
            ),
        }
        v
    }

    /// The level whose agreement is an exact match of the value, which term-frequency
    /// adjustment applies to, if the kind has one.
    pub fn exact_level(&self) -> Option<u8> {
        match self.kind {
            Kind::GivenName
            | Kind::Surname
            | Kind::Text
            | Kind::Identifier
            | Kind::Postcode
            | Kind::EncodedGivenName
            | Kind::EncodedSurname => Some(1),
            Kind::Location | Kind::EncodedLocation => Some(2),
            _ => None,
        }
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.field)
    }
}

/// The field whose value frequencies adjust a comparison's exact level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TfField {
    Given,
    Surname,
    Postcode,
    /// A carried column, by its position among the store's columns.
    Column(usize),
    /// A pseudonymised comparison's exact-match token column.
    Encoded,
}

impl TfField {
    /// The value id row `row` of `r` holds in this field (NONE when it has none). Encoded
    /// columns are read through [`encoded::Encoded`], not here.
    pub(crate) fn value(self, r: &Records, row: u32) -> u32 {
        let i = row as usize;
        match self {
            TfField::Given => r.given[i],
            TfField::Surname => r.surname[i],
            TfField::Postcode => r.postcode[i],
            TfField::Column(c) => r.others[c].values[i],
            TfField::Encoded => NONE,
        }
    }

    /// Every row's value id in this field and the number of distinct values, for the
    /// clear fields.
    fn rows(self, r: &Records) -> Option<(&[u32], usize)> {
        match self {
            TfField::Given => Some((&r.given, r.given_dict.values.len())),
            TfField::Surname => Some((&r.surname, r.surname_dict.values.len())),
            TfField::Postcode => Some((&r.postcode, r.postcode_dict.values.len())),
            TfField::Column(c) => Some((&r.others[c].values, r.others[c].dict.len())),
            TfField::Encoded => None,
        }
    }
}

/// One comparison as the batch comparer and the index both run it: its kind and
/// thresholds, the carried column it reads, and the field whose frequencies adjust its exact
/// level. [`Spec::new`] is the one place these are decided, and [`Spec::level`] the one
/// place a clear pair's level is computed, so a batch run and an index cannot disagree.
#[derive(Clone, Debug)]
pub(crate) struct Spec {
    pub(crate) kind: Kind,
    pub(crate) thresholds: Vec<f64>,
    /// For text and identifier kinds: the carried column's position in the store.
    pub(crate) column: Option<usize>,
    pub(crate) tf: Option<TfField>,
}

impl Spec {
    /// Makes `c` ready for stores whose carried columns are those of `records`.
    pub(crate) fn new(c: &Comparison, records: &Records) -> Result<Spec, Error> {
        c.validate()?;
        let mut column = None;
        let tf = match c.kind {
            Kind::GivenName => Some(TfField::Given),
            Kind::Surname => Some(TfField::Surname),
            Kind::Location | Kind::Postcode => Some(TfField::Postcode),
            Kind::Text | Kind::Identifier => {
                let i = records
                    .others
                    .iter()
                    .position(|o| o.name == c.field)
                    .ok_or_else(|| {
                        config_err(format!(
                            "comparison '{}': no such column in the input",
                            c.field
                        ))
                    })?;
                column = Some(i);
                Some(TfField::Column(i))
            }
            Kind::EncodedGivenName | Kind::EncodedSurname | Kind::EncodedLocation => {
                Some(TfField::Encoded)
            }
            Kind::DateOfBirth
            | Kind::Address
            | Kind::NhsNumber
            | Kind::Sex
            | Kind::EncodedDateOfBirth
            | Kind::EncodedNhsNumber
            | Kind::EncodedSex => None,
        };
        Ok(Spec {
            kind: c.kind,
            thresholds: c.thresholds.clone(),
            column,
            tf,
        })
    }

    /// True for the pseudonymised kinds, which read token and filter columns by row.
    pub(crate) fn is_encoded(&self) -> bool {
        !encoded::columns_of(self.kind).is_empty()
    }

    /// The level of a clear comparison for the sides whose features are `x` and `y`;
    /// `text(column)` gives the two sides' values of a carried column.
    #[inline]
    pub(crate) fn level<'t>(
        &self,
        cx: &Ctx<'_>,
        x: &RowFeatures,
        y: &RowFeatures,
        text: impl FnOnce(usize) -> [Option<&'t str>; 2],
    ) -> u8 {
        match self.column {
            Some(col) => match text(col) {
                [Some(a), Some(b)] => column_level(self.kind, a, b, a == b, &self.thresholds),
                _ => 0,
            },
            None => clear_level(self.kind, &self.thresholds, cx, x, y),
        }
    }
}

/// A comparison made ready on a store: per-value features computed once.
pub(crate) struct Prepared<'a> {
    records: &'a Records,
    spec: Spec,
    /// For address and location: sorted word hashes of each address value (CSR), shared
    /// through the store's cache.
    words: Option<Arc<Words>>,
    /// For pseudonymised kinds: the token and filter columns.
    encoded: Option<encoded::Encoded<'a>>,
    /// Term frequency of each value of the exact level's field (share of rows), if any.
    pub(crate) tf: Vec<f64>,
}

/// What the clear comparisons read besides the two rows' features: the store's dictionaries,
/// its address words, and the strings of a left side that is not in the store.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'c> {
    pub(crate) records: &'c Records,
    pub(crate) words: &'c Words,
    pub(crate) outside: Option<&'c Outside>,
}

impl<'c> Ctx<'c> {
    /// A name's value and first token: from the dictionary, or from outside when foreign.
    #[inline]
    fn name(&self, dict: &'c NameDict, id: u32, given: bool) -> (&'c str, &'c str) {
        if id == FOREIGN {
            return self.outside.map_or(("", ""), |o| {
                let n = if given { &o.given } else { &o.surname };
                (n.0.as_str(), n.1.as_str())
            });
        }
        let t = dict.first_token[id as usize];
        (dict.values.get(id), dict.tokens.get(t))
    }

    #[inline]
    fn words_of(&self, address: u32) -> &'c [u64] {
        if address == FOREIGN {
            return self.outside.map_or(&[], |o| o.address_words.as_slice());
        }
        self.words.get(address)
    }
}

/// The level of two different names `a` and `b` (value, first token) from level 2 on: 2 when
/// `nickname` and they are variants of one given name; then one level per Jaro-Winkler
/// threshold from 3; then phonetic (Soundex or NYSIIS of the first token equal); then else.
fn name_level(
    a: (&str, &str),
    b: (&str, &str),
    thresholds: &[f64],
    nickname: bool,
    pa: [u32; 2],
    pb: [u32; 2],
) -> u8 {
    if nickname && are_nickname_variants(a.1, b.1) {
        return 2;
    }
    let sim = jaro_winkler(a.0, b.0);
    let level = threshold_level(sim, thresholds, 3);
    if usize::from(level) < thresholds.len() + 3 {
        return level;
    }
    let same = |i: usize| pa[i] != NONE && pa[i] == pb[i];
    if same(0) || same(1) { level } else { level + 1 }
}

/// The level of a clear comparison of `kind` (not `Text`, not encoded: those read columns by
/// row) for the rows whose features are `x` and `y`.
#[inline]
pub(crate) fn clear_level(
    kind: Kind,
    thresholds: &[f64],
    cx: &Ctx<'_>,
    x: &RowFeatures,
    y: &RowFeatures,
) -> u8 {
    let r = cx.records;
    match kind {
        Kind::GivenName => {
            let (a, b) = (x.given, y.given);
            if a == NONE || b == NONE || swapped(x, y, cx) {
                return 0;
            }
            if a == b {
                return 1;
            }
            if x.given_canonical == y.given_canonical {
                return 2;
            }
            name_level(
                cx.name(&r.given_dict, a, true),
                cx.name(&r.given_dict, b, true),
                thresholds,
                true,
                x.given_phonetic,
                y.given_phonetic,
            )
        }
        Kind::Surname => {
            let (a, b) = (x.surname, y.surname);
            if a == NONE || b == NONE {
                return 0;
            }
            if a == b {
                return 1;
            }
            if swapped(x, y, cx) {
                return 2;
            }
            name_level(
                cx.name(&r.surname_dict, a, false),
                cx.name(&r.surname_dict, b, false),
                thresholds,
                false,
                x.surname_phonetic,
                y.surname_phonetic,
            )
        }
        Kind::DateOfBirth => dob_level(x.dob, y.dob),
        Kind::Postcode => postcode_level(x, y),
        Kind::Location => {
            let (pa, pb) = (x.postcode[0], y.postcode[0]);
            let (aa, ab) = (x.address, y.address);
            let postcode_differs = pa != NONE && pb != NONE && pa != pb;
            if aa != NONE
                && ab != NONE
                && !postcode_differs
                && (aa == ab || jaccard_sorted(cx.words_of(aa), cx.words_of(ab)) >= 0.8)
            {
                return 1;
            }
            // Two addresses and no postcode on either side (an extract without postcodes):
            // the address alone decides. One system often drops the town or the flat, so
            // the shorter address's words (at least two) mostly within the longer one's are
            // the same address; different addresses are a disagreement, not an absence of
            // evidence.
            if aa != NONE && ab != NONE && pa == NONE && pb == NONE {
                let (wa, wb) = (cx.words_of(aa), cx.words_of(ab));
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
        Kind::Address => {
            let (a, b) = (x.address, y.address);
            if a == NONE || b == NONE {
                return 0;
            }
            let j = if a == b {
                1.0
            } else {
                jaccard_sorted(cx.words_of(a), cx.words_of(b))
            };
            threshold_level(j, thresholds, 1)
        }
        Kind::NhsNumber => {
            let (a, b) = (x.nhs, y.nhs);
            if a != 0 && b != 0 {
                return if a == b { 1 } else { 3 };
            }
            // One side failed its check digit: near misses are evidence, the rest is not.
            let (p, q) = match (a, b, x.nhs_invalid, y.nhs_invalid) {
                (0, 0, p, q) | (p, 0, 0, q) | (0, q, p, 0) => (p, q),
                _ => return 0,
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
        Kind::Sex => match (x.sex, y.sex) {
            (0, _) | (_, 0) => 0,
            (a, b) if a == b => 1,
            _ => 2,
        },
        _ => 0,
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

impl<'a> Prepared<'a> {
    /// Prepares `c` on `records`.
    pub(crate) fn new(records: &'a Records, c: &Comparison) -> Result<Prepared<'a>, Error> {
        let spec = Spec::new(c, records)?;
        let words =
            matches!(c.kind, Kind::Location | Kind::Address).then(|| records.address_words());
        let mut tf = Vec::new();
        let mut encoded = None;
        if spec.is_encoded() {
            let e = encoded::Encoded::new(records, c.kind)?;
            if let Some(rows) = e.exact_rows() {
                let n = rows
                    .iter()
                    .filter(|&&v| v != NONE)
                    .map(|&v| v as usize + 1)
                    .max()
                    .unwrap_or(0);
                tf = frequencies(rows, n);
            }
            encoded = Some(e);
        } else if let Some((rows, n)) = spec.tf.and_then(|f| f.rows(records)) {
            tf = frequencies(rows, n);
        }
        Ok(Prepared {
            records,
            spec,
            words,
            encoded,
            tf,
        })
    }

    /// The value id whose term frequency adjusts the exact level for `pair`, if any.
    pub(crate) fn tf_value(&self, pair: Pair) -> Option<u32> {
        let v = match self.spec.tf? {
            TfField::Encoded => self.encoded.as_ref()?.exact_rows()?[pair.left as usize],
            f => f.value(self.records, pair.left),
        };
        (v != NONE).then_some(v)
    }

    /// The level of the pair whose rows have features `x` and `y` (rows `pair`).
    #[inline]
    pub(crate) fn level(&self, x: &RowFeatures, y: &RowFeatures, pair: Pair) -> u8 {
        if let Some(e) = &self.encoded {
            return e.level(pair.left, pair.right, &self.spec.thresholds);
        }
        let cx = Ctx {
            records: self.records,
            words: self.words.as_deref().unwrap_or(&EMPTY_WORDS),
            outside: None,
        };
        let r = self.records;
        self.spec.level(&cx, x, y, |col| {
            [pair.left, pair.right].map(|row| r.other_at(col, row))
        })
    }
}

/// True when the given name of each side is the surname of the other (and they differ).
/// With `outside`, `x` is a query that is not in the store: its surname's text may be no
/// stored surname, so it is matched against `y`'s given name through the given-name id
/// `outside` carries.
#[inline]
fn swapped(x: &RowFeatures, y: &RowFeatures, cx: &Ctx<'_>) -> bool {
    exactly_swapped(x, y, cx.outside) || fuzzily_swapped(x, y, cx)
}

fn exactly_swapped(x: &RowFeatures, y: &RowFeatures, outside: Option<&Outside>) -> bool {
    // Every id must be present: NONE == NONE is not agreement (regression: a missing surname
    // on one side made "John" / ("Elizabeth", "John") look swapped; found by the oracle test
    // `fast_comparisons_equal_naive_ones`).
    let other = match outside {
        None => y.given_as_surname != NONE && x.surname != NONE && y.given_as_surname == x.surname,
        Some(o) => o.surname_as_given != NONE && y.given != NONE && o.surname_as_given == y.given,
    };
    other
        && x.given_as_surname != NONE
        && y.surname != NONE
        && x.given_as_surname == y.surname
        && x.given_as_surname != x.surname
}

/// Jaro-Winkler similarity both crossed pairs of names must reach for names entered the
/// wrong way round with a typo (`campblel joshua` / `joshua campbell`) to count as swapped.
const SWAP_SIMILARITY: f64 = 0.9;

/// True when each record's given name is, but for a typo, the other's surname (and neither
/// record's own names agree): issue 11, FEBRL swaps names and then misspells one. Names that
/// start with different letters are not compared (cheap, and typos rarely hit the first).
fn fuzzily_swapped(x: &RowFeatures, y: &RowFeatures, cx: &Ctx<'_>) -> bool {
    if x.given == NONE || x.surname == NONE || y.given == NONE || y.surname == NONE {
        return false;
    }
    if x.given == y.given || x.surname == y.surname {
        return false;
    }
    let r = cx.records;
    let xg = cx.name(&r.given_dict, x.given, true).0;
    let xs = cx.name(&r.surname_dict, x.surname, false).0;
    let yg = cx.name(&r.given_dict, y.given, true).0;
    let ys = cx.name(&r.surname_dict, y.surname, false).0;
    let first = |s: &str| s.chars().next();
    if xg == xs || first(xg) != first(ys) || first(xs) != first(yg) {
        return false;
    }
    jaro_winkler(xg, ys) >= SWAP_SIMILARITY && jaro_winkler(xs, yg) >= SWAP_SIMILARITY
}

/// The first level (counting from `first`) whose threshold `sim` reaches, else the last.
fn threshold_level(sim: f64, thresholds: &[f64], first: u8) -> u8 {
    let mut level = first;
    for t in thresholds {
        if sim >= *t {
            return level;
        }
        level += 1;
    }
    level
}

/// Share of rows holding each value id.
fn frequencies(rows: &[u32], n: usize) -> Vec<f64> {
    let mut counts = vec![0u64; n];
    let mut total = 0u64;
    for &v in rows {
        if v != NONE {
            counts[v as usize] += 1;
            total += 1;
        }
    }
    let total = total.max(1) as f64;
    counts.iter().map(|&c| c as f64 / total).collect()
}

/// The last `N` decimal digits of `v`, most significant first.
fn digits<const N: usize>(v: u64) -> [u8; N] {
    let mut d = [0u8; N];
    let mut x = v;
    for slot in d.iter_mut().rev() {
        *slot = (x % 10) as u8;
        x /= 10;
    }
    d
}

fn dob_level(a: u32, b: u32) -> u8 {
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
            .map_or(0, |d| d.days_since_epoch())
    };
    if (days(ya, ma, da) - days(yb, mb, db)).abs() <= 365 {
        return 5;
    }
    6
}

/// Postcode levels from unit (1) to else (5); 0 when either is missing.
fn postcode_level(x: &RowFeatures, y: &RowFeatures) -> u8 {
    let (a, b) = (x.postcode, y.postcode);
    if a[0] == NONE || b[0] == NONE {
        return 0;
    }
    if a[0] == b[0] {
        return 1;
    }
    for (level, i) in [(2, 1), (3, 2), (4, 3)] {
        if a[i] != NONE && a[i] == b[i] {
            return level;
        }
    }
    5
}

/// All comparisons of a model, prepared on one store.
pub(crate) struct Comparer<'a> {
    records: &'a Records,
    pub(crate) prepared: Vec<Prepared<'a>>,
    features: Arc<Vec<RowFeatures>>,
}

impl<'a> Comparer<'a> {
    pub(crate) fn new(
        records: &'a Records,
        comparisons: &[Comparison],
    ) -> Result<Comparer<'a>, Error> {
        if comparisons.is_empty() || comparisons.len() > MAX_COMPARISONS {
            return Err(config_err(format!(
                "a model needs between 1 and {MAX_COMPARISONS} comparisons"
            )));
        }
        let prepared = comparisons
            .iter()
            .map(|c| Prepared::new(records, c))
            .collect::<Result<_, _>>()?;
        let features = records.features();
        Ok(Comparer {
            records,
            prepared,
            features,
        })
    }

    /// The store the comparisons read.
    pub(crate) fn records(&self) -> &'a Records {
        self.records
    }

    /// The comparison vector of `pair`: level of comparison i in bits 4i..4i+4.
    #[inline]
    pub(crate) fn vector(&self, pair: Pair) -> u64 {
        let x = &self.features[pair.left as usize];
        let y = &self.features[pair.right as usize];
        let mut v = 0u64;
        for (i, p) in self.prepared.iter().enumerate() {
            v |= u64::from(p.level(x, y, pair)) << (4 * i);
        }
        v
    }
}

/// The level of comparison `i` in vector `v`.
#[inline]
pub(crate) fn level_of(v: u64, i: usize) -> u8 {
    ((v >> (4 * i)) & 0xF) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The store of one CSV text.
    fn store(csv: &str) -> Records {
        let mut b = crate::RecordsBuilder::new();
        b.add_reader("t.csv", csv.as_bytes()).unwrap();
        b.build().unwrap().0
    }

    #[test]
    fn dob_levels_follow_the_mps_partial_date_ladder() {
        assert_eq!(dob_level(19800201, 19800201), 1);
        assert_eq!(dob_level(19800201, 19800102), 2);
        assert_eq!(dob_level(19800201, 19800204), 3, "one digit");
        assert_eq!(dob_level(19800201, 19800210), 3, "adjacent transposition");
        assert_eq!(dob_level(19800201, 19800228), 4);
        assert_eq!(dob_level(19800201, 19810101), 5);
        assert_eq!(dob_level(19800201, 19900101), 6);
        assert_eq!(dob_level(0, 19900101), 0);
    }

    /// Issue 11: with no postcode on either side the address alone decides the location: the
    /// same street and number with the town left off by one system is the same address, and
    /// a different address is "else" (it was "null", no evidence, so an extract of names and
    /// addresses could not tell a move from a match). With a postcode, unchanged.
    #[test]
    fn without_postcodes_the_address_alone_decides_the_location() {
        let r = store(
            "id,given_name,address,postcode\n\
             1,Ann,\"18 Hall Lane, Sutton Coldfield\",\n\
             2,Ann,18 Hall Ln,\n\
             3,Ann,4 Mill Road,\n\
             4,Ann,18 Hall Lane,LS1 4AP\n\
             5,Ann,4 Mill Road,M1 1AE\n",
        );
        let location = [Comparison::for_field("location").unwrap()];
        let c = Comparer::new(&r, &location).unwrap();
        let level = |a: u32, b: u32| level_of(c.vector(Pair { left: a, right: b }), 0);
        assert_eq!(level(0, 1), 1, "the town left off");
        assert_eq!(level(0, 2), 6, "another address");
        assert_eq!(level(1, 2), 6);
        // One postcode missing: as before, no evidence unless the addresses agree.
        assert_eq!(level(2, 3), 0);
        assert_eq!(level(1, 3), 1);
        // Both postcodes: they decide.
        assert_eq!(level(3, 4), 6);
    }

    /// Issue 11: names entered the wrong way round and then misspelt (FEBRL does this) are
    /// swapped: the surname comparison says so and the given name says nothing, once. Two
    /// people whose crossed names merely look alike are not.
    #[test]
    fn names_swapped_with_a_typo_count_as_swapped() {
        let r = store(
            "id,given_name,surname\n\
             1,campblel,joshua\n\
             2,joshua,campbell\n\
             3,jessica,campbell\n\
             4,mary,jones\n",
        );
        let cs = [
            Comparison::for_field("given_name").unwrap(),
            Comparison::for_field("surname").unwrap(),
        ];
        let c = Comparer::new(&r, &cs).unwrap();
        let levels = |a: u32, b: u32| {
            let v = c.vector(Pair { left: a, right: b });
            (level_of(v, 0), level_of(v, 1))
        };
        assert_eq!(levels(0, 1), (0, 2), "swapped, one name misspelt");
        assert_eq!(levels(1, 0), (0, 2));
        // campblel/jessica and joshua/campbell: one crossed pair is not alike.
        assert_eq!(levels(0, 2).0, 6);
        assert_ne!(levels(0, 3).1, 2);
    }

    #[test]
    fn level_names_match_level_numbers() {
        for c in Comparison::defaults() {
            c.validate().unwrap();
            let names = c.level_names();
            assert_eq!(names[0], "null");
            assert_eq!(
                names.last().map(String::as_str).unwrap_or(""),
                match c.kind {
                    Kind::NhsNumber => "different",
                    Kind::Sex => "disagree",
                    _ => "else",
                }
            );
        }
        let g = Comparison::for_field("given_name").unwrap();
        assert_eq!(g.level_names().len(), 7);
    }

    #[test]
    fn bad_thresholds_are_config_errors() {
        let mut c = Comparison::for_field("surname").unwrap();
        c.thresholds = vec![0.8, 0.9];
        assert!(c.validate().unwrap_err().is_config());
        c.thresholds = vec![];
        assert!(c.validate().is_err());
        let mut d = Comparison::for_field("dob").unwrap();
        d.thresholds = vec![0.5];
        assert!(d.validate().is_err());
    }

    #[test]
    fn threshold_level_counts_from_first() {
        assert_eq!(threshold_level(0.95, &[0.92, 0.88], 3), 3);
        assert_eq!(threshold_level(0.90, &[0.92, 0.88], 3), 4);
        assert_eq!(threshold_level(0.10, &[0.92, 0.88], 3), 5);
    }
}
