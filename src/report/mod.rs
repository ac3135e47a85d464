//! The HTML report of a run: one self-contained file (inline CSS, SVG charts drawn here, a
//! few lines of script for tooltips only), that opens with no network access.
//!
//! Sections: data quality, blocking, the model, scores with the error estimates, waterfalls
//! of sample pairs, clusters, and the run's settings. Without `records` values
//! ([`ReportInput::show_records`]) the page holds counts, weights and record ids' absence:
//! no patient value.

mod svg;

use std::fmt::Write as _;

use crate::cluster::Clusters;
use crate::estimate::{BINS_PER_BIT, ScoreHistogram};
use crate::link::{Decision, Link, LinkResult};
use crate::model::{MatchWeight, Model, Scorer};

mod pairs;
use crate::record::Records;
pub use pairs::PairsRun;
use svg::{BLUE, GREEN, GREY, ORANGE, PURPLE, RED, Series, esc, num};

/// What a report is drawn from.
pub struct ReportInput<'a> {
    /// The page title (e.g. the command line's job).
    pub title: String,
    /// The records linked.
    pub records: &'a Records,
    /// Their data-quality report.
    pub quality: Option<&'a crate::QualityReport>,
    /// Per blocking pass and rule: (pass, rule, comparisons it makes on its own).
    pub blocking: Vec<(String, String, u64)>,
    /// The model, when there was one.
    pub model: Option<&'a Model>,
    /// The run's result.
    pub result: &'a LinkResult,
    /// The people, when clustered.
    pub clusters: Option<&'a Clusters>,
    /// Known true pairs (rows), for the true precision and recall curves.
    pub truth: Option<&'a [crate::block::Pair]>,
    /// Reviewers' decisions on the run's pairs, (weight in bits, match), for the reviewed
    /// precision curve (empty: none).
    pub reviewed: &'a [(f64, bool)],
    /// Settings and versions: (name, value).
    pub settings: Vec<(String, String)>,
    /// Show records' values next to the sample pairs (`--report-records`).
    pub show_records: bool,
    /// A pair's explanation for its waterfall (`None`: no waterfall for it).
    pub explain: Option<Explainer<'a>>,
    /// What the reader should know about where the figures come from (shown at the top).
    pub notes: Vec<String>,
}

/// A pair's explanation, for the report's waterfalls.
pub type Explainer<'a> = Box<dyn Fn(crate::block::Pair) -> Option<crate::model::Explanation> + 'a>;

impl<'a> ReportInput<'a> {
    /// Explanations by the model's scorer over `records` (`None` when it does not fit them).
    pub fn scorer_explain(model: Option<&'a Model>, records: &'a Records) -> Option<Explainer<'a>> {
        let scorer = Scorer::new(model?, records).ok()?;
        Some(Box::new(move |p| Some(scorer.explain(p))))
    }
}

impl std::fmt::Debug for ReportInput<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportInput")
            .field("title", &self.title)
            .finish_non_exhaustive()
    }
}

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}\
header{background:#003087;color:#fff;padding:14px 24px}header h1{margin:0;font-size:22px}\
nav{padding:6px 24px;background:#e8edee}nav a{margin-right:14px;color:#005eb8}\
main{padding:0 24px 40px}section{background:#fff;margin:18px 0;padding:12px 18px;border:1px solid #ddd;border-radius:4px}\
h2{margin:4px 0 8px;color:#003087}h3{margin:14px 0 4px;font-size:15px}\
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;font-size:13px}\
th{background:#f0f4f5}td.n{text-align:right;font-variant-numeric:tabular-nums}\
.lbl{font-size:12px;fill:#222}.ax{font-size:11px;fill:#555}.note{color:#555;font-size:13px}\
.warn{background:#fff4e5;border-left:4px solid #ef6c00;padding:6px 10px}\
#tip{position:fixed;pointer-events:none;background:#222;color:#fff;padding:3px 6px;border-radius:3px;font-size:12px;display:none}\
svg.chart{max-width:100%;height:auto;display:block;margin:6px 0}";

const SCRIPT: &str = "(function(){var t=document.getElementById('tip');\
document.addEventListener('mousemove',function(e){var n=e.target;\
var ti=n&&n.querySelector?n.querySelector('title'):null;\
if(ti&&n.hasAttribute('data-v')){t.textContent=ti.textContent;t.style.display='block';\
t.style.left=(e.clientX+12)+'px';t.style.top=(e.clientY+12)+'px';}else{t.style.display='none';}});})();";

/// The sections, in order: (id, title).
pub const SECTIONS: [(&str, &str); 8] = [
    ("quality", "Data quality"),
    ("blocking", "Blocking"),
    ("model", "The model"),
    ("scores", "Scores and expected errors"),
    ("waterfalls", "Sample pairs"),
    ("review", "Clerical review"),
    ("clusters", "Clusters"),
    ("settings", "Settings and versions"),
];

/// The report as one HTML page.
pub fn render(input: &ReportInput<'_>) -> String {
    let mut body = String::new();
    for (id, title) in SECTIONS {
        let inner = match id {
            "quality" => quality(input),
            "blocking" => blocking(input),
            "model" => model(input),
            "scores" => scores(input),
            "waterfalls" => waterfalls(input),
            "review" => review(input),
            "clusters" => clusters(input),
            _ => settings(input),
        };
        let _ = write!(
            body,
            r#"<section class="report-section" id="{id}" data-title="{title}"><h2>{title}</h2>{inner}</section>"#
        );
    }
    let mut nav = String::new();
    for (id, t) in SECTIONS {
        let _ = write!(nav, r##"<a href="#{id}">{t}</a>"##);
    }
    let privacy = if input.show_records {
        r#"<p class="warn">This report holds patient values (it was written with --report-records): the sample pairs and the clerical review list show both records' values. Handle it as patient data.</p>"#
    } else {
        r#"<p class="note">No patient values: counts, weights and charts only. Write the report with --report-records to see the sample pairs' and the review list's values side by side.</p>"#
    };
    let mut notes = String::new();
    for n in &input.notes {
        let _ = write!(notes, "<p class=\"note\">{}</p>", esc(n));
    }
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><style>{STYLE}</style></head>\
         <body><header><h1>{t}</h1></header><nav>{nav}</nav><main>{privacy}{notes}{body}</main>\
         <div id=\"tip\"></div><script>{SCRIPT}</script></body></html>\n",
        t = esc(&input.title)
    )
}

fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = String::from("<table><tr>");
    for h in head {
        let _ = write!(s, "<th>{}</th>", esc(h));
    }
    s.push_str("</tr>");
    for r in rows {
        s.push_str("<tr>");
        for c in r {
            let numeric = c
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit() || c == '-')
                && c.chars()
                    .all(|c| c.is_ascii_digit() || ",.-+e%".contains(c));
            let _ = write!(
                s,
                "<td{}>{}</td>",
                if numeric { " class=\"n\"" } else { "" },
                esc(c)
            );
        }
        s.push_str("</tr>");
    }
    s.push_str("</table>");
    s
}

fn quality(input: &ReportInput<'_>) -> String {
    let Some(q) = input.quality else {
        return "<p class=\"note\">No data-quality figures for this run.</p>".into();
    };
    let mut s = String::new();
    for src in &q.sources {
        let labels: Vec<String> = src.columns.iter().map(|c| c.column.clone()).collect();
        let invalid: Vec<f64> = src
            .columns
            .iter()
            .map(|c| c.problems.iter().map(|p| p.count).sum::<u64>() as f64)
            .collect();
        let series = [
            Series {
                name: "present",
                colour: GREEN,
                values: src.columns.iter().map(|c| c.present as f64).collect(),
            },
            Series {
                name: "missing",
                colour: GREY,
                values: src.columns.iter().map(|c| c.missing as f64).collect(),
            },
            Series {
                name: "invalid",
                colour: RED,
                values: invalid,
            },
        ];
        let _ = write!(
            s,
            "<h3>{} ({} rows)</h3>{}",
            esc(&src.file),
            num(src.rows as f64),
            svg::hbars(&labels, &series, true, " rows")
        );
    }
    s
}

fn blocking(input: &ReportInput<'_>) -> String {
    if input.blocking.is_empty() {
        return "<p class=\"note\">No blocking counts for this run (the model's blocking rules are listed under settings).</p>".into();
    }
    let n = input.records.len().max(1) as f64;
    let mut s = String::new();
    let new = &input.result.new_pairs_per_rule;
    let mut i = 0;
    for (pass, what) in [
        ("rules", "The deterministic rules' pairs"),
        ("model", "The model's pairs"),
    ] {
        let rows: Vec<(usize, &(String, String, u64))> = input
            .blocking
            .iter()
            .enumerate()
            .filter(|(_, b)| b.0 == pass)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let labels: Vec<String> = rows.iter().map(|(_, b)| b.1.clone()).collect();
        let own: Vec<f64> = rows.iter().map(|(_, b)| b.2 as f64).collect();
        let mut acc = 0.0;
        let cumulative: Vec<f64> = rows
            .iter()
            .map(|(k, _)| {
                acc += new.get(*k).copied().unwrap_or(0) as f64;
                acc
            })
            .collect();
        i += rows.len();
        let table_rows: Vec<Vec<String>> = rows
            .iter()
            .zip(&cumulative)
            .map(|((_, b), cum)| {
                vec![
                    b.1.clone(),
                    num(b.2 as f64),
                    num(*cum),
                    format!("{:.2}", b.2 as f64 / n),
                ]
            })
            .collect();
        let _ = write!(
            s,
            "<h3>{what}</h3><p class=\"note\">Each rule's comparisons on its own, and the running total of distinct pairs (a pair an earlier rule made is counted once).</p>{}{}",
            svg::hbars(
                &labels,
                &[
                    Series {
                        name: "on its own",
                        colour: BLUE,
                        values: own
                    },
                    Series {
                        name: "cumulative (distinct)",
                        colour: ORANGE,
                        values: cumulative
                    },
                ],
                false,
                " pairs"
            ),
            table(
                &["rule", "comparisons", "cumulative", "per record"],
                &table_rows
            )
        );
    }
    debug_assert!(i <= input.blocking.len());
    s
}

fn model(input: &ReportInput<'_>) -> String {
    let Some(m) = input.model else {
        return "<p class=\"note\">Deterministic rules only: no model.</p>".into();
    };
    let mut labels = Vec::new();
    let (mut ms, mut us, mut ws) = (Vec::new(), Vec::new(), Vec::new());
    for (c, comp) in m.comparisons().iter().enumerate() {
        for (l, name) in comp.level_names().iter().enumerate().skip(1) {
            labels.push(format!("{}: {}", comp.field, name));
            ms.push(m.m(c, l));
            us.push(m.u(c, l));
            ws.push(m.weight(c, l));
        }
    }
    let mut s = format!(
        "<p>Prior λ = {:.3e} ({:+.2} bits): the share of all pairs that are matches.</p><h3>m and u per level</h3><p class=\"note\">m: the share of true matches at the level; u: the share of non-matches.</p>{}",
        m.lambda(),
        m.prior_weight(),
        svg::hbars(
            &labels,
            &[
                Series {
                    name: "m",
                    colour: GREEN,
                    values: ms
                },
                Series {
                    name: "u",
                    colour: RED,
                    values: us
                },
            ],
            false,
            ""
        )
    );
    let _ = write!(
        s,
        "<h3>Match weight per level</h3><p class=\"note\">log2(m/u) in bits: what the level adds to a pair's weight.</p>{}",
        svg::hbars(
            &labels,
            &[Series {
                name: "match weight (bits)",
                colour: BLUE,
                values: ws
            }],
            false,
            " bits"
        )
    );
    if let Some(t) = m.training() {
        let labels: Vec<String> = t.sessions.iter().map(|s| s.rule.clone()).collect();
        let _ = write!(
            s,
            "<h3>Training sessions (EM)</h3><p class=\"note\">u from {} random pairs{}. Iterations each EM session took (at most 200); a session that did not converge is marked in the table.</p>{}{}",
            num(t.u_pairs as f64),
            if t.labelled_pairs > 0 {
                format!("; m from {} labelled pairs", t.labelled_pairs)
            } else {
                String::new()
            },
            svg::hbars(
                &labels,
                &[Series {
                    name: "iterations",
                    colour: BLUE,
                    values: t.sessions.iter().map(|s| f64::from(s.iterations)).collect()
                }],
                false,
                ""
            ),
            table(
                &[
                    "rule",
                    "pairs",
                    "vectors",
                    "iterations",
                    "converged",
                    "log-likelihood",
                    "λ implied"
                ],
                &t.sessions
                    .iter()
                    .map(|s| vec![
                        s.rule.clone(),
                        num(s.pairs as f64),
                        num(s.distinct_vectors as f64),
                        s.iterations.to_string(),
                        if s.converged { "yes" } else { "NO" }.into(),
                        format!("{:.1}", s.log_likelihood),
                        format!("{:.3e}", s.lambda),
                    ])
                    .collect::<Vec<_>>()
            )
        );
    }
    s
}

fn scores(input: &ReportInput<'_>) -> String {
    let (Some(scores), Some(m)) = (&input.result.scores, input.model) else {
        return "<p class=\"note\">No model scores in this run.</p>".into();
    };
    let t = m.thresholds();
    let match_w = MatchWeight::of_probability(t.match_probability).bits();
    let review_w = MatchWeight::of_probability(t.review_probability).bits();
    let h = &scores.histogram;
    let Some((a, b)) = h.occupied() else {
        return "<p class=\"note\">No pair was scored.</p>".into();
    };
    // Whole bits for the histogram.
    let per = BINS_PER_BIT as usize;
    let (a, b) = (a / per * per, b.div_ceil(per) * per);
    let mut xs = Vec::new();
    let mut counts = Vec::new();
    for start in (a..b).step_by(per) {
        xs.push(ScoreHistogram::bin_start(start));
        counts.push(h.counts()[start..(start + per).min(b)].iter().sum::<u64>() as f64);
    }
    let markers = [
        (match_w, "match threshold", RED),
        (review_w, "review threshold", ORANGE),
    ];
    let mut s = format!(
        "<p>Every compared pair's match weight ({} pairs).</p>{}",
        num(h.total() as f64),
        svg::histogram(&xs, &counts, &markers, "match weight (bits)", true)
    );
    let e = scores.of_result(input.result);
    let _ = write!(
        s,
        "<h3>Expected errors, without labels</h3><p>From the model's own match probabilities: of {} pairs linked, about {} are expected to be false (precision ≈ {:.4}); about {} true pairs are expected not to be linked, {} of them never compared by blocking (recall ≈ {:.4}).</p>",
        num(e.linked as f64),
        num(e.expected_false.round()),
        e.precision(),
        num(e.expected_missed().round()),
        num(e.expected_missed_by_blocking.round()),
        e.recall()
    );
    let lo = (review_w - 10.0).floor();
    let curve = scores.curve(lo, lo + 40.0, per / 2);
    let cx: Vec<f64> = curve.iter().filter_map(|c| c.threshold_bits).collect();
    let series = curve_series(input, &curve, &cx);
    let _ = write!(
        s,
        "<p class=\"note\">If every pair at or above a weight were linked (vetoes and ambiguity aside){}{}.</p>{}",
        if input.truth.is_some() {
            "; the true curves count the pairs written (at or above the review threshold) against the truth"
        } else {
            ""
        },
        if input.reviewed.is_empty() {
            String::new()
        } else {
            format!(
                "; the reviewed precision is the share reviewers matched of the {} pairs they decided at or above each weight (the review band and any audited matches: a sample, not the truth)",
                num(input.reviewed.len() as f64)
            )
        },
        svg::lines(
            &cx,
            &series,
            (y_floor(&series), 1.0),
            &markers,
            "threshold (match weight, bits)"
        )
    );
    s
}

/// The estimated curves over the thresholds `cx`, then the true ones (with a truth) and
/// the reviewed precision (with reviewers' decisions).
fn curve_series<'a>(
    input: &ReportInput<'_>,
    curve: &[crate::estimate::ErrorEstimate],
    cx: &[f64],
) -> Vec<Series<'a>> {
    let mut series = vec![
        Series {
            name: "estimated precision",
            colour: BLUE,
            values: curve
                .iter()
                .map(crate::estimate::ErrorEstimate::precision)
                .collect(),
        },
        Series {
            name: "estimated recall",
            colour: GREEN,
            values: curve
                .iter()
                .map(crate::estimate::ErrorEstimate::recall)
                .collect(),
        },
    ];
    if let Some(truth) = input.truth {
        let (p, r) = true_curve(input.result, truth, cx);
        series.push(Series {
            name: "true precision",
            colour: ORANGE,
            values: p,
        });
        series.push(Series {
            name: "true recall",
            colour: RED,
            values: r,
        });
    }
    if !input.reviewed.is_empty() {
        series.push(Series {
            name: "reviewed precision",
            colour: PURPLE,
            values: reviewed_curve(input.reviewed, cx),
        });
    }
    series
}

/// The y axis's floor for curves of shares: the lowest value, rounded down to a tenth.
fn y_floor(series: &[Series<'_>]) -> f64 {
    let lowest = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .filter(|v| v.is_finite())
        .fold(1.0, f64::min);
    ((lowest - 0.02) * 10.0).floor().max(0.0) / 10.0
}

/// The share of reviewed pairs at or above each weight that reviewers matched (`NaN`, no
/// point, where none is).
fn reviewed_curve(reviewed: &[(f64, bool)], xs: &[f64]) -> Vec<f64> {
    xs.iter()
        .map(|&x| {
            let (n, yes) = reviewed
                .iter()
                .filter(|(w, _)| *w >= x)
                .fold((0u64, 0u64), |(n, y), &(_, m)| (n + 1, y + u64::from(m)));
            if n == 0 {
                f64::NAN
            } else {
                yes as f64 / n as f64
            }
        })
        .collect()
}

/// True precision and recall if the written pairs at or above each weight were linked.
fn true_curve(
    result: &LinkResult,
    truth: &[crate::block::Pair],
    xs: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    let truth: rustc_hash::FxHashSet<crate::block::Pair> = truth.iter().copied().collect();
    let mut scored: Vec<(f64, bool)> = result
        .links
        .iter()
        .filter_map(|l| {
            let t = truth.contains(&l.pair)
                || truth.contains(&crate::block::Pair {
                    left: l.pair.right,
                    right: l.pair.left,
                });
            l.weight.map(|w| (w.bits(), t))
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let total = truth.len().max(1) as f64;
    let mut p = Vec::new();
    let mut r = Vec::new();
    for &x in xs {
        let above: Vec<&(f64, bool)> = scored.iter().take_while(|s| s.0 >= x).collect();
        let tp = above.iter().filter(|s| s.1).count() as f64;
        let n = above.len() as f64;
        let lowest = scored.last().map_or(f64::INFINITY, |s| s.0);
        if x < lowest {
            p.push(f64::NAN);
            r.push(f64::NAN);
        } else {
            p.push(if n > 0.0 { tp / n } else { 1.0 });
            r.push(tp / total);
        }
    }
    (p, r)
}

/// Sample pairs: just above and below each threshold, vetoed, ambiguous.
fn sample_pairs(result: &LinkResult, match_w: f64, review_w: f64) -> Vec<(&'static str, Link)> {
    let mut out = Vec::new();
    let weight = |l: &Link| l.weight.map_or(f64::NAN, MatchWeight::bits);
    let nearest = |pred: &dyn Fn(&Link) -> bool, target: f64| {
        result
            .links
            .iter()
            .filter(|l| pred(l) && l.weight.is_some())
            .min_by(|a, b| {
                (weight(a) - target)
                    .abs()
                    .total_cmp(&(weight(b) - target).abs())
            })
            .copied()
    };
    let picks: [(&'static str, Option<Link>); 5] = [
        (
            "just above the match threshold",
            nearest(
                &|l| l.decision == Decision::Match && weight(l) >= match_w,
                match_w,
            ),
        ),
        (
            "just below the match threshold",
            nearest(
                &|l| l.decision == Decision::Review && weight(l) < match_w,
                match_w,
            ),
        ),
        (
            "just above the review threshold",
            nearest(&|l| weight(l) >= review_w, review_w),
        ),
        (
            "vetoed",
            result
                .links
                .iter()
                .find(|l| matches!(l.reason, Some(crate::link::Reason::Veto(_))))
                .copied(),
        ),
        (
            "ambiguous",
            result
                .links
                .iter()
                .find(|l| l.decision == Decision::Ambiguous && l.weight.is_some())
                .copied(),
        ),
    ];
    for (what, l) in picks {
        if let Some(l) = l {
            out.push((what, l));
        }
    }
    out
}

fn waterfalls(input: &ReportInput<'_>) -> String {
    let Some(m) = input.model else {
        return "<p class=\"note\">No model: no waterfalls.</p>".into();
    };
    let Some(explain) = &input.explain else {
        return "<p class=\"note\">No explanations: write the pairs file with --explain to see the sample pairs' waterfalls.</p>".into();
    };
    let t = m.thresholds();
    let picks = sample_pairs(
        input.result,
        MatchWeight::of_probability(t.match_probability).bits(),
        MatchWeight::of_probability(t.review_probability).bits(),
    );
    if picks.is_empty() {
        return "<p class=\"note\">No pair was written with a weight.</p>".into();
    }
    let mut s = String::from(
        "<p class=\"note\">How each sample pair's weight is made: the prior, then what each comparison's level adds (with its term-frequency adjustment).</p>",
    );
    for (what, l) in picks {
        let Some(e) = explain(l.pair) else { continue };
        let mut steps = vec![("prior".to_string(), e.prior)];
        for c in &e.contributions {
            steps.push((
                format!("{}: {}", c.field, c.level),
                c.weight + c.tf_adjustment,
            ));
        }
        let _ = write!(
            s,
            "<h3>{what}: {} ({}{})</h3>{}",
            l.decision.as_str(),
            format_args!("weight {:+.2}", e.weight.bits()),
            {
                let r = input.result.reason_text(&l);
                if r.is_empty() {
                    String::new()
                } else {
                    format!(", {r}")
                }
            },
            svg::waterfall(&steps)
        );
        if input.show_records {
            let rows: Vec<Vec<String>> = std::iter::once(vec![
                "record id".to_string(),
                input.records.id(l.pair.left).to_string(),
                input.records.id(l.pair.right).to_string(),
            ])
            .chain(crate::review::value_columns(input.records).iter().map(|c| {
                vec![
                    c.clone(),
                    crate::review::value(input.records, l.pair.left, c).unwrap_or_default(),
                    crate::review::value(input.records, l.pair.right, c).unwrap_or_default(),
                ]
            }))
            .collect();
            s.push_str(&table(&["column", "left", "right"], &rows));
        }
    }
    s
}

/// Pairs listed in the clerical review section at most (the review file has them all).
const REVIEW_LISTED: usize = 100;

/// The pairs a person must decide: how many, why, and with `--report-records` the first
/// [`REVIEW_LISTED`] with both records' values, as `carematch review` writes them.
fn review(input: &ReportInput<'_>) -> String {
    let queue = crate::review::queue(input.result, 0, 0);
    let reviewed = input
        .result
        .links
        .iter()
        .filter(|l| {
            matches!(
                l.reason,
                Some(crate::link::Reason::ReviewedMatch | crate::link::Reason::ReviewedUnsure)
            )
        })
        .count();
    let mut s = String::new();
    let _ = write!(
        s,
        "<p>{} pairs to decide: every <code>review</code> and <code>ambiguous</code> pair. \
         <code>carematch review --pairs P.csv --left A.csv --right B.csv --out review.csv</code> \
         writes them all with both records' values and an empty <code>decision</code> column \
         (<code>--audit N</code> adds N automatic matches drawn at random, to measure their \
         precision); <code>--reviewed review.csv</code> on the next run applies the decisions.{}</p>",
        num(queue.len() as f64),
        if reviewed > 0 {
            format!(
                " This run applied {} reviewers' decisions (kept as matches or as unsure).",
                num(reviewed as f64)
            )
        } else {
            String::new()
        }
    );
    if queue.is_empty() {
        return s;
    }
    let mut by: std::collections::BTreeMap<(&str, &str), u64> = std::collections::BTreeMap::new();
    for r in &queue {
        let reason = if r.reason.is_empty() { "-" } else { r.reason };
        *by.entry((r.status.as_str(), reason)).or_default() += 1;
    }
    let labels: Vec<String> = by.keys().map(|(d, r)| format!("{d}: {r}")).collect();
    let series = [Series {
        name: "pairs",
        colour: ORANGE,
        values: by.values().map(|&n| n as f64).collect(),
    }];
    s.push_str(&svg::hbars(&labels, &series, false, " pairs"));
    if !input.show_records {
        s.push_str(
            "<p class=\"note\">Write the report with --report-records to list the pairs with \
             both records' values here.</p>",
        );
        return s;
    }
    let columns = crate::review::value_columns(input.records);
    let mut head: Vec<&str> = vec!["pair", "record id", "decided", "reason", "weight"];
    head.extend(columns.iter().map(String::as_str));
    head.push("decision");
    let mut rows = Vec::new();
    for (i, r) in queue.iter().take(REVIEW_LISTED).enumerate() {
        for (side, row) in [r.pair.left, r.pair.right].into_iter().enumerate() {
            let first = side == 0;
            let pair_cell = |x: String| if first { x } else { String::new() };
            let mut cells = vec![
                pair_cell((i + 1).to_string()),
                input.records.id(row).to_string(),
                pair_cell(r.status.as_str().to_string()),
                pair_cell(r.reason.to_string()),
                pair_cell(
                    r.weight
                        .map_or(String::new(), |w| format!("{:+.2}", w.bits())),
                ),
            ];
            cells.extend(
                columns
                    .iter()
                    .map(|c| crate::review::value(input.records, row, c).unwrap_or_default()),
            );
            cells.push(String::new());
            rows.push(cells);
        }
    }
    if queue.len() > REVIEW_LISTED {
        let _ = write!(
            s,
            "<p class=\"note\">The first {REVIEW_LISTED} of {} pairs, in the review file's order; \
             the review file has them all.</p>",
            num(queue.len() as f64)
        );
    }
    s.push_str(&table(&head, &rows));
    s
}

fn clusters(input: &ReportInput<'_>) -> String {
    let Some(c) = input.clusters else {
        return "<p class=\"note\">Not clustered in this run (give --clusters).</p>".into();
    };
    // Per person (by number): records, and its NHS numbers: the first, and whether a
    // second, different one was seen. Flat vectors: a report at 14M records stays cheap.
    let n_people = c.len();
    let mut size = vec![0u64; n_people];
    let mut first_nhs: Vec<Option<u64>> = vec![None; n_people];
    let mut several = vec![false; n_people];
    for row in 0..input.records.len() as u32 {
        let k = c.person_index(row);
        size[k] += 1;
        if let Some(n) = input.records.nhs_number(row) {
            match first_nhs[k] {
                None => first_nhs[k] = Some(n),
                Some(f) if f != n => several[k] = true,
                Some(_) => {}
            }
        }
    }
    let mut by_size: std::collections::BTreeMap<u64, u64> = std::collections::BTreeMap::new();
    for &n in &size {
        *by_size.entry(n).or_default() += 1;
    }
    let several_nhs = several.iter().filter(|&&x| x).count();
    let labels: Vec<String> = by_size
        .keys()
        .map(|&k| format!("{k} record{}", if k == 1 { "" } else { "s" }))
        .collect();
    let rows = largest_clusters(input, c, &size);
    let nhs = if first_nhs.iter().any(Option::is_some) {
        format!(
            "{} people hold more than one valid NHS number; {} links were not merged because their records carry different NHS numbers",
            num(several_nhs as f64),
            num(c.refused_merges() as f64)
        )
    } else {
        "no NHS numbers known".into()
    };
    format!(
        "<p>{} records in {} people; {nhs}.</p>{}<h3>Largest clusters</h3>{}",
        num(input.records.len() as f64),
        num(c.len() as f64),
        svg::hbars(
            &labels,
            &[Series {
                name: "people",
                colour: BLUE,
                values: by_size.values().map(|v| *v as f64).collect()
            }],
            false,
            " people"
        ),
        table(
            &["person id", "records", "by source", "valid NHS numbers"],
            &rows
        )
    )
}

/// The ten largest clusters' rows: person id (hidden without `show_records`), records,
/// records per source, distinct valid NHS numbers.
fn largest_clusters(input: &ReportInput<'_>, c: &Clusters, size: &[u64]) -> Vec<Vec<String>> {
    let n_people = size.len();
    let mut largest: Vec<usize> = (0..n_people).collect();
    let top = 10.min(n_people);
    if top > 0 {
        largest.select_nth_unstable_by(top - 1, |&a, &b| {
            size[b]
                .cmp(&size[a])
                .then(c.id_of_index(a).cmp(c.id_of_index(b)))
        });
    }
    largest.truncate(top);
    largest.sort_by(|&a, &b| {
        size[b]
            .cmp(&size[a])
            .then(c.id_of_index(a).cmp(c.id_of_index(b)))
    });
    // Records per source and distinct NHS numbers of the largest only.
    let n_sources = input.records.sources().len();
    let mut per: Vec<Vec<u64>> = vec![vec![0; n_sources]; top];
    let mut nhs_of: Vec<Vec<u64>> = vec![Vec::new(); top];
    let slot: rustc_hash::FxHashMap<usize, usize> =
        largest.iter().enumerate().map(|(i, &k)| (k, i)).collect();
    for row in 0..input.records.len() as u32 {
        if let Some(&i) = slot.get(&c.person_index(row)) {
            per[i][input.records.source_of(row)] += 1;
            if let Some(n) = input.records.nhs_number(row)
                && !nhs_of[i].contains(&n)
            {
                nhs_of[i].push(n);
            }
        }
    }
    let source_names: Vec<&str> = input
        .records
        .sources()
        .iter()
        .map(|s| s.name.rsplit('/').next().unwrap_or(&s.name))
        .collect();
    largest
        .iter()
        .enumerate()
        .map(|(i, &k)| {
            vec![
                if input.show_records {
                    c.id_of_index(k).to_string()
                } else {
                    "(hidden)".into()
                },
                num(size[k] as f64),
                source_names
                    .iter()
                    .zip(&per[i])
                    .filter(|(_, n)| **n > 0)
                    .map(|(s, n)| format!("{s}: {n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                nhs_of[i].len().to_string(),
            ]
        })
        .collect()
}

fn settings(input: &ReportInput<'_>) -> String {
    let mut rows: Vec<Vec<String>> =
        vec![vec!["carematch".into(), env!("CARGO_PKG_VERSION").into()]];
    if let Some(m) = input.model {
        let t = m.thresholds();
        rows.push(vec![
            "match probability".into(),
            t.match_probability.to_string(),
        ]);
        rows.push(vec![
            "review probability".into(),
            t.review_probability.to_string(),
        ]);
        rows.push(vec![
            "ambiguity margin (bits)".into(),
            t.ambiguity_margin.to_string(),
        ]);
        rows.push(vec!["prior λ".into(), format!("{:e}", m.lambda())]);
        for r in m.blocking() {
            rows.push(vec!["model blocking rule".into(), r.to_string()]);
        }
    }
    for r in &input.result.rules {
        rows.push(vec!["deterministic rule".into(), r.name().to_string()]);
    }
    for (k, v) in &input.settings {
        rows.push(vec![k.clone(), v.clone()]);
    }
    table(&["setting", "value"], &rows)
}
