//! `--report`: the HTML report of a run.

use std::path::{Path, PathBuf};

use clap::Args;

use carematch::block::{Mode, Pair};
use carematch::files::NewFile;
use carematch::{Clusters, Error, LinkResult, Linker, QualityReport, Records};

use crate::sayln;

#[derive(Args)]
pub(crate) struct ReportArgs {
    /// Also write an HTML report of the run to this file: data quality, blocking, the
    /// model, scores with the expected errors, sample pairs' waterfalls, clusters and
    /// settings. One self-contained file that opens without network access; no patient
    /// values unless --report-records is given.
    #[arg(long, value_name = "FILE")]
    pub(crate) report: Option<PathBuf>,
    /// Show the sample pairs' values side by side in the report (the report then holds
    /// patient data).
    #[arg(long, requires = "report")]
    pub(crate) report_records: bool,
}

/// The data-quality report of the run's inputs, kept for the HTML report.
static QUALITY: std::sync::OnceLock<QualityReport> = std::sync::OnceLock::new();

/// Keeps the inputs' data-quality report for the HTML report.
pub(crate) fn keep_quality(q: &QualityReport) {
    let _ = QUALITY.set(q.clone());
}

/// What a run gives its report.
pub(crate) struct Run<'a> {
    pub(crate) records: &'a Records,
    pub(crate) plan: &'a carematch::link::Plan,
    pub(crate) linker: &'a Linker,
    pub(crate) mode: &'a Mode,
    pub(crate) result: &'a LinkResult,
    /// The people, when the run clustered them (else they are clustered here).
    pub(crate) clusters: Option<Clusters>,
    pub(crate) truth: Option<&'a [Pair]>,
}

/// Stages the report of `run` at `path`.
pub(crate) fn stage(path: &Path, run: &Run<'_>, show_records: bool) -> Result<NewFile, Error> {
    let people = match &run.clusters {
        Some(_) => None,
        None => Some(run.result.clusters(run.records)),
    };
    let command: Vec<String> = std::env::args().skip(1).collect();
    let input = carematch::report::ReportInput {
        title: match run.mode {
            Mode::Link { .. } => "carematch link report".into(),
            Mode::Dedupe { .. } => "carematch dedupe report".into(),
        },
        records: run.records,
        quality: QUALITY.get(),
        blocking: run
            .plan
            .pair_counts()
            .iter()
            .map(|p| (p.pass.to_string(), p.rule.to_string(), p.pairs))
            .collect(),
        model: run.linker.model(),
        result: run.result,
        clusters: run.clusters.as_ref().or(people.as_ref()),
        truth: run.truth,
        settings: vec![(
            "command line".into(),
            format!("carematch {}", command.join(" ")),
        )],
        show_records,
    };
    let html = carematch::report::render(&input);
    let f = NewFile::with_contents(path, html.as_bytes())?;
    sayln!("report written to {}", path.display());
    Ok(f)
}
