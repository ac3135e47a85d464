//! Precision, recall and F1 of predicted pairs against true pairs.

use std::fmt;
use std::path::Path;

use rustc_hash::FxHashSet;

use crate::Error;
use crate::csvread::CsvReader;

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
        let set = |pairs: Vec<(&'a str, &'a str)>| -> FxHashSet<(&'a str, &'a str)> {
            pairs.into_iter().map(norm).collect()
        };
        // The two sets are built side by side: at 1M people each holds about 480,000 pairs.
        let (truth, predicted): (Vec<_>, Vec<_>) =
            (truth.into_iter().collect(), predicted.into_iter().collect());
        let (truth, predicted) = rayon::join(|| set(truth), || set(predicted));
        let tp = predicted.iter().filter(|p| truth.contains(p)).count() as u64;
        Evaluation {
            true_positives: tp,
            false_positives: predicted.len() as u64 - tp,
            false_negatives: truth.len() as u64 - tp,
        }
    }

    /// The matches of `result` (on `records`) against true pairs of record ids.
    ///
    /// # Errors
    ///
    /// A usage error when there are true pairs but none of them names two records of
    /// `records`: the truth is for other data, or its columns are not the two ids (in a
    /// data frame, the first two columns are taken). Without the check such a truth gives
    /// an F1 of 0 that looks like a result.
    pub fn of_result<'a>(
        records: &'a crate::Records,
        result: &'a crate::LinkResult,
        truth: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Evaluation, Error> {
        let truth: Vec<(&str, &str)> = truth.into_iter().collect();
        if !truth.is_empty() && !names_two_records(records, &truth) {
            return Err(Error::new(
                crate::ErrorKind::Usage,
                format!(
                    "none of the {} true pairs names two records of the input: the truth must \
                     hold the two record ids of each true pair (left id, then right id)",
                    truth.len()
                ),
            ));
        }
        let predicted = result
            .matches()
            .map(|l| (records.id(l.pair.left), records.id(l.pair.right)));
        Ok(Evaluation::new(predicted, truth))
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
        f1(self.precision(), self.recall())
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

/// True for a column name that names an id: `left_id`, `rec_id_1`, `ID`, `gp_id`, `idB`.
fn is_id_header(h: &str) -> bool {
    h.to_ascii_lowercase().contains("id")
}

/// Id pairs read from a CSV file.
pub struct PairFile {
    /// Every pair's two ids one after the other, in one arena (two allocations per pair
    /// cost a tenth of a 1M-person link's evaluation).
    ids: String,
    /// The end of each id in `ids`: pair `i`'s are `2 * i` and `2 * i + 1`.
    ends: Vec<usize>,
    /// The line of each pair in the file.
    lines: Vec<u64>,
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
        let (name, f) = crate::csvread::open(path)?;
        let mut rdr = CsvReader::new(&name, f, false, None)?;
        let headers = rdr.headers().to_vec();
        if headers.len() < 2 {
            return Err(Error::input_at(&name, 1, None, "needs two id columns"));
        }
        if !headers[..2].iter().all(|h| is_id_header(h)) {
            // The header's names are not shown: without a header they are a pair of ids.
            return Err(Error::input_at(
                &name,
                1,
                None,
                "the first two columns must be the pair's ids, under a header that names them \
                 (for example left_id,right_id); is the header missing, or are the columns in \
                 another order?",
            ));
        }
        let col = |n: &str| headers.iter().position(|h| h == n);
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
        let (mut ids, mut ends) = (String::new(), Vec::new());
        let mut lines = Vec::new();
        let mut raw = csv::ByteRecord::new();
        while let Some(line) = rdr.read(&mut raw)? {
            let rec = crate::csvread::text_fields(&raw, &name, line)?;
            let (a, b) = (rec[0], rec[1]);
            if a.is_empty() || b.is_empty() {
                let c = if a.is_empty() {
                    &headers[0]
                } else {
                    &headers[1]
                };
                return Err(Error::input_at(&name, line, Some(c), "empty id"));
            }
            if let Some(d) = decision
                && rec[d] != "match"
            {
                continue;
            }
            if let (Some(p), Some(t)) = (prob, threshold) {
                let v: f64 = rec[p].parse().map_err(|_| {
                    Error::input_at(&name, line, Some("match_probability"), "not a number")
                })?;
                if v < t {
                    continue;
                }
            }
            for id in [a, b] {
                ids.push_str(id);
                ends.push(ids.len());
            }
            lines.push(line);
        }
        Ok(PairFile { ids, ends, lines })
    }

    /// The line in the file of each pair, in the order of [`PairFile::pairs`].
    pub fn lines(&self) -> &[u64] {
        &self.lines
    }

    /// The pairs.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        let id = |i: usize| {
            let start = if i == 0 { 0 } else { self.ends[i - 1] };
            &self.ids[start..self.ends[i]]
        };
        (0..self.lines.len()).map(move |p| (id(2 * p), id(2 * p + 1)))
    }
}

/// Whether any of `truth` names two records of `records`. The first [`FIRST_PAIRS`] pairs'
/// ids are looked for among the records' (a small table that stays in cache); only when none
/// of those pairs is found are all the truth's ids looked for.
fn names_two_records(records: &crate::Records, truth: &[(&str, &str)]) -> bool {
    use rayon::prelude::*;
    let found = |pairs: &[(&str, &str)]| {
        let mut slot: rustc_hash::FxHashMap<&str, usize> = rustc_hash::FxHashMap::default();
        for &(a, b) in pairs {
            for id in [a, b] {
                let next = slot.len();
                slot.entry(id).or_insert(next);
            }
        }
        // Every row's id looked up, the rows split between the threads (on one thread this
        // was 1.4M lookups in a row at the end of the 1M link).
        let none = || vec![false; slot.len()];
        let seen = (0..records.len() as u32)
            .into_par_iter()
            .fold(none, |mut seen, r| {
                if let Some(&i) = slot.get(records.id(r)) {
                    seen[i] = true;
                }
                seen
            })
            .reduce(none, |mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x |= y);
                a
            });
        pairs.iter().any(|(a, b)| seen[slot[a]] && seen[slot[b]])
    };
    let first = &truth[..truth.len().min(FIRST_PAIRS)];
    found(first) || (first.len() < truth.len() && found(truth))
}

/// How many truth pairs [`names_two_records`] looks for first.
const FIRST_PAIRS: usize = 1000;

/// The harmonic mean of a precision and a recall; 0 when both are 0.
pub(crate) fn f1(p: f64, r: f64) -> f64 {
    if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
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
