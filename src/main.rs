//! The `carematch` command. See `carematch --help` and the README.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};

use carematch::synth::{GenerateOptions, generate};
use carematch::{
    Config, Error, LinkResult, Linker, Mode, Records, RecordsBuilder, evaluate_files,
    write_clusters_csv, write_pairs_csv,
};

/// Patient record linkage for health and social care.
#[derive(Parser)]
#[command(name = "carematch", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Link the records of two files that belong to the same person.
    Link(LinkArgs),
    /// Find the records of one file that belong to the same person.
    Dedupe(DedupeArgs),
    /// Precision, recall and F1 of a pairs file against a truth file.
    Evaluate(EvaluateArgs),
    /// Write synthetic GP and hospital extracts with ground truth.
    Generate(GenerateArgs),
}

#[derive(Args)]
struct Common {
    /// Output pairs CSV: left_id,right_id,match_weight,match_probability,decision,rule.
    #[arg(long)]
    out: PathBuf,
    /// Also write every record's person id: cluster_id,source,record_id.
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
}

#[derive(Args)]
struct LinkArgs {
    /// The left CSV file.
    #[arg(long)]
    left: PathBuf,
    /// The right CSV file.
    #[arg(long)]
    right: PathBuf,
    #[command(flatten)]
    common: Common,
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
struct EvaluateArgs {
    /// The pairs CSV written by link or dedupe (or any CSV whose first two columns are ids).
    #[arg(long)]
    pairs: PathBuf,
    /// The truth CSV: two id columns, one true pair per row, header first.
    #[arg(long)]
    truth: PathBuf,
    /// Count only pairs whose match_probability is at least this (0 to 1).
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

fn probability(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err("must be a number from 0 to 1".into()),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Link(a) => link(&a),
        Command::Dedupe(a) => dedupe(&a),
        Command::Evaluate(a) => evaluate(&a),
        Command::Generate(a) => generate_cmd(&a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("carematch: error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Phase messages on stderr, only when it is a terminal.
struct Progress {
    on: bool,
    start: Instant,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            on: std::io::stderr().is_terminal(),
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
    let mut config = match &common.config {
        Some(p) => Config::from_file(p)?,
        None => Config::default(),
    };
    config.strict |= common.strict;
    Ok(config)
}

fn read_sources(config: &Config, files: &[&Path], progress: &Progress) -> Result<Records, Error> {
    let mut b = RecordsBuilder::new();
    b.columns(config.columns.clone())
        .strict(config.strict)
        .accept_test_nhs_numbers(config.accept_test_nhs_numbers);
    for f in files {
        progress.say(&format!("reading {}", f.display()));
        b.add_csv(f)?;
    }
    progress.say("normalising");
    let (records, quality) = b.build()?;
    print!("{quality}");
    Ok(records)
}

fn linker(config: &Config) -> Result<Linker, Error> {
    let mut b = Linker::new();
    if let Some(r) = &config.rules {
        b.rules(r.clone());
    }
    b.build()
}

fn link(a: &LinkArgs) -> Result<(), Error> {
    let progress = Progress::new();
    let config = load_config(&a.common)?;
    let records = read_sources(&config, &[&a.left, &a.right], &progress)?;
    let linker = linker(&config)?;
    let mode = carematch::link_mode(&records, 0, 1)?;
    run(&records, &linker, &mode, &a.common, &progress)
}

fn dedupe(a: &DedupeArgs) -> Result<(), Error> {
    let progress = Progress::new();
    let config = load_config(&a.common)?;
    let records = read_sources(&config, &[&a.input], &progress)?;
    let linker = linker(&config)?;
    let mode = carematch::dedupe_mode(&records, 0)?;
    run(&records, &linker, &mode, &a.common, &progress)
}

fn run(
    records: &Records,
    linker: &Linker,
    mode: &Mode,
    common: &Common,
    progress: &Progress,
) -> Result<(), Error> {
    progress.say("blocking");
    let blocker = linker.blocker(records, mode)?;
    let mut out = String::new();
    out.push_str("blocking rules (comparisons each generates on its own):\n");
    for (rule, n) in blocker.rules().iter().zip(blocker.comparisons_per_rule()) {
        out.push_str(&format!("  {:<60} {n:>14}\n", rule.to_string()));
    }
    print!("{out}");
    progress.say("linking");
    let result = linker.run(records, &blocker, mode)?;
    progress.say("writing");
    write_pairs_csv(&common.out, records, &result)?;
    print_summary(&result);
    let matched = result.matches().count();
    let ambiguous = result.links.len() - matched;
    println!(
        "{} candidate pairs compared; {matched} linked, {ambiguous} ambiguous (not linked); pairs written to {}",
        result.candidates,
        common.out.display()
    );
    if let Some(path) = &common.clusters {
        let clusters = result.clusters(records);
        write_clusters_csv(path, records, &clusters)?;
        println!(
            "{} records in {} people; {} links not merged (different NHS numbers); person ids written to {}",
            records.len(),
            clusters.len(),
            clusters.refused_merges(),
            path.display()
        );
    }
    if let Some(t) = &common.truth {
        println!("{}", evaluate_files(&common.out, t, None)?);
    }
    progress.say("done");
    Ok(())
}

fn print_summary(result: &LinkResult) {
    println!("rules:");
    for (rule, (m, amb)) in result.rules.iter().zip(result.counts_per_rule()) {
        println!(
            "  {:<18} {:<60} {m:>10} linked {amb:>8} ambiguous",
            rule.name(),
            rule.expression()
        );
    }
}

fn evaluate(a: &EvaluateArgs) -> Result<(), Error> {
    let e = evaluate_files(&a.pairs, &a.truth, a.threshold)?;
    println!("{e}");
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
        let _ = writeln!(out, "{:<20} {rows:>10} rows", file);
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
