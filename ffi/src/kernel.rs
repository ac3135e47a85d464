//! The kernel of a distributed link (Spark): its settings as a handle, and its three steps on
//! Arrow C streams. See `carematch::kernel`.

use std::ffi::c_char;

use carematch::kernel::Kernel;

use crate::batch::{carematch_batch, read_batches};
use crate::guard::{Failure, ffi_body};
use crate::model::carematch_model;
use crate::raw;
use crate::status::{CAREMATCH_CONFIG_ERROR, carematch_status};

/// The settings of a link run in parts by another engine (Spark): config, model, rules and
/// the data's term frequencies. Immutable: several threads may use one at once.
#[allow(non_camel_case_types)] // the C name, as declared in the header
pub struct carematch_kernel(Kernel);

/// Makes a kernel for linking two sources: `left_sample` and `right_sample` are the sources'
/// records (a sample of each, or all), from which the deterministic rules are chosen as
/// `carematch link` chooses them; `model` is applied with the thresholds of `config_json`
/// (the JSON config, as `carematch_link_config` takes it, less `labels`,
/// `previous_clusters` and `reviewed`; `(NULL, 0)` for the default). The kernel has no term
/// frequencies yet: they are counted over all the data by the engine and given back with
/// `carematch_kernel_from_json`.
///
/// On success `*out` is a new kernel, to be freed with `carematch_kernel_free`.
///
/// Errors: `CAREMATCH_CONFIG_ERROR` (a config that does not parse or fit, pseudonymised
/// input), `CAREMATCH_INPUT_ERROR` as `carematch_link`, and those of the arguments.
///
/// # Safety
///
/// `left_sample`, `right_sample`, `model` live handles; `(config_json, config_len)` valid
/// text; `out` a valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_kernel_new(
    left_sample: *const carematch_batch,
    right_sample: *const carematch_batch,
    model: *const carematch_model,
    config_json: *const c_char,
    config_len: usize,
    out: *mut *mut carematch_kernel,
) -> carematch_status {
    ffi_body!(|caller| {
        let out = caller.out_param(out)?;
        let (l, r) = (caller.handle(left_sample)?, caller.handle(right_sample)?);
        let model = caller.handle(model)?;
        let settings = crate::model::config_of(caller.str(config_json, config_len)?)?;
        if settings.labels.is_some()
            || settings.previous_clusters.is_some()
            || settings.reviewed.is_some()
        {
            return Err(Failure::new(
                CAREMATCH_CONFIG_ERROR,
                "config: labels, previous_clusters and reviewed are not supported by a kernel",
            ));
        }
        let (records, _) = read_batches(&[l, r], &settings.config)?;
        let kernel = Kernel::new(
            settings.config,
            model.0.clone(),
            &records,
            [l.column_names(), r.column_names()],
        )?;
        out.write(raw::new_handle(carematch_kernel(kernel)));
        Ok(())
    })
}

/// Reads a kernel from its JSON (`carematch_kernel_to_json`, with `frequencies` added: per
/// `_cm_tf_` column the count of records holding each value, and `rows`, the records of all
/// the data).
///
/// On success `*out` is a new kernel, to be freed with `carematch_kernel_free`.
///
/// Errors: `CAREMATCH_CONFIG_ERROR` (malformed JSON, another format or version, an invalid
/// model or rule, frequencies that do not fit the model), and those of the arguments.
///
/// # Safety
///
/// `(json, len)` valid text; `out` a valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_kernel_from_json(
    json: *const c_char,
    len: usize,
    out: *mut *mut carematch_kernel,
) -> carematch_status {
    ffi_body!(|caller| {
        let out = caller.out_param(out)?;
        let kernel = Kernel::from_json(caller.str(json, len)?)?;
        out.write(raw::new_handle(carematch_kernel(kernel)));
        Ok(())
    })
}

/// Writes `kernel` as JSON text into `(buf, len)` as `carematch_model_to_json` does: format
/// and version, config, model, rules, the two sources' columns, the key column of each
/// blocking rule (`blocking`: pass, rule, column) and each term-frequency column
/// (`term_frequencies`), and the frequencies when it has them.
///
/// # Safety
///
/// `kernel` a live kernel; `buf` NULL or valid for `len` bytes; `out_written` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_kernel_to_json(
    kernel: *const carematch_kernel,
    buf: *mut c_char,
    len: usize,
    out_written: *mut usize,
) -> carematch_status {
    ffi_body!(|caller| {
        let kernel = caller.handle(kernel)?;
        caller.text_out(&kernel.0.to_json(), buf, len, out_written)
    })
}

/// Normalises one source's records (`side` 0 for the left, 1 for the right) read from the
/// Arrow stream `rows` (taken, as `carematch_batch_from_arrow_stream` takes it) and writes
/// to `out_stream` one record batch of the columns the engine joins and counts on, one row
/// per input row: `_cm_id`, `_cm_nhs`, `_cm_person`, `_cm_tf_<c>`, `_cm_key_<j>`.
///
/// Errors: `CAREMATCH_INPUT_ERROR` (the stream, an empty or repeated id, naming the row and
/// column), `CAREMATCH_INVALID_ARGUMENT` for a side not 0 or 1
/// or columns not the kernel's, and those of the arguments.
///
/// # Safety
///
/// `kernel` a live kernel; `rows` NULL or a valid `struct ArrowArrayStream`; `out_stream`
/// valid for writing one.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_kernel_prepare(
    kernel: *const carematch_kernel,
    side: u32,
    rows: *mut std::ffi::c_void,
    out_stream: *mut std::ffi::c_void,
) -> carematch_status {
    ffi_body!(|caller| {
        let kernel = caller.handle(kernel)?;
        let rows = caller.arrow_stream(rows)?;
        let out = caller.arrow_stream_out(out_stream)?;
        let name = if side == 0 { "left" } else { "right" };
        let table = crate::arrow::read(name, rows)?;
        let batch = kernel.0.prepare(side as usize, &table)?;
        out.write(crate::arrow::one_batch_stream(batch));
        Ok(())
    })
}

/// Scores candidate pairs: row i of the stream `left` (the left source's columns) with row
/// i of `right`; writes one record batch to `out_stream`: `rule`, `match_weight`,
/// `match_probability`, `keep`, `relevant`, `decision`, `reason` (see
/// `carematch::kernel::Kernel::score`).
///
/// Errors: `CAREMATCH_CONFIG_ERROR` for a kernel without its term frequencies; otherwise as
/// `carematch_kernel_prepare`.
///
/// # Safety
///
/// `kernel` a live kernel; `left`, `right` NULL or valid `struct ArrowArrayStream`s;
/// `out_stream` valid for writing one.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_kernel_score(
    kernel: *const carematch_kernel,
    left: *mut std::ffi::c_void,
    right: *mut std::ffi::c_void,
    out_stream: *mut std::ffi::c_void,
) -> carematch_status {
    // SAFETY: the caller's guarantees, as documented above.
    unsafe { pairs_in_out(kernel, [left, right], out_stream, Kernel::score) }
}

/// Decides pairs whose decisions depend on each other, whole connected groups of them (row
/// i of `left` with row i of `right`); writes one record batch to `out_stream`: `decision`,
/// `reason`, `rule`, `match_weight`, `match_probability`, `left_person`, `right_person` (see
/// `carematch::kernel::Kernel::decide`).
///
/// Errors: as `carematch_kernel_score`.
///
/// # Safety
///
/// As `carematch_kernel_score`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_kernel_decide(
    kernel: *const carematch_kernel,
    left: *mut std::ffi::c_void,
    right: *mut std::ffi::c_void,
    out_stream: *mut std::ffi::c_void,
) -> carematch_status {
    // SAFETY: the caller's guarantees, as documented above.
    unsafe { pairs_in_out(kernel, [left, right], out_stream, Kernel::decide) }
}

/// The body of `carematch_kernel_score` and `carematch_kernel_decide`: reads the `left` and
/// `right` streams, applies `step`, and writes its one batch to `out_stream`.
///
/// # Safety
///
/// As `carematch_kernel_score`.
unsafe fn pairs_in_out(
    kernel: *const carematch_kernel,
    [left, right]: [*mut std::ffi::c_void; 2],
    out_stream: *mut std::ffi::c_void,
    step: fn(
        &Kernel,
        &dyn carematch::input::Table,
        &dyn carematch::input::Table,
    ) -> Result<arrow_array::RecordBatch, carematch::Error>,
) -> carematch_status {
    ffi_body!(|caller| {
        let kernel = caller.handle(kernel)?;
        let (l, r) = (caller.arrow_stream(left)?, caller.arrow_stream(right)?);
        let out = caller.arrow_stream_out(out_stream)?;
        let (l, r) = (
            crate::arrow::read("left", l)?,
            crate::arrow::read("right", r)?,
        );
        out.write(crate::arrow::one_batch_stream(step(&kernel.0, &l, &r)?));
        Ok(())
    })
}

/// Frees a kernel; NULL is a no-op. The kernel must not be used afterwards.
///
/// Thread-safety: as `carematch_model_free`.
///
/// # Safety
///
/// `kernel` NULL or a live kernel no other thread is using.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_kernel_free(kernel: *mut carematch_kernel) {
    ffi_body!(or(), |caller| { caller.free_handle(kernel) })
}
