//! Models: train from batches, read and write model JSON.

use std::ffi::c_char;
use std::path::Path;

use carematch::review::ReviewedPairs;
use carematch::{Config, Model};

use crate::batch::{carematch_batch, read_batches, records_of};
use crate::guard::{Failure, ffi_body};
use crate::raw;
use crate::status::carematch_status;

/// A trained Fellegi-Sunter model. Immutable: safe to use from several threads at once.
#[allow(non_camel_case_types)] // the C name, as declared in the header
pub struct carematch_model(pub(crate) Model);

/// Trains a model as `carematch train` does: on `left` and `right` for linking them, or on
/// `left` alone (pass NULL for `right`) for deduplicating it. Seeded: the same batches give
/// the same model, bit for bit.
///
/// On success `*out` is a new model, to be freed with `carematch_model_free`.
///
/// Errors: `CAREMATCH_NULL_ARGUMENT`, `CAREMATCH_INPUT_ERROR` (a batch without an id column,
/// duplicate ids), `CAREMATCH_CONFIG_ERROR`.
///
/// # Safety
///
/// `left` a live batch; `right` NULL or a live batch; `out` a valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_model_train(
    left: *const carematch_batch,
    right: *const carematch_batch,
    out: *mut *mut carematch_model,
) -> carematch_status {
    ffi_body!(|caller| {
        let out = caller.out_param(out)?;
        let left = caller.handle(left)?;
        let right = caller.optional_handle(right);
        let model = train(left, right, &Settings::default())?;
        out.write(raw::new_handle(carematch_model(model)));
        Ok(())
    })
}

/// `carematch_model_train` under a config: `(config_json, config_len)` is the JSON text of a
/// `carematch --config` file (column mapping, comparisons, blocking and training rules,
/// `u_pairs`, `seed`, …), and `labels` (`[["GP1", "H7"], ...]`: known true pairs of record
/// ids, left then right, from which m is estimated, as `carematch train --labels`) and
/// `reviewed` (reviewers' decisions, as `carematch_link_config` takes them: the pairs decided
/// `match` refine the m EM estimates); `(NULL, 0)` is the default config.
///
/// Errors: as `carematch_model_train`, and `CAREMATCH_CONFIG_ERROR` for a config that does
/// not parse (naming the key) or does not fit the batches.
///
/// # Safety
///
/// `left` a live batch; `right` NULL or a live batch; `(config_json, config_len)` valid
/// text; `out` a valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_model_train_config(
    left: *const carematch_batch,
    right: *const carematch_batch,
    config_json: *const c_char,
    config_len: usize,
    out: *mut *mut carematch_model,
) -> carematch_status {
    ffi_body!(|caller| {
        let out = caller.out_param(out)?;
        let left = caller.handle(left)?;
        let right = caller.optional_handle(right);
        let config = config_of(caller.str(config_json, config_len)?)?;
        let model = train(left, right, &config)?;
        out.write(raw::new_handle(carematch_model(model)));
        Ok(())
    })
}

/// The config of JSON text; the default for empty text.
pub(crate) fn config_of(json: &str) -> Result<Settings, Failure> {
    if json.trim().is_empty() {
        return Ok(Settings::default());
    }
    let bad = |what: String| Failure::new(crate::status::CAREMATCH_CONFIG_ERROR, what);
    let mut value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| bad(format!("invalid config: {e}")))?;
    let mut take = |key: &str, width: usize| -> Result<Option<Vec<Vec<String>>>, Failure> {
        let Some(v) = value.as_object_mut().and_then(|o| o.remove(key)) else {
            return Ok(None);
        };
        let rows = v
            .as_array()
            .ok_or_else(|| bad(format!("config \"{key}\": not a list")))?;
        rows.iter()
            .enumerate()
            .map(|(i, row)| {
                row.as_array()
                    .filter(|r| r.len() == width)
                    .and_then(|r| {
                        r.iter()
                            .map(|x| x.as_str().map(str::to_string))
                            .collect::<Option<Vec<String>>>()
                    })
                    .ok_or_else(|| {
                        bad(format!(
                            "config \"{key}\": entry {i} is not a list of {width} strings"
                        ))
                    })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    };
    let labels = take("labels", 2)?;
    let previous_clusters = take("previous_clusters", 3)?;
    let reviewed = take("reviewed", 3)?.map(reviewed_of).transpose()?;
    Ok(Settings {
        config: Config::from_json(&value.to_string())?,
        labels,
        previous_clusters,
        reviewed,
    })
}

/// The decisions of the config key `reviewed` (`[[left_id, right_id, decision], ...]`):
/// entries with an empty decision are skipped, as undecided rows of a review file are.
///
/// # Errors
///
/// A config error naming the entry (never its text) for a decision that is not `match`,
/// `non-match` or `unsure`, or an entry decided with an empty id.
fn reviewed_of(rows: Vec<Vec<String>>) -> Result<ReviewedPairs, Failure> {
    let mut reviewed = ReviewedPairs::default();
    for (i, row) in rows.into_iter().enumerate() {
        let bad = |what: &str| {
            Failure::new(
                crate::status::CAREMATCH_CONFIG_ERROR,
                format!("config \"reviewed\": entry {i}: {what}"),
            )
        };
        let [left, right, decision]: [String; 3] =
            row.try_into().map_err(|_| bad("not a list of 3 strings"))?;
        reviewed
            .push(&left, &right, &decision)
            .map_err(|p| bad(p.problem))?;
    }
    Ok(reviewed)
}

/// What a config given through the C ABI says: the `--config` file's keys, and three the
/// command line gives as files: `labels` (`[[left_id, right_id], ...]`, known true pairs to
/// train m on, as `carematch train --labels`), `previous_clusters` (`[[person_id, source,
/// record_id], ...]`, an earlier run's person ids to keep, as `--previous-clusters`) and
/// `reviewed` (`[[left_id, right_id, decision], ...]`, reviewers' decisions applied to the
/// run's pairs, as `--reviewed`).
#[derive(Default)]
pub(crate) struct Settings {
    pub(crate) config: Config,
    pub(crate) labels: Option<Vec<Vec<String>>>,
    pub(crate) previous_clusters: Option<Vec<Vec<String>>>,
    pub(crate) reviewed: Option<ReviewedPairs>,
}

/// Trains on one batch (dedupe) or two (link) under `settings`.
pub(crate) fn train(
    left: &carematch_batch,
    right: Option<&carematch_batch>,
    settings: &Settings,
) -> Result<Model, Failure> {
    let batches: Vec<&carematch_batch> = std::iter::once(left).chain(right).collect();
    train_on(&read_batches(&batches, &settings.config)?.0, settings)
}

/// An explanation as the JSON text the C API hands out: [`Explanation`]'s one shape.
///
/// [`Explanation`]: carematch::model::Explanation
pub(crate) fn explanation_json(e: &carematch::model::Explanation) -> String {
    serde_json::to_string(e).unwrap_or_default()
}

/// Trains on a store of one source (dedupe) or two (link), with the default config.
pub(crate) fn train_on(
    records: &carematch::Records,
    settings: &Settings,
) -> Result<Model, Failure> {
    let mode = if records.sources().len() > 1 {
        carematch::block::Mode::link(records, 0, 1)?
    } else {
        carematch::block::Mode::dedupe(records, 0)?
    };
    let labelled = match &settings.labels {
        Some(pairs) => mode
            .pairs_of_ids(
                records,
                pairs.iter().map(|p| (p[0].as_str(), p[1].as_str())),
            )
            .map_err(|(i, side)| {
                Failure::new(
                    crate::status::CAREMATCH_CONFIG_ERROR,
                    format!(
                        "config \"labels\": entry {i}: the {} id is not in the {} batch",
                        ["left", "right"][side],
                        ["left", "right"][side]
                    ),
                )
            })?,
        None => Vec::new(),
    };
    // Reviewers' confirmed matches refine EM's m, as a trained `link --reviewed` run's do.
    let confirmed = settings
        .reviewed
        .as_ref()
        .map_or_else(Vec::new, |r| r.matched_rows(records, &mode));
    let (model, _choice) = settings
        .config
        .train_reviewed(records, &mode, labelled, confirmed)?;
    Ok(model)
}

/// Reads a model from JSON text (as `carematch train` writes).
///
/// On success `*out` is a new model, to be freed with `carematch_model_free`.
///
/// Errors: `CAREMATCH_NULL_ARGUMENT`, `CAREMATCH_INVALID_UTF8`, `CAREMATCH_CONFIG_ERROR`
/// (malformed JSON, another format, invalid parameters).
///
/// # Safety
///
/// `(json, len)` valid text; `out` a valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_model_from_json(
    json: *const c_char,
    len: usize,
    out: *mut *mut carematch_model,
) -> carematch_status {
    ffi_body!(|caller| {
        let out = caller.out_param(out)?;
        let text = caller.str(json, len)?;
        out.write(raw::new_handle(carematch_model(Model::from_json(text)?)));
        Ok(())
    })
}

/// Writes `model` as JSON text into `(buf, len)` with a NUL; `*out_written` is its length.
/// When `buf` is too small, returns `CAREMATCH_BUFFER_TOO_SMALL` and `*out_written` is the size
/// needed (counting the NUL); `(NULL, 0)` asks for it.
///
/// # Safety
///
/// `model` a live model; `buf` NULL or valid for `len` bytes; `out_written` a valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_model_to_json(
    model: *const carematch_model,
    buf: *mut c_char,
    len: usize,
    out_written: *mut usize,
) -> carematch_status {
    ffi_body!(|caller| {
        let model = caller.handle(model)?;
        caller.text_out(&model.0.to_json(), buf, len, out_written)
    })
}

/// Compares row `left_row` of `left` with row `right_row` of `right` under `model` and
/// writes the explanation as JSON text, `{"prior": …, "comparisons": [{"field": …, "level":
/// …, "weight": …, "tf": …}, …], "match_weight": …}`, into `(buf, len)` as
/// `carematch_model_to_json` does: why two records score what they score, whatever the
/// thresholds (and whether or not blocking would have paired them).
///
/// Errors: `CAREMATCH_INVALID_ARGUMENT` for a row past a batch's end; `CAREMATCH_INPUT_ERROR`
/// and `CAREMATCH_CONFIG_ERROR` as `carematch_link`.
///
/// # Safety
///
/// `model`, `left`, `right` live handles; `buf` NULL or valid for `len` bytes; `out_written`
/// valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_model_explain_pair(
    model: *const carematch_model,
    left: *const carematch_batch,
    left_row: u32,
    right: *const carematch_batch,
    right_row: u32,
    buf: *mut c_char,
    len: usize,
    out_written: *mut usize,
) -> carematch_status {
    ffi_body!(|caller| {
        let (m, l, r) = (
            caller.handle(model)?,
            caller.handle(left)?,
            caller.handle(right)?,
        );
        let records = records_of(&[l, r])?;
        let s = records.sources();
        let row = |k: usize, row: u32| {
            let rows = &s[k].rows;
            rows.start
                .checked_add(row)
                .filter(|x| rows.contains(x))
                .ok_or_else(|| {
                    Failure::new(
                        crate::status::CAREMATCH_INVALID_ARGUMENT,
                        format!("row {row} is past the end of batch {}", k + 1),
                    )
                })
        };
        let pair = carematch::block::Pair {
            left: row(0, left_row)?,
            right: row(1, right_row)?,
        };
        let e = carematch::model::Scorer::new(&m.0, &records)?.explain(pair);
        let json = explanation_json(&e);
        caller.text_out(&json, buf, len, out_written)
    })
}

/// Reads a model file.
///
/// Errors: `CAREMATCH_IO_ERROR` (naming the file), `CAREMATCH_CONFIG_ERROR`, and those of the
/// arguments.
///
/// # Safety
///
/// `(path, len)` valid text; `out` a valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_model_load(
    path: *const c_char,
    len: usize,
    out: *mut *mut carematch_model,
) -> carematch_status {
    ffi_body!(|caller| {
        let out = caller.out_param(out)?;
        let path = caller.str(path, len)?;
        out.write(raw::new_handle(carematch_model(Model::load(Path::new(
            path,
        ))?)));
        Ok(())
    })
}

/// Writes `model` to a file.
///
/// Errors: `CAREMATCH_IO_ERROR` (naming the file), and those of the arguments.
///
/// # Safety
///
/// `model` a live model; `(path, len)` valid text.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_model_save(
    model: *const carematch_model,
    path: *const c_char,
    len: usize,
) -> carematch_status {
    ffi_body!(|caller| {
        let model = caller.handle(model)?;
        let path = caller.str(path, len)?;
        model.0.save(Path::new(path))?;
        Ok(())
    })
}

/// Frees a model; NULL is a no-op. The model must not be used afterwards.
///
/// Thread-safety: every other function taking a model may be called from several threads at
/// once, but not `carematch_model_free`. Freeing a model while another thread is using it (a
/// call taking it still in flight) is undefined behaviour: carematch does not wait for such
/// calls; the caller must ensure none is in flight and none starts.
///
/// # Safety
///
/// `model` NULL or a live model no other thread is using.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_model_free(model: *mut carematch_model) {
    ffi_body!(or(), |caller| { caller.free_handle(model) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reviewed_decisions_parse_and_errors_name_the_entry_not_the_text() {
        let s = config_of(
            r#"{"reviewed": [["G1", "H1", "match"], ["G2", "H2", ""], ["G3", "H3", " No "]]}"#,
        )
        .unwrap();
        let r = s.reviewed.unwrap();
        assert_eq!(r.len(), 2);
        let got: Vec<_> = r.pairs().map(|(a, b, v)| (a, b, v.as_str())).collect();
        assert_eq!(got, [("G1", "H1", "match"), ("G3", "H3", "non-match")]);
        let e = config_of(r#"{"reviewed": [["G1", "H1", "match"], ["G9", "H9", "Secret"]]}"#)
            .err()
            .unwrap();
        let shown = format!("{e:?}");
        assert!(shown.contains("reviewed") && shown.contains("entry 1: the decision"));
        assert!(
            !shown.contains("Secret") && !shown.contains("G9"),
            "{shown}"
        );
        let e = config_of(r#"{"reviewed": [["", "H1", "unsure"]]}"#)
            .err()
            .unwrap();
        assert!(format!("{e:?}").contains("entry 0: the left id is empty"));
        let e = config_of(r#"{"reviewed": [["G1", "H1"]]}"#).err().unwrap();
        assert!(format!("{e:?}").contains("entry 0 is not a list of 3 strings"));
    }
}
