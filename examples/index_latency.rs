//! Real-time index figures on synthetic data: build time and memory, save and load times,
//! query latency on one thread (p50, p99, p99.9), throughput on two threads, and whether
//! querying each hospital record against an index of the GP file gives the links a batch
//! link of the two files gives.
//!
//! ```text
//! cargo run --release --example index_latency -- --people 1000000 [--seed 1] [--dir DIR]
//!     [--gp-coverage F] [--hospital-coverage F] [--queries N] [--model M.json]
//! ```
//!
//! With `--dir`, the synthetic files are written there (and reused when present);
//! otherwise in a temporary folder. With `--model`, the model is read from a file (as
//! `carematch train` writes it) instead of trained on the two files. Every figure is printed
//! with what it measures. Memory is read from `/proc/self/status`: resident (`VmRSS`) and
//! the peak since the phase began (`VmHWM`, reset through `/proc/self/clear_refs` before
//! each phase), so the build's and the load's peaks are each their own.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use carematch::evaluate::PairFile;
use carematch::index::{Entry, QueryDecision, QueryOptions};
use carematch::synth::{GenerateOptions, generate};
use carematch::{Config, Evaluation, Index, Linker, Model, Records};

struct Args {
    people: u64,
    seed: u64,
    dir: Option<PathBuf>,
    gp: f64,
    hospital: f64,
    queries: usize,
    model: Option<PathBuf>,
}

fn args() -> Args {
    let mut a = Args {
        people: 100_000,
        seed: 1,
        dir: None,
        gp: 0.8,
        hospital: 0.6,
        queries: usize::MAX,
        model: None,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        let val = v.get(i + 1).cloned().unwrap_or_default();
        match v[i].as_str() {
            "--people" => a.people = val.parse().expect("--people N"),
            "--seed" => a.seed = val.parse().expect("--seed N"),
            "--dir" => a.dir = Some(PathBuf::from(val)),
            "--gp-coverage" => a.gp = val.parse().expect("--gp-coverage F"),
            "--hospital-coverage" => a.hospital = val.parse().expect("--hospital-coverage F"),
            "--queries" => a.queries = val.parse().expect("--queries N"),
            "--model" => a.model = Some(PathBuf::from(val)),
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a
}

/// Starts a new peak: the kernel sets `VmHWM` back to the current resident size (Linux;
/// elsewhere the peak is the process's).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// This process's resident memory and its peak since [`reset_peak`], in MB, from /proc
/// (Linux).
fn memory() -> (f64, f64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |key: &str| {
        s.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (kb("VmRSS:"), kb("VmHWM:"))
}

fn read(files: &[&Path]) -> Records {
    let mut b = Records::builder();
    for f in files {
        b.add_csv(f).expect("read");
    }
    b.build().expect("build").0
}

/// Batch links of (hospital id, GP id) that match, and every written pair's decision and
/// weight, from a link of the two files with `model`.
type BatchLinks = (
    BTreeSet<(String, String)>,
    std::collections::BTreeMap<(String, String), String>,
);

fn batch_link(
    gp: &Path,
    hospital: &Path,
    rules: Vec<carematch::MatchRule>,
    model: &Model,
    sizes: (usize, usize),
) -> BatchLinks {
    let t = Instant::now();
    let both = read(&[gp, hospital]);
    let linker = Linker::builder()
        .rules(rules)
        .model(Some(model.clone()))
        .build()
        .expect("linker");
    let result = linker.link(&both, 0, 1).expect("link");
    let key = |l: &carematch::Link| {
        (
            both.id(l.pair.right).to_string(),
            both.id(l.pair.left).to_string(),
        )
    };
    let pairs: BTreeSet<(String, String)> = result.matches().map(key).collect();
    let decided = result
        .links
        .iter()
        .map(|l| {
            let d = format!(
                "{} {:?}",
                l.decision.as_str(),
                l.weight.map(carematch::model::MatchWeight::bits)
            );
            (key(l), d)
        })
        .collect();
    println!(
        "batch: linked {} x {} records in {:.1}s; {} matches",
        sizes.0,
        sizes.1,
        t.elapsed().as_secs_f64(),
        pairs.len()
    );
    (pairs, decided)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

/// Candidates compared per query (p50, p99, max), and among the slowest 1% of queries; and
/// latency per candidate, so a slow tail can be told from many candidates or slow ones.
fn tail_figures(tail: &mut [(u64, usize)]) {
    let mut counts: Vec<u64> = tail.iter().map(|&(_, c)| c as u64).collect();
    counts.sort_unstable();
    let at = |v: &[u64], p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    tail.sort_unstable();
    let slow = &tail[tail.len() - tail.len().div_ceil(100)..];
    let mut slow_counts: Vec<u64> = slow.iter().map(|&(_, c)| c as u64).collect();
    slow_counts.sort_unstable();
    let per = |v: &[(u64, usize)]| {
        v.iter().map(|&(n, _)| n).sum::<u64>() as f64
            / v.iter().map(|&(_, c)| c.max(1) as u64).sum::<u64>() as f64
            / 1000.0
    };
    println!(
        "candidates per query: p50 {}, p99 {}, max {}; in the slowest 1% of queries: p50 {}, \
         min {}; µs per candidate: all {:.2}, slowest 1% {:.2}",
        at(&counts, 0.5),
        at(&counts, 0.99),
        at(&counts, 1.0),
        at(&slow_counts, 0.5),
        at(&slow_counts, 0.0),
        per(tail),
        per(slow)
    );
}

#[allow(
    clippy::too_many_lines,
    reason = "an example read top to bottom, one step after another"
)]
fn main() {
    let a = args();
    let tmp;
    let dir = if let Some(d) = &a.dir {
        d.clone()
    } else {
        tmp = std::env::temp_dir().join(format!("carematch-index-{}", std::process::id()));
        tmp
    };
    let (gp, hospital, truth) = (
        dir.join("gp.csv"),
        dir.join("hospital.csv"),
        dir.join("truth.csv"),
    );
    if !gp.exists() {
        let t = Instant::now();
        let o = GenerateOptions {
            people: a.people,
            seed: a.seed,
            gp_coverage: a.gp,
            hospital_coverage: a.hospital,
            ..GenerateOptions::default()
        };
        generate(&o, &dir).expect("generate");
        println!(
            "generated {} people in {:.1}s",
            a.people,
            t.elapsed().as_secs_f64()
        );
    }

    // The model: trained on the two files, as `carematch link` does, or read from a file.
    let config = Config::default();
    let t = Instant::now();
    // The two files are read only to train, or for the batch link.
    let (model, rules, sizes) = if let (Some(m), false) = (&a.model, a.queries == usize::MAX) {
        (Model::load(m).expect("model"), Vec::new(), (0, 0))
    } else {
        let both = read(&[&gp, &hospital]);
        let mode = carematch::block::Mode::link(&both, 0, 1).expect("mode");
        let model = match &a.model {
            Some(m) => Model::load(m).expect("model"),
            None => config.train(&both, &mode, Vec::new()).expect("train").0,
        };
        let rules = config.rules_for(&both);
        let sizes = (both.sources()[0].rows.len(), both.sources()[1].rows.len());
        (model, rules, sizes)
    };
    println!(
        "{} the model in {:.1}s",
        if a.model.is_some() { "read" } else { "trained" },
        t.elapsed().as_secs_f64()
    );

    // The index of the GP file, with the same model.
    let (rss0, _) = memory();
    reset_peak();
    let t = Instant::now();
    let population = read(&[&gp]);
    let read_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let built = Index::builder(model.clone())
        .build(population)
        .expect("index");
    let build_secs = t.elapsed().as_secs_f64();
    let (rss1, hwm1) = memory();
    println!(
        "index: {} records; read {read_secs:.2}s, built {build_secs:.2}s; resident +{:.0} MB \
         ({:.0} bytes per record); peak while reading and building +{:.0} MB ({:.2}x resident)",
        built.len(),
        rss1 - rss0,
        (rss1 - rss0) * 1024.0 * 1024.0 / built.len() as f64,
        hwm1 - rss0,
        (hwm1 - rss0) / (rss1 - rss0)
    );
    let file = dir.join("pop.idx");
    reset_peak();
    let t = Instant::now();
    built.save(&file).expect("save");
    let save_secs = t.elapsed().as_secs_f64();
    let (_, hwm_save) = memory();
    let size = std::fs::metadata(&file).map_or(0, |m| m.len());
    println!(
        "save: {save_secs:.2}s; file {:.0} MB; peak while saving +{:.0} MB over the index ({:.2}x \
         resident)",
        size as f64 / 1e6,
        hwm_save - rss1,
        (hwm_save - rss0) / (rss1 - rss0)
    );
    drop(built);
    // The rest of the run queries the loaded copy: what a service restarting from its file
    // holds.
    let (rss2, _) = memory();
    reset_peak();
    let t = Instant::now();
    let index = Index::load(&file).expect("load");
    let load_secs = t.elapsed().as_secs_f64();
    let (rss3, hwm3) = memory();
    println!(
        "load: {load_secs:.2}s ({} records); resident +{:.0} MB; peak while loading +{:.0} MB \
         ({:.2}x resident)",
        index.len(),
        rss3 - rss2,
        hwm3 - rss2,
        (hwm3 - rss2) / (rss3 - rss2)
    );

    // The batch link of the two files with the same model, for the accuracy comparison
    // (left out when only some records are queried).
    let batch = (a.queries == usize::MAX).then(|| batch_link(&gp, &hospital, rules, &model, sizes));

    // The first `--queries` records of the hospital file (read from a copy of its first
    // lines, so that the whole file is not held in memory for a few of its records).
    let queries: Vec<Entry> = if a.queries == usize::MAX {
        index.read_csv(&hospital).expect("queries")
    } else {
        use std::io::{BufRead, Write};
        let head = dir.join(format!("queries-{}.csv", a.queries));
        let lines = std::io::BufReader::new(std::fs::File::open(&hospital).expect("hospital"));
        let mut out = std::io::BufWriter::new(std::fs::File::create(&head).expect("queries"));
        for line in lines.lines().take(a.queries + 1) {
            writeln!(out, "{}", line.expect("a line")).expect("write");
        }
        drop(out);
        index.read_csv(&head).expect("queries")
    };
    let opts = QueryOptions::default();
    // Warm-up pass (page in the tables), then the timed pass on one thread.
    for q in queries.iter().take(10_000) {
        std::hint::black_box(index.query(q, &opts).expect("query"));
    }
    let mut nanos = Vec::with_capacity(queries.len());
    // (latency, candidates compared) per query: what the slowest queries have in common.
    let mut tail: Vec<(u64, usize)> = Vec::with_capacity(queries.len());
    let mut index_pairs: BTreeSet<(String, String)> = BTreeSet::new();
    let mut decisions = [0usize; 4];
    let mut compared = 0usize;
    let t = Instant::now();
    for q in &queries {
        let s = Instant::now();
        let r = index.query(q, &opts).expect("query");
        let ns = s.elapsed().as_nanos() as u64;
        nanos.push(ns);
        tail.push((ns, r.compared));
        compared += r.compared;
        decisions[match r.decision {
            QueryDecision::Match => 0,
            QueryDecision::Ambiguous => 1,
            QueryDecision::Review => 2,
            QueryDecision::NoMatch => 3,
        }] += 1;
        for c in &r.candidates {
            if c.decision == Some(carematch::Decision::Match) {
                index_pairs.insert((q.id().to_string(), c.id.clone()));
            }
        }
    }
    let timed = t.elapsed().as_secs_f64();
    nanos.sort_unstable();
    // Throughput on one thread, without a clock read per query.
    let t = Instant::now();
    for q in &queries {
        std::hint::black_box(index.query(q, &opts).expect("query"));
    }
    let one = t.elapsed().as_secs_f64();
    let mean = nanos.iter().sum::<u64>() as f64 / nanos.len() as f64 / 1000.0;
    println!(
        "query, one thread: {} queries in {one:.2}s ({:.0}/s; {timed:.2}s with a clock read \
         per query); latency µs p50 {:.1}, p90 {:.1}, p99 {:.1}, p99.9 {:.1}, max {:.1}, mean \
         {mean:.1}; {:.2} candidates compared per query",
        queries.len(),
        queries.len() as f64 / one,
        percentile(&nanos, 0.5),
        percentile(&nanos, 0.9),
        percentile(&nanos, 0.99),
        percentile(&nanos, 0.999),
        percentile(&nanos, 1.0),
        compared as f64 / queries.len() as f64
    );
    tail_figures(&mut tail);
    println!(
        "decisions: {} match, {} ambiguous, {} review, {} no match",
        decisions[0], decisions[1], decisions[2], decisions[3]
    );
    // Two threads querying the shared index at once.
    let t = Instant::now();
    let half = queries.len() / 2;
    std::thread::scope(|s| {
        for part in [&queries[..half], &queries[half..]] {
            let index = &index;
            s.spawn(move || {
                for q in part {
                    std::hint::black_box(index.query(q, &opts).expect("query"));
                }
            });
        }
    });
    let two = t.elapsed().as_secs_f64();
    println!(
        "query, two threads: {:.0}/s ({:.2}x one thread)",
        queries.len() as f64 / two,
        one / two
    );

    // Accuracy: the index's links against the batch's, and both against the truth.
    if let Some((batch_pairs, decided)) = &batch {
        let only_batch = batch_pairs.difference(&index_pairs).count();
        let only_index = index_pairs.difference(batch_pairs).count();
        println!(
            "links: batch {}, index {}, in both {}, only batch {only_batch}, only index {only_index}",
            batch_pairs.len(),
            index_pairs.len(),
            batch_pairs.intersection(&index_pairs).count()
        );
        let truth = PairFile::read(&truth, false, None).expect("truth");
        let eb = Evaluation::new(
            batch_pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())),
            truth.pairs(),
        );
        let ei = Evaluation::new(
            index_pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())),
            truth.pairs(),
        );
        println!(
            "batch against truth: {}",
            eb.to_string().replace('\n', "; ")
        );
        println!(
            "index against truth: {}",
            ei.to_string().replace('\n', "; ")
        );
        let truth_set: BTreeSet<(String, String)> = truth
            .pairs()
            .map(|(a, b)| {
                if a.starts_with('H') {
                    (a.to_string(), b.to_string())
                } else {
                    (b.to_string(), a.to_string())
                }
            })
            .collect();
        let right = |s: &BTreeSet<(String, String)>, other: &BTreeSet<(String, String)>| {
            s.difference(other)
                .filter(|p| truth_set.contains(*p))
                .count()
        };
        println!(
            "of the differences, true pairs: only batch {} of {only_batch}, only index {} of {only_index}",
            right(batch_pairs, &index_pairs),
            right(&index_pairs, batch_pairs)
        );
        if std::env::var_os("SHOW_DIFFERENCES").is_some() {
            for p in batch_pairs.symmetric_difference(&index_pairs).take(40) {
                let q = queries.iter().find(|q| q.id() == p.0).expect("query");
                let r = index.query(q, &opts).expect("query");
                let c: Vec<String> = r
                    .candidates
                    .iter()
                    .map(|c| {
                        format!(
                            "{} {:?} {:.2} {:?}",
                            c.id,
                            c.decision,
                            c.weight.bits(),
                            c.rule
                        )
                    })
                    .collect();
                println!(
                    "{} {}: batch {:?}; index {} {:?}",
                    p.0,
                    p.1,
                    decided.get(p),
                    r.decision.as_str(),
                    c
                );
            }
        }
    }
    if a.dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
