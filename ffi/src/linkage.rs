//! Linking two batches, deduplicating one, and reading the result.

use std::ffi::c_char;
use std::sync::OnceLock;

use carematch::{Clusters, Decision, Evaluation, LinkResult, Linker, Model, Records};

use crate::batch::{carematch_batch, read_batches};
use crate::guard::{Failure, ffi_body};
use crate::model::{Settings, carematch_model, train_on};
use crate::raw::{self, carematch_str};
use crate::status::{CAREMATCH_INVALID_ARGUMENT, carematch_status};

/// A pair was linked.
pub const CAREMATCH_DECISION_MATCH: u32 = 1;
/// A pair (or a query) needs a person to decide.
pub const CAREMATCH_DECISION_REVIEW: u32 = 2;
/// A pair would match but another candidate is about as good: not linked.
pub const CAREMATCH_DECISION_AMBIGUOUS: u32 = 3;
/// No candidate reaches the review threshold (a query's decision; a candidate below it).
pub const CAREMATCH_DECISION_NO_MATCH: u32 = 4;

/// The number of a pair decision.
pub(crate) fn decision_code(d: Option<Decision>) -> u32 {
    match d {
        Some(Decision::Match) => CAREMATCH_DECISION_MATCH,
        Some(Decision::Review) => CAREMATCH_DECISION_REVIEW,
        Some(Decision::Ambiguous) => CAREMATCH_DECISION_AMBIGUOUS,
        None => CAREMATCH_DECISION_NO_MATCH,
    }
}

/// One output pair.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
#[allow(non_camel_case_types)] // the C name, as declared in the header
pub struct carematch_pair {
    /// The left record's row in the left batch (in a dedupe: the record with the smaller id).
    pub left: u32,
    /// The right record's row in the right batch (in a dedupe: the same batch).
    pub right: u32,
    /// The model's match weight (log2 Bayes factor with the prior); NaN without a model.
    pub match_weight: f64,
    /// The match probability (1 for a rule match without a model).
    pub match_probability: f64,
    /// A `CAREMATCH_DECISION_*` number.
    pub decision: u32,
    /// The deterministic rule that matched (see `carematch_result_rule_name`), or -1.
    pub rule: i32,
}

/// Precision, recall and F1 of a result against true pairs.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
#[allow(non_camel_case_types)] // the C name, as declared in the header
pub struct carematch_evaluation {
    /// Share of linked pairs that are true (1 when nothing was linked).
    pub precision: f64,
    /// Share of true pairs that were linked.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Linked pairs that are true.
    pub true_positives: u64,
    /// Linked pairs that are not.
    pub false_positives: u64,
    /// True pairs not linked.
    pub false_negatives: u64,
}

/// The result of a link or dedupe: the pairs, readable by index, with what explains them.
/// Immutable once made (its clusters are computed on first use, safely): several threads may
/// read it at once.
#[allow(non_camel_case_types)] // the C name, as declared in the header
pub struct carematch_result {
    records: Records,
    result: LinkResult,
    model: Option<Model>,
    /// The first row of the left and right sources in `records`.
    starts: [u32; 2],
    clusters: OnceLock<Clusters>,
    /// The pairs file text, made once (a caller asks for its size, then for the text).
    csv: OnceLock<Result<String, String>>,
    /// What was missing or invalid in the input, per batch and column.
    quality: carematch::QualityReport,
}

impl carematch_result {
    fn pair(&self, i: usize) -> Result<carematch_pair, Failure> {
        let l = self.result.links.get(i).ok_or_else(|| {
            Failure::new(
                CAREMATCH_INVALID_ARGUMENT,
                format!("pair {i} of {}", self.result.links.len()),
            )
        })?;
        Ok(self.pair_of(l))
    }

    /// The C view of one of the result's links (infallible, so that a bulk copy cannot fail
    /// half way through the caller's array).
    fn pair_of(&self, l: &carematch::Link) -> carematch_pair {
        carematch_pair {
            left: l.pair.left - self.starts[0],
            right: l.pair.right - self.starts[1],
            match_weight: l.weight.map_or(f64::NAN, |w| w.bits()),
            match_probability: l.probability().map_or(f64::NAN, |p| p.get()),
            decision: decision_code(Some(l.decision)),
            rule: l.rule.map_or(-1, i32::from),
        }
    }
}

/// Runs a link (two batches) or a dedupe (one).
fn run(
    left: &carematch_batch,
    right: Option<&carematch_batch>,
    model: Option<&carematch_model>,
    settings: &Settings,
) -> Result<carematch_result, Failure> {
    let config = &settings.config;
    let batches: Vec<&carematch_batch> = std::iter::once(left).chain(right).collect();
    // One store for training and linking: the batches are read and normalised once.
    let (records, quality) = read_batches(&batches, config)?;
    let (mut model, label) = match model {
        Some(m) => (m.0.clone(), "model"),
        None => (train_on(&records, settings)?, "default"),
    };
    config.apply_thresholds(&mut model, None, label)?;
    let linker = Linker::builder()
        .rules(config.rules_for(&records))
        .model(Some(model.clone()))
        .one_to_one(config.one_to_one && right.is_some())
        .build()?;
    let mut result = if right.is_some() {
        linker.link(&records, 0, 1)?
    } else {
        linker.dedupe(&records, 0)?
    };
    if let Some(reviewed) = &settings.reviewed {
        // Reviewers' decisions are final, as `--reviewed` makes them, before the clusters.
        let mode = if right.is_some() {
            carematch::block::Mode::link(&records, 0, 1)?
        } else {
            carematch::block::Mode::dedupe(&records, 0)?
        };
        result.apply_reviewed(&records, &mode, reviewed);
    }
    let s = records.sources();
    let starts = [s[0].rows.start, s[s.len() - 1].rows.start];
    let clusters = OnceLock::new();
    if let Some(rows) = &settings.previous_clusters {
        // Person ids carried over from the earlier run, as `--previous-clusters` carries them.
        let previous = carematch::cluster::PreviousIds::from_triples(
            rows.iter()
                .map(|r| (r[0].as_str(), r[1].as_str(), r[2].as_str())),
        );
        let mut c = result.clusters(&records);
        c.carry_over(&records, &previous);
        let _ = clusters.set(c);
    }
    Ok(carematch_result {
        records,
        result,
        model: Some(model),
        starts,
        clusters,
        csv: OnceLock::new(),
        quality,
    })
}

/// Links batch `left` with batch `right`: deterministic rules, then `model` (NULL: one is
/// trained on the two batches first, as `carematch link` does). Pairs come ordered by left
/// id, then right id.
///
/// On success `*out` is a new result, to be freed with `carematch_result_free`.
///
/// Errors: `CAREMATCH_NULL_ARGUMENT`, `CAREMATCH_INPUT_ERROR`, `CAREMATCH_CONFIG_ERROR` (the
/// model compares a column the batches lack).
///
/// # Safety
///
/// `left`, `right` live batches; `model` NULL or a live model; `out` a valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_link(
    left: *const carematch_batch,
    right: *const carematch_batch,
    model: *const carematch_model,
    out: *mut *mut carematch_result,
) -> carematch_status {
    ffi_body!(|caller| {
        let out = caller.out_param(out)?;
        let (l, r) = (caller.handle(left)?, caller.handle(right)?);
        let m = caller.optional_handle(model);
        out.write(raw::new_handle(run(l, Some(r), m, &Settings::default())?));
        Ok(())
    })
}

/// Finds the records of `batch` that belong to the same person (see `carematch_link`); in
/// each pair the record with the smaller id is on the left.
///
/// # Safety
///
/// `batch` a live batch; `model` NULL or a live model; `out` a valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_dedupe(
    batch: *const carematch_batch,
    model: *const carematch_model,
    out: *mut *mut carematch_result,
) -> carematch_status {
    ffi_body!(|caller| {
        let out = caller.out_param(out)?;
        let b = caller.handle(batch)?;
        let m = caller.optional_handle(model);
        out.write(raw::new_handle(run(b, None, m, &Settings::default())?));
        Ok(())
    })
}

/// `carematch_link` under a config: `(config_json, config_len)` is the JSON text of a
/// `carematch --config` file: column mapping (`"columns": {"Forename 1": "given_name"}`),
/// `strict`, `accept_test_nhs_numbers`, the rule ladder, comparisons, blocking and training
/// rules, `thresholds` (over the model's own), `one_to_one`; and two keys the command line
/// gives as files: `labels` (`[["GP1", "H7"], ...]`, known true pairs of record ids to train m
/// on when no model is given, as `carematch train --labels`) and `previous_clusters`
/// (`[["P00ab...", "gp", "GP1"], ...]`: person id, source name, record id of an earlier run,
/// whose person ids the result's clusters keep, as `--previous-clusters`). A third,
/// `reviewed` (`[["GP1", "H7", "match"], ...]`: left id, right id and a reviewer's decision,
/// `match`, `non-match` or `unsure`, as the `decision` column of a review file, see
/// `carematch_result_review_arrow_stream`), is applied to the pairs as `--reviewed` applies
/// it: a `match` is linked (reason `reviewed:match`), a `non-match` removed, an `unsure`
/// kept for review (reason `reviewed:unsure`); entries with an empty decision are skipped,
/// and decisions on records not in the batches are ignored. When no model is given, the
/// pairs decided `match` also refine the m the trained model's EM estimates, as in a
/// trained `carematch link --reviewed` run. `(NULL, 0)` is the default config.
///
/// Errors: as `carematch_link`, and `CAREMATCH_CONFIG_ERROR` for a config that does not parse
/// (naming the key, and for `labels`, `previous_clusters` and `reviewed` the entry) or does
/// not fit the batches.
///
/// # Safety
///
/// `left`, `right` live batches; `model` NULL or a live model; `(config_json, config_len)`
/// valid text; `out` a valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_link_config(
    left: *const carematch_batch,
    right: *const carematch_batch,
    model: *const carematch_model,
    config_json: *const c_char,
    config_len: usize,
    out: *mut *mut carematch_result,
) -> carematch_status {
    ffi_body!(|caller| {
        let out = caller.out_param(out)?;
        let (l, r) = (caller.handle(left)?, caller.handle(right)?);
        let m = caller.optional_handle(model);
        let config = crate::model::config_of(caller.str(config_json, config_len)?)?;
        out.write(raw::new_handle(run(l, Some(r), m, &config)?));
        Ok(())
    })
}

/// `carematch_dedupe` under a config (see `carematch_link_config`; `one_to_one` does not
/// apply to a dedupe).
///
/// # Safety
///
/// `batch` a live batch; `model` NULL or a live model; `(config_json, config_len)` valid
/// text; `out` a valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_dedupe_config(
    batch: *const carematch_batch,
    model: *const carematch_model,
    config_json: *const c_char,
    config_len: usize,
    out: *mut *mut carematch_result,
) -> carematch_status {
    ffi_body!(|caller| {
        let out = caller.out_param(out)?;
        let b = caller.handle(batch)?;
        let m = caller.optional_handle(model);
        let config = crate::model::config_of(caller.str(config_json, config_len)?)?;
        out.write(raw::new_handle(run(b, None, m, &config)?));
        Ok(())
    })
}

/// The number of pairs in `result`.
///
/// # Safety
///
/// `result` a live result; `out_len` a valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_result_len(
    result: *const carematch_result,
    out_len: *mut usize,
) -> carematch_status {
    ffi_body!(|caller| {
        let r = caller.handle(result)?;
        caller.out_param(out_len)?.write(r.result.links.len());
        Ok(())
    })
}

/// Pair `index` of `result` into `*out_pair`.
///
/// Errors: `CAREMATCH_INVALID_ARGUMENT` for an index past the end.
///
/// # Safety
///
/// `result` a live result; `out_pair` a valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_result_get(
    result: *const carematch_result,
    index: usize,
    out_pair: *mut carematch_pair,
) -> carematch_status {
    ffi_body!(|caller| {
        let r = caller.handle(result)?;
        let out = caller.out_param(out_pair)?;
        out.write(r.pair(index)?);
        Ok(())
    })
}

/// Copies every pair into `pairs` (room for `cap`); `*out_written` is the number of pairs.
/// When `cap` is too small, returns `CAREMATCH_BUFFER_TOO_SMALL`, writes no pair, and
/// `*out_written` is the number needed; `(NULL, 0)` asks for it.
///
/// # Safety
///
/// `result` a live result; `pairs` NULL or valid for `cap` pairs; `out_written` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_result_copy(
    result: *const carematch_result,
    pairs: *mut carematch_pair,
    cap: usize,
    out_written: *mut usize,
) -> carematch_status {
    ffi_body!(|caller| {
        let r = caller.handle(result)?;
        let out = caller.out_param(out_written)?;
        let n = r.result.links.len();
        if cap < n {
            out.write(n);
            return Err(crate::status::CAREMATCH_BUFFER_TOO_SMALL.into());
        }
        // `pairs` has room for `cap` pairs and `cap >= n`: only the first `n` are borrowed.
        let slots = caller.slice_out(pairs, n)?;
        // Nothing fails from here on: the caller's array is never left half written.
        for (slot, link) in slots.iter_mut().zip(&r.result.links) {
            slot.write(r.pair_of(link));
        }
        out.write(n);
        Ok(())
    })
}

/// Every pair as the text of a pairs file (`left_id,right_id,match_weight,
/// match_probability,decision,rule,reason`, header first, as `carematch link --out` writes
/// it), into
/// `(buf, len)` with a NUL (`CAREMATCH_BUFFER_TOO_SMALL` and the size needed when it does not
/// fit; `(NULL, 0)` asks for it).
///
/// # Safety
///
/// `result` a live result; `buf` NULL or valid for `len` bytes; `out_written` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_result_csv(
    result: *const carematch_result,
    buf: *mut c_char,
    len: usize,
    out_written: *mut usize,
) -> carematch_status {
    ffi_body!(|caller| {
        let r = caller.handle(result)?;
        let text = r.csv.get_or_init(|| {
            carematch::output::pairs_csv(&r.records, &r.result, None)
                .map_err(|e| e.message().to_string())
        });
        let text = text
            .as_ref()
            .map_err(|m| Failure::new(crate::status::CAREMATCH_IO_ERROR, m.clone()))?;
        caller.text_out(text, buf, len, out_written)
    })
}

/// The pairs of `result` as an Arrow C stream, written to `out_stream` (a
/// `struct ArrowArrayStream` of the Arrow C stream interface, `void *` here): one record batch
/// with the pairs file's columns, `left_id`, `right_id` (utf8), `match_weight`,
/// `match_probability` (float64 at full precision, null without a model), `decision`, `rule`,
/// `reason` (utf8, empty when there is none). With `explain` 1, the waterfall columns of
/// `carematch link --explain` follow: `prior`, then per comparison `<field>_level` (utf8),
/// `<field>_weight` and `<field>_tf` (float64), adding up to `match_weight`. The caller owns
/// the stream and must release it (its `release` callback); it stays valid after `result` is
/// freed.
///
/// Errors: `CAREMATCH_INVALID_ARGUMENT` for `explain` not 0 or 1, or 1 for a result without a
/// model.
///
/// # Safety
///
/// `result` a live result; `out_stream` valid for writing a `struct ArrowArrayStream`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_result_arrow_stream(
    result: *const carematch_result,
    explain: u32,
    out_stream: *mut std::ffi::c_void,
) -> carematch_status {
    ffi_body!(|caller| {
        let r = caller.handle(result)?;
        let out = caller.arrow_stream_out(out_stream)?;
        let explain = if raw::flag(explain, "explain")? {
            Some(r.model.as_ref().ok_or_else(|| {
                Failure::new(
                    CAREMATCH_INVALID_ARGUMENT,
                    "explain: the result has no model to explain with".to_string(),
                )
            })?)
        } else {
            None
        };
        let batch = carematch::arrow::pairs_batch(&r.records, &r.result, explain)?;
        out.write(crate::arrow::one_batch_stream(batch));
        Ok(())
    })
}

/// The failure of a pointer argument's check (`CAREMATCH_NULL_ARGUMENT` for NULL), naming
/// the argument.
fn argument(name: &'static str) -> impl Fn(carematch_status) -> Failure {
    move |status| Failure::new(status, format!("{name}: {}", status.description()))
}

/// The pairs of `result` a person must decide, as an Arrow C stream written to `out_stream`
/// (a `struct ArrowArrayStream`, `void *` here): one record batch with the columns of the
/// review file `carematch review` writes. `left_id`, `right_id` (utf8), `decision` (utf8,
/// null in every row: the reviewer's `match`, `non-match` or `unsure`, given back through
/// the config key `reviewed` of `carematch_link_config`), `status` (`review`, `ambiguous`,
/// or `match` for an audited match), `reason` (utf8), `match_weight`, `match_probability`
/// (float64, null without a weight), then `left_<column>` and `right_<column>` (utf8, null
/// where the record has no value) for each column the records hold, as normalised: one row
/// per `review` and `ambiguous` pair, in the result's order, then `audit` automatic matches
/// drawn at random by `seed` (reason `audit`; fewer when there are fewer matches) so that
/// their decisions measure the precision of the automatic matches. The caller owns the
/// stream and must release it; it stays valid after `result` is freed.
///
/// Errors: `CAREMATCH_NULL_ARGUMENT` naming the argument.
///
/// # Safety
///
/// `result` a live result; `out_stream` valid for writing a `struct ArrowArrayStream`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_result_review_arrow_stream(
    result: *const carematch_result,
    audit: usize,
    seed: u64,
    out_stream: *mut std::ffi::c_void,
) -> carematch_status {
    ffi_body!(|caller| {
        let r = caller.handle(result).map_err(argument("result"))?;
        let out = caller
            .arrow_stream_out(out_stream)
            .map_err(argument("out_stream"))?;
        let rows = carematch::review::queue(&r.result, audit, seed);
        let batch = carematch::arrow::review_batch(&r.records, &rows)?;
        out.write(crate::arrow::one_batch_stream(batch));
        Ok(())
    })
}

/// The name of deterministic rule `rule` (a `carematch_pair.rule`), into `(buf, len)` with a
/// NUL (`CAREMATCH_BUFFER_TOO_SMALL` and the size needed when it does not fit).
///
/// Errors: `CAREMATCH_INVALID_ARGUMENT` for a rule number the result has not.
///
/// # Safety
///
/// `result` a live result; `buf` NULL or valid for `len` bytes; `out_written` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_result_rule_name(
    result: *const carematch_result,
    rule: i32,
    buf: *mut c_char,
    len: usize,
    out_written: *mut usize,
) -> carematch_status {
    ffi_body!(|caller| {
        let r = caller.handle(result)?;
        let name = usize::try_from(rule)
            .ok()
            .and_then(|i| r.result.rules.get(i))
            .ok_or_else(|| Failure::new(CAREMATCH_INVALID_ARGUMENT, format!("no rule {rule}")))?;
        caller.text_out(name.name(), buf, len, out_written)
    })
}

/// The explanation of pair `index` as JSON text: `{"prior": …, "comparisons": [{"field": …,
/// "level": …, "weight": …, "tf": …}, …], "match_weight": …}`, the bars of a waterfall chart,
/// into `(buf, len)` as `carematch_model_to_json` does.
///
/// # Safety
///
/// `result` a live result; `buf` NULL or valid for `len` bytes; `out_written` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_result_explain(
    result: *const carematch_result,
    index: usize,
    buf: *mut c_char,
    len: usize,
    out_written: *mut usize,
) -> carematch_status {
    ffi_body!(|caller| {
        let r = caller.handle(result)?;
        let link = r.result.links.get(index).ok_or_else(|| {
            Failure::new(
                CAREMATCH_INVALID_ARGUMENT,
                format!("pair {index} of {}", r.result.links.len()),
            )
        })?;
        let model = r.model.as_ref().ok_or_else(|| {
            Failure::new(
                CAREMATCH_INVALID_ARGUMENT,
                "the result has no model to explain it",
            )
        })?;
        let e = carematch::model::Scorer::new(model, &r.records)?.explain(link.pair);
        let json = crate::model::explanation_json(&e);
        caller.text_out(&json, buf, len, out_written)
    })
}

/// The row of `side` (0 left, 1 right; in a dedupe both are the one batch) numbered `row`,
/// as a row of the result's store.
fn row_of(r: &carematch_result, side: u32, row: u32) -> Result<u32, Failure> {
    let sources = r.records.sources();
    let source = sources
        .get(side as usize)
        .or_else(|| (side == 1 && sources.len() == 1).then(|| &sources[0]))
        .ok_or_else(|| Failure::new(CAREMATCH_INVALID_ARGUMENT, format!("no side {side}")))?;
    let at = source
        .rows
        .start
        .checked_add(row)
        .filter(|x| source.rows.contains(x));
    at.ok_or_else(|| {
        Failure::new(
            CAREMATCH_INVALID_ARGUMENT,
            format!("row {row} is past the batch's end"),
        )
    })
}

/// The record id of row `row` of the left (`side` 0) or right (`side` 1) batch, into
/// `(buf, len)` with a NUL (`CAREMATCH_BUFFER_TOO_SMALL` and the size needed when it does not
/// fit): with `carematch_pair.left` / `.right`, the ids of a pair.
///
/// Errors: `CAREMATCH_INVALID_ARGUMENT` for a side or row out of range.
///
/// # Safety
///
/// `result` a live result; `buf` NULL or valid for `len` bytes; `out_written` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_result_record_id(
    result: *const carematch_result,
    side: u32,
    row: u32,
    buf: *mut c_char,
    len: usize,
    out_written: *mut usize,
) -> carematch_status {
    ffi_body!(|caller| {
        let r = caller.handle(result)?;
        let at = row_of(r, side, row)?;
        caller.text_out(r.records.id(at), buf, len, out_written)
    })
}

/// Every record's person id as an Arrow C stream, written to `out_stream` (a
/// `struct ArrowArrayStream`, `void *` here): one record batch of `person_id`, `source` (the
/// batch's name) and `record_id` (utf8), one row per record of both batches, ordered by person
/// id, then source, then record id, as `carematch link --clusters` writes them. The caller
/// owns the stream and must release it; it stays valid after `result` is freed.
///
/// # Safety
///
/// `result` a live result; `out_stream` valid for writing a `struct ArrowArrayStream`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_result_clusters_arrow_stream(
    result: *const carematch_result,
    out_stream: *mut std::ffi::c_void,
) -> carematch_status {
    ffi_body!(|caller| {
        let r = caller.handle(result)?;
        let out = caller.arrow_stream_out(out_stream)?;
        let clusters = r.clusters.get_or_init(|| r.result.clusters(&r.records));
        let batch = carematch::arrow::clusters_batch(
            &r.records,
            clusters,
            ["person_id", "source", "record_id"],
            str::to_string,
        )?;
        out.write(crate::arrow::one_batch_stream(batch));
        Ok(())
    })
}

/// The person id of row `row` of the left (`side` 0) or right (`side` 1) batch, from the
/// result's matches (`P` and 16 hex digits, independent of row order), into `(buf, len)`.
///
/// Errors: `CAREMATCH_INVALID_ARGUMENT` for a side or row out of range.
///
/// # Safety
///
/// `result` a live result; `buf` NULL or valid for `len` bytes; `out_written` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_result_person_id(
    result: *const carematch_result,
    side: u32,
    row: u32,
    buf: *mut c_char,
    len: usize,
    out_written: *mut usize,
) -> carematch_status {
    ffi_body!(|caller| {
        let r = caller.handle(result)?;
        let at = row_of(r, side, row)?;
        let clusters = r.clusters.get_or_init(|| r.result.clusters(&r.records));
        caller.text_out(clusters.person_id(at), buf, len, out_written)
    })
}

/// Precision, recall and F1 of the result's matches against `n` true pairs
/// (`truth_left[i]`, `truth_right[i]` are record ids; order within a pair does not matter).
///
/// # Safety
///
/// `result` a live result; `truth_left` and `truth_right` NULL (with `n == 0`) or `n` valid
/// `carematch_str`; `out` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_result_evaluate(
    result: *const carematch_result,
    truth_left: *const carematch_str,
    truth_right: *const carematch_str,
    n: usize,
    out: *mut carematch_evaluation,
) -> carematch_status {
    ffi_body!(|caller| {
        let r = caller.handle(result)?;
        let out = caller.out_param(out)?;
        let bad = |side: &'static str| {
            move |(status, i): (carematch_status, usize)| {
                Failure::new(
                    status,
                    format!("truth {side} id {i}: {}", status.description()),
                )
            }
        };
        let left = caller.strs(truth_left, n).map_err(bad("left"))?;
        let right = caller.strs(truth_right, n).map_err(bad("right"))?;
        let e = Evaluation::of_result(&r.records, &r.result, left.into_iter().zip(right))?;
        out.write(carematch_evaluation {
            precision: e.precision(),
            recall: e.recall(),
            f1: e.f1(),
            true_positives: e.true_positives,
            false_positives: e.false_positives,
            false_negatives: e.false_negatives,
        });
        Ok(())
    })
}

/// The data-quality report of the result's input, as `carematch link` prints it: per batch
/// and column, how many values were present, missing and invalid (invalid values are treated
/// as missing), with each problem's name and first line numbers, never a value. Into
/// `(buf, len)` with a NUL; `*out_invalid` (if not NULL) gets the number of invalid values.
///
/// Like every out-parameter, `*out_invalid` is written only when the call returns
/// `CAREMATCH_OK`: on `CAREMATCH_BUFFER_TOO_SMALL` only `*out_written` (the size needed) is.
///
/// # Safety
///
/// `result` a live result; `buf` NULL or valid for `len` bytes; `out_written` valid;
/// `out_invalid` NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_result_quality(
    result: *const carematch_result,
    out_invalid: *mut u64,
    buf: *mut c_char,
    len: usize,
    out_written: *mut usize,
) -> carematch_status {
    ffi_body!(|caller| {
        let r = caller.handle(result)?;
        let invalid = if out_invalid.is_null() {
            None
        } else {
            Some(caller.out_param(out_invalid)?)
        };
        caller.text_out(&r.quality.to_string(), buf, len, out_written)?;
        // Written last, once nothing can fail (out-parameters are written only on success).
        if let Some(out) = invalid {
            out.write(r.quality.invalid_total());
        }
        Ok(())
    })
}

/// Frees a result; NULL is a no-op. The result must not be used afterwards.
///
/// Thread-safety: every other function taking a result may be called from several threads at
/// once, but not `carematch_result_free`. Freeing a result while another thread is using it
/// (a call taking it still in flight) is undefined behaviour: carematch does not wait for such
/// calls; the caller must ensure none is in flight and none starts.
///
/// # Safety
///
/// `result` NULL or a live result no other thread is using.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_result_free(result: *mut carematch_result) {
    ffi_body!(or(), |caller| { caller.free_handle(result) })
}
