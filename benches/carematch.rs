//! Criterion benchmarks, one binary with hierarchical names. Every iteration asserts its
//! result, so `cargo bench -- --test` (run in CI) is also a check.
//!
//! Run: `cargo bench --bench carematch` (all) or `cargo bench --bench carematch -- link/`.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use carematch::block::Blocker;
use carematch::compare::{Comparison, jaro_winkler};
use carematch::model::TrainOptions;
use carematch::normalise::{date, name, nhs_number, postcode, text};
use carematch::synth::{GenerateOptions, generate};
use carematch::{BlockingRule, Linker, Model, Records};

const NAMES: &[&str] = &[
    "Mr John SMITH",
    "Mrs Zoë O'Brien-Jones",
    "  elizabeth  ",
    "BABY OF SMITH",
    "Siân",
    "Łukasz",
    "Muhammad",
    "Mary-Jane",
    "Dr. A. Patel",
    "Unknown",
];
const DATES: &[&str] = &[
    "1980-02-01",
    "01/02/1980",
    "1-2-1980",
    "19800201",
    "1980-02-01T00:00:00",
    "31/02/1980",
    "1900-01-01",
    "01/02/80",
];
const POSTCODES: &[&str] = &[
    "LS1 4AP", "ls14ap", "SW1A 2AA", "EC1A1BB", "M1 1AE", "ZZ99 3VZ", "LSI 4AP", "nfa",
];
const NHS: &[&str] = &[
    "943 476 5919",
    "9434765919",
    "943-476-5919",
    "9434765918",
    "0000000000",
    "123",
];

fn bench_normalise(c: &mut Criterion) {
    let mut g = c.benchmark_group("normalise");
    g.throughput(Throughput::Elements(NAMES.len() as u64));
    g.bench_function("name", |b| {
        b.iter(|| {
            let n = NAMES
                .iter()
                .filter_map(|s| name::normalise_name(black_box(s)))
                .count();
            assert_eq!(n, 8);
        });
    });
    g.bench_function("fold", |b| {
        b.iter(|| {
            let n: usize = NAMES.iter().map(|s| text::fold(black_box(s)).len()).sum();
            assert!(n > 50);
        });
    });
    g.throughput(Throughput::Elements(DATES.len() as u64));
    g.bench_function("date", |b| {
        b.iter(|| {
            let ok = DATES
                .iter()
                .filter(|s| matches!(date::parse_date(black_box(s)), Ok(Some(_))))
                .count();
            assert_eq!(ok, 5);
        });
    });
    g.throughput(Throughput::Elements(POSTCODES.len() as u64));
    g.bench_function("postcode", |b| {
        b.iter(|| {
            let uk = POSTCODES
                .iter()
                .filter(|s| postcode::parse_postcode(black_box(s)).is_some_and(|p| p.is_uk()))
                .count();
            assert_eq!(uk, 6);
        });
    });
    g.throughput(Throughput::Elements(NHS.len() as u64));
    g.bench_function("nhs_number", |b| {
        b.iter(|| {
            let ok = NHS
                .iter()
                .filter(|s| matches!(nhs_number::parse_nhs_number(black_box(s)), Ok(Some(_))))
                .count();
            assert_eq!(ok, 3);
        });
    });
    g.finish();
}

fn load(dir: &Path) -> Records {
    let mut b = Records::builder();
    b.add_csv(&dir.join("gp.csv")).unwrap();
    b.add_csv(&dir.join("hospital.csv")).unwrap();
    b.build().unwrap().0
}

fn bench_pipeline(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let people = 20_000;
    let options = GenerateOptions {
        people,
        seed: 7,
        ..GenerateOptions::default()
    };
    generate(&options, dir.path()).unwrap();
    let records = load(dir.path());
    let rows = records.len() as u64;
    let mode = carematch::block::Mode::link(&records, 0, 1).unwrap();
    let rules_only = Linker::builder().build().unwrap();
    let expected = rules_only.link(&records, 0, 1).unwrap();
    let expected_matches = expected.matches().count();
    assert!(expected_matches as u64 > people / 3);
    let comparisons = Comparison::defaults();
    let model = Model::train(&records, &mode, &comparisons, &TrainOptions::default()).unwrap();
    let mut b = Linker::builder();
    b.rules(Vec::new()).model(Some(model.clone()));
    let model_only = b.build().unwrap();
    let scored = model_only.link(&records, 0, 1).unwrap();
    let blocked: u64 = Blocker::new(&records, &BlockingRule::defaults(), &mode)
        .unwrap()
        .pairs(1 << 16)
        .map(|c| c.len() as u64)
        .sum();
    assert_eq!(scored.candidates, blocked);

    let mut g = c.benchmark_group("pipeline");
    g.sample_size(10);
    g.throughput(Throughput::Elements(rows));
    g.bench_function("read/20k_people", |b| {
        b.iter(|| assert_eq!(load(dir.path()).len() as u64, rows));
    });
    g.throughput(Throughput::Elements(blocked));
    g.bench_function("block/defaults/20k_people", |b| {
        b.iter(|| {
            let blocker = Blocker::new(&records, &BlockingRule::defaults(), &mode).unwrap();
            let n: u64 = blocker.pairs(1 << 16).map(|c| c.len() as u64).sum();
            assert_eq!(n, blocked);
        });
    });
    let pairs: Vec<carematch::block::Pair> =
        Blocker::new(&records, &BlockingRule::defaults(), &mode)
            .unwrap()
            .pairs(usize::MAX)
            .flatten()
            .collect();
    let scorer = carematch::model::Scorer::new(&model, &records).unwrap();
    let strong = pairs
        .iter()
        .filter(|&&p| scorer.weight(p).bits() > 0.0)
        .count();
    g.bench_function("score/one_thread/20k_people", |b| {
        b.iter(|| {
            let n = pairs
                .iter()
                .filter(|&&p| scorer.weight(p).bits() > 0.0)
                .count();
            assert_eq!(n, strong);
        });
    });
    g.bench_function("link/model/20k_people", |b| {
        b.iter(|| {
            let r = model_only.link(&records, 0, 1).unwrap();
            assert_eq!(r.links.len(), scored.links.len());
        });
    });
    g.throughput(Throughput::Elements(rows));
    g.bench_function("link/deterministic/20k_people", |b| {
        b.iter(|| {
            let r = rules_only.link(&records, 0, 1).unwrap();
            assert_eq!(r.matches().count(), expected_matches);
        });
    });
    g.bench_function("train/20k_people", |b| {
        b.iter(|| {
            let m = Model::train(&records, &mode, &comparisons, &TrainOptions::default()).unwrap();
            assert_eq!(m.lambda().to_bits(), model.lambda().to_bits());
        });
    });
    g.finish();
}

const PAIRS: &[(&str, &str)] = &[
    ("jonathan", "johnathan"),
    ("smith", "smyth"),
    ("catherine", "kathryn"),
    ("mohammed", "muhammad"),
    ("oliver", "olivia"),
    ("elizabeth", "elisabeth"),
    ("o brien", "obrien"),
    ("ann", "anne"),
];

fn bench_compare(c: &mut Criterion) {
    // The fast path must agree with strsim on every pair; the benches then assert the count.
    for (x, y) in PAIRS {
        assert!((jaro_winkler(x, y) - strsim::jaro_winkler(x, y)).abs() < 1e-12);
    }
    let expected = PAIRS
        .iter()
        .filter(|(x, y)| strsim::jaro_winkler(x, y) >= 0.88)
        .count();
    assert!(expected >= 4);
    let mut g = c.benchmark_group("compare");
    g.throughput(Throughput::Elements(PAIRS.len() as u64));
    g.bench_function("jaro_winkler/names", |b| {
        b.iter(|| {
            let close = PAIRS
                .iter()
                .filter(|(x, y)| jaro_winkler(black_box(x), black_box(y)) >= 0.88)
                .count();
            assert_eq!(close, expected);
        });
    });
    g.bench_function("jaro_winkler/strsim", |b| {
        b.iter(|| {
            let close = PAIRS
                .iter()
                .filter(|(x, y)| strsim::jaro_winkler(black_box(x), black_box(y)) >= 0.88)
                .count();
            assert_eq!(close, expected);
        });
    });
    g.finish();
}

fn bench_pseudonym(c: &mut Criterion) {
    use carematch::pseudonym::{
        EncodeOptions, Key, NameSalt, Pseudonymiser, TokenField, encoded_line, file_scheme,
    };
    let p = Pseudonymiser::new(&Key::from_bytes([3; 32]), "bench", 1);
    let mut g = c.benchmark_group("pseudonym");
    // One record's worth: 17 tokens and 3 hardened filters, as `pseudonymise` writes.
    g.throughput(Throughput::Elements(1));
    g.bench_function("encode/record", |b| {
        b.iter(|| {
            let mut n = 0;
            for (f, v) in [
                (TokenField::NhsNumber, "9990000018"),
                (TokenField::Dob, "1980-02-01"),
                (TokenField::DobSwapped, "1980-01-02"),
                (TokenField::DobYearMonth, "1980-02"),
                (TokenField::DobYear, "1980"),
                (TokenField::Sex, "F"),
                (TokenField::Postcode, "LS1 4AP"),
                (TokenField::PostcodeSector, "LS1 4"),
                (TokenField::PostcodeDistrict, "LS1"),
                (TokenField::PostcodeArea, "LS"),
                (TokenField::GivenName, "elizabeth"),
                (TokenField::GivenNameNickname, "elizabeth"),
                (TokenField::GivenNameSoundex, "E421"),
                (TokenField::GivenNameNysiis, "ELASABAT"),
                (TokenField::Surname, "obrien"),
                (TokenField::SurnameSoundex, "O165"),
                (TokenField::SurnameNysiis, "OBRAN"),
            ] {
                n += p.token(f, black_box(v)).to_string().len();
            }
            for (f, v) in [
                (TokenField::GivenName, "elizabeth"),
                (TokenField::Surname, "obrien"),
                (TokenField::Address, "12 high street leeds"),
            ] {
                n += p.bloom_record(f, black_box(v), "GP00000001").count_ones() as usize;
            }
            assert!(n > 17 * 32);
        });
    });
    // Whole encoded lines of 2,000 people's GP records, as `pseudonymise` writes them, under
    // each name salt: `none` is the encoding before names were salted (scheme 1), side by
    // side with the default.
    let dir = tempfile::tempdir().unwrap();
    let options = GenerateOptions {
        people: 2000,
        seed: 5,
        ..GenerateOptions::default()
    };
    generate(&options, dir.path()).unwrap();
    let records = load(dir.path());
    let rows = records.len() as u32;
    g.throughput(Throughput::Elements(u64::from(rows)));
    for salt in [NameSalt::DateOfBirth, NameSalt::None] {
        let o = EncodeOptions {
            name_salt: salt,
            ..EncodeOptions::default()
        };
        let scheme = file_scheme(&p, o);
        g.bench_function(format!("encode/line/salt-{}", salt.label()), |b| {
            b.iter(|| {
                let n: usize = (0..rows)
                    .map(|r| encoded_line(&records, r, &p, o, &scheme).len())
                    .sum();
                assert!(n >= rows as usize * 40);
            });
        });
    }
    g.throughput(Throughput::Elements(1));
    let a = p.bloom_record(TokenField::Surname, "johnson", "a");
    let bb = p.bloom_record(TokenField::Surname, "jonhson", "b");
    let expected = a.dice(&bb);
    assert!(expected > 0.6 && expected < 1.0);
    g.bench_function("dice", |b| {
        b.iter(|| assert_eq!(black_box(&a).dice(black_box(&bb)), expected));
    });
    g.finish();
}

/// One record at a time against an index of 20,000 synthetic people: query latency per
/// record (the hospital file's records, in turn), and an insert plus a remove.
fn bench_index(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let options = GenerateOptions {
        people: 20_000,
        seed: 11,
        ..GenerateOptions::default()
    };
    generate(&options, dir.path()).unwrap();
    let both = load(dir.path());
    let mode = carematch::block::Mode::link(&both, 0, 1).unwrap();
    let model = Model::train(
        &both,
        &mode,
        &Comparison::defaults(),
        &TrainOptions::default(),
    )
    .unwrap();
    let mut b = Records::builder();
    b.add_csv(&dir.path().join("gp.csv")).unwrap();
    let (population, _) = b.build().unwrap();
    let index = carematch::Index::builder(model).build(population).unwrap();
    let queries = index.read_csv(&dir.path().join("hospital.csv")).unwrap();
    let opts = carematch::index::QueryOptions::default();
    // Each iteration answers one record; the answers are known beforehand.
    let expected: Vec<carematch::index::QueryDecision> = queries
        .iter()
        .map(|q| index.query(q, &opts).unwrap().decision)
        .collect();
    let matched = expected
        .iter()
        .filter(|d| **d == carematch::index::QueryDecision::Match)
        .count();
    assert!(
        matched * 2 > queries.len(),
        "{matched} of {}",
        queries.len()
    );
    let mut g = c.benchmark_group("index");
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function("query/20k_people", |b| {
        b.iter(|| {
            let k = i % queries.len();
            i += 1;
            let r = index.query(black_box(&queries[k]), &opts).unwrap();
            assert_eq!(r.decision, expected[k]);
        });
    });
    let mut extra = queries[0].clone();
    extra.set(carematch::Role::Id, "BENCH-INSERT");
    g.bench_function("insert_remove/20k_people", |b| {
        b.iter(|| {
            assert!(index.insert(black_box(&extra)).unwrap().is_none());
            assert!(index.remove("BENCH-INSERT").unwrap().is_empty());
        });
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_normalise,
    bench_compare,
    bench_pipeline,
    bench_pseudonym,
    bench_index
);
criterion_main!(benches);
