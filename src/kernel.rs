//! Linkage in parts, for an engine that distributes the work: carematch as the kernel of a
//! Spark job (the Python package's `carematch.spark` runs these in `mapInArrow`).
//!
//! A [`Kernel`] holds what a link needs besides the data: the config, the model (trained on a
//! sample, or loaded), the deterministic rules, and the term frequencies of the whole data.
//! It travels as JSON ([`Kernel::to_json`], [`Kernel::from_json`]): what a Spark job
//! broadcasts. Its three steps each take Arrow rows and return Arrow columns:
//!
//! 1. [`Kernel::prepare`]: one source's records, normalised as a file's rows are, with every
//!    blocking rule's key (the ladder's blocking rules, then the model's), each value a
//!    term frequency counts, the NHS-number key and the record's own person id. Two records
//!    are paired by a rule exactly when its key columns are equal and not null, so the
//!    engine's equi-joins make the pairs the batch blocker makes.
//! 2. [`Kernel::score`]: candidate pairs (row i of the left rows with row i of the right
//!    rows): the ladder's rule, the model's weight, and whether the pair is written and
//!    whether its decision depends on other pairs.
//! 3. [`Kernel::decide`]: the pairs whose decisions depend on each other (every ladder
//!    match, every pair the model would match), a whole connected group of them at a time,
//!    decided by the code of [`crate::Linker`] itself, with the person ids of their records.
//!
//! # Why the result is the command line's
//!
//! Everything in a run that depends on more than one pair is one of these, and each is
//! reproduced:
//!
//! - **Term frequencies** are shares of all records (both files) holding a value: the engine
//!   counts the `_cm_tf_<c>` columns of step 1 over all the data and hands the counts back
//!   (`frequencies` in the JSON); scoring then uses them, not the counts of its part.
//! - **Pairs made once**: a pair made by several blocking rules is one pair, and its rule is
//!   the first of the ladder it satisfies, whichever blocking rule made it.
//! - **Decisions that depend on other pairs**: a record whose best rule meets two records,
//!   the ambiguity margin among a record's model matches (scoring the two rivals against
//!   each other), `one_to_one`, and the clusters. Each reads only pairs that share a record,
//!   step by step: so a pair's decision depends only on the pairs of its connected group in
//!   the graph of rule matches and model matches. Step 3 runs the run's own code on whole
//!   groups; of two equally good rivals the one with the smaller id counts as the better, so
//!   nothing depends on the order pairs come in.
//! - **Ranks** (orders by record id) compare ids as bytes, as an engine's string order does.
//!
//! Pseudonymised input is not supported here yet: its term frequencies count tokens that
//! step 1 does not hand out.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::DataType;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::block::{BlockingRule, Pair};
use crate::compare::Kind;
use crate::error::config_err;
use crate::index::keys::{KeyValue, View, key_value};
use crate::input::Table;
use crate::link::{Decision, Link, Linker, model_decision, odds_bits, reason_for, reason_text};
use crate::model::{Model, Scorer};
use crate::record::Records;
use crate::rules::{Ladder, MatchRule};
use crate::schema::{Role, Schema};
use crate::{Config, Error};

/// The `format` of a kernel's JSON.
pub const FORMAT: &str = "carematch-kernel";
/// The version of a kernel's JSON this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;
/// The prefix of the columns the kernel adds; an input column may not start with it.
pub const PREFIX: &str = "_cm_";

/// The term frequencies of all the data: per `_cm_tf_<c>` column of [`Kernel::prepare`],
/// how many records hold each value, and how many records there are in all (both sources).
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Frequencies {
    /// Records in all the data.
    pub rows: u64,
    /// Per term-frequency column: value → records holding it.
    pub counts: BTreeMap<String, BTreeMap<String, u64>>,
}

/// The JSON form of a kernel.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    format: String,
    version: u32,
    config: Config,
    model: Box<serde_json::value::RawValue>,
    rules: Vec<MatchRule>,
    headers: [Vec<String>; 2],
    /// Written for the engine (what to join on); made again from the rules and model on read.
    #[serde(default)]
    blocking: Vec<BlockingColumn>,
    /// Written for the engine (what to count); made again from the model on read.
    #[serde(default)]
    term_frequencies: Vec<TfColumn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    frequencies: Option<Frequencies>,
}

/// A blocking rule's key column.
#[derive(Serialize, Deserialize)]
struct BlockingColumn {
    /// `"rules"` (the ladder's blocking) or `"model"`.
    pass: String,
    rule: String,
    column: String,
}

/// A term-frequency column.
#[derive(Serialize, Deserialize)]
struct TfColumn {
    comparison: String,
    column: String,
}

/// One comparison's counts of records per value, and their total.
type Counts = (FxHashMap<String, u64>, u64);

/// The settings of a distributed link, and its three steps (see the [module docs](self)).
#[derive(Clone)]
pub struct Kernel {
    config: Config,
    model: Model,
    headers: [Vec<String>; 2],
    linker: Linker,
    /// Every blocking rule, the ladder's first; `true` for the ladder's.
    blocking: Vec<(bool, BlockingRule)>,
    /// The term-frequency adjusted comparisons.
    tf: Vec<usize>,
    /// Per comparison: (value → count, total), for the adjusted ones; and all records.
    shares: Option<(Vec<Option<Counts>>, u64)>,
    frequencies: Option<Frequencies>,
}

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Counts only: the frequencies hold names and postcodes.
        f.debug_struct("Kernel")
            .field("rules", &self.linker.rules().len())
            .field("blocking", &self.blocking.len())
            .field("frequencies", &self.frequencies.is_some())
            .finish_non_exhaustive()
    }
}

/// A table of no rows with the columns of a source: the other source of a one-source step.
struct Header<'a>(&'a [String]);

impl Table for Header<'_> {
    fn column_names(&self) -> Vec<String> {
        self.0.to_vec()
    }
    fn row_count(&self) -> usize {
        0
    }
    fn write_value(&self, _: usize, _: usize, _: &mut Vec<u8>) -> Result<(), Error> {
        Ok(())
    }
}

/// Some rows of a table, in a given order.
struct Rows<'a> {
    table: &'a dyn Table,
    rows: Vec<usize>,
}

impl Table for Rows<'_> {
    fn column_names(&self) -> Vec<String> {
        self.table.column_names()
    }
    fn row_count(&self) -> usize {
        self.rows.len()
    }
    fn write_value(&self, column: usize, row: usize, out: &mut Vec<u8>) -> Result<(), Error> {
        match self.rows.get(row) {
            Some(&r) => self.table.write_value(column, r, out),
            None => Ok(()),
        }
    }
}

/// The names of the two sources, in messages.
const SIDES: [&str; 2] = ["left", "right"];

impl Kernel {
    /// A kernel for linking two sources, with `config` and `model`; `sample` is a store of
    /// both sources (a sample of each, or all of it) from which the deterministic rules are
    /// chosen as the command line chooses them (the identifier columns are profiled on it),
    /// and `headers` are the two sources' column names. The config's thresholds are applied
    /// to the model, as `link --model` applies them.
    ///
    /// # Errors
    ///
    /// A usage error when `sample` does not hold two sources; a config error for
    /// pseudonymised input, a column whose name starts with [`PREFIX`], thresholds that are
    /// not valid, or a rule or comparison that names a column the sample lacks.
    pub fn new(
        config: Config,
        mut model: Model,
        sample: &Records,
        headers: [Vec<String>; 2],
    ) -> Result<Kernel, Error> {
        if sample.sources().len() != 2 {
            return Err(Error::usage(
                "a kernel is made from a store of the two sources of a link",
            ));
        }
        if sample.is_encoded() || model.is_encoded() {
            return Err(config_err(
                "pseudonymised input cannot be linked in parts yet: link it with `carematch link`"
                    .into(),
            ));
        }
        for (side, names) in headers.iter().enumerate() {
            if let Some(h) = names.iter().find(|h| h.starts_with(PREFIX)) {
                return Err(config_err(format!(
                    "{} column '{h}': names starting with {PREFIX} are the kernel's own",
                    SIDES[side]
                )));
            }
        }
        config.apply_thresholds(&mut model, None, "model")?;
        let rules = config.rules_for(sample);
        let kernel = Kernel::assemble(config, model, rules, headers)?;
        kernel
            .linker
            .plan(sample, &crate::block::Mode::link(sample, 0, 1)?)?;
        Ok(kernel)
    }

    /// The kernel of its parts, with no term frequencies yet.
    fn assemble(
        config: Config,
        model: Model,
        rules: Vec<MatchRule>,
        headers: [Vec<String>; 2],
    ) -> Result<Kernel, Error> {
        let linker = Linker::builder()
            .rules(rules)
            .model(Some(model.clone()))
            .one_to_one(config.one_to_one)
            .build()?;
        let blocking = linker
            .blocking_rules()
            .into_iter()
            .map(|r| (true, r))
            .chain(model.blocking().iter().map(|r| (false, r.clone())))
            .collect();
        let tf = (0..model.comparisons().len())
            .filter(|&c| model.term_frequency(c))
            .collect();
        Ok(Kernel {
            config,
            model,
            headers,
            linker,
            blocking,
            tf,
            shares: None,
            frequencies: None,
        })
    }

    /// The kernel with the term frequencies of all the data (see [`Frequencies`]).
    ///
    /// # Errors
    ///
    /// A config error naming a term-frequency column the counts lack or a column they have
    /// that is not one.
    pub fn with_frequencies(mut self, f: Frequencies) -> Result<Kernel, Error> {
        let columns: Vec<String> = self.tf.iter().map(|&c| tf_column(c)).collect();
        if let Some(extra) = f.counts.keys().find(|k| !columns.contains(k)) {
            return Err(config_err(format!(
                "kernel frequencies: '{extra}' is not a term-frequency column of the model"
            )));
        }
        let mut per = vec![None; self.model.comparisons().len()];
        for (&c, name) in self.tf.iter().zip(&columns) {
            let counts = f.counts.get(name).ok_or_else(|| {
                config_err(format!("kernel frequencies: no counts for column '{name}'"))
            })?;
            let total = counts.values().sum();
            per[c] = Some((counts.iter().map(|(k, &v)| (k.clone(), v)).collect(), total));
        }
        self.shares = Some((per, f.rows));
        self.frequencies = Some(f);
        Ok(self)
    }

    /// The kernel as JSON (see the [module docs](self)); with its term frequencies when it
    /// has them.
    pub fn to_json(&self) -> String {
        let blocking = self
            .blocking
            .iter()
            .enumerate()
            .map(|(j, (ladder, rule))| BlockingColumn {
                pass: if *ladder { "rules" } else { "model" }.into(),
                rule: rule.to_string(),
                column: key_column(j),
            })
            .collect();
        let term_frequencies = self
            .tf
            .iter()
            .map(|&c| TfColumn {
                comparison: self.model.comparisons()[c].field.clone(),
                column: tf_column(c),
            })
            .collect();
        let doc = Doc {
            format: FORMAT.into(),
            version: FORMAT_VERSION,
            config: self.config.clone(),
            model: serde_json::value::RawValue::from_string(self.model.to_json())
                .unwrap_or_else(|_| serde_json::value::RawValue::NULL.to_owned()),
            rules: self.linker.rules().to_vec(),
            headers: self.headers.clone(),
            blocking,
            term_frequencies,
            frequencies: self.frequencies.clone(),
        };
        serde_json::to_string(&doc).unwrap_or_default()
    }

    /// A kernel from its JSON ([`Kernel::to_json`]).
    ///
    /// # Errors
    ///
    /// A config error for malformed JSON, another format or version, an invalid model or
    /// rule, or frequencies that do not fit the model.
    pub fn from_json(text: &str) -> Result<Kernel, Error> {
        let doc: Doc = serde_json::from_str(text)
            // Where, not what: the document holds values (its frequency tables), and
            // serde's message can quote one.
            .map_err(|e| {
                config_err(format!(
                    "invalid kernel JSON ({:?} error at line {}, column {})",
                    e.classify(),
                    e.line(),
                    e.column()
                ))
            })?;
        if doc.format != FORMAT || doc.version != FORMAT_VERSION {
            return Err(config_err(format!(
                "not a kernel this build reads: format '{}' version {} (expected '{FORMAT}' \
                 version {FORMAT_VERSION})",
                doc.format.escape_debug(),
                doc.version
            )));
        }
        let model = Model::from_json(doc.model.get())?;
        let kernel = Kernel::assemble(doc.config, model, doc.rules, doc.headers)?;
        match doc.frequencies {
            Some(f) => kernel.with_frequencies(f),
            None => Ok(kernel),
        }
    }

    /// A store of the two sources: `tables[side]`, or no rows with the source's columns.
    fn store(&self, tables: [Option<&dyn Table>; 2]) -> Result<Records, Error> {
        let mut b = Records::builder();
        b.columns(self.config.columns.clone())
            .strict(self.config.strict)
            .accept_test_nhs_numbers(self.config.accept_test_nhs_numbers);
        for (side, t) in tables.into_iter().enumerate() {
            let header = Header(&self.headers[side]);
            let t: &dyn Table = t.unwrap_or(&header);
            let names = t.column_names();
            if names != self.headers[side] {
                return Err(Error::usage(&format!(
                    "the {} rows have the columns {names:?}; the kernel was made for {:?}",
                    SIDES[side], self.headers[side]
                )));
            }
            b.add_table(SIDES[side], t)?;
        }
        Ok(b.build()?.0)
    }

    /// Normalises one source's rows (`side` 0 for left, 1 for right) and returns, per row,
    /// the columns the engine needs (all text unless said): `_cm_id` (the record id as
    /// read), `_cm_nhs` (64-bit integer: equal for two records exactly when they carry one
    /// valid NHS number; 0 for none), `_cm_person` (the person id the record has when it is
    /// linked to nobody), `_cm_tf_<c>` per term-frequency adjusted comparison (the value
    /// counted) and `_cm_key_<j>` per blocking rule (null when a key is missing).
    ///
    /// # Errors
    ///
    /// A usage error for a `side` not 0 or 1 or rows whose columns are not the kernel's; an
    /// input error (naming the row and column, never the value) as reading a file gives:
    /// an empty or repeated id, an invalid value in strict mode.
    pub fn prepare(&self, side: usize, rows: &dyn Table) -> Result<RecordBatch, Error> {
        if side > 1 {
            return Err(Error::usage(&format!("side {side}: 0 (left) or 1 (right)")));
        }
        let mut tables: [Option<&dyn Table>; 2] = [None, None];
        tables[side] = Some(rows);
        let records = self.store(tables)?;
        let range = records.sources()[side].rows.clone();
        let n = range.len();
        let nhs = records.nhs_keys();
        let mut id = StringBuilder::with_capacity(n, n * 10);
        let mut person = StringBuilder::with_capacity(n, n * 17);
        let mut nhs_col = Int64Builder::with_capacity(n);
        let mut tfs: Vec<StringBuilder> = self.tf.iter().map(|_| StringBuilder::new()).collect();
        let mut keys: Vec<StringBuilder> =
            self.blocking.iter().map(|_| StringBuilder::new()).collect();
        let others: Vec<String> = records.other_columns().map(str::to_string).collect();
        for row in range {
            id.append_value(records.id(row));
            person.append_value(crate::cluster::person_id(side, records.id(row)));
            nhs_col.append_value(i64::try_from(nhs[row as usize]).unwrap_or(i64::MAX));
            for (b, &c) in tfs.iter_mut().zip(&self.tf) {
                b.append_option(tf_text(&records, &self.model.comparisons()[c], row));
            }
            let view = View::of_row(&records, row);
            for (b, (_, rule)) in keys.iter_mut().zip(&self.blocking) {
                b.append_option(rule_key(rule, &view, &others));
            }
        }
        let mut fields = vec![
            (format!("{PREFIX}id"), DataType::Utf8, false),
            (format!("{PREFIX}nhs"), DataType::Int64, false),
            (format!("{PREFIX}person"), DataType::Utf8, false),
        ];
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(id.finish()),
            Arc::new(nhs_col.finish()),
            Arc::new(person.finish()),
        ];
        for (b, &c) in tfs.iter_mut().zip(&self.tf) {
            fields.push((tf_column(c), DataType::Utf8, true));
            columns.push(Arc::new(b.finish()));
        }
        for (j, b) in keys.iter_mut().enumerate() {
            fields.push((key_column(j), DataType::Utf8, true));
            columns.push(Arc::new(b.finish()));
        }
        crate::arrow::batch_of("prepared rows", fields, columns)
    }

    /// A store of the records of pairs (row i of `left` with row i of `right`), each record
    /// once, and the pairs as rows of it.
    fn pair_store(
        &self,
        left: &dyn Table,
        right: &dyn Table,
    ) -> Result<(Records, Vec<Pair>), Error> {
        if left.row_count() != right.row_count() {
            return Err(Error::usage(&format!(
                "pairs: the left rows are {} and the right rows {}; row i of each is a pair",
                left.row_count(),
                right.row_count()
            )));
        }
        let (l, li) = self.distinct(0, left)?;
        let (r, ri) = self.distinct(1, right)?;
        let records = self.store([Some(&l), Some(&r)])?;
        let start = records.sources()[1].rows.start;
        let pairs = li
            .iter()
            .zip(&ri)
            .map(|(&a, &b)| Pair {
                left: a,
                right: start + b,
            })
            .collect();
        Ok((records, pairs))
    }

    /// The rows of `table` with distinct ids (the first of each), and per row of `table` its
    /// position among them.
    fn distinct<'t>(
        &self,
        side: usize,
        table: &'t dyn Table,
    ) -> Result<(Rows<'t>, Vec<u32>), Error> {
        let names = table.column_names();
        let schema = Schema::resolve(&names, &self.config.columns, SIDES[side])?;
        let id_col = schema.columns_with(Role::Id)[0];
        let mut seen: FxHashMap<Vec<u8>, u32> = FxHashMap::default();
        let mut rows = Vec::new();
        let mut at = Vec::with_capacity(table.row_count());
        let mut value = Vec::new();
        for r in 0..table.row_count() {
            value.clear();
            table.write_value(id_col, r, &mut value)?;
            let next = rows.len() as u32;
            let i = *seen.entry(value.trim_ascii().to_vec()).or_insert(next);
            if i == next {
                rows.push(r);
            }
            at.push(i);
        }
        Ok((Rows { table, rows }, at))
    }

    /// Per pair: whether a blocking rule of the ladder, and one of the model, pairs it.
    fn blocked(&self, records: &Records, pairs: &[Pair]) -> Vec<(bool, bool)> {
        let others: Vec<String> = records.other_columns().map(str::to_string).collect();
        let keys: Vec<Vec<Option<String>>> = (0..records.len() as u32)
            .map(|row| {
                let view = View::of_row(records, row);
                self.blocking
                    .iter()
                    .map(|(_, rule)| rule_key(rule, &view, &others))
                    .collect()
            })
            .collect();
        pairs
            .iter()
            .map(|p| {
                let (a, b) = (&keys[p.left as usize], &keys[p.right as usize]);
                let mut out = (false, false);
                for (j, (ladder, _)) in self.blocking.iter().enumerate() {
                    if a[j].is_some() && a[j] == b[j] {
                        if *ladder {
                            out.0 = true;
                        } else {
                            out.1 = true;
                        }
                    }
                }
                out
            })
            .collect()
    }

    /// The model made ready on `records` with the term frequencies of all the data.
    fn scorer<'r>(&self, records: &'r Records) -> Result<Scorer<'r>, Error> {
        let Some((per, rows)) = &self.shares else {
            if self.tf.is_empty() {
                return Scorer::new(&self.model, records);
            }
            return Err(config_err(
                "the kernel has no term frequencies: count its _cm_tf_ columns over all the \
                 data and give them (`frequencies`) before scoring"
                    .into(),
            ));
        };
        Scorer::with_frequencies(
            &self.model,
            records,
            |c, text| match per.get(c).and_then(Option::as_ref) {
                Some((counts, total)) => {
                    counts.get(text).copied().unwrap_or(0) as f64 / (*total).max(1) as f64
                }
                None => 0.0,
            },
            *rows,
        )
    }

    /// Scores candidate pairs: row i of `left` (left source's columns) with row i of
    /// `right`. Per pair: `rule` (the first ladder rule it satisfies, when the ladder's
    /// blocking pairs it), `match_weight`, `match_probability`, `keep` (true when the run
    /// writes it or may: a ladder match, or the model's blocking pairs it at or above the
    /// review weight), `relevant` (true when its decision depends on other pairs: a ladder
    /// match or a pair the model would match; such pairs go to [`Kernel::decide`]), and for
    /// the other kept pairs their final `decision` (`review`) and `reason`.
    ///
    /// # Errors
    ///
    /// A usage error when the two have different row counts or columns not the kernel's; a
    /// config error without term frequencies; input errors as [`Kernel::prepare`].
    pub fn score(&self, left: &dyn Table, right: &dyn Table) -> Result<RecordBatch, Error> {
        let (records, pairs) = self.pair_store(left, right)?;
        let scorer = self.scorer(&records)?;
        let ladder = Ladder::new(&records, self.linker.rules())?;
        let t = self.model.thresholds();
        let (match_w, review_w) = (
            odds_bits(t.match_probability),
            odds_bits(t.review_probability),
        );
        let n = pairs.len();
        let mut rule = StringBuilder::new();
        let (mut weight, mut prob) = (
            Float64Builder::with_capacity(n),
            Float64Builder::with_capacity(n),
        );
        let (mut keep, mut relevant) = (
            BooleanBuilder::with_capacity(n),
            BooleanBuilder::with_capacity(n),
        );
        let (mut decision, mut reason) = (StringBuilder::new(), StringBuilder::new());
        for (&p, (in_ladder, in_model)) in pairs.iter().zip(self.blocked(&records, &pairs)) {
            let r = if in_ladder {
                ladder.first_match(p)
            } else {
                None
            };
            let (v, w) = scorer.score(p);
            let veto = scorer.veto(v, p);
            let bits = w.bits();
            let kept = r.is_some() || (in_model && bits >= review_w);
            let model_says = model_decision(bits, veto.is_some(), match_w, review_w);
            let rel = r.is_some() || (kept && model_says == Some(Decision::Match));
            rule.append_option(r.map(|r| self.rule_name(r)));
            weight.append_value(bits);
            prob.append_value(w.probability().get());
            keep.append_value(kept);
            relevant.append_value(rel);
            if kept && !rel {
                let why = reason_for(Decision::Review, veto, Some(bits), match_w, false);
                decision.append_value(Decision::Review.as_str());
                reason.append_value(self.reason(why));
            } else {
                decision.append_null();
                reason.append_null();
            }
        }
        crate::arrow::batch_of(
            "scored pairs",
            vec![
                ("rule".into(), DataType::Utf8, true),
                ("match_weight".into(), DataType::Float64, false),
                ("match_probability".into(), DataType::Float64, false),
                ("keep".into(), DataType::Boolean, false),
                ("relevant".into(), DataType::Boolean, false),
                ("decision".into(), DataType::Utf8, true),
                ("reason".into(), DataType::Utf8, true),
            ],
            vec![
                Arc::new(rule.finish()),
                Arc::new(weight.finish()),
                Arc::new(prob.finish()),
                Arc::new(keep.finish()),
                Arc::new(relevant.finish()),
                Arc::new(decision.finish()),
                Arc::new(reason.finish()),
            ],
        )
    }

    /// Decides pairs whose decisions depend on each other (row i of `left` with row i of
    /// `right`): the pairs must be whole connected groups of the graph of ladder matches and
    /// model matches (any number of groups at once), as [`Kernel::score`] marks them
    /// `relevant`. Per pair: `decision` (`match`, `review`, `ambiguous`, or null when it is
    /// not written), `reason`, `rule` (the rule that linked it; null for the model's),
    /// `match_weight`, `match_probability`, and the person ids of its two records
    /// (`left_person`, `right_person`).
    ///
    /// # Errors
    ///
    /// As [`Kernel::score`].
    pub fn decide(&self, left: &dyn Table, right: &dyn Table) -> Result<RecordBatch, Error> {
        let (records, pairs) = self.pair_store(left, right)?;
        let scorer = self.scorer(&records)?;
        let flags = self.blocked(&records, &pairs);
        let of = |pick: fn(&(bool, bool)) -> bool| -> Vec<Pair> {
            pairs
                .iter()
                .zip(&flags)
                .filter(|(_, f)| pick(f))
                .map(|(&p, _)| p)
                .collect()
        };
        let links =
            self.linker
                .decide_pairs(&records, &scorer, &of(|f| f.0), &of(|f| f.1), false)?;
        let n_rules = self.linker.rules().len() as u16;
        let matched: Vec<(Pair, u16)> = links
            .iter()
            .filter(|l| l.decision == Decision::Match)
            .map(|l| (l.pair, l.rule.unwrap_or(n_rules)))
            .collect();
        let clusters = crate::cluster::Clusters::new(&records, &matched);
        let by_pair: FxHashMap<Pair, &Link> = links.iter().map(|l| (l.pair, l)).collect();
        let n = pairs.len();
        let mut cols: [StringBuilder; 5] = std::array::from_fn(|_| StringBuilder::new());
        let (mut weight, mut prob) = (
            Float64Builder::with_capacity(n),
            Float64Builder::with_capacity(n),
        );
        for p in &pairs {
            let link = by_pair.get(p);
            cols[0].append_option(link.map(|l| l.decision.as_str()));
            cols[1].append_option(link.map(|l| self.reason(l.reason)));
            cols[2].append_option(link.and_then(|l| l.rule).map(|r| self.rule_name(r)));
            cols[3].append_value(clusters.person_id(p.left));
            cols[4].append_value(clusters.person_id(p.right));
            let w = scorer.weight(*p);
            weight.append_value(w.bits());
            prob.append_value(w.probability().get());
        }
        let [decision, reason, rule, lp, rp] = cols.map(|mut b| Arc::new(b.finish()) as ArrayRef);
        crate::arrow::batch_of(
            "decided pairs",
            vec![
                ("decision".into(), DataType::Utf8, true),
                ("reason".into(), DataType::Utf8, true),
                ("rule".into(), DataType::Utf8, true),
                ("match_weight".into(), DataType::Float64, false),
                ("match_probability".into(), DataType::Float64, false),
                ("left_person".into(), DataType::Utf8, false),
                ("right_person".into(), DataType::Utf8, false),
            ],
            vec![
                decision,
                reason,
                rule,
                Arc::new(weight.finish()),
                Arc::new(prob.finish()),
                lp,
                rp,
            ],
        )
    }

    /// The name of ladder rule `r`.
    fn rule_name(&self, r: u16) -> &str {
        self.linker
            .rules()
            .get(usize::from(r))
            .map_or("", MatchRule::name)
    }

    /// The `reason` column's text.
    fn reason(&self, reason: Option<crate::link::Reason>) -> String {
        reason_text(reason, |c| {
            self.model.comparisons().get(c).map(|x| x.field.as_str())
        })
        .into_owned()
    }
}

/// The name of blocking rule `j`'s key column.
fn key_column(j: usize) -> String {
    format!("{PREFIX}key_{j}")
}

/// The name of comparison `c`'s term-frequency column.
fn tf_column(c: usize) -> String {
    format!("{PREFIX}tf_{c}")
}

/// The value whose frequency adjusts comparison `c`'s exact level on `row`: the field the
/// batch scorer counts for it (see `compare::Spec::new`).
fn tf_text<'r>(records: &'r Records, c: &crate::compare::Comparison, row: u32) -> Option<&'r str> {
    match c.kind {
        Kind::GivenName => records.given_name(row),
        Kind::Surname => records.surname(row),
        Kind::Location | Kind::Postcode => records.postcode(row),
        Kind::Text | Kind::Identifier => records.other(&c.field, row),
        _ => None,
    }
}

/// A rule's key on a record as text: equal for two records exactly when every key of the
/// rule has a value on both and the values are equal (each part length-prefixed, so that
/// no two tuples write the same text); `None` when a key is missing.
fn rule_key(rule: &BlockingRule, view: &View<'_>, others: &[String]) -> Option<String> {
    let mut out = String::new();
    for k in rule.keys() {
        match key_value(k, view, others)? {
            KeyValue::Text(t) => {
                let _ = write!(out, "{}:{t}", t.len());
            }
            KeyValue::Number(n) => {
                let _ = write!(out, "#{n}");
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Array, BooleanArray, StringArray};

    /// Rows of a CSV file as a table (the first `limit` rows).
    struct Frame {
        names: Vec<String>,
        rows: Vec<Vec<String>>,
    }

    impl Table for Frame {
        fn column_names(&self) -> Vec<String> {
            self.names.clone()
        }
        fn row_count(&self) -> usize {
            self.rows.len()
        }
        fn write_value(&self, c: usize, r: usize, out: &mut Vec<u8>) -> Result<(), Error> {
            out.extend_from_slice(self.rows[r][c].as_bytes());
            Ok(())
        }
    }

    fn frame(path: &str, limit: usize) -> Frame {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        let mut rdr = csv::Reader::from_path(p).unwrap();
        let names = rdr.headers().unwrap().iter().map(str::to_string).collect();
        let rows = rdr
            .records()
            .take(limit)
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect();
        Frame { names, rows }
    }

    fn picked(f: &Frame, rows: &[usize]) -> Frame {
        Frame {
            names: f.names.clone(),
            rows: rows.iter().map(|&r| f.rows[r].clone()).collect(),
        }
    }

    fn text(b: &RecordBatch, name: &str) -> Vec<Option<String>> {
        let a = b.column_by_name(name).unwrap();
        let s = a.as_any().downcast_ref::<StringArray>().unwrap();
        (0..s.len())
            .map(|i| (!s.is_null(i)).then(|| s.value(i).to_string()))
            .collect()
    }

    fn flag(b: &RecordBatch, name: &str) -> Vec<bool> {
        let a = b.column_by_name(name).unwrap();
        let s = a.as_any().downcast_ref::<BooleanArray>().unwrap();
        (0..s.len()).map(|i| s.value(i)).collect()
    }

    /// The kernel with the frequencies of the prepared rows, through its JSON.
    fn counted(kernel: Kernel, prepared: &[RecordBatch], rows: usize) -> Kernel {
        let mut f = Frequencies {
            rows: rows as u64,
            counts: BTreeMap::new(),
        };
        for &c in &kernel.tf {
            let counts = f.counts.entry(tf_column(c)).or_default();
            for p in prepared {
                for v in text(p, &tf_column(c)).into_iter().flatten() {
                    *counts.entry(v).or_default() += 1;
                }
            }
        }
        Kernel::from_json(&kernel.with_frequencies(f).unwrap().to_json()).unwrap()
    }

    /// The pairs of rows of the prepared sources with a key column equal and not null.
    fn joined(kernel: &Kernel, prepared: &[RecordBatch]) -> Vec<(usize, usize)> {
        // Candidate pairs: any key column equal and not null.
        let keys: Vec<[Vec<Option<String>>; 2]> = (0..kernel.blocking.len())
            .map(|j| {
                [
                    text(&prepared[0], &key_column(j)),
                    text(&prepared[1], &key_column(j)),
                ]
            })
            .collect();
        let mut pairs = std::collections::BTreeSet::new();
        for [a, b] in &keys {
            let mut by_key: FxHashMap<&str, Vec<usize>> = FxHashMap::default();
            for (l, k) in a.iter().enumerate() {
                if let Some(k) = k {
                    by_key.entry(k).or_default().push(l);
                }
            }
            for (r, k) in b.iter().enumerate() {
                for &l in k
                    .as_deref()
                    .and_then(|k| by_key.get(k))
                    .into_iter()
                    .flatten()
                {
                    pairs.insert((l, r));
                }
            }
        }
        pairs.into_iter().collect()
    }

    /// The oracle: the kernel's three steps, with the pairs made by joins on its key
    /// columns and every relevant pair decided at once, give the pairs of one whole link
    /// (ids, decisions, rules, weights to the bit); and the frequencies given make the
    /// scores, not the part's own.
    #[test]
    fn a_malformed_kernel_document_is_refused_without_quoting_it() {
        let e = Kernel::from_json(r#"{"format": "x", "version": "SMITHSONIAN"}"#).unwrap_err();
        assert!(e.message().contains("invalid kernel JSON"), "{e}");
        assert!(!e.message().contains("SMITHSONIAN"), "{e}");
    }

    #[test]
    fn the_steps_give_the_pairs_of_a_whole_link() {
        let (gp, hosp) = (
            frame("examples/data/gp.csv", 2500),
            frame("examples/data/hospital.csv", 2500),
        );
        let mut b = Records::builder();
        b.add_table("gp", &gp)
            .unwrap()
            .add_table("hosp", &hosp)
            .unwrap();
        let records = b.build().unwrap().0;
        let (model, _) = Config::default()
            .train(
                &records,
                &crate::block::Mode::link(&records, 0, 1).unwrap(),
                Vec::new(),
            )
            .unwrap();
        let headers = [gp.names.clone(), hosp.names.clone()];
        let kernel = Kernel::new(Config::default(), model.clone(), &records, headers).unwrap();
        let prepared = [
            kernel.prepare(0, &gp).unwrap(),
            kernel.prepare(1, &hosp).unwrap(),
        ];
        let kernel = counted(kernel, &prepared, records.len());
        let pairs = joined(&kernel, &prepared);
        let (ls, rs): (Vec<usize>, Vec<usize>) = pairs.iter().copied().unzip();
        let scored = kernel
            .score(&picked(&gp, &ls), &picked(&hosp, &rs))
            .unwrap();
        let (keep, relevant) = (flag(&scored, "keep"), flag(&scored, "relevant"));
        let rel: Vec<usize> = (0..pairs.len()).filter(|&i| relevant[i]).collect();
        let (rl, rr): (Vec<usize>, Vec<usize>) = rel.iter().map(|&i| pairs[i]).unzip();
        let decided = kernel
            .decide(&picked(&gp, &rl), &picked(&hosp, &rr))
            .unwrap();
        let mut got: Vec<(String, String, String)> = Vec::new();
        let (dd, sd) = (text(&decided, "decision"), text(&scored, "decision"));
        for (k, &i) in rel.iter().enumerate() {
            if let Some(d) = &dd[k] {
                got.push((
                    gp.rows[pairs[i].0][0].clone(),
                    hosp.rows[pairs[i].1][0].clone(),
                    d.clone(),
                ));
            }
        }
        for i in (0..pairs.len()).filter(|&i| keep[i] && !relevant[i]) {
            let d = sd[i].clone().unwrap();
            got.push((
                gp.rows[pairs[i].0][0].clone(),
                hosp.rows[pairs[i].1][0].clone(),
                d,
            ));
        }
        got.sort();
        let linker = Linker::builder()
            .rules(Config::default().rules_for(&records))
            .model(Some(model))
            .build()
            .unwrap();
        let whole = linker.link(&records, 0, 1).unwrap();
        let mut want: Vec<(String, String, String)> = whole
            .links
            .iter()
            .map(|l| {
                (
                    records.id(l.pair.left).to_string(),
                    records.id(l.pair.right).to_string(),
                    l.decision.as_str().to_string(),
                )
            })
            .collect();
        want.sort();
        assert!(want.len() > 500, "{}", want.len());
        assert_eq!(got, want);
    }
}
