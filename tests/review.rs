//! Signing off a linkage: the HTML report, the error estimates without labels, and the
//! clerical-review loop, run as a user would on the sample data.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::cli::carematch;

fn ok(args: &[&str]) -> String {
    let o = carematch(args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn sample(f: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/data")
        .join(f)
        .to_str()
        .unwrap()
        .to_string()
}

fn p(dir: &Path, f: &str) -> String {
    dir.join(f).to_str().unwrap().to_string()
}

/// Links the sample, with `extra` options; returns stdout.
fn link(dir: &Path, extra: &[&str]) -> String {
    let (gp, h, out) = (
        sample("gp.csv"),
        sample("hospital.csv"),
        p(dir, "pairs.csv"),
    );
    let mut args = vec!["link", "--left", &gp, "--right", &h, "--out", &out];
    args.extend_from_slice(extra);
    ok(&args)
}

/// A CSV file's header and rows.
pub(crate) fn csv_rows(path: impl AsRef<Path>) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let head = r.headers().unwrap().iter().map(str::to_string).collect();
    let rows = r
        .records()
        .map(|x| x.unwrap().iter().map(str::to_string).collect())
        .collect();
    (head, rows)
}

fn truth() -> HashSet<(String, String)> {
    csv_rows(sample("truth.csv"))
        .1
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect()
}

#[test]
fn report_has_every_section_drawn_and_no_patient_value_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let report = p(dir.path(), "r.html");
    let clusters = p(dir.path(), "c.csv");
    link(
        dir.path(),
        &[
            "--report",
            &report,
            "--clusters",
            &clusters,
            "--truth",
            &sample("truth.csv"),
        ],
    );
    let html = std::fs::read_to_string(&report).unwrap();
    for id in [
        "quality",
        "blocking",
        "model",
        "scores",
        "waterfalls",
        "review",
        "clusters",
        "settings",
    ] {
        let at = html
            .find(&format!(r#"<section class="report-section" id="{id}""#))
            .unwrap_or_else(|| panic!("no section {id}"));
        let section = &html[at..at + html[at..].find("</section>").unwrap()];
        if id != "settings" {
            assert!(
                section.contains(r#"<svg class="chart""#),
                "{id} has no chart"
            );
            assert!(
                !section.contains(r#"data-points="0""#),
                "{id} has an empty chart"
            );
            assert!(section.contains("data-v="), "{id} has no data marks");
        }
    }
    // Self-contained: nothing fetched from anywhere.
    for bad in ["src=\"http", "href=\"http", "<link ", "@import", "url("] {
        assert!(!html.contains(bad), "{bad}");
    }
    // The sample's surnames and NHS numbers are patient values: absent without
    // --report-records, present with it.
    let (head, rows) = csv_rows(sample("gp.csv"));
    let surname = head.iter().position(|h| h == "surname").unwrap();
    let names: Vec<String> = rows.iter().map(|r| r[surname].to_lowercase()).collect();
    let shown = |html: &str| {
        let lower = html.to_lowercase();
        names
            .iter()
            .filter(|n| n.len() > 5 && lower.contains(&format!(">{n}<")))
            .count()
    };
    assert_eq!(shown(&html), 0);
    link(dir.path(), &["--report", &report, "--report-records"]);
    let with = std::fs::read_to_string(&report).unwrap();
    assert!(
        shown(&with) > 0,
        "--report-records shows the sample pairs' values"
    );
    assert!(with.contains("holds patient values"));
    // The clerical review section lists the review pairs' records with the values only
    // with --report-records: each listed pair's left id, as `carematch review` orders them.
    let review_section = |html: &str| {
        let at = html.find(r#"id="review""#).unwrap();
        html[at..at + html[at..].find("</section>").unwrap()].to_string()
    };
    let queue = p(dir.path(), "q.csv");
    let pairs = p(dir.path(), "pairs.csv");
    ok(&[
        "review",
        "--pairs",
        &pairs,
        "--left",
        &sample("gp.csv"),
        "--right",
        &sample("hospital.csv"),
        "--out",
        &queue,
    ]);
    let (qh, qrows) = csv_rows(&queue);
    let left = qh.iter().position(|h| h == "left_id").unwrap();
    assert!(!qrows.is_empty());
    let listed = review_section(&with);
    assert!(
        listed.contains(&format!(">{} pairs to decide", qrows.len())),
        "the section counts the review file's pairs"
    );
    for r in qrows.iter().take(100) {
        assert!(listed.contains(&format!(">{}<", r[left])), "{}", r[left]);
    }
    assert!(!review_section(&html).contains(&format!(">{}<", qrows[0][left])));
}

#[test]
fn error_estimates_are_within_two_points_of_the_truth_on_the_sample() {
    let dir = tempfile::tempdir().unwrap();
    let json = p(dir.path(), "s.json");
    link(
        dir.path(),
        &["--truth", &sample("truth.csv"), "--summary-json", &json],
    );
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let est = &s["error_estimate"]["decisions"];
    let truth = &s["evaluation"];
    for k in ["precision", "recall"] {
        let (e, t) = (est[k].as_f64().unwrap(), truth[k].as_f64().unwrap());
        assert!((e - t).abs() < 0.02, "{k}: estimated {e}, true {t}");
    }
    // The curve over thresholds: fewer pairs linked as the threshold rises.
    let curve = s["error_estimate"]["by_threshold"].as_array().unwrap();
    assert!(curve.len() > 10);
    let linked: Vec<u64> = curve
        .iter()
        .map(|c| c["linked"].as_u64().unwrap())
        .collect();
    assert!(linked.windows(2).all(|w| w[0] >= w[1]));
}

#[test]
fn review_file_holds_the_pairs_to_decide_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    link(dir.path(), &[]);
    let (pairs, review) = (p(dir.path(), "pairs.csv"), p(dir.path(), "review.csv"));
    let (gp, h) = (sample("gp.csv"), sample("hospital.csv"));
    ok(&[
        "review", "--pairs", &pairs, "--left", &gp, "--right", &h, "--out", &review, "--audit", "7",
    ]);
    let (phead, prows) = csv_rows(&pairs);
    let dec = phead.iter().position(|h| h == "decision").unwrap();
    let to_decide = prows.iter().filter(|r| r[dec] != "match").count();
    let (head, rows) = csv_rows(&review);
    assert_eq!(
        &head[..7],
        [
            "left_id",
            "right_id",
            "decision",
            "status",
            "reason",
            "match_weight",
            "match_probability"
        ]
    );
    assert!(
        head.contains(&"left_surname".to_string()) && head.contains(&"right_surname".to_string())
    );
    assert_eq!(rows.len(), to_decide + 7);
    assert!(
        rows.iter().all(|r| r[2].is_empty()),
        "decision is left empty"
    );
    let audit: Vec<&Vec<String>> = rows.iter().filter(|r| r[4] == "audit").collect();
    assert_eq!(audit.len(), 7);
    assert!(audit.iter().all(|r| r[3] == "match"));
    assert!(
        rows.iter()
            .filter(|r| r[4] != "audit")
            .all(|r| r[3] == "review" || r[3] == "ambiguous")
    );
    // Drawn by the seed: the same file again.
    let again = p(dir.path(), "review2.csv");
    ok(&[
        "review", "--pairs", &pairs, "--left", &gp, "--right", &h, "--out", &again, "--audit", "7",
    ]);
    assert_eq!(
        std::fs::read(&review).unwrap(),
        std::fs::read(&again).unwrap()
    );
}

/// Writes a review file deciding `pairs`.
fn decisions(path: &PathBuf, pairs: &[(&str, &str, &str)]) {
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record(["left_id", "right_id", "decision"]).unwrap();
    for (a, b, d) in pairs {
        w.write_record([a, b, d]).unwrap();
    }
    w.flush().unwrap();
}

#[test]
fn reviewed_decisions_are_final_and_kept_by_record_ids() {
    let dir = tempfile::tempdir().unwrap();
    // One model for both runs, so that only the decisions differ (trained afresh, the
    // confirmed matches would refine m too: see reviewed_matches_refine_the_trained_m).
    let model = p(dir.path(), "m.json");
    link(dir.path(), &["--save-model", &model]);
    let (_, rows) = csv_rows(p(dir.path(), "pairs.csv"));
    let truth = truth();
    let review: Vec<&Vec<String>> = rows.iter().filter(|r| r[4] == "review").collect();
    let true_review = review
        .iter()
        .find(|r| truth.contains(&(r[0].clone(), r[1].clone())))
        .expect("a true pair in review");
    let false_review = review
        .iter()
        .find(|r| !truth.contains(&(r[0].clone(), r[1].clone())))
        .expect("a false pair in review");
    let auto = rows.iter().find(|r| r[4] == "match").unwrap();
    let unsure = review
        .iter()
        .find(|r| r[0] != true_review[0] && r[0] != false_review[0])
        .unwrap();
    // A true pair the run never wrote: a pair of the truth absent from the pairs file.
    let written: HashSet<(String, String)> =
        rows.iter().map(|r| (r[0].clone(), r[1].clone())).collect();
    let (unseen_l, unseen_r) = truth.iter().find(|t| !written.contains(*t)).unwrap();
    let file = dir.path().join("decided.csv");
    decisions(
        &file,
        &[
            (&true_review[0], &true_review[1], "match"),
            (&false_review[0], &false_review[1], "Non-Match"),
            (&auto[0], &auto[1], "no"),
            (&unsure[0], &unsure[1], "unsure"),
            (unseen_l, unseen_r, "match"),
            ("GP-GONE", "H-GONE", "match"),
        ],
    );
    let json = p(dir.path(), "s.json");
    let out = link(
        dir.path(),
        &[
            "--model",
            &model,
            "--reviewed",
            file.to_str().unwrap(),
            "--summary-json",
            &json,
            "--report",
            &p(dir.path(), "r.html"),
        ],
    );
    assert!(out.contains("reviewed decisions"), "{out}");
    // The report draws the reviewed precision from the three decided pairs that had a
    // weight (two non-matches, one match; the unsure one and the added one have none).
    let html = std::fs::read_to_string(p(dir.path(), "r.html")).unwrap();
    assert!(html.contains("reviewed precision"));
    assert!(
        html.contains("of the 3 pairs they decided"),
        "decided count"
    );
    let (_, after) = csv_rows(p(dir.path(), "pairs.csv"));
    let find = |a: &str, b: &str| after.iter().find(|r| r[0] == a && r[1] == b);
    let m = find(&true_review[0], &true_review[1]).unwrap();
    assert_eq!((m[4].as_str(), m[6].as_str()), ("match", "reviewed:match"));
    assert!(find(&false_review[0], &false_review[1]).is_none());
    assert!(
        find(&auto[0], &auto[1]).is_none(),
        "an audited match judged false is removed"
    );
    let u = find(&unsure[0], &unsure[1]).unwrap();
    assert_eq!(
        (u[4].as_str(), u[6].as_str()),
        ("review", "reviewed:unsure")
    );
    let added = find(unseen_l, unseen_r).unwrap();
    assert_eq!(added[4], "match");
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let r = &s["reviewed"];
    assert_eq!(r["missing_records"], 1);
    assert_eq!(r["added"], 1);
    assert_eq!(r["audited_matches"], 1);
    assert_eq!(r["audited_precision"], 0.0);
}

#[test]
fn a_bad_decision_names_the_file_line_and_column_not_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("decided.csv");
    decisions(
        &file,
        &[
            ("GP00000001", "H00000001", "match"),
            ("GP00000002", "H00000002", "Smith probably"),
        ],
    );
    let (gp, h, out) = (
        sample("gp.csv"),
        sample("hospital.csv"),
        p(dir.path(), "o.csv"),
    );
    let o = carematch(&[
        "link",
        "--left",
        &gp,
        "--right",
        &h,
        "--out",
        &out,
        "--reviewed",
        file.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("decided.csv") && err.contains("line 3") && err.contains("decision"),
        "{err}"
    );
    assert!(!err.contains("Smith"), "{err}");
    assert!(!Path::new(&out).exists(), "a failed run writes nothing");
}

#[test]
fn report_of_an_earlier_run_from_its_model_and_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let model = p(dir.path(), "m.json");
    link(dir.path(), &["--explain", "--save-model", &model]);
    let (pairs, out) = (p(dir.path(), "pairs.csv"), p(dir.path(), "r.html"));
    let truth = sample("truth.csv");
    ok(&[
        "report", "--model", &model, "--pairs", &pairs, "--truth", &truth, "--out", &out,
    ]);
    let html = std::fs::read_to_string(&out).unwrap();
    let section = |id: &str| {
        let at = html
            .find(&format!(r#"id="{id}""#))
            .unwrap_or_else(|| panic!("{id}"));
        html[at..at + html[at..].find("</section>").unwrap()].to_string()
    };
    assert!(section("waterfalls").contains(r#"<svg class="chart""#));
    assert!(section("scores").contains("true precision"));
    assert!(html.contains("known by their ids only"));
    // Without --explain columns: no waterfalls, and the page says how to get them.
    link(dir.path(), &[]);
    ok(&[
        "report", "--model", &model, "--pairs", &pairs, "--out", &out,
    ]);
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.contains("write the pairs file with --explain"));
    // A file that is not a pairs file is named, with the missing column.
    let o = carematch(&[
        "report", "--model", &model, "--pairs", &truth, "--out", &out,
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("truth.csv") && err.contains("decision"),
        "{err}"
    );
}

#[test]
fn index_add_writes_a_report_of_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let (idx, out) = (p(dir.path(), "pop.idx"), p(dir.path(), "r.html"));
    ok(&[
        "index",
        "build",
        "--input",
        &sample("gp.csv"),
        "--out",
        &idx,
    ]);
    let said = ok(&[
        "index",
        "add",
        "--index",
        &idx,
        "--input",
        &sample("hospital.csv"),
        "--report",
        &out,
    ]);
    assert!(said.contains("report written"), "{said}");
    let html = std::fs::read_to_string(&out).unwrap();
    for id in ["model", "scores", "clusters"] {
        let at = html.find(&format!(r#"id="{id}""#)).unwrap();
        let section = &html[at..at + html[at..].find("</section>").unwrap()];
        assert!(section.contains(r#"<svg class="chart""#), "{id}");
    }
}

#[test]
fn reviewed_matches_refine_the_trained_m() {
    let dir = tempfile::tempdir().unwrap();
    let (m0, m1) = (p(dir.path(), "m0.json"), p(dir.path(), "m1.json"));
    link(dir.path(), &["--save-model", &m0]);
    let (_, rows) = csv_rows(p(dir.path(), "pairs.csv"));
    let truth = truth();
    // Confirm every true pair of the review queue.
    let confirmed: Vec<(&str, &str, &str)> = rows
        .iter()
        .filter(|r| r[4] != "match" && truth.contains(&(r[0].clone(), r[1].clone())))
        .map(|r| (r[0].as_str(), r[1].as_str(), "match"))
        .collect();
    assert!(!confirmed.is_empty());
    let file = dir.path().join("decided.csv");
    decisions(&file, &confirmed);
    link(
        dir.path(),
        &["--reviewed", file.to_str().unwrap(), "--save-model", &m1],
    );
    let m = |path: &str| -> Vec<f64> {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        v["comparisons"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["levels"].as_array().unwrap().clone())
            .map(|l| l["m"].as_f64().unwrap())
            .collect()
    };
    let (before, after) = (m(&m0), m(&m1));
    assert_eq!(before.len(), after.len());
    let moved = before
        .iter()
        .zip(&after)
        .filter(|(a, b)| (*a - *b).abs() > 1e-6)
        .count();
    assert!(moved > 0, "the reviewed pairs moved m");
    // A few dozen decisions against thousands of EM matches move m only a little.
    assert!(before.iter().zip(&after).all(|(a, b)| (a - b).abs() < 0.05));
}
