//! The `carematch` command. See `carematch --help` and the README.
//!
//! Two rules hold for every subcommand:
//! - The summary goes to stdout through [`say!`], never `print!`: a reader that goes away
//!   (`carematch link … | head -1`) stops the summary, not the run, and never panics.
//! - Output files are staged ([`Outputs`]) and committed together once the whole run has
//!   succeeded, so a run that exits 2 leaves every earlier file as it was.

#![deny(clippy::print_stdout)]

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};

mod index_cmd;

/// Writes to stdout like `print!`, but a closed stdout (a pipe whose reader has gone) stops
/// the summary quietly instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::stdout_write(format_args!($($arg)*), false)
    };
}

/// [`say!`] with a newline, like `println!`.
macro_rules! sayln {
    ($($arg:tt)*) => {
        $crate::stdout_write(format_args!($($arg)*), true)
    };
}
pub(crate) use sayln;

/// Set once stdout has failed: nothing more is written to it.
static STDOUT_GONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The body of [`say!`]: a write that fails (a closed pipe, a full disk) ends the summary;
/// only a failure other than a closed pipe is reported, once, on stderr.
pub(crate) fn stdout_write(args: std::fmt::Arguments<'_>, newline: bool) {
    use std::sync::atomic::Ordering;
    if SUMMARY_TO_STDERR.load(Ordering::Relaxed) {
        // Not eprintln!, which panics when stderr is closed: the summary is best effort.
        let mut err = std::io::stderr().lock();
        let _ = err.write_fmt(args).and_then(|()| {
            if newline {
                err.write_all(b"\n")
            } else {
                Ok(())
            }
        });
        return;
    }
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    let r = out
        .write_fmt(args)
        .and_then(|()| {
            if newline {
                out.write_all(b"\n")
            } else {
                Ok(())
            }
        })
        .and_then(|()| out.flush());
    if let Err(e) = r {
        STDOUT_GONE.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("carematch: warning: cannot write the summary to stdout: {e}");
        }
    }
}

/// The files a run writes, staged and committed together when the whole run has succeeded.
#[derive(Default)]
pub(crate) struct Outputs(Vec<carematch::files::NewFile>);

impl Outputs {
    pub(crate) fn add(&mut self, f: carematch::files::NewFile) {
        self.0.push(f);
    }

    pub(crate) fn commit(self) -> Result<(), Error> {
        carematch::files::commit_all(self.0)
    }
}

use carematch::block::Mode;
use carematch::evaluate::evaluate_files;
use carematch::output::{stage_clusters, stage_pairs};
use carematch::pseudonym::{Key, Pseudonymiser};
use carematch::synth::{GenerateOptions, generate};
use carematch::{Config, Error, Evaluation, LinkResult, Linker, Model, Records};

/// Patient record linkage for health and social care.
#[derive(Parser)]
#[command(
    name = "carematch",
    version,
    about,
    long_about = None,
    after_help = STREAMS_HELP,
    after_long_help = long_help()
)]
struct Cli {
    /// The field delimiter of the input files: one character, or `tab`. Default: a tab for
    /// `.tsv` and `.tab` files, else whatever the header line uses (a comma, or else a tab,
    /// semicolon or pipe).
    #[arg(long, global = true, value_parser = delimiter)]
    delimiter: Option<u8>,
    /// Print progress lines on stderr even when it is not a terminal (a log file, a pipeline).
    #[arg(long, global = true, conflicts_with = "quiet")]
    progress: bool,
    /// No progress lines, even on a terminal.
    #[arg(long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

const STREAMS_HELP: &str = "Input files are CSV, TSV or other delimited text, gzipped or not \
    (found by content), or Parquet (a .parquet or .pq name, or Parquet's magic bytes); `-` \
    reads standard input (text only). An output path ending .parquet or .pq (pairs, clusters, \
    encoded records) is written as Parquet with the CSV file's columns. An output path `-` \
    writes standard output, and the summary then goes to standard error. `--help` lists the recognised column names \
    and the defaults.";

/// `--help`'s closing text: the streams, the recognised column names and the defaults.
fn long_help() -> String {
    use std::fmt::Write as _;
    let mut s = format!(
        "{STREAMS_HELP}\n\nRecognised column names (case and any character that is not a letter or digit ignored; anything else is carried through, or mapped with the config's \"columns\"):\n"
    );
    for (role, names) in carematch::schema::RECOGNISED {
        let more = if *role == carematch::Role::Address {
            ", or any name starting addr (several are joined)"
        } else {
            ""
        };
        let _ = writeln!(s, "  {:<11} {}{more}", role.as_str(), names.join(", "));
    }
    let t = carematch::model::Thresholds::default();
    let _ = write!(
        s,
        "\nDefaults: match at probability >= {}, review from {}, ambiguity margin {} bits \
         (config \"thresholds\", or --threshold); the model trained on the input (--model to \
         load one); blocking rules chosen from the data; the deterministic rules {}.",
        t.match_probability,
        t.review_probability,
        t.ambiguity_margin,
        carematch::MatchRule::defaults()
            .iter()
            .map(carematch::MatchRule::name)
            .collect::<Vec<_>>()
            .join(", ")
    );
    s
}

/// Progress lines: `Some(true)` with --progress, `Some(false)` with --quiet, `None` when
/// stderr is a terminal decides.
static PROGRESS: std::sync::OnceLock<Option<bool>> = std::sync::OnceLock::new();

/// The input delimiter from the command line (`None`: found per file).
static DELIMITER: std::sync::OnceLock<Option<u8>> = std::sync::OnceLock::new();

/// Set when an output goes to standard output: the summary then goes to standard error.
static SUMMARY_TO_STDERR: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `--delimiter`: one ASCII character other than a quote or a line break, or `tab`.
fn delimiter(s: &str) -> Result<u8, String> {
    match s {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        _ if s.len() == 1 && s.is_ascii() && !matches!(s, "\"" | "\n" | "\r") => {
            Ok(s.as_bytes()[0])
        }
        _ => Err("must be one ASCII character (not a quote or line break), or `tab`".into()),
    }
}

/// Checks the run's paths: standard input (`-`) read at most once, standard output written
/// at most once; when it is written, the summary goes to standard error.
///
/// # Errors
///
/// A usage error naming the option that repeats `-`.
pub(crate) fn claim_std_streams(inputs: &[&Path], outputs: &[Option<&Path>]) -> Result<(), Error> {
    let dash = |p: &Path| p.as_os_str() == "-";
    if inputs.iter().filter(|p| dash(p)).count() > 1 {
        return Err(carematch::Error::usage(
            "standard input (`-`) can be read for one input file only",
        ));
    }
    let to_stdout = outputs.iter().flatten().filter(|p| dash(p)).count();
    if to_stdout > 1 {
        return Err(carematch::Error::usage(
            "standard output (`-`) can take one output file only",
        ));
    }
    if to_stdout == 1 {
        SUMMARY_TO_STDERR.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    Ok(())
}

#[derive(Subcommand)]
enum Command {
    /// Link the records of two files that belong to the same person.
    Link(LinkArgs),
    /// Find the records of one file that belong to the same person.
    Dedupe(DedupeArgs),
    /// Train a model on one file (dedupe) or two (link) and write it as JSON.
    Train(TrainArgs),
    /// Write a pseudonymised copy of a file: keyed tokens and Bloom filters, no clear text.
    Pseudonymise(PseudonymiseArgs),
    /// Precision, recall and F1 of a pairs file against a truth file.
    Evaluate(EvaluateArgs),
    /// Write synthetic GP and hospital extracts with ground truth.
    Generate(GenerateArgs),
    /// A real-time index: build one, query it one record at a time, add batches to it.
    #[command(subcommand)]
    Index(index_cmd::IndexCommand),
}

#[derive(Args)]
struct Common {
    /// Output pairs CSV: `left_id,right_id,match_weight,match_probability,decision,rule,reason`.
    #[arg(long)]
    out: PathBuf,
    /// Also write every record's person id: `cluster_id,source,record_id`.
    #[arg(long)]
    clusters: Option<PathBuf>,
    /// JSON config: column mapping, rule ladder, strictness.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Make invalid values (dates, NHS numbers, sex codes) fatal instead of missing.
    #[arg(long)]
    strict: bool,
    /// A truth CSV of true pairs: print precision, recall and F1 of the result.
    #[arg(long)]
    truth: Option<PathBuf>,
    /// A model JSON written by `train`; without it a model is trained on the input first.
    #[arg(long, conflicts_with = "no_model")]
    model: Option<PathBuf>,
    /// Deterministic rules only, no probabilistic model.
    #[arg(long)]
    no_model: bool,
    /// Match probability threshold (overrides the model's and the config's).
    #[arg(long, value_parser = probability)]
    threshold: Option<f64>,
    /// Add the explanation columns (prior, and level, weight and term-frequency adjustment
    /// per comparison) to the pairs file.
    #[arg(long)]
    explain: bool,
    /// Also write the model used (trained or loaded) to this JSON file.
    #[arg(long)]
    save_model: Option<PathBuf>,
    /// A clusters file from an earlier run: keep its person ids where the people are the
    /// same, and report merges and splits (needs --clusters).
    #[arg(long, requires = "clusters")]
    previous_clusters: Option<PathBuf>,
    /// Write the merges and splits found with --previous-clusters to this CSV
    /// (`change,person_id,other_person_ids`).
    #[arg(long, requires = "previous_clusters")]
    changes: Option<PathBuf>,
}

#[derive(Args)]
struct LinkArgs {
    /// The left CSV file.
    #[arg(long)]
    left: PathBuf,
    /// The right CSV file.
    #[arg(long)]
    right: PathBuf,
    /// Give each record at most one match (best first); the others go to review.
    #[arg(long)]
    one_to_one: bool,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct TrainArgs {
    /// The left CSV file (with --right: train for linking two files).
    #[arg(long, requires = "right", conflicts_with = "input")]
    left: Option<PathBuf>,
    /// The right CSV file.
    #[arg(long, requires = "left")]
    right: Option<PathBuf>,
    /// One CSV file (train for deduplication).
    #[arg(long, required_unless_present = "left")]
    input: Option<PathBuf>,
    /// Where to write the model JSON.
    #[arg(long)]
    out: PathBuf,
    /// JSON config: column mapping, comparisons, blocking and training rules.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Known true pairs (CSV, two id columns: left then right, header first): estimate m
    /// from them directly instead of by EM.
    #[arg(long)]
    labels: Option<PathBuf>,
}

#[derive(Args)]
struct DedupeArgs {
    /// The CSV file.
    #[arg(long)]
    input: PathBuf,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct PseudonymiseArgs {
    /// The CSV file to encode.
    #[arg(long)]
    input: PathBuf,
    /// The master key: a file of 32 raw bytes or 64 hex digits. Without it, the key is read
    /// from the environment variable `CAREMATCH_KEY` (64 hex digits).
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// Where to write the encoded CSV.
    #[arg(long)]
    out: PathBuf,
    /// The linkage project: files to be linked must be encoded with the same project and
    /// key version.
    #[arg(long, default_value = "carematch")]
    project: String,
    /// The key version, for rotation.
    #[arg(long, default_value_t = 1)]
    key_version: u32,
    /// Replace the record id with its keyed token too.
    #[arg(long)]
    tokenise_id: bool,
    /// Leave out the exact, nickname and phonetic tokens of names: names are then compared
    /// by their hardened Bloom filters only (stronger against frequency attacks; see
    /// docs/threat-model.md).
    #[arg(long)]
    no_name_tokens: bool,
    /// JSON config: column mapping.
    #[arg(long)]
    config: Option<PathBuf>,
}

#[derive(Args)]
struct EvaluateArgs {
    /// The pairs CSV written by link or dedupe (or any CSV whose first two columns are ids).
    #[arg(long)]
    pairs: PathBuf,
    /// The truth CSV: two id columns, one true pair per row, header first.
    #[arg(long)]
    truth: PathBuf,
    /// Count only pairs whose `match_probability` is at least this (0 to 1).
    #[arg(long, value_parser = probability)]
    threshold: Option<f64>,
}

#[derive(Args)]
struct GenerateArgs {
    /// Number of people in the synthetic population.
    #[arg(long)]
    people: u64,
    /// Seed: the same seed gives byte-identical files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output directory (created if missing).
    #[arg(long)]
    out_dir: PathBuf,
    /// Multiplier on every corruption rate (2.0 = a noisier variant).
    #[arg(long, default_value_t = 1.0)]
    noise: f64,
    /// Share of people with a record in gp.csv.
    #[arg(long, default_value_t = 0.8)]
    gp_coverage: f64,
    /// Share of people with a record in hospital.csv.
    #[arg(long, default_value_t = 0.6)]
    hospital_coverage: f64,
}

pub(crate) fn probability(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err("must be a number from 0 to 1".into()),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = DELIMITER.set(cli.delimiter);
    let _ = PROGRESS.set(match (cli.progress, cli.quiet) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    });
    let result = match cli.command {
        Command::Link(a) => link(&a),
        Command::Dedupe(a) => dedupe(&a),
        Command::Train(a) => train(&a),
        Command::Pseudonymise(a) => pseudonymise(&a),
        Command::Evaluate(a) => evaluate(&a),
        Command::Generate(a) => generate_cmd(&a),
        Command::Index(c) => index_cmd::run(&c),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("carematch: error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Phase messages on stderr: when it is a terminal, unless --quiet; always with --progress.
struct Progress {
    on: bool,
    start: Instant,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            on: PROGRESS
                .get()
                .copied()
                .flatten()
                .unwrap_or_else(|| std::io::stderr().is_terminal()),
            start: Instant::now(),
        }
    }

    fn say(&self, what: &str) {
        if self.on {
            eprintln!("[{:>7.2}s] {what}", self.start.elapsed().as_secs_f64());
        }
    }
}

fn load_config(common: &Common) -> Result<Config, Error> {
    let mut config = Config::load(common.config.as_deref())?;
    config.strict |= common.strict;
    Ok(config)
}

fn read_sources(config: &Config, files: &[&Path], progress: &Progress) -> Result<Records, Error> {
    let mut b = Records::builder();
    b.columns(config.columns.clone())
        .delimiter(DELIMITER.get().copied().flatten())
        .strict(config.strict)
        .accept_test_nhs_numbers(config.accept_test_nhs_numbers);
    for f in files {
        progress.say(&format!("reading {}", f.display()));
        b.add_file(f)?;
    }
    progress.say("normalising");
    let (records, quality) = b.build()?;
    say!("{quality}");
    if let Some(scheme) = records.scheme() {
        sayln!("pseudonymised input: {scheme}");
    }
    let ids = config.identifiers(&records);
    if !ids.is_empty() {
        sayln!(
            "identifier columns: {} (blocked on, compared as exact / one edit / else, ruled on with the date of birth; they lift the vetoes)",
            ids.join(", ")
        );
    }
    Ok(records)
}

fn trained(
    config: &Config,
    records: &Records,
    mode: &Mode,
    labels: Option<&Path>,
    progress: &Progress,
) -> Result<Model, Error> {
    progress.say("training the model");
    let labelled = match labels {
        Some(path) => labelled_pairs(records, mode, path)?,
        None => Vec::new(),
    };
    let (model, choice) = config.train(records, mode, labelled)?;
    print_training(&model);
    say!("{choice}");
    Ok(model)
}

/// Sets the run's thresholds on `model` (the command line's over the config's over the
/// model's own, see [`Config::apply_thresholds`]) and says which it uses and why.
pub(crate) fn set_thresholds(
    config: &Config,
    model: &mut Model,
    threshold: Option<f64>,
    model_label: &'static str,
) -> Result<(), Error> {
    let applied = config.apply_thresholds(model, threshold, model_label)?;
    sayln!("{applied}");
    Ok(())
}

/// The rows of the id pairs in `path`: left ids in the left source, right ids in the right
/// (in a dedupe, both in the one source).
fn labelled_pairs(
    records: &Records,
    mode: &Mode,
    path: &Path,
) -> Result<Vec<carematch::block::Pair>, Error> {
    let (ls, rs) = match mode {
        Mode::Link { .. } => (0, 1),
        Mode::Dedupe { .. } => (0, 0),
    };
    let index = |s: usize| -> std::collections::HashMap<&str, u32> {
        records.sources()[s]
            .rows
            .clone()
            .map(|r| (records.id(r), r))
            .collect()
    };
    let (left, right) = (index(ls), index(rs));
    let file = carematch::evaluate::PairFile::read(path, false, None)?;
    let name = path.display().to_string();
    file.pairs()
        .zip(file.lines())
        .map(|((a, b), &line)| match (left.get(a), right.get(b)) {
            (Some(&l), Some(&r)) => Ok(carematch::block::Pair { left: l, right: r }),
            (None, _) => Err(carematch::Error::usage(&format!(
                "{name}: line {line}: the left id is not in the left input"
            ))),
            _ => Err(carematch::Error::usage(&format!(
                "{name}: line {line}: the right id is not in the right input"
            ))),
        })
        .collect()
}

fn print_training(model: &Model) {
    let Some(t) = model.training() else {
        return;
    };
    for w in model.training_warnings() {
        eprintln!("carematch: warning: {w}");
    }
    sayln!(
        "model: u from {} random pairs{}; prior λ = {:.3e} ({:+.2} bits)",
        t.u_pairs,
        if t.u_exhaustive { " (all pairs)" } else { "" },
        model.lambda(),
        model.prior_weight()
    );
    if t.labelled_pairs > 0 {
        sayln!("  m from {} labelled true pairs", t.labelled_pairs);
    }
    for s in &t.sessions {
        sayln!(
            "  EM on {:<44} {:>10} pairs {:>6} vectors {:>4} iterations{} λ = {:.3e}",
            s.rule,
            s.pairs,
            s.distinct_vectors,
            s.iterations,
            if s.converged { "" } else { " (not converged)" },
            s.lambda
        );
    }
}

fn linker(
    config: &Config,
    common: &Common,
    records: &Records,
    mode: &Mode,
    one_to_one: bool,
    progress: &Progress,
    outputs: &mut Outputs,
) -> Result<Linker, Error> {
    let (mut model, label) = if common.no_model {
        (None, "default")
    } else if let Some(p) = &common.model {
        (Some(Model::load(p)?), "model file")
    } else {
        (
            Some(trained(config, records, mode, None, progress)?),
            "default",
        )
    };
    if let Some(m) = &mut model {
        set_thresholds(config, m, common.threshold, label)?;
    }
    if let (Some(m), Some(path)) = (&model, &common.save_model) {
        outputs.add(m.stage(path)?);
    }
    let unused = config.unused_columns(records, model.as_ref());
    if !unused.is_empty() {
        let list: Vec<String> = unused
            .iter()
            .map(|(c, why)| format!("{c} ({why})"))
            .collect();
        sayln!(
            "columns not used: {}; to use one, map it to a role in the config's \"columns\" \
             (e.g. {{\"Forename\": \"given_name\"}}) or compare it under \"comparisons\"",
            list.join(", ")
        );
    }
    let mut b = Linker::builder();
    b.rules(config.rules_for(records))
        .model(model)
        .one_to_one(one_to_one || config.one_to_one);
    b.build()
}

fn link(a: &LinkArgs) -> Result<(), Error> {
    link_or_dedupe(&a.common, &[&a.left, &a.right], a.one_to_one)
}

fn dedupe(a: &DedupeArgs) -> Result<(), Error> {
    link_or_dedupe(&a.common, &[&a.input], false)
}

/// `link` (two files) or `dedupe` (one): read, train or load the model, run, write.
fn link_or_dedupe(common: &Common, files: &[&Path], one_to_one: bool) -> Result<(), Error> {
    claim_std_streams(
        files,
        &[
            Some(common.out.as_path()),
            common.clusters.as_deref(),
            common.save_model.as_deref(),
            common.changes.as_deref(),
        ],
    )?;
    let progress = Progress::new();
    let config = load_config(common)?;
    let records = read_sources(&config, files, &progress)?;
    let mode = if files.len() == 2 {
        carematch::block::Mode::link(&records, 0, 1)?
    } else {
        carematch::block::Mode::dedupe(&records, 0)?
    };
    let mut outputs = Outputs::default();
    let linker = linker(
        &config,
        common,
        &records,
        &mode,
        one_to_one,
        &progress,
        &mut outputs,
    )?;
    run(&records, &linker, &mode, common, &progress, outputs)
}

fn train(a: &TrainArgs) -> Result<(), Error> {
    let inputs: Vec<&Path> = [&a.left, &a.right, &a.input]
        .into_iter()
        .flatten()
        .map(PathBuf::as_path)
        .collect();
    claim_std_streams(&inputs, &[Some(a.out.as_path())])?;
    let progress = Progress::new();
    let config = Config::load(a.config.as_deref())?;
    let (records, mode) = match (&a.left, &a.right, &a.input) {
        (Some(l), Some(r), _) => {
            let records = read_sources(&config, &[l, r], &progress)?;
            let mode = carematch::block::Mode::link(&records, 0, 1)?;
            (records, mode)
        }
        (_, _, Some(i)) => {
            let records = read_sources(&config, &[i], &progress)?;
            let mode = carematch::block::Mode::dedupe(&records, 0)?;
            (records, mode)
        }
        _ => {
            return Err(carematch::Error::usage(
                "train needs --left and --right, or --input",
            ));
        }
    };
    let mut model = trained(&config, &records, &mode, a.labels.as_deref(), &progress)?;
    set_thresholds(&config, &mut model, None, "default")?;
    model.save(&a.out)?;
    sayln!("model written to {}", a.out.display());
    Ok(())
}

fn run(
    records: &Records,
    linker: &Linker,
    mode: &Mode,
    common: &Common,
    progress: &Progress,
    mut outputs: Outputs,
) -> Result<(), Error> {
    progress.say("blocking");
    let plan = linker.plan(records, mode)?;
    let mut out = String::new();
    out.push_str("blocking rules (comparisons each generates on its own):\n");
    let mut total = 0u64;
    for p in plan.pair_counts() {
        out.push_str(&format!(
            "  {:<6} {:<56} {:>14}\n",
            p.pass,
            p.rule.to_string(),
            p.pairs
        ));
        total += p.pairs;
    }
    say!("{out}");
    if total == 0 && !records.is_empty() {
        eprintln!(
            "carematch: warning: no blocking rule made a single candidate pair, so nothing can \
             be linked: the rules (the defaults and those chosen from the fields the files \
             share: names, date of birth, postcode, address, NHS number, identifier columns) \
             found no two records that agree; if the files share other fields, map them to \
             roles or give rules on them in the config (\"columns\", \"blocking\" and \
             \"training_rules\")"
        );
    }
    progress.say("linking");
    let start = Instant::now();
    let result = linker.run(records, &plan, mode)?;
    let secs = start.elapsed().as_secs_f64();
    progress.say("writing");
    let explain = if common.explain { linker.model() } else { None };
    outputs.add(stage_pairs(&common.out, records, &result, explain)?);
    print_summary(&result);
    let counts = result.decision_counts();
    sayln!(
        "{} candidate pairs compared in {secs:.2}s; {} linked, {} for review, {} ambiguous (not linked); pairs written to {}",
        result.candidates,
        counts.matched,
        counts.review,
        counts.ambiguous,
        common.out.display()
    );
    if let Some(path) = &common.clusters {
        let mut clusters = result.clusters(records);
        if let Some(prev) = &common.previous_clusters {
            let previous = carematch::cluster::PreviousIds::read(prev)?;
            let changes = clusters.carry_over(records, &previous);
            sayln!(
                "person ids from {}: {} kept, {} new, {} merges, {} splits",
                prev.display(),
                changes.kept,
                changes.new,
                changes.merges().count(),
                changes.splits().count()
            );
            if let Some(c) = &common.changes {
                outputs.add(carematch::output::stage_changes_csv(c, &changes)?);
            }
        }
        outputs.add(stage_clusters(path, records, &clusters)?);
        sayln!(
            "{} records in {} people; {} links not merged (different NHS numbers); person ids written to {}",
            records.len(),
            clusters.len(),
            clusters.refused_merges(),
            path.display()
        );
    }
    if let Some(t) = &common.truth {
        // From the result in memory: the same pairs the file holds with decision=match.
        let truth = carematch::evaluate::PairFile::read(t, false, None)?;
        let e = Evaluation::of_result(records, &result, truth.pairs())
            .map_err(|e| carematch::Error::usage(&format!("{}: {}", t.display(), e.message())))?;
        sayln!("{e}");
    }
    outputs.commit()?;
    progress.say("done");
    Ok(())
}

fn print_summary(result: &LinkResult) {
    sayln!("links by rule:");
    let counts = result.counts_per_rule();
    for (rule, (m, amb)) in result.rules.iter().zip(&counts) {
        sayln!(
            "  {:<18} {:<64} {m:>10} linked {amb:>8} ambiguous",
            rule.name(),
            rule.expression()
        );
    }
    if let Some((m, amb)) = counts.last() {
        sayln!(
            "  {:<18} {:<64} {m:>10} linked {amb:>8} ambiguous",
            "model",
            "match probability at or above the threshold"
        );
    }
}

fn pseudonymise(a: &PseudonymiseArgs) -> Result<(), Error> {
    claim_std_streams(&[&a.input], &[Some(a.out.as_path())])?;
    let progress = Progress::new();
    let config = Config::load(a.config.as_deref())?;
    let master = match &a.key_file {
        Some(p) => Key::from_file(p)?,
        None => Key::from_env()?,
    };
    let records = read_sources(&config, &[&a.input], &progress)?;
    progress.say("encoding");
    let p = Pseudonymiser::new(&master, &a.project, a.key_version);
    drop(master);
    let start = Instant::now();
    let options = carematch::pseudonym::EncodeOptions {
        tokenise_id: a.tokenise_id,
        name_tokens: !a.no_name_tokens,
    };
    let rows = carematch::pseudonym::write_encoded(&records, 0, &p, options, &a.out)?;
    sayln!(
        "{rows} records encoded in {:.2}s under {} to {}",
        start.elapsed().as_secs_f64(),
        p.scheme(),
        a.out.display()
    );
    Ok(())
}

fn evaluate(a: &EvaluateArgs) -> Result<(), Error> {
    let e = evaluate_files(&a.pairs, &a.truth, a.threshold)?;
    sayln!("{e}");
    Ok(())
}

fn generate_cmd(a: &GenerateArgs) -> Result<(), Error> {
    let options = GenerateOptions {
        people: a.people,
        seed: a.seed,
        noise: a.noise,
        gp_coverage: a.gp_coverage,
        hospital_coverage: a.hospital_coverage,
        ..GenerateOptions::default()
    };
    let start = Instant::now();
    let summary = generate(&options, &a.out_dir)?;
    let mut out = std::io::stdout().lock();
    for (file, rows) in &summary.files {
        let _ = writeln!(out, "{file:<20} {rows:>10} rows");
    }
    let _ = writeln!(
        out,
        "generated {} people with seed {} in {:.1}s into {}",
        a.people,
        a.seed,
        start.elapsed().as_secs_f64(),
        a.out_dir.display()
    );
    Ok(())
}
