//! Real-time matching: one record at a time against a population held in memory.
//!
//! An [`Index`] holds a population (a [`Records`] store that grows by one row per insert),
//! every row's comparison features, and one bucket table per blocking rule, so that a query
//! costs a few hash lookups for its candidates and the model's comparisons for each of them,
//! not a pass over the population. A query is normalised exactly as a file's row would be,
//! compared with the same comparison code as a batch run (its values are looked up in the
//! population's dictionaries; a value the population does not hold compares as text), scored
//! with the same weights, vetoes and deterministic rules, and decided the way a batch link
//! decides a record of its left file.
//!
//! # Concurrency
//!
//! `Index` is `Send + Sync`. Queries take a shared read lock; [`Index::insert`],
//! [`Index::update`] and [`Index::remove`] normalise their record before they take the write
//! lock and hold it only to append or mark one row (microseconds), so writers never block
//! readers for long and readers never block each other.
//!
//! # Differences from a batch link
//!
//! A query sees the population from one record's side. A batch link also makes a pair
//! ambiguous when the *right* record has two equally good left candidates, and counts
//! term frequencies over both files; a query knows only the indexed population. These are
//! the differences `examples/index_latency.rs` measures when it queries every record.

mod file;
mod keys;
mod people;

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::block::BlockingRule;
use crate::compare::{Ctx, Spec};
use crate::error::ErrorKind;
use crate::error::config_err;
use crate::input::normalise_record;
use crate::link::{Decision, model_decision, odds_bits};
use crate::model::{Explanation, MatchWeight, Model, Probability, Weights};
use crate::pseudonym::SCHEME_COLUMN;
use crate::record::{NONE, NewRow, Records};
use crate::record::{Outside, RowFeatures, Words, address_words};
use crate::rules::MatchRule;
use crate::schema::{ColumnConfig, ColumnUse, Role, Schema};
use crate::{Error, Linker};

pub use file::FORMAT_VERSION;
pub use people::{PersonChange, PersonChanges};

use keys::View;

/// A record's invalid values: (field, problem), never the value.
type Invalid = Vec<(String, &'static str)>;

/// One record to query or insert: an id and raw values, by role or by column name.
///
/// Values are raw, as they would appear in a CSV file; the index normalises them the same
/// way. `Debug` shows the id and which fields are set, never their values.
#[derive(Clone, Default)]
pub struct Record {
    id: String,
    roles: Vec<(Role, Vec<u8>)>,
    others: Vec<(String, Vec<u8>)>,
}

impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let roles: Vec<&str> = self.roles.iter().map(|(r, _)| r.as_str()).collect();
        let others: Vec<&str> = self.others.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Record")
            .field("fields", &roles)
            .field("other_columns", &others)
            .finish_non_exhaustive()
    }
}

impl Record {
    /// A record with id `id` and no values.
    pub fn new(id: &str) -> Record {
        Record {
            id: id.trim().to_string(),
            ..Record::default()
        }
    }

    /// The record's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Sets the raw value of `role` (a second address value is joined to the first with
    /// ", ", as several address columns of a file are). Setting [`Role::Id`] sets the id.
    pub fn set(&mut self, role: Role, value: &str) -> &mut Self {
        self.set_bytes(role, value.as_bytes())
    }

    /// Sets the raw value of `role` from bytes as read from a file: bytes that are not
    /// UTF-8 make the value invalid (treated as missing and reported), as in a file. An id
    /// that is not UTF-8 becomes empty, which queries and inserts refuse.
    pub fn set_bytes(&mut self, role: Role, value: &[u8]) -> &mut Self {
        if role == Role::Id {
            self.id = std::str::from_utf8(value).unwrap_or("").trim().to_string();
            return self;
        }
        match self.roles.iter_mut().find(|(r, _)| *r == role) {
            Some((_, v)) if role == Role::Address => {
                let value = value.trim_ascii();
                if !value.is_empty() {
                    if !v.trim_ascii().is_empty() {
                        v.extend_from_slice(b", ");
                    }
                    v.extend_from_slice(value);
                }
            }
            Some((_, v)) => *v = value.to_vec(),
            None => self.roles.push((role, value.to_vec())),
        }
        self
    }

    /// Sets the raw value of a carried-through column.
    pub fn set_other(&mut self, column: &str, value: &str) -> &mut Self {
        match self.others.iter_mut().find(|(n, _)| n == column) {
            Some((_, v)) => *v = value.as_bytes().to_vec(),
            None => self
                .others
                .push((column.to_string(), value.as_bytes().to_vec())),
        }
        self
    }

    fn raw(&self, role: Role) -> Option<&[u8]> {
        self.roles
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, v)| v.as_slice())
    }

    fn other(&self, column: &str) -> Option<&[u8]> {
        self.others
            .iter()
            .find(|(n, _)| n == column)
            .map(|(_, v)| v.as_slice())
    }
}

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
    /// The query's invalid values, as (field, problem): they were treated as missing.
    pub invalid: Vec<(String, &'static str)>,
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
            for (i, (f, p)) in self.invalid.iter().enumerate() {
                if i > 0 {
                    o.push(',');
                }
                let _ = write!(o, "{{\"field\":{},\"problem\":{}}}", q(f), q(p));
            }
            o.push(']');
        }
        o.push('}');
        o
    }
}

/// A weight to four decimals, as the pairs file writes it.
fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Builds an [`Index`].
#[derive(Clone, Debug)]
pub struct IndexBuilder {
    model: Model,
    rules: Vec<MatchRule>,
    columns: ColumnConfig,
    accept_test: bool,
    person_ids: bool,
}

/// Rows per bucket of one blocking rule: a CSR table from the build, plus inserts since.
#[derive(Default)]
struct Block {
    table: FxHashMap<u64, (u32, u32)>,
    rows: Vec<u32>,
    extra: FxHashMap<u64, Vec<u32>>,
}

impl Block {
    fn build(keys: Vec<(u64, u32)>) -> Block {
        let mut keys = keys;
        keys.par_sort_unstable();
        let mut b = Block {
            table: FxHashMap::default(),
            rows: Vec::with_capacity(keys.len()),
            extra: FxHashMap::default(),
        };
        let mut i = 0;
        while i < keys.len() {
            let h = keys[i].0;
            let start = b.rows.len() as u32;
            while i < keys.len() && keys[i].0 == h {
                b.rows.push(keys[i].1);
                i += 1;
            }
            b.table.insert(h, (start, b.rows.len() as u32 - start));
        }
        b
    }

    fn rows(&self, h: u64) -> impl Iterator<Item = u32> + '_ {
        let built = self
            .table
            .get(&h)
            .map_or(&[][..], |&(s, n)| &self.rows[s as usize..(s + n) as usize]);
        let extra = self.extra.get(&h).map_or(&[][..], Vec::as_slice);
        built.iter().chain(extra).copied()
    }
}

/// Counts of each value of a term-frequency field among live rows.
#[derive(Clone, Default)]
struct Counts {
    counts: Vec<u32>,
    present: u64,
}

/// What an index's settings are, fixed at build.
struct Settings {
    model: Model,
    rules: Vec<MatchRule>,
    weights: Weights,
    cmps: Vec<Spec>,
    blocking: Vec<BlockingRule>,
    columns: ColumnConfig,
    accept_test: bool,
    /// The carried columns, in the store's order.
    others: Vec<String>,
}

/// The population and everything derived from it.
struct Inner {
    records: Records,
    features: Vec<RowFeatures>,
    words: Words,
    /// Given-name id → the same text's surname id (for swapped names), or NONE.
    cross: Vec<u32>,
    live: Vec<bool>,
    live_count: u64,
    by_id: FxHashMap<Box<str>, u32>,
    blocks: Vec<Block>,
    counts: Vec<Option<Counts>>,
    people: Option<people::People>,
}

/// The most bytes of one JSON query record ([`Index::record_from_json`]): a record of every
/// field at [`crate::MAX_VALUE_BYTES`] is far below it; a longer line is refused unread.
pub const MAX_QUERY_BYTES: usize = 1 << 20;

/// The fields of one JSON object, in the line's order: strings as they are, numbers as
/// their literal text (an id `12345678901234567890123` keeps every digit), `null` left out.
/// A key given twice, or a value that is a boolean, array or object, is an error naming the
/// key.
fn json_fields(line: &str) -> Result<Vec<(String, String)>, String> {
    use serde::de::{Deserializer, MapAccess, Visitor};
    use serde_json::value::RawValue;
    struct Fields;
    impl<'de> Visitor<'de> for Fields {
        type Value = Result<Vec<(String, String)>, String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out: Vec<(String, String)> = Vec::new();
            let mut seen = rustc_hash::FxHashSet::default();
            while let Some((k, v)) = map.next_entry::<String, &RawValue>()? {
                if !seen.insert(k.clone()) {
                    return Ok(Err(format!("key '{k}' appears twice")));
                }
                let raw = v.get();
                match raw.as_bytes().first() {
                    Some(b'"') => {
                        let s: String =
                            serde_json::from_str(raw).map_err(serde::de::Error::custom)?;
                        out.push((k, s));
                    }
                    Some(b'n') => {}
                    Some(b'-' | b'0'..=b'9') => out.push((k, raw.to_string())),
                    _ => {
                        return Ok(Err(format!(
                            "key '{k}': a value must be a string, a number or null"
                        )));
                    }
                }
            }
            Ok(Ok(out))
        }
    }
    let malformed = |e: &serde_json::Error| {
        format!("malformed JSON (line {}, column {})", e.line(), e.column())
    };
    let mut de = serde_json::Deserializer::from_str(line);
    let fields = match (&mut de).deserialize_map(Fields) {
        Ok(f) => f,
        Err(e) if e.is_data() => return Err("a record must be a JSON object".to_string()),
        Err(e) => return Err(malformed(&e)),
    };
    de.end().map_err(|e| malformed(&e))?;
    fields
}

/// A population held in memory for one-record-at-a-time matching. See the [module
/// docs](crate::index).
///
/// # Example
///
/// ```
/// # fn main() -> Result<(), carematch::Error> {
/// use carematch::{Index, Model, Record, RecordsBuilder, Role};
/// use carematch::compare::Comparison;
///
/// let population = "id,nhs_number,given_name,surname,dob,postcode\n\
///                   A1,943 476 5919,Elizabeth,Smith,1980-02-01,LS1 4AP\n\
///                   A2,,Tom,Jones,1975-07-30,M1 1AE\n";
/// let mut b = RecordsBuilder::new();
/// b.add_reader("population.csv", population.as_bytes())?;
/// let (records, _) = b.build()?;
/// // A model with flat parameters, for the example; use `Model::train` or `Model::load`.
/// let comparisons = Comparison::defaults();
/// let flat: Vec<Vec<f64>> = comparisons
///     .iter()
///     .map(|c| { let k = c.level_names().len() - 1; vec![1.0 / k as f64; k] })
///     .collect();
/// let model = Model::new(comparisons, flat.clone(), flat, 0.01)?;
/// let index = Index::builder(model).build(records)?;
///
/// let mut q = Record::new("H7");
/// q.set(Role::NhsNumber, "9434765919").set(Role::DateOfBirth, "01/02/1980");
/// let answer = index.query(&q, &Default::default())?;
/// assert_eq!(answer.decision.as_str(), "match");
/// assert_eq!(answer.candidates[0].id, "A1");
/// assert_eq!(answer.candidates[0].rule.as_deref(), Some("nhs-dob"));
/// # Ok(()) }
/// ```
pub struct Index {
    settings: Settings,
    inner: RwLock<Inner>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("records", &self.len())
            .finish_non_exhaustive()
    }
}

impl IndexBuilder {
    /// The deterministic rules tried before the model. Default: [`MatchRule::defaults`].
    pub fn rules(&mut self, rules: Vec<MatchRule>) -> &mut Self {
        self.rules = rules;
        self
    }

    /// The column mapping that queries and inserts given by column name go through (the one
    /// the population was read with). Default: none (names recognised as in files).
    pub fn columns(&mut self, columns: ColumnConfig) -> &mut Self {
        self.columns = columns;
        self
    }

    /// Accept NHS numbers in the never-issued 999 test range in queries and inserts, as
    /// [`crate::RecordsBuilder::accept_test_nhs_numbers`] does for files (build the index
    /// from a store read with the same setting). Default: true, as there.
    pub fn accept_test_nhs_numbers(&mut self, yes: bool) -> &mut Self {
        self.accept_test = yes;
        self
    }

    /// Keep a person id per record: each person found in the population (by a dedupe of it)
    /// gets an id, inserted records take the id of the person they match, and merges and
    /// splits are reported ([`Index::insert`], [`Index::update`], [`Index::remove`]).
    /// Default: false.
    pub fn person_ids(&mut self, yes: bool) -> &mut Self {
        self.person_ids = yes;
        self
    }

    /// The index of the population in `records` (which must hold one source).
    ///
    /// # Errors
    ///
    /// A usage error when `records` holds several sources; a config error when the model
    /// compares pseudonymised columns (not indexed yet) or names a column the population
    /// lacks, or when a rule is invalid.
    pub fn build(&self, records: Records) -> Result<Index, Error> {
        if records.sources().len() > 1 {
            return Err(Error::new(
                ErrorKind::Usage,
                "an index holds one population: build it from one source".to_string(),
            ));
        }
        let settings = Settings::new(self, &records)?;
        let person_rows = if self.person_ids {
            Some(Self::dedupe_links(&settings, &records)?)
        } else {
            None
        };
        let inner = Inner::build(&settings, records, person_rows)?;
        Ok(Index {
            settings,
            inner: RwLock::new(inner),
        })
    }

    /// The population's own people (a dedupe of it) and the matches that made them.
    fn dedupe_links(s: &Settings, records: &Records) -> Result<people::People, Error> {
        let n = records.len();
        if n == 0 {
            return Ok(people::People::from_clusters(
                &crate::Clusters::new(records, &[]),
                0,
                &[],
            ));
        }
        let linker = Linker::new()
            .rules(s.rules.clone())
            .model(Some(s.model.clone()))
            .build()?;
        let result = linker.dedupe(records, 0)?;
        let links: Vec<(u32, u32)> = result
            .matches()
            .map(|l| (l.pair.left, l.pair.right))
            .collect();
        Ok(people::People::from_clusters(
            &result.clusters(records),
            n,
            &links,
        ))
    }
}

impl Settings {
    fn new(b: &IndexBuilder, records: &Records) -> Result<Settings, Error> {
        let model = &b.model;
        model.check_fits(records)?;
        let others: Vec<String> = records.other_columns().map(str::to_string).collect();
        let mut cmps = Vec::new();
        for c in model.comparisons() {
            let spec = Spec::new(c, records)?;
            if spec.is_encoded() {
                return Err(config_err(format!(
                    "comparison '{}': pseudonymised files cannot be indexed yet; \
                     link them in a batch",
                    c.field
                )));
            }
            cmps.push(spec);
        }
        let mut blocking: Vec<BlockingRule> = model.blocking().to_vec();
        let ladder = Linker::new()
            .rules(b.rules.clone())
            .model(Some(model.clone()))
            .build()?;
        for r in ladder.blocking_rules() {
            if !blocking.contains(&r) {
                blocking.push(r);
            }
        }
        for r in &blocking {
            for k in r.keys() {
                if let crate::Field::Other(name) = &k.field
                    && !others.contains(name)
                {
                    return Err(config_err(format!(
                        "blocking rule '{r}': no column '{name}' in the population"
                    )));
                }
            }
        }
        Ok(Settings {
            weights: Weights::new(model),
            cmps,
            blocking,
            rules: b.rules.clone(),
            columns: b.columns.clone(),
            accept_test: b.accept_test,
            others,
            model: model.clone(),
        })
    }
}

impl Inner {
    fn build(
        s: &Settings,
        records: Records,
        people: Option<people::People>,
    ) -> Result<Inner, Error> {
        let n = records.len();
        let g = &records.given_dict.values;
        let sd = &records.surname_dict.values;
        let cross: Vec<u32> = (0..g.len() as u32)
            .map(|i| sd.lookup(g.get(i)).unwrap_or(NONE))
            .collect();
        let features: Vec<RowFeatures> = (0..n as u32)
            .into_par_iter()
            .map(|r| RowFeatures::of(&records, &cross, r as usize))
            .collect();
        let words = Words::of(&records.address_dict);
        let blocks = s
            .blocking
            .iter()
            .map(|rule| Block::build(keys::buckets(&records, rule, &s.others)))
            .collect();
        let mut by_id = FxHashMap::default();
        by_id.reserve(n);
        for r in 0..n as u32 {
            by_id.insert(records.id(r).into(), r);
        }
        let mut inner = Inner {
            counts: s
                .cmps
                .iter()
                .map(|c| c.tf.map(|_| Counts::default()))
                .collect(),
            people,
            records,
            features,
            words,
            cross,
            live: vec![true; n],
            live_count: n as u64,
            by_id,
            blocks,
        };
        for r in 0..n as u32 {
            inner.count(s, r, true);
        }
        Ok(inner)
    }

    /// Adds (or takes away) row `row` from the term-frequency counts.
    fn count(&mut self, s: &Settings, row: u32, add: bool) {
        for (c, cmp) in s.cmps.iter().enumerate() {
            let Some(f) = cmp.tf else { continue };
            let v = f.value(&self.records, row);
            let Some(counts) = self.counts[c].as_mut() else {
                continue;
            };
            if v == NONE {
                continue;
            }
            let i = v as usize;
            if counts.counts.len() <= i {
                counts.counts.resize(i + 1, 0);
            }
            if add {
                counts.counts[i] += 1;
                counts.present += 1;
            } else {
                counts.counts[i] = counts.counts[i].saturating_sub(1);
                counts.present = counts.present.saturating_sub(1);
            }
        }
    }

    /// The frequency of the value row `row` holds in comparison `c`'s field, floored at one
    /// row, as the batch scorer computes it.
    fn freq(&self, s: &Settings, c: usize, row: u32) -> Option<f64> {
        let f = s.cmps[c].tf?;
        let counts = self.counts[c].as_ref()?;
        let v = f.value(&self.records, row);
        if v == NONE {
            return None;
        }
        let k = counts.counts.get(v as usize).copied().unwrap_or(0);
        let share = f64::from(k) / counts.present.max(1) as f64;
        Some(share.max(1.0 / self.live_count.max(1) as f64))
    }

    /// The comparison vector of query `x` (features `xf`, strings `xo`) against row `y`.
    fn vector_outside(
        &self,
        s: &Settings,
        x: &NewRow,
        xf: &RowFeatures,
        xo: &Outside,
        y: u32,
    ) -> u64 {
        let text = |col: usize| x.others.get(col).and_then(|a| a.as_deref());
        self.vector(s, xf, Some(xo), text, y)
    }

    /// The comparison vector of two rows of the population.
    fn vector_rows(&self, s: &Settings, a: u32, b: u32) -> u64 {
        let xf = self.features[a as usize].with_cross(&self.cross);
        let text = |col: usize| {
            let column = &self.records.others[col];
            let v = column.values[a as usize];
            (v != NONE).then(|| column.dict.get(v))
        };
        self.vector(s, &xf, None, text, b)
    }

    /// The comparison vector of a left side (features `xf`, strings outside the store
    /// `xo`, carried-column text `x_text`) against row `y`.
    fn vector<'t>(
        &'t self,
        s: &Settings,
        xf: &RowFeatures,
        xo: Option<&Outside>,
        x_text: impl Fn(usize) -> Option<&'t str>,
        y: u32,
    ) -> u64 {
        let yf = self.features[y as usize].with_cross(&self.cross);
        let cx = Ctx {
            records: &self.records,
            words: &self.words,
            outside: xo,
        };
        let mut v = 0u64;
        for (i, c) in s.cmps.iter().enumerate() {
            let l = c.level(&cx, xf, &yf, |col| {
                [x_text(col), self.records.other_at(col, y)]
            });
            v |= u64::from(l) << (4 * i);
        }
        v
    }

    /// Appends `row` and everything derived from it.
    fn append(&mut self, s: &Settings, row: &NewRow) -> Result<u32, Error> {
        let r = &self.records;
        let (g0, s0, a0) = (
            r.given_dict.values.len(),
            r.surname_dict.values.len(),
            r.address_dict.len(),
        );
        let source = "index";
        let i = self.records.push(row, source)?;
        let r = &self.records;
        // New given names learn their surname twin; a new surname teaches the given name.
        for g in g0..r.given_dict.values.len() {
            let text = r.given_dict.values.get(g as u32);
            self.cross
                .push(r.surname_dict.values.lookup(text).unwrap_or(NONE));
        }
        for sid in s0..r.surname_dict.values.len() {
            let text = r.surname_dict.values.get(sid as u32);
            if let Some(g) = r.given_dict.values.lookup(text) {
                self.cross[g as usize] = sid as u32;
            }
        }
        for a in a0..r.address_dict.len() {
            self.words
                .push(&address_words(r.address_dict.get(a as u32)));
        }
        self.features
            .push(RowFeatures::of(&self.records, &self.cross, i as usize));
        let view = View::of_row(&self.records, i);
        for (b, rule) in self.blocks.iter_mut().zip(&s.blocking) {
            if let Some(h) = keys::bucket(rule, &view, &s.others) {
                b.extra.entry(h).or_default().push(i);
            }
        }
        self.live.push(true);
        self.live_count += 1;
        self.by_id.insert(row.id.as_str().into(), i);
        self.count(s, i, true);
        if let Some(p) = self.people.as_mut() {
            p.push_row();
        }
        Ok(i)
    }

    /// Marks row `row` removed.
    fn retire(&mut self, s: &Settings, row: u32) {
        if !self.live[row as usize] {
            return;
        }
        self.count(s, row, false);
        self.live[row as usize] = false;
        self.live_count -= 1;
        let id = self.records.id(row).to_string();
        self.by_id.remove(id.as_str());
    }

    /// Candidates, scores and decisions for `x`, best first.
    fn query(
        &self,
        s: &Settings,
        x: &NewRow,
        opts: &QueryOptions,
    ) -> (QueryDecision, Vec<Scored>, usize) {
        let (xf, xo) = RowFeatures::outside(&self.records, x);
        let view = View::of_new(x);
        let mut rows: Vec<u32> = Vec::new();
        for (b, rule) in self.blocks.iter().zip(&s.blocking) {
            if let Some(h) = keys::bucket(rule, &view, &s.others) {
                rows.extend(b.rows(h).filter(|&r| self.live[r as usize]));
            }
        }
        rows.sort_unstable();
        rows.dedup();
        let compared = rows.len();
        let mut scored: Vec<Scored> = rows
            .iter()
            .map(|&y| {
                let v = self.vector_outside(s, x, &xf, &xo, y);
                let weight = s.weights.total(v, |c| self.freq(s, c, y));
                let placeholder = x.placeholder || self.records.newborn_placeholder(y);
                let rule =
                    keys::first_match(&s.rules, &view, &View::of_row(&self.records, y), &s.others);
                Scored {
                    row: y,
                    vector: v,
                    weight,
                    veto: s.weights.veto(v, placeholder),
                    rule,
                    decision: None,
                }
            })
            .collect();
        let decision = self.decide(s, &mut scored);
        let min = opts
            .min_probability
            .unwrap_or(s.model.thresholds().review_probability);
        scored.retain(|c| c.decision.is_some() || c.weight.probability().get() >= min);
        scored.sort_by(|a, b| {
            b.weight
                .bits()
                .total_cmp(&a.weight.bits())
                .then_with(|| self.records.id(a.row).cmp(self.records.id(b.row)))
        });
        scored.truncate(opts.limit);
        (decision, scored, compared)
    }

    /// Decides each candidate of `x` as a batch link decides the pairs of a left record:
    /// its best deterministic rule (ambiguous when two candidates meet it, unless they carry
    /// one valid NHS number), then the model's thresholds and vetoes, then the ambiguity
    /// margin between its two best model matches.
    fn decide(&self, s: &Settings, scored: &mut [Scored]) -> QueryDecision {
        let t = s.model.thresholds();
        let (match_w, review_w) = (
            odds_bits(t.match_probability),
            odds_bits(t.review_probability),
        );
        let nhs = |r: u32| self.records.nhs[r as usize];
        // Rules: the best rule any candidate meets decides the candidates at it.
        if let Some(best) = scored.iter().filter_map(|c| c.rule).min() {
            let at: Vec<u32> = scored
                .iter()
                .filter(|c| c.rule == Some(best))
                .map(|c| c.row)
                .collect();
            let one = at.len() == 1 || at.iter().all(|&r| nhs(r) != 0 && nhs(r) == nhs(at[0]));
            for c in scored.iter_mut() {
                if c.rule == Some(best) {
                    c.decision = Some(if one {
                        Decision::Match
                    } else {
                        Decision::Ambiguous
                    });
                } else {
                    // Superseded by the better rule: the model decides it.
                    c.rule = None;
                }
            }
        }
        for c in scored.iter_mut().filter(|c| c.decision.is_none()) {
            c.decision = model_decision(c.weight.bits(), c.veto.is_some(), match_w, review_w);
        }
        // Ambiguity between the two best model matches.
        let model_match = |c: &Scored| c.rule.is_none() && c.decision == Some(Decision::Match);
        let mut best: Vec<(f64, u32)> = scored
            .iter()
            .filter(|c| model_match(c))
            .map(|c| (c.weight.bits(), c.row))
            .collect();
        best.sort_by(|a, b| b.0.total_cmp(&a.0));
        if let [(w1, a), (w2, b), ..] = best[..] {
            let same_nhs = nhs(a) != 0 && nhs(a) == nhs(b);
            if w1 - w2 < t.ambiguity_margin && !same_nhs {
                let v = self.vector_rows(s, a, b);
                let w = s.weights.total(v, |c| self.freq(s, c, b));
                let placeholder =
                    self.records.newborn_placeholder(a) || self.records.newborn_placeholder(b);
                if w.bits() < match_w || s.weights.vetoed(v, placeholder) {
                    for c in scored.iter_mut().filter(|c| model_match(c)) {
                        c.decision = Some(Decision::Ambiguous);
                    }
                }
            }
        }
        let has = |d: Decision| scored.iter().any(|c| c.decision == Some(d));
        if has(Decision::Match) {
            QueryDecision::Match
        } else if has(Decision::Ambiguous) {
            QueryDecision::Ambiguous
        } else if has(Decision::Review) {
            QueryDecision::Review
        } else {
            QueryDecision::NoMatch
        }
    }
}

/// The rows of the candidates decided `match`.
fn match_rows(scored: &[Scored]) -> Vec<u32> {
    scored
        .iter()
        .filter(|c| c.decision == Some(Decision::Match))
        .map(|c| c.row)
        .collect()
}

/// A candidate on its way to an answer.
struct Scored {
    row: u32,
    vector: u64,
    weight: MatchWeight,
    veto: Option<crate::model::Veto>,
    rule: Option<u16>,
    decision: Option<Decision>,
}

impl Index {
    /// A builder for an index scored by `model`.
    pub fn builder(model: Model) -> IndexBuilder {
        IndexBuilder {
            model,
            rules: MatchRule::defaults(),
            columns: ColumnConfig::new(),
            accept_test: true,
            person_ids: false,
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        // A panic while writing cannot leave a half-made row visible: every write appends
        // the row last. So a poisoned lock is still consistent.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The number of records in the index.
    pub fn len(&self) -> usize {
        self.read().live_count as usize
    }

    /// True when the index holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The model the index scores with.
    pub fn model(&self) -> &Model {
        &self.settings.model
    }

    /// True when the index holds a record with id `id`.
    pub fn contains(&self, id: &str) -> bool {
        self.read().by_id.contains_key(id)
    }

    /// The person id of record `id`, when the index keeps person ids.
    pub fn person_id(&self, id: &str) -> Option<String> {
        let g = self.read();
        let row = *g.by_id.get(id)?;
        g.people.as_ref().map(|p| p.id_of(row).to_string())
    }

    /// A record from (column name, raw value) pairs, named as in the population's file: the
    /// column mapping the index was built with applies, then the usual recognition of
    /// names; several address columns are joined in order; other columns the index carries
    /// are kept, the rest ignored.
    ///
    /// # Errors
    ///
    /// A usage error naming the column when there is no id or two ids.
    pub fn record(&self, fields: &[(&str, &str)]) -> Result<Record, Error> {
        let f: Vec<(&str, &[u8])> = fields.iter().map(|&(n, v)| (n, v.as_bytes())).collect();
        self.record_bytes(&f)
    }

    /// [`Index::record`] from raw bytes, as read from a file.
    ///
    /// # Errors
    ///
    /// As [`Index::record`]; an id that is not UTF-8 is an error too.
    pub fn record_bytes(&self, fields: &[(&str, &[u8])]) -> Result<Record, Error> {
        if fields.iter().any(|(n, _)| n.trim() == SCHEME_COLUMN) {
            return Err(Error::new(
                ErrorKind::Usage,
                format!(
                    "a pseudonymised record (it has a {SCHEME_COLUMN} field): an index holds clear \
                     data; link pseudonymised files in batch"
                ),
            ));
        }
        // The same rules as a file's header: one column per role, no name twice.
        let names: Vec<String> = fields.iter().map(|(n, _)| n.trim().to_string()).collect();
        // A record's fields are the caller's arguments, not a file: a usage error.
        let schema = Schema::resolve_at(&names, &self.settings.columns, "the record", 0)
            .map_err(|e| Error::new(ErrorKind::Usage, e.message()))?;
        let mut rec = Record::default();
        let mut id: Option<&[u8]> = None;
        for (&(name, value), u) in fields.iter().zip(schema.uses()) {
            match u {
                ColumnUse::Role(Role::Id) => id = Some(value),
                ColumnUse::Role(r) => {
                    rec.set_bytes(*r, value);
                }
                ColumnUse::Other => {
                    let name = name.trim();
                    if self.settings.others.iter().any(|o| o == name) {
                        rec.others.push((name.to_string(), value.to_vec()));
                    }
                }
                ColumnUse::Excluded => {}
            }
        }
        let id = match id.map(std::str::from_utf8) {
            Some(Ok(i)) if !i.trim().is_empty() => i.trim(),
            Some(Err(_)) => {
                return Err(Error::new(
                    ErrorKind::Usage,
                    "the id is not valid UTF-8".to_string(),
                ));
            }
            _ => {
                return Err(Error::new(
                    ErrorKind::Usage,
                    "no id: a record needs a non-empty id column".to_string(),
                ));
            }
        };
        rec.id = id.to_string();
        Ok(rec)
    }

    /// A record from one JSON object whose keys are column names (as [`Index::record`]):
    /// strings and numbers are values, `null` is missing.
    ///
    /// # Errors
    ///
    /// A usage error for malformed JSON, a line that is not an object, a value that is an
    /// array, object or boolean (naming the key, not the value), or no id.
    pub fn record_from_json(&self, line: &str) -> Result<Record, Error> {
        let bad = |m: String| Error::new(ErrorKind::Usage, m);
        if line.len() > MAX_QUERY_BYTES {
            return Err(bad(format!(
                "the record is {} bytes; at most {MAX_QUERY_BYTES} are read",
                line.len()
            )));
        }
        let fields = json_fields(line).map_err(bad)?;
        let fields: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.record(&fields)
    }

    /// The records of a CSV file (header first), in file order, for [`Index::insert`] or
    /// [`Index::link`].
    ///
    /// # Errors
    ///
    /// An I/O error when the file cannot be read; an input error naming the file and line
    /// for malformed CSV, a ragged row, a missing, non-UTF-8 or repeated id.
    pub fn read_csv(&self, path: &std::path::Path) -> Result<Vec<Record>, Error> {
        let name = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, "open", &e))?;
        let mut rdr = crate::csvread::CsvReader::new(&name, std::io::BufReader::new(file), false)?;
        let headers = rdr.headers().to_vec();
        let mut out = Vec::new();
        let mut seen: FxHashMap<String, u64> = FxHashMap::default();
        let mut rec = csv::ByteRecord::new();
        while let Some(line) = rdr.read(&mut rec)? {
            let fields: Vec<(&str, &[u8])> = headers
                .iter()
                .map(String::as_str)
                .zip(rec.iter().map(<[u8]>::trim_ascii))
                .collect();
            let r = self
                .record_bytes(&fields)
                .map_err(|e| Error::input_at(&name, line, None, e.message()))?;
            if let Some(first) = seen.insert(r.id.clone(), line) {
                return Err(Error::input_at(
                    &name,
                    line,
                    None,
                    &format!("duplicate id: the same id is also on line {first}"),
                ));
            }
            out.push(r);
        }
        Ok(out)
    }

    /// Normalises `rec` as a file's row would be.
    fn normalise(&self, rec: &Record) -> Result<(NewRow, Invalid), Error> {
        if rec.id.is_empty() {
            return Err(Error::new(
                ErrorKind::Usage,
                "no id: a record needs a non-empty id".to_string(),
            ));
        }
        if rec.id.len() > crate::MAX_VALUE_BYTES {
            return Err(Error::new(ErrorKind::Usage, "id is too long".to_string()));
        }
        let others = &self.settings.others;
        let (row, problems) = normalise_record(
            &rec.id,
            |r| rec.raw(r),
            |i| rec.other(&others[i]),
            others.len(),
            self.settings.accept_test,
        );
        let problems = problems
            .into_iter()
            .map(|(r, p)| (r.as_str().to_string(), p))
            .collect();
        Ok((row, problems))
    }

    /// Ranked candidates for `rec` with a decision on it.
    ///
    /// # Errors
    ///
    /// A usage error when the record has no id. Invalid values are not errors: they are
    /// treated as missing and listed in [`QueryResult::invalid`].
    pub fn query(&self, rec: &Record, opts: &QueryOptions) -> Result<QueryResult, Error> {
        let (x, invalid) = self.normalise(rec)?;
        let s = &self.settings;
        let g = self.read();
        let (decision, scored, compared) = g.query(s, &x, opts);
        let candidates = scored
            .into_iter()
            .map(|c| g.candidate(s, c, opts.explain))
            .collect();
        Ok(QueryResult {
            decision,
            candidates,
            compared,
            invalid,
        })
    }

    /// Queries `rec` and adds it, atomically (no write comes between the answer and the
    /// insert): the batch-update step. With person ids, the record takes the person of the
    /// candidates it matches, merging them when it matches several people.
    ///
    /// # Errors
    ///
    /// As [`Index::insert`].
    pub fn link(
        &self,
        rec: &Record,
        opts: &QueryOptions,
    ) -> Result<(QueryResult, Option<PersonChanges>), Error> {
        self.add(rec, opts, true)
    }

    /// Adds `rec` to the index. When the index keeps person ids, the record is first
    /// matched against the index and takes the person id of the people it matches (merging
    /// them when it matches several), or a new one.
    ///
    /// # Errors
    ///
    /// A usage error when the index already holds a record with its id (use
    /// [`Index::update`]) or the record has no id.
    pub fn insert(&self, rec: &Record) -> Result<Option<PersonChanges>, Error> {
        Ok(self.add(rec, &QueryOptions::default(), false)?.1)
    }

    /// Inserts `rec` under one write lock, first answering it as a query (with `opts`) when
    /// `answer` or person ids need its candidates; an answer not asked for is left empty.
    fn add(
        &self,
        rec: &Record,
        opts: &QueryOptions,
        answer: bool,
    ) -> Result<(QueryResult, Option<PersonChanges>), Error> {
        let (row, invalid) = self.normalise(rec)?;
        let s = &self.settings;
        let mut g = self.write();
        if g.by_id.contains_key(row.id.as_str()) {
            return Err(duplicate_id());
        }
        let (decision, scored, compared) = if answer || g.people.is_some() {
            let all = QueryOptions {
                limit: usize::MAX,
                ..*opts
            };
            g.query(s, &row, &all)
        } else {
            (QueryDecision::NoMatch, Vec::new(), 0)
        };
        let matched = match_rows(&scored);
        let r = g.append(s, &row)?;
        let people = g.link_person(r, &row.id, &matched);
        let candidates = scored
            .into_iter()
            .take(if answer { opts.limit } else { 0 })
            .map(|c| g.candidate(s, c, opts.explain))
            .collect();
        let result = QueryResult {
            decision,
            candidates,
            compared,
            invalid,
        };
        Ok((result, people))
    }

    /// Replaces the record with `rec`'s id by `rec`, keeping its person id; when the change
    /// leaves its person in parts that no longer link, the person is split (and the split
    /// returned).
    ///
    /// # Errors
    ///
    /// A usage error when the index holds no record with that id.
    pub fn update(&self, rec: &Record) -> Result<Vec<PersonChange>, Error> {
        let (row, _) = self.normalise(rec)?;
        let s = &self.settings;
        let mut g = self.write();
        let old = *g.by_id.get(row.id.as_str()).ok_or_else(no_such_id)?;
        let unchanged = g.records.row(old) == row;
        g.retire(s, old);
        // The links of a changed record are made again from what it matches now.
        let matched: Vec<u32> = if g.people.is_some() && !unchanged {
            g.matches(s, &row)
        } else {
            Vec::new()
        };
        let r = g.append(s, &row)?;
        let Some(p) = g.people.as_mut() else {
            return Ok(Vec::new());
        };
        p.copy(old, r);
        let person = p.of(r);
        if unchanged {
            // Same values, same links: nothing can split.
            for m in p.links(old).to_vec() {
                p.link(r, m);
            }
            p.unlink(old);
            return Ok(Vec::new());
        }
        let mut starts = p.links(old).to_vec();
        starts.push(r);
        let same: Vec<u32> = matched.into_iter().filter(|&m| p.of(m) == person).collect();
        for m in same {
            p.link(r, m);
        }
        p.unlink(old);
        Ok(person
            .map(|q| g.split_check(q, &starts))
            .unwrap_or_default())
    }

    /// Removes the record with id `id`; when that leaves its person in parts that no longer
    /// link, the person is split (and the split returned).
    ///
    /// # Errors
    ///
    /// A usage error when the index holds no record with that id.
    pub fn remove(&self, id: &str) -> Result<Vec<PersonChange>, Error> {
        let s = &self.settings;
        let mut g = self.write();
        let old = *g.by_id.get(id).ok_or_else(no_such_id)?;
        g.retire(s, old);
        let Some(p) = g.people.as_mut() else {
            return Ok(Vec::new());
        };
        let (person, starts) = (p.of(old), p.links(old).to_vec());
        p.unlink(old);
        Ok(person
            .map(|q| g.split_check(q, &starts))
            .unwrap_or_default())
    }
}

impl Inner {
    /// Gives row `row` (record `id`) its person: that of the rows it matched, merging several.
    fn link_person(&mut self, row: u32, id: &str, matched: &[u32]) -> Option<PersonChanges> {
        let live = &self.live;
        let p = self.people.as_mut()?;
        for &m in matched {
            p.link(row, m);
        }
        let mut persons: Vec<u32> = matched.iter().filter_map(|&r| p.of(r)).collect();
        persons.sort_unstable();
        persons.dedup();
        match persons[..] {
            [] => {
                let name = p.assign_new(row, id);
                Some(PersonChanges {
                    person_id: name,
                    new_person: true,
                    changes: Vec::new(),
                })
            }
            [one] => {
                p.set(row, one);
                Some(PersonChanges {
                    person_id: p.name(one).to_string(),
                    new_person: false,
                    changes: Vec::new(),
                })
            }
            _ => {
                // Each person's records, walked from a row the record matched; the person
                // with the most keeps its id (ties: the smaller id).
                let mut groups: Vec<(u32, Vec<u32>)> = persons
                    .iter()
                    .map(|&q| {
                        let start = matched.iter().copied().find(|&m| p.of(m) == Some(q));
                        (q, start.map_or_else(Vec::new, |m| p.part(m, live)))
                    })
                    .collect();
                groups.sort_by(|(a, ra), (b, rb)| {
                    rb.len()
                        .cmp(&ra.len())
                        .then_with(|| p.name(*a).cmp(p.name(*b)))
                });
                let kept = groups[0].0;
                let mut names: Vec<String> = groups[1..]
                    .iter()
                    .map(|(q, _)| p.name(*q).to_string())
                    .collect();
                names.sort();
                for (_, rows) in &groups[1..] {
                    for &r in rows {
                        p.set(r, kept);
                    }
                }
                p.set(row, kept);
                let kept_name = p.name(kept).to_string();
                Some(PersonChanges {
                    person_id: kept_name.clone(),
                    new_person: false,
                    changes: vec![PersonChange::Merge {
                        kept: kept_name,
                        absorbed: names,
                    }],
                })
            }
        }
    }

    /// The rows `x` matches (decision `match`), for person ids.
    fn matches(&self, s: &Settings, x: &NewRow) -> Vec<u32> {
        let all = QueryOptions {
            limit: usize::MAX,
            ..QueryOptions::default()
        };
        match_rows(&self.query(s, x, &all).1)
    }

    /// The answer's form of a scored candidate.
    fn candidate(&self, s: &Settings, c: Scored, explain: bool) -> Candidate {
        let explanation = explain.then(|| s.weights.explain(c.vector, |k| self.freq(s, k, c.row)));
        let match_w = crate::link::odds_bits(s.model.thresholds().match_probability);
        let reason = c.decision.and_then(|d| {
            let r = crate::link::reason_for(d, c.veto, Some(c.weight.bits()), match_w, false);
            let fields = s.model.comparisons();
            r.map(|r| {
                crate::link::reason_text(Some(r), |i| fields.get(i).map(|f| f.field.as_str()))
                    .into_owned()
            })
        });
        Candidate {
            id: self.records.id(c.row).to_string(),
            person_id: self.people.as_ref().map(|p| p.id_of(c.row).to_string()),
            weight: c.weight,
            probability: c.weight.probability(),
            decision: c.decision,
            rule: c.rule.map(|r| s.rules[usize::from(r)].name().to_string()),
            reason,
            explanation,
        }
    }

    /// Splits person `p` when the links among its live rows no longer connect them: the
    /// parts are walked from `starts`, the rows that were linked to the removed or changed
    /// record (every other row of the person is connected to one of them).
    fn split_check(&mut self, p: u32, starts: &[u32]) -> Vec<PersonChange> {
        let Some(people) = self.people.as_ref() else {
            return Vec::new();
        };
        let mut parts: Vec<Vec<u32>> = Vec::new();
        for &st in starts {
            let seen = parts.iter().any(|part| part.binary_search(&st).is_ok());
            if self.live[st as usize] && people.of(st) == Some(p) && !seen {
                parts.push(people.part(st, &self.live));
            }
        }
        if parts.len() < 2 {
            return Vec::new();
        }
        let records = &self.records;
        let smallest = |part: &[u32]| part.iter().map(|&r| records.id(r)).min().unwrap_or("");
        // The largest part keeps the id (ties: the part with the smallest record id).
        parts.sort_by(|a, b| {
            b.len()
                .cmp(&a.len())
                .then_with(|| smallest(a).cmp(smallest(b)))
        });
        let ids: Vec<String> = parts
            .iter()
            .map(|part| smallest(part).to_string())
            .collect();
        let Some(people) = self.people.as_mut() else {
            return Vec::new();
        };
        let kept = people.name(p).to_string();
        let mut new: Vec<String> = parts[1..]
            .iter()
            .zip(&ids[1..])
            .map(|(part, id)| people.split_off(part, id))
            .collect();
        new.sort();
        vec![PersonChange::Split { kept, new }]
    }
}

fn duplicate_id() -> Error {
    Error::new(
        ErrorKind::Usage,
        "the index already holds a record with this id (update it instead)".to_string(),
    )
}

fn no_such_id() -> Error {
    Error::new(
        ErrorKind::Usage,
        "the index holds no record with this id".to_string(),
    )
}

// The index is shared by threads: a compile-time check.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Index>();
};
