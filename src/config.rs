//! The JSON config file.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::block::BlockingRule;
use crate::compare::Comparison;
use crate::error::ErrorKind;
use crate::model::{Thresholds, TrainOptions};
use crate::record::Records;
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
    /// The model's comparisons; `None` for [`Comparison::defaults`] plus a text comparison of
    /// every carried column that every input has.
    pub comparisons: Option<Vec<ComparisonConfig>>,
    /// Prediction blocking rules; `None` to choose them from the data: the defaults, then
    /// rules from a pool within `blocking_budget` (see [`crate::choice::BlockingChoice`]).
    pub blocking: Option<Vec<BlockingRule>>,
    /// Comparisons per record the chosen blocking rules may generate in all; `None` for
    /// [`crate::choice::DEFAULT_BUDGET_PER_RECORD`]. Ignored when `blocking` is set.
    pub blocking_budget: Option<f64>,
    /// Training blocking rules (one EM session each); `None` for the defaults of
    /// [`TrainOptions`].
    pub training_rules: Option<Vec<BlockingRule>>,
    /// Decision thresholds, each optional; a threshold the config leaves out comes from the
    /// model (a trained model has [`Thresholds::default`]). See [`Config::apply_thresholds`].
    pub thresholds: Option<ThresholdSettings>,
    /// Random pairs for u; `None` for 1,000,000.
    pub u_pairs: Option<u64>,
    /// Seed for the random pairs; `None` for 1.
    pub seed: Option<u64>,
    /// In a link, give each record at most one match (best first; the others go to review),
    /// as `--one-to-one` does. Default false.
    pub one_to_one: bool,
}

/// The decision thresholds a config may set; every key is optional.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThresholdSettings {
    /// See [`Thresholds::match_probability`].
    pub match_probability: Option<f64>,
    /// See [`Thresholds::review_probability`].
    pub review_probability: Option<f64>,
    /// See [`Thresholds::ambiguity_margin`].
    pub ambiguity_margin: Option<f64>,
}

/// The thresholds a run uses, and where each came from: `"--threshold"`, `"config"`, or the
/// label of the model's own (`"model file"`, `"default"`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AppliedThresholds {
    /// The thresholds in force.
    pub thresholds: Thresholds,
    /// Where the match, review and ambiguity thresholds came from, in that order.
    pub sources: [&'static str; 3],
}

impl std::fmt::Display for AppliedThresholds {
    /// `thresholds: match >= 0.99 (default), review >= 0.5 (config), ambiguity margin 5 bits (default)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = &self.thresholds;
        let [m, r, a] = self.sources;
        write!(
            f,
            "thresholds: match >= {} ({m}), review >= {} ({r}), ambiguity margin {} bits ({a})",
            t.match_probability, t.review_probability, t.ambiguity_margin
        )
    }
}

/// One comparison in a config: the field, and optionally its thresholds.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComparisonConfig {
    /// A role name (`given_name`, `surname`, `dob`, `location`, `postcode`, `address`,
    /// `nhs_number`, `sex`) or a carried column's header.
    pub field: String,
    /// Similarity thresholds, highest first; `None` for the field's defaults.
    pub thresholds: Option<Vec<f64>>,
}

impl Config {
    /// The comparisons for a model of `records`: the config's, or the defaults plus a text
    /// comparison of every carried column with values in every source.
    ///
    /// # Errors
    ///
    /// A config error for an invalid comparison.
    pub fn comparisons(&self, records: &Records) -> Result<Vec<Comparison>, Error> {
        if let Some(cs) = &self.comparisons {
            return cs
                .iter()
                .map(|c| {
                    let mut x = Comparison::for_field(&c.field)?;
                    if let Some(t) = &c.thresholds {
                        x.thresholds.clone_from(t);
                    }
                    x.validate()?;
                    Ok(x)
                })
                .collect();
        }
        let encoded = records.is_encoded();
        let mut out = if encoded {
            Comparison::encoded_defaults()
        } else {
            Comparison::defaults()
        };
        let identifiers = identifier_columns(records);
        for name in records.other_columns() {
            // An encoded file's token columns are compared by the encoded kinds, but for its
            // carried columns' tokens (`soc_sec_id.tok`, `suburb.tok`): identifiers as such,
            // the others exact / else.
            if encoded
                && (crate::pseudonym::is_demographic_token_column(name)
                    || crate::pseudonym::is_nhs_token_column(name)
                    || !name.to_ascii_lowercase().ends_with(".tok"))
            {
                continue;
            }
            if in_every_source(records, name) && out.len() < crate::compare::MAX_COMPARISONS {
                let mut c = Comparison::for_field(name)?;
                if identifiers.iter().any(|i| i == name) {
                    c.kind = crate::compare::Kind::Identifier;
                    c.thresholds.clear();
                } else if encoded {
                    c.thresholds.clear();
                }
                out.push(c);
            }
        }
        Ok(out)
    }

    /// Training options from the config (for pseudonymised input, training rules on its
    /// token columns). For clear text without the config's training rules, the default
    /// sessions that make pairs in `mode`, one per identifier column, and sessions from
    /// a pool (`given_name & surname`, `dob`, `postcode`, `address:street`,
    /// `surname & dob:year`) for any comparison no session could estimate.
    ///
    /// # Errors
    ///
    /// A config error when a comparison or rule names a column the input lacks.
    pub fn train_options_for(
        &self,
        records: &Records,
        mode: &crate::block::Mode,
    ) -> Result<TrainOptions, Error> {
        let mut o = self.train_options();
        if self.training_rules.is_none() && !records.is_encoded() {
            // An identifier shared by the files teaches m for every other field, as the NHS
            // number's session does.
            o.sessions.extend(identifier_rules(records));
            o.sessions = crate::choice::complete_sessions(
                records,
                mode,
                &self.comparisons(records)?,
                std::mem::take(&mut o.sessions),
                crate::choice::budget(mode, self.budget_per_record()?, crate::choice::MIN_BUDGET),
            )?;
        }
        if self.training_rules.is_none() && records.is_encoded() {
            o.sessions = crate::block::available(
                records,
                parse_all(&[
                    "nhs_number.tok",
                    "dob.tok & surname.soundex.tok",
                    "given_name.tok & surname.tok & postcode.area.tok",
                    "dob.tok & postcode.district.tok",
                ]),
            );
            if o.sessions.len() == 4 {
                // With name tokens, three sessions suffice (and are cheaper).
                o.sessions.pop();
            }
            // An identifier token shared by the files teaches m as the NHS number's does.
            o.sessions.extend(identifier_rules(records));
        }
        Ok(o)
    }

    /// The model's prediction blocking rules: the config's, or for pseudonymised input its
    /// defaults, or for clear text the defaults and the rules chosen from the data within the
    /// budget (see [`crate::choice::BlockingChoice`]).
    ///
    /// # Errors
    ///
    /// A config error when a rule names a column the input does not have, or the budget is
    /// negative or not a number.
    pub fn blocking_for(
        &self,
        records: &Records,
        mode: &crate::block::Mode,
    ) -> Result<crate::choice::BlockingChoice, Error> {
        if let Some(b) = &self.blocking {
            return Ok(crate::choice::BlockingChoice::given(b.clone()));
        }
        let per_record = self.budget_per_record()?;
        if records.is_encoded() {
            // Rules on name tokens drop out for files written without them; two name-free
            // rules keep movers and people without NHS numbers in reach.
            let rules = crate::block::available(
                records,
                parse_all(&[
                    "nhs_number.tok",
                    "dob.tok & surname.soundex.tok",
                    "dob.tok & given_name.tok",
                    "dob.tok & postcode.district.tok",
                    "given_name.soundex.tok & surname.soundex.tok & dob.year.tok",
                    "given_name.soundex.tok & surname.soundex.tok & postcode.district.tok",
                    "postcode.tok & given_name.soundex.tok",
                    "postcode.tok & dob.year.tok",
                    "dob.tok & postcode.area.tok & sex.tok",
                ]),
            )
            .into_iter()
            .chain(identifier_rules(records))
            .collect();
            return crate::choice::choose(records, mode, rules, &[], 0.0, 0);
        }
        let mut rules = BlockingRule::defaults();
        rules.extend(identifier_rules(records));
        crate::choice::choose(
            records,
            mode,
            rules,
            &identifier_columns(records),
            per_record,
            if per_record > 0.0 {
                crate::choice::MIN_BUDGET
            } else {
                0
            },
        )
    }

    /// The blocking budget per record: the config's, or the default.
    ///
    /// # Errors
    ///
    /// A config error when it is negative or not a number.
    fn budget_per_record(&self) -> Result<f64, Error> {
        let per_record = self
            .blocking_budget
            .unwrap_or(crate::choice::DEFAULT_BUDGET_PER_RECORD);
        if per_record.is_finite() && per_record >= 0.0 {
            Ok(per_record)
        } else {
            Err(Error::new(
                ErrorKind::Config,
                format!(
                    "blocking_budget must be a number of comparisons per record, 0 or more \
                     (got {per_record})"
                ),
            ))
        }
    }

    /// Trains a model of `records` for `mode` as this config says (its comparisons, training
    /// rules and blocking), with `labelled` true pairs if any: the one way the CLI, the C ABI
    /// and the index train. Returns the model and the blocking choice, for the summary.
    ///
    /// # Errors
    ///
    /// As [`Config::comparisons`], [`crate::Model::train`] and [`Config::blocking_for`].
    pub fn train(
        &self,
        records: &Records,
        mode: &crate::block::Mode,
        labelled: Vec<crate::block::Pair>,
    ) -> Result<(crate::Model, crate::choice::BlockingChoice), Error> {
        self.train_reviewed(records, mode, labelled, Vec::new())
    }

    /// As [`Config::train`], with reviewed true pairs refining EM's m
    /// ([`TrainOptions::reviewed`]).
    ///
    /// # Errors
    ///
    /// As [`Config::train`].
    pub fn train_reviewed(
        &self,
        records: &Records,
        mode: &crate::block::Mode,
        labelled: Vec<crate::block::Pair>,
        reviewed: Vec<crate::block::Pair>,
    ) -> Result<(crate::Model, crate::choice::BlockingChoice), Error> {
        let comparisons = self.comparisons(records)?;
        let mut options = self.train_options_for(records, mode)?;
        options.labelled = labelled;
        options.reviewed = reviewed;
        let mut model = crate::Model::train(records, mode, &comparisons, &options)?;
        let choice = self.blocking_for(records, mode)?;
        model.set_blocking(choice.rules());
        Ok((model, choice))
    }

    /// The deterministic rules: the config's, or the defaults for clear text or for
    /// pseudonymised input.
    ///
    /// # Panics
    ///
    /// Never: the built-in rules parse (a unit test holds them to it).
    pub fn rules_for(&self, records: &Records) -> Vec<MatchRule> {
        if let Some(r) = &self.rules {
            return r.clone();
        }
        if records.is_encoded() {
            [
                ("nhs-dob", "nhs_number.tok & dob.tok"),
                (
                    "nhs-yob",
                    "nhs_number.tok & dob.year.tok & surname.soundex.tok",
                ),
                (
                    "demographics",
                    "surname.tok & given_name.tok & dob.tok & postcode.tok",
                ),
            ]
            .iter()
            .map(|(n, e)| MatchRule::new(n, e).expect("encoded rules parse"))
            .filter(|r| {
                r.blocking_rule()
                    .is_some_and(|b| b.reads_columns_of(records))
            })
            .collect()
        } else {
            // An identifier the files share with the date of birth is as sure as the NHS
            // number with it (twins' identifiers differ).
            let mut rules = MatchRule::defaults();
            for name in identifier_columns(records) {
                if let Ok(r) = MatchRule::new(&format!("{name}-dob"), &format!("{name} & dob")) {
                    rules.push(r);
                }
            }
            rules
        }
    }

    /// The carried columns of `records` that nothing uses: no comparison of `model`, none of
    /// its blocking rules, no deterministic rule. Each with why: `"not in every file"` (a
    /// comparison needs values on both sides) or `"not compared"`. The run lists them, so
    /// that a column the mapping missed (`Forename`, `DOB`) is seen.
    pub fn unused_columns(
        &self,
        records: &Records,
        model: Option<&crate::Model>,
    ) -> Vec<(String, &'static str)> {
        let mut used: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
        if let Some(m) = model {
            for c in m.comparisons() {
                used.insert(c.field.clone());
                // An encoded comparison reads its kind's columns, not one named as its field.
                used.extend(crate::compare::encoded_read_columns(c.kind).map(String::from));
            }
            for b in m.blocking() {
                for k in b.keys() {
                    if let crate::block::Field::Other(n) = &k.field {
                        used.insert(n.clone());
                    }
                }
            }
        }
        for r in self.rules_for(records) {
            for k in r.keys() {
                if let crate::block::Field::Other(n) = &k.field {
                    used.insert(n.clone());
                }
            }
        }
        records
            .other_columns()
            .filter(|c| *c != crate::pseudonym::SCHEME_COLUMN && !used.contains(*c))
            .map(|c| {
                let why = if in_every_source(records, c) {
                    "not compared"
                } else {
                    "not in every file"
                };
                (c.to_string(), why)
            })
            .collect()
    }

    /// Training options from the config alone (see [`Config::train_options_for`]).
    fn train_options(&self) -> TrainOptions {
        let mut o = TrainOptions::default();
        if let Some(r) = &self.training_rules {
            o.sessions.clone_from(r);
        }
        if let Some(u) = self.u_pairs {
            o.u_pairs = u;
        }
        if let Some(s) = self.seed {
            o.seed = s;
        }
        o
    }
}

fn yes() -> bool {
    true
}

/// The carried columns that hold an identifier shared by the sources (a social-security
/// number, an MRN two systems share, FEBRL's `soc_sec_id`), in column order. A column
/// qualifies when every source has values in it, its values are codes (at least 90% of the
/// distinct values 4 to 40 characters without spaces), and they are nearly unique within
/// each source: at least 30% distinct when its name says it is an identifier (`ssn`, `nino`,
/// `mrn`, `*_id`, `*_number`, …, but not an address part such as `street_number`), at
/// least 90% otherwise. Repeats within a source are the duplicates being looked for.
pub(crate) fn identifier_columns(records: &Records) -> Vec<String> {
    // Profiled once per store: the comparisons, blocking, training and rules all ask.
    records
        .identifier_columns(|| profile_identifiers(records))
        .to_vec()
}

fn profile_identifiers(records: &Records) -> Vec<String> {
    records
        .others()
        .iter()
        .filter(|c| {
            c.name != crate::pseudonym::SCHEME_COLUMN
                && !(records.is_encoded() && crate::pseudonym::is_demographic_token_column(&c.name))
                && crate::block::is_rule_column(&c.name)
                && is_identifier(records, c)
        })
        .map(|c| c.name.clone())
        .collect()
}

/// The header of an identifier column, by its words: `nhs_no`, `SSN`, `patient id`,
/// `soc_sec_id`, `PatientID`; not an address part (`street_number`, `house_no`).
fn id_like_name(name: &str) -> bool {
    const PLACE: &[&str] = &[
        "street",
        "house",
        "flat",
        "apartment",
        "unit",
        "building",
        "road",
        "address",
        "postcode",
        "zip",
        "phone",
        "tel",
        "telephone",
        "mobile",
        "fax",
    ];
    const ID: &[&str] = &[
        "id",
        "ssn",
        "nino",
        "mrn",
        "chi",
        "nhs",
        "medicare",
        "passport",
        "number",
        "no",
        "num",
        "identifier",
        "ident",
        "uid",
    ];
    let lower = name.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    !words.iter().any(|w| PLACE.contains(w))
        && words
            .iter()
            .any(|w| ID.contains(w) || (w.len() >= 4 && w.ends_with("id")))
}

fn is_identifier(records: &Records, c: &crate::record::OtherColumn) -> bool {
    let n = c.dict.len();
    if n == 0 {
        return false;
    }
    let code = (0..n as u32)
        .filter(|&v| {
            let s = c.dict.get(v);
            (4..=40).contains(&s.chars().count()) && !s.contains(char::is_whitespace)
        })
        .count();
    if (code as f64) < 0.9 * n as f64 {
        return false;
    }
    let need = if id_like_name(&c.name) { 0.3 } else { 0.9 };
    records.sources().iter().all(|s| {
        let mut seen = rustc_hash::FxHashSet::default();
        let mut filled = 0usize;
        for r in s.rows.clone() {
            let v = c.values[r as usize];
            if v != crate::record::NO_ID {
                filled += 1;
                seen.insert(v);
            }
        }
        filled > 0 && seen.len() as f64 >= need * filled as f64
    })
}

/// One exact blocking rule per identifier column (for an encoded file, per identifier
/// token column other than the NHS number's, whose rules are the encoded defaults').
fn identifier_rules(records: &Records) -> Vec<BlockingRule> {
    let encoded = records.is_encoded();
    identifier_columns(records)
        .into_iter()
        .filter(|name| !(encoded && crate::pseudonym::is_nhs_token_column(name)))
        .filter_map(|name| {
            BlockingRule::new(vec![crate::block::Key {
                field: crate::block::Field::Other(name),
                transform: crate::block::Transform::Exact,
            }])
            .ok()
        })
        .collect()
}

/// True when carried column `name` has a value in every source (so a comparison of it can
/// ever say something).
fn in_every_source(records: &Records, name: &str) -> bool {
    records
        .sources()
        .iter()
        .all(|s| s.rows.clone().any(|r| records.other(name, r).is_some()))
}

fn parse_all<T: std::str::FromStr>(v: &[&str]) -> Vec<T>
where
    T::Err: std::fmt::Debug,
{
    v.iter()
        .map(|s| s.parse().expect("built-in rules parse"))
        .collect()
}

impl Default for Config {
    fn default() -> Config {
        Config {
            columns: ColumnConfig::new(),
            rules: None,
            strict: false,
            accept_test_nhs_numbers: true,
            comparisons: None,
            blocking: None,
            blocking_budget: None,
            training_rules: None,
            thresholds: None,
            u_pairs: None,
            seed: None,
            one_to_one: false,
        }
    }
}

impl Config {
    /// Sets `model`'s decision thresholds for a run. Precedence, highest first: `threshold`
    /// (the command line's match probability), the config's thresholds, the model's own
    /// (called `model_label` in the result). A review threshold that nobody set is lowered
    /// to a match threshold set below it.
    ///
    /// # Errors
    ///
    /// A config error when the thresholds that result are not probabilities with review at
    /// most match and a margin of at least 0.
    pub fn apply_thresholds(
        &self,
        model: &mut crate::Model,
        threshold: Option<f64>,
        model_label: &'static str,
    ) -> Result<AppliedThresholds, Error> {
        let mut t = model.thresholds();
        let mut sources = [model_label; 3];
        if let Some(c) = &self.thresholds {
            if let Some(x) = c.match_probability {
                t.match_probability = x;
                sources[0] = "config";
            }
            if let Some(x) = c.review_probability {
                t.review_probability = x;
                sources[1] = "config";
            }
            if let Some(x) = c.ambiguity_margin {
                t.ambiguity_margin = x;
                sources[2] = "config";
            }
        }
        if let Some(p) = threshold {
            t.match_probability = p;
            sources[0] = "--threshold";
        }
        if sources[1] == model_label && t.review_probability > t.match_probability {
            t.review_probability = t.match_probability;
        }
        model.set_thresholds(t).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!(
                    "thresholds (match {} from {}, review {} from {}, margin {} from {}): {}",
                    t.match_probability,
                    sources[0],
                    t.review_probability,
                    sources[1],
                    t.ambiguity_margin,
                    sources[2],
                    e.message()
                ),
            )
        })?;
        Ok(AppliedThresholds {
            thresholds: t,
            sources,
        })
    }

    /// The carried columns of `records` compared, blocked on and ruled on as identifiers:
    /// columns the sources share whose values are near-unique codes (see the README's
    /// "Identifiers"). Each is listed in the run's summary.
    pub fn identifiers(&self, records: &Records) -> Vec<String> {
        identifier_columns(records)
    }

    /// Reads the config file at `path`, or the defaults when there is none.
    ///
    /// # Errors
    ///
    /// As [`Config::from_file`].
    pub fn load(path: Option<&Path>) -> Result<Config, Error> {
        path.map_or_else(|| Ok(Config::default()), Config::from_file)
    }

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

    /// Regression: `{"thresholds": {"match_probability": 0.995}}` was refused ("missing field
    /// `review_probability`") though every key is optional; and with a model loaded from a
    /// file, the config's thresholds were silently ignored.
    #[test]
    fn a_config_may_set_one_threshold_and_it_wins_over_the_model() {
        let c = Config::from_json(r#"{"thresholds": {"match_probability": 0.995}}"#).unwrap();
        let mut model = crate::model::flat_model(&crate::compare::Comparison::defaults(), 0.01);
        let applied = c.apply_thresholds(&mut model, None, "model file").unwrap();
        assert_eq!(model.thresholds().match_probability, 0.995);
        assert_eq!(model.thresholds().review_probability, 0.5);
        assert_eq!(applied.sources, ["config", "model file", "model file"]);
        // The command line wins over the config; a review threshold nobody set follows a
        // match threshold set below it.
        let applied = c
            .apply_thresholds(&mut model, Some(0.3), "model file")
            .unwrap();
        assert_eq!(model.thresholds().match_probability, 0.3);
        assert_eq!(model.thresholds().review_probability, 0.3);
        assert_eq!(applied.sources[0], "--threshold");
        // A review threshold set above the match threshold is an error, not a silent fix.
        let c = Config::from_json(r#"{"thresholds": {"review_probability": 0.999}}"#).unwrap();
        let e = c
            .apply_thresholds(&mut model, None, "model file")
            .unwrap_err();
        assert!(e.is_config(), "{e}");
        assert!(e.message().contains("review 0.999 from config"), "{e}");
    }

    fn store(csv: &str) -> Records {
        let mut b = crate::Records::builder();
        b.add_reader("a.csv", csv.as_bytes()).unwrap();
        b.build().unwrap().0
    }

    /// Issue 11: an identifier the sources share (FEBRL's `soc_sec_id`, an MRN) is found by
    /// its name and its near-unique values; address parts and categories are not.
    #[test]
    fn identifier_columns_are_found_by_name_and_uniqueness_not_address_parts() {
        for (name, yes) in [
            ("soc_sec_id", true),
            ("SSN", true),
            ("nhs_no", true),
            ("PatientID", true),
            ("local MRN", true),
            ("street_number", false),
            ("house_no", false),
            ("suburb", false),
            ("phone_number", false),
        ] {
            assert_eq!(id_like_name(name), yes, "{name}");
        }
        let mut csv = "id,given_name,soc_sec_id,street_number,state,ref_code\n".to_string();
        for i in 0..40 {
            // Duplicates share their identifier: 30 distinct of 40 rows.
            let ssn = 4_000_000 + (i % 30) * 7919;
            csv.push_str(&format!("r{i},Ann,{ssn},{},vic,AB{:05}\n", i % 7, i * 31));
        }
        let r = store(&csv);
        assert_eq!(identifier_columns(&r), ["soc_sec_id", "ref_code"]);
        let c = Config::default();
        let kinds: Vec<(String, crate::compare::Kind)> = c
            .comparisons(&r)
            .unwrap()
            .into_iter()
            .map(|c| (c.field, c.kind))
            .collect();
        assert!(kinds.contains(&("soc_sec_id".into(), crate::compare::Kind::Identifier)));
        assert!(kinds.contains(&("state".into(), crate::compare::Kind::Text)));
        assert!(
            c.blocking_for(&r, &crate::link::dedupe_mode(&r, 0).unwrap())
                .unwrap()
                .rules()
                .iter()
                .any(|b| b.to_string() == "soc_sec_id")
        );
        assert!(c.rules_for(&r).iter().any(|m| m.name() == "soc_sec_id-dob"));
        assert!(
            c.train_options_for(&r, &crate::link::dedupe_mode(&r, 0).unwrap())
                .unwrap()
                .sessions
                .iter()
                .any(|b| b.to_string() == "soc_sec_id")
        );
    }

    /// Regression (found by the `ffi_batch` fuzz target): an identifier column whose name held
    /// rule syntax (`:`) gave a blocking rule that the model file could not read back, so a
    /// trained model's JSON was refused. Such a column is not used in rules, and no rule on
    /// it can be made.
    #[test]
    fn a_column_whose_name_holds_rule_syntax_is_never_put_in_a_rule() {
        let mut csv = "id,given_name,dob,ref:no\n".to_string();
        for i in 0..20 {
            csv.push_str(&format!("r{i},Ann,1980-01-01,AB{:05}\n", i * 31));
        }
        let r = store(&csv);
        assert!(identifier_columns(&r).is_empty());
        let key = crate::block::Key {
            field: crate::block::Field::Other("ref:no".into()),
            transform: crate::block::Transform::Exact,
        };
        assert!(BlockingRule::new(vec![key]).is_err());
        let mode = crate::link::dedupe_mode(&r, 0).unwrap();
        for rule in Config::default().blocking_for(&r, &mode).unwrap().rules() {
            let back: BlockingRule = rule.to_string().parse().unwrap();
            assert_eq!(back, rule);
        }
    }

    /// A blocking budget that is not a count of comparisons is refused, for the blocking
    /// choice and for the training pool alike (both read it through one check).
    #[test]
    fn a_negative_or_nan_blocking_budget_is_a_config_error() {
        let r = store("id,given_name,dob\n1,Ann,1980-01-01\n2,Ann,1980-01-01\n");
        let mode = crate::link::dedupe_mode(&r, 0).unwrap();
        for bad in ["-1", "-0.5"] {
            let c = Config::from_json(&format!("{{\"blocking_budget\": {bad}}}")).unwrap();
            let e = c.blocking_for(&r, &mode).unwrap_err();
            assert!(
                e.is_config() && e.message().contains("blocking_budget"),
                "{e}"
            );
            assert!(c.train_options_for(&r, &mode).unwrap_err().is_config());
        }
        let c = Config {
            blocking_budget: Some(f64::NAN),
            ..Config::default()
        };
        assert!(c.blocking_for(&r, &mode).is_err());
        let ok = Config::from_json("{\"blocking_budget\": 0}").unwrap();
        assert!(ok.blocking_for(&r, &mode).is_ok());
    }

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
