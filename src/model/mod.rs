//! The Fellegi-Sunter model: parameters, training, scoring and explanation.
//!
//! For each comparison level, m is the probability of that level among true matches and u
//! among non-matches; λ is the probability that two records drawn at random match. A pair's
//! match weight is the log2 Bayes factor plus the prior:
//!
//! ```text
//! weight = log2(λ / (1 − λ)) + Σ log2(m[level] / u[level])   (null levels add exactly 0)
//! probability = 2^weight / (1 + 2^weight)
//! ```
//!
//! Training ([`Model::train`]): u from random record pairs (seeded; exhaustive when the data
//! is small); m and λ by expectation-maximisation on counts of distinct comparison vectors,
//! once per training blocking rule with the fields of that rule left out (a pair blocked on
//! date of birth always agrees on it, which says nothing about m), as Splink does; λ from
//! each session's share of matches, scaled by how many pairs and how many true matches the
//! session's rule keeps.
//!
//! Term-frequency adjustment: on the exact level of names and postcodes, u is replaced by
//! the value's own frequency, so agreeing on "Smith" counts for less than agreeing on
//! "Okonkwo".
//!
//! # Worked example
//!
//! A model with λ = 1/1,000,000 and two comparisons; a pair agrees exactly on surname
//! (m = 0.9, u = 0.01) and disagrees on date of birth (m = 0.02, u = 0.98):
//!
//! ```text
//! prior     log2(0.000001 / 0.999999)  = −19.93
//! surname   log2(0.9 / 0.01)           =  +6.49
//! dob       log2(0.02 / 0.98)          =  −5.61
//! weight                               = −19.05, probability 1.8e−6
//! ```
//!
//! (checked by the test `worked_example_from_the_docs`).

mod em;
mod score;
pub(crate) mod train;

pub(crate) use score::Weights;
pub use score::{Contribution, Explanation, Scorer, Veto};
pub use train::TrainOptions;

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::block::BlockingRule;
use crate::compare::Comparison;
use crate::error::ErrorKind;
use crate::error::config_err;

/// A match weight: the log2 Bayes factor of a pair plus the prior, never NaN.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize, Deserialize)]
pub struct MatchWeight(f64);

impl MatchWeight {
    /// A weight from bits; NaN becomes −∞'s stand-in, −1000.
    pub fn new(bits: f64) -> MatchWeight {
        MatchWeight(if bits.is_nan() {
            -1000.0
        } else {
            bits.clamp(-1000.0, 1000.0)
        })
    }

    /// The weight in bits (log2), in −1000..=1000.
    pub fn bits(self) -> f64 {
        self.0
    }

    /// The weight of a probability: log2(p / (1 − p)).
    pub fn of_probability(p: f64) -> MatchWeight {
        MatchWeight::new((p / (1.0 - p)).log2())
    }

    /// The probability this weight means: 2^w / (1 + 2^w), in 0..=1.
    pub fn probability(self) -> Probability {
        Probability::new(1.0 / (1.0 + (-self.0).exp2()))
    }
}

/// A match probability in 0..=1, never NaN.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize, Deserialize)]
pub struct Probability(f64);

impl Probability {
    /// A probability, clamped into 0..=1; NaN becomes 0.
    pub fn new(p: f64) -> Probability {
        Probability(if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) })
    }

    /// The value.
    pub fn get(self) -> f64 {
        self.0
    }
}

/// Thresholds that turn scores into decisions.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// A pair at or above this probability is a match (unless vetoed or ambiguous).
    pub match_probability: f64,
    /// A pair at or above this probability but below the match threshold is for review; below
    /// it, a non-match (not written).
    pub review_probability: f64,
    /// A record whose two best candidates above the match threshold are within this many bits
    /// of each other is ambiguous (unless they carry one valid NHS number).
    pub ambiguity_margin: f64,
}

impl Default for Thresholds {
    /// Match at 0.99, review from 0.5, ambiguity margin 5 bits (a factor of 32).
    fn default() -> Thresholds {
        Thresholds {
            match_probability: 0.99,
            review_probability: 0.5,
            ambiguity_margin: 5.0,
        }
    }
}

/// One level's parameters, as written in the model file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelParams {
    /// The level's name.
    pub name: String,
    /// P(level | match).
    pub m: f64,
    /// P(level | non-match).
    pub u: f64,
    /// log2(m / u), for people reading the file; recomputed on load.
    #[serde(default)]
    pub weight: f64,
}

/// One comparison's parameters, as written in the model file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComparisonParams {
    /// The comparison.
    #[serde(flatten)]
    pub comparison: Comparison,
    /// Whether the exact level is term-frequency adjusted.
    pub term_frequency: bool,
    /// The levels after null, in order.
    pub levels: Vec<LevelParams>,
}

/// One EM session's summary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionSummary {
    /// The training blocking rule.
    pub rule: String,
    /// Comparisons left out (the rule's fields).
    pub left_out: Vec<String>,
    /// Pairs the rule produced.
    pub pairs: u64,
    /// Distinct comparison vectors among them.
    pub distinct_vectors: u64,
    /// EM iterations.
    pub iterations: u32,
    /// Whether EM converged.
    pub converged: bool,
    /// Final log-likelihood.
    pub log_likelihood: f64,
    /// Share of matches among the session's pairs.
    pub lambda_in_session: f64,
    /// The λ this session implies for all pairs.
    pub lambda: f64,
}

/// How a model was trained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// Random pairs used for u.
    pub u_pairs: u64,
    /// Whether u used every pair (small data).
    pub u_exhaustive: bool,
    /// The seed.
    pub seed: u64,
    /// All pairs in the data (left × right, or n(n−1)/2).
    pub total_pairs: f64,
    /// The EM sessions.
    pub sessions: Vec<SessionSummary>,
    /// Where the term frequencies come from.
    pub term_frequencies: String,
    /// Labelled true pairs m was estimated from (0: EM).
    #[serde(default)]
    pub labelled_pairs: u64,
    /// Per comparison, the share of random pairs with both values present: with m, what
    /// [`Model::blocking_recall`] reads (empty in files from before it was kept).
    #[serde(default)]
    pub present: Vec<f64>,
}

/// The model file: versioned, human-readable JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    format: String,
    version: u32,
    carematch: String,
    lambda: f64,
    prior_weight: f64,
    comparisons: Vec<ComparisonParams>,
    blocking: Vec<BlockingRule>,
    thresholds: Thresholds,
    training: Option<TrainingSummary>,
}

const FORMAT: &str = "carematch-model";
const FORMAT_VERSION: u32 = 1;

/// A trained (or hand-set) Fellegi-Sunter model.
#[derive(Clone, PartialEq)]
pub struct Model {
    comparisons: Vec<Comparison>,
    /// Per comparison per level; index 0 (null) unused.
    m: Vec<Vec<f64>>,
    u: Vec<Vec<f64>>,
    tf: Vec<bool>,
    lambda: f64,
    blocking: Vec<BlockingRule>,
    thresholds: Thresholds,
    training: Option<TrainingSummary>,
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("comparisons", &self.comparisons.len())
            .field("lambda", &self.lambda)
            .finish_non_exhaustive()
    }
}

/// One comparison's level probabilities, for [`ModelBuilder::comparison`]: one value per level
/// after null, in the order of [`Comparison::level_names`].
#[derive(Clone, Debug, PartialEq)]
pub struct LevelProbabilities {
    /// P(level | match).
    pub m: Vec<f64>,
    /// P(level | non-match).
    pub u: Vec<f64>,
}

/// Builds a [`Model`] from its parameters; made by [`Model::builder`].
#[derive(Clone, Debug, Default)]
pub struct ModelBuilder {
    comparisons: Vec<Comparison>,
    m: Vec<Vec<f64>>,
    u: Vec<Vec<f64>>,
    lambda: Option<f64>,
    thresholds: Option<Thresholds>,
    blocking: Option<Vec<BlockingRule>>,
}

impl ModelBuilder {
    /// Adds a comparison with its level probabilities.
    #[must_use]
    pub fn comparison(mut self, comparison: Comparison, levels: LevelProbabilities) -> Self {
        self.comparisons.push(comparison);
        self.m.push(levels.m);
        self.u.push(levels.u);
        self
    }

    /// Sets the prior: the probability that two records drawn at random are the same person.
    #[must_use]
    pub fn lambda(mut self, lambda: f64) -> Self {
        self.lambda = Some(lambda);
        self
    }

    /// Sets the decision thresholds (default [`Thresholds::default`]).
    #[must_use]
    pub fn thresholds(mut self, thresholds: Thresholds) -> Self {
        self.thresholds = Some(thresholds);
        self
    }

    /// Sets the blocking rules (default [`BlockingRule::defaults`]).
    #[must_use]
    pub fn blocking(mut self, rules: Vec<BlockingRule>) -> Self {
        self.blocking = Some(rules);
        self
    }

    /// The model.
    ///
    /// # Errors
    ///
    /// A config error when the prior is not set or not in (0, 1), a comparison's probabilities
    /// do not have one value in (0, 1] per level after null, or the thresholds are not
    /// probabilities with review <= match.
    pub fn build(self) -> Result<Model, Error> {
        let Some(lambda) = self.lambda else {
            return Err(config_err("model: lambda (the prior) is not set".into()));
        };
        let pad = |v: Vec<Vec<f64>>| -> Vec<Vec<f64>> {
            v.into_iter()
                .map(|l| std::iter::once(0.0).chain(l).collect())
                .collect()
        };
        let tf = self
            .comparisons
            .iter()
            .map(|c| c.exact_level().is_some())
            .collect();
        let model = Model {
            m: pad(self.m),
            u: pad(self.u),
            tf,
            comparisons: self.comparisons,
            lambda,
            blocking: self.blocking.unwrap_or_else(BlockingRule::defaults),
            thresholds: self.thresholds.unwrap_or_default(),
            training: None,
        };
        model.validate()?;
        Ok(model)
    }
}

impl Model {
    /// A builder: add each comparison with its level probabilities, set the prior, then
    /// [`ModelBuilder::build`]. Most programs use [`Model::train`] or [`Model::load`] instead.
    ///
    /// ```
    /// use carematch::Model;
    /// use carematch::compare::Comparison;
    /// use carematch::model::LevelProbabilities;
    ///
    /// let model = Model::builder()
    ///     .comparison(
    ///         Comparison::for_field("sex")?,
    ///         LevelProbabilities { m: vec![0.98, 0.02], u: vec![0.5, 0.5] },
    ///     )
    ///     .lambda(1e-4)
    ///     .build()?;
    /// assert!(model.weight(0, 1) > 0.0);
    /// # Ok::<(), carematch::Error>(())
    /// ```
    pub fn builder() -> ModelBuilder {
        ModelBuilder::default()
    }

    fn validate(&self) -> Result<(), Error> {
        if !(self.lambda > 0.0 && self.lambda < 1.0) {
            return Err(config_err("model: lambda must be between 0 and 1".into()));
        }
        let t = &self.thresholds;
        let probs = [t.match_probability, t.review_probability];
        if !probs.iter().all(|p| (0.0..=1.0).contains(p))
            || t.review_probability > t.match_probability
            || t.ambiguity_margin.is_nan()
            || t.ambiguity_margin < 0.0
        {
            return Err(config_err(
                "model: thresholds must be probabilities with review <= match, margin >= 0".into(),
            ));
        }
        if self.comparisons.is_empty() || self.comparisons.len() > crate::compare::MAX_COMPARISONS {
            return Err(config_err("model: needs 1 to 16 comparisons".into()));
        }
        for (i, c) in self.comparisons.iter().enumerate() {
            c.validate()?;
            let n = c.level_names().len();
            for (what, p) in [("m", &self.m[i]), ("u", &self.u[i])] {
                if p.len() != n || !p[1..].iter().all(|x| *x > 0.0 && *x <= 1.0) {
                    return Err(config_err(format!(
                        "model: comparison '{}' needs {} {what} values in (0, 1]",
                        c.field,
                        n - 1
                    )));
                }
            }
        }
        Ok(())
    }

    /// P(comparison vector `v` | match) under the model: per comparison, m of its level times
    /// the share of pairs where the comparison is not null (from training; 1 when not
    /// known), or that share's complement for a null level (1 when not known).
    pub fn match_share(&self, v: u64) -> f64 {
        let present = self.training.as_ref().map(|t| &t.present);
        (0..self.comparisons.len())
            .map(|c| {
                let p = present.and_then(|p| p.get(c)).copied();
                match usize::from(crate::compare::level_of(v, c)) {
                    0 => p.map_or(1.0, |p| 1.0 - p),
                    l => p.unwrap_or(1.0) * self.m[c].get(l).copied().unwrap_or(0.0),
                }
            })
            .product()
    }

    /// The comparisons.
    pub fn comparisons(&self) -> &[Comparison] {
        &self.comparisons
    }

    /// λ, the probability two random records match.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// The prior weight log2(λ / (1 − λ)).
    pub fn prior_weight(&self) -> f64 {
        (self.lambda / (1.0 - self.lambda)).log2()
    }

    /// m of comparison `c` at `level` (levels count from 1).
    pub fn m(&self, c: usize, level: usize) -> f64 {
        self.m
            .get(c)
            .and_then(|l| l.get(level))
            .copied()
            .unwrap_or(0.0)
    }

    /// u of comparison `c` at `level`.
    pub fn u(&self, c: usize, level: usize) -> f64 {
        self.u
            .get(c)
            .and_then(|l| l.get(level))
            .copied()
            .unwrap_or(0.0)
    }

    /// log2(m / u) of comparison `c` at `level`; exactly 0 for the null level.
    pub fn weight(&self, c: usize, level: usize) -> f64 {
        if level == 0 {
            return 0.0;
        }
        (self.m(c, level).max(1e-12) / self.u(c, level).max(1e-12)).log2()
    }

    /// True when comparison `c`'s exact level is term-frequency adjusted.
    pub(crate) fn term_frequency(&self, c: usize) -> bool {
        self.tf.get(c).copied().unwrap_or(false)
    }

    /// The prediction blocking rules.
    pub fn blocking(&self) -> &[BlockingRule] {
        &self.blocking
    }

    /// P(a true pair is compared by the model's blocking rules), from m and the share of
    /// pairs with both values present, comparisons taken as independent (as the model takes
    /// them): the sum over every combination of the levels of the comparisons the rules
    /// read of its probability, when some rule's keys all agree at it. `None` for a model
    /// without training figures or whose rules read more than 12 comparisons.
    pub fn blocking_recall(&self) -> Option<f64> {
        let present = &self.training.as_ref()?.present;
        if present.len() != self.comparisons.len() || self.blocking.is_empty() {
            return None;
        }
        train::blocking_recall(&self.comparisons, &self.m, present, &self.blocking)
    }

    /// Sets the prediction blocking rules.
    pub fn set_blocking(&mut self, rules: Vec<BlockingRule>) {
        self.blocking = rules;
    }

    /// What went wrong in training, one sentence each (empty for a model that was not
    /// trained, or trained well): EM sessions that found no pairs or did not converge,
    /// comparisons whose m no session and no labelled pair estimated (they keep default
    /// values), and a model that is degenerate (no comparison estimated at all). A run
    /// prints them, so that a model that cannot be trusted never passes silently.
    pub fn training_warnings(&self) -> Vec<String> {
        let Some(t) = &self.training else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for s in &t.sessions {
            if s.pairs == 0 {
                out.push(format!(
                    "training session '{}' found no pairs: the input has no values it can \
                     block on",
                    s.rule
                ));
            } else if !s.converged {
                out.push(format!(
                    "training session '{}' did not converge in {} iterations: its m and \
                     prior estimates may be off",
                    s.rule, s.iterations
                ));
            }
        }
        if t.labelled_pairs > 0 {
            return out;
        }
        let estimated = |field: &str| {
            t.sessions.iter().any(|s| {
                s.pairs > 0 && s.lambda_in_session > 0.0 && !s.left_out.iter().any(|f| f == field)
            })
        };
        let defaulted: Vec<&str> = self
            .comparisons
            .iter()
            .map(|c| c.field.as_str())
            .filter(|f| !estimated(f))
            .collect();
        if defaulted.len() == self.comparisons.len() {
            out.push(
                "the model is degenerate: no training session estimated any comparison's m, \
                 so every weight comes from default values; give labelled pairs (train \
                 --labels), training rules the data can meet (config training_rules), or a \
                 model trained on other files (--model)"
                    .to_string(),
            );
        } else if !defaulted.is_empty() {
            out.push(format!(
                "no training session estimated m for {}: they keep default values (add a \
                 training rule that does not use them, or labelled pairs)",
                defaulted.join(", ")
            ));
        }
        out
    }

    /// True when the model's comparisons read pseudonymised columns (it was trained on
    /// encoded files).
    pub fn is_encoded(&self) -> bool {
        self.comparisons
            .iter()
            .any(|c| !crate::compare::encoded_columns(c.kind).is_empty())
    }

    /// Checks that the model can score `records`: a model trained on clear data cannot score
    /// pseudonymised records (every comparison would find its fields missing), nor the
    /// other way round. Every path that puts a model to records (linking, deduplicating,
    /// scoring, explaining, indexing) calls it.
    ///
    /// # Errors
    ///
    /// A usage error saying which kind the model and the records are.
    pub fn check_fits(&self, records: &crate::record::Records) -> Result<(), Error> {
        let encoded = records.is_encoded();
        if encoded == self.is_encoded() {
            return Ok(());
        }
        let (data, model) = if encoded {
            ("pseudonymised", "clear")
        } else {
            ("clear", "pseudonymised")
        };
        Err(Error::new(
            ErrorKind::Usage,
            format!(
                "the input is {data} data but the model was trained on {model} data: \
                 use a model trained on {data} files (or none, to train one on this input)"
            ),
        ))
    }

    /// The decision thresholds.
    pub fn thresholds(&self) -> Thresholds {
        self.thresholds
    }

    /// Sets the decision thresholds.
    ///
    /// # Errors
    ///
    /// A config error for out-of-range thresholds.
    pub fn set_thresholds(&mut self, t: Thresholds) -> Result<(), Error> {
        let old = self.thresholds;
        self.thresholds = t;
        self.validate().inspect_err(|_| self.thresholds = old)
    }

    /// How the model was trained, if it was.
    pub fn training(&self) -> Option<&TrainingSummary> {
        self.training.as_ref()
    }

    /// The model as JSON text.
    pub fn to_json(&self) -> String {
        let comparisons = self
            .comparisons
            .iter()
            .enumerate()
            .map(|(i, c)| ComparisonParams {
                comparison: c.clone(),
                term_frequency: self.tf[i],
                levels: c
                    .level_names()
                    .into_iter()
                    .enumerate()
                    .skip(1)
                    .map(|(l, name)| LevelParams {
                        name,
                        m: self.m[i][l],
                        u: self.u[i][l],
                        weight: self.weight(i, l),
                    })
                    .collect(),
            })
            .collect();
        let file = ModelFile {
            format: FORMAT.into(),
            version: FORMAT_VERSION,
            carematch: crate::VERSION.into(),
            lambda: self.lambda,
            prior_weight: self.prior_weight(),
            comparisons,
            blocking: self.blocking.clone(),
            thresholds: self.thresholds,
            training: self.training.clone(),
        };
        serde_json::to_string_pretty(&file).unwrap_or_default() + "\n"
    }

    /// Reads a model from JSON text.
    ///
    /// # Errors
    ///
    /// A config error for malformed JSON, another format or version, or invalid parameters.
    pub fn from_json(text: &str) -> Result<Model, Error> {
        let f: ModelFile = serde_json::from_str(text)
            .map_err(|e| Error::new(ErrorKind::Config, format!("invalid model: {e}")))?;
        if f.format != FORMAT || f.version != FORMAT_VERSION {
            return Err(config_err(format!(
                "not a {FORMAT} version {FORMAT_VERSION} file"
            )));
        }
        let mut m = Vec::new();
        let mut u = Vec::new();
        let mut tf = Vec::new();
        let mut comparisons = Vec::new();
        for c in f.comparisons {
            let names = c.comparison.level_names();
            let got: Vec<&str> = c.levels.iter().map(|l| l.name.as_str()).collect();
            if got != names[1..].iter().map(String::as_str).collect::<Vec<_>>() {
                return Err(config_err(format!(
                    "model: comparison '{}' levels do not match its kind and thresholds",
                    c.comparison.field
                )));
            }
            m.push(
                std::iter::once(0.0)
                    .chain(c.levels.iter().map(|l| l.m))
                    .collect(),
            );
            u.push(
                std::iter::once(0.0)
                    .chain(c.levels.iter().map(|l| l.u))
                    .collect(),
            );
            tf.push(c.term_frequency);
            comparisons.push(c.comparison);
        }
        let model = Model {
            comparisons,
            m,
            u,
            tf,
            lambda: f.lambda,
            blocking: f.blocking,
            thresholds: f.thresholds,
            training: f.training,
        };
        model.validate()?;
        Ok(model)
    }

    /// Writes the model to `path`.
    ///
    /// # Errors
    ///
    /// An I/O error naming `path`.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        self.stage(path)?.commit()
    }

    /// [`Model::save`] without the commit: the file to commit with a run's other outputs.
    ///
    /// # Errors
    ///
    /// An I/O error naming `path`.
    pub fn stage(&self, path: &Path) -> Result<crate::files::NewFile, Error> {
        crate::files::NewFile::with_contents(path, self.to_json().as_bytes())
    }

    /// Reads a model from `path`.
    ///
    /// # Errors
    ///
    /// An I/O error naming `path`, or a config error naming it for an invalid model.
    pub fn load(path: &Path) -> Result<Model, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "read", &e))?;
        Model::from_json(&text)
            .map_err(|e| Error::new(e.kind(), format!("{}: {}", path.display(), e.message())))
    }
}

/// A model with equal m and u on every level of `comparisons`: every weight is 0 and every
/// pair scores the prior, so only rules and vetoes decide.
#[cfg(test)]
pub(crate) fn flat_model(comparisons: &[Comparison], lambda: f64) -> Model {
    let flat = |c: &Comparison| {
        let k = c.level_names().len() - 1;
        vec![1.0 / k as f64; k]
    };
    comparisons
        .iter()
        .fold(Model::builder(), |b, c| {
            let levels = LevelProbabilities {
                m: flat(c),
                u: flat(c),
            };
            b.comparison(c.clone(), levels)
        })
        .lambda(lambda)
        .build()
        .expect("a flat model is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(m: &[f64], u: &[f64]) -> LevelProbabilities {
        LevelProbabilities {
            m: m.to_vec(),
            u: u.to_vec(),
        }
    }

    #[test]
    fn worked_example_from_the_docs() {
        let mut s = Comparison::for_field("sex").unwrap();
        s.field = "surname_exact".into();
        let d = Comparison::for_field("sex").unwrap();
        let model = Model::builder()
            .comparison(s, levels(&[0.9, 0.1], &[0.01, 0.99]))
            .comparison(d, levels(&[0.98, 0.02], &[0.02, 0.98]))
            .lambda(1e-6)
            .build()
            .unwrap();
        let prior = model.prior_weight();
        assert!((prior - (-19.93)).abs() < 0.005, "{prior}");
        assert!((model.weight(0, 1) - 6.49).abs() < 0.005);
        assert!((model.weight(1, 2) - (-5.61)).abs() < 0.005);
        let w = MatchWeight::new(prior + model.weight(0, 1) + model.weight(1, 2));
        assert!((w.bits() - (-19.05)).abs() < 0.01, "{}", w.bits());
        assert!((w.probability().get() - 1.8e-6).abs() < 0.1e-6);
        assert_eq!(model.weight(0, 0), 0.0, "null levels add exactly 0");
    }

    #[test]
    fn scores_are_never_nan() {
        assert_eq!(MatchWeight::new(f64::NAN).bits(), -1000.0);
        assert_eq!(Probability::new(f64::NAN).get(), 0.0);
        assert_eq!(MatchWeight::new(f64::INFINITY).probability().get(), 1.0);
        assert!(MatchWeight::new(f64::NEG_INFINITY).probability().get() < 1e-300);
    }

    #[test]
    fn model_json_round_trips_exactly() {
        let model = Comparison::defaults()
            .into_iter()
            .fold(Model::builder(), |b, c| {
                let k = c.level_names().len() - 1;
                let levels = LevelProbabilities {
                    m: train::default_m(&c)[1..].to_vec(),
                    u: vec![1.0 / k as f64 + 1e-17; k],
                };
                b.comparison(c, levels)
            })
            .lambda(3.3e-7)
            .build()
            .unwrap();
        let back = Model::from_json(&model.to_json()).unwrap();
        assert_eq!(back, model);
        assert_eq!(back.to_json(), model.to_json());
    }

    #[test]
    fn foreign_or_broken_model_files_are_refused() {
        assert!(Model::from_json("{}").unwrap_err().is_config());
        let sex = || Comparison::for_field("sex").unwrap();
        let model = Model::builder()
            .comparison(sex(), levels(&[0.9, 0.1], &[0.5, 0.5]))
            .lambda(0.01)
            .build()
            .unwrap();
        let j = model.to_json().replace("carematch-model", "other");
        assert!(Model::from_json(&j).is_err());
        let j = model.to_json().replace("\"agree\"", "\"agreed\"");
        assert!(Model::from_json(&j).is_err());
        let short = Model::builder().comparison(sex(), levels(&[0.9], &[0.5, 0.5]));
        assert!(short.clone().lambda(0.01).build().unwrap_err().is_config());
        // The prior must be set, and be a probability strictly between 0 and 1.
        assert!(
            Model::builder()
                .comparison(sex(), levels(&[0.9, 0.1], &[0.5, 0.5]))
                .build()
                .unwrap_err()
                .is_config()
        );
        let whole = Model::builder().comparison(sex(), levels(&[0.9, 0.1], &[0.5, 0.5]));
        assert!(whole.clone().lambda(1.0).build().is_err());
        assert!(whole.lambda(0.5).build().is_ok());
    }
}
