//! Tests of the generator as a whole: determinism, truth files, and measured rates.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::calendar::civil_from_days;
use super::population::{age_on_reference, moved_address};
use super::render::{Source, rates, true_surname};
use super::tables::tables;
use super::*;

fn options(people: u64, seed: u64) -> GenerateOptions {
    GenerateOptions {
        people,
        seed,
        ..GenerateOptions::default()
    }
}

const FILES: [&str; 5] = [
    "gp.csv",
    "hospital.csv",
    "dedupe.csv",
    "truth.csv",
    "truth_dedupe.csv",
];

fn run(o: &GenerateOptions) -> (tempfile::TempDir, GenerateSummary) {
    let dir = tempfile::tempdir().expect("temp dir");
    let summary = generate(o, dir.path()).expect("generate");
    (dir, summary)
}

fn bytes(dir: &Path) -> Vec<Vec<u8>> {
    FILES
        .iter()
        .map(|f| std::fs::read(dir.join(f)).expect("read"))
        .collect()
}

fn records(path: &Path) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_path(path).expect("open");
    r.records()
        .map(|x| x.expect("record").iter().map(str::to_owned).collect())
        .collect()
}

#[test]
fn same_seed_gives_identical_bytes_and_another_seed_differs() {
    let (a, _) = run(&options(1500, 5));
    let (b, _) = run(&options(1500, 5));
    let (c, _) = run(&options(1500, 6));
    assert_eq!(bytes(a.path()), bytes(b.path()));
    let (ba, bc) = (bytes(a.path()), bytes(c.path()));
    for i in 0..3 {
        assert_ne!(ba[i], bc[i], "{}", FILES[i]);
    }
}

#[test]
fn output_does_not_depend_on_the_thread_count() {
    // More than one chunk and more than one render task per file.
    let o = options(9000, 3);
    let in_pool = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        pool.install(|| {
            let (dir, _) = run(&o);
            bytes(dir.path())
        })
    };
    assert_eq!(in_pool(1), in_pool(2));
}

#[test]
fn files_have_headers_ids_and_unix_line_endings() {
    let o = options(800, 9);
    let (dir, summary) = run(&o);
    let names: Vec<&str> = summary.files.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(names, FILES);
    let text = std::fs::read_to_string(dir.path().join("gp.csv")).expect("utf-8");
    assert!(
        text.starts_with(
            "rec_id,nhs_number,given_name,surname,date_of_birth,sex,postcode,address\n"
        )
    );
    assert!(!text.contains('\r'));
    let text = std::fs::read_to_string(dir.path().join("hospital.csv")).expect("utf-8");
    assert!(
        text.starts_with("id,nhs_no,first_name,last_name,dob,gender,postcode,address_line_1\n")
    );
    for (file, rows) in &summary.files {
        let recs = records(&dir.path().join(file));
        assert_eq!(recs.len() as u64, *rows, "{file}");
    }
    let gp = records(&dir.path().join("gp.csv"));
    for (i, r) in gp.iter().enumerate() {
        assert_eq!(r[0], format!("GP{:08}", i + 1));
        assert!(["M", "F", ""].contains(&r[5].as_str()));
    }
    let h = records(&dir.path().join("hospital.csv"));
    for (i, r) in h.iter().enumerate() {
        assert_eq!(r[0], format!("H{:08}", i + 1));
        assert!(["Male", "Female", "1", "2", "0", ""].contains(&r[5].as_str()));
        assert!(
            r[2].is_ascii() && r[3].is_ascii(),
            "hospital names have no diacritics"
        );
    }
}

#[test]
fn invalid_options_are_usage_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = [
        GenerateOptions {
            people: 0,
            ..GenerateOptions::default()
        },
        GenerateOptions {
            noise: 11.0,
            ..GenerateOptions::default()
        },
        GenerateOptions {
            noise: f64::NAN,
            ..GenerateOptions::default()
        },
        GenerateOptions {
            gp_coverage: 1.5,
            ..GenerateOptions::default()
        },
        GenerateOptions {
            hospital_coverage: -0.1,
            ..GenerateOptions::default()
        },
        GenerateOptions {
            dedupe_duplicate_rate: f64::INFINITY,
            ..GenerateOptions::default()
        },
        GenerateOptions {
            people: nhs::CAPACITY + 1,
            ..GenerateOptions::default()
        },
    ];
    for o in bad {
        let e = generate(&o, dir.path()).expect_err("invalid");
        assert_eq!(e.kind(), ErrorKind::Usage, "{e}");
    }
    assert!(std::fs::read_dir(dir.path()).expect("dir").next().is_none());
}

#[test]
fn unwritable_directory_is_an_io_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").expect("write");
    let e = generate(&options(10, 1), &file.join("sub")).expect_err("not a directory");
    assert!(e.is_io(), "{e}");
}

#[test]
fn truth_pairs_are_complete_and_link_only_the_same_person() {
    let o = options(3000, 21);
    let (dir, _) = run(&o);
    let plan = Plan::new(&o);
    let person_of = |source: Source, id: &str| -> usize {
        let n: usize = id
            .trim_start_matches(|c: char| c.is_ascii_alphabetic())
            .parse()
            .expect("numeric id");
        assert!(n >= 1 && n <= plan.files[source.index()].len(), "{id}");
        plan.files[source.index()][n - 1].person as usize
    };
    let truth = records(&dir.path().join("truth.csv"));
    let mut seen = HashSet::new();
    for r in &truth {
        assert!(r[0].starts_with("GP") && r[1].starts_with('H'));
        assert_eq!(
            person_of(Source::Gp, &r[0]),
            person_of(Source::Hospital, &r[1])
        );
        assert!(seen.insert((r[0].clone(), r[1].clone())), "duplicate pair");
    }
    // Completeness: the number of pairs is the sum over people of gp x hospital copies.
    let expected: usize = plan
        .population
        .people
        .iter()
        .map(|p| usize::from(p.copies[0]) * usize::from(p.copies[1]))
        .sum();
    assert_eq!(truth.len(), expected);

    let dedupe = records(&dir.path().join("truth_dedupe.csv"));
    for r in &dedupe {
        assert!(r[0] < r[1], "left id < right id");
        assert_eq!(
            person_of(Source::Dedupe, &r[0]),
            person_of(Source::Dedupe, &r[1])
        );
    }
    let expected: usize = plan
        .population
        .people
        .iter()
        .map(|p| {
            let k = usize::from(p.copies[2]);
            k * k.saturating_sub(1) / 2
        })
        .sum();
    assert_eq!(dedupe.len(), expected);
    assert!(expected > 0);
}

#[test]
fn nhs_numbers_are_valid_unique_and_never_shared_between_people() {
    let o = options(5000, 8);
    let mut all = HashSet::new();
    for i in 0..o.people {
        let n = nhs::nhs_number(o.seed, i);
        assert!(nhs::is_valid(std::str::from_utf8(&n).unwrap_or("")));
        assert!(all.insert(n), "shared NHS number");
    }
    // In the output, a valid NHS number always belongs to the record's own person.
    let (dir, _) = run(&o);
    let plan = Plan::new(&o);
    for source in Source::ALL {
        let recs = records(&dir.path().join(source.file_name()));
        let mut owner: HashMap<String, u32> = HashMap::new();
        for (r, e) in recs.iter().zip(&plan.files[source.index()]) {
            let digits: String = r[1].chars().filter(|c| !c.is_whitespace()).collect();
            if nhs::is_valid(&digits) {
                let own = nhs::nhs_number(o.seed, u64::from(e.person));
                assert_eq!(digits.as_bytes(), own);
                assert_eq!(*owner.entry(digits).or_insert(e.person), e.person);
            }
        }
    }
}

#[test]
fn noise_zero_gives_clean_copies() {
    let o = GenerateOptions {
        noise: 0.0,
        ..options(1000, 4)
    };
    let (dir, _) = run(&o);
    let plan = Plan::new(&o);
    let t = tables();
    let recs = records(&dir.path().join("gp.csv"));
    for (r, e) in recs.iter().zip(&plan.files[0]) {
        let p = &plan.population.people[e.person as usize];
        let home = plan.population.households[p.household as usize].address;
        assert_eq!(r[2], &*t.given[usize::from(p.given)].name);
        assert_eq!(r[3], true_surname(t, p));
        assert_eq!(r[6], home.postcode(t));
        assert_eq!(
            r[1].as_bytes(),
            nhs::nhs_number(o.seed, u64::from(e.person))
        );
        let d = civil_from_days(p.dob);
        assert_eq!(r[4], format!("{:04}-{:02}-{:02}", d.year, d.month, d.day));
    }
}

/// Asserts that `hits / n` is within `tolerance` (absolute) of `expected`.
fn assert_rate(what: &str, hits: usize, n: usize, expected: f64, tolerance: f64) {
    assert!(n > 0, "{what}: no cases");
    let rate = hits as f64 / n as f64;
    assert!(
        (rate - expected).abs() <= tolerance,
        "{what}: measured {rate:.4} over {n}, expected {expected} +- {tolerance}"
    );
}

#[test]
fn measured_corruption_rates_match_the_documented_ones() {
    let o = options(20_000, 77);
    let (dir, _) = run(&o);
    let plan = Plan::new(&o);
    let t = tables();
    let norm_pc = |s: &str| s.replace(' ', "").to_uppercase();

    let (mut swap_n, mut swap_hits) = (0, 0);
    let (mut pc_n, mut moved_hits, mut pc_missing) = (0, 0, 0);
    let (mut given_n, mut nickname_hits) = (0, 0);
    for source in [Source::Gp, Source::Hospital] {
        let recs = records(&dir.path().join(source.file_name()));
        for (r, e) in recs.iter().zip(&plan.files[source.index()]) {
            let p = &plan.population.people[e.person as usize];
            let d = civil_from_days(p.dob);
            if d.day <= 12 && d.day != d.month {
                swap_n += 1;
                let swapped = match source {
                    Source::Hospital => format!("{:02}/{:02}/{:04}", d.month, d.day, d.year),
                    _ => format!("{:04}-{:02}-{:02}", d.year, d.day, d.month),
                };
                swap_hits += usize::from(r[4] == swapped);
            }
            let home = plan.population.households[p.household as usize].address;
            let moved = moved_address(o.seed, p.household, &home, t);
            pc_n += 1;
            moved_hits += usize::from(norm_pc(&r[6]) == norm_pc(&moved.postcode(t)));
            pc_missing += usize::from(r[6].is_empty());
            let given = &*t.given[usize::from(p.given)].name;
            if let Some(nicks) = t.nicknames_of(given)
                && age_on_reference(p.dob) >= 1
            {
                given_n += 1;
                let out = r[2].trim().to_lowercase();
                nickname_hits +=
                    usize::from(out != given.to_lowercase() && nicks.iter().any(|n| **n == *out));
            }
        }
    }
    assert_rate("DD/MM swap", swap_hits, swap_n, rates::DOB_SWAP, 0.004);
    assert_rate(
        "postcode moved",
        moved_hits,
        pc_n,
        rates::POSTCODE_MOVED,
        0.01,
    );
    assert_rate(
        "postcode missing",
        pc_missing,
        pc_n,
        rates::POSTCODE_MISSING,
        0.006,
    );
    assert_rate(
        "nickname",
        nickname_hits,
        given_n,
        rates::GIVEN_NICKNAME,
        0.012,
    );

    let hospital = records(&dir.path().join("hospital.csv"));
    let missing = hospital.iter().filter(|r| r[1].is_empty()).count();
    assert_rate("hospital NHS missing", missing, hospital.len(), 0.12, 0.012);
    let gp = records(&dir.path().join("gp.csv"));
    let missing = gp.iter().filter(|r| r[1].is_empty()).count();
    assert_rate("GP NHS missing", missing, gp.len(), 0.01, 0.004);
    let dedupe = records(&dir.path().join("dedupe.csv"));
    let missing = dedupe.iter().filter(|r| r[1].is_empty()).count();
    assert_rate("dedupe NHS missing", missing, dedupe.len(), 0.40, 0.025);

    // Coverage.
    let n = o.people as usize;
    let in_gp = plan
        .population
        .people
        .iter()
        .filter(|p| p.copies[0] > 0)
        .count();
    assert_rate("GP coverage", in_gp, n, o.gp_coverage, 0.015);
    let dup = plan
        .population
        .people
        .iter()
        .filter(|p| p.copies[2] >= 2)
        .count();
    let present = plan
        .population
        .people
        .iter()
        .filter(|p| p.copies[2] >= 1)
        .count();
    assert_rate(
        "dedupe duplicates",
        dup,
        present,
        o.dedupe_duplicate_rate,
        0.02,
    );
}

#[test]
fn noise_two_doubles_the_rates() {
    let o = GenerateOptions {
        noise: 2.0,
        ..options(6000, 12)
    };
    let (dir, _) = run(&o);
    let hospital = records(&dir.path().join("hospital.csv"));
    let missing = hospital.iter().filter(|r| r[1].is_empty()).count();
    assert_rate(
        "hospital NHS missing at noise 2",
        missing,
        hospital.len(),
        0.24,
        0.03,
    );
}

#[test]
fn twins_are_present_at_the_documented_rate_and_look_alike() {
    let o = options(20_000, 31);
    let plan = Plan::new(&o);
    let people = &plan.population.people;
    let twins: Vec<usize> = (0..people.len()).filter(|&i| people[i].twin > 0).collect();
    assert_rate(
        "twins",
        twins.len(),
        people.len(),
        population::TWIN_RATE,
        0.004,
    );
    let t = tables();
    let mut same_initial = 0;
    for &i in &twins {
        let a = &people[i];
        let b = twins
            .iter()
            .map(|&j| &people[j])
            .find(|b| b.household == a.household && b.twin != a.twin && b.dob == a.dob)
            .expect("twin's twin");
        assert_eq!(true_surname(t, a), true_surname(t, b));
        let (ga, gb) = (
            &t.given[usize::from(a.given)].name,
            &t.given[usize::from(b.given)].name,
        );
        assert_ne!(ga, gb);
        same_initial += usize::from(ga.chars().next() == gb.chars().next());
        assert_ne!(
            nhs::nhs_number(o.seed, i as u64),
            nhs::nhs_number(
                o.seed,
                people.iter().position(|x| std::ptr::eq(x, b)).unwrap_or(0) as u64
            )
        );
    }
    assert!(
        same_initial * 3 >= twins.len(),
        "about half share an initial"
    );
}

#[test]
fn newborns_get_placeholder_names_in_hospital_only() {
    let o = options(20_000, 41);
    let (dir, _) = run(&o);
    let plan = Plan::new(&o);
    let placeholder = |s: &str| {
        let s = s.trim().to_lowercase();
        s == "baby" || s.starts_with("baby of") || s.starts_with("twin ")
    };
    let count = |source: Source| {
        let recs = records(&dir.path().join(source.file_name()));
        let (mut n, mut hits) = (0, 0);
        for (r, e) in recs.iter().zip(&plan.files[source.index()]) {
            let p = &plan.population.people[e.person as usize];
            if age_on_reference(p.dob) == 0 {
                n += 1;
                hits += usize::from(placeholder(&r[2]) || placeholder(&r[3]));
            }
        }
        (n, hits)
    };
    let (n, hits) = count(Source::Hospital);
    assert_rate("hospital newborn placeholder", hits, n, 0.7, 0.12);
    assert_eq!(count(Source::Gp).1, 0);
}

/// The 1M-people timing: `cargo test --release --lib synth -- --ignored --nocapture`.
#[test]
#[ignore = "slow: a million people; run in release"]
fn one_million_people_timing() {
    let o = options(1_000_000, 1);
    let dir = tempfile::tempdir().expect("temp dir");
    let start = std::time::Instant::now();
    let summary = generate(&o, dir.path()).expect("generate");
    let elapsed = start.elapsed();
    println!(
        "1M people: {elapsed:.2?} on {} threads",
        rayon::current_num_threads()
    );
    for (f, rows) in &summary.files {
        let size = std::fs::metadata(dir.path().join(f)).map_or(0, |m| m.len());
        println!("{f}: {rows} rows, {size} bytes");
    }
}
