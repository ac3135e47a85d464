//! Regression tests for the reliability defects of issue 10, one per defect and named after
//! it: crashes, lost records, widened permissions, wrong results and wrong messages that a
//! new user or an attacker could provoke. Each failed before its fix.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use carematch::files::FileLock;
use carematch::{Evaluation, Index, Linker, Records};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data");

/// The binary under test: this build's, or the one named by `CAREMATCH_TEST_BIN` (to show
/// that a regression test fails on a build from before its fix).
fn bin() -> String {
    std::env::var("CAREMATCH_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_carematch").into())
}

fn carematch(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("the carematch binary runs")
}

fn ok(args: &[&str]) -> Output {
    let o = carematch(args);
    assert!(
        o.status.success(),
        "carematch {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Asserts exit 2 with one clean error line containing each of `want`.
fn refused(o: &Output, want: &[&str]) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    for w in want {
        assert!(err.contains(w), "expected '{w}' in: {err}");
    }
    err
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The first `n` records of a sample file, as a CSV text.
fn head(file: &str, n: usize) -> String {
    let text = std::fs::read_to_string(Path::new(SAMPLE).join(file)).unwrap();
    text.lines().take(n + 1).flat_map(|l| [l, "\n"]).collect()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// An index of the first 300 GP records of the sample data, at `dir/pop.idx`.
fn small_index(dir: &Path) -> PathBuf {
    let gp = write(dir, "gp.csv", &head("gp.csv", 300));
    let idx = dir.join("pop.idx");
    ok(&["index", "build", "--input", p(&gp), "--out", p(&idx)]);
    idx
}

/// A batch of hospital records, renamed so that no two batches share an id.
fn batch(dir: &Path, name: &str, tag: &str, skip: usize, n: usize) -> PathBuf {
    let text = std::fs::read_to_string(Path::new(SAMPLE).join("hospital.csv")).unwrap();
    let mut lines = text.lines();
    let mut out = format!("{}\n", lines.next().unwrap());
    for l in lines.skip(skip).take(n) {
        out.push_str(&format!("{tag}{l}\n"));
    }
    write(dir, name, &out)
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
fn set_mode(path: &Path, m: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(m)).unwrap();
}

/// Defect 3: two `index add` on one index at the same time each loaded the old file and
/// saved their own batch over the other's.
#[test]
fn two_index_adds_at_once_never_lose_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let idx = small_index(dir.path());
    let before = Index::load(&idx).unwrap().len();
    let a = batch(dir.path(), "a.csv", "A", 0, 200);
    let b = batch(dir.path(), "b.csv", "B", 200, 200);
    let run = |f: &Path| {
        Command::new(bin())
            .args([
                "index",
                "add",
                "--wait",
                "--index",
                p(&idx),
                "--input",
                p(f),
            ])
            .args(["--save", p(&idx)])
            .output()
            .unwrap()
    };
    let (oa, ob) = std::thread::scope(|s| {
        let ta = s.spawn(|| run(&a));
        let tb = s.spawn(|| run(&b));
        (ta.join().unwrap(), tb.join().unwrap())
    });
    assert!(oa.status.success() && ob.status.success());
    assert_eq!(Index::load(&idx).unwrap().len(), before + 400);

    // Without --wait, a held lock is refused naming its holder (here: this test process).
    let held = FileLock::acquire(&idx, false).unwrap();
    let me = format!("pid {}", std::process::id());
    let o = carematch(&["index", "add", "--index", p(&idx), "--input", p(&a)]);
    refused(&o, &["in use by", &me]);
    // A build onto an index in use is refused too, and leaves it whole.
    let gp = write(dir.path(), "gp2.csv", &head("gp.csv", 10));
    let o = carematch(&["index", "build", "--input", p(&gp), "--out", p(&idx)]);
    refused(&o, &["in use by", &me]);
    drop(held);
    assert_eq!(Index::load(&idx).unwrap().len(), before + 400);
}

/// Defect 4: saving an index replaced a 0600 file with a 0644 one, and a symbolic link
/// with a regular file.
#[cfg(unix)]
#[test]
fn saving_an_index_keeps_its_mode_and_writes_through_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let idx = small_index(dir.path());
    assert_eq!(
        mode(&idx),
        0o600,
        "a new index is readable by its owner only"
    );
    let a = batch(dir.path(), "a.csv", "A", 0, 20);
    set_mode(&idx, 0o640);
    ok(&[
        "index",
        "add",
        "--index",
        p(&idx),
        "--input",
        p(&a),
        "--save",
        p(&idx),
    ]);
    assert_eq!(mode(&idx), 0o640, "a save keeps the mode it replaces");
    set_mode(&idx, 0o600);
    let gp = write(dir.path(), "gp2.csv", &head("gp.csv", 10));
    ok(&["index", "build", "--input", p(&gp), "--out", p(&idx)]);
    assert_eq!(mode(&idx), 0o600);
    let link = dir.path().join("link.idx");
    std::os::unix::fs::symlink(&idx, &link).unwrap();
    let b = batch(dir.path(), "b.csv", "B", 0, 20);
    ok(&["index", "add", "--index", p(&link), "--input", p(&b)]);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(Index::load(&idx).unwrap().len(), 10 + 20);
    // Every other output is created 0600 too.
    let out = dir.path().join("pairs.csv");
    let gp_path = Path::new(SAMPLE).join("gp.csv");
    let h = Path::new(SAMPLE).join("hospital.csv");
    ok(&[
        "link",
        "--left",
        p(&gp_path),
        "--right",
        p(&h),
        "--out",
        p(&out),
    ]);
    assert_eq!(mode(&out), 0o600);
}

/// Defect 5: a save killed mid-way left `.NAME.tmp-PID-N`, full of patient data, forever.
#[test]
fn a_killed_save_leaves_no_temporary_file_behind() {
    let dir = tempfile::tempdir().unwrap();
    let idx = small_index(dir.path());
    // As a killed save leaves it: its process (no process has this id) is gone.
    let stale = dir.path().join(".pop.idx.tmp-4294967-3");
    std::fs::write(&stale, b"patient data").unwrap();
    // Loading tidies it (no writer holds the lock), as does the next save.
    Index::load(&idx).unwrap();
    assert!(!stale.exists());
    std::fs::write(&stale, b"patient data").unwrap();
    let a = batch(dir.path(), "a.csv", "A", 0, 5);
    ok(&["index", "add", "--index", p(&idx), "--input", p(&a)]);
    assert!(!stale.exists());
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Defect 6: a run that failed late had already overwritten some outputs (`link
/// --previous-clusters bad.csv` replaced --out; `index add` with an unwritable --save wrote
/// --out, --clusters and --changes).
#[test]
fn a_failed_run_leaves_earlier_outputs_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let out = write(dir.path(), "pairs.csv", "old pairs\n");
    let clusters = write(dir.path(), "clusters.csv", "old clusters\n");
    let bad = write(dir.path(), "prev.csv", "not,a,clusters,file\n");
    let gp = Path::new(SAMPLE).join("gp.csv");
    let h = Path::new(SAMPLE).join("hospital.csv");
    let o = carematch(&[
        "link",
        "--left",
        p(&gp),
        "--right",
        p(&h),
        "--out",
        p(&out),
        "--clusters",
        p(&clusters),
        "--previous-clusters",
        p(&bad),
    ]);
    refused(&o, &["prev.csv"]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "old pairs\n");
    assert_eq!(
        std::fs::read_to_string(&clusters).unwrap(),
        "old clusters\n"
    );
    // A truth file that cannot be read fails the run after linking: nothing is written.
    let truth = write(dir.path(), "truth.csv", "foo,bar\n1,2\n");
    let o = carematch(&[
        "link",
        "--left",
        p(&gp),
        "--right",
        p(&h),
        "--out",
        p(&out),
        "--truth",
        p(&truth),
    ]);
    refused(&o, &["truth.csv"]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "old pairs\n");

    let idx = small_index(dir.path());
    let a = batch(dir.path(), "a.csv", "A", 0, 20);
    let (po, pc, pch) = (
        dir.path().join("p.csv"),
        dir.path().join("c.csv"),
        dir.path().join("ch.csv"),
    );
    let o = carematch(&[
        "index",
        "add",
        "--index",
        p(&idx),
        "--input",
        p(&a),
        "--save",
        p(&dir.path().join("missing/dir/x.idx")),
        "--out",
        p(&po),
        "--clusters",
        p(&pc),
        "--changes",
        p(&pch),
    ]);
    refused(&o, &["x.idx"]);
    assert!(!po.exists() && !pc.exists() && !pch.exists());
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

/// Defect 7: `carematch link … | head -1` panicked ("failed printing to stdout") with exit 101.
#[test]
fn a_closed_stdout_pipe_ends_the_summary_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pairs.csv");
    let gp = Path::new(SAMPLE).join("gp.csv");
    let h = Path::new(SAMPLE).join("hospital.csv");
    let mut child = Command::new(bin())
        .args(["link", "--left", p(&gp), "--right", p(&h), "--out", p(&out)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before the first line is written.
    drop(child.stdout.take());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(status.code(), Some(0), "{err}");
    // The run itself went on: the pairs are written.
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .starts_with("left_id,right_id")
    );
}

/// Defect 8: pseudonymised input was accepted with a model trained on clear data (index
/// build, index add, dedupe, and the library's link of an encoded with a clear source).
#[test]
fn pseudonymised_input_is_refused_with_clear_data_or_a_clear_model() {
    let dir = tempfile::tempdir().unwrap();
    let gp = write(dir.path(), "gp.csv", &head("gp.csv", 300));
    let key = write(dir.path(), "key", &"ab".repeat(32));
    let enc = dir.path().join("gp.enc.csv");
    ok(&[
        "pseudonymise",
        "--input",
        p(&gp),
        "--key-file",
        p(&key),
        "--out",
        p(&enc),
    ]);
    let model = dir.path().join("clear.json");
    ok(&["train", "--input", p(&gp), "--out", p(&model)]);
    let idx = dir.path().join("clear.idx");
    ok(&["index", "build", "--input", p(&gp), "--out", p(&idx)]);

    let o = carematch(&[
        "index",
        "build",
        "--input",
        p(&enc),
        "--model",
        p(&model),
        "--out",
        p(&dir.path().join("x.idx")),
    ]);
    refused(&o, &["pseudonymised", "clear"]);
    let o = carematch(&["index", "add", "--index", p(&idx), "--input", p(&enc)]);
    refused(&o, &["pseudonymised"]);
    let o = carematch(&[
        "dedupe",
        "--input",
        p(&enc),
        "--model",
        p(&model),
        "--out",
        p(&dir.path().join("p.csv")),
    ]);
    refused(&o, &["pseudonymised", "clear"]);

    // The library: one store of an encoded and a clear source cannot be built, whoever
    // builds it (the C ABI and Python build theirs the same way).
    let mut b = Records::builder();
    b.add_csv(&enc).unwrap();
    b.add_csv(&gp).unwrap();
    let e = b.build().unwrap_err();
    assert!(e.message().contains("gp.csv"), "{e}");
    // And a clear model cannot score encoded records.
    let mut b = Records::builder();
    b.add_csv(&enc).unwrap();
    let (records, _) = b.build().unwrap();
    let m = carematch::Model::load(&model).unwrap();
    let linker = Linker::builder().model(Some(m)).build().unwrap();
    let e = linker.dedupe(&records, 0).unwrap_err();
    assert!(e.message().contains("trained on clear data"), "{e}");
}

/// Defects 12 and 13 at the command line: on CRLF files every line number was one too low,
/// in errors and in the data-quality report; a long query line was read whole.
#[test]
fn crlf_files_report_the_lines_an_editor_shows() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "crlf.csv",
        "id,given_name,surname\r\n1,a,b\r\n2,c,d\r\n3,e\r\n4,f,g\r\n",
    );
    let o = carematch(&[
        "dedupe",
        "--input",
        p(&f),
        "--out",
        p(&dir.path().join("p.csv")),
    ]);
    refused(&o, &["crlf.csv: line 4: ragged row"]);
    let f = write(
        dir.path(),
        "q.csv",
        "id,given_name,surname,dob\r\n1,Ann,Lee,x\r\n2,Bob,Ray,1990-01-01\r\n3,Cy,Fox,1990-13-45\r\n",
    );
    let o = carematch(&[
        "dedupe",
        "--input",
        p(&f),
        "--out",
        p(&dir.path().join("p.csv")),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("unparseable: 1 (lines 2)"), "{out}");
    assert!(out.contains("(lines 4)"), "{out}");
}

#[test]
fn an_overlong_query_line_is_answered_with_an_error_and_the_next_line_still_answered() {
    let dir = tempfile::tempdir().unwrap();
    let idx = small_index(dir.path());
    let long = format!("{{\"id\":\"X\",\"surname\":\"{}\"}}", "a".repeat(2 << 20));
    let input = format!("{long}\n{{\"id\":\"H1\",\"surname\":\"Berry\"}}\n");
    let mut child = Command::new(bin())
        .args(["index", "query", "--index", p(&idx)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        stdin.write_all(input.as_bytes()).unwrap();
    });
    let o = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0]["error"].as_str().unwrap().contains("longer than"));
    assert_eq!(lines[1]["id"], "H1");
}

/// Defect 17 at the command line: with --model, the config's thresholds were ignored.
#[test]
fn a_config_threshold_applies_with_a_model_file_and_the_run_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let gp = Path::new(SAMPLE).join("gp.csv");
    let h = Path::new(SAMPLE).join("hospital.csv");
    let model = dir.path().join("m.json");
    ok(&[
        "train",
        "--left",
        p(&gp),
        "--right",
        p(&h),
        "--out",
        p(&model),
    ]);
    let config = write(
        dir.path(),
        "c.json",
        r#"{"thresholds": {"match_probability": 0.995}}"#,
    );
    let o = ok(&[
        "link",
        "--left",
        p(&gp),
        "--right",
        p(&h),
        "--model",
        p(&model),
        "--config",
        p(&config),
        "--out",
        p(&dir.path().join("p.csv")),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("thresholds: match >= 0.995 (config), review >= 0.5 (model file)"),
        "{out}"
    );
}

/// Defect 18: a truth file without id columns (`foo,bar`) was read as pairs, and a truth
/// of other records gave an F1 of 0 that looked like a result.
#[test]
fn a_truth_file_without_id_columns_or_of_other_records_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let pairs = write(dir.path(), "p.csv", "left_id,right_id\na,b\n");
    let truth = write(dir.path(), "t.csv", "foo,bar\na,b\n");
    let o = carematch(&["evaluate", "--pairs", p(&pairs), "--truth", p(&truth)]);
    let err = refused(&o, &["t.csv: line 1", "header"]);
    assert!(!err.contains("foo"), "header names are not echoed: {err}");

    let csv = "id,given_name,surname,dob\n1,Ann,Lee,1980-01-01\n2,Ann,Lee,1980-01-01\n";
    let mut b = Records::builder();
    b.add_reader("a.csv", csv.as_bytes()).unwrap();
    let (records, _) = b.build().unwrap();
    let result = Linker::builder()
        .build()
        .unwrap()
        .dedupe(&records, 0)
        .unwrap();
    let e = Evaluation::of_result(&records, &result, [("x", "y")]).unwrap_err();
    assert!(e.message().contains("none of the 1 true pairs"), "{e}");
    assert!(Evaluation::of_result(&records, &result, [("1", "2")]).is_ok());
}

/// An index of three records under a flat model, in memory.
fn tiny_index() -> Index {
    let csv = "id,given_name,surname,dob,postcode\n\
               A1,Ann,Smith,1980-02-01,LS1 4AP\n\
               A2,Bob,Jones,1970-03-04,LS2 7QT\n\
               A3,Cy,Fox,1990-05-06,M1 1AA\n";
    let mut b = Records::builder();
    b.add_reader("pop.csv", csv.as_bytes()).unwrap();
    let (records, _) = b.build().unwrap();
    Index::builder(crate::index::flat_model())
        .build(records)
        .unwrap()
}

/// Defect 10: ids given as JSON numbers went through f64 (`12345678901234567890123` and
/// `12345678901234567891000` both became `1.2345678901234568e+22`; `-0` became `-0.0`).
#[test]
fn json_query_ids_given_as_numbers_keep_every_digit() {
    let index = tiny_index();
    for id in [
        "12345678901234567890123",
        "12345678901234567891000",
        "-0",
        "1.50",
    ] {
        let r = index
            .entry_from_json(&format!(r#"{{"id": {id}, "surname": "Smith"}}"#))
            .unwrap();
        assert_eq!(r.id(), id);
    }
    // An NHS number given as a number is its digits.
    let r = index
        .entry_from_json(r#"{"id": "q", "nhs_number": 9434765919}"#)
        .unwrap();
    let a = index
        .query(&r, &carematch::index::QueryOptions::default())
        .unwrap();
    assert!(a.invalid.is_empty(), "{:?}", a.invalid);
}

/// Defect 11: one field given twice in a query (`given_name` and `first_name`, the same
/// JSON key twice, or the same column twice through the C ABI's pairs) was accepted
/// silently, where a CSV header with both is an error.
#[test]
fn a_field_given_twice_in_one_query_is_refused_as_in_a_header() {
    let index = tiny_index();
    let e = index
        .entry_from_json(r#"{"id": "1", "given_name": "Ann", "first_name": "Anne"}"#)
        .unwrap_err();
    assert!(
        e.message().contains("given_name") && e.message().contains("first_name"),
        "{e}"
    );
    let e = index
        .entry_from_json(r#"{"id": "1", "surname": "Lee", "surname": "Ray"}"#)
        .unwrap_err();
    assert!(e.message().contains("'surname' appears twice"), "{e}");
    let e = index
        .entry(&[("id", "1"), ("surname", "Lee"), ("surname", "Ray")])
        .unwrap_err();
    assert!(e.message().contains("two columns have this header"), "{e}");
    // Several address columns are still joined, as in a file.
    assert!(
        index
            .entry(&[
                ("id", "1"),
                ("address_1", "1 High St"),
                ("address_2", "Leeds")
            ])
            .is_ok()
    );
}

/// Defect 13 for one record: a 200 MB query line was parsed whole (787 MB of memory).
#[test]
fn an_overlong_query_record_is_refused_before_it_is_parsed() {
    let index = tiny_index();
    let long = format!(
        r#"{{"id": "1", "surname": "{}"}}"#,
        "a".repeat(carematch::index::MAX_QUERY_BYTES)
    );
    let e = index.entry_from_json(&long).unwrap_err();
    assert!(e.message().contains("at most"), "{e}");
}

/// Defect 14: the header's reserved bytes 12-15 were not checked, so a flipped bit there
/// loaded; defect 16: a corrupt model inside an index was reported without the file's name.
#[test]
fn index_header_reserved_bytes_and_its_model_are_checked_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pop.idx");
    tiny_index().save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    Index::from_bytes(&bytes, &path).unwrap();
    for bit in 0..32 {
        let mut b = bytes.clone();
        b[12 + bit / 8] ^= 1 << (bit % 8);
        let e = Index::from_bytes(&b, &path).expect_err("refused");
        assert!(
            e.message().contains("pop.idx") && e.message().contains("reserved"),
            "{e}"
        );
    }
    // A payload whose checksum is right but whose model is not a model.
    let settings = r#"{"carematch":"0","model":"{}","rules":[],"columns":{},"accept_test_nhs_numbers":true,"others":[],"person_ids":false}"#;
    let mut payload = Vec::new();
    payload.extend_from_slice(&(settings.len() as u64).to_le_bytes());
    payload.extend_from_slice(settings.as_bytes());
    payload.extend_from_slice(&0u64.to_le_bytes());
    let mut file = bytes[..12].to_vec();
    file.extend_from_slice(&0u32.to_le_bytes());
    file.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    file.extend_from_slice(blake3::hash(&payload).as_bytes());
    file.extend_from_slice(&payload);
    let e = Index::from_bytes(&file, &path).expect_err("refused");
    assert!(
        e.message().starts_with(&format!("{}: ", path.display())),
        "{e}"
    );
    assert!(e.message().contains("model"), "{e}");
    // "cannot cannot" is gone from both directions.
    let e = Index::load(&dir.path().join("missing.idx")).expect_err("missing");
    assert!(!e.message().contains("cannot cannot"), "{e}");
    let e = tiny_index()
        .save(&dir.path().join("no/such/dir/pop.idx"))
        .unwrap_err();
    assert!(!e.message().contains("cannot cannot"), "{e}");
}

/// A table of CSV text's columns, for `RecordsBuilder::add_table`: empty fields are nulls.
struct CsvTable {
    names: Vec<String>,
    columns: Vec<Vec<Option<Vec<u8>>>>,
}

impl CsvTable {
    fn read(path: &Path) -> CsvTable {
        let mut rdr = csv::Reader::from_path(path).unwrap();
        let names: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
        let mut columns = vec![Vec::new(); names.len()];
        for rec in rdr.byte_records() {
            let rec = rec.unwrap();
            for (c, v) in columns.iter_mut().zip(rec.iter()) {
                c.push((!v.is_empty()).then(|| v.to_vec()));
            }
        }
        CsvTable { names, columns }
    }
}

impl carematch::input::Table for CsvTable {
    fn column_names(&self) -> Vec<String> {
        self.names.clone()
    }
    fn row_count(&self) -> usize {
        self.columns[0].len()
    }
    fn write_value(&self, c: usize, r: usize, out: &mut Vec<u8>) -> Result<(), carematch::Error> {
        if let Some(v) = &self.columns[c][r] {
            out.extend_from_slice(v);
        }
        Ok(())
    }
}

/// Issue 13: a source read as a table (no CSV text in between) is the source read from the
/// file: the same data-quality report and, linked, the same pairs and clusters.
#[test]
fn a_table_source_links_as_its_file_does() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data");
    let (gp, hosp) = (data.join("gp.csv"), data.join("hospital.csv"));
    let mut files = Records::builder();
    files.add_csv(&gp).unwrap().add_csv(&hosp).unwrap();
    let (from_files, q1) = files.build().unwrap();
    let mut tables = Records::builder();
    let name = |p: &Path| p.display().to_string();
    tables
        .add_table(&name(&gp), &CsvTable::read(&gp))
        .unwrap()
        .add_table(&name(&hosp), &CsvTable::read(&hosp))
        .unwrap();
    let (from_tables, q2) = tables.build().unwrap();
    assert_eq!(format!("{q1}"), format!("{q2}"));
    let linker = Linker::builder().build().unwrap();
    let a = linker.link(&from_files, 0, 1).unwrap();
    let b = linker.link(&from_tables, 0, 1).unwrap();
    assert!(a.links.len() > 4000, "{}", a.links.len());
    assert_eq!(a.links, b.links);
    // A table's errors name the line the row would have in a file: row index 2 is line 4.
    let mut t = CsvTable::read(&hosp);
    t.columns[0][2] = None;
    let mut b = Records::builder();
    let Err(e) = b.add_table("frame", &t) else {
        panic!("an empty id is an error")
    };
    assert!(e.to_string().contains("frame: line 4"), "{e}");
}
