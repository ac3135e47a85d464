//! C ABI for carematch.
//!
//! # Overview
//!
//! This crate builds `libcarematch_ffi` (static and shared) and is described to C by the
//! generated header `ffi/include/carematch.h`. It follows the conventions of rustls-ffi:
//!
//! - every symbol starts with `carematch_`;
//! - fallible functions return a [`carematch_status`] with stable numbers, and pass results
//!   through trailing out-parameters that are written only when the call succeeds;
//! - every pointer is NULL-checked, and text is UTF-8 as pointer + length, where `(NULL, 0)` is
//!   the empty string;
//! - a failing call leaves a message for its thread, read with `carematch_last_error_message`;
//! - every body runs inside a panic guard: a bug in carematch turns into `CAREMATCH_PANIC`,
//!   never an abort of the host process, and no panic hook is installed.
//!
//! # Layout
//!
//! | module | owns |
//! |---|---|
//! | `status` | the status codes and their names |
//! | `guard` | the panic guard every exported function runs in, `Failure`, and `ffi_body!`, which puts each entry point's body in the guard |
//! | `last_error` | the thread-local last-error message and its C getter |
//! | `raw` | every `unsafe` conversion from C pointers, each in one small function, and `Caller`, through which entry points use them |
//! | `version` | the library version for C |
//! | `batch` | [`carematch_batch`]: one source's records, built column by column, from CSV text, from a file or from an Arrow stream; the `CAREMATCH_ROLE_*` numbers; [`carematch_normalise`] |
//! | `arrow` | an Arrow C stream's record batches read as a table (`carematch_batch_from_arrow_stream`) |
//! | `model` | [`carematch_model`]: training from batches, JSON, model files, explaining a pair; the config keys the command line gives as files (`labels`, `previous_clusters`, `reviewed`) |
//! | `linkage` | [`carematch_link`], [`carematch_dedupe`] and [`carematch_result`]: pairs, rule names, record and person ids, explanations, evaluation, the data-quality report, the clerical-review queue; the `CAREMATCH_DECISION_*` numbers |
//! | `pseudonym` | [`carematch_pseudonymiser`]: tokens of single values and encoded batches |
//! | `kernel` | [`carematch_kernel`]: a link run in parts by another engine (Spark): settings as JSON, and normalising, scoring and deciding on Arrow streams |
//! | `index` | [`carematch_index`] (build, load, save, query, insert, update, remove) and its answers, [`carematch_answer`] |
//!
//! # Safety
//!
//! All `unsafe` code of carematch lives in this crate, and in this crate it lives in `raw`.
//!
//! Every entry point is an `unsafe extern "C" fn` whose `# Safety` (repeated in the header)
//! states the contract of each of its pointer arguments: that contract, kept by the C caller, is
//! the one promise the entry points rely on. Each body is `ffi_body!(|caller| ...)`, which hands
//! it that promise as a `raw::Caller`; the body borrows its arguments through the caller's
//! methods (`caller.handle(batch)?`, `caller.str(name, name_len)?`), each of which states the
//! `SAFETY` argument once, so a body has no `unsafe` block of its own. Only a function's specific
//! extra reasoning (an array borrowed shorter than its capacity) is commented where it happens.
//! `unsafe_op_in_unsafe_fn` is denied so each unsafe operation in `raw` is spelled out where it
//! happens, next to a `SAFETY:` comment.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod arrow;
mod batch;
mod guard;
mod index;
mod kernel;
mod last_error;
mod linkage;
mod model;
mod pseudonym;
mod raw;
mod status;
mod version;

pub use batch::{
    CAREMATCH_ROLE_ADDRESS, CAREMATCH_ROLE_BY_NAME, CAREMATCH_ROLE_DATE_OF_BIRTH,
    CAREMATCH_ROLE_GIVEN_NAME, CAREMATCH_ROLE_ID, CAREMATCH_ROLE_NHS_NUMBER,
    CAREMATCH_ROLE_POSTCODE, CAREMATCH_ROLE_SEX, CAREMATCH_ROLE_SURNAME, carematch_batch,
    carematch_batch_add_column, carematch_batch_free, carematch_batch_from_csv,
    carematch_batch_len, carematch_batch_new, carematch_batch_read_csv, carematch_normalise,
};
pub use index::{
    carematch_answer, carematch_answer_candidate, carematch_answer_candidate_id,
    carematch_answer_decision, carematch_answer_free, carematch_answer_json, carematch_answer_len,
    carematch_candidate, carematch_index, carematch_index_build, carematch_index_free,
    carematch_index_insert, carematch_index_len, carematch_index_load, carematch_index_query,
    carematch_index_remove, carematch_index_save, carematch_index_update,
};
pub use kernel::{
    carematch_kernel, carematch_kernel_decide, carematch_kernel_free, carematch_kernel_from_json,
    carematch_kernel_new, carematch_kernel_prepare, carematch_kernel_score,
    carematch_kernel_to_json,
};
pub use linkage::{
    CAREMATCH_DECISION_AMBIGUOUS, CAREMATCH_DECISION_MATCH, CAREMATCH_DECISION_NO_MATCH,
    CAREMATCH_DECISION_REVIEW, carematch_dedupe, carematch_evaluation, carematch_link,
    carematch_pair, carematch_result, carematch_result_copy, carematch_result_csv,
    carematch_result_evaluate, carematch_result_explain, carematch_result_free,
    carematch_result_get, carematch_result_len, carematch_result_person_id,
    carematch_result_quality, carematch_result_record_id, carematch_result_rule_name,
};
pub use model::{
    carematch_model, carematch_model_explain_pair, carematch_model_free, carematch_model_from_json,
    carematch_model_load, carematch_model_save, carematch_model_to_json, carematch_model_train,
};
pub use pseudonym::{
    carematch_pseudonymiser, carematch_pseudonymiser_encode, carematch_pseudonymiser_free,
    carematch_pseudonymiser_new, carematch_pseudonymiser_token,
};
pub use raw::carematch_str;

pub use last_error::carematch_last_error_message;
pub use status::{
    CAREMATCH_BUFFER_TOO_SMALL, CAREMATCH_CONFIG_ERROR, CAREMATCH_INPUT_ERROR,
    CAREMATCH_INVALID_ARGUMENT, CAREMATCH_INVALID_UTF8, CAREMATCH_IO_ERROR,
    CAREMATCH_NULL_ARGUMENT, CAREMATCH_OK, CAREMATCH_PANIC, carematch_status,
    carematch_status_name,
};
pub use version::carematch_version;
