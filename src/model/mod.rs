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

use std::fmt;
use std::path::Path;

use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::block::{Blocker, BlockingRule, Field, Mode, Pair, Transform, config_err};
use crate::compare::{Comparer, Comparison, Kind, level_of};
use crate::error::ErrorKind;
use crate::record::Records;
use crate::schema::Role;
use crate::synth::rng::Rng;

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

/// Options for [`Model::train`].
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// Random pairs for u. Default 1,000,000 (all pairs when there are fewer).
    pub u_pairs: u64,
    /// Seed for the random pairs. Default 1.
    pub seed: u64,
    /// Training blocking rules, one EM session each. Default: `nhs_number`;
    /// `dob & surname:soundex`; `given_name & surname & postcode:area`. Each is cheap (few
    /// pairs per record) and together they leave every default comparison out of at most
    /// two sessions.
    pub sessions: Vec<BlockingRule>,
    /// EM iterations at most. Default 200.
    pub max_iterations: u32,
    /// EM stops when no parameter moves by more than this. Default 1e-7.
    pub tolerance: f64,
    /// Known true pairs (rows of the store). When not empty, m comes from them directly
    /// (supervised: each level's share among them) and λ from their number, and no EM runs.
    /// Default: none.
    pub labelled: Vec<Pair>,
}

impl Default for TrainOptions {
    fn default() -> TrainOptions {
        TrainOptions {
            u_pairs: 1_000_000,
            seed: 1,
            sessions: [
                "nhs_number",
                "dob & surname:soundex",
                "given_name & surname & postcode:area",
            ]
            .iter()
            .map(|s| s.parse().expect("default training rules parse"))
            .collect(),
            max_iterations: 200,
            tolerance: 1e-7,
            labelled: Vec::new(),
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

/// Default m for a comparison's levels before training: strong agreement likely, else rare.
fn default_m(c: &Comparison) -> Vec<f64> {
    let k = c.level_names().len() - 1;
    let mut v = vec![0.0; k + 1];
    if k == 1 {
        v[1] = 1.0;
        return v;
    }
    v[1] = 0.85;
    v[k] = 0.02;
    let rest = (1.0 - 0.87) / (k.saturating_sub(2)).max(1) as f64;
    for x in v.iter_mut().take(k).skip(2) {
        *x = rest;
    }
    if k == 2 {
        v[1] = 0.98;
        v[2] = 0.02;
    }
    v
}

impl Model {
    /// A model with the given comparisons and parameters: `m[c]` and `u[c]` hold one
    /// probability per level after null.
    ///
    /// # Errors
    ///
    /// A config error when sizes disagree or a probability is not in (0, 1].
    pub fn new(
        comparisons: Vec<Comparison>,
        m: Vec<Vec<f64>>,
        u: Vec<Vec<f64>>,
        lambda: f64,
    ) -> Result<Model, Error> {
        let pad = |v: Vec<Vec<f64>>| -> Vec<Vec<f64>> {
            v.into_iter()
                .map(|l| std::iter::once(0.0).chain(l).collect())
                .collect()
        };
        let tf = comparisons
            .iter()
            .map(|c| c.exact_level().is_some())
            .collect();
        let model = Model {
            m: pad(m),
            u: pad(u),
            tf,
            comparisons,
            lambda,
            blocking: BlockingRule::defaults(),
            thresholds: Thresholds::default(),
            training: None,
        };
        model.validate()?;
        Ok(model)
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

    /// The prediction blocking rules.
    pub fn blocking(&self) -> &[BlockingRule] {
        &self.blocking
    }

    /// Sets the prediction blocking rules.
    pub fn set_blocking(&mut self, rules: Vec<BlockingRule>) {
        self.blocking = rules;
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

    /// Trains a model with `comparisons` on the pairs of `mode` in `records`.
    ///
    /// # Errors
    ///
    /// A config error when a comparison or training rule names a column the input lacks.
    pub fn train(
        records: &Records,
        mode: &Mode,
        comparisons: &[Comparison],
        options: &TrainOptions,
    ) -> Result<Model, Error> {
        let comparer = Comparer::new(records, comparisons)?;
        let n_comp = comparisons.len();
        // u from random pairs.
        let (pairs, exhaustive, total_pairs) =
            random_pairs(records, mode, options.u_pairs, options.seed);
        let counts: Vec<Vec<u64>> = pairs
            .par_chunks(1 << 14)
            .map(|chunk| {
                let mut c: Vec<Vec<u64>> = comparisons
                    .iter()
                    .map(|x| vec![0u64; x.level_names().len()])
                    .collect();
                for &p in chunk {
                    let v = comparer.vector(p);
                    for (i, ci) in c.iter_mut().enumerate() {
                        ci[usize::from(level_of(v, i))] += 1;
                    }
                }
                c
            })
            .reduce(
                || {
                    comparisons
                        .iter()
                        .map(|x| vec![0u64; x.level_names().len()])
                        .collect()
                },
                |mut a, b| {
                    for (x, y) in a.iter_mut().zip(b) {
                        for (p, q) in x.iter_mut().zip(y) {
                            *p += q;
                        }
                    }
                    a
                },
            );
        let mut u = Vec::with_capacity(n_comp);
        let mut present = Vec::with_capacity(n_comp);
        for c in &counts {
            let non_null: u64 = c[1..].iter().sum();
            let k = (c.len() - 1) as f64;
            // Add-half smoothing: a level never seen among random pairs (two random people
            // sharing an NHS number) gets u of about half a pair, not zero.
            let mut l = vec![0.0];
            l.extend(
                c[1..]
                    .iter()
                    .map(|&x| (x as f64 + 0.5) / (non_null as f64 + 0.5 * k)),
            );
            u.push(l);
            present.push(if pairs.is_empty() {
                1.0
            } else {
                non_null as f64 / pairs.len() as f64
            });
        }
        drop(pairs);

        // m and λ by EM, one session per training rule.
        let mut m_sum: Vec<Vec<f64>> = comparisons
            .iter()
            .map(|c| vec![0.0; c.level_names().len()])
            .collect();
        let mut m_weight = vec![0.0; n_comp];
        let mut sessions = Vec::new();
        let mut session_results = Vec::new();
        let rules: &[BlockingRule] = if options.labelled.is_empty() {
            &options.sessions
        } else {
            &[]
        };
        for rule in rules {
            let masked = mask_for(comparisons, rule);
            if masked.count_ones() as usize == n_comp {
                continue;
            }
            let blocker = Blocker::new(records, std::slice::from_ref(rule), mode)?;
            let keep = !mask_bits(masked);
            let mut counter: FxHashMap<u64, u64> = FxHashMap::default();
            let mut n_pairs = 0u64;
            for chunk in blocker.pairs(1 << 20) {
                n_pairs += chunk.len() as u64;
                let part = chunk
                    .par_iter()
                    .fold(FxHashMap::default, |mut h: FxHashMap<u64, u64>, &p| {
                        *h.entry(comparer.vector(p) & keep).or_insert(0) += 1;
                        h
                    })
                    .reduce(FxHashMap::default, |mut a, b| {
                        for (k, v) in b {
                            *a.entry(k).or_insert(0) += v;
                        }
                        a
                    });
                for (k, v) in part {
                    *counter.entry(k).or_insert(0) += v;
                }
            }
            let mut vectors: Vec<(u64, u64)> = counter.into_iter().collect();
            vectors.sort_unstable();
            let start: Vec<Vec<f64>> = comparisons.iter().map(default_m).collect();
            let r = em::em(
                &vectors,
                &u,
                start,
                0.5,
                masked,
                options.max_iterations,
                options.tolerance,
            );
            for c in 0..n_comp {
                if masked & (1 << c) == 0 && r.expected_matches > 0.0 {
                    for l in 1..m_sum[c].len() {
                        m_sum[c][l] += r.m[c][l] * r.expected_matches;
                    }
                    m_weight[c] += r.expected_matches;
                }
            }
            sessions.push(SessionSummary {
                rule: rule.to_string(),
                left_out: (0..n_comp)
                    .filter(|c| masked & (1 << c) != 0)
                    .map(|c| comparisons[c].field.clone())
                    .collect(),
                pairs: n_pairs,
                distinct_vectors: vectors.len() as u64,
                iterations: r.iterations,
                converged: r.converged,
                log_likelihood: r.log_likelihood.last().copied().unwrap_or(0.0),
                lambda_in_session: r.lambda,
                lambda: 0.0,
            });
            session_results.push((rule.clone(), r.lambda, n_pairs, r.expected_matches));
        }
        let m: Vec<Vec<f64>> = (0..n_comp)
            .map(|c| {
                if m_weight[c] > 0.0 {
                    let mut v: Vec<f64> = m_sum[c].iter().map(|x| x / m_weight[c]).collect();
                    v[0] = 0.0;
                    // A level EM found empty still gets a tiny m, so its weight is finite.
                    for x in v.iter_mut().skip(1) {
                        *x = x.max(1e-6);
                    }
                    v
                } else {
                    default_m(&comparisons[c])
                }
            })
            .collect();
        let m: Vec<Vec<f64>> = m.iter().zip(&u).map(|(m, u)| monotone(m, u)).collect();
        // λ for all pairs from each session: λ_s × pairs_s / (total × P(rule keeps | match)).
        let mut lambda_num = 0.0;
        let mut lambda_den = 0.0;
        for ((rule, lambda_s, n_pairs, expected), summary) in
            session_results.iter().zip(sessions.iter_mut())
        {
            let recall = rule_recall(comparisons, &m, &present, rule);
            if recall > 0.0 && total_pairs > 0.0 {
                let l = (lambda_s * *n_pairs as f64 / (total_pairs * recall)).clamp(1e-15, 0.5);
                summary.lambda = l;
                lambda_num += l.ln() * expected;
                lambda_den += expected;
            }
        }
        let mut lambda = if lambda_den > 0.0 {
            (lambda_num / lambda_den).exp()
        } else {
            1e-6
        };
        let mut m = m;
        if !options.labelled.is_empty() {
            // Supervised: each level's share among the labelled pairs (add-half smoothing),
            // and λ from their number among all pairs.
            let mut counts: Vec<Vec<f64>> = comparisons
                .iter()
                .map(|c| vec![0.0; c.level_names().len()])
                .collect();
            for &p in &options.labelled {
                let v = comparer.vector(p);
                for (c, row) in counts.iter_mut().enumerate() {
                    row[usize::from(level_of(v, c))] += 1.0;
                }
            }
            m = counts
                .iter()
                .zip(&u)
                .map(|(row, u)| {
                    let k = (row.len() - 1) as f64;
                    let non_null: f64 = row[1..].iter().sum();
                    let mut v = vec![0.0];
                    v.extend(row[1..].iter().map(|x| (x + 0.5) / (non_null + 0.5 * k)));
                    monotone(&v, u)
                })
                .collect();
            lambda = (options.labelled.len() as f64 / total_pairs.max(1.0)).clamp(1e-15, 0.5);
        }
        let tf = comparisons
            .iter()
            .map(|c| c.exact_level().is_some())
            .collect();
        let model = Model {
            comparisons: comparisons.to_vec(),
            m,
            u,
            tf,
            lambda,
            blocking: BlockingRule::defaults(),
            thresholds: Thresholds::default(),
            training: Some(TrainingSummary {
                u_pairs: counts.first().map_or(0, |c| c.iter().sum()),
                u_exhaustive: exhaustive,
                seed: options.seed,
                total_pairs,
                sessions,
                term_frequencies: "computed from the records being scored, at scoring time".into(),
                labelled_pairs: options.labelled.len() as u64,
            }),
        };
        model.validate()?;
        Ok(model)
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
        std::fs::write(path, self.to_json()).map_err(|e| Error::io(path, "write", &e))
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

/// True when a key on `field` reads the field that comparison `c` compares.
fn key_reads(field: &Field, c: &Comparison) -> bool {
    match (field, c.kind) {
        (Field::Role(Role::GivenName), Kind::GivenName)
        | (Field::Role(Role::Surname), Kind::Surname)
        | (Field::Role(Role::DateOfBirth), Kind::DateOfBirth)
        | (Field::Role(Role::Postcode), Kind::Location | Kind::Postcode)
        | (Field::Role(Role::Address), Kind::Location | Kind::Address)
        | (Field::Role(Role::NhsNumber), Kind::NhsNumber)
        | (Field::Role(Role::Sex), Kind::Sex) => true,
        (Field::Other(name), Kind::Text) => *name == c.field,
        _ => false,
    }
}

/// Bits of the comparisons whose field a training rule blocks on.
fn mask_for(comparisons: &[Comparison], rule: &BlockingRule) -> u32 {
    comparisons
        .iter()
        .enumerate()
        .filter(|(_, c)| rule.keys().iter().any(|k| key_reads(&k.field, c)))
        .fold(0, |m, (i, _)| m | (1 << i))
}

/// Makes the weights log2(m/u) non-increasing from the first level to the last, keeping the
/// total of m: adjacent levels whose weights are out of order are pooled (pool-adjacent-
/// violators on the ratio m/u, weighted by u). Levels are ordered from the strongest
/// agreement to disagreement, so a better level must never weigh less; EM on sparse levels
/// can break that by noise.
pub(crate) fn monotone(m: &[f64], u: &[f64]) -> Vec<f64> {
    // Blocks of (sum m, sum u, first level, last level), over levels 1..
    let mut blocks: Vec<(f64, f64, usize, usize)> = Vec::new();
    for l in 1..m.len() {
        blocks.push((m[l], u[l], l, l));
        while blocks.len() >= 2 {
            let b = blocks[blocks.len() - 1];
            let a = blocks[blocks.len() - 2];
            // Ratio must not rise: pool when a's ratio is below b's.
            if a.0 * b.1 < b.0 * a.1 {
                blocks.pop();
                let last = blocks.len() - 1;
                blocks[last] = (a.0 + b.0, a.1 + b.1, a.2, b.3);
            } else {
                break;
            }
        }
    }
    let mut out = vec![0.0; m.len()];
    for (sm, su, first, last) in blocks {
        for l in first..=last {
            out[l] = sm * u[l] / su;
        }
    }
    out
}

/// A 4-bit-per-comparison mask of the comparisons in `masked`.
fn mask_bits(masked: u32) -> u64 {
    (0..16)
        .filter(|c| masked & (1 << c) != 0)
        .fold(0u64, |m, c| m | (0xF << (4 * c)))
}

/// The levels of a comparison at which a blocking key on its field would agree.
fn agreeing_levels(c: &Comparison, t: Transform) -> Vec<usize> {
    let n = c.level_names().len();
    match (c.kind, t) {
        (Kind::DateOfBirth, Transform::Exact) => vec![1],
        (Kind::DateOfBirth, Transform::YearMonth) => vec![1, 4],
        (Kind::DateOfBirth, _) => vec![1, 2, 3, 4],
        (Kind::Location, Transform::Exact) => vec![1, 2],
        (Kind::Location, Transform::Sector) => vec![1, 2, 3],
        (Kind::Location, Transform::District) => vec![1, 2, 3, 4],
        (Kind::Location, _) => vec![1, 2, 3, 4, 5],
        (Kind::Postcode, Transform::Exact) => vec![1],
        (Kind::Postcode, Transform::Sector) => vec![1, 2],
        (Kind::Postcode, Transform::District) => vec![1, 2, 3],
        (Kind::Postcode, _) => vec![1, 2, 3, 4],
        (_, Transform::Exact) => vec![1],
        // Phonetic, initial, prefix and nickname keys agree on most non-"else" levels.
        _ => (1..n - 1).collect(),
    }
}

/// P(the rule's keys all agree | match), assuming independence across keys.
fn rule_recall(
    comparisons: &[Comparison],
    m: &[Vec<f64>],
    present: &[f64],
    rule: &BlockingRule,
) -> f64 {
    let mut p = 1.0;
    for k in rule.keys() {
        let found = comparisons
            .iter()
            .enumerate()
            .find(|(_, c)| key_reads(&k.field, c));
        if let Some((i, c)) = found {
            let agree: f64 = agreeing_levels(c, k.transform)
                .iter()
                .map(|&l| m[i].get(l).copied().unwrap_or(0.0))
                .sum();
            p *= present[i] * agree;
        }
    }
    p
}

/// Random pairs of `mode` for u, or every pair when there are at most `max` of them.
/// Returns the pairs, whether they are all pairs, and the number of all pairs.
///
/// Pairs are drawn by rank (the order of record ids), not by row, so that the same records
/// in another order give the same pairs and so bit-identical parameters.
fn random_pairs(records: &Records, mode: &Mode, max: u64, seed: u64) -> (Vec<Pair>, bool, f64) {
    let mut row_of_rank = vec![0u32; records.len()];
    for r in 0..records.len() as u32 {
        row_of_rank[records.rank(r) as usize] = r;
    }
    let row = |rank: u32| row_of_rank[rank as usize];
    match mode {
        Mode::Link { left, right } => {
            let (nl, nr) = (
                u64::from(left.end - left.start),
                u64::from(right.end - right.start),
            );
            let total = nl as f64 * nr as f64;
            if nl * nr <= max {
                let v = left
                    .clone()
                    .flat_map(|l| right.clone().map(move |r| Pair { left: l, right: r }))
                    .collect();
                return (v, true, total);
            }
            let mut rng = Rng::new(seed, 0x75, 0);
            let v = (0..max)
                .map(|_| Pair {
                    left: row(left.start + rng.below(nl) as u32),
                    right: row(right.start + rng.below(nr) as u32),
                })
                .collect();
            (v, false, total)
        }
        Mode::Dedupe { rows } => {
            let n = u64::from(rows.end - rows.start);
            let total = n as f64 * n.saturating_sub(1) as f64 / 2.0;
            if n * n.saturating_sub(1) / 2 <= max {
                let v = rows
                    .clone()
                    .flat_map(|a| (a + 1..rows.end).map(move |b| Pair { left: a, right: b }))
                    .collect();
                return (v, true, total);
            }
            let mut rng = Rng::new(seed, 0x75, 1);
            let mut v = Vec::with_capacity(max as usize);
            while (v.len() as u64) < max {
                let a = row(rows.start + rng.below(n) as u32);
                let b = row(rows.start + rng.below(n) as u32);
                if a != b {
                    v.push(Pair {
                        left: a.min(b),
                        right: a.max(b),
                    });
                }
            }
            (v, false, total)
        }
    }
}

/// A model made ready to score pairs of one store: per-value features computed once, then
/// [`Scorer::score`] costs a few integer compares and table lookups per comparison (and a
/// Jaro-Winkler only when two names differ).
pub struct Scorer<'a> {
    comparer: Comparer<'a>,
    /// Per comparison per level: log2(m/u).
    weights: Vec<Vec<f64>>,
    /// Per comparison: (exact level, u of it) when term-frequency adjusted.
    tf: Vec<Option<(u8, f64)>>,
    prior: f64,
    /// The smallest frequency a value can have (one row).
    tf_floor: f64,
    /// (comparison, level) pairs that veto an automatic match.
    vetoes: Vec<(usize, u8)>,
    /// The NHS-number comparison, whose exact level lifts the vetoes.
    nhs: Option<usize>,
    /// The given-name and sex comparisons.
    given: Option<usize>,
    sex: Option<usize>,
}

/// One comparison's part in a pair's weight.
#[derive(Clone, Debug, PartialEq)]
pub struct Contribution {
    /// The comparison's field.
    pub field: String,
    /// The level reached.
    pub level: String,
    /// log2(m/u) of the level (0 for null).
    pub weight: f64,
    /// The term-frequency adjustment added (0 when none).
    pub tf_adjustment: f64,
}

/// Why a pair got its weight: the data of a waterfall chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Explanation {
    /// The prior weight log2(λ / (1 − λ)).
    pub prior: f64,
    /// One entry per comparison, in model order.
    pub contributions: Vec<Contribution>,
    /// The total.
    pub weight: MatchWeight,
}

impl<'a> Scorer<'a> {
    /// Prepares `model` on `records`.
    ///
    /// # Errors
    ///
    /// A config error when a comparison names a column `records` does not have.
    pub fn new(model: &Model, records: &'a Records) -> Result<Scorer<'a>, Error> {
        let comparer = Comparer::new(records, &model.comparisons)?;
        let weights = (0..model.comparisons.len())
            .map(|c| (0..model.m[c].len()).map(|l| model.weight(c, l)).collect())
            .collect();
        let tf = model
            .comparisons
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let l = c.exact_level()?;
                (model.tf[i]).then(|| (l, model.u(i, usize::from(l))))
            })
            .collect();
        let vetoes = model
            .comparisons
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let last = (c.level_names().len() - 1) as u8;
                matches!(
                    c.kind,
                    Kind::GivenName | Kind::DateOfBirth | Kind::NhsNumber | Kind::Sex
                )
                .then_some((i, last))
            })
            .collect();
        Ok(Scorer {
            comparer,
            weights,
            tf,
            prior: model.prior_weight(),
            tf_floor: 1.0 / records.len().max(1) as f64,
            vetoes,
            nhs: model
                .comparisons
                .iter()
                .position(|c| c.kind == Kind::NhsNumber),
            given: model
                .comparisons
                .iter()
                .position(|c| c.kind == Kind::GivenName),
            sex: model.comparisons.iter().position(|c| c.kind == Kind::Sex),
        })
    }

    #[inline]
    fn tf_adjustment(&self, c: usize, level: u8, pair: Pair) -> f64 {
        match self.tf[c] {
            Some((exact, u)) if exact == level => {
                let p = &self.comparer.prepared[c];
                match p.tf_value(pair) {
                    Some(v) => {
                        let f =
                            p.tf.get(v as usize)
                                .copied()
                                .unwrap_or(0.0)
                                .max(self.tf_floor);
                        (u / f).log2()
                    }
                    None => 0.0,
                }
            }
            _ => 0.0,
        }
    }

    /// True when the vector holds an outright disagreement that no weight may override for an
    /// automatic match: given names or dates of birth at "else", sexes that disagree (unless
    /// the given names are identical), two different valid NHS numbers, or a "Twin 1" /
    /// "Triplet 2" placeholder for a newborn's name on either side. Twins differ in given
    /// names (and often sex), and as newborns have no given name to tell them apart; a parent
    /// and a same-named child differ in date of birth. The vetoes are lifted when the NHS
    /// numbers agree, or are one digit apart (one side mistyped): twins' numbers are not.
    pub(crate) fn vetoed(&self, v: u64, pair: Pair) -> bool {
        if let Some(c) = self.nhs {
            if matches!(level_of(v, c), 1 | 2) {
                return false;
            }
        }
        let r = self.comparer.records();
        if r.newborn_placeholder(pair.left) || r.newborn_placeholder(pair.right) {
            return true;
        }
        // A sex miscoded on one record of a patient is common; twins of different sex almost
        // always have different given names. So sexes that disagree veto only when the given
        // names are not identical.
        let given_exact = self.given.is_some_and(|g| level_of(v, g) == 1);
        self.vetoes
            .iter()
            .any(|&(c, l)| level_of(v, c) == l && !(Some(c) == self.sex && given_exact))
    }

    /// The match weight of `pair` (two rows of the store).
    pub fn weight(&self, pair: Pair) -> MatchWeight {
        self.score(pair).1
    }

    /// The comparison vector and weight of `pair`.
    #[inline]
    pub(crate) fn score(&self, pair: Pair) -> (u64, MatchWeight) {
        let v = self.comparer.vector(pair);
        let mut w = self.prior;
        for (c, ws) in self.weights.iter().enumerate() {
            let l = level_of(v, c);
            w += ws[usize::from(l)] + self.tf_adjustment(c, l, pair);
        }
        (v, MatchWeight::new(w))
    }

    /// The explanation of `pair`'s weight under `model` (the model this scorer was made from).
    pub fn explain(&self, model: &Model, pair: Pair) -> Explanation {
        let v = self.comparer.vector(pair);
        let mut total = self.prior;
        let contributions = model
            .comparisons
            .iter()
            .enumerate()
            .map(|(c, comp)| {
                let l = level_of(v, c);
                let weight = self.weights[c][usize::from(l)];
                let tf_adjustment = self.tf_adjustment(c, l, pair);
                total += weight + tf_adjustment;
                Contribution {
                    field: comp.field.clone(),
                    level: comp.level_names()[usize::from(l)].clone(),
                    weight,
                    tf_adjustment,
                }
            })
            .collect();
        Explanation {
            prior: self.prior,
            contributions,
            weight: MatchWeight::new(total),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example_from_the_docs() {
        let mut s = Comparison::for_field("sex").unwrap();
        s.field = "surname_exact".into();
        let d = Comparison::for_field("sex").unwrap();
        let model = Model::new(
            vec![s, d],
            vec![vec![0.9, 0.1], vec![0.98, 0.02]],
            vec![vec![0.01, 0.99], vec![0.02, 0.98]],
            1e-6,
        )
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
        let comparisons = Comparison::defaults();
        let m: Vec<Vec<f64>> = comparisons
            .iter()
            .map(|c| default_m(c)[1..].to_vec())
            .collect();
        let u: Vec<Vec<f64>> = comparisons
            .iter()
            .map(|c| {
                let k = c.level_names().len() - 1;
                vec![1.0 / k as f64 + 1e-17; k]
            })
            .collect();
        let model = Model::new(comparisons, m, u, 3.3e-7).unwrap();
        let back = Model::from_json(&model.to_json()).unwrap();
        assert_eq!(back, model);
        assert_eq!(back.to_json(), model.to_json());
    }

    #[test]
    fn foreign_or_broken_model_files_are_refused() {
        assert!(Model::from_json("{}").unwrap_err().is_config());
        let comparisons = vec![Comparison::for_field("sex").unwrap()];
        let model = Model::new(
            comparisons,
            vec![vec![0.9, 0.1]],
            vec![vec![0.5, 0.5]],
            0.01,
        )
        .unwrap();
        let j = model.to_json().replace("carematch-model", "other");
        assert!(Model::from_json(&j).is_err());
        let j = model.to_json().replace("\"agree\"", "\"agreed\"");
        assert!(Model::from_json(&j).is_err());
        assert!(
            Model::new(
                vec![Comparison::for_field("sex").unwrap()],
                vec![vec![0.9]],
                vec![vec![0.5, 0.5]],
                0.01
            )
            .is_err()
        );
    }

    fn weights(m: &[f64], u: &[f64]) -> Vec<f64> {
        m.iter()
            .zip(u)
            .skip(1)
            .map(|(m, u)| (m / u).log2())
            .collect()
    }

    proptest::proptest! {
        /// After training's monotone step, a more agreeing level never weighs less, and m
        /// still sums to what it did.
        #[test]
        fn monotone_weights(
            m in proptest::collection::vec(0.001f64..1.0, 2..8),
            u in proptest::collection::vec(0.001f64..1.0, 8),
        ) {
            let m: Vec<f64> = std::iter::once(0.0).chain(m).collect();
            let u: Vec<f64> = std::iter::once(0.0).chain(u.into_iter().take(m.len() - 1)).collect();
            let out = monotone(&m, &u);
            let w = weights(&out, &u);
            for pair in w.windows(2) {
                proptest::prop_assert!(pair[0] >= pair[1] - 1e-9, "{w:?}");
            }
            let (a, b): (f64, f64) = (m.iter().sum(), out.iter().sum());
            proptest::prop_assert!((a - b).abs() < 1e-9);
            proptest::prop_assert!(out[1..].iter().all(|x| *x > 0.0));
        }
    }

    #[test]
    fn monotone_leaves_ordered_weights_alone() {
        let m = [0.0, 0.8, 0.15, 0.05];
        let u = [0.0, 0.01, 0.09, 0.9];
        assert_eq!(monotone(&m, &u), m.to_vec());
        // A violation is pooled: levels 2 and 3 get one ratio.
        let out = monotone(&[0.0, 0.8, 0.05, 0.15], &[0.0, 0.01, 0.5, 0.49]);
        let w = weights(&out, &[0.0, 0.01, 0.5, 0.49]);
        assert!((w[1] - w[2]).abs() < 1e-12);
    }

    /// Monotone weights: a more agreeing level never weighs less, for a model whose m falls
    /// and u rises with the level (as every trained model on real data should).
    #[test]
    fn default_m_falls_with_level() {
        for c in Comparison::defaults() {
            let m = default_m(&c);
            assert!((m[1..].iter().sum::<f64>() - 1.0).abs() < 1e-9, "{c}");
            assert!(m[1] > *m.last().unwrap_or(&0.0));
        }
    }
}
