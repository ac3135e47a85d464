//! Field roles and the mapping from a file's columns to them.
//!
//! Columns with common names (`id`, `rec_id`, `first_name`, `forename`, `surname`, `dob`,
//! `gender`, `postcode`, `nhs_number`, `address_line_1`, ...) are recognised without a config:
//! a header is compared with its case, spaces and punctuation removed, so `NHS Number`,
//! `nhs_number` and `NHSNumber` are one name. A [`ColumnConfig`] maps any other column to a
//! role, or excludes a column. Columns with no role are carried through as "other" columns.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Error;

/// The column a pseudonymised file carries on every row: its scheme, key version and key
/// fingerprint. A store with it holds encoded values only.
pub const SCHEME_COLUMN: &str = "carematch_scheme";

/// The column of a pseudonymised file that holds the NHS number's token (the name
/// `pseudonym::TokenField::NhsNumber.token_column()` gives).
pub(crate) const NHS_TOKEN_COLUMN: &str = "nhs_number.tok";

/// The role a column plays in matching.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The record's identifier, unique within its file. Required.
    Id,
    /// Given name(s), forename.
    GivenName,
    /// Surname, family name.
    Surname,
    /// Date of birth.
    DateOfBirth,
    /// Sex or gender code.
    Sex,
    /// UK postcode.
    Postcode,
    /// NHS number.
    NhsNumber,
    /// Address lines; several columns are joined in file order.
    Address,
}

impl Role {
    /// Every role, in a fixed order.
    pub const ALL: [Role; 8] = [
        Role::Id,
        Role::GivenName,
        Role::Surname,
        Role::DateOfBirth,
        Role::Sex,
        Role::Postcode,
        Role::NhsNumber,
        Role::Address,
    ];

    /// Every role but the id: the roles whose columns hold values to normalise.
    pub const VALUES: &'static [Role] = {
        let (_, values) = Role::ALL.split_at(1);
        values
    };

    /// The role's name as used in configs and rules (`given_name`, `dob`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Id => "id",
            Role::GivenName => "given_name",
            Role::Surname => "surname",
            Role::DateOfBirth => "dob",
            Role::Sex => "sex",
            Role::Postcode => "postcode",
            Role::NhsNumber => "nhs_number",
            Role::Address => "address",
        }
    }

    /// Parses a role name, accepting the recognised column names as well (`date_of_birth`).
    pub fn parse(s: &str) -> Option<Role> {
        recognise(s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A header name with case, spaces and punctuation removed.
fn squash(header: &str) -> String {
    header
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The role a header names without a config, if any.
pub fn recognise(header: &str) -> Option<Role> {
    // Columns of a pseudonymised file (`address.bf`, `dob.tok`) are encodings, not clear
    // values; only the tokenised id has a role.
    if header == "id.tok" {
        return Some(Role::Id);
    }
    #[allow(
        clippy::case_sensitive_file_extension_comparisons,
        reason = "encoded column names, written lower-case by carematch"
    )]
    if header.ends_with(".tok") || header.ends_with(".bf") {
        return None;
    }
    let s = squash(header);
    if s.starts_with("addr") {
        return Some(Role::Address);
    }
    RECOGNISED
        .iter()
        .find(|(_, names)| names.contains(&s.as_str()))
        .map(|(role, _)| *role)
}

/// The header names each role is recognised by, with case and every character that is not
/// a letter or digit ignored (`Date_Of_Birth` is `dateofbirth`). Any header that starts with
/// `addr` is an address column too.
pub const RECOGNISED: &[(Role, &[&str])] = &[
    (
        Role::Id,
        &[
            "id",
            "recid",
            "recordid",
            "uniqueid",
            "patientid",
            "personid",
            "localpatientid",
            "mrn",
            "hospitalnumber",
            "clientid",
            "pasid",
        ],
    ),
    (
        Role::GivenName,
        &[
            "givenname",
            "givennames",
            "firstname",
            "forename",
            "forenames",
            "firstnames",
        ],
    ),
    (Role::Surname, &["surname", "familyname", "lastname"]),
    (Role::DateOfBirth, &["dateofbirth", "dob", "birthdate"]),
    (Role::Sex, &["sex", "gender", "sexcode", "gendercode"]),
    (Role::Postcode, &["postcode", "postalcode", "pcode"]),
    (Role::NhsNumber, &["nhsnumber", "nhsno", "nhsnum", "nhs"]),
    (Role::Address, &["address", "addr"]),
];

/// How the config maps one column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ColumnMapping {
    /// Use the column in this role.
    Role(Role),
    /// `"exclude"`: ignore the column entirely; `"other"`: carry it through without a role.
    Special(Special),
}

/// Special column mappings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Special {
    /// Ignore the column.
    Exclude,
    /// Carry the column through with no role, even if its name would be recognised.
    Other,
}

/// The `columns` section of a config: header name (exactly as in the file) → mapping.
pub type ColumnConfig = BTreeMap<String, ColumnMapping>;

/// What one column of a file is used for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ColumnUse {
    /// A matching role.
    Role(Role),
    /// Carried through under its header name.
    Other,
    /// Ignored.
    Excluded,
}

/// The resolved schema of one file: one [`ColumnUse`] per column, in file order.
#[derive(Clone, Debug)]
pub struct Schema {
    headers: Vec<String>,
    uses: Vec<ColumnUse>,
}

impl Schema {
    /// Resolves the columns of a file with `headers` against `config`.
    ///
    /// # Errors
    ///
    /// An input error naming `file` when there is no id column, when two columns claim the
    /// same single-column role, or when two columns share a header. A config column the file
    /// does not have is ignored here (one config serves both files of a link);
    /// [`crate::RecordsBuilder::build`] checks that some file has it.
    pub fn resolve(headers: &[String], config: &ColumnConfig, file: &str) -> Result<Schema, Error> {
        Schema::resolve_at(headers, config, file, 1)
    }

    /// [`Schema::resolve`] for names that are not a file's header (a query record's fields):
    /// errors name `what` and, when `line` is not 0, that line.
    pub(crate) fn resolve_at(
        headers: &[String],
        config: &ColumnConfig,
        file: &str,
        line: u64,
    ) -> Result<Schema, Error> {
        let mut uses = Vec::with_capacity(headers.len());
        let mut seen = rustc_hash::FxHashSet::default();
        for h in headers {
            if !seen.insert(h.as_str()) {
                return Err(Error::input_at(
                    file,
                    line,
                    Some(h),
                    "two columns have this header",
                ));
            }
            let u = match config.get(h) {
                Some(ColumnMapping::Role(r)) => ColumnUse::Role(*r),
                Some(ColumnMapping::Special(Special::Exclude)) => ColumnUse::Excluded,
                Some(ColumnMapping::Special(Special::Other)) => ColumnUse::Other,
                None => recognise(h).map_or(ColumnUse::Other, ColumnUse::Role),
            };
            uses.push(u);
        }
        for role in Role::ALL {
            if role == Role::Address {
                continue;
            }
            let cols: Vec<&String> = headers
                .iter()
                .zip(&uses)
                .filter(|(_, u)| **u == ColumnUse::Role(role))
                .map(|(h, _)| h)
                .collect();
            if cols.len() > 1 {
                return Err(Error::input_at(
                    file,
                    line,
                    Some(cols[1]),
                    &format!(
                        "columns '{}' and '{}' are both recognised as {role}; map one of them in the config",
                        cols[0], cols[1]
                    ),
                ));
            }
        }
        if !uses.contains(&ColumnUse::Role(Role::Id)) {
            return Err(Error::input_at(
                file,
                line,
                None,
                "no id column: name one 'id' or 'rec_id', or map one to \"id\" in the config",
            ));
        }
        Ok(Schema {
            headers: headers.to_vec(),
            uses,
        })
    }

    /// The header names, in file order.
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// What each column is used for, in file order.
    pub fn uses(&self) -> &[ColumnUse] {
        &self.uses
    }

    /// The indexes of the columns with `role`, in file order.
    pub fn columns_with(&self, role: Role) -> Vec<usize> {
        self.uses
            .iter()
            .enumerate()
            .filter(|(_, u)| **u == ColumnUse::Role(role))
            .map(|(i, _)| i)
            .collect()
    }

    /// A short name for the columns of `role`, for messages (`address_line_1+address_line_2`).
    pub fn column_label(&self, role: Role) -> String {
        let cols = self.columns_with(role);
        cols.iter()
            .map(|&i| self.headers[i].as_str())
            .collect::<Vec<_>>()
            .join("+")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(names: &[&str]) -> Vec<String> {
        names.iter().map(std::string::ToString::to_string).collect()
    }

    #[test]
    fn recognises_common_nhs_extract_headers() {
        assert_eq!(recognise("NHS Number"), Some(Role::NhsNumber));
        assert_eq!(recognise("nhs_no"), Some(Role::NhsNumber));
        assert_eq!(recognise("Date_Of_Birth"), Some(Role::DateOfBirth));
        assert_eq!(recognise("DOB"), Some(Role::DateOfBirth));
        assert_eq!(recognise("Forename"), Some(Role::GivenName));
        assert_eq!(recognise("family_name"), Some(Role::Surname));
        assert_eq!(recognise("Gender"), Some(Role::Sex));
        assert_eq!(recognise("Address Line 2"), Some(Role::Address));
        assert_eq!(recognise("rec_id"), Some(Role::Id));
        assert_eq!(recognise("ethnicity"), None);
        assert_eq!(recognise("address.bf"), None, "an encoding, not an address");
        assert_eq!(recognise("dob.tok"), None);
        assert_eq!(recognise("id.tok"), Some(Role::Id));
    }

    #[test]
    fn unrecognised_columns_are_carried_and_config_overrides() {
        let mut cfg = ColumnConfig::new();
        cfg.insert("Hosp No".into(), ColumnMapping::Role(Role::Id));
        cfg.insert("gender".into(), ColumnMapping::Special(Special::Exclude));
        let s = Schema::resolve(&h(&["Hosp No", "gender", "ward"]), &cfg, "a.csv").unwrap();
        assert_eq!(
            s.uses(),
            &[
                ColumnUse::Role(Role::Id),
                ColumnUse::Excluded,
                ColumnUse::Other
            ]
        );
    }

    #[test]
    fn config_json_uses_role_names() {
        let cfg: ColumnConfig =
            serde_json::from_str(r#"{"a": "given_name", "b": "exclude", "c": "other"}"#).unwrap();
        assert_eq!(cfg["a"], ColumnMapping::Role(Role::GivenName));
        assert_eq!(cfg["b"], ColumnMapping::Special(Special::Exclude));
        assert_eq!(cfg["c"], ColumnMapping::Special(Special::Other));
    }

    #[test]
    fn missing_id_column_is_an_error_naming_the_file() {
        let e = Schema::resolve(&h(&["surname"]), &ColumnConfig::new(), "gp.csv").unwrap_err();
        assert!(e.to_string().starts_with("gp.csv: line 1"), "{e}");
        assert!(e.to_string().contains("no id column"));
    }

    #[test]
    fn two_columns_for_one_role_is_an_error() {
        let e = Schema::resolve(
            &h(&["id", "dob", "date_of_birth"]),
            &ColumnConfig::new(),
            "x.csv",
        )
        .unwrap_err();
        assert!(e.to_string().contains("column 'date_of_birth'"), "{e}");
    }

    #[test]
    fn several_address_columns_are_allowed() {
        let s = Schema::resolve(
            &h(&["id", "address_1", "address_2"]),
            &ColumnConfig::new(),
            "x.csv",
        )
        .unwrap();
        assert_eq!(s.columns_with(Role::Address), vec![1, 2]);
        assert_eq!(s.column_label(Role::Address), "address_1+address_2");
    }
}
