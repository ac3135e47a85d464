//! Clerical review: the pairs a person must decide, written side by side, and their
//! decisions fed back into later runs.
//!
//! A review file holds one row per pair for review (`review` and `ambiguous`, and with an
//! audit sample some automatic matches): the ids, an empty `decision` column for the
//! reviewer (`match`, `non-match` or `unsure`), the run's status and reason, the match
//! weight, and both records' values column by column. `link` and `dedupe` read it back with
//! `--reviewed` ([`ReviewedPairs`], [`LinkResult::apply_reviewed`]): a `match` is linked and a
//! `non-match` never is, in that run and every later one given the file, because decisions
//! are kept by record ids; `unsure` stays for review.

use std::path::Path;

use rustc_hash::FxHashMap;

use crate::block::{Mode, Pair};
use crate::csvread::{CsvReader, text_fields};
use crate::csvwrite::{create, finish, write_err};
use crate::error::Error;
use crate::files::NewFile;
use crate::link::{Decision, Link, LinkResult, Reason};
use crate::model::MatchWeight;
use crate::record::Records;
use crate::schema::Role;

/// A reviewer's decision on a pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// The same person: link.
    Match,
    /// Not the same person: never link.
    NonMatch,
    /// Cannot tell: keep for review.
    Unsure,
}

impl Verdict {
    /// `match`, `non-match` or `unsure`, as the review file holds it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Match => "match",
            Verdict::NonMatch => "non-match",
            Verdict::Unsure => "unsure",
        }
    }

    /// A decision as a reviewer may type it (case and surrounding space ignored; `yes`,
    /// `no`, `non_match`, `nonmatch` and `?` accepted); `Ok(None)` for an empty cell.
    ///
    /// # Errors
    ///
    /// `Err(())` for any other text.
    #[allow(
        clippy::result_unit_err,
        reason = "the caller names the file, line and column"
    )]
    pub fn parse(text: &str) -> Result<Option<Verdict>, ()> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "match" | "yes" | "y" | "same" => Ok(Some(Verdict::Match)),
            "non-match" | "non_match" | "nonmatch" | "no" | "n" | "different" => {
                Ok(Some(Verdict::NonMatch))
            }
            "unsure" | "?" | "unknown" => Ok(Some(Verdict::Unsure)),
            _ => Err(()),
        }
    }
}

/// One pair for review.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReviewRow {
    /// The rows (in a dedupe, the smaller id on the left).
    pub pair: Pair,
    /// The match weight, when there was a model.
    pub weight: Option<MatchWeight>,
    /// What the run decided: `review`, `ambiguous`, or `match` for an audited match.
    pub status: Decision,
    /// Why it is here: the pairs file's reason, or `audit` for an audited match.
    pub reason: &'static str,
}

/// The review reasons a row can carry: the run's reasons, reduced to their kind.
fn reason_kind(text: &str) -> &'static str {
    match text.split(':').next().unwrap_or("") {
        "veto" => "veto",
        "below_threshold" => "below_threshold",
        "ambiguous" => "ambiguous",
        "one_to_one" => "one_to_one",
        "reviewed" => "reviewed",
        "audit" => "audit",
        _ => "",
    }
}

/// The pairs of `result` a person must decide (every `review` and `ambiguous` pair), then
/// `audit` automatic matches drawn at random (by `seed`, in the order of their ids) so that
/// the reviewers' decisions measure the precision of the automatic matches.
pub fn queue(result: &LinkResult, audit: usize, seed: u64) -> Vec<ReviewRow> {
    let rows: Vec<ReviewRow> = result
        .links
        .iter()
        .filter(|l| l.decision != Decision::Match)
        .map(|l| ReviewRow {
            pair: l.pair,
            weight: l.weight,
            status: l.decision,
            reason: reason_kind(&result.reason_text(l)),
        })
        .collect();
    let matches: Vec<ReviewRow> = result
        .matches()
        .map(|l| ReviewRow {
            pair: l.pair,
            weight: l.weight,
            status: Decision::Match,
            reason: "",
        })
        .collect();
    with_audit(rows, &matches, audit, seed)
}

/// `rows`, then `audit` of the automatic `matches` drawn by `seed`, marked `audit`.
fn with_audit(
    mut rows: Vec<ReviewRow>,
    matches: &[ReviewRow],
    audit: usize,
    seed: u64,
) -> Vec<ReviewRow> {
    for i in sample(matches.len(), audit, seed) {
        rows.push(ReviewRow {
            reason: "audit",
            ..matches[i]
        });
    }
    rows
}

/// `k` distinct indices of `0..n`, sorted, drawn by `seed` (a partial Fisher-Yates shuffle).
fn sample(n: usize, k: usize, seed: u64) -> Vec<usize> {
    let k = k.min(n);
    let mut idx: Vec<usize> = (0..n).collect();
    let mut rng = crate::rng::Rng::new(seed, 0xa0d1, 0);
    for i in 0..k {
        let j = i + rng.below((n - i) as u64) as usize;
        idx.swap(i, j);
    }
    let mut out = idx[..k].to_vec();
    out.sort_unstable();
    out
}

/// The review rows of a pairs file written by `link` or `dedupe` (`review` and `ambiguous`
/// pairs, then `audit` matches drawn by `seed`), its ids found in `records` by `mode`.
///
/// # Errors
///
/// An input error naming the file, line and column for a file without the pairs file's
/// columns, an id its source lacks, or a weight that is not a number.
pub fn queue_from_pairs_file(
    path: &Path,
    records: &Records,
    mode: &Mode,
    audit: usize,
    seed: u64,
) -> Result<Vec<ReviewRow>, Error> {
    let (name, f) = crate::csvread::open(path)?;
    let mut rdr = CsvReader::new(&name, f, false, None)?;
    let headers = rdr.headers().to_vec();
    let cols = crate::output::PairsColumns::new(&name, &headers)?;
    let ids = IdRows::new(records, mode);
    let mut rows = Vec::new();
    let mut matches = Vec::new();
    let mut raw = csv::ByteRecord::new();
    while let Some(line) = rdr.read(&mut raw)? {
        let rec = text_fields(&raw, &name, line)?;
        let r = cols.row(&name, line, &rec)?;
        let pair = ids.pair(r.left_id, r.right_id).map_err(|side| {
            Error::input_at(
                &name,
                line,
                Some(&headers[cols.id_column(side)]),
                &format!("the id is not in the {} input", ["left", "right"][side]),
            )
        })?;
        let (weight, status, reason) = (r.weight, r.decision, reason_kind(r.reason));
        let row = ReviewRow {
            pair,
            weight,
            status,
            reason,
        };
        if status == Decision::Match {
            matches.push(row);
        } else {
            rows.push(row);
        }
    }
    Ok(with_audit(rows, &matches, audit, seed))
}

/// Record ids to rows, by side of a mode.
struct IdRows<'a> {
    left: FxHashMap<&'a str, u32>,
    right: Option<FxHashMap<&'a str, u32>>,
    records: &'a Records,
    dedupe: bool,
}

impl<'a> IdRows<'a> {
    fn new(records: &'a Records, mode: &Mode) -> IdRows<'a> {
        let map = |rows: std::ops::Range<u32>| rows.map(|r| (records.id(r), r)).collect();
        match mode {
            Mode::Link { left, right } => IdRows {
                left: map(left.clone()),
                right: Some(map(right.clone())),
                records,
                dedupe: false,
            },
            Mode::Dedupe { rows } => IdRows {
                left: map(rows.clone()),
                right: None,
                records,
                dedupe: true,
            },
        }
    }

    /// The pair of rows of two ids (a dedupe pair oriented smaller id first); `Err(side)`
    /// for the first id its source lacks.
    fn pair(&self, a: &str, b: &str) -> Result<Pair, usize> {
        let l = *self.left.get(a).ok_or(0usize)?;
        let r = *self
            .right
            .as_ref()
            .unwrap_or(&self.left)
            .get(b)
            .ok_or(1usize)?;
        let p = Pair { left: l, right: r };
        Ok(
            if self.dedupe && self.records.rank(r) < self.records.rank(l) {
                Pair { left: r, right: l }
            } else {
                p
            },
        )
    }
}

/// The value columns of a review file, in order: the roles the records carry (by their
/// role names: `given_name`, `dob`, …), then their other columns.
pub fn value_columns(records: &Records) -> Vec<String> {
    let n = records.len() as u32;
    let mut cols: Vec<String> = Role::ALL
        .iter()
        .filter(|&&r| r != Role::Id && (0..n).any(|row| role_value(records, row, r).is_some()))
        .map(|r| r.as_str().to_string())
        .collect();
    cols.extend(records.other_columns().map(str::to_string));
    cols
}

/// A record's value in a review column (as normalised), `None` when missing.
pub fn value(records: &Records, row: u32, column: &str) -> Option<String> {
    match Role::parse(column) {
        Some(r) if r.as_str() == column => role_value(records, row, r),
        _ => records.other(column, row).map(str::to_string),
    }
}

fn role_value(records: &Records, row: u32, role: Role) -> Option<String> {
    match role {
        Role::Id => Some(records.id(row).to_string()),
        Role::NhsNumber => records.nhs_number(row).map(|n| {
            let s = format!("{n:010}");
            format!("{} {} {}", &s[..3], &s[3..6], &s[6..])
        }),
        Role::GivenName => records.given_name(row).map(str::to_string),
        Role::Surname => records.surname(row).map(str::to_string),
        Role::DateOfBirth => records.date_of_birth(row).map(|d| d.to_string()),
        Role::Sex => records.sex(row).map(|s| s.as_str().to_string()),
        Role::Postcode => records.postcode(row).map(str::to_string),
        Role::Address => records.address(row).map(str::to_string),
    }
}

/// The first columns of a review file; `left_<column>,right_<column>` per value column follow.
pub const REVIEW_HEADER: [&str; 7] = [
    "left_id",
    "right_id",
    "decision",
    "status",
    "reason",
    "match_weight",
    "match_probability",
];

/// Stages the review file at `path` (CSV): `left_id,right_id,decision,status,reason,
/// match_weight,match_probability`, then `left_<column>,right_<column>` for each of
/// [`value_columns`]. `decision` is empty, for the reviewer.
///
/// # Errors
///
/// An I/O error naming `path`.
pub fn stage_review_csv(
    path: &Path,
    records: &Records,
    rows: &[ReviewRow],
) -> Result<NewFile, Error> {
    let cols = value_columns(records);
    let mut w = create(path)?;
    let werr = |e: csv::Error| write_err(path, &e);
    let mut header: Vec<String> = REVIEW_HEADER.iter().map(|s| (*s).to_string()).collect();
    for c in &cols {
        header.push(format!("left_{c}"));
        header.push(format!("right_{c}"));
    }
    w.write_record(&header).map_err(werr)?;
    for r in rows {
        let mut rec: Vec<String> = vec![
            records.id(r.pair.left).to_string(),
            records.id(r.pair.right).to_string(),
            String::new(),
            r.status.as_str().to_string(),
            r.reason.to_string(),
            r.weight.map_or_else(String::new, |w| w.bits().to_string()),
            r.weight
                .map_or_else(String::new, |w| w.probability().get().to_string()),
        ];
        for c in &cols {
            rec.push(value(records, r.pair.left, c).unwrap_or_default());
            rec.push(value(records, r.pair.right, c).unwrap_or_default());
        }
        w.write_record(&rec).map_err(werr)?;
    }
    finish(path, w)
}

/// The decisions of a review file: pairs of record ids with a verdict (rows left
/// undecided are skipped).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ReviewedPairs {
    pairs: Vec<(String, String, Verdict)>,
}

impl std::fmt::Debug for ReviewedPairs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReviewedPairs")
            .field("pairs", &self.pairs.len())
            .finish_non_exhaustive()
    }
}

/// Why a reviewed row was refused: the column (`decision`, `left_id` or `right_id`) and
/// what is wrong, never the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowProblem {
    /// The column at fault.
    pub column: &'static str,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl ReviewedPairs {
    /// Reads a review file (any CSV with `left_id`, `right_id` and `decision` columns). A
    /// pair decided twice keeps its last decision.
    ///
    /// # Errors
    ///
    /// An input error naming the file, line and column for a missing column, an empty id,
    /// or a decision that is not `match`, `non-match` or `unsure` (nor empty).
    pub fn read(path: &Path) -> Result<ReviewedPairs, Error> {
        let (name, f) = crate::csvread::open(path)?;
        Self::from_reader(&name, f)
    }

    /// As [`ReviewedPairs::read`], from any reader; `name` names it in errors.
    ///
    /// # Errors
    ///
    /// As [`ReviewedPairs::read`].
    pub fn from_reader(name: &str, reader: impl std::io::Read) -> Result<ReviewedPairs, Error> {
        let mut rdr = CsvReader::new(name, reader, false, None)?;
        let headers = rdr.headers().to_vec();
        let need = |n: &str| {
            headers.iter().position(|h| h == n).ok_or_else(|| {
                Error::input_at(name, 1, Some(n), "missing: a review file is expected")
            })
        };
        let (li, ri, di) = (need("left_id")?, need("right_id")?, need("decision")?);
        let mut out = ReviewedPairs::default();
        let mut raw = csv::ByteRecord::new();
        while let Some(line) = rdr.read(&mut raw)? {
            let rec = text_fields(&raw, name, line)?;
            out.push(rec[li], rec[ri], rec[di])
                .map_err(|p| Error::input_at(name, line, Some(p.column), p.problem))?;
        }
        Ok(out)
    }

    /// Adds one reviewed row: skipped when its decision is empty (undecided), refused when
    /// the decision is not `match`, `non-match` or `unsure`, or an id is empty. The one
    /// check of a row for the review file, the C config key `reviewed` and Python.
    ///
    /// # Errors
    ///
    /// The column and problem of a refused row.
    pub fn push(&mut self, left: &str, right: &str, decision: &str) -> Result<(), RowProblem> {
        let verdict = Verdict::parse(decision).map_err(|()| RowProblem {
            column: "decision",
            problem: "the decision is not match, non-match or unsure (nor empty)",
        })?;
        let Some(verdict) = verdict else {
            return Ok(());
        };
        for (id, column, problem) in [
            (left, "left_id", "the left id is empty"),
            (right, "right_id", "the right id is empty"),
        ] {
            if id.trim().is_empty() {
                return Err(RowProblem { column, problem });
            }
        }
        self.pairs
            .push((left.to_string(), right.to_string(), verdict));
        Ok(())
    }

    /// The decided pairs: left id, right id, verdict.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str, Verdict)> {
        self.pairs
            .iter()
            .map(|(a, b, v)| (a.as_str(), b.as_str(), *v))
    }

    /// How many pairs are decided.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The rows of the pairs decided `match` whose ids are both in `records`: labelled true
    /// pairs for training.
    pub fn matched_rows(&self, records: &Records, mode: &Mode) -> Vec<Pair> {
        let ids = IdRows::new(records, mode);
        self.pairs()
            .filter(|(_, _, v)| *v == Verdict::Match)
            .filter_map(|(a, b, _)| ids.pair(a, b).ok())
            .collect()
    }
}

/// What applying reviewed decisions to a run changed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Applied {
    /// Pairs decided `match`, now linked (`reason` `reviewed:match`).
    pub matched: u64,
    /// Of them, pairs the run had not written at all (blocking or the scores left them out).
    pub added: u64,
    /// Pairs decided `non-match`, removed from the run's pairs.
    pub non_matches: u64,
    /// Pairs decided `unsure`, kept for review (`reason` `reviewed:unsure`).
    pub unsure: u64,
    /// Decisions whose records are no longer in the input (skipped).
    pub missing: u64,
    /// Decided pairs that were automatic matches and were decided `match`.
    pub audited_true: u64,
    /// Decided pairs that were automatic matches and were decided `non-match`.
    pub audited_false: u64,
    /// (weight in bits, decided `match`) of each decided pair of the run that had a weight
    /// (`unsure` left out): what the report's reviewed-precision curve is drawn from.
    pub labelled: Vec<(f64, bool)>,
}

impl Applied {
    /// The precision of the automatic matches among those reviewed (`None` when none was).
    pub fn audited_precision(&self) -> Option<f64> {
        let n = self.audited_true + self.audited_false;
        (n > 0).then(|| self.audited_true as f64 / n as f64)
    }
}

impl LinkResult {
    /// Applies reviewers' decisions as final: a `match` is linked (added when the run did
    /// not write the pair), a `non-match` removed, an `unsure` kept for review. Decisions
    /// are found by record ids, so a review file from an earlier run applies to a later one;
    /// decisions on records no longer present are counted and skipped.
    pub fn apply_reviewed(
        &mut self,
        records: &Records,
        mode: &Mode,
        reviewed: &ReviewedPairs,
    ) -> Applied {
        let ids = IdRows::new(records, mode);
        let mut decided: FxHashMap<Pair, Verdict> = FxHashMap::default();
        let mut applied = Applied::default();
        for (a, b, v) in reviewed.pairs() {
            match ids.pair(a, b) {
                Ok(p) => {
                    decided.insert(p, v);
                }
                Err(_) => applied.missing += 1,
            }
        }
        let mut seen: rustc_hash::FxHashSet<Pair> = rustc_hash::FxHashSet::default();
        let scores = &mut self.scores;
        self.links.retain_mut(|l| {
            let Some(&v) = decided.get(&l.pair) else {
                return true;
            };
            seen.insert(l.pair);
            let was_match = l.decision == Decision::Match && l.reason.is_none();
            match v {
                Verdict::Match => {
                    if let Some(w) = l.weight {
                        applied.labelled.push((w.bits(), true));
                    }
                    applied.matched += 1;
                    applied.audited_true += u64::from(was_match);
                    l.decision = Decision::Match;
                    l.reason = Some(Reason::ReviewedMatch);
                    true
                }
                Verdict::NonMatch => {
                    if let Some(w) = l.weight {
                        applied.labelled.push((w.bits(), false));
                    }
                    applied.non_matches += 1;
                    applied.audited_false += u64::from(was_match);
                    if let (Some(s), Some(w)) = (scores.as_mut(), l.weight) {
                        // Not a match: its probability leaves the expected misses.
                        s.remove(l.pair, w);
                    }
                    false
                }
                Verdict::Unsure => {
                    applied.unsure += 1;
                    l.decision = Decision::Review;
                    l.reason = Some(Reason::ReviewedUnsure);
                    true
                }
            }
        });
        let mut added: Vec<Link> = decided
            .iter()
            .filter(|(p, v)| **v == Verdict::Match && !seen.contains(p))
            .map(|(&pair, _)| Link {
                pair,
                rule: None,
                weight: None,
                decision: Decision::Match,
                reason: Some(Reason::ReviewedMatch),
            })
            .collect();
        applied.added = added.len() as u64;
        applied.matched += applied.added;
        for (p, v) in &decided {
            if *v != Verdict::Match && !seen.contains(p) {
                match v {
                    Verdict::NonMatch => applied.non_matches += 1,
                    _ => applied.unsure += 1,
                }
            }
        }
        self.links.append(&mut added);
        self.links
            .sort_unstable_by_key(|l| (records.rank(l.pair.left), records.rank(l.pair.right)));
        applied
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_parse_as_reviewers_type_them() {
        for (t, v) in [
            ("match", Some(Verdict::Match)),
            (" Yes ", Some(Verdict::Match)),
            ("NON-MATCH", Some(Verdict::NonMatch)),
            ("non_match", Some(Verdict::NonMatch)),
            ("no", Some(Verdict::NonMatch)),
            ("?", Some(Verdict::Unsure)),
            ("", None),
            ("  ", None),
        ] {
            assert_eq!(Verdict::parse(t), Ok(v), "{t}");
        }
        assert_eq!(Verdict::parse("maybe"), Err(()));
        for v in [Verdict::Match, Verdict::NonMatch, Verdict::Unsure] {
            assert_eq!(Verdict::parse(v.as_str()), Ok(Some(v)));
        }
    }

    #[test]
    fn the_audit_sample_is_distinct_sorted_and_seeded() {
        let a = sample(1000, 50, 7);
        assert_eq!(a.len(), 50);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(a, sample(1000, 50, 7));
        assert_ne!(a, sample(1000, 50, 8));
        assert_eq!(sample(3, 10, 1), vec![0, 1, 2]);
        assert!(sample(0, 5, 1).is_empty());
    }

    #[test]
    fn undecided_rows_are_skipped_and_the_debug_shows_no_id() {
        let text = "left_id,right_id,decision\nA1,B1,match\nA2,B2,\nA3,B3,unsure\n";
        let r = ReviewedPairs::from_reader("r.csv", text.as_bytes()).unwrap();
        assert_eq!(r.len(), 2);
        assert!(!format!("{r:?}").contains("A1"));
        let e = ReviewedPairs::from_reader("r.csv", "left_id,decision\nA1,match\n".as_bytes())
            .unwrap_err();
        assert!(e.to_string().contains("right_id"), "{e}");
    }
}
