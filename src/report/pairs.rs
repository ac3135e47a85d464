//! A report of an earlier run, from its pairs file and model alone: the records are known
//! only by their ids (those of the pairs, and of the truth when one is given).

use std::collections::BTreeSet;
use std::path::Path;

use rustc_hash::FxHashMap;

use crate::block::{Mode, Pair};
use crate::csvread::{CsvReader, text_fields};
use crate::error::Error;
use crate::estimate::{ScoreHistogram, Scores};
use crate::link::{Link, LinkResult, Reason};
use crate::model::{Contribution, Explanation, MatchWeight, Model, Veto};
use crate::record::Records;

/// An earlier run rebuilt from its pairs: the records (ids only), the mode, the result and
/// the explanations the file carries (written with `--explain`).
pub struct PairsRun {
    /// One source of ids (a dedupe) or two (a link).
    pub records: Records,
    /// How the ids pair.
    pub mode: Mode,
    /// The pairs, as a run's result.
    pub result: LinkResult,
    /// The rows of the truth's pairs, when a truth was given.
    pub truth: Option<Vec<Pair>>,
    explanations: FxHashMap<Pair, Explanation>,
}

impl std::fmt::Debug for PairsRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PairsRun")
            .field("pairs", &self.result.links.len())
            .finish_non_exhaustive()
    }
}

/// A table of pairs: the column names and the rows' fields.
type Table = (Vec<String>, Vec<Vec<String>>);

fn read_table(path: &Path) -> Result<(String, Table), Error> {
    let (name, f) = crate::csvread::open(path)?;
    let mut rdr = CsvReader::new(&name, f, false, None)?;
    let headers = rdr.headers().to_vec();
    let mut rows = Vec::new();
    let mut raw = csv::ByteRecord::new();
    while let Some(line) = rdr.read(&mut raw)? {
        let rec = text_fields(&raw, &name, line)?;
        rows.push(rec.iter().map(|s| (*s).to_string()).collect());
    }
    Ok((name, (headers, rows)))
}

impl PairsRun {
    /// Reads a pairs file written by `link`, `dedupe` or `index add` (and the truth file,
    /// two id columns, when given). The run is taken as a dedupe when an id is on both
    /// sides of the pairs, else as a link.
    ///
    /// # Errors
    ///
    /// An input error naming the file, line and column for a file without the pairs file's
    /// columns, or a weight or decision that cannot be read.
    pub fn read(path: &Path, truth: Option<&Path>, model: &Model) -> Result<PairsRun, Error> {
        let (name, table) = read_table(path)?;
        let truth = match truth {
            Some(t) => {
                let f = crate::evaluate::PairFile::read(t, false, None)?;
                Some(
                    f.pairs()
                        .map(|(a, b)| (a.to_string(), b.to_string()))
                        .collect(),
                )
            }
            None => None,
        };
        Self::from_table(&name, &table, truth, model, None)
    }

    /// As [`PairsRun::read`], from a table in memory (`index add`'s pairs: `link` true,
    /// batch records on the left). `truth` pairs of ids, when known.
    ///
    /// # Errors
    ///
    /// As [`PairsRun::read`]; `name` names the table.
    pub fn from_table(
        name: &str,
        (headers, rows): &Table,
        truth: Option<Vec<(String, String)>>,
        model: &Model,
        link: Option<bool>,
    ) -> Result<PairsRun, Error> {
        let cols = crate::output::PairsColumns::new(name, headers)?;
        let (li, ri) = (cols.id_column(0), cols.id_column(1));
        let (records, mode) = id_records(rows, (li, ri), truth.as_ref(), link)?;
        let dedupe = matches!(mode, Mode::Dedupe { .. });
        let all_ids = |side: usize| rows.iter().map(move |r| r[[li, ri][side]].as_str());
        let pairs = mode
            .pairs_of_ids(&records, all_ids(0).zip(all_ids(1)))
            .map_err(|(i, _)| Error::input_at(name, i as u64 + 2, None, "an id is empty"))?;
        let fields: Vec<String> = model
            .comparisons()
            .iter()
            .map(|c| c.field.clone())
            .collect();
        let mut links = Vec::with_capacity(rows.len());
        let mut histogram = ScoreHistogram::new();
        let mut explanations = FxHashMap::default();
        for (i, (row, &pair)) in rows.iter().zip(&pairs).enumerate() {
            let line = i as u64 + 2;
            let r = cols.row(name, line, row)?;
            let (weight, decision) = (r.weight, r.decision);
            if let Some(w) = weight {
                histogram.add(None, w);
                if let Some(e) = explanation(headers, row, &fields, w) {
                    explanations.insert(pair, e);
                }
            }
            let pair = if dedupe && records.rank(pair.right) < records.rank(pair.left) {
                Pair {
                    left: pair.right,
                    right: pair.left,
                }
            } else {
                pair
            };
            links.push(Link {
                pair,
                rule: None,
                weight,
                decision,
                reason: reason(r.reason, &fields),
            });
        }
        let truth = truth.map(|t| {
            mode.pairs_of_ids(&records, t.iter().map(|(a, b)| (a.as_str(), b.as_str())))
                .unwrap_or_default()
        });
        let result = LinkResult {
            links,
            rules: Vec::new(),
            candidates: 0,
            rule_candidates: 0,
            comparisons: fields,
            scores: Some(Scores::of_histogram(
                histogram,
                0.0,
                model.blocking_recall(),
            )),
            new_pairs_per_rule: Vec::new(),
        };
        Ok(PairsRun {
            records,
            mode,
            result,
            truth,
            explanations,
        })
    }

    /// The explanation of a pair the file explains.
    pub fn explanation(&self, pair: Pair) -> Option<Explanation> {
        let key = |p: Pair| self.explanations.get(&p).cloned();
        key(pair).or_else(|| {
            key(Pair {
                left: pair.right,
                right: pair.left,
            })
        })
    }

    /// Whether the file carried explanations (written with `--explain`).
    pub fn explained(&self) -> bool {
        !self.explanations.is_empty()
    }
}

/// Records of the ids of `rows`' columns `li` and `ri` and of the truth, and the mode that
/// pairs them: a dedupe when `link` says so, or (`None`) when an id is on both sides.
fn id_records(
    rows: &[Vec<String>],
    (li, ri): (usize, usize),
    truth: Option<&Vec<(String, String)>>,
    link: Option<bool>,
) -> Result<(Records, Mode), Error> {
    let ids = |side: usize| -> BTreeSet<&str> {
        let from_pairs = rows.iter().map(move |r| r[[li, ri][side]].as_str());
        let from_truth = truth
            .into_iter()
            .flatten()
            .map(move |t| [&t.0, &t.1][side].as_str());
        from_pairs.chain(from_truth).collect()
    };
    let (left, right) = (ids(0), ids(1));
    let dedupe = link.map_or_else(|| left.intersection(&right).next().is_some(), |l| !l);
    let mut b = Records::builder();
    if dedupe {
        let all: BTreeSet<&str> = left.union(&right).copied().collect();
        b.add_reader("records", id_csv(&all).as_slice())?;
    } else {
        b.add_reader("left", id_csv(&left).as_slice())?;
        b.add_reader("right", id_csv(&right).as_slice())?;
    }
    let (records, _) = b.build()?;
    let mode = if dedupe {
        Mode::dedupe(&records, 0)?
    } else {
        Mode::link(&records, 0, 1)?
    };
    Ok((records, mode))
}

/// A one-column CSV of ids, quoted as needed.
fn id_csv(ids: &BTreeSet<&str>) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(["id"]);
    for id in ids {
        let _ = w.write_record([id]);
    }
    w.into_inner().unwrap_or_default()
}

/// The reason column's text back as a [`Reason`].
fn reason(text: &str, fields: &[String]) -> Option<Reason> {
    let field = |f: &str| fields.iter().position(|x| x == f).map(|i| i as u8);
    match text {
        "" => None,
        "below_threshold" => Some(Reason::BelowThreshold),
        "ambiguous" => Some(Reason::Ambiguous),
        "one_to_one" => Some(Reason::OneToOne),
        "reviewed:match" => Some(Reason::ReviewedMatch),
        "reviewed:unsure" => Some(Reason::ReviewedUnsure),
        "veto:newborn_placeholder" => Some(Reason::Veto(Veto::Placeholder)),
        t => {
            let v = t.strip_prefix("veto:")?;
            match v.strip_prefix("missing_") {
                Some(f) => field(f).map(|i| Reason::Veto(Veto::Missing(i))),
                None => field(v).map(|i| Reason::Veto(Veto::Comparison(i))),
            }
        }
    }
}

/// A row's explanation from the `--explain` columns (`prior`, then `<field>_level`,
/// `_weight`, `_tf` per comparison), `None` when they are absent or unreadable.
fn explanation(
    headers: &[String],
    row: &[String],
    fields: &[String],
    weight: MatchWeight,
) -> Option<Explanation> {
    let get = |n: &str| headers.iter().position(|h| h == n).map(|i| row[i].as_str());
    let prior = get("prior")?.parse().ok()?;
    let contributions = fields
        .iter()
        .map(|f| {
            Some(Contribution {
                field: f.clone(),
                level: get(&format!("{f}_level"))?.to_string(),
                weight: get(&format!("{f}_weight"))?.parse().ok()?,
                tf_adjustment: get(&format!("{f}_tf"))?.parse().ok()?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Explanation {
        prior,
        contributions,
        weight,
    })
}
