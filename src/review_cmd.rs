//! `carematch review`: the pairs a person must decide, side by side, for clerical review.

use std::path::PathBuf;

use clap::Args;

use carematch::{Config, Error};

use crate::{Outputs, Progress, claim_std_streams, sayln, summary};

#[derive(Args)]
pub(crate) struct ReviewArgs {
    /// The pairs file a `link` or `dedupe` run wrote (CSV).
    #[arg(long)]
    pairs: PathBuf,
    /// The run's inputs.
    #[command(flatten)]
    sources: crate::Sources,
    /// Where to write the review file (CSV): `left_id,right_id,decision,status,reason,
    /// match_weight,match_probability`, then `left_<column>,right_<column>` per column.
    /// Reviewers fill `decision` with match, non-match or unsure; give the file back to
    /// `link` or `dedupe` with --reviewed.
    #[arg(long)]
    out: PathBuf,
    /// Also add this many automatic matches, drawn at random (reason `audit`): their
    /// decisions measure the precision of the automatic matches.
    #[arg(long, default_value_t = 0)]
    audit: usize,
    /// The seed of the audit draw.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The run's JSON config (its column mapping).
    #[arg(long)]
    config: Option<PathBuf>,
}

pub(crate) fn review(a: &ReviewArgs) -> Result<(), Error> {
    let mut inputs = a.sources.paths();
    inputs.push(&a.pairs);
    claim_std_streams(&inputs, &[Some(a.out.as_path())])?;
    let progress = Progress::new();
    let config = Config::load(a.config.as_deref())?;
    let (records, mode) = a.sources.read(&config, &progress)?;
    let rows =
        carematch::review::queue_from_pairs_file(&a.pairs, &records, &mode, a.audit, a.seed)?;
    let mut outputs = Outputs::default();
    outputs.add(carematch::review::stage_review_csv(
        &a.out, &records, &rows,
    )?);
    let audited = rows.iter().filter(|r| r.reason == "audit").count();
    summary::set(
        "review",
        || serde_json::json!({"pairs": rows.len(), "audit": audited}),
    );
    summary::outputs(&[("review", Some(&a.out))]);
    outputs.commit()?;
    sayln!(
        "{} pairs for review ({} of them automatic matches to audit) written to {}; fill `decision` with match, non-match or unsure and give the file to link or dedupe with --reviewed",
        rows.len(),
        audited,
        a.out.display()
    );
    Ok(())
}

/// Applies `--reviewed` to a run's result, says what changed, and records it in the JSON.
pub(crate) fn apply(
    path: &std::path::Path,
    reviewed: &carematch::review::ReviewedPairs,
    records: &carematch::Records,
    mode: &carematch::block::Mode,
    result: &mut carematch::LinkResult,
) -> carematch::review::Applied {
    let applied = result.apply_reviewed(records, mode, reviewed);
    sayln!(
        "reviewed decisions from {}: {} linked ({} not among this run's pairs), {} non-matches removed, {} unsure kept for review, {} on records no longer present{}",
        path.display(),
        applied.matched,
        applied.added,
        applied.non_matches,
        applied.unsure,
        applied.missing,
        applied
            .audited_precision()
            .map_or_else(String::new, |p| format!(
                "; precision of the automatic matches reviewed: {p:.4} ({} of {})",
                applied.audited_true,
                applied.audited_true + applied.audited_false
            ))
    );
    summary::set("reviewed", || {
        serde_json::json!({
            "file": path.display().to_string(),
            "decisions": reviewed.len(),
            "matched": applied.matched,
            "added": applied.added,
            "non_matches": applied.non_matches,
            "unsure": applied.unsure,
            "missing_records": applied.missing,
            "audited_matches": applied.audited_true + applied.audited_false,
            "audited_precision": applied.audited_precision(),
        })
    });
    applied
}
