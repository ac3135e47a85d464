//! The real-time index from C: build, load, save, query one record, insert, update, remove.

use std::ffi::c_char;
use std::path::Path;

use carematch::Index;
use carematch::index::{Entry, QueryDecision, QueryOptions, QueryResult};

use crate::batch::carematch_batch;
use crate::guard::{Failure, ffi_body};
use crate::linkage::{
    CAREMATCH_DECISION_AMBIGUOUS, CAREMATCH_DECISION_MATCH, CAREMATCH_DECISION_NO_MATCH,
    CAREMATCH_DECISION_REVIEW, decision_code,
};
use crate::model::carematch_model;
use crate::raw::{self, Caller, carematch_str};
use crate::status::{CAREMATCH_INVALID_ARGUMENT, carematch_status};

/// A population held in memory for one-record-at-a-time matching.
///
/// Thread-safety: every function taking a `carematch_index *` may be called from several
/// threads at once on one index (queries run in parallel; inserts, updates and removals
/// take a short exclusive lock), except `carematch_index_free`.
#[allow(non_camel_case_types)] // the C name, as declared in the header
pub struct carematch_index(Index);

/// The answer to a query: a decision and ranked candidates. Immutable: safe to read from
/// several threads.
#[allow(non_camel_case_types)] // the C name, as declared in the header
pub struct carematch_answer {
    id: String,
    result: QueryResult,
}

/// One candidate of an answer.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
#[allow(non_camel_case_types)] // the C name, as declared in the header
pub struct carematch_candidate {
    /// The model's match weight.
    pub match_weight: f64,
    /// The match probability.
    pub match_probability: f64,
    /// A `CAREMATCH_DECISION_*` number (`CAREMATCH_DECISION_NO_MATCH` below the review
    /// threshold).
    pub decision: u32,
    /// 1 when a deterministic rule matched the pair, else 0.
    pub by_rule: u32,
}

/// Builds an index of `batch` scored by `model`; with `person_ids` 1 the population is
/// deduplicated first and every record keeps a person id.
///
/// Errors: `CAREMATCH_NULL_ARGUMENT`, `CAREMATCH_INPUT_ERROR`, `CAREMATCH_CONFIG_ERROR` (the
/// model compares pseudonymised columns, which cannot be indexed yet, or columns the batch
/// lacks), `CAREMATCH_INVALID_ARGUMENT` (`person_ids` not 0 or 1).
///
/// # Safety
///
/// `batch` a live batch; `model` a live model; `out` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_index_build(
    batch: *const carematch_batch,
    model: *const carematch_model,
    person_ids: u32,
    out: *mut *mut carematch_index,
) -> carematch_status {
    ffi_body!(|caller| {
        let out = caller.out_param(out)?;
        let (batch, model) = (caller.handle(batch)?, caller.handle(model)?);
        let person_ids = raw::flag(person_ids, "person_ids")?;
        let records = crate::batch::records_of(&[batch])?;
        let index = Index::builder(model.0.clone())
            .person_ids(person_ids)
            .build(records)?;
        out.write(raw::new_handle(carematch_index(index)));
        Ok(())
    })
}

/// Reads an index file written by `carematch_index_save` or `carematch index build`.
///
/// Errors: `CAREMATCH_IO_ERROR`; `CAREMATCH_INPUT_ERROR` for a file that is not an index, of
/// another version, truncated or failing its checksum (the message names the file).
///
/// # Safety
///
/// `(path, len)` valid text; `out` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_index_load(
    path: *const c_char,
    len: usize,
    out: *mut *mut carematch_index,
) -> carematch_status {
    ffi_body!(|caller| {
        let out = caller.out_param(out)?;
        let path = caller.str(path, len)?;
        out.write(raw::new_handle(carematch_index(Index::load(Path::new(
            path,
        ))?)));
        Ok(())
    })
}

/// Writes the index to a file, atomically (a temporary file renamed over `path`). Queries on
/// other threads go on meanwhile.
///
/// # Safety
///
/// `index` a live index; `(path, len)` valid text.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_index_save(
    index: *const carematch_index,
    path: *const c_char,
    len: usize,
) -> carematch_status {
    ffi_body!(|caller| {
        let index = caller.handle(index)?;
        let path = caller.str(path, len)?;
        index.0.save(Path::new(path))?;
        Ok(())
    })
}

/// The number of records in the index.
///
/// # Safety
///
/// `index` a live index; `out_len` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_index_len(
    index: *const carematch_index,
    out_len: *mut usize,
) -> carematch_status {
    ffi_body!(|caller| {
        let index = caller.handle(index)?;
        caller.out_param(out_len)?.write(index.0.len());
        Ok(())
    })
}

/// A record from `n` (column name, raw value) pairs, named as in the population's file: the
/// `names` and `values` arguments of `carematch_index_query` and its kin.
fn entry(
    caller: Caller<'_>,
    index: &carematch_index,
    names: *const carematch_str,
    values: *const carematch_str,
    n: usize,
) -> Result<Entry, Failure> {
    let bad = |what: &'static str| {
        move |(status, i): (carematch_status, usize)| {
            Failure::new(status, format!("{what} {i}: {}", status.description()))
        }
    };
    let names = caller.strs(names, n).map_err(bad("name"))?;
    let values = caller.strs(values, n).map_err(bad("value of field"))?;
    let fields: Vec<(&str, &str)> = names.into_iter().zip(values).collect();
    Ok(index.0.entry(&fields)?)
}

/// Matches one record against the index: `n` fields given as column names (`names[i]`, as
/// in the population's CSV header, the id column included) and raw values (`values[i]`);
/// up to `limit` candidates, best first. Invalid values are treated as missing and listed in
/// the answer's JSON.
///
/// On success `*out` is a new answer, to be freed with `carematch_answer_free`.
///
/// Errors: `CAREMATCH_NULL_ARGUMENT`, `CAREMATCH_INVALID_UTF8` (naming the field by number),
/// `CAREMATCH_INVALID_ARGUMENT` (no id field, two id fields).
///
/// # Safety
///
/// `index` a live index; `names` and `values` NULL (with `n == 0`) or `n` valid
/// `carematch_str` each; `out` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_index_query(
    index: *const carematch_index,
    names: *const carematch_str,
    values: *const carematch_str,
    n: usize,
    limit: usize,
    out: *mut *mut carematch_answer,
) -> carematch_status {
    ffi_body!(|caller| {
        let out = caller.out_param(out)?;
        let index = caller.handle(index)?;
        let rec = entry(caller, index, names, values, n)?;
        let opts = QueryOptions {
            limit,
            ..QueryOptions::default()
        };
        let result = index.0.query(&rec, &opts)?;
        out.write(raw::new_handle(carematch_answer {
            id: rec.id().to_string(),
            result,
        }));
        Ok(())
    })
}

/// `carematch_index_query` with options: `explain` non-zero adds each candidate's explanation
/// (prior, and level, weight and term-frequency adjustment per comparison, as in
/// `carematch index query --explain`) to the answer's JSON; `min_probability` drops
/// candidates below it (NaN: the model's review threshold, as `carematch_index_query` does).
///
/// Errors: as `carematch_index_query`, and `CAREMATCH_INVALID_ARGUMENT` for a
/// `min_probability` outside [0, 1] or an `explain` other than 0 or 1.
///
/// # Safety
///
/// As `carematch_index_query`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_index_query_options(
    index: *const carematch_index,
    names: *const carematch_str,
    values: *const carematch_str,
    n: usize,
    limit: usize,
    min_probability: f64,
    explain: u32,
    out: *mut *mut carematch_answer,
) -> carematch_status {
    ffi_body!(|caller| {
        let out = caller.out_param(out)?;
        let index = caller.handle(index)?;
        let explain = raw::flag(explain, "explain")?;
        let min_probability = if min_probability.is_nan() {
            None
        } else if (0.0..=1.0).contains(&min_probability) {
            Some(min_probability)
        } else {
            return Err(Failure::new(
                CAREMATCH_INVALID_ARGUMENT,
                "min_probability must be NaN (the default) or from 0 to 1",
            ));
        };
        let rec = entry(caller, index, names, values, n)?;
        let opts = QueryOptions {
            limit,
            min_probability,
            explain,
        };
        let result = index.0.query(&rec, &opts)?;
        out.write(raw::new_handle(carematch_answer {
            id: rec.id().to_string(),
            result,
        }));
        Ok(())
    })
}

/// Adds one record (fields as in `carematch_index_query`); with person ids it is linked to
/// the people it matches.
///
/// Errors: as `carematch_index_query`, and `CAREMATCH_INVALID_ARGUMENT` when the index
/// already holds the id.
///
/// # Safety
///
/// As `carematch_index_query`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_index_insert(
    index: *const carematch_index,
    names: *const carematch_str,
    values: *const carematch_str,
    n: usize,
) -> carematch_status {
    ffi_body!(|caller| {
        let index = caller.handle(index)?;
        let rec = entry(caller, index, names, values, n)?;
        index.0.insert(&rec)?;
        Ok(())
    })
}

/// Replaces the record with the same id (fields as in `carematch_index_query`).
///
/// Errors: as `carematch_index_query`, and `CAREMATCH_INVALID_ARGUMENT` when the index holds
/// no such id.
///
/// # Safety
///
/// As `carematch_index_query`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_index_update(
    index: *const carematch_index,
    names: *const carematch_str,
    values: *const carematch_str,
    n: usize,
) -> carematch_status {
    ffi_body!(|caller| {
        let index = caller.handle(index)?;
        let rec = entry(caller, index, names, values, n)?;
        index.0.update(&rec)?;
        Ok(())
    })
}

/// Removes the record with id `(id, len)`.
///
/// Errors: `CAREMATCH_INVALID_ARGUMENT` when the index holds no such id.
///
/// # Safety
///
/// `index` a live index; `(id, len)` valid text.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_index_remove(
    index: *const carematch_index,
    id: *const c_char,
    len: usize,
) -> carematch_status {
    ffi_body!(|caller| {
        let index = caller.handle(index)?;
        let id = caller.str(id, len)?;
        index.0.remove(id)?;
        Ok(())
    })
}

/// Frees an index; NULL is a no-op. The index must not be used afterwards.
///
/// Thread-safety: every other function taking an index may be called from several threads at
/// once (see `carematch_index`), but not `carematch_index_free`. Freeing an index while
/// another thread is using it (a query, insert, update, remove, save or len still in flight)
/// is undefined behaviour: carematch does not wait for such calls; the caller must ensure none
/// is in flight and none starts (for example with a reader-writer lock, or by joining the
/// threads that use it first).
///
/// # Safety
///
/// `index` NULL or a live index no other thread is using.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_index_free(index: *mut carematch_index) {
    ffi_body!(or(), |caller| { caller.free_handle(index) })
}

/// The decision on the queried record: a `CAREMATCH_DECISION_*` number.
///
/// # Safety
///
/// `answer` a live answer; `out` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_answer_decision(
    answer: *const carematch_answer,
    out: *mut u32,
) -> carematch_status {
    ffi_body!(|caller| {
        let a = caller.handle(answer)?;
        let d = match a.result.decision {
            QueryDecision::Match => CAREMATCH_DECISION_MATCH,
            QueryDecision::Review => CAREMATCH_DECISION_REVIEW,
            QueryDecision::Ambiguous => CAREMATCH_DECISION_AMBIGUOUS,
            QueryDecision::NoMatch => CAREMATCH_DECISION_NO_MATCH,
        };
        caller.out_param(out)?.write(d);
        Ok(())
    })
}

/// The number of candidates in the answer.
///
/// # Safety
///
/// `answer` a live answer; `out_len` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_answer_len(
    answer: *const carematch_answer,
    out_len: *mut usize,
) -> carematch_status {
    ffi_body!(|caller| {
        let a = caller.handle(answer)?;
        caller.out_param(out_len)?.write(a.result.candidates.len());
        Ok(())
    })
}

fn candidate(a: &carematch_answer, i: usize) -> Result<&carematch::index::Candidate, Failure> {
    a.result.candidates.get(i).ok_or_else(|| {
        Failure::new(
            CAREMATCH_INVALID_ARGUMENT,
            format!("candidate {i} of {}", a.result.candidates.len()),
        )
    })
}

/// Candidate `index` of the answer (0 is the best).
///
/// Errors: `CAREMATCH_INVALID_ARGUMENT` for an index past the end.
///
/// # Safety
///
/// `answer` a live answer; `out` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_answer_candidate(
    answer: *const carematch_answer,
    index: usize,
    out: *mut carematch_candidate,
) -> carematch_status {
    ffi_body!(|caller| {
        let a = caller.handle(answer)?;
        let out = caller.out_param(out)?;
        let c = candidate(a, index)?;
        out.write(carematch_candidate {
            match_weight: c.weight.bits(),
            match_probability: c.probability.get(),
            decision: decision_code(c.decision),
            by_rule: u32::from(c.rule.is_some()),
        });
        Ok(())
    })
}

/// The record id of candidate `index`, into `(buf, len)` with a NUL
/// (`CAREMATCH_BUFFER_TOO_SMALL` and the size needed when it does not fit).
///
/// # Safety
///
/// `answer` a live answer; `buf` NULL or valid for `len` bytes; `out_written` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_answer_candidate_id(
    answer: *const carematch_answer,
    index: usize,
    buf: *mut c_char,
    len: usize,
    out_written: *mut usize,
) -> carematch_status {
    ffi_body!(|caller| {
        let a = caller.handle(answer)?;
        let c = candidate(a, index)?;
        caller.text_out(&c.id, buf, len, out_written)
    })
}

/// The whole answer as one line of JSON, as `carematch index query` writes it, into
/// `(buf, len)` with a NUL (`CAREMATCH_BUFFER_TOO_SMALL` and the size needed when it does not
/// fit).
///
/// # Safety
///
/// `answer` a live answer; `buf` NULL or valid for `len` bytes; `out_written` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_answer_json(
    answer: *const carematch_answer,
    buf: *mut c_char,
    len: usize,
    out_written: *mut usize,
) -> carematch_status {
    ffi_body!(|caller| {
        let a = caller.handle(answer)?;
        caller.text_out(&a.result.to_json(&a.id), buf, len, out_written)
    })
}

/// Frees an answer; NULL is a no-op. The answer must not be used afterwards.
///
/// Thread-safety: every other function taking an answer may be called from several threads
/// at once, but not `carematch_answer_free`. Freeing an answer while another thread is using
/// it (a call taking it still in flight) is undefined behaviour: carematch does not wait for
/// such calls; the caller must ensure none is in flight and none starts.
///
/// # Safety
///
/// `answer` NULL or a live answer no other thread is using.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_answer_free(answer: *mut carematch_answer) {
    ffi_body!(or(), |caller| { caller.free_handle(answer) })
}
