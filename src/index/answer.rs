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
    /// `person_id` per candidate when the index keeps them, `explanation` when asked for,
    /// and `invalid` (field and problem, never the value) when the query had invalid values.
    pub fn to_json(&self, id: &str) -> String {
        use std::fmt::Write as _;
        // Keys in the documented order (a JSON map would sort them).
        let q = |s: &str| serde_json::Value::from(s).to_string();
        let num = |x: f64| serde_json::Value::from(x).to_string();
        let mut o = String::with_capacity(128 + 160 * self.candidates.len());
        let _ = write!(
            o,
            "{{\"id\":{},\"decision\":{},\"candidates\":[",
            q(id),
            q(self.decision.as_str())
        );
        for (i, c) in self.candidates.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            let _ = write!(o, "{{\"id\":{}", q(&c.id));
            if let Some(p) = &c.person_id {
                let _ = write!(o, ",\"person_id\":{}", q(p));
            }
            let _ = write!(
                o,
                ",\"match_weight\":{},\"match_probability\":{},\"decision\":{},\"rule\":{},\"reason\":{}",
                num(round(c.weight.bits())),
                num(c.probability.get()),
                q(c.decision.map_or("no_match", Decision::as_str)),
                c.rule.as_deref().map_or_else(|| "null".to_string(), q),
                c.reason.as_deref().map_or_else(|| "null".to_string(), q)
            );
            if let Some(e) = &c.explanation {
                let _ = write!(
                    o,
                    ",\"explanation\":{{\"prior\":{},\"comparisons\":[",
                    num(round(e.prior))
                );
                for (j, k) in e.contributions.iter().enumerate() {
                    if j > 0 {
                        o.push(',');
                    }
                    let _ = write!(
                        o,
                        "{{\"field\":{},\"level\":{},\"weight\":{},\"tf\":{}}}",
                        q(&k.field),
                        q(&k.level),
                        num(round(k.weight)),
                        num(round(k.tf_adjustment))
                    );
                }
                o.push_str("]}");
            }
            o.push('}');
        }
        o.push(']');
        if !self.invalid.is_empty() {
            o.push_str(",\"invalid\":[");
            for (i, v) in self.invalid.iter().enumerate() {
                if i > 0 {
                    o.push(',');
                }
                let _ = write!(
                    o,
                    "{{\"field\":{},\"problem\":{}}}",
                    q(&v.field),
                    q(v.problem)
                );
            }
            o.push(']');
        }
        o.push('}');
        o
    }
}

/// A value of a query that was invalid and so treated as missing: which field and what was
/// wrong with it, never the value.
#[derive(Clone, Debug, PartialEq, Eq)]
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
