//! The memory guard: a run that would hold more than it may stops with a message saying what
//! it was doing, what it held and what it may hold, from every entry point (the library's
//! reader and linker, which the command line, C and Python share; and `--memory-limit`).

use std::path::Path;
use std::process::{Command, Output};

use carematch::memory::Budget;
use carematch::{ErrorKind, Linker, Records};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data");

fn has_proc() -> bool {
    carematch::memory::resident().is_some()
}

fn sample_records() -> Records {
    let mut b = Records::builder();
    b.memory(None);
    b.add_csv(&Path::new(SAMPLE).join("gp.csv")).unwrap();
    b.add_csv(&Path::new(SAMPLE).join("hospital.csv")).unwrap();
    b.build().unwrap().0
}

#[test]
fn the_linker_stops_before_the_plan_when_the_budget_is_spent() {
    if !has_proc() {
        return;
    }
    let records = sample_records();
    let mut b = Linker::builder();
    b.memory(Some(Budget::bytes(1)));
    let e = b.build().unwrap().link(&records, 0, 1).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Memory);
    let plan = format!("while making the blocking plan ({} records", records.len());
    assert!(e.message().contains(&plan), "{}", e.message());
    // The same linker with room links as one with no check.
    let mut roomy = Linker::builder();
    roomy.memory(Some(Budget::bytes(u64::MAX)));
    let mut unchecked = Linker::builder();
    unchecked.memory(None);
    let a = roomy.build().unwrap().link(&records, 0, 1).unwrap();
    let b = unchecked.build().unwrap().link(&records, 0, 1).unwrap();
    assert_eq!(a.links, b.links);
    assert!(!a.links.is_empty());
}

fn carematch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_carematch"))
        .args(args)
        .output()
        .expect("the carematch binary runs")
}

fn link_sample(out: &Path, limit: &str) -> Output {
    carematch(&[
        "--memory-limit",
        limit,
        "link",
        "--left",
        &format!("{SAMPLE}/gp.csv"),
        "--right",
        &format!("{SAMPLE}/hospital.csv"),
        "--no-model",
        "--out",
        out.to_str().unwrap(),
    ])
}

#[test]
fn memory_limit_stops_the_command_line_with_a_message_and_writes_nothing() {
    if !has_proc() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pairs.csv");
    let o = link_sample(&out, "1M");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    let last = err.lines().last().unwrap();
    assert!(
        last.starts_with("carematch: error: stopped before memory ran out, while reading "),
        "{last}"
    );
    assert!(last.contains("gp.csv (at line "), "{last}");
    assert!(
        last.contains("at most 1 MB (from --memory-limit;"),
        "{last}"
    );
    assert!(!out.exists(), "no pairs file after a stopped run");
    let o = link_sample(&out, "64G");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read_to_string(&out).unwrap().lines().count() > 1);
}

#[test]
fn a_memory_limit_that_is_not_a_size_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pairs.csv");
    for bad in ["0", "8X", "lots", "infG", "NaN"] {
        let o = link_sample(&out, bad);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{bad}: {err}");
        assert!(err.contains("--memory-limit"), "{bad}: {err}");
    }
}

/// Pairs are made one chunk at a time while the pool compares the previous chunk: the links,
/// their weights and the model's error estimates do not depend on the chunk size.
#[test]
fn links_do_not_depend_on_the_chunk_size() {
    let records = sample_records();
    let mode = carematch::block::Mode::link(&records, 0, 1).unwrap();
    let model = carematch::Model::train(
        &records,
        &mode,
        &carematch::compare::Comparison::defaults(),
        &carematch::model::TrainOptions::default(),
    )
    .unwrap();
    let run = |chunk: usize| {
        let mut b = Linker::builder();
        b.model(Some(model.clone())).chunk_size(chunk);
        b.build().unwrap().link(&records, 0, 1).unwrap()
    };
    let whole = run(1 << 30);
    assert!(whole.links.len() > 4_000, "{} links", whole.links.len());
    for chunk in [1, 97, 1 << 16] {
        let r = run(chunk);
        assert_eq!(r.links, whole.links, "chunk {chunk}");
        assert_eq!(r.candidates, whole.candidates, "chunk {chunk}");
        assert_eq!(r.scores, whole.scores, "chunk {chunk}");
    }
}
