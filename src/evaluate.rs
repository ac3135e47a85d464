//! Precision, recall and F1 of predicted pairs against true pairs.

use std::fmt;
use std::fs::File;
use std::path::Path;

use rustc_hash::FxHashSet;

use crate::Error;

/// Counts of a comparison of predicted with true pairs.
///
/// Pairs are unordered: `(a, b)` and `(b, a)` are one pair.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Evaluation {
    /// Predicted pairs that are true.
    pub true_positives: u64,
    /// Predicted pairs that are not true.
    pub false_positives: u64,
    /// True pairs not predicted.
    pub false_negatives: u64,
}

impl Evaluation {
    /// Compares `predicted` with `truth`; duplicates and orientation are ignored.
    pub fn new<'a>(
        predicted: impl IntoIterator<Item = (&'a str, &'a str)>,
        truth: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Evaluation {
        let norm = |(a, b): (&'a str, &'a str)| if a <= b { (a, b) } else { (b, a) };
        let truth: FxHashSet<(&str, &str)> = truth.into_iter().map(norm).collect();
        let predicted: FxHashSet<(&str, &str)> = predicted.into_iter().map(norm).collect();
        let tp = predicted.iter().filter(|p| truth.contains(p)).count() as u64;
        Evaluation {
            true_positives: tp,
            false_positives: predicted.len() as u64 - tp,
            false_negatives: truth.len() as u64 - tp,
        }
    }

    /// TP / (TP + FP); 0 when nothing was predicted.
    pub fn precision(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }

    /// TP / (TP + FN); 0 when there are no true pairs.
    pub fn recall(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }

    /// The harmonic mean of precision and recall; 0 when both are 0.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

impl fmt::Display for Evaluation {
    /// `precision: 0.9981` etc., one per line, then the counts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "precision: {:.4}", self.precision())?;
        writeln!(f, "recall: {:.4}", self.recall())?;
        writeln!(f, "f1: {:.4}", self.f1())?;
        write!(
            f,
            "true positives: {}, false positives: {}, false negatives: {}",
            self.true_positives, self.false_positives, self.false_negatives
        )
    }
}

/// Id pairs read from a CSV file.
pub struct PairFile {
    pairs: Vec<(String, String)>,
}

impl PairFile {
    /// Reads the first two columns of `path` as id pairs (a header first). When `predicted`
    /// is true and the file has a `decision` column, only rows whose decision is `match` are
    /// kept; with `threshold`, only rows whose `match_probability` is at least it.
    ///
    /// # Errors
    ///
    /// I/O errors, and input errors naming the file and line for malformed CSV, fewer than
    /// two columns, empty ids, or a probability that is not a number.
    pub fn read(path: &Path, predicted: bool, threshold: Option<f64>) -> Result<PairFile, Error> {
        let name = path.display().to_string();
        let f = File::open(path).map_err(|e| Error::io(path, "open", &e))?;
        let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(f);
        let headers = rdr
            .headers()
            .map_err(|e| crate::input::csv_error(&name, &e))?
            .clone();
        if headers.len() < 2 {
            return Err(Error::input_at(&name, 1, None, "needs two id columns"));
        }
        let col = |n: &str| headers.iter().position(|h| h.trim() == n);
        let decision = if predicted { col("decision") } else { None };
        let prob = if predicted && threshold.is_some() {
            Some(col("match_probability").ok_or_else(|| {
                Error::input_at(
                    &name,
                    1,
                    None,
                    "--threshold needs a match_probability column",
                )
            })?)
        } else {
            None
        };
        let mut pairs = Vec::new();
        for rec in rdr.records() {
            let rec = rec.map_err(|e| crate::input::csv_error(&name, &e))?;
            let line = rec.position().map_or(0, |p| p.line());
            if rec.len() != headers.len() {
                return Err(crate::input::ragged(&name, line, rec.len(), headers.len()));
            }
            let (a, b) = (rec[0].trim(), rec[1].trim());
            if a.is_empty() || b.is_empty() {
                let c = if a.is_empty() {
                    &headers[0]
                } else {
                    &headers[1]
                };
                return Err(Error::input_at(&name, line, Some(c), "empty id"));
            }
            if let Some(d) = decision {
                if rec[d].trim() != "match" {
                    continue;
                }
            }
            if let (Some(p), Some(t)) = (prob, threshold) {
                let v: f64 = rec[p].trim().parse().map_err(|_| {
                    Error::input_at(&name, line, Some("match_probability"), "not a number")
                })?;
                if v < t {
                    continue;
                }
            }
            pairs.push((a.to_string(), b.to_string()));
        }
        Ok(PairFile { pairs })
    }

    /// The pairs.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(a, b)| (a.as_str(), b.as_str()))
    }
}

/// Evaluates the pairs file at `pairs` against the truth file at `truth`.
///
/// # Errors
///
/// As [`PairFile::read`].
pub fn evaluate_files(
    pairs: &Path,
    truth: &Path,
    threshold: Option<f64>,
) -> Result<Evaluation, Error> {
    let p = PairFile::read(pairs, true, threshold)?;
    let t = PairFile::read(truth, false, None)?;
    Ok(Evaluation::new(p.pairs(), t.pairs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_ignore_orientation_and_duplicates() {
        let e = Evaluation::new(
            [("a", "b"), ("c", "d"), ("b", "a"), ("x", "y")],
            [("b", "a"), ("d", "c"), ("e", "f")],
        );
        assert_eq!(
            e,
            Evaluation {
                true_positives: 2,
                false_positives: 1,
                false_negatives: 1
            }
        );
        assert!((e.precision() - 2.0 / 3.0).abs() < 1e-12);
        assert!((e.recall() - 2.0 / 3.0).abs() < 1e-12);
        assert!((e.f1() - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn nothing_predicted_gives_zero_not_nan() {
        let e = Evaluation::new([], [("a", "b")]);
        assert_eq!(e.precision(), 0.0);
        assert_eq!(e.f1(), 0.0);
        assert!(
            e.to_string()
                .starts_with("precision: 0.0000\nrecall: 0.0000\nf1: 0.0000")
        );
    }
}
