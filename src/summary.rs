//! `--summary-json FILE`: everything the prose summary says, as one JSON document for a
//! pipeline to read (the schema is `docs/summary-json.md`). The prose summary is unchanged.
//!
//! The run fills one document as it goes ([`set`], [`phase`]); [`finish`] writes it
//! once the command has ended, with `"status": "ok"` or `"error"` and the error's message
//! (which, like every message, never holds a patient value). Nothing is kept when the option
//! is not given.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use carematch::Error;
use serde_json::{Map, Value, json};

/// The schema's name and version, the document's first key.
pub(crate) const SCHEMA: &str = "carematch-summary/1";

static PATH: OnceLock<PathBuf> = OnceLock::new();
static DOC: Mutex<Option<Map<String, Value>>> = Mutex::new(None);

/// Starts the document for `command` when `path` is given.
pub(crate) fn start(path: Option<PathBuf>, command: &str) {
    let Some(path) = path else {
        return;
    };
    let _ = PATH.set(path);
    let mut doc = Map::new();
    doc.insert("schema".into(), SCHEMA.into());
    doc.insert("carematch_version".into(), carematch::VERSION.into());
    doc.insert("command".into(), command.into());
    doc.insert("timings_seconds".into(), Value::Object(Map::new()));
    *lock() = Some(doc);
}

/// The summary file's path, when one was asked for.
pub(crate) fn path() -> Option<&'static Path> {
    PATH.get().map(PathBuf::as_path)
}

fn lock() -> std::sync::MutexGuard<'static, Option<Map<String, Value>>> {
    DOC.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Sets `key` to `value` (made only when the document is kept).
pub(crate) fn set(key: &str, value: impl FnOnce() -> Value) {
    if let Some(doc) = lock().as_mut() {
        doc.insert(key.into(), value());
    }
}

/// Adds `seconds` to the time of phase `name`.
pub(crate) fn phase(name: &str, seconds: f64) {
    if let Some(Value::Object(t)) = lock().as_mut().and_then(|d| d.get_mut("timings_seconds")) {
        let total = t.get(name).and_then(Value::as_f64).unwrap_or(0.0) + seconds;
        t.insert(name.into(), json!(round(total, 3)));
    }
}

/// `x` to `places` decimal places (timings need no more).
pub(crate) fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

/// Writes the document, with the command's outcome and its total time, to the path given.
///
/// # Errors
///
/// An I/O error naming the summary file.
pub(crate) fn finish(outcome: &Result<(), Error>, total_seconds: f64) -> Result<(), Error> {
    let (Some(path), Some(mut doc)) = (path(), lock().take()) else {
        return Ok(());
    };
    if let Some(Value::Object(t)) = doc.get_mut("timings_seconds") {
        t.insert("total".into(), json!(round(total_seconds, 3)));
    }
    match outcome {
        Ok(()) => doc.insert("status".into(), "ok".into()),
        Err(e) => {
            doc.insert("status".into(), "error".into());
            doc.insert("error".into(), e.message().into())
        }
    };
    let mut text = serde_json::to_string_pretty(&Value::Object(doc))
        .map_err(|_| Error::usage("cannot make the summary JSON"))?;
    text.push('\n');
    carematch::files::NewFile::with_contents(path, text.as_bytes())?.commit()
}

/// The data-quality report as the summary holds it: per input, its rows and per column the
/// counts present, missing and invalid (by problem, with the first line numbers).
pub(crate) fn quality(report: &carematch::QualityReport) -> Value {
    Value::Array(
        report
            .sources
            .iter()
            .map(|s| {
                json!({
                    "file": s.file,
                    "rows": s.rows,
                    "columns": s.columns.iter().map(|c| json!({
                        "column": c.column,
                        "role": c.role.map(carematch::Role::as_str),
                        "present": c.present,
                        "missing": c.missing,
                        "invalid": c.problems.iter().map(|p| p.count).sum::<u64>(),
                        "problems": c.problems.iter().map(|p| json!({
                            "problem": p.problem,
                            "count": p.count,
                            "first_lines": p.first_lines,
                        })).collect::<Vec<_>>(),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

/// The candidate pairs of each blocking rule of `plan`, each on its own.
pub(crate) fn blocking(plan: &carematch::link::Plan) {
    set("blocking", || {
        plan.pair_counts()
            .iter()
            .map(|p| json!({"pass": p.pass, "rule": p.rule.to_string(), "pairs": p.pairs}))
            .collect()
    });
}

/// The decisions of `result`, compared in `seconds`.
pub(crate) fn linking(result: &carematch::LinkResult, seconds: f64) {
    set("linking", || {
        let counts = result.decision_counts();
        json!({
            "candidate_pairs": result.candidates,
            "seconds": round(seconds, 3),
            "linked": counts.matched,
            "review": counts.review,
            "ambiguous": counts.ambiguous,
            "pairs_written": result.links.len(),
        })
    });
}

/// An error estimate as the JSON summary holds it.
pub(crate) fn estimate_json(e: &carematch::estimate::ErrorEstimate) -> Value {
    json!({
        "threshold_bits": e.threshold_bits.map(|b| round(b, 3)),
        "threshold_probability": e.threshold_bits.map(|b| carematch::model::MatchWeight::new(b).probability().get()),
        "linked": e.linked,
        "expected_true_matches": round(e.expected_true, 3),
        "expected_false_matches": round(e.expected_false, 3),
        "expected_missed_compared": round(e.expected_missed_compared, 3),
        "expected_missed_by_blocking": round(e.expected_missed_by_blocking, 3),
        "precision": round(e.precision(), 6),
        "recall": round(e.recall(), 6),
        "f1": round(e.f1(), 6),
    })
}

/// The error estimates without labels: for the run's decisions, and at thresholds from the
/// review threshold's weight − 10 bits to + 30 bits, one per bit.
pub(crate) fn estimates(
    scores: &carematch::estimate::Scores,
    decisions: &carematch::estimate::ErrorEstimate,
    review_bits: f64,
) {
    set("error_estimate", || {
        let from = review_bits.floor() - 10.0;
        let curve: Vec<Value> = scores
            .curve(
                from,
                from + 40.0,
                carematch::estimate::BINS_PER_BIT as usize,
            )
            .iter()
            .map(estimate_json)
            .collect();
        json!({
            "method": "model probabilities: Σp and Σ(1-p) over the linked pairs; Σp over the other compared pairs, each comparison vector held to the true pairs m allows it and each unlinked pair competing with its records' pairs with other people; blocking's misses from its recall under the model",
            "compared_pairs": scores.histogram.total(),
            "expected_true_pairs_in_all": round(scores.expected_true_pairs, 3),
            "decisions": estimate_json(decisions),
            "by_threshold": curve,
        })
    });
}

/// The files written, by kind (null for one not asked for).
pub(crate) fn outputs(files: &[(&str, Option<&PathBuf>)]) {
    set("outputs", || {
        Value::Object(
            files
                .iter()
                .map(|(k, p)| ((*k).to_string(), json!(p.map(|p| p.display().to_string()))))
                .collect(),
        )
    });
}

/// The person ids carried over from the clusters file `previous`.
pub(crate) fn person_id_changes(previous: &Path, changes: &carematch::cluster::CarriedIds) {
    set("person_id_changes", || {
        json!({
            "previous": previous.display().to_string(),
            "kept": changes.kept,
            "new": changes.new,
            "merges": changes.merges().count(),
            "splits": changes.splits().count(),
        })
    });
}

/// The people found among `records`.
pub(crate) fn clusters(records: &carematch::Records, clusters: &carematch::Clusters) {
    set("clusters", || {
        json!({
            "records": records.len(),
            "people": clusters.len(),
            "refused_merges": clusters.refused_merges(),
        })
    });
}
