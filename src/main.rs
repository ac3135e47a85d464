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
mod report_cmd;
mod review_cmd;
mod summary;

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
use carematch::pseudonym::{Key, NameSalt, Pseudonymiser};
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
    /// Also write the run's summary as JSON to FILE (`-` for standard output): the data
    /// quality, training, blocking counts, links per rule, thresholds used, outcome and
    /// timings, in the documented schema `carematch-summary/1` (docs/summary-json.md).
    #[arg(long, global = true, value_name = "FILE")]
    summary_json: Option<PathBuf>,
    /// The most memory the run may hold, e.g. `8G`, `500M` or a number of bytes: it stops with
    /// a message before it holds more. Default: what the machine (or the container) has free
    /// when the run begins.
    #[arg(long, global = true, value_name = "SIZE", value_parser = memory_size)]
    memory_limit: Option<u64>,
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
/// `--memory-limit`: bytes, or a number with `K`, `M`, `G` or `T` (powers of 1024; a
/// trailing `B` or `iB` is allowed).
fn memory_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (number, shift) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (
            &t[..i],
            match c.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => return Err("the unit must be K, M, G or T".into()),
            },
        ),
        _ => (t, 0),
    };
    let n: f64 = number
        .trim()
        .parse()
        .map_err(|_| "must be a size such as 8G, 500M or 1000000000".to_string())?;
    if !(n.is_finite() && n > 0.0) {
        return Err("must be a size above zero".into());
    }
    Ok((n * (1u64 << shift) as f64).min(u64::MAX as f64) as u64)
}

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
    let to_stdout = outputs
        .iter()
        .flatten()
        .chain(summary::path().as_ref())
        .filter(|p| dash(p))
        .count();
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
    /// Write the HTML report of an earlier run from its model and pairs file.
    Report(report_cmd::ReportCmdArgs),
    /// Write the pairs a person must decide, both records side by side, for clerical review.
    Review(review_cmd::ReviewArgs),
    /// A real-time index: build one, query it one record at a time, add batches to it.
    #[command(subcommand)]
    Index(index_cmd::IndexCommand),
}

#[derive(Args)]
struct Common {
    /// Output pairs: `left_id,right_id,match_weight,match_probability,decision,rule,reason`
    /// (CSV; Parquet for a .parquet or .pq name; `-` for standard output).
    #[arg(long)]
    out: PathBuf,
    /// Also write every record's person id: `cluster_id,source,record_id` (CSV, or Parquet for
    /// a .parquet or .pq name).
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
    /// A review file with reviewers' decisions (`carematch review`): each `match` is linked,
    /// each `non-match` never is, each `unsure` stays for review; decisions are kept by
    /// record ids, so the file applies to later runs too.
    #[arg(long)]
    reviewed: Option<PathBuf>,
    #[command(flatten)]
    report: report_cmd::ReportArgs,
}

#[derive(Args)]
struct LinkArgs {
    /// The left file (CSV or other delimited text, gzipped or not, or Parquet; `-` for stdin).
    #[arg(long)]
    left: PathBuf,
    /// The right file (as --left).
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
    #[command(flatten)]
    sources: Sources,
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

/// The inputs of a command that links two files or deduplicates one.
#[derive(Args)]
pub(crate) struct Sources {
    /// The left file, as link's (with --right: two files linked).
    #[arg(long, requires = "right", conflicts_with = "input")]
    left: Option<PathBuf>,
    /// The right file (as --left).
    #[arg(long, requires = "left")]
    right: Option<PathBuf>,
    /// One file, as dedupe's (one file deduplicated).
    #[arg(long, required_unless_present = "left")]
    input: Option<PathBuf>,
}

impl Sources {
    /// The files given, left and right or the one.
    pub(crate) fn paths(&self) -> Vec<&Path> {
        [&self.left, &self.right, &self.input]
            .into_iter()
            .flatten()
            .map(PathBuf::as_path)
            .collect()
    }

    /// Reads the files, and the mode that pairs them: a link of two, a dedupe of one.
    pub(crate) fn read(
        &self,
        config: &Config,
        progress: &Progress,
    ) -> Result<(Records, Mode), Error> {
        let files = self.paths();
        let records = read_sources(config, &files, progress)?;
        let mode = if files.len() == 2 {
            Mode::link(&records, 0, 1)?
        } else {
            Mode::dedupe(&records, 0)?
        };
        Ok((records, mode))
    }
}

#[derive(Args)]
struct DedupeArgs {
    /// The file (CSV or other delimited text, gzipped or not, or Parquet; `-` for stdin).
    #[arg(long)]
    input: PathBuf,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct PseudonymiseArgs {
    /// The file to encode (as dedupe's --input).
    #[arg(long)]
    input: PathBuf,
    /// The master key: a file of 32 raw bytes or 64 hex digits. Without it, the key is read
    /// from the environment variable `CAREMATCH_KEY` (64 hex digits).
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// Where to write the encoded records (CSV, or Parquet for a .parquet or .pq name).
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
    /// by their Bloom filters only, at a cost in accuracy. Unsalted (`--name-salt none`),
    /// this does not stop a frequency attack: clustering the filters recovers as many names
    /// as the tokens give (docs/threat-model.md).
    #[arg(long)]
    no_name_tokens: bool,
    /// What names' tokens and filters are salted with: `dob` (the default: the date of
    /// birth, day and month in either order, so one name gives unrelated tokens and filters
    /// for people born on different dates, each filter salted with the name's initial too;
    /// records without a date of birth get no name columns, and names of records whose
    /// dates differ are not compared), `year` (the year
    /// of birth: more accurate, less private), or `none` (the scheme carematch-pseudonym-1,
    /// only to link with files written so: a frequency attack reads the commonest names).
    /// What each leaks and costs is measured in docs/threat-model.md.
    #[arg(long, default_value = "dob", value_parser = ["dob", "year", "none"])]
    name_salt: String,
    /// JSON config: column mapping. Columns without a role are carried as keyed tokens
    /// (`<column>.tok`, exact values only; a column of few values can be read by counting)
    /// unless mapped to "exclude"; columns whose header names a name (`middle_name`,
    /// `alias`) are never carried.
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
    carematch::memory::set_limit(cli.memory_limit);
    let _ = PROGRESS.set(match (cli.progress, cli.quiet) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    });
    let start = Instant::now();
    summary::start(cli.summary_json, command_name(&cli.command));
    let result = match cli.command {
        Command::Link(a) => link(&a),
        Command::Dedupe(a) => dedupe(&a),
        Command::Train(a) => train(&a),
        Command::Pseudonymise(a) => pseudonymise(&a),
        Command::Evaluate(a) => evaluate(&a),
        Command::Generate(a) => generate_cmd(&a),
        Command::Review(a) => review_cmd::review(&a),
        Command::Report(a) => report_cmd::report(&a),
        Command::Index(c) => index_cmd::run(&c),
    };
    let written = summary::finish(&result, start.elapsed().as_secs_f64());
    match result.and(written) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("carematch: error: {e}");
            ExitCode::from(2)
        }
    }
}

/// The subcommand's name, as typed.
fn command_name(c: &Command) -> &'static str {
    match c {
        Command::Link(_) => "link",
        Command::Dedupe(_) => "dedupe",
        Command::Train(_) => "train",
        Command::Pseudonymise(_) => "pseudonymise",
        Command::Evaluate(_) => "evaluate",
        Command::Generate(_) => "generate",
        Command::Review(_) => "review",
        Command::Report(_) => "report",
        Command::Index(i) => i.name(),
    }
}

/// Phase messages on stderr: when it is a terminal, unless --quiet; always with --progress.
/// Each phase's time goes into the JSON summary (keyed by the message's first word). The
/// long steps (reading a file, comparing pairs) show a bar with rate and ETA on a terminal,
/// and a line every few seconds in a log ([`Meter`]).
pub(crate) struct Progress {
    on: bool,
    meter: std::sync::Arc<Meter>,
}

/// How often a step's progress is written to a log (stderr not a terminal, `--progress`).
const LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// What a long step shows: an indicatif bar on a terminal, else a line per [`LOG_EVERY`].
struct Meter {
    start: Instant,
    tty: bool,
    /// The current phase (one of [`PHASES`], if it is one) and when it began (its progress
    /// line): the JSON summary times it, and a step's rate is counted from it.
    phase: std::sync::Mutex<(Option<&'static str>, Instant)>,
    /// The step shown, the bar (on a terminal), when the step began and when it was last
    /// written (in a log).
    shown: std::sync::Mutex<Option<Shown>>,
}

struct Shown {
    what: String,
    bar: Option<indicatif::ProgressBar>,
    began: Instant,
    logged: Option<(Instant, u64)>,
}

impl Meter {
    /// Shows `step`.
    fn update(&self, step: &carematch::progress::Step<'_>) {
        let mut shown = lock(&self.shown);
        if shown.as_ref().is_none_or(|s| s.what != step.what) {
            Self::clear(&mut shown);
            *shown = Some(Shown {
                what: step.what.to_string(),
                bar: self.tty.then(|| bar(step)),
                began: lock(&self.phase).1,
                logged: None,
            });
        }
        let Some(s) = shown.as_mut() else {
            return;
        };
        if let Some(b) = &s.bar {
            b.set_position(step.done);
            return;
        }
        let due = s.logged.is_none_or(|(t, _)| t.elapsed() >= LOG_EVERY);
        let end = step.total.is_some_and(|t| step.done >= t);
        let new = s.logged.is_none_or(|(_, done)| done != step.done);
        if (due || end) && new {
            s.logged = Some((Instant::now(), step.done));
            eprintln!(
                "[{:>7.2}s] {}",
                self.start.elapsed().as_secs_f64(),
                log_line(step, s.began.elapsed().as_secs_f64())
            );
        }
    }

    /// Ends the step shown, clearing its bar.
    fn clear(shown: &mut Option<Shown>) {
        if let Some(b) = shown.take().and_then(|s| s.bar) {
            b.finish_and_clear();
        }
    }
}

/// A bar for `step` on stderr: with its total, a bar with percentage, rate and ETA; without,
/// a spinner with the count and rate.
fn bar(step: &carematch::progress::Step<'_>) -> indicatif::ProgressBar {
    use carematch::progress::Unit;
    let (count, rate) = match step.unit {
        Unit::Bytes => (
            "{binary_bytes}/{binary_total_bytes}",
            "{binary_bytes_per_sec}",
        ),
        Unit::Rows | Unit::Pairs => ("{human_pos}/{human_len}", "{rate}"),
    };
    let (b, template) = match step.total {
        Some(t) => (
            indicatif::ProgressBar::new(t),
            format!("{{msg}} [{{bar:30}}] {{percent:>3}}% {count} {rate} ETA {{eta}}"),
        ),
        None => (
            indicatif::ProgressBar::new_spinner(),
            format!(
                "{{msg}} {{spinner}} {} {rate}",
                count.split('/').next().unwrap_or("")
            ),
        ),
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
        // Whole items per second (indicatif's own {per_sec} prints four decimals).
        let rate = |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.0}/s", state.per_sec());
        };
        b.set_style(style.with_key("rate", rate).progress_chars("=> "));
    }
    b.set_message(step.what.to_string());
    b
}

/// A log's progress line: `comparing: 45% (1,234,567 of 2,743,482 pairs), 1,234,567
/// pairs/s, ETA 1s`.
fn log_line(step: &carematch::progress::Step<'_>, seconds: f64) -> String {
    use carematch::progress::Unit;
    // Bytes as MiB, to one place; counts as they are.
    let (unit, scale, places) = match step.unit {
        Unit::Bytes => ("MiB", 1024.0 * 1024.0, 1),
        Unit::Rows => ("rows", 1.0, 0),
        Unit::Pairs => ("pairs", 1.0, 0),
    };
    let n = |x: u64| format!("{:.places$}", x as f64 / scale);
    let rate = if seconds > 0.0 {
        step.done as f64 / scale / seconds
    } else {
        0.0
    };
    match step.total {
        Some(t) if t > 0 => {
            let left = t.saturating_sub(step.done) as f64 / scale;
            let eta = if rate > 0.0 {
                format!("{:.0}s", left / rate)
            } else {
                "unknown".into()
            };
            format!(
                "{}: {:.0}% ({} of {} {unit}), {rate:.places$} {unit}/s, ETA {eta}",
                step.what,
                100.0 * step.done as f64 / t as f64,
                n(step.done),
                n(t)
            )
        }
        _ => format!(
            "{}: {} {unit}, {rate:.places$} {unit}/s",
            step.what,
            n(step.done)
        ),
    }
}

impl Progress {
    pub(crate) fn new() -> Progress {
        Progress {
            on: PROGRESS
                .get()
                .copied()
                .flatten()
                .unwrap_or_else(|| std::io::stderr().is_terminal()),
            meter: std::sync::Arc::new(Meter {
                start: Instant::now(),
                tty: std::io::stderr().is_terminal(),
                phase: std::sync::Mutex::new((None, Instant::now())),
                shown: std::sync::Mutex::new(None),
            }),
        }
    }

    /// The observer that shows the long steps, when progress is on.
    fn observer(&self) -> Option<carematch::progress::Observer> {
        let meter = self.meter.clone();
        self.on
            .then(|| carematch::progress::Observer::new(move |step| meter.update(step)))
    }

    fn say(&self, what: &str) {
        if self.on {
            Meter::clear(&mut lock(&self.meter.shown));
            eprintln!(
                "[{:>7.2}s] {what}",
                self.meter.start.elapsed().as_secs_f64()
            );
        }
        let next = PHASES
            .iter()
            .copied()
            .find(|p| what.split(' ').next() == Some(*p));
        let now = Instant::now();
        if let (Some(name), since) = std::mem::replace(&mut *lock(&self.meter.phase), (next, now)) {
            summary::phase(name, (now - since).as_secs_f64());
        }
    }
}

/// The value behind `m`, even if a thread panicked holding it (progress is best effort).
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The phases the JSON summary times: the first word of a progress message.
const PHASES: [&str; 9] = [
    "reading",
    "normalising",
    "training",
    "blocking",
    "linking",
    "writing",
    "encoding",
    "indexing",
    "saving",
];

fn load_config(common: &Common) -> Result<Config, Error> {
    let mut config = Config::load(common.config.as_deref())?;
    config.strict |= common.strict;
    Ok(config)
}

pub(crate) fn read_sources(
    config: &Config,
    files: &[&Path],
    progress: &Progress,
) -> Result<Records, Error> {
    let mut b = Records::builder();
    b.columns(config.columns.clone())
        .delimiter(DELIMITER.get().copied().flatten())
        .progress(progress.observer())
        .strict(config.strict)
        .accept_test_nhs_numbers(config.accept_test_nhs_numbers);
    for f in files {
        progress.say(&format!("reading {}", f.display()));
        b.add_file(f)?;
    }
    progress.say("normalising");
    let (records, quality) = b.build()?;
    say!("{quality}");
    report_cmd::keep_quality(&quality);
    summary::set("inputs", || summary::quality(&quality));
    summary::set("pseudonymised_scheme", || records.scheme().into());
    if let Some(scheme) = records.scheme() {
        sayln!("pseudonymised input: {scheme}");
    }
    let ids = config.identifiers(&records);
    summary::set("identifier_columns", || ids.clone().into());
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
    reviewed: Option<&carematch::review::ReviewedPairs>,
    progress: &Progress,
) -> Result<Model, Error> {
    progress.say("training the model");
    let labelled = match labels {
        Some(path) => labelled_pairs(records, mode, path)?,
        None => Vec::new(),
    };
    // Reviewers' confirmed matches refine EM's m (they are the hard cases EM sees least).
    let confirmed = match reviewed {
        Some(r) => r.matched_rows(records, mode),
        None => Vec::new(),
    };
    let (model, choice) = config.train_reviewed(records, mode, labelled, confirmed)?;
    print_training(&model);
    say!("{choice}");
    summary::set("model_blocking_choice", || {
        serde_json::json!({
            "from_config": choice.from_config,
            "budget": choice.budget,
            "budget_per_record": choice.per_record,
            "considered": choice.considered.iter().map(|c| serde_json::json!({
                "rule": c.rule.to_string(),
                "comparisons": c.comparisons,
                "verdict": format!("{:?}", c.verdict).to_lowercase(),
            })).collect::<Vec<_>>(),
        })
    });
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
    summary::set("thresholds", || {
        let t = &applied.thresholds;
        let [m, r, a] = applied.sources;
        serde_json::json!({
            "match_probability": t.match_probability,
            "review_probability": t.review_probability,
            "ambiguity_margin_bits": t.ambiguity_margin,
            "sources": {"match_probability": m, "review_probability": r, "ambiguity_margin_bits": a},
        })
    });
    Ok(())
}

/// The rows of the id pairs in `path`: left ids in the left source, right ids in the right
/// (in a dedupe, both in the one source).
fn labelled_pairs(
    records: &Records,
    mode: &Mode,
    path: &Path,
) -> Result<Vec<carematch::block::Pair>, Error> {
    let file = carematch::evaluate::PairFile::read(path, false, None)?;
    mode.pairs_of_ids(records, file.pairs())
        .map_err(|(i, side)| {
            let line = file.lines().get(i).copied().unwrap_or(0);
            carematch::Error::usage(&format!(
                "{}: line {line}: the {} id is not in the {} input",
                path.display(),
                ["left", "right"][side],
                ["left", "right"][side]
            ))
        })
}

fn print_training(model: &Model) {
    let Some(t) = model.training() else {
        return;
    };
    for w in model.training_warnings() {
        eprintln!("carematch: warning: {w}");
    }
    summary::set("model", || {
        serde_json::json!({
            "source": "trained",
            "lambda": model.lambda(),
            "prior_weight_bits": model.prior_weight(),
            "training": t,
            "warnings": model.training_warnings(),
        })
    });
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
    (one_to_one, reviewed): (bool, Option<&carematch::review::ReviewedPairs>),
    progress: &Progress,
    outputs: &mut Outputs,
) -> Result<Linker, Error> {
    let (mut model, label) = if common.no_model {
        (None, "default")
    } else if let Some(p) = &common.model {
        (Some(Model::load(p)?), "model file")
    } else {
        (
            Some(trained(config, records, mode, None, reviewed, progress)?),
            "default",
        )
    };
    if let Some(m) = &mut model {
        set_thresholds(config, m, common.threshold, label)?;
    }
    if let (Some(m), Some(path)) = (&model, &common.save_model) {
        outputs.add(m.stage(path)?);
    }
    if label == "model file" || model.is_none() {
        summary::set("model", || {
            serde_json::json!({
                "source": if model.is_some() { "model file" } else { "none" },
                "lambda": model.as_ref().map(Model::lambda),
            })
        });
    }
    let unused = config.unused_columns(records, model.as_ref());
    summary::set("unused_columns", || {
        unused
            .iter()
            .map(|(c, why)| serde_json::json!({"column": c, "reason": why}))
            .collect()
    });
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
        .one_to_one(one_to_one || config.one_to_one)
        .progress(progress.observer());
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
    // Read once: the decisions refine a trained model and are applied to the result.
    let reviewed = common
        .reviewed
        .as_deref()
        .map(carematch::review::ReviewedPairs::read)
        .transpose()?;
    let mut outputs = Outputs::default();
    let linker = linker(
        &config,
        common,
        &records,
        &mode,
        (one_to_one, reviewed.as_ref()),
        &progress,
        &mut outputs,
    )?;
    run(
        &records,
        &linker,
        &mode,
        common,
        reviewed.as_ref(),
        &progress,
        outputs,
    )
}

fn train(a: &TrainArgs) -> Result<(), Error> {
    claim_std_streams(&a.sources.paths(), &[Some(a.out.as_path())])?;
    let progress = Progress::new();
    let config = Config::load(a.config.as_deref())?;
    let (records, mode) = a.sources.read(&config, &progress)?;
    let mut model = trained(
        &config,
        &records,
        &mode,
        a.labels.as_deref(),
        None,
        &progress,
    )?;
    set_thresholds(&config, &mut model, None, "default")?;
    model.save(&a.out)?;
    sayln!("model written to {}", a.out.display());
    summary::outputs(&[("model", Some(&a.out))]);
    Ok(())
}

fn run(
    records: &Records,
    linker: &Linker,
    mode: &Mode,
    common: &Common,
    reviewed: Option<&carematch::review::ReviewedPairs>,
    progress: &Progress,
    mut outputs: Outputs,
) -> Result<(), Error> {
    progress.say("blocking");
    let plan = linker.plan(records, mode)?;
    print_blocking(&plan, records);
    progress.say("linking");
    let start = Instant::now();
    let mut result = linker.run(records, &plan, mode)?;
    // The blockers' keys and buckets (gigabytes at 14M records) are not needed to write.
    let blocking = plan.pair_counts();
    drop(plan);
    let secs = start.elapsed().as_secs_f64();
    let mut labelled = Vec::new();
    if let (Some(path), Some(r)) = (&common.reviewed, reviewed) {
        labelled = review_cmd::apply(path, r, records, mode, &mut result).labelled;
    }
    progress.say("writing");
    let explain = if common.explain { linker.model() } else { None };
    let (pairs, evaluated) = write_and_evaluate(common, records, &result, explain);
    outputs.add(pairs?);
    print_summary(&result);
    let counts = result.decision_counts();
    summary::linking(&result, secs);
    print_estimate(&result, linker.model());
    summary::outputs(&[
        ("pairs", Some(&common.out)),
        ("clusters", common.clusters.as_ref()),
        ("changes", common.changes.as_ref()),
        ("model", common.save_model.as_ref()),
    ]);
    sayln!(
        "{} candidate pairs compared in {secs:.2}s; {} linked, {} for review, {} ambiguous (not linked); pairs written to {}",
        result.candidates,
        counts.matched,
        counts.review,
        counts.ambiguous,
        common.out.display()
    );
    let mut people = None;
    if let Some(path) = &common.clusters {
        let mut clusters = result.clusters(records);
        if let Some(prev) = &common.previous_clusters {
            let previous = carematch::cluster::PreviousIds::read(prev)?;
            let changes = clusters.carry_over(records, &previous);
            summary::person_id_changes(prev, &changes);
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
        summary::clusters(records, &clusters);
        sayln!(
            "{} records in {} people; {} links not merged (different NHS numbers); person ids written to {}",
            records.len(),
            clusters.len(),
            clusters.refused_merges(),
            path.display()
        );
        people = Some(clusters);
    }
    let mut truth_rows = None;
    if let Some(evaluated) = evaluated {
        let (truth, e) = evaluated?;
        sayln!("{e}");
        summary::set("evaluation", || evaluation_json(&e));
        if common.report.report.is_some() {
            truth_rows = mode.pairs_of_ids(records, truth.pairs()).ok();
        }
    }
    if let Some(path) = &common.report.report {
        let input = report_cmd::Run {
            records,
            blocking: &blocking,
            linker,
            mode,
            result: &result,
            clusters: people,
            truth: truth_rows.as_deref(),
            reviewed: &labelled,
        };
        outputs.add(report_cmd::stage(
            path,
            &input,
            common.report.report_records,
        )?);
    }
    outputs.commit()?;
    progress.say("done");
    Ok(())
}

/// The truth file read for `--truth`, and the run's evaluation against it.
type Evaluated = Result<(carematch::evaluate::PairFile, Evaluation), Error>;

/// The staged pairs file, and the truth with the evaluation against it when `--truth` is
/// given. The pairs file is written and synced while the truth is read and scored; the caller
/// reports what each gives (errors too) in the order it would one after the other.
fn write_and_evaluate(
    common: &Common,
    records: &Records,
    result: &LinkResult,
    explain: Option<&Model>,
) -> (Result<carematch::files::NewFile, Error>, Option<Evaluated>) {
    rayon::join(
        || {
            let mut f = stage_pairs(&common.out, records, result, explain)?;
            f.sync()?;
            Ok(f)
        },
        || {
            common.truth.as_ref().map(|t| {
                // From the result in memory: the same pairs the file holds with decision=match.
                let truth = carematch::evaluate::PairFile::read(t, false, None)?;
                let e = Evaluation::of_result(records, result, truth.pairs()).map_err(|e| {
                    carematch::Error::usage(&format!("{}: {}", t.display(), e.message()))
                })?;
                Ok((truth, e))
            })
        },
    )
}

/// The error estimates without labels, for the run's decisions: printed and in the JSON.
fn print_estimate(result: &LinkResult, model: Option<&Model>) {
    let (Some(scores), Some(model)) = (&result.scores, model) else {
        return;
    };
    let review_bits =
        carematch::model::MatchWeight::of_probability(model.thresholds().review_probability).bits();
    let e = scores.of_result(result);
    summary::estimates(scores, &e, review_bits);
    sayln!(
        "expected errors (estimated from the model's probabilities, no labels): of {} linked, ~{:.0} false (precision ~{:.4}); ~{:.0} true pairs not linked, {:.0} of them never compared (recall ~{:.4})",
        e.linked,
        e.expected_false,
        e.precision(),
        e.expected_missed(),
        e.expected_missed_by_blocking,
        e.recall()
    );
}

/// The blocking rules' comparison counts, printed and in the JSON; a warning when no rule
/// made a pair.
fn print_blocking(plan: &carematch::link::Plan, records: &Records) {
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
    summary::blocking(plan);
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
}

/// An evaluation as the JSON summary holds it.
fn evaluation_json(e: &Evaluation) -> serde_json::Value {
    serde_json::json!({
        "true_positives": e.true_positives,
        "false_positives": e.false_positives,
        "false_negatives": e.false_negatives,
        "precision": e.precision(),
        "recall": e.recall(),
        "f1": e.f1(),
    })
}

fn print_summary(result: &LinkResult) {
    // One list of (rule, expression, linked, ambiguous) for the prose and the JSON.
    let counts = result.counts_per_rule();
    let mut rows: Vec<(&str, String, u64, u64)> = result
        .rules
        .iter()
        .zip(&counts)
        .map(|(rule, &(m, amb))| (rule.name(), rule.expression().clone(), m, amb))
        .collect();
    if let Some(&(m, amb)) = counts.last() {
        let model = "match probability at or above the threshold".to_string();
        rows.push(("model", model, m, amb));
    }
    sayln!("links by rule:");
    for (name, expression, m, amb) in &rows {
        sayln!("  {name:<18} {expression:<64} {m:>10} linked {amb:>8} ambiguous");
    }
    summary::set("links_by_rule", || {
        rows.iter()
            .map(|(name, expression, m, amb)| {
                serde_json::json!({"rule": name, "expression": expression, "linked": m, "ambiguous": amb})
            })
            .collect()
    });
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
        name_salt: NameSalt::parse(&a.name_salt).unwrap_or_default(),
    };
    let left_out = carematch::pseudonym::names_left_out(&records, 0, options)?;
    let rows = carematch::pseudonym::write_encoded(&records, 0, &p, options, &a.out)?;
    let scheme = carematch::pseudonym::file_scheme(&p, options);
    let carried = carematch::pseudonym::carried_columns(&records);
    let name_columns = carematch::pseudonym::name_columns(&records);
    summary::set(
        "encoded",
        || serde_json::json!({"rows": rows, "scheme": scheme, "names_left_out": left_out, "carried_columns": carried, "name_columns_left_out": name_columns, "out": a.out.display().to_string()}),
    );
    sayln!(
        "{rows} records encoded in {:.2}s under {scheme} to {}",
        start.elapsed().as_secs_f64(),
        a.out.display()
    );
    if !carried.is_empty() {
        sayln!(
            "columns without a role carried as keyed tokens (exact values only; a column with few values can be read by counting; map one to \"exclude\" in the config to leave it out): {}",
            carried.join(", ")
        );
    }
    if !name_columns.is_empty() {
        sayln!(
            "columns left out because their header says they hold a name (an unsalted token of a name can be read by frequency): {}",
            name_columns.join(", ")
        );
    }
    if left_out > 0 {
        sayln!(
            "{left_out} records have a name but no date of birth: their names are left out (a name salted with nothing could be read by frequency; --name-salt none keeps them, unsalted)"
        );
    }
    Ok(())
}

fn evaluate(a: &EvaluateArgs) -> Result<(), Error> {
    let e = evaluate_files(&a.pairs, &a.truth, a.threshold)?;
    sayln!("{e}");
    summary::set("evaluation", || evaluation_json(&e));
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
