//! The `carematch` command, run as a user would, on generated data and on bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn carematch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_carematch"))
        .args(args)
        .output()
        .expect("the carematch binary runs")
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
    let (o, pairs) = link_texts(left, GOOD_RIGHT, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        pairs,
        "left_id,right_id,match_weight,match_probability,decision,rule\nG1,H1,,1,match,nhs-dob\n"
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
        text(&o.stderr).contains("not valid UTF-8: 1 (lines 2)"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn invalid_values_are_counted_without_echoing_them_and_strict_makes_them_fatal() {
    let left = b"rec_id,nhs_number,given_name,surname,dob\n\
G1,9434765918,Ann,Smith,31/02/1980\n\
G2,9434765919,Ann,Smith,1980-02-01\n";
    let (o, pairs) = link_texts(left, GOOD_RIGHT, &[]);
    let err = text(&o.stderr);
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
    assert!(text(&o.stderr).contains("too long: 1 (lines 2)"));
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
