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
    /// The plan's pairs per blocking rule (the plan itself is freed once the run is done).
    pub(crate) blocking: &'a [carematch::link::RulePairs],
    pub(crate) linker: &'a Linker,
    pub(crate) mode: &'a Mode,
    pub(crate) result: &'a LinkResult,
    /// The people, when the run clustered them (else they are clustered here).
    pub(crate) clusters: Option<Clusters>,
    pub(crate) truth: Option<&'a [Pair]>,
    /// Reviewers' decisions applied to the run: (weight in bits, match).
    pub(crate) reviewed: &'a [(f64, bool)],
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
            .blocking
            .iter()
            .map(|p| (p.pass.to_string(), p.rule.to_string(), p.pairs))
            .collect(),
        model: run.linker.model(),
        result: run.result,
        clusters: run.clusters.as_ref().or(people.as_ref()),
        truth: run.truth,
        reviewed: run.reviewed,
        settings: vec![(
            "command line".into(),
            format!("carematch {}", command.join(" ")),
        )],
        show_records,
        explain: carematch::report::ReportInput::scorer_explain(run.linker.model(), run.records),
        notes: Vec::new(),
    };
    let html = carematch::report::render(&input);
    let f = NewFile::with_contents(path, html.as_bytes())?;
    sayln!("report written to {}", path.display());
    Ok(f)
}

#[derive(Args)]
pub(crate) struct ReportCmdArgs {
    /// The model the run used (written by `train`, or by link/dedupe --save-model).
    #[arg(long)]
    model: PathBuf,
    /// The run's pairs file (CSV, as link, dedupe or index add wrote it; with --explain
    /// columns the sample pairs get waterfalls).
    #[arg(long)]
    pairs: PathBuf,
    /// A truth CSV of true pairs: adds the true precision and recall curves.
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Where to write the HTML report.
    #[arg(long)]
    out: PathBuf,
}

/// `carematch report`: the report of an earlier run, from its model and pairs file.
pub(crate) fn report(a: &ReportCmdArgs) -> Result<(), Error> {
    crate::claim_std_streams(
        &[a.pairs.as_path(), a.model.as_path()],
        &[Some(a.out.as_path())],
    )?;
    let model = carematch::Model::load(&a.model)?;
    let run = carematch::report::PairsRun::read(&a.pairs, a.truth.as_deref(), &model)?;
    let mut settings = vec![
        ("pairs file".to_string(), a.pairs.display().to_string()),
        ("model file".to_string(), a.model.display().to_string()),
    ];
    if let Some(t) = &a.truth {
        settings.push(("truth file".into(), t.display().to_string()));
    }
    let html = pairs_report(&run, &model, settings, "an earlier run's pairs file");
    let mut outputs = crate::Outputs::default();
    outputs.add(NewFile::with_contents(&a.out, html.as_bytes())?);
    outputs.commit()?;
    crate::summary::outputs(&[("report", Some(&a.out))]);
    sayln!(
        "report of {} pairs written to {}",
        run.result.links.len(),
        a.out.display()
    );
    Ok(())
}

/// The HTML report of a run known by its pairs only (`what` says where they come from).
pub(crate) fn pairs_report(
    run: &carematch::report::PairsRun,
    model: &carematch::Model,
    mut settings: Vec<(String, String)>,
    what: &str,
) -> String {
    let clusters = run.result.clusters(&run.records);
    let command: Vec<String> = std::env::args().skip(1).collect();
    settings.push((
        "command line".into(),
        format!("carematch {}", command.join(" ")),
    ));
    let input = carematch::report::ReportInput {
        title: "carematch report".into(),
        records: &run.records,
        quality: None,
        blocking: Vec::new(),
        model: Some(model),
        result: &run.result,
        clusters: Some(&clusters),
        truth: run.truth.as_deref(),
        reviewed: &[],
        settings,
        show_records: false,
        explain: run
            .explained()
            .then(|| Box::new(|p| run.explanation(p)) as carematch::report::Explainer<'_>),
        notes: vec![format!(
            "Rebuilt from {what} and the model: the records are known by their ids only (no data quality, blocking counts or values), and pairs below the review threshold are not in the file, so the expected missed matches count only the written pairs not linked and the matches blocking never compared."
        )],
    };
    carematch::report::render(&input)
}
