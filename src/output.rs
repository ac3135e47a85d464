//! Writing results: the pairs and clusters CSV files of the command-line contract.

//!
//! Each writer comes in two forms: `write_*` writes the file and commits it at once;
//! `stage_*` writes it to a [`NewFile`] that the caller commits with the run's other outputs
//! ([`crate::files::commit_all`]), so that a run that fails leaves no file changed.

use std::path::Path;

use rayon::prelude::*;

use crate::cluster::{Clusters, PersonChange};
use crate::csvwrite::{create, finish, write_err};
pub use crate::csvwrite::{stage_csv, write_csv};
use crate::error::{Error, ErrorKind};
use crate::files::NewFile;
use crate::link::LinkResult;
use crate::model::{Model, Scorer};
use crate::record::Records;

/// The columns of the pairs file, before any explanation columns.
pub const PAIRS_HEADER: [&str; 7] = [
    "left_id",
    "right_id",
    "match_weight",
    "match_probability",
    "decision",
    "rule",
    "reason",
];

/// Writes the pairs file:
/// `left_id,right_id,match_weight,match_probability,decision,rule,reason`, one row per pair
/// in the result's order. Without a model, `match_weight` is empty and a rule match has
/// probability 1; an ambiguous rule pair has no probability. `reason` is empty for a match,
/// else why it is not one (see [`crate::LinkResult::reason_text`]).
///
/// With `explain`, the columns of a waterfall chart follow: `prior`, then for each of the
/// model's comparisons `<field>_level`, `<field>_weight` and `<field>_tf` (the
/// term-frequency adjustment); the weights add up to `match_weight`.
///
/// # Errors
///
/// An I/O error naming `path`; a config error when `explain`'s model does not fit `records`.
pub fn write_pairs_csv(
    path: &Path,
    records: &Records,
    result: &LinkResult,
    explain: Option<&Model>,
) -> Result<(), Error> {
    stage_pairs_csv(path, records, result, explain)?.commit()
}

/// [`write_pairs_csv`] without the commit.
///
/// # Errors
///
/// As [`write_pairs_csv`].
pub fn stage_pairs_csv(
    path: &Path,
    records: &Records,
    result: &LinkResult,
    explain: Option<&Model>,
) -> Result<NewFile, Error> {
    let mut f = NewFile::create(path)?;
    write_pairs(&mut f, records, result, explain).map_err(|e| match e {
        PairsError::Csv(e) => write_err(path, &e),
        PairsError::Core(e) => e,
    })?;
    Ok(f)
}

/// [`stage_pairs_csv`], or the same columns as Parquet when `path` has a `.parquet` or `.pq`
/// extension ([`crate::arrow::pairs_batch`]: numbers at full precision, nulls for none).
///
/// # Errors
///
/// As [`write_pairs_csv`].
pub fn stage_pairs(
    path: &Path,
    records: &Records,
    result: &LinkResult,
    explain: Option<&Model>,
) -> Result<NewFile, Error> {
    if crate::arrow::is_parquet(path) {
        // One record batch in memory at a time.
        let (schema, batches) =
            crate::arrow::pairs_batches(records, result, explain, crate::arrow::WRITE_ROWS)?;
        crate::arrow::stage_parquet_batches(path, schema, batches)
    } else {
        stage_pairs_csv(path, records, result, explain)
    }
}

/// The pairs file of [`write_pairs_csv`] as text in memory (for callers that hand it on, as
/// the C ABI and the Python package do).
///
/// # Errors
///
/// A config error when `explain`'s model does not fit `records`.
pub fn pairs_csv(
    records: &Records,
    result: &LinkResult,
    explain: Option<&Model>,
) -> Result<String, Error> {
    let mut bytes = Vec::new();
    let fail = || {
        Error::new(
            ErrorKind::Io,
            "cannot write the pairs in memory".to_string(),
        )
    };
    write_pairs(&mut bytes, records, result, explain).map_err(|e| match e {
        PairsError::Csv(_) => fail(),
        PairsError::Core(e) => e,
    })?;
    String::from_utf8(bytes).map_err(|_| fail())
}

enum PairsError {
    Csv(csv::Error),
    Core(Error),
}

impl From<csv::Error> for PairsError {
    fn from(e: csv::Error) -> Self {
        PairsError::Csv(e)
    }
}

/// Writes the pairs file (header, then a row per link) to `out`, in parallel parts (see
/// [`write_in_parts`]).
fn write_pairs(
    out: &mut impl std::io::Write,
    records: &Records,
    result: &LinkResult,
    explain: Option<&Model>,
) -> Result<(), PairsError> {
    let mut header: Vec<String> = PAIRS_HEADER.map(String::from).to_vec();
    let scorer = match explain {
        Some(m) => {
            header.push("prior".into());
            for c in m.comparisons() {
                for part in ["level", "weight", "tf"] {
                    header.push(format!("{}_{part}", c.field));
                }
            }
            Some(Scorer::new(m, records).map_err(PairsError::Core)?)
        }
        None => None,
    };
    write_in_parts(out, &header, &result.links, |w, part| {
        write_links(w, part, records, result, scorer.as_ref())
    })
}

/// Rows a part of a file written in parallel holds (formatted by one CSV writer), and parts
/// formatted at a time: a block of 2^15 rows is about 3 MB of pairs text in memory at once.
const PART: usize = 1 << 11;
const PARTS: usize = 16;

/// Writes `header`, then the records `format` makes of `rows`, to `out`. The rows are
/// formatted in parallel, [`PARTS`] parts of [`PART`] rows at a time, each part by its own
/// CSV writer, and written in order: a record's text does not depend on the records before
/// it, so the file is the one a single writer makes (the 14M clusters file took 16 s on one
/// thread).
fn write_in_parts<T: Sync, H: AsRef<[u8]>, E: From<csv::Error> + Send>(
    out: &mut impl std::io::Write,
    header: &[H],
    rows: &[T],
    format: impl Fn(&mut csv::Writer<Vec<u8>>, &[T]) -> Result<(), E> + Sync,
) -> Result<(), E> {
    let text = |w: csv::Writer<Vec<u8>>| {
        w.into_inner()
            .map_err(|e| E::from(csv::Error::from(e.into_error())))
    };
    let io = |e: std::io::Error| E::from(csv::Error::from(e));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header)?;
    out.write_all(&text(w)?).map_err(io)?;
    for block in rows.chunks(PARTS * PART) {
        let texts: Vec<Vec<u8>> = block
            .par_chunks(PART)
            .map(|part| {
                let mut w = csv::Writer::from_writer(Vec::with_capacity(part.len() * 64));
                format(&mut w, part)?;
                text(w)
            })
            .collect::<Result<_, E>>()?;
        for t in &texts {
            out.write_all(t).map_err(io)?;
        }
    }
    Ok(())
}

/// The pairs file's rows of `links`.
fn write_links(
    w: &mut csv::Writer<Vec<u8>>,
    links: &[crate::link::Link],
    records: &Records,
    result: &LinkResult,
    scorer: Option<&Scorer<'_>>,
) -> Result<(), PairsError> {
    // Field by field into the writer, one reused buffer for numbers: no allocation per row.
    let mut num = String::with_capacity(32);
    let field = |w: &mut csv::Writer<Vec<u8>>, f: &str| w.write_field(f).map_err(PairsError::Csv);
    for l in links {
        field(w, records.id(l.pair.left))?;
        field(w, records.id(l.pair.right))?;
        num.clear();
        if let Some(x) = l.weight {
            crate::fixed::push(&mut num, x.bits(), 4);
        }
        field(w, &num)?;
        num.clear();
        if let Some(p) = l.probability() {
            crate::fixed::push(&mut num, p.get(), 8);
        }
        field(w, &num)?;
        field(w, l.decision.as_str())?;
        let rule = l.rule.and_then(|r| result.rules.get(usize::from(r)));
        field(w, rule.map_or("", |r| r.name()))?;
        field(w, &result.reason_text(l))?;
        if let Some(scorer) = scorer {
            let e = scorer.explain(l.pair);
            num.clear();
            crate::fixed::push(&mut num, e.prior, 4);
            field(w, &num)?;
            for c in e.contributions {
                field(w, &c.level)?;
                for x in [c.weight, c.tf_adjustment] {
                    num.clear();
                    crate::fixed::push(&mut num, x, 4);
                    field(w, &num)?;
                }
            }
        }
        w.write_record(None::<&[u8]>).map_err(PairsError::Csv)?;
    }
    Ok(())
}

/// Writes every record's person id: `cluster_id,source,record_id`, ordered by person id,
/// then source, then record id. The source is the input file's name without its directory.
///
/// # Errors
///
/// An I/O error naming `path`.
pub fn write_clusters_csv(
    path: &Path,
    records: &Records,
    clusters: &Clusters,
) -> Result<(), Error> {
    stage_clusters_csv(path, records, clusters)?.commit()
}

/// [`write_clusters_csv`] without the commit.
///
/// # Errors
///
/// An I/O error naming `path`.
pub fn stage_clusters_csv(
    path: &Path,
    records: &Records,
    clusters: &Clusters,
) -> Result<NewFile, Error> {
    let names: Vec<String> = records
        .sources()
        .iter()
        .map(|s| crate::cluster::source_file_name(&s.name))
        .collect();
    let mut file = NewFile::create(path)?;
    let rows = clusters.rows_by_person(records);
    write_in_parts(&mut file, &CLUSTERS_HEADER, &rows, |w, part| {
        for &r in part {
            let src = names.get(records.source_of(r)).map_or("", String::as_str);
            w.write_record([clusters.person_id(r), src, records.id(r)])?;
        }
        Ok::<_, csv::Error>(())
    })
    .map_err(|e| write_err(path, &e))?;
    Ok(file)
}

/// The columns of the clusters file.
pub const CLUSTERS_HEADER: [&str; 3] = ["cluster_id", "source", "record_id"];

/// [`stage_clusters_csv`], or the same columns as Parquet when `path` has a `.parquet` or
/// `.pq` extension.
///
/// # Errors
///
/// An I/O error naming `path`.
pub fn stage_clusters(
    path: &Path,
    records: &Records,
    clusters: &Clusters,
) -> Result<NewFile, Error> {
    if crate::arrow::is_parquet(path) {
        let (schema, batches) = crate::arrow::clusters_batches(
            records,
            clusters,
            CLUSTERS_HEADER,
            crate::cluster::source_file_name,
            crate::arrow::WRITE_ROWS,
        )?;
        crate::arrow::stage_parquet_batches(path, schema, batches)
    } else {
        stage_clusters_csv(path, records, clusters)
    }
}

/// Writes the person-id changes found by [`Clusters::carry_over`]:
/// `change,person_id,other_person_ids`, one `merge` row per surviving id (the absorbed ids
/// joined by `;`) and one `split` row per earlier id (the new ids of its other parts).
///
/// # Errors
///
/// An I/O error naming `path`.
pub fn write_changes_csv(path: &Path, changes: &crate::cluster::CarriedIds) -> Result<(), Error> {
    stage_changes_csv(path, changes)?.commit()
}

/// [`write_changes_csv`] without the commit.
///
/// # Errors
///
/// An I/O error naming `path`.
pub fn stage_changes_csv(
    path: &Path,
    changes: &crate::cluster::CarriedIds,
) -> Result<NewFile, Error> {
    let mut w = create(path)?;
    let werr = |e: csv::Error| write_err(path, &e);
    w.write_record(["change", "person_id", "other_person_ids"])
        .map_err(werr)?;
    for change in changes.merges().chain(changes.splits()) {
        let (kind, id, others) = match change {
            PersonChange::Merge { kept, absorbed } => ("merge", kept, absorbed),
            PersonChange::Split { kept, new } => ("split", kept, new),
        };
        w.write_record([kind, id.as_str(), others.join(";").as_str()])
            .map_err(werr)?;
    }
    finish(path, w)
}

/// The columns of a pairs file (as [`PAIRS_HEADER`] writes it) that reading one back needs:
/// the one reader of `review --pairs`, `report --pairs` and `index add --report`.
pub(crate) struct PairsColumns {
    left: usize,
    right: usize,
    weight: Option<usize>,
    decision: usize,
    reason: Option<usize>,
}

/// One row of a pairs file, read by [`PairsColumns::row`].
pub(crate) struct PairsRow<'r> {
    pub(crate) left_id: &'r str,
    pub(crate) right_id: &'r str,
    /// The match weight (`None` when the column is absent or empty: a rules-only run).
    pub(crate) weight: Option<crate::model::MatchWeight>,
    pub(crate) decision: crate::link::Decision,
    /// The `reason` column's text (empty when absent).
    pub(crate) reason: &'r str,
}

impl PairsColumns {
    /// The columns of `headers` (file `name`).
    ///
    /// # Errors
    ///
    /// An input error naming the file, line 1 and the first of `left_id`, `right_id`,
    /// `decision` that is missing.
    pub(crate) fn new(name: &str, headers: &[String]) -> Result<PairsColumns, Error> {
        let col = |n: &str| headers.iter().position(|h| h == n);
        let need = |n: &str| {
            col(n).ok_or_else(|| {
                Error::input_at(
                    name,
                    1,
                    Some(n),
                    "missing: a pairs file written by link or dedupe is expected",
                )
            })
        };
        Ok(PairsColumns {
            left: need("left_id")?,
            right: need("right_id")?,
            weight: col("match_weight"),
            decision: need("decision")?,
            reason: col("reason"),
        })
    }

    /// The column of the left (`side` 0) or right (1) id.
    pub(crate) fn id_column(&self, side: usize) -> usize {
        [self.left, self.right][side]
    }

    /// Row `rec` at `line` of file `name`.
    ///
    /// # Errors
    ///
    /// An input error naming the file, line and column for a weight that is not a number or
    /// a decision other than `match`, `review` or `ambiguous`.
    pub(crate) fn row<'r, S: AsRef<str>>(
        &self,
        name: &str,
        line: u64,
        rec: &'r [S],
    ) -> Result<PairsRow<'r>, Error> {
        let field = |i: usize| rec.get(i).map_or("", AsRef::as_ref);
        let weight = match self.weight.map(|i| field(i).trim()) {
            None | Some("") => None,
            Some(t) => Some(crate::model::MatchWeight::new(t.parse().map_err(|_| {
                Error::input_at(name, line, Some("match_weight"), "not a number")
            })?)),
        };
        let decision = crate::link::Decision::parse(field(self.decision)).ok_or_else(|| {
            Error::input_at(
                name,
                line,
                Some("decision"),
                "not match, review or ambiguous",
            )
        })?;
        Ok(PairsRow {
            left_id: field(self.left),
            right_id: field(self.right),
            weight,
            decision,
            reason: self.reason.map_or("", field),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pairs file formatted in parallel parts holds the header and then every link, in
    /// the result's order, across the parts' boundaries (more links than a part), with the
    /// explanation columns when asked; in memory and on disk alike.
    #[test]
    fn the_pairs_file_holds_every_link_in_order() {
        let records = crate::synth::generated_records(10_000, 4, &["gp.csv", "hospital.csv"]);
        let mode = crate::link::link_mode(&records, 0, 1).unwrap();
        let config = crate::Config::default();
        let (model, _) = config.train(&records, &mode, Vec::new()).unwrap();
        let linker = crate::Linker::builder()
            .rules(config.rules_for(&records))
            .model(Some(model.clone()))
            .build()
            .unwrap();
        let result = linker.link(&records, 0, 1).unwrap();
        assert!(result.links.len() > 2 * PART, "{}", result.links.len());
        let text = pairs_csv(&records, &result, Some(&model)).unwrap();
        let mut rows = csv::Reader::from_reader(text.as_bytes());
        let width = rows.headers().unwrap().len();
        assert_eq!(
            width,
            PAIRS_HEADER.len() + 1 + 3 * model.comparisons().len()
        );
        let got: Vec<(String, String)> = rows
            .records()
            .map(|r| {
                let r = r.unwrap();
                assert_eq!(r.len(), width);
                (r[0].to_string(), r[1].to_string())
            })
            .collect();
        let want: Vec<(String, String)> = result
            .links
            .iter()
            .map(|l| {
                let id = |r: u32| records.id(r).to_string();
                (id(l.pair.left), id(l.pair.right))
            })
            .collect();
        assert_eq!(got, want);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.csv");
        stage_pairs_csv(&path, &records, &result, Some(&model))
            .unwrap()
            .commit()
            .unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }

    /// The clusters file formatted in parallel blocks is, byte for byte, the file one CSV
    /// writer makes row by row: more rows than a block of parts, and record ids that need
    /// quoting.
    #[test]
    fn the_clusters_file_is_the_one_a_single_writer_makes() {
        let n = (PARTS * PART + PART / 2) as u32;
        let mut text = String::from("id,given_name\n");
        for r in 0..n {
            let id = match r % 5 {
                0 => format!("\"R,{r}\""),
                1 => format!("\"R\"\"{r}\""),
                _ => format!("R{r}"),
            };
            text.push_str(&format!("{id},A\n"));
        }
        let mut b = Records::builder();
        b.add_reader("some dir/a file.csv", text.as_bytes())
            .unwrap();
        let records = b.build().unwrap().0;
        let links: Vec<(crate::block::Pair, u16)> = (0..n - 1)
            .step_by(3)
            .map(|r| {
                (
                    crate::block::Pair {
                        left: r,
                        right: r + 1,
                    },
                    0,
                )
            })
            .collect();
        let clusters = Clusters::new(&records, &links);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.csv");
        stage_clusters_csv(&path, &records, &clusters)
            .unwrap()
            .commit()
            .unwrap();
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(CLUSTERS_HEADER).unwrap();
        let source = crate::cluster::source_file_name("some dir/a file.csv");
        for r in clusters.rows_by_person(&records) {
            w.write_record([clusters.person_id(r), &source, records.id(r)])
                .unwrap();
        }
        let want = w.into_inner().unwrap();
        let got = std::fs::read(&path).unwrap();
        assert!(
            got.windows(4).any(|x| x == b"\"R,1"),
            "quoted ids are there"
        );
        assert_eq!(got, want);
    }
}
