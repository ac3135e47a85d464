//! Sex codes.
//!
//! Follows the NHS Data Dictionary person gender codes: `0` not known, `1` male, `2` female,
//! `9` not specified (indeterminate), and the newer person stated gender codes, which add
//! `X` (not known) and use `9` for indeterminate. Only male and female are values; every
//! "not known" code is missing.

use std::fmt;

/// Sex.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sex {
    /// Male.
    Male,
    /// Female.
    Female,
}

impl Sex {
    /// The one-letter code, `"M"` or `"F"`, which [`parse_sex`] reads back.
    ///
    /// # Example
    ///
    /// ```
    /// use carematch::normalise::sex::Sex;
    ///
    /// assert_eq!(Sex::Female.as_str(), "F");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Male => "M",
            Sex::Female => "F",
        }
    }

    /// The one-byte code stores and index files keep: 1 male, 2 female (0 is missing),
    /// as in the NHS Data Dictionary's person gender codes.
    pub fn code(self) -> u8 {
        match self {
            Sex::Male => 1,
            Sex::Female => 2,
        }
    }

    /// The sex of a [`Sex::code`]; `None` for 0 (missing) or any other byte.
    pub fn from_code(code: u8) -> Option<Sex> {
        match code {
            1 => Some(Sex::Male),
            2 => Some(Sex::Female),
            _ => None,
        }
    }
}

impl fmt::Display for Sex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a sex code was invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SexProblem {
    /// Not a known code.
    Unrecognised,
}

impl SexProblem {
    /// Name.
    pub fn as_str(self) -> &'static str {
        match self {
            SexProblem::Unrecognised => "unrecognised code",
        }
    }
}

/// Codes read as male.
const MALE: &[&str] = &["M", "MALE", "1"];
/// Codes read as female.
const FEMALE: &[&str] = &["F", "FEMALE", "2"];
/// Codes that say the sex is not known, not specified or indeterminate.
const UNKNOWN: &[&str] = &[
    "U",
    "UNKNOWN",
    "0",
    "9",
    "X",
    "I",
    "N/K",
    "NK",
    "NOT KNOWN",
    "NOT SPECIFIED",
    "INDETERMINATE",
];

/// Parses a sex code, ignoring case and surrounding whitespace.
///
/// - `M`, `MALE`, `1` are [`Sex::Male`]; `F`, `FEMALE`, `2` are [`Sex::Female`]
///   (NHS Data Dictionary person gender codes 1 and 2);
/// - blank, `0` (not known), `9` (not specified / indeterminate), `X` (not known), `U`,
///   `UNKNOWN`, `I`, `N/K`, `NK`, `NOT KNOWN`, `NOT SPECIFIED` and `INDETERMINATE` are
///   missing (`Ok(None)`).
///
/// # Errors
///
/// [`SexProblem::Unrecognised`] for anything else.
///
/// # Example
///
/// ```
/// use carematch::normalise::sex::{parse_sex, Sex, SexProblem};
///
/// assert_eq!(parse_sex(" female "), Ok(Some(Sex::Female)));
/// assert_eq!(parse_sex("1"), Ok(Some(Sex::Male)));
/// assert_eq!(parse_sex("9"), Ok(None));
/// assert_eq!(parse_sex("Q"), Err(SexProblem::Unrecognised));
/// ```
pub fn parse_sex(raw: &str) -> Result<Option<Sex>, SexProblem> {
    let s = raw.trim();
    let is = |codes: &[&str]| codes.iter().any(|c| c.eq_ignore_ascii_case(s));
    if s.is_empty() || is(UNKNOWN) {
        Ok(None)
    } else if is(MALE) {
        Ok(Some(Sex::Male))
    } else if is(FEMALE) {
        Ok(Some(Sex::Female))
    } else {
        Err(SexProblem::Unrecognised)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn male_and_female() {
        for s in ["M", "m", "male", "Male", "MALE", "1", " 1 ", "\tm\n"] {
            assert_eq!(parse_sex(s), Ok(Some(Sex::Male)), "{s}");
        }
        for s in ["F", "f", "female", "Female", "FEMALE", "2", " F "] {
            assert_eq!(parse_sex(s), Ok(Some(Sex::Female)), "{s}");
        }
    }

    #[test]
    fn unknown_codes_are_missing() {
        for s in [
            "",
            "   ",
            "U",
            "u",
            "Unknown",
            "0",
            "9",
            "X",
            "x",
            "I",
            "N/K",
            "n/k",
            "NK",
            "Not Known",
            "not specified",
            "Indeterminate",
        ] {
            assert_eq!(parse_sex(s), Ok(None), "{s}");
        }
    }

    #[test]
    fn anything_else_is_unrecognised() {
        for s in [
            "3",
            "MF",
            "Q",
            "males",
            "man",
            "N",
            "M F",
            "10",
            "é",
            "🎉",
            "ＭＡＬＥ",
        ] {
            assert_eq!(parse_sex(s), Err(SexProblem::Unrecognised), "{s}");
        }
        assert_eq!(SexProblem::Unrecognised.as_str(), "unrecognised code");
    }

    #[test]
    fn as_str_round_trips() {
        for sex in [Sex::Male, Sex::Female] {
            assert_eq!(parse_sex(sex.as_str()), Ok(Some(sex)));
            assert_eq!(parse_sex(&sex.to_string()), Ok(Some(sex)));
        }
        assert_eq!(Sex::Male.as_str(), "M");
        for sex in [Sex::Male, Sex::Female] {
            assert_eq!(Sex::from_code(sex.code()), Some(sex));
        }
        assert_eq!(Sex::from_code(0), None);
        assert_eq!(Sex::from_code(9), None);
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC*") {
            if let Ok(Some(sex)) = parse_sex(&s) {
                prop_assert_eq!(parse_sex(sex.as_str()), Ok(Some(sex)));
            }
        }
    }
}
