//! What a query returns: the options it takes, its decision, its candidates and their JSON.

use crate::link::Decision;
use crate::model::{Explanation, MatchWeight, Probability};

/// Per-query options.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QueryOptions {
    /// The most candidates returned, best first. Default 10.
    pub limit: usize,
    /// Return candidates from this probability up; `None` (the default) means the model's
    /// review threshold, so that every returned candidate has a decision.
    pub min_probability: Option<f64>,
    /// Add each candidate's explanation (per-comparison levels and weights). Default false.
    pub explain: bool,
}

impl Default for QueryOptions {
    fn default() -> QueryOptions {
        QueryOptions {
            limit: 10,
            min_probability: None,
            explain: false,
        }
    }
}

/// The decision on a queried record as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QueryDecision {
    /// At least one candidate is the same person (several when the population holds
    /// duplicates of one patient).
    Match,
    /// The best candidates are too close to call (within the ambiguity margin, or two at the
    /// same deterministic rule): a person must decide, as NHS MPS does.
    Ambiguous,
    /// The best candidate is between the review and match thresholds, or vetoed.
    Review,
    /// No candidate reaches the review threshold.
    NoMatch,
}

impl QueryDecision {
    /// `match`, `ambiguous`, `review` or `no_match`.
    pub fn as_str(self) -> &'static str {
        match self {
            QueryDecision::Match => "match",
            QueryDecision::Ambiguous => "ambiguous",
            QueryDecision::Review => "review",
            QueryDecision::NoMatch => "no_match",
        }
    }
}

/// One candidate of a query.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// The indexed record's id.
    pub id: String,
    /// Its person id, when the index keeps person ids.
    pub person_id: Option<String>,
    /// The model's match weight.
    pub weight: MatchWeight,
    /// Its probability.
    pub probability: Probability,
    /// The decision on this pair; `None` below the review threshold.
    pub decision: Option<Decision>,
    /// The name of the deterministic rule that matched the pair, if one did.
    pub rule: Option<String>,
    /// Why the pair is not an automatic match (`veto:given_name`, `below_threshold`,
    /// `ambiguous`), as the batch pairs file's `reason` column; `None` for a match or below
    /// the review threshold.
    pub reason: Option<String>,
    /// Per-comparison explanation, when asked for.
    pub explanation: Option<Explanation>,
}

/// The answer to a query.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryResult {
    /// The decision on the record.
    pub decision: QueryDecision,
    /// Candidates best first (weight, then id), at most the limit asked for.
    pub candidates: Vec<Candidate>,
    /// Candidate pairs compared.
    pub compared: usize,
    /// The query's invalid values: they were treated as missing.
    pub invalid: Vec<InvalidValue>,
}

impl QueryResult {
    /// The answer as one line of JSON: `{"id": …, "decision": …, "candidates": [{"id": …,
    /// "match_weight": …, "match_probability": …, "decision": …, "rule": …, "reason": …},
    /// …]}`, with
    /// `person_id` per candidate when the index keeps them, `explanation` when asked for (in
    /// [`Explanation`]'s one JSON shape),
    /// and `invalid` (field and problem, never the value) when the query had invalid values.
    pub fn to_json(&self, id: &str) -> String {
        let answer = AnswerJson {
            id,
            decision: self.decision.as_str(),
            candidates: self
                .candidates
                .iter()
                .map(|c| CandidateJson {
                    id: &c.id,
                    person_id: c.person_id.as_deref(),
                    match_weight: round(c.weight.bits()),
                    match_probability: c.probability.get(),
                    decision: c.decision.map_or("no_match", Decision::as_str),
                    rule: c.rule.as_deref(),
                    reason: c.reason.as_deref(),
                    explanation: c.explanation.as_ref(),
                })
                .collect(),
            invalid: &self.invalid,
        };
        serde_json::to_string(&answer).unwrap_or_default()
    }
}

/// A query's answer as serialised, keys in the documented order.
#[derive(serde::Serialize)]
struct AnswerJson<'a> {
    id: &'a str,
    decision: &'static str,
    candidates: Vec<CandidateJson<'a>>,
    #[serde(skip_serializing_if = "<[InvalidValue]>::is_empty")]
    invalid: &'a [InvalidValue],
}

/// A candidate as serialised: its weight to four decimals, as the pairs file writes it.
#[derive(serde::Serialize)]
struct CandidateJson<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    person_id: Option<&'a str>,
    match_weight: f64,
    match_probability: f64,
    decision: &'static str,
    rule: Option<&'a str>,
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    explanation: Option<&'a Explanation>,
}

/// A value of a query that was invalid and so treated as missing: which field and what was
/// wrong with it, never the value.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct InvalidValue {
    /// The field (role name, such as `date_of_birth`).
    pub field: String,
    /// What was wrong with it.
    pub problem: &'static str,
}

/// A weight to four decimals, as the pairs file writes it.
pub(super) fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}
