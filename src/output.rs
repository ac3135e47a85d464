//! Writing results: the pairs and clusters CSV files of the command-line contract.

use std::path::Path;

use crate::cluster::Clusters;
use crate::error::{Error, ErrorKind};
use crate::link::{Decision, LinkResult};
use crate::record::Records;

fn create(path: &Path) -> Result<csv::Writer<std::io::BufWriter<std::fs::File>>, Error> {
    let f = std::fs::File::create(path).map_err(|e| Error::io(path, "create", &e))?;
    Ok(csv::Writer::from_writer(std::io::BufWriter::with_capacity(
        1 << 20,
        f,
    )))
}

fn write_err(path: &Path, e: &csv::Error) -> Error {
    Error::new(
        ErrorKind::Io,
        format!("{}: cannot write: {e}", path.display()),
    )
}

/// Writes the pairs file: `left_id,right_id,match_weight,match_probability,decision,rule`,
/// one row per link in the result's order. Without a model, `match_weight` is empty and a
/// rule match has probability 1; an ambiguous pair has neither.
///
/// # Errors
///
/// An I/O error naming `path`.
pub fn write_pairs_csv(path: &Path, records: &Records, result: &LinkResult) -> Result<(), Error> {
    let mut w = create(path)?;
    let werr = |e: csv::Error| write_err(path, &e);
    w.write_record([
        "left_id",
        "right_id",
        "match_weight",
        "match_probability",
        "decision",
        "rule",
    ])
    .map_err(werr)?;
    for l in &result.links {
        let prob = if l.decision == Decision::Match {
            "1"
        } else {
            ""
        };
        let rule = result.rules.get(l.rule as usize).map_or("", |r| r.name());
        w.write_record([
            records.id(l.pair.left),
            records.id(l.pair.right),
            "",
            prob,
            l.decision.as_str(),
            rule,
        ])
        .map_err(werr)?;
    }
    w.flush().map_err(|e| Error::io(path, "write", &e))
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
    let mut w = create(path)?;
    let werr = |e: csv::Error| write_err(path, &e);
    w.write_record(["cluster_id", "source", "record_id"])
        .map_err(werr)?;
    let names: Vec<String> = records
        .sources()
        .iter()
        .map(|s| {
            Path::new(&s.name)
                .file_name()
                .map_or_else(|| s.name.clone(), |n| n.to_string_lossy().into_owned())
        })
        .collect();
    for r in clusters.rows_by_person(records) {
        let src = names.get(records.source_of(r)).map_or("", String::as_str);
        w.write_record([clusters.person_id(r), src, records.id(r)])
            .map_err(werr)?;
    }
    w.flush().map_err(|e| Error::io(path, "write", &e))
}
