//! `carematch index`: build a real-time index, query it through a pipe, add batches to it.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Subcommand};

use carematch::files::FileLock;
use carematch::index::MAX_QUERY_BYTES;
use carematch::index::QueryOptions;
use carematch::{Config, Error, Index, Model};

/// The index subcommands.
#[derive(Subcommand)]
pub enum IndexCommand {
    /// Build an index of one file, CSV or Parquet (trains a model on it first unless --model is given).
    Build(BuildArgs),
    /// Answer JSON-lines queries from stdin, one JSON line per query on stdout, in order.
    Query(QueryArgs),
    /// Link a CSV batch into the index, record by record in file order: each record takes
    /// the person id of the people it matches (or a new one), merges are reported, and the
    /// index is saved with the batch in it.
    Add(AddArgs),
}

impl IndexCommand {
    /// The subcommand's name, as typed (`index build`, ...).
    pub(crate) fn name(&self) -> &'static str {
        match self {
            IndexCommand::Build(_) => "index build",
            IndexCommand::Query(_) => "index query",
            IndexCommand::Add(_) => "index add",
        }
    }
}

#[derive(Args)]
pub struct BuildArgs {
    /// The population file (CSV or other delimited text, gzipped or not, or Parquet).
    #[arg(long)]
    input: PathBuf,
    /// Where to write the index.
    #[arg(long)]
    out: PathBuf,
    /// A model JSON written by `train`; without it a model is trained on the input.
    #[arg(long)]
    model: Option<PathBuf>,
    /// JSON config: column mapping, rules, comparisons, training.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Keep no person ids (skips the dedupe of the population that gives them).
    #[arg(long)]
    no_person_ids: bool,
    /// Match probability threshold (overrides the model's and the config's).
    #[arg(long, value_parser = crate::probability)]
    threshold: Option<f64>,
    /// When another process is changing the index at --out, wait for it to finish instead
    /// of exiting with an error that names it.
    #[arg(long)]
    wait: bool,
}

#[derive(Args)]
pub struct QueryArgs {
    /// The index file written by `index build`.
    #[arg(long)]
    index: PathBuf,
    /// The most candidates per answer.
    #[arg(long, default_value_t = 10)]
    limit: usize,
    /// Add each candidate's explanation (levels and weights per comparison).
    #[arg(long)]
    explain: bool,
}

#[derive(Args)]
pub struct AddArgs {
    /// The index file; it is rewritten (atomically) with the batch added.
    #[arg(long)]
    index: PathBuf,
    /// The batch CSV.
    #[arg(long)]
    input: PathBuf,
    /// Write the batch's pairs here: `left_id,right_id,match_weight,match_probability`,
    /// decision,rule,reason (left: the batch record; right: the indexed one).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write the batch records' person ids here: `cluster_id,source,record_id`.
    #[arg(long)]
    clusters: Option<PathBuf>,
    /// Write the merges and splits here: `change,person_id,other_person_ids`.
    #[arg(long)]
    changes: Option<PathBuf>,
    /// Save the grown index here instead of over --index.
    #[arg(long)]
    save: Option<PathBuf>,
    /// Also write an HTML report of the batch's pairs (the model, scores and expected
    /// errors, clusters): one self-contained file, no patient values.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// When another process is changing the index, wait for it to finish instead of exiting
    /// with an error that names it.
    #[arg(long)]
    wait: bool,
}

/// Runs an index subcommand.
pub fn run(cmd: &IndexCommand) -> Result<(), Error> {
    match cmd {
        IndexCommand::Build(a) => build(a),
        IndexCommand::Query(a) => query(a),
        IndexCommand::Add(a) => add(a),
    }
}

fn build(a: &BuildArgs) -> Result<(), Error> {
    let progress = crate::Progress::new();
    let config = Config::load(a.config.as_deref())?;
    // The lock first: a build must not replace an index that another process is changing.
    let lock = FileLock::acquire(&a.out, a.wait)?;
    let start = Instant::now();
    let records = crate::read_sources(&config, &[&a.input], &progress)?;
    let (mut model, label) = if let Some(p) = &a.model {
        (Model::load(p)?, "model file")
    } else {
        let mode = carematch::block::Mode::dedupe(&records, 0)?;
        (
            crate::trained(&config, &records, &mode, None, None, &progress)?,
            "default",
        )
    };
    crate::set_thresholds(&config, &mut model, a.threshold, label)?;
    progress.say("indexing");
    let rules = config.rules_for(&records);
    let mut b = Index::builder(model);
    b.rules(rules)
        .columns(config.columns.clone())
        .accept_test_nhs_numbers(config.accept_test_nhs_numbers)
        .person_ids(!a.no_person_ids);
    let index = b.build(records)?;
    let built = start.elapsed().as_secs_f64();
    progress.say("saving");
    let t = Instant::now();
    index.stage_save(&lock)?.commit()?;
    let bytes = std::fs::metadata(&a.out).map_or(0, |m| m.len());
    crate::sayln!(
        "indexed {} records in {built:.2}s; wrote {} ({:.1} MB) in {:.2}s",
        index.len(),
        a.out.display(),
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

fn query(a: &QueryArgs) -> Result<(), Error> {
    let index = Index::load(&a.index)?;
    let opts = QueryOptions {
        limit: a.limit,
        min_probability: None,
        explain: a.explain,
    };
    let mut stdin = std::io::stdin().lock();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut line = Vec::new();
    let mut n = 0u64;
    loop {
        let too_long = match read_line_capped(&mut stdin, &mut line, MAX_QUERY_BYTES) {
            Ok(None) => break,
            Ok(Some(too_long)) => too_long,
            Err(_) => return Err(carematch::Error::usage("stdin: cannot read")),
        };
        n += 1;
        let answer = if too_long {
            serde_json::json!({
                "line": n,
                "error": format!("the line is longer than {MAX_QUERY_BYTES} bytes; it was not read"),
            })
            .to_string()
        } else {
            answer(&index, &line, &opts, n)
        };
        // Another program may be waiting for this answer before it sends the next line, so
        // each answer is flushed. A reader that went away (a closed pipe) ends the run.
        let sent = out
            .write_all(answer.as_bytes())
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush());
        if sent.is_err() {
            break;
        }
    }
    Ok(())
}

/// Reads one line (without its `\n`) into `line`, keeping at most `cap` bytes: memory stays
/// bounded whatever the input. `None` at the end of input; `Some(true)` when the line was
/// longer than `cap` (the rest of it is skipped).
fn read_line_capped(
    r: &mut impl BufRead,
    line: &mut Vec<u8>,
    cap: usize,
) -> std::io::Result<Option<bool>> {
    line.clear();
    let (mut any, mut too_long) = (false, false);
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(any.then_some(too_long));
        }
        any = true;
        let (part, end) = match memchr::memchr(b'\n', buf) {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        if line.len() + part.len() > cap {
            too_long = true;
            line.clear();
        } else if !too_long {
            line.extend_from_slice(part);
        }
        let used = end.unwrap_or(buf.len());
        r.consume(used);
        if end.is_some() {
            return Ok(Some(too_long));
        }
    }
}

/// The answer line to one input line: the query's JSON, or an error object.
fn answer(index: &Index, line: &[u8], opts: &QueryOptions, n: u64) -> String {
    let error = |m: &str| serde_json::json!({"line": n, "error": m}).to_string();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Ok(text) = std::str::from_utf8(line) else {
        return error("the line is not valid UTF-8");
    };
    if text.trim().is_empty() {
        return error("an empty line: expected a JSON object");
    }
    let rec = match index.entry_from_json(text) {
        Ok(r) => r,
        Err(e) => return error(e.message()),
    };
    match index.query(&rec, opts) {
        Ok(r) => r.to_json(rec.id()),
        Err(e) => error(e.message()),
    }
}

fn add(a: &AddArgs) -> Result<(), Error> {
    let target = a.save.as_ref().unwrap_or(&a.index);
    let (source_lock, target_lock) = lock_for_add(a, target)?;
    let start = Instant::now();
    let index = Index::load(&a.index)?;
    let loaded = start.elapsed().as_secs_f64();
    let before = index.len();
    let batch = index.read_csv(&a.input)?;
    let t = Instant::now();
    let done = link_batch(&index, &batch)?;
    let secs = t.elapsed().as_secs_f64();
    let mut outputs = crate::Outputs::default();
    if let Some(p) = &a.out {
        outputs.add(carematch::output::stage_csv(
            p,
            &carematch::output::PAIRS_HEADER,
            &done.pair_rows,
        )?);
    }
    let source = a
        .input
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    if let Some(p) = &a.clusters {
        let rows = done.people.iter().map(|(person, id)| [person, &source, id]);
        outputs.add(carematch::output::stage_csv(
            p,
            &["cluster_id", "source", "record_id"],
            rows,
        )?);
    }
    if let Some(p) = &a.changes {
        outputs.add(carematch::output::stage_changes_csv(p, &done.changes)?);
    }
    if let Some(p) = &a.report {
        outputs.add(batch_report(p, &index, &done.pair_rows, &a.input)?);
    }
    let t2 = Instant::now();
    outputs.add(index.stage_save(target_lock.as_ref().unwrap_or(&source_lock))?);
    outputs.commit()?;
    let (merges, splits) = (done.changes.merges().count(), done.changes.splits().count());
    crate::sayln!(
        "loaded the index ({} records before) in {loaded:.2}s; linked {} batch records in {secs:.2}s: \
         {} joined a person, {} new people, {} updated; {merges} merges, \
         {splits} splits; {} pairs; saved {} ({} records) in {:.2}s",
        before,
        batch.len(),
        done.linked,
        done.new_people,
        done.updated,
        done.pair_rows.len(),
        target.display(),
        index.len(),
        t2.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The report of a batch added to an index, from its pairs (batch records on the left).
fn batch_report(
    path: &std::path::Path,
    index: &Index,
    pair_rows: &[[String; 7]],
    input: &std::path::Path,
) -> Result<carematch::files::NewFile, Error> {
    let table = (
        carematch::output::PAIRS_HEADER.map(String::from).to_vec(),
        pair_rows.iter().map(|r| r.to_vec()).collect(),
    );
    let run = carematch::report::PairsRun::from_table(
        "the batch's pairs",
        &table,
        None,
        index.model(),
        Some(true),
    )?;
    let settings = vec![("batch".to_string(), input.display().to_string())];
    let html = crate::report_cmd::pairs_report(&run, index.model(), settings, "the batch's pairs");
    let f = carematch::files::NewFile::with_contents(path, html.as_bytes())?;
    crate::sayln!("report written to {}", path.display());
    Ok(f)
}

/// The index is loaded, grown and saved under its lock (and the --save target's, when it is
/// another file), so that two adds at once cannot both start from the same file and lose one
/// batch.
fn lock_for_add(
    a: &AddArgs,
    target: &std::path::Path,
) -> Result<(FileLock, Option<FileLock>), Error> {
    let source_lock = FileLock::acquire(&a.index, a.wait)?;
    let same = |x: &std::path::Path, y: &std::path::Path| {
        x == y
            || matches!(
                (std::fs::canonicalize(x), std::fs::canonicalize(y)),
                (Ok(p), Ok(q)) if p == q
            )
    };
    let target_lock = if same(target, &a.index) {
        None
    } else {
        Some(FileLock::acquire(target, a.wait)?)
    };
    Ok((source_lock, target_lock))
}

/// What linking a batch into an index did.
struct Added {
    /// The pairs file's rows.
    pair_rows: Vec<[String; 7]>,
    /// (person id, record id) of every record of the batch.
    people: Vec<(String, String)>,
    changes: carematch::cluster::CarriedIds,
    linked: u64,
    new_people: u64,
    updated: u64,
}

/// Links every record of `batch` into `index`: a record sent again replaces the old one.
fn link_batch(index: &Index, batch: &[carematch::index::Entry]) -> Result<Added, Error> {
    let opts = QueryOptions::default();
    let mut done = Added {
        pair_rows: Vec::new(),
        people: Vec::new(),
        changes: carematch::cluster::CarriedIds::default(),
        linked: 0,
        new_people: 0,
        updated: 0,
    };
    for rec in batch {
        if index.contains(rec.id()) {
            // A record sent again: replace it, keep its person, report a split if any.
            done.changes.changes.extend(index.update(rec)?);
            done.updated += 1;
            done.people.push((
                index.person_id(rec.id()).unwrap_or_default(),
                rec.id().to_string(),
            ));
            continue;
        }
        let (result, person) = index.link(rec, &opts)?;
        for c in &result.candidates {
            let Some(d) = c.decision else { continue };
            done.pair_rows.push([
                rec.id().to_string(),
                c.id.clone(),
                format!("{:.4}", c.weight.bits()),
                format!("{:.8}", c.probability.get()),
                d.as_str().to_string(),
                c.rule.clone().unwrap_or_default(),
                c.reason.clone().unwrap_or_default(),
            ]);
        }
        if let Some(p) = person {
            if p.new_person {
                done.new_people += 1;
            } else {
                done.linked += 1;
            }
            done.changes.changes.extend(p.changes);
            done.people.push((p.person_id, rec.id().to_string()));
        }
    }
    Ok(done)
}
