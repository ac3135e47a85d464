//! The JSON config file.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::error::ErrorKind;
use crate::rules::MatchRule;
use crate::schema::ColumnConfig;

/// Settings read from a JSON config file; every field is optional.
///
/// ```json
/// {
///   "columns": {"Hospital Number": "id", "Forename 1": "given_name", "Notes": "exclude"},
///   "rules": [
///     {"name": "nhs-dob", "when": "nhs_number & dob"},
///     {"name": "demographics", "when": "surname & given_name & dob & postcode"}
///   ],
///   "strict": false,
///   "accept_test_nhs_numbers": true
/// }
/// ```
///
/// Unknown keys are an error, so that a misspelt setting is not silently ignored.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Column mapping applied to every input file: header → role, `"exclude"` or `"other"`.
    pub columns: ColumnConfig,
    /// The deterministic rule ladder; `None` for [`MatchRule::defaults`].
    pub rules: Option<Vec<MatchRule>>,
    /// Invalid values are fatal. Default false.
    pub strict: bool,
    /// NHS numbers in the never-issued 999 range are accepted. Default true.
    #[serde(default = "yes")]
    pub accept_test_nhs_numbers: bool,
}

fn yes() -> bool {
    true
}

impl Default for Config {
    fn default() -> Config {
        Config {
            columns: ColumnConfig::new(),
            rules: None,
            strict: false,
            accept_test_nhs_numbers: true,
        }
    }
}

impl Config {
    /// Reads a config from the JSON file at `path`.
    ///
    /// # Errors
    ///
    /// An I/O error when the file cannot be read; a config error naming the file, line and
    /// column of a JSON syntax error, an unknown key or an invalid rule.
    pub fn from_file(path: &Path) -> Result<Config, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "read", &e))?;
        Config::from_json(&text).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("{}: {}", path.display(), e.message()),
            )
        })
    }

    /// Parses a config from JSON text.
    ///
    /// # Errors
    ///
    /// A config error with the line and column of the problem.
    pub fn from_json(text: &str) -> Result<Config, Error> {
        serde_json::from_str(text).map_err(|e| {
            // serde_json's message names the key or rule, never a patient value: configs hold
            // column names and rules only.
            Error::new(ErrorKind::Config, format!("invalid config: {e}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_takes_defaults() {
        let c = Config::from_json("{}").unwrap();
        assert!(c.accept_test_nhs_numbers);
        assert!(Config::default().accept_test_nhs_numbers);
        assert!(!c.strict);
        assert!(c.rules.is_none());
    }

    #[test]
    fn misspelt_key_is_an_error_with_position() {
        let e = Config::from_json("{\n  \"strcit\": true\n}").unwrap_err();
        assert!(e.is_config());
        assert!(e.to_string().contains("strcit"), "{e}");
        assert!(e.to_string().contains("line 2"), "{e}");
    }

    #[test]
    fn bad_rule_is_an_error_naming_it() {
        let e =
            Config::from_json(r#"{"rules": [{"name": "r1", "when": "dob:bogus"}]}"#).unwrap_err();
        assert!(e.to_string().contains("r1"), "{e}");
    }
}
