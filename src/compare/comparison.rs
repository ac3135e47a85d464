//! What a comparison is: its kind (and so its levels), field and thresholds, as a model
//! file and a config write it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::error::config_err;

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
    ///
    /// # Panics
    ///
    /// Never: every built-in field has a comparison (a unit test holds them to it).
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
        // Text without thresholds is exact / else (an encoded file's carried tokens).
        if wants && self.kind != Kind::Text && self.thresholds.is_empty() {
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
                v.extend(["unit", "sector", "district", "area", "else"].map(String::from));
            }
            Kind::Address => {
                for t in &self.thresholds {
                    v.push(format!("jaccard>={t}"));
                }
                v.push("else".into());
            }
            Kind::NhsNumber | Kind::EncodedNhsNumber => {
                v.extend(["exact", "one_digit", "different"].map(String::from));
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
