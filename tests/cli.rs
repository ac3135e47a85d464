//! The `carematch` command, run as a user would, on generated data and on bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub(crate) fn carematch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_carematch"))
        .args(args)
        .output()
        .expect("the carematch binary runs")
}

/// Runs carematch with owned `args` and extra environment variables; asserts success.
fn carematch_ok(args: &[String], env: &[(&str, &str)]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_carematch"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("the carematch binary runs");
    assert!(o.status.success(), "{}", text(&o.stderr));
    o
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn write(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

/// Runs `carematch link` on two CSV texts; returns the output and the pairs file text.
fn link_texts(left: &[u8], right: &[u8], extra: &[&str]) -> (Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let l = write(dir.path(), "left.csv", left);
    let r = write(dir.path(), "right.csv", right);
    let out = dir.path().join("pairs.csv");
    let mut args = vec![
        "link",
        "--left",
        l.to_str().unwrap(),
        "--right",
        r.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = carematch(&args);
    let pairs = std::fs::read_to_string(&out).unwrap_or_default();
    (o, pairs)
}

/// Runs `carematch link` on the sample data in examples/data, writing the pairs to `out`.
fn link_sample(out: &Path) -> Output {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data");
    carematch(&[
        "link",
        "--left",
        data.join("gp.csv").to_str().unwrap(),
        "--right",
        data.join("hospital.csv").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
}

const GOOD_RIGHT: &[u8] = b"id,nhs_no,forename,surname,dob\nH1,943 476 5919,ANN,SMITH,01/02/1980\n";

fn assert_bad_input(o: &Output, must_contain: &[&str]) {
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.contains("RUST_BACKTRACE"), "{err}");
    let last = err.lines().last().unwrap_or("");
    assert!(last.starts_with("carematch: error: "), "{err}");
    for m in must_contain {
        assert!(last.contains(m), "expected '{m}' in: {last}");
    }
}

#[test]
fn links_by_nhs_number_across_formats() {
    let left =
        b"rec_id,nhs_number,given_name,surname,date_of_birth\nG1,9434765919,Ann,Smith,1980-02-01\n";
    let (o, pairs) = link_texts(left, GOOD_RIGHT, &["--no-model"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        pairs,
        "left_id,right_id,match_weight,match_probability,decision,rule,reason\nG1,H1,,1.00000000,match,nhs-dob,\n"
    );
}

#[test]
fn missing_file_is_exit_2_naming_it() {
    let o = carematch(&[
        "link",
        "--left",
        "/nonexistent/a.csv",
        "--right",
        "/nonexistent/b.csv",
        "--out",
        "/tmp/x.csv",
    ]);
    assert_bad_input(&o, &["/nonexistent/a.csv", "cannot open"]);
}

#[test]
fn ragged_row_names_file_and_line() {
    let left = b"rec_id,given_name,surname\nG1,Ann,Smith\nG2,Bob\n";
    let (o, _) = link_texts(left, GOOD_RIGHT, &[]);
    assert_bad_input(&o, &["left.csv", "line 3", "ragged row"]);
}

#[test]
fn missing_id_column_is_named() {
    let left = b"given_name,surname\nAnn,Smith\n";
    let (o, _) = link_texts(left, GOOD_RIGHT, &[]);
    assert_bad_input(&o, &["left.csv", "no id column"]);
}

#[test]
fn duplicate_ids_name_both_lines_but_not_the_id() {
    let left = b"rec_id,surname\nSECRET-ID-7,Smith\nX,Jones\nSECRET-ID-7,Brown\n";
    let (o, _) = link_texts(left, GOOD_RIGHT, &[]);
    assert_bad_input(
        &o,
        &[
            "left.csv",
            "line 4",
            "line 2",
            "column 'rec_id'",
            "duplicate id",
        ],
    );
    assert!(!text(&o.stderr).contains("SECRET-ID-7"));
}

#[test]
fn empty_file_and_empty_id_are_errors() {
    let (o, _) = link_texts(b"", GOOD_RIGHT, &[]);
    assert_bad_input(&o, &["left.csv", "empty file"]);
    let (o, _) = link_texts(b"rec_id,surname\n,Smith\n", GOOD_RIGHT, &[]);
    assert_bad_input(&o, &["left.csv", "line 2", "empty id"]);
}

#[test]
fn non_utf8_id_is_an_error_and_non_utf8_value_is_counted() {
    let (o, _) = link_texts(b"rec_id,surname\nG\xff1,Smith\n", GOOD_RIGHT, &[]);
    assert_bad_input(&o, &["line 2", "not valid UTF-8"]);
    let (o, _) = link_texts(b"rec_id,surname\nG1,Sm\xffith\n", GOOD_RIGHT, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("not valid UTF-8: 1 (lines 2)"),
        "{}",
        text(&o.stdout)
    );
}

#[test]
fn invalid_values_are_counted_without_echoing_them_and_strict_makes_them_fatal() {
    let left = b"rec_id,nhs_number,given_name,surname,dob\n\
G1,9434765918,Ann,Smith,31/02/1980\n\
G2,9434765919,Ann,Smith,1980-02-01\n";
    let (o, pairs) = link_texts(left, GOOD_RIGHT, &[]);
    let err = text(&o.stdout) + &text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("check digit: 1 (lines 2)"), "{err}");
    assert!(
        err.contains("impossible date: 1 (lines 2)") || err.contains("(lines 2)"),
        "{err}"
    );
    assert!(
        !err.contains("9434765918") && !err.contains("31/02/1980"),
        "{err}"
    );
    assert!(pairs.contains("G2,H1"), "{pairs}");
    let (o, _) = link_texts(left, GOOD_RIGHT, &["--strict"]);
    assert_bad_input(&o, &["left.csv", "line 2", "strict"]);
    assert!(!text(&o.stderr).contains("9434765918"));
}

#[test]
fn huge_value_is_invalid_not_a_crash() {
    let mut left = b"rec_id,surname\nG1,".to_vec();
    left.extend(std::iter::repeat_n(b'x', 1 << 20));
    left.push(b'\n');
    let (o, _) = link_texts(&left, GOOD_RIGHT, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("too long: 1 (lines 2)"),
        "{}",
        text(&o.stdout)
    );
}

#[test]
fn bad_config_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let c = write(
        dir.path(),
        "c.json",
        br#"{"rules": [{"name": "r", "when": "dob:soundex"}]}"#,
    );
    let (o, _) = link_texts(GOOD_RIGHT, GOOD_RIGHT, &["--config", c.to_str().unwrap()]);
    assert_bad_input(&o, &["c.json", "rule 'r'"]);
}

#[test]
fn usage_errors_are_exit_2() {
    let o = carematch(&["link", "--left", "a.csv"]);
    assert_eq!(o.status.code(), Some(2));
    let o = carematch(&[
        "evaluate",
        "--pairs",
        "a",
        "--truth",
        "b",
        "--threshold",
        "7",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

/// Generates `people` synthetic people into a new temporary directory.
fn generated(people: u32, seed: u32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let o = carematch(&[
        "generate",
        "--people",
        &people.to_string(),
        "--seed",
        &seed.to_string(),
        "--out-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    dir
}

fn metric(report: &str, name: &str) -> f64 {
    report
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name} in {report}"))
        .parse()
        .unwrap()
}

/// Runs link (or dedupe) on generated data with `threads` rayon threads; returns stdout and
/// the bytes of the pairs and clusters files.
fn run_on(dir: &Path, dedupe: bool, threads: &str, left: &str) -> (String, Vec<u8>, Vec<u8>) {
    let d = |f: &str| dir.join(f).to_str().unwrap().to_string();
    let (pairs, clusters) = (
        d(&format!("pairs{threads}.csv")),
        d(&format!("clusters{threads}.csv")),
    );
    let mut args: Vec<String> = if dedupe {
        vec![
            "dedupe".into(),
            "--input".into(),
            d("dedupe.csv"),
            "--truth".into(),
            d("truth_dedupe.csv"),
        ]
    } else {
        vec![
            "link".into(),
            "--left".into(),
            d(left),
            "--right".into(),
            d("hospital.csv"),
            "--truth".into(),
            d("truth.csv"),
        ]
    };
    args.extend([
        "--out".into(),
        pairs.clone(),
        "--clusters".into(),
        clusters.clone(),
    ]);
    let o = carematch_ok(&args, &[("RAYON_NUM_THREADS", threads)]);
    (
        text(&o.stdout),
        std::fs::read(pairs).unwrap(),
        std::fs::read(clusters).unwrap(),
    )
}

#[test]
fn link_on_generated_data_is_precise_and_the_same_on_one_and_two_threads() {
    let dir = generated(3000, 11);
    let (report, pairs1, clusters1) = run_on(dir.path(), false, "1", "gp.csv");
    let (_, pairs2, clusters2) = run_on(dir.path(), false, "2", "gp.csv");
    assert_eq!(pairs1, pairs2, "pairs differ between 1 and 2 threads");
    assert_eq!(
        clusters1, clusters2,
        "clusters differ between 1 and 2 threads"
    );
    assert!(metric(&report, "precision") >= 0.995, "{report}");
    assert!(metric(&report, "recall") >= 0.85, "{report}");
    let header = String::from_utf8_lossy(&pairs1)
        .lines()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        header,
        "left_id,right_id,match_weight,match_probability,decision,rule,reason"
    );
    // evaluate on its own agrees with --truth.
    let o = carematch(&[
        "evaluate",
        "--pairs",
        dir.path().join("pairs1.csv").to_str().unwrap(),
        "--truth",
        dir.path().join("truth.csv").to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert_eq!(metric(&text(&o.stdout), "f1"), metric(&report, "f1"));
}

#[test]
fn link_output_does_not_depend_on_input_row_order() {
    let dir = generated(2000, 12);
    let gp = std::fs::read_to_string(dir.path().join("gp.csv")).unwrap();
    let mut lines: Vec<&str> = gp.lines().collect();
    lines[1..].reverse();
    std::fs::write(dir.path().join("gp_reversed.csv"), lines.join("\n") + "\n").unwrap();
    let (_, pairs_a, clusters_a) = run_on(dir.path(), false, "2", "gp.csv");
    let (_, pairs_b, clusters_b) = run_on(dir.path(), false, "2", "gp_reversed.csv");
    assert_eq!(pairs_a, pairs_b);
    // The clusters file names the source file, which differs here; compare the rest.
    let strip = |b: &[u8]| String::from_utf8_lossy(b).replace("gp_reversed.csv", "gp.csv");
    assert_eq!(strip(&clusters_a), strip(&clusters_b));
}

#[test]
fn dedupe_on_generated_data_clusters_every_record() {
    let dir = generated(3000, 13);
    let (report, pairs1, clusters1) = run_on(dir.path(), true, "1", "");
    let (_, pairs2, clusters2) = run_on(dir.path(), true, "2", "");
    assert_eq!((&pairs1, &clusters1), (&pairs2, &clusters2));
    assert!(metric(&report, "precision") >= 0.995, "{report}");
    let rows = std::fs::read_to_string(dir.path().join("dedupe.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    let clustered = String::from_utf8_lossy(&clusters1).lines().count() - 1;
    assert_eq!(rows, clustered, "every record gets a person id");
    // Dedupe pairs have the smaller id on the left.
    for l in String::from_utf8_lossy(&pairs1).lines().skip(1) {
        let mut f = l.split(',');
        let (a, b) = (f.next().unwrap(), f.next().unwrap());
        assert!(a < b, "{l}");
    }
}

#[test]
fn generate_is_deterministic_by_seed() {
    let a = generated(500, 5);
    let b = generated(500, 5);
    let c = generated(500, 6);
    for f in [
        "gp.csv",
        "hospital.csv",
        "truth.csv",
        "dedupe.csv",
        "truth_dedupe.csv",
    ] {
        let (x, y, z) = (
            std::fs::read(a.path().join(f)).unwrap(),
            std::fs::read(b.path().join(f)).unwrap(),
            std::fs::read(c.path().join(f)).unwrap(),
        );
        assert_eq!(x, y, "{f} differs for one seed");
        assert_ne!(x, z, "{f} is the same for two seeds");
    }
}

/// The sample data in examples/data is what the README says made it; if the generator
/// changes on purpose, regenerate it with that command.
#[test]
fn shipped_sample_data_is_what_the_generator_makes() {
    let dir = generated(10000, 42);
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data");
    for f in [
        "gp.csv",
        "hospital.csv",
        "truth.csv",
        "dedupe.csv",
        "truth_dedupe.csv",
    ] {
        assert!(
            std::fs::read(dir.path().join(f)).unwrap() == std::fs::read(shipped.join(f)).unwrap(),
            "examples/data/{f} is stale: run `cargo run --release -- generate --people 10000 --seed 42 --out-dir examples/data`"
        );
    }
}

#[test]
fn evaluate_rejects_bad_files_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "p.csv",
        b"left_id,right_id,match_probability\na,b,0.9\nc,d,high\n",
    );
    let t = write(dir.path(), "t.csv", b"left_id,right_id\na,b\n");
    let args = |extra: &[&str]| {
        let mut v = vec![
            "evaluate",
            "--pairs",
            p.to_str().unwrap(),
            "--truth",
            t.to_str().unwrap(),
        ];
        v.extend_from_slice(extra);
        carematch(&v)
    };
    let o = args(&[]);
    assert!(o.status.success());
    assert_eq!(metric(&text(&o.stdout), "recall"), 1.0);
    let o = args(&["--threshold", "0.5"]);
    assert_bad_input(
        &o,
        &["p.csv", "line 3", "match_probability", "not a number"],
    );
    let one = write(dir.path(), "one.csv", b"id\na\n");
    let o = carematch(&[
        "evaluate",
        "--pairs",
        one.to_str().unwrap(),
        "--truth",
        t.to_str().unwrap(),
    ]);
    assert_bad_input(&o, &["one.csv", "two id columns"]);
}

fn train_model(dir: &Path, threads: &str, left: &str, out: &str) -> String {
    let d = |f: &str| dir.join(f).to_str().unwrap().to_string();
    let args = [
        "train",
        "--left",
        &d(left),
        "--right",
        &d("hospital.csv"),
        "--out",
        &d(out),
    ]
    .map(String::from);
    carematch_ok(&args, &[("RAYON_NUM_THREADS", threads)]);
    std::fs::read_to_string(dir.join(out)).unwrap()
}

#[test]
fn trained_model_is_bit_identical_on_one_and_two_threads_and_shuffled_input() {
    let dir = generated(3000, 21);
    let gp = std::fs::read_to_string(dir.path().join("gp.csv")).unwrap();
    let mut lines: Vec<&str> = gp.lines().collect();
    lines[1..].reverse();
    std::fs::write(dir.path().join("gp_reversed.csv"), lines.join("\n") + "\n").unwrap();
    let one = train_model(dir.path(), "1", "gp.csv", "m1.json");
    let two = train_model(dir.path(), "2", "gp.csv", "m2.json");
    let shuffled = train_model(dir.path(), "2", "gp_reversed.csv", "m3.json");
    assert_eq!(one, two, "model differs between 1 and 2 threads");
    assert_eq!(
        one, shuffled,
        "model differs when the input rows are reordered"
    );
    assert!(one.contains("\"format\": \"carematch-model\""), "{one}");
}

#[test]
fn link_with_a_saved_model_equals_training_in_place() {
    let dir = generated(2000, 22);
    let d = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    train_model(dir.path(), "2", "gp.csv", "model.json");
    let run = |extra: &[&str], out: &str| {
        let mut args = vec![
            "link".to_string(),
            "--left".into(),
            d("gp.csv"),
            "--right".into(),
            d("hospital.csv"),
            "--out".into(),
            d(out),
        ];
        args.extend(extra.iter().map(std::string::ToString::to_string));
        carematch_ok(&args, &[]);
        std::fs::read(d(out)).unwrap()
    };
    let in_place = run(&[], "a.csv");
    let saved = run(&["--model", &d("model.json")], "b.csv");
    assert_eq!(in_place, saved);
}

#[test]
fn explanation_columns_add_up_to_the_weight() {
    let dir = generated(2000, 23);
    let d = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    let o = carematch(&[
        "link",
        "--left",
        &d("gp.csv"),
        "--right",
        &d("hospital.csv"),
        "--out",
        &d("p.csv"),
        "--explain",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let mut rdr = csv::Reader::from_path(d("p.csv")).unwrap();
    let headers = rdr.headers().unwrap().clone();
    for f in [
        "prior",
        "given_name_level",
        "dob_weight",
        "location_tf",
        "nhs_number_level",
    ] {
        assert!(headers.iter().any(|h| h == f), "no column {f}");
    }
    let mut rows = 0;
    for rec in rdr.records() {
        let rec = rec.unwrap();
        let get = |name: &str| rec[headers.iter().position(|h| h == name).unwrap()].to_string();
        let total: f64 = get("match_weight").parse().unwrap();
        let mut sum: f64 = get("prior").parse().unwrap();
        for (i, h) in headers.iter().enumerate() {
            if h.ends_with("_weight") && h != "match_weight" || h.ends_with("_tf") {
                sum += rec[i].parse::<f64>().unwrap();
            }
        }
        assert!((sum - total).abs() < 0.005, "{sum} vs {total}");
        if get("given_name_level") == "null" {
            assert_eq!(get("given_name_weight"), "0.0000");
        }
        rows += 1;
    }
    assert!(rows > 500);
}

#[test]
fn model_file_errors_are_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let m = write(dir.path(), "m.json", b"{\"format\": \"something-else\"}");
    let (o, _) = link_texts(GOOD_RIGHT, GOOD_RIGHT, &["--model", m.to_str().unwrap()]);
    assert_bad_input(&o, &["m.json", "invalid model"]);
}

/// The config example in the README parses: the docs stay true.
#[test]
fn readme_config_example_parses() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("```json\n")
        .expect("a json block in the README")
        + 8;
    let end = start + readme[start..].find("```").unwrap();
    let config = carematch::Config::from_json(&readme[start..end]).unwrap();
    assert_eq!(config.rules.as_ref().map(Vec::len), Some(3));
    assert_eq!(config.comparisons.as_ref().map(Vec::len), Some(7));
    assert_eq!(config.thresholds.unwrap().match_probability, Some(0.995));
}

#[test]
fn train_from_labelled_pairs_and_reject_unknown_ids() {
    let dir = generated(1500, 24);
    let d = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    let o = carematch(&[
        "train",
        "--left",
        &d("gp.csv"),
        "--right",
        &d("hospital.csv"),
        "--labels",
        &d("truth.csv"),
        "--out",
        &d("m.json"),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let model = carematch::Model::load(&dir.path().join("m.json")).unwrap();
    let truth = std::fs::read_to_string(d("truth.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    let rows = |f: &str| std::fs::read_to_string(d(f)).unwrap().lines().count() as f64 - 1.0;
    let want = truth as f64 / (rows("gp.csv") * rows("hospital.csv"));
    assert!(
        (model.lambda() - want).abs() < 1e-12 * want.max(1.0),
        "{} vs {want}",
        model.lambda()
    );
    assert_eq!(model.training().unwrap().labelled_pairs, truth as u64);
    let bad = write(
        dir.path(),
        "bad.csv",
        b"left_id,right_id\nGP00000001,NOPE\n",
    );
    let o = carematch(&[
        "train",
        "--left",
        &d("gp.csv"),
        "--right",
        &d("hospital.csv"),
        "--labels",
        bad.to_str().unwrap(),
        "--out",
        &d("m2.json"),
    ]);
    assert_bad_input(&o, &["bad.csv", "line 2", "right id"]);
}

#[test]
fn one_to_one_gives_each_record_at_most_one_match() {
    let dir = generated(3000, 25);
    let d = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    let o = carematch(&[
        "link",
        "--left",
        &d("gp.csv"),
        "--right",
        &d("hospital.csv"),
        "--out",
        &d("p.csv"),
        "--one-to-one",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let pairs = std::fs::read_to_string(d("p.csv")).unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut matches = 0;
    for line in pairs.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f[4] == "match" {
            matches += 1;
            assert!(seen.insert(format!("L{}", f[0])), "{} matched twice", f[0]);
            assert!(seen.insert(format!("R{}", f[1])), "{} matched twice", f[1]);
        }
    }
    assert!(matches > 1000);
}

#[test]
fn pseudonymised_file_holds_no_clear_text() {
    let dir = generated(300, 26);
    let d = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    std::fs::write(
        d("k.hex"),
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
    )
    .unwrap();
    let o = carematch(&[
        "pseudonymise",
        "--input",
        &d("gp.csv"),
        "--key-file",
        &d("k.hex"),
        "--out",
        &d("gp.enc.csv"),
        "--project",
        "test",
        "--tokenise-id",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let enc = std::fs::read_to_string(d("gp.enc.csv")).unwrap();
    let mut rdr = csv::Reader::from_path(d("gp.csv")).unwrap();
    let mut checked = 0;
    for rec in rdr.records() {
        let rec = rec.unwrap();
        for v in rec.iter().filter(|v| v.trim().len() >= 4) {
            assert!(!enc.contains(v.trim()), "clear text in the encoded file");
            checked += 1;
        }
    }
    assert!(checked > 1000);
    assert_eq!(
        enc.lines().count(),
        std::fs::read_to_string(d("gp.csv"))
            .unwrap()
            .lines()
            .count()
    );
    assert!(
        enc.lines()
            .nth(1)
            .unwrap()
            .contains("carematch-pseudonym-3;salt=dob;key-version=1;key=")
    );
    // Issue 13: as Parquet, the same rows (an empty field null), and it dedupes as the CSV
    // file does.
    let o = carematch(&[
        "pseudonymise",
        "--input",
        &d("gp.csv"),
        "--key-file",
        &d("k.hex"),
        "--out",
        &d("gp.enc.parquet"),
        "--project",
        "test",
        "--tokenise-id",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let (names, rows) = parquet_rows(Path::new(&d("gp.enc.parquet")));
    let mut rdr = csv::Reader::from_path(d("gp.enc.csv")).unwrap();
    let want: Vec<Vec<String>> = rdr
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    assert_eq!(names, rdr.headers().unwrap().iter().collect::<Vec<_>>());
    assert!(rows == want, "the Parquet file's rows are the CSV file's");
    let dedupe = |input: &str, out: &str| {
        let o = carematch(&["dedupe", "--input", &d(input), "--out", &d(out)]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        std::fs::read(d(out)).unwrap()
    };
    assert!(dedupe("gp.enc.csv", "a.csv") == dedupe("gp.enc.parquet", "b.csv"));
}

#[test]
fn pseudonymise_refuses_a_bad_or_missing_key_without_echoing_it() {
    let dir = generated(50, 27);
    let d = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    std::fs::write(d("k.txt"), "not-a-key-SECRETVALUE").unwrap();
    let o = carematch(&[
        "pseudonymise",
        "--input",
        &d("gp.csv"),
        "--key-file",
        &d("k.txt"),
        "--out",
        &d("o.csv"),
    ]);
    assert_bad_input(&o, &["k.txt", "32 bytes or 64 hex digits"]);
    assert!(!text(&o.stderr).contains("SECRETVALUE"));
    let o = Command::new(env!("CARGO_BIN_EXE_carematch"))
        .args([
            "pseudonymise",
            "--input",
            &d("gp.csv"),
            "--out",
            &d("o.csv"),
        ])
        .env_remove("CAREMATCH_KEY")
        .output()
        .unwrap();
    assert_bad_input(&o, &["CAREMATCH_KEY is not set"]);
}

/// Pseudonymises gp.csv and hospital.csv of `dir` with `key_hex`, `project` and `version`.
fn encode_both(dir: &Path, key_hex: &str, project: &str, version: &str) {
    let d = |f: &str| dir.join(f).to_str().unwrap().to_string();
    std::fs::write(d("k.hex"), key_hex).unwrap();
    for (input, out) in [
        ("gp.csv", "gp.enc.csv"),
        ("hospital.csv", "hospital.enc.csv"),
    ] {
        let o = carematch(&[
            "pseudonymise",
            "--input",
            &d(input),
            "--key-file",
            &d("k.hex"),
            "--out",
            &d(out),
            "--project",
            project,
            "--key-version",
            version,
        ]);
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
}

#[test]
fn linking_pseudonymised_files_is_nearly_as_good_as_clear_text() {
    let dir = generated(3000, 28);
    let d = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    encode_both(dir.path(), &"ab".repeat(32), "test", "1");
    let run = |l: &str, r: &str, out: &str| {
        let o = carematch(&[
            "link",
            "--left",
            &d(l),
            "--right",
            &d(r),
            "--out",
            &d(out),
            "--truth",
            &d("truth.csv"),
        ]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        text(&o.stdout)
    };
    let clear = run("gp.csv", "hospital.csv", "clear.csv");
    let encoded = run("gp.enc.csv", "hospital.enc.csv", "enc.csv");
    assert!(
        encoded.contains("pseudonymised input: carematch pseudonym 3 salt dob key version 1 key "),
        "{encoded}"
    );
    let (fc, fe) = (metric(&clear, "f1"), metric(&encoded, "f1"));
    assert!(fe > fc - 0.01, "encoded F1 {fe} vs clear {fc}");
    assert!(metric(&encoded, "precision") >= 0.995, "{encoded}");
}

#[test]
fn files_encoded_under_different_keys_are_not_linked() {
    let dir = generated(200, 29);
    let d = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    let link = |l: &str, r: &str| {
        carematch(&[
            "link",
            "--left",
            &d(l),
            "--right",
            &d(r),
            "--out",
            &d("p.csv"),
        ])
    };
    encode_both(dir.path(), &"ab".repeat(32), "test", "1");
    let o = link("gp.enc.csv", "hospital.enc.csv");
    assert!(
        o.status.success(),
        "one key and version links: {}",
        text(&o.stderr)
    );
    std::fs::rename(d("hospital.enc.csv"), d("h1.enc.csv")).unwrap();
    encode_both(dir.path(), &"ab".repeat(32), "test", "2");
    let o = link("gp.enc.csv", "h1.enc.csv");
    assert_bad_input(&o, &["h1.enc.csv", "different keys"]);
    encode_both(dir.path(), &"cd".repeat(32), "test", "1");
    let o = link("gp.enc.csv", "h1.enc.csv");
    assert_bad_input(&o, &["h1.enc.csv", "different keys"]);
    // Files of the retired scheme 2 (names' filters salted by the date alone) are refused,
    // not compared as if their filters matched.
    for f in ["gp.enc.csv", "hospital.enc.csv"] {
        let text = std::fs::read_to_string(d(f)).unwrap();
        let old = text.replace("carematch-pseudonym-3;", "carematch-pseudonym-2;");
        assert_ne!(old, text);
        std::fs::write(d(&format!("old.{f}")), old).unwrap();
    }
    let o = link("old.gp.enc.csv", "old.hospital.enc.csv");
    assert_bad_input(
        &o,
        &[
            "old.gp.enc.csv",
            "carematch-pseudonym-2",
            "encode the clear files again",
        ],
    );
}

#[test]
fn files_without_name_tokens_still_link_by_their_filters() {
    let dir = generated(2000, 30);
    let d = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    std::fs::write(d("k.hex"), "ef".repeat(32)).unwrap();
    for (i, o) in [("gp.csv", "g.enc.csv"), ("hospital.csv", "h.enc.csv")] {
        let out = carematch(&[
            "pseudonymise",
            "--input",
            &d(i),
            "--key-file",
            &d("k.hex"),
            "--out",
            &d(o),
            "--no-name-tokens",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let header = std::fs::read_to_string(d("g.enc.csv"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    assert!(
        !header.contains("surname.tok") && !header.contains("given_name.soundex.tok"),
        "{header}"
    );
    assert!(
        header.contains("surname.bf") && header.contains("dob.tok"),
        "{header}"
    );
    let o = carematch(&[
        "link",
        "--left",
        &d("g.enc.csv"),
        "--right",
        &d("h.enc.csv"),
        "--out",
        &d("p.csv"),
        "--truth",
        &d("truth.csv"),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let report = text(&o.stdout);
    assert!(metric(&report, "f1") > 0.9, "{report}");
    assert!(metric(&report, "precision") > 0.99, "{report}");
}

#[test]
fn dedupe_and_train_run_on_a_pseudonymised_file() {
    let dir = generated(2000, 32);
    let d = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    std::fs::write(d("k.hex"), "12".repeat(32)).unwrap();
    let o = carematch(&[
        "pseudonymise",
        "--input",
        &d("dedupe.csv"),
        "--key-file",
        &d("k.hex"),
        "--out",
        &d("s.enc.csv"),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = carematch(&["train", "--input", &d("s.enc.csv"), "--out", &d("m.json")]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let model = std::fs::read_to_string(d("m.json")).unwrap();
    assert!(
        model.contains("encoded_given_name"),
        "encoded comparisons in the model"
    );
    let o = carematch(&[
        "dedupe",
        "--input",
        &d("s.enc.csv"),
        "--model",
        &d("m.json"),
        "--out",
        &d("p.csv"),
        "--clusters",
        &d("c.csv"),
        "--truth",
        &d("truth_dedupe.csv"),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let report = text(&o.stdout);
    assert!(metric(&report, "precision") >= 0.99, "{report}");
    assert!(metric(&report, "recall") >= 0.8, "{report}");
}

#[test]
fn previous_clusters_keep_person_ids_across_runs() {
    let dir = generated(1500, 33);
    let d = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    let run = |extra: &[&str], clusters: &str| {
        let mut args = vec![
            "dedupe".to_string(),
            "--input".into(),
            d("dedupe.csv"),
            "--out".into(),
            d("p.csv"),
            "--clusters".into(),
            d(clusters),
        ];
        args.extend(extra.iter().map(std::string::ToString::to_string));
        let o = carematch_ok(&args, &[]);
        text(&o.stdout)
    };
    run(&[], "c1.csv");
    let report = run(
        &[
            "--previous-clusters",
            &d("c1.csv"),
            "--changes",
            &d("ch.csv"),
        ],
        "c2.csv",
    );
    assert!(report.contains("0 merges, 0 splits"), "{report}");
    assert_eq!(
        std::fs::read(d("c1.csv")).unwrap(),
        std::fs::read(d("c2.csv")).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(d("ch.csv")).unwrap(),
        "change,person_id,other_person_ids\n"
    );
    let bad = write(dir.path(), "bad.csv", b"id,source\n1,x\n");
    let o = carematch(&[
        "dedupe",
        "--input",
        &d("dedupe.csv"),
        "--out",
        &d("p.csv"),
        "--clusters",
        &d("c3.csv"),
        "--previous-clusters",
        bad.to_str().unwrap(),
    ]);
    assert_bad_input(&o, &["bad.csv", "cluster_id,source,record_id"]);
}

/// `index build`, then `index query` through a pipe: one JSON answer per input line, in
/// order, bad lines answered with an error object (naming no value) and the stream going on.
#[test]
fn index_query_answers_every_line_in_order() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_string();
    carematch_ok(
        &[
            "generate",
            "--people",
            "400",
            "--seed",
            "5",
            "--out-dir",
            &d,
        ]
        .map(String::from),
        &[],
    );
    let idx = format!("{d}/pop.idx");
    let o = carematch_ok(
        &[
            "index",
            "build",
            "--input",
            &format!("{d}/gp.csv"),
            "--out",
            &idx,
        ]
        .map(String::from),
        &[],
    );
    assert!(text(&o.stdout).contains("indexed"), "{}", text(&o.stdout));
    let hospital = std::fs::read_to_string(format!("{d}/hospital.csv")).unwrap();
    let mut rdr = csv::Reader::from_reader(hospital.as_bytes());
    let headers: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    let mut input = String::new();
    let mut ids = Vec::new();
    for rec in rdr.records().take(50) {
        let rec = rec.unwrap();
        let obj: serde_json::Map<String, serde_json::Value> = headers
            .iter()
            .zip(rec.iter())
            .map(|(h, v)| (h.clone(), serde_json::Value::from(v)))
            .collect();
        ids.push(rec[0].to_string());
        input.push_str(&serde_json::Value::Object(obj).to_string());
        input.push('\n');
    }
    let bad = [
        "{not json",
        "[1, 2]",
        r#"{"id": "Z1", "surname": ["Okonkwo-Secret"]}"#,
        r#"{"surname": "Okonkwo-Secret"}"#,
        "",
    ];
    for b in bad {
        input.push_str(b);
        input.push('\n');
    }
    input.push_str(r#"{"id": "Z2", "nhs_number": 9434765918, "dob": "31/02/1980"}"#);
    input.push('\n');
    let mut child = Command::new(env!("CARGO_BIN_EXE_carematch"))
        .args(["index", "query", "--index", &idx, "--limit", "3"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 50 + bad.len() + 1);
    let mut matched = 0;
    for (l, id) in lines.iter().zip(&ids) {
        assert_eq!(l["id"], id.as_str());
        let c = l["candidates"].as_array().unwrap();
        assert!(c.len() <= 3);
        let w: Vec<f64> = c
            .iter()
            .map(|c| c["match_weight"].as_f64().unwrap())
            .collect();
        assert!(w.windows(2).all(|p| p[0] >= p[1]), "best first: {w:?}");
        matched += usize::from(l["decision"] == "match");
    }
    assert!(matched > 35, "{matched} of 50 matched");
    for (k, l) in lines[50..50 + bad.len()].iter().enumerate() {
        assert_eq!(l["line"], 51 + k as u64, "{l}");
        let e = l["error"].as_str().unwrap();
        assert!(!e.contains("Okonkwo"), "{e}");
    }
    let last = &lines[lines.len() - 1];
    assert_eq!(last["id"], "Z2");
    assert_eq!(last["invalid"].as_array().unwrap().len(), 2, "{last}");
    assert!(!last.to_string().contains("9434765918"));
}

/// `index add` links a batch into the index: person ids kept, the same run twice gives the
/// same ids, and sending the batch again changes nobody.
#[test]
fn index_add_keeps_person_ids_and_repeats_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_string();
    carematch_ok(
        &[
            "generate",
            "--people",
            "300",
            "--seed",
            "9",
            "--out-dir",
            &d,
        ]
        .map(String::from),
        &[],
    );
    let build = |name: &str| {
        carematch_ok(
            &[
                "index",
                "build",
                "--input",
                &format!("{d}/gp.csv"),
                "--out",
                &format!("{d}/{name}"),
            ]
            .map(String::from),
            &[],
        );
    };
    build("a.idx");
    build("b.idx");
    let add = |name: &str, tag: &str| {
        let o = carematch_ok(
            &[
                "index",
                "add",
                "--index",
                &format!("{d}/{name}"),
                "--input",
                &format!("{d}/hospital.csv"),
                "--clusters",
                &format!("{d}/{tag}_clusters.csv"),
                "--changes",
                &format!("{d}/{tag}_changes.csv"),
                "--out",
                &format!("{d}/{tag}_pairs.csv"),
            ]
            .map(String::from),
            &[],
        );
        text(&o.stdout)
    };
    let first = add("a.idx", "a1");
    assert!(first.contains("joined a person"), "{first}");
    add("b.idx", "b1");
    for f in ["clusters", "pairs", "changes"] {
        let a = std::fs::read(format!("{d}/a1_{f}.csv")).unwrap();
        let b = std::fs::read(format!("{d}/b1_{f}.csv")).unwrap();
        assert_eq!(a, b, "{f} differ between two identical runs");
    }
    let again = add("a.idx", "a2");
    assert!(again.contains("0 merges, 0 splits"), "{again}");
    assert_eq!(
        std::fs::read(format!("{d}/a1_clusters.csv")).unwrap(),
        std::fs::read(format!("{d}/a2_clusters.csv")).unwrap(),
        "sending the batch again changed person ids"
    );
    // A damaged index is refused with the file's name, exit 2.
    let idx = format!("{d}/a.idx");
    let mut bytes = std::fs::read(&idx).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 1;
    std::fs::write(&idx, &bytes).unwrap();
    let o = carematch(&["index", "query", "--index", &idx]);
    assert_bad_input(&o, &["a.idx", "checksum"]);
}

/// Issue 11: training that collapses says so. On three records no training session finds a
/// pair (the default sessions that find none are dropped, and none of the sessions tried in
/// their place finds one either), so every m is a default: the run warns in one clear line.
/// A session the config asks for that finds nothing is named. On the sample data every
/// session finds pairs and nothing is said.
#[test]
fn training_that_cannot_estimate_the_model_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "three.csv",
        b"id,given_name,surname,dob\n1,Ann,Lee,1980-01-01\n2,Bob,Ray,1990-01-01\n3,Cy,Fox,1970-05-06\n",
    );
    let out = dir.path().join("p.csv");
    let o = carematch(&[
        "dedupe",
        "--input",
        f.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("warning: the model is degenerate"), "{err}");
    assert!(!err.contains("nhs_number"), "{err}");
    assert!(
        err.contains("no blocking rule made a single candidate pair"),
        "{err}"
    );
    let cfg = write(
        dir.path(),
        "c.json",
        br#"{"training_rules": ["nhs_number"]}"#,
    );
    let o = carematch(&[
        "dedupe",
        "--input",
        f.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("'nhs_number' found no pairs"), "{err}");
    let o = link_sample(&out);
    assert!(o.status.success());
    assert!(!text(&o.stderr).contains("warning"), "{}", text(&o.stderr));
}

/// Issue 11: every pair that is not an automatic match says why in the `reason` column: a
/// veto names the field that held a pair at or above the match threshold, a pair below it is
/// `below_threshold`, an ambiguous one `ambiguous`; a match has none.
#[test]
fn every_review_pair_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p.csv");
    let o = link_sample(&out);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let mut r = csv::Reader::from_path(&out).unwrap();
    assert_eq!(r.headers().unwrap().get(6), Some("reason"));
    let mut seen = std::collections::BTreeSet::new();
    for row in r.records() {
        let row = row.unwrap();
        let (p, decision, reason) = (&row[3], &row[4], &row[6]);
        match decision {
            "match" => assert_eq!(reason, "", "{row:?}"),
            "ambiguous" => assert_eq!(reason, "ambiguous", "{row:?}"),
            "review" => {
                let p: f64 = p.parse().unwrap();
                if reason == "below_threshold" {
                    assert!(p < 0.99, "{row:?}");
                } else {
                    assert!(reason.starts_with("veto:"), "{row:?}");
                    assert!(p >= 0.99, "{row:?}");
                }
            }
            _ => panic!("{row:?}"),
        }
        seen.insert(reason.to_string());
    }
    for want in [
        "below_threshold",
        "veto:given_name",
        "veto:dob",
        "ambiguous",
    ] {
        assert!(seen.contains(want), "no '{want}' in {seen:?}");
    }
}

/// Issue 11: a column nothing uses is named in the run's summary with why and how to map it.
#[test]
fn unused_columns_are_listed_with_how_to_map_them() {
    let (o, _) = link_texts(
        b"id,given_name,surname,dob,ward,notes\n1,Ann,Lee,1980-01-01,W1,x\n2,Bo,Ray,1981-02-03,W2,\n",
        b"id,given_name,surname,dob,ward\n1,Ann,Lee,1980-01-01,W1\n",
        &[],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s = text(&o.stdout);
    let line = s
        .lines()
        .find(|l| l.starts_with("columns not used:"))
        .unwrap_or_else(|| panic!("{s}"));
    assert!(line.contains("notes (not in every file)"), "{line}");
    assert!(!line.contains("ward"), "{line}");
    assert!(line.contains("\"columns\""), "{line}");
}

/// Rewrites the CSV file at `from` with another delimiter.
fn redelimit(from: &Path, delimiter: u8) -> Vec<u8> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(from)
        .unwrap();
    let mut w = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .from_writer(Vec::new());
    for r in rdr.byte_records() {
        w.write_byte_record(&r.unwrap()).unwrap();
    }
    w.into_inner().unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Issue 13: a TSV (gzipped), a semicolon file with a `.txt` name, standard input and
/// standard output all give the pairs the CSV files give, byte for byte; with `--out -` the
/// pairs alone are on stdout and the summary moves to stderr.
#[test]
fn delimited_gzipped_and_piped_files_link_as_the_csv_files_do() {
    let dir = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data");
    let reference = dir.path().join("ref.csv");
    let o = link_sample(&reference);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let reference = std::fs::read(&reference).unwrap();
    assert!(reference.len() > 1000);

    let gp = write(
        dir.path(),
        "gp.tsv.gz",
        &gzip(&redelimit(&data.join("gp.csv"), b'\t')),
    );
    let hosp = write(
        dir.path(),
        "hospital.txt",
        &redelimit(&data.join("hospital.csv"), b';'),
    );
    let out = dir.path().join("pairs.csv");
    let o = carematch(&[
        "link",
        "--left",
        gp.to_str().unwrap(),
        "--right",
        hosp.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        std::fs::read(&out).unwrap() == reference,
        "TSV.gz + semicolon"
    );

    // A pipe-delimited file named .csv needs --delimiter only when the header has a comma;
    // here it does not, and the header decides.
    let pipe = write(
        dir.path(),
        "h.csv",
        &redelimit(&data.join("hospital.csv"), b'|'),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_carematch"))
        .args([
            "link",
            "--left",
            "-",
            "--right",
            pipe.to_str().unwrap(),
            "--out",
            "-",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let gp_bytes = std::fs::read(data.join("gp.csv")).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        use std::io::Write;
        stdin.write_all(&gp_bytes).unwrap();
    });
    let o = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        o.stdout == reference,
        "stdin + pipe-delimited, pairs on stdout"
    );
    assert!(
        text(&o.stderr).contains("data quality: standard input"),
        "{}",
        text(&o.stderr)
    );

    // An explicit delimiter wins over the header: read as tab-separated, the CSV header
    // is one column, and there is no id column.
    let o = carematch(&[
        "link",
        "--delimiter",
        "tab",
        "--left",
        data.join("gp.csv").to_str().unwrap(),
        "--right",
        data.join("hospital.csv").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("gp.csv"), "{}", text(&o.stderr));
}

/// Standard input can feed one input and standard output take one output; a second `-`
/// is a usage error that says so. A truncated gzip file is an error naming it.
#[test]
fn standard_streams_are_taken_once_and_a_broken_gzip_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data");
    let gp = data.join("gp.csv");
    let o = carematch(&["link", "--left", "-", "--right", "-", "--out", "x.csv"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("standard input (`-`) can be read for one input file only"));
    let g = gp.to_str().unwrap();
    let o = carematch(&[
        "link",
        "--left",
        g,
        "--right",
        g,
        "--out",
        "-",
        "--clusters",
        "-",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("standard output (`-`) can take one output file only"));
    let o = carematch(&[
        "dedupe",
        "--delimiter",
        "ab",
        "--input",
        g,
        "--out",
        "x.csv",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("must be one ASCII character"));

    let whole = gzip(&std::fs::read(&gp).unwrap());
    let broken = write(dir.path(), "broken.csv.gz", &whole[..whole.len() / 2]);
    let out = dir.path().join("pairs.csv");
    let o = carematch(&[
        "dedupe",
        "--input",
        broken.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("broken.csv.gz"),
        "{}",
        text(&o.stderr)
    );
    assert!(!out.exists(), "a failed run writes nothing");
}

/// Issue 13: `--help` lists every recognised column name and the default thresholds and
/// rules, from the library's own tables.
#[test]
fn help_lists_recognised_columns_and_defaults() {
    let o = carematch(&["--help"]);
    assert!(o.status.success());
    let help = text(&o.stdout);
    for (role, names) in carematch::schema::RECOGNISED {
        assert!(help.contains(role.as_str()), "{role:?}");
        for n in *names {
            assert!(help.contains(n), "{n}");
            assert_eq!(carematch::schema::recognise(n), Some(*role), "{n}");
        }
    }
    let t = carematch::model::Thresholds::default();
    assert!(help.contains(&format!("probability >= {}", t.match_probability)));
    for r in carematch::MatchRule::defaults() {
        assert!(help.contains(r.name()), "{}", r.name());
    }
    assert!(help.contains("--delimiter"));
}

/// Issue 13: --progress prints phase lines on stderr though it is not a terminal; without
/// it (and with --quiet) a piped stderr gets none; the two flags conflict.
#[test]
fn progress_lines_follow_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pairs.csv");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data");
    let hosp = data.join("hospital.csv");
    let run = |flag: Option<&str>| {
        let mut args = vec![
            "dedupe",
            "--input",
            hosp.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend(flag);
        carematch(&args)
    };
    let o = run(Some("--progress"));
    assert!(o.status.success());
    assert!(
        text(&o.stderr).contains("] reading "),
        "{}",
        text(&o.stderr)
    );
    for flag in [None, Some("--quiet")] {
        let o = run(flag);
        assert!(o.status.success());
        assert!(!text(&o.stderr).contains("] reading "), "{flag:?}");
    }
    let o = carematch(&[
        "--progress",
        "--quiet",
        "dedupe",
        "--input",
        "x",
        "--out",
        "y",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

/// The CSV file at `from` as Parquet at `to`, every column as text (as a data team's export
/// of an extract would hold it), in record batches of 1,000 rows.
fn csv_to_parquet(from: &Path, to: &Path) {
    use arrow_array::builder::StringBuilder;
    use arrow_array::{ArrayRef, RecordBatch};
    let mut rdr = csv::Reader::from_path(from).unwrap();
    let header: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    let schema = std::sync::Arc::new(arrow_schema::Schema::new(
        header
            .iter()
            .map(|h| arrow_schema::Field::new(h, arrow_schema::DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let file = std::fs::File::create(to).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, schema.clone(), None).unwrap();
    for chunk in rows.chunks(1000) {
        let columns: Vec<ArrayRef> = (0..header.len())
            .map(|c| {
                let mut b = StringBuilder::new();
                for r in chunk {
                    match &r[c] {
                        "" => b.append_null(),
                        v => b.append_value(v),
                    }
                }
                std::sync::Arc::new(b.finish()) as ArrayRef
            })
            .collect();
        w.write(&RecordBatch::try_new(schema.clone(), columns).unwrap())
            .unwrap();
    }
    w.close().unwrap();
}

/// The rows of the Parquet file at `path`, every value as the CSV file writes it
/// (probabilities to 8 places, other numbers to 4), and its column names.
fn parquet_rows(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Float64Type;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(path).unwrap(),
    )
    .unwrap()
    .build()
    .unwrap();
    let mut names = Vec::new();
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        names = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        for r in 0..batch.num_rows() {
            rows.push(
                batch
                    .columns()
                    .iter()
                    .zip(&names)
                    .map(|(c, name)| match c.data_type() {
                        arrow_schema::DataType::Float64 if c.is_valid(r) => {
                            let v = c.as_primitive::<Float64Type>().value(r);
                            let places = if name == "match_probability" { 8 } else { 4 };
                            format!("{v:.places$}")
                        }
                        arrow_schema::DataType::Utf8 if c.is_valid(r) => {
                            c.as_string::<i32>().value(r).to_string()
                        }
                        _ => String::new(),
                    })
                    .collect(),
            );
        }
    }
    (names, rows)
}

/// Issue 13: Parquet in gives the pairs and person ids CSV in gives, byte for byte; Parquet
/// out holds the rows of the CSV file, numbers at full precision; a Parquet file on a pipe,
/// and a file that only looks like Parquet, are errors naming the input.
#[test]
fn parquet_in_and_out_agree_with_csv() {
    let dir = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data");
    let gp = dir.path().join("gp.parquet");
    let hosp = dir.path().join("hospital.data"); // found by its magic bytes
    csv_to_parquet(&data.join("gp.csv"), &gp);
    csv_to_parquet(&data.join("hospital.csv"), &hosp);
    let run = |left: &Path, right: &Path, out: &str, clusters: &str| {
        let o = carematch(&[
            "link",
            "--left",
            left.to_str().unwrap(),
            "--right",
            right.to_str().unwrap(),
            "--out",
            dir.path().join(out).to_str().unwrap(),
            "--clusters",
            dir.path().join(clusters).to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", text(&o.stderr));
    };
    run(
        &data.join("gp.csv"),
        &data.join("hospital.csv"),
        "p.csv",
        "c.csv",
    );
    run(&gp, &hosp, "pq.csv", "cq.csv");
    let read = |n: &str| std::fs::read_to_string(dir.path().join(n)).unwrap();
    assert!(read("p.csv") == read("pq.csv"), "pairs from Parquet input");
    let renamed = read("cq.csv")
        .replace(",gp.parquet,", ",gp.csv,")
        .replace(",hospital.data,", ",hospital.csv,");
    assert!(read("c.csv") == renamed, "person ids from Parquet input");

    run(&gp, &hosp, "p.parquet", "c.PARQUET");
    let csv_rows = |n: &str| crate::review::csv_rows(dir.path().join(n));
    assert_eq!(
        parquet_rows(&dir.path().join("c.PARQUET")),
        csv_rows("cq.csv")
    );
    let (names, rows) = csv_rows("pq.csv");
    assert!(rows.len() > 4000);
    assert_eq!(parquet_rows(&dir.path().join("p.parquet")), (names, rows));

    let mut child = Command::new(env!("CARGO_BIN_EXE_carematch"))
        .args(["dedupe", "--input", "-", "--out", "x.csv"])
        .current_dir(dir.path())
        .stdin(std::fs::File::open(&gp).unwrap())
        .output()
        .unwrap();
    assert_eq!(child.status.code(), Some(2));
    assert!(
        text(&child.stderr).contains("standard input: is Parquet"),
        "{}",
        text(&child.stderr)
    );
    // The core's header check holds for Parquet as for text: two columns of one name.
    let dup = dir.path().join("dup.csv");
    std::fs::write(&dup, "id,surname,surname\nA,Ann,Ann\n").unwrap();
    let dup_pq = dir.path().join("dup.parquet");
    csv_to_parquet(&dup, &dup_pq);
    child = carematch(&["dedupe", "--input", dup_pq.to_str().unwrap(), "--out", "-"]);
    assert_eq!(child.status.code(), Some(2));
    assert!(
        text(&child.stderr).contains("two columns have this header"),
        "{}",
        text(&child.stderr)
    );
    let fake = write(dir.path(), "fake.csv", b"PAR1 not really\n");
    child = carematch(&["dedupe", "--input", fake.to_str().unwrap(), "--out", "-"]);
    assert_eq!(child.status.code(), Some(2));
    assert!(
        text(&child.stderr).contains("fake.csv: not a readable Parquet file"),
        "{}",
        text(&child.stderr)
    );
}

/// Issue 13: `--summary-json` holds what the prose summary says, agreeing with the files
/// written (decisions counted in the pairs file, people in the clusters file), and names the
/// thresholds' sources.
#[test]
fn summary_json_agrees_with_the_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data");
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let o = carematch(&[
        "link",
        "--left",
        data.join("gp.csv").to_str().unwrap(),
        "--right",
        data.join("hospital.csv").to_str().unwrap(),
        "--out",
        &p("pairs.csv"),
        "--clusters",
        &p("clusters.csv"),
        "--truth",
        data.join("truth.csv").to_str().unwrap(),
        "--threshold",
        "0.95",
        "--summary-json",
        &p("summary.json"),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("summary.json")).unwrap()).unwrap();
    assert_eq!(s["schema"], "carematch-summary/1");
    assert_eq!(
        (&s["command"], &s["status"]),
        (&"link".into(), &"ok".into())
    );
    let pairs = std::fs::read_to_string(p("pairs.csv")).unwrap();
    let count = |d: &str| {
        pairs
            .lines()
            .filter(|l| l.contains(&format!(",{d},")))
            .count()
    };
    assert_eq!(s["linking"]["linked"], count("match"));
    assert_eq!(s["linking"]["review"], count("review"));
    assert_eq!(s["linking"]["pairs_written"], pairs.lines().count() - 1);
    let linked_by_rule: u64 = s["links_by_rule"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["linked"].as_u64().unwrap())
        .sum();
    assert_eq!(s["linking"]["linked"], linked_by_rule);
    let clusters = std::fs::read_to_string(p("clusters.csv")).unwrap();
    assert_eq!(s["clusters"]["records"], clusters.lines().count() - 1);
    assert_eq!(s["thresholds"]["match_probability"], 0.95);
    assert_eq!(
        s["thresholds"]["sources"]["match_probability"],
        "--threshold"
    );
    assert_eq!(s["inputs"][0]["rows"], 8064);
    assert!(s["inputs"][0]["columns"][0]["present"].as_u64().unwrap() > 7000);
    let f1 = s["evaluation"]["f1"].as_f64().unwrap();
    assert!(
        text(&o.stdout).contains(&format!("f1: {f1:.4}")),
        "the prose summary prints the same F1 ({f1:.4}):\n{}",
        text(&o.stdout)
    );
    assert!(s["model"]["training"]["sessions"].as_array().unwrap().len() >= 2);
    assert!(s["blocking"].as_array().unwrap().len() >= 2);
    for phase in [
        "reading", "training", "blocking", "linking", "writing", "total",
    ] {
        assert!(s["timings_seconds"][phase].as_f64().is_some(), "{phase}");
    }
}

/// Issue 13: `--summary-json` is written for a failed run too (status error, the message
/// naming the file), and `-` puts it alone on standard output.
#[test]
fn summary_json_reports_failures_and_goes_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data");
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    // A failed run: status error, the message naming the file, exit 2; no pairs file.
    let o = carematch(&[
        "dedupe",
        "--input",
        &p("missing.csv"),
        "--out",
        &p("x.csv"),
        "--summary-json",
        &p("failed.json"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("failed.json")).unwrap()).unwrap();
    assert_eq!(s["status"], "error");
    assert!(s["error"].as_str().unwrap().contains("missing.csv"), "{s}");
    assert!(!dir.path().join("x.csv").exists());

    // `-`: the JSON alone on standard output, the prose summary moved to standard error.
    let o = carematch(&[
        "dedupe",
        "--input",
        data.join("gp.csv").to_str().unwrap(),
        "--out",
        &p("d.csv"),
        "--summary-json",
        "-",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["command"], "dedupe");
    assert!(text(&o.stderr).contains("links by rule"));
    let o = carematch(&[
        "dedupe",
        "--input",
        data.join("gp.csv").to_str().unwrap(),
        "--out",
        "-",
        "--summary-json",
        "-",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("standard output (`-`) can take one output file only"));
}

/// Issue 13: progress reports count up to their totals (the pairs compared reach the plan's
/// comparisons summed; a file's bytes stay within its size); in a log, `--progress` writes
/// lines with percentage, rate and ETA.
#[test]
fn progress_is_reported_to_its_total_and_logged_with_rate_and_eta() {
    use carematch::progress::{Observer, Unit};
    use std::sync::{Arc, Mutex};
    type Seen = Vec<(String, Unit, u64, Option<u64>)>;
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data");
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let log = seen.clone();
    let observer = Observer::new(move |s| {
        log.lock()
            .unwrap()
            .push((s.what.to_string(), s.unit, s.done, s.total));
    });
    let mut b = carematch::Records::builder();
    b.progress(Some(observer.clone()));
    b.add_csv(&data.join("gp.csv")).unwrap();
    b.add_reader(
        "hospital",
        std::fs::read(data.join("hospital.csv")).unwrap().as_slice(),
    )
    .unwrap();
    let (records, _) = b.build().unwrap();
    let mode = carematch::block::Mode::link(&records, 0, 1).unwrap();
    let model = carematch::Config::default()
        .train(&records, &mode, Vec::new())
        .unwrap()
        .0;
    let mut lb = carematch::Linker::builder();
    lb.model(Some(model)).progress(Some(observer));
    let linker = lb.build().unwrap();
    let plan = linker.plan(&records, &mode).unwrap();
    let planned: u64 = plan.pair_counts().iter().map(|p| p.pairs).sum();
    linker.run(&records, &plan, &mode).unwrap();
    let seen = seen.lock().unwrap();
    let size = std::fs::metadata(data.join("gp.csv")).unwrap().len();
    let file = format!("reading {}", data.join("gp.csv").display());
    let reading: Vec<_> = seen.iter().filter(|s| s.0 == file).collect();
    assert!(!reading.is_empty());
    assert!(
        reading
            .iter()
            .all(|s| s.1 == Unit::Bytes && s.3 == Some(size) && s.2 <= size)
    );
    let piped: Vec<_> = seen.iter().filter(|s| s.0 == "reading hospital").collect();
    assert!(piped.iter().all(|s| s.1 == Unit::Rows && s.3.is_none()));
    assert_eq!(piped.last().unwrap().2, 6030, "every row counted");
    let comparing: Vec<_> = seen.iter().filter(|s| s.0 == "comparing").collect();
    assert!(
        comparing.windows(2).all(|w| w[0].2 <= w[1].2),
        "never goes back"
    );
    let last = comparing.last().unwrap();
    assert_eq!(
        (last.1, last.2, last.3),
        (Unit::Pairs, planned, Some(planned))
    );

    let dir = tempfile::tempdir().unwrap();
    let o = carematch(&[
        "link",
        "--progress",
        "--left",
        data.join("gp.csv").to_str().unwrap(),
        "--right",
        data.join("hospital.csv").to_str().unwrap(),
        "--out",
        dir.path().join("p.csv").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    let line = err
        .lines()
        .find(|l| l.contains("comparing: 100% ("))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains("pairs/s, ETA"), "{line}");
    assert!(err.contains("gp.csv: ") && err.contains(" MiB), "), "{err}");
    let o = carematch(&[
        "link",
        "--quiet",
        "--left",
        data.join("gp.csv").to_str().unwrap(),
        "--right",
        data.join("hospital.csv").to_str().unwrap(),
        "--out",
        dir.path().join("p.csv").to_str().unwrap(),
    ]);
    assert!(
        o.status.success() && o.stderr.is_empty(),
        "{}",
        text(&o.stderr)
    );
}

/// Issue 17: in the default encoded file names are salted with the date of birth. Two
/// records with the date's day and month swapped keep one salt (names compared, the date
/// at its swapped level); two whose dates differ otherwise cannot have their names
/// compared (null) unless they share an NHS number, whose name tokens salted with it agree.
#[test]
fn salted_names_are_compared_only_where_the_salts_or_nhs_numbers_agree() {
    let dir = generated(3000, 28);
    let d = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    encode_both(dir.path(), &"ab".repeat(32), "test", "1");
    let o = carematch(&[
        "train",
        "--left",
        &d("gp.enc.csv"),
        "--right",
        &d("hospital.enc.csv"),
        "--out",
        &d("model.json"),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let header = "rec_id,nhs_number,given_name,surname,date_of_birth,sex,postcode,address\n";
    // Per pair: the same person with the date swapped; with a year mistyped and one NHS
    // number; with a day mistyped and no NHS number.
    for (file, side, dates) in [
        ("a.csv", "A", ["1980-03-05", "1975-06-20", "1990-01-02"]),
        ("b.csv", "B", ["1980-05-03", "1957-06-20", "1990-01-03"]),
    ] {
        let rows = format!(
            "{header}{side}1,,Olivia,Smith,{},F,LS1 4AB,1 High Street\n\
             {side}2,9990000018,Jack,Brown,{},M,LS2 7XY,5 Low Road\n\
             {side}3,,Amelia,Jones,{},F,M1 1AA,7 Park Lane\n",
            dates[0], dates[1], dates[2]
        );
        std::fs::write(d(file), rows).unwrap();
    }
    for (input, out) in [("a.csv", "a.enc.csv"), ("b.csv", "b.enc.csv")] {
        let o = carematch(&[
            "pseudonymise",
            "--input",
            &d(input),
            "--key-file",
            &d("k.hex"),
            "--out",
            &d(out),
            "--project",
            "test",
        ]);
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
    let o = carematch(&[
        "link",
        "--left",
        &d("a.enc.csv"),
        "--right",
        &d("b.enc.csv"),
        "--model",
        &d("model.json"),
        "--threshold",
        "0",
        "--explain",
        "--out",
        &d("pairs.csv"),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    // The columns the encoded comparisons read are not reported unused.
    let out = text(&o.stdout);
    for read in ["surname.bf", "dob.swapped.tok", "surname.id_salted.tok"] {
        assert!(!out.contains(&format!("{read} (")), "{out}");
    }
    let mut rdr = csv::Reader::from_path(d("pairs.csv")).unwrap();
    let h = rdr.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let mut seen = std::collections::BTreeMap::new();
    for r in rdr.records() {
        let r = r.unwrap();
        seen.insert(
            format!("{}-{}", &r[0], &r[1]),
            [
                r[col("given_name_level")].to_string(),
                r[col("surname_level")].to_string(),
                r[col("dob_level")].to_string(),
            ],
        );
    }
    let levels = |k: &str| {
        seen.get(k)
            .cloned()
            .unwrap_or_else(|| panic!("{k}: {seen:?}"))
    };
    assert_eq!(levels("A1-B1"), ["exact", "exact", "day_month_swapped"]);
    assert_eq!(levels("A2-B2")[..2], ["exact", "exact"]);
    assert_eq!(levels("A3-B3"), ["null", "null", "one_digit"]);
}
