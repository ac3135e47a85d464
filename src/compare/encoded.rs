//! Comparisons of pseudonymised records: token equality and Bloom-filter Dice similarity.
//!
//! An encoded file (written by `carematch pseudonymise`) holds, per record, keyed tokens of
//! normalised values and balanced Bloom filters of names and address. The comparisons here
//! give the same kinds of levels as the clear-text ones, from those columns alone:
//!
//! | field | levels |
//! |---|---|
//! | given name | exact token; nickname token; Dice ≥ t1; ≥ t2; Soundex or NYSIIS token; else |
//! | surname | exact token; Dice ≥ t1; ≥ t2; Soundex or NYSIIS token; else |
//! | date of birth | exact; day and month swapped; one digit different; year and month; year; else |
//! | location | same address (address Dice ≥ 0.9, postcodes not different); unit; sector; district; area; else |
//! | NHS number | equal; one digit apart (one side mistyped); different |
//! | sex | agree; disagree |
//!
//! In a file whose names are salted (the scheme `carematch-pseudonym-3`, salted with the date
//! of birth by default, or the year), two records' names are compared only when their salts
//! are equal (dates equal or swapped; years equal); otherwise the name level is "missing".

use rayon::prelude::*;

use super::Kind;
use crate::Error;
use crate::error::config_err;
use crate::pseudonym::{Bloom, DOB_MASKED_COLUMNS, NHS_MASKED_COLUMNS, NameSalt};
use crate::record::{NO_ID, Records};

/// One encoded column: per row, the id of its value in the column's dictionary. A name
/// token column may be absent (files written with `--no-name-tokens`): it then never agrees.
struct Column<'a> {
    rows: &'a [u32],
}

/// True for the name columns of an encoded file (tokens and filters). A file may leave the
/// name tokens out; every other encoded column is required.
pub(crate) fn is_name_column(name: &str) -> bool {
    name.starts_with("given_name.") || name.starts_with("surname.")
}

impl Column<'_> {
    #[inline]
    fn get(&self, row: u32) -> u32 {
        self.rows.get(row as usize).copied().unwrap_or(NO_ID)
    }

    /// True when both rows have a value and the values are equal.
    #[inline]
    fn same(&self, a: u32, b: u32) -> bool {
        let x = self.get(a);
        x != NO_ID && x == self.get(b)
    }
}

/// A Bloom-filter column: per row a filter index, and the parsed filters.
struct Filters<'a> {
    rows: &'a [u32],
    filters: Vec<Option<Bloom>>,
}

impl Filters<'_> {
    fn dice(&self, a: u32, b: u32) -> Option<f64> {
        let (x, y) = (self.rows[a as usize], self.rows[b as usize]);
        if x == NO_ID || y == NO_ID {
            return None;
        }
        if x == y {
            return Some(1.0);
        }
        let fx = self.filters.get(x as usize)?.as_ref()?;
        let fy = self.filters.get(y as usize)?.as_ref()?;
        Some(fx.dice(fy))
    }
}

/// The columns one encoded comparison reads.
pub(crate) struct Encoded<'a> {
    kind: Kind,
    cols: Vec<Column<'a>>,
    bloom: Option<Filters<'a>>,
    /// For the date of birth, and names salted with it: which dates are equal or swapped.
    swaps: Option<Swaps<'a>>,
    /// For names salted with the year of birth: the year token.
    years: Option<Column<'a>>,
}

/// The date-of-birth token column and its swapped form (`dob.swapped.tok`: the token of
/// the date with day and month swapped, under the date's own field key), with each swapped
/// token's id in the date column's dictionary: the two columns have dictionaries of their
/// own, so their ids cannot be compared directly.
struct Swaps<'a> {
    dob: Column<'a>,
    swapped: Column<'a>,
    as_dob: Vec<u32>,
}

impl<'a> Swaps<'a> {
    fn new(records: &'a Records) -> Result<Swaps<'a>, Error> {
        use crate::pseudonym::TokenField as F;
        let dob = records.other_named(F::Dob.token_column());
        let swapped = records.other_named(F::DobSwapped.token_column());
        let (Some(dob), Some(swapped)) = (dob, swapped) else {
            // Names the first missing column.
            column(records, F::Dob.token_column())?;
            column(records, F::DobSwapped.token_column())?;
            return Err(config_err(
                "encoded comparison: no date-of-birth columns".into(),
            ));
        };
        let as_dob = (0..swapped.dict.len() as u32)
            .map(|i| dob.dict.lookup(swapped.dict.get(i)).unwrap_or(NO_ID))
            .collect();
        Ok(Swaps {
            dob: Column { rows: dob.rows },
            swapped: Column { rows: swapped.rows },
            as_dob,
        })
    }

    /// True when one row's date, day and month swapped, is the other's.
    fn swapped(&self, a: u32, b: u32) -> bool {
        let one_way = |x: u32, y: u32| {
            let s = self.swapped.get(x);
            s != NO_ID
                && self.dob.get(y) != NO_ID
                && self.as_dob.get(s as usize) == Some(&self.dob.get(y))
        };
        one_way(a, b) || one_way(b, a)
    }

    /// True when the rows' dates are equal or swapped.
    fn equal_or_swapped(&self, a: u32, b: u32) -> bool {
        self.dob.same(a, b) || self.swapped(a, b)
    }
}

fn column<'a>(records: &'a Records, name: &str) -> Result<Column<'a>, Error> {
    records
        .other_named(name)
        .map(|c| Column { rows: c.rows })
        .ok_or_else(|| {
            config_err(format!(
                "encoded comparison: the input has no column '{name}'"
            ))
        })
}

fn filters<'a>(records: &'a Records, name: &str) -> Result<Filters<'a>, Error> {
    let c = records.other_named(name).ok_or_else(|| {
        config_err(format!(
            "encoded comparison: the input has no column '{name}'"
        ))
    })?;
    let filters = (0..c.dict.len() as u32)
        .into_par_iter()
        .map(|i| Bloom::from_hex(c.dict.get(i)))
        .collect();
    Ok(Filters {
        rows: c.rows,
        filters,
    })
}

/// The token columns each encoded kind reads, in the order its levels use them (empty for
/// clear-text kinds).
pub fn columns_of(kind: Kind) -> Vec<&'static str> {
    use crate::pseudonym::TokenField as F;
    let fields: &[F] = match kind {
        Kind::EncodedGivenName => &[
            F::GivenName,
            F::GivenNameNickname,
            F::GivenNameSoundex,
            F::GivenNameNysiis,
            F::GivenNameByNhs,
        ],
        Kind::EncodedSurname => &[
            F::Surname,
            F::SurnameSoundex,
            F::SurnameNysiis,
            F::SurnameByNhs,
        ],
        Kind::EncodedDateOfBirth => &[F::Dob, F::DobSwapped, F::DobYearMonth, F::DobYear],
        Kind::EncodedLocation => &[
            F::Postcode,
            F::PostcodeSector,
            F::PostcodeDistrict,
            F::PostcodeArea,
        ],
        Kind::EncodedNhsNumber => &[F::NhsNumber],
        Kind::EncodedSex => &[F::Sex],
        _ => &[],
    };
    let mut v: Vec<&'static str> = fields.iter().map(|f| f.token_column()).collect();
    match kind {
        Kind::EncodedDateOfBirth => v.extend(DOB_MASKED_COLUMNS),
        Kind::EncodedNhsNumber => v.extend(NHS_MASKED_COLUMNS),
        _ => {}
    }
    v
}

/// Every column an encoded kind reads: its token columns and its Bloom column.
pub(crate) fn read_columns(kind: Kind) -> impl Iterator<Item = &'static str> {
    columns_of(kind).into_iter().chain(bloom_of(kind))
}

/// The Bloom column an encoded kind reads, if any.
fn bloom_of(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::EncodedGivenName => Some("given_name.bf"),
        Kind::EncodedSurname => Some("surname.bf"),
        Kind::EncodedLocation => Some("address.bf"),
        _ => None,
    }
}

impl<'a> Encoded<'a> {
    pub(crate) fn new(records: &'a Records, kind: Kind) -> Result<Encoded<'a>, Error> {
        let cols = columns_of(kind)
            .iter()
            .map(|n| match column(records, n) {
                Err(_) if is_name_column(n) => Ok(Column { rows: &[] }),
                other => other,
            })
            .collect::<Result<_, _>>()?;
        let bloom = match bloom_of(kind) {
            Some(n) => Some(filters(records, n)?),
            None => None,
        };
        let salt = if matches!(kind, Kind::EncodedGivenName | Kind::EncodedSurname) {
            NameSalt::of_records(records)
        } else {
            NameSalt::None
        };
        let swaps = if salt == NameSalt::DateOfBirth || kind == Kind::EncodedDateOfBirth {
            Some(Swaps::new(records)?)
        } else {
            None
        };
        let years = if salt == NameSalt::Year {
            Some(column(
                records,
                crate::pseudonym::TokenField::DobYear.token_column(),
            )?)
        } else {
            None
        };
        Ok(Encoded {
            kind,
            cols,
            bloom,
            swaps,
            years,
        })
    }

    /// The row ids of the column whose exact agreement term frequencies adjust. None for
    /// salted names: a salted token's frequency is that of the name and the date together,
    /// which says nothing of the name's alone.
    pub(crate) fn exact_rows(&self) -> Option<&'a [u32]> {
        match self.kind {
            Kind::EncodedGivenName | Kind::EncodedSurname
                if self.swaps.is_some() || self.years.is_some() =>
            {
                None
            }
            Kind::EncodedGivenName | Kind::EncodedSurname | Kind::EncodedLocation => {
                self.cols.first().map(|c| c.rows).filter(|r| !r.is_empty())
            }
            _ => None,
        }
    }

    /// True unless names are salted and rows `a` and `b` were salted differently (dates of
    /// birth neither equal nor swapped, or years different; a missing date leaves the names
    /// out). Names salted differently cannot be compared.
    fn salted_alike(&self, a: u32, b: u32) -> bool {
        self.swaps.as_ref().is_none_or(|s| s.equal_or_swapped(a, b))
            && self.years.as_ref().is_none_or(|y| y.same(a, b))
    }

    /// The level of rows `a` and `b`.
    pub(crate) fn level(&self, a: u32, b: u32, thresholds: &[f64]) -> u8 {
        match self.kind {
            Kind::EncodedGivenName | Kind::EncodedSurname => self.name_level(a, b, thresholds),
            Kind::EncodedDateOfBirth => self.dob_level(a, b),
            Kind::EncodedLocation => self.location_level(a, b),
            Kind::EncodedNhsNumber => self.nhs_level(a, b),
            Kind::EncodedSex => {
                let c = &self.cols[0];
                if c.get(a) == NO_ID || c.get(b) == NO_ID {
                    0
                } else if c.same(a, b) {
                    1
                } else {
                    2
                }
            }
            _ => 0,
        }
    }

    /// True when column `i` has a token on both rows.
    fn present(&self, i: usize, a: u32, b: u32) -> bool {
        self.cols[i].get(a) != NO_ID && self.cols[i].get(b) != NO_ID
    }

    /// Names: exact token; (given names) nickname token; Bloom Dice thresholds; phonetic
    /// token; else.
    fn name_level(&self, a: u32, b: u32, thresholds: &[f64]) -> u8 {
        let c = &self.cols;
        if !self.salted_alike(a, b) {
            // Salted apart; the tokens salted with one NHS number can still agree.
            return u8::from(c[c.len() - 1].same(a, b));
        }
        let dice = self.bloom.as_ref().and_then(|f| f.dice(a, b));
        if !self.present(0, a, b) && dice.is_none() {
            return 0;
        }
        if c[0].same(a, b) {
            return 1;
        }
        // Given names have a nickname level before the Dice levels.
        let (first_dice, phonetic) = if self.kind == Kind::EncodedGivenName {
            if c[1].same(a, b) {
                return 2;
            }
            (3u8, [2usize, 3])
        } else {
            (2u8, [1usize, 2])
        };
        let dice = self
            .bloom
            .as_ref()
            .and_then(|f| f.dice(a, b))
            .unwrap_or(0.0);
        let mut level = first_dice;
        for t in thresholds {
            if dice >= *t {
                return level;
            }
            level += 1;
        }
        if c[phonetic[0]].same(a, b) || c[phonetic[1]].same(a, b) {
            level
        } else {
            level + 1
        }
    }

    /// Date of birth: exact; day and month swapped; one digit; year and month; year; else.
    fn dob_level(&self, a: u32, b: u32) -> u8 {
        let c = &self.cols;
        if !self.present(0, a, b) {
            return 0;
        }
        if c[0].same(a, b) {
            1
        } else if self.swaps.as_ref().is_some_and(|s| s.swapped(a, b)) {
            2
        } else if (4..12).any(|i| c[i].same(a, b)) {
            3
        } else if c[2].same(a, b) {
            4
        } else if c[3].same(a, b) {
            5
        } else {
            6
        }
    }

    /// Location: same address (Dice ≥ 0.9, postcode not contradicting); unit; sector;
    /// district; area; else.
    fn location_level(&self, a: u32, b: u32) -> u8 {
        let c = &self.cols;
        let postcode_differs = self.present(0, a, b) && !c[0].same(a, b);
        if !postcode_differs
            && self
                .bloom
                .as_ref()
                .and_then(|f| f.dice(a, b))
                .is_some_and(|d| d >= 0.9)
        {
            return 1;
        }
        if !self.present(0, a, b) {
            return 0;
        }
        if c[0].same(a, b) {
            2
        } else if c[1].same(a, b) {
            3
        } else if c[2].same(a, b) {
            4
        } else if c[3].same(a, b) {
            5
        } else {
            6
        }
    }

    /// NHS number: equal; one digit apart; different.
    fn nhs_level(&self, a: u32, b: u32) -> u8 {
        let c = &self.cols;
        if c[0].same(a, b) {
            1
        } else if (1..11).any(|i| c[i].same(a, b)) {
            // One digit apart: one side failed its check digit (two valid numbers
            // are never one substitution apart).
            2
        } else if self.present(0, a, b) {
            3
        } else {
            0
        }
    }
}
