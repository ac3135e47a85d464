//! Results as Arrow record batches: the pairs, the person ids and encoded records, with the
//! columns of the files the command line writes, numbers at full precision.

use std::sync::Arc;

use arrow_array::builder::{Float64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::cluster::Clusters;
use crate::error::Error;
use crate::link::LinkResult;
use crate::model::{MatchWeight, Model, Probability, Scorer};
use crate::pseudonym::{EncodeOptions, Pseudonymiser};
use crate::record::Records;
use crate::review::ReviewRow;

/// One record batch of `columns`, named and typed by `fields` (name, type, nullable); `what`
/// names it in the error.
pub(crate) fn batch(
    what: &str,
    fields: Vec<(String, DataType, bool)>,
    columns: Vec<ArrayRef>,
) -> Result<RecordBatch, Error> {
    let schema = Arc::new(Schema::new(
        fields
            .into_iter()
            .map(|(name, t, nullable)| Field::new(name, t, nullable))
            .collect::<Vec<_>>(),
    ));
    RecordBatch::try_new(schema, columns)
        .map_err(|_| super::table::failed(what, "cannot be made into an Arrow record batch"))
}

/// The pairs of `result` as one record batch with the pairs file's columns
/// ([`crate::output::PAIRS_HEADER`]): the ids, the match weight and probability as 64-bit
/// floats (null without a model, or for an ambiguous rule pair), the decision, the rule's
/// name and the reason (empty strings when there is none).
///
/// With `explain`, the waterfall columns of [`crate::output::write_pairs_csv`] follow:
/// `prior`, then per comparison `<field>_level` (text), `<field>_weight` and `<field>_tf`.
///
/// # Errors
///
/// A config error when `explain`'s model does not fit `records`.
pub fn pairs_batch(
    records: &Records,
    result: &LinkResult,
    explain: Option<&Model>,
) -> Result<RecordBatch, Error> {
    let scorer = explain.map(|m| Scorer::new(m, records)).transpose()?;
    pairs_batch_of(records, result, explain.zip(scorer.as_ref()), &result.links)
}

/// [`pairs_batch`]'s schema, and its rows in record batches of at most `rows` pairs, each
/// made when it is asked for (a writer holds one at a time); none when there are no pairs.
///
/// # Errors
///
/// As [`pairs_batch`].
pub fn pairs_batches<'a>(
    records: &'a Records,
    result: &'a LinkResult,
    explain: Option<&'a Model>,
    rows: usize,
) -> Result<
    (
        SchemaRef,
        impl Iterator<Item = Result<RecordBatch, Error>> + 'a,
    ),
    Error,
> {
    let scorer = explain.map(|m| Scorer::new(m, records)).transpose()?;
    let schema = pairs_batch_of(records, result, explain.zip(scorer.as_ref()), &[])?.schema();
    let batches = result
        .links
        .chunks(rows.max(1))
        .map(move |links| pairs_batch_of(records, result, explain.zip(scorer.as_ref()), links));
    Ok((schema, batches))
}

/// The record batch of `links` (part of `result`), with the explanation columns of
/// `explain`'s model and scorer.
fn pairs_batch_of(
    records: &Records,
    result: &LinkResult,
    explain: Option<(&Model, &Scorer<'_>)>,
    links: &[crate::link::Link],
) -> Result<RecordBatch, Error> {
    let n = links.len();
    let text = || StringBuilder::with_capacity(n, 16 * n);
    let float = || Float64Builder::with_capacity(n);
    let (mut left, mut right) = (text(), text());
    let (mut weight, mut probability) = (float(), float());
    let (mut decision, mut rule, mut reason) = (text(), text(), text());
    let scorer = explain.map(|(_, s)| s);
    let explain = explain.map(|(m, _)| m);
    let parts = explain.map_or(0, |m| m.comparisons().len());
    let mut prior = float();
    let mut levels: Vec<StringBuilder> = (0..parts).map(|_| text()).collect();
    let mut weights: Vec<Float64Builder> = (0..parts).map(|_| float()).collect();
    let mut tfs: Vec<Float64Builder> = (0..parts).map(|_| float()).collect();
    for l in links {
        left.append_value(records.id(l.pair.left));
        right.append_value(records.id(l.pair.right));
        weight.append_option(l.weight.map(MatchWeight::bits));
        probability.append_option(l.probability().map(Probability::get));
        decision.append_value(l.decision.as_str());
        rule.append_value(
            l.rule
                .and_then(|r| result.rules.get(usize::from(r)))
                .map_or("", |r| r.name()),
        );
        reason.append_value(result.reason_text(l));
        if let Some(s) = scorer {
            let e = s.explain(l.pair);
            prior.append_value(e.prior);
            for (i, c) in e.contributions.iter().enumerate() {
                levels[i].append_value(&c.level);
                weights[i].append_value(c.weight);
                tfs[i].append_value(c.tf_adjustment);
            }
        }
    }
    let mut fields: Vec<(String, DataType, bool)> = crate::output::PAIRS_HEADER
        .iter()
        .zip([
            (DataType::Utf8, false),
            (DataType::Utf8, false),
            (DataType::Float64, true),
            (DataType::Float64, true),
            (DataType::Utf8, false),
            (DataType::Utf8, false),
            (DataType::Utf8, false),
        ])
        .map(|(name, (t, nullable))| ((*name).to_string(), t, nullable))
        .collect();
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(left.finish()),
        Arc::new(right.finish()),
        Arc::new(weight.finish()),
        Arc::new(probability.finish()),
        Arc::new(decision.finish()),
        Arc::new(rule.finish()),
        Arc::new(reason.finish()),
    ];
    if let Some(m) = explain {
        fields.push(("prior".into(), DataType::Float64, false));
        columns.push(Arc::new(prior.finish()));
        for (i, c) in m.comparisons().iter().enumerate() {
            fields.push((format!("{}_level", c.field), DataType::Utf8, false));
            fields.push((format!("{}_weight", c.field), DataType::Float64, false));
            fields.push((format!("{}_tf", c.field), DataType::Float64, false));
            columns.push(Arc::new(levels[i].finish()));
            columns.push(Arc::new(weights[i].finish()));
            columns.push(Arc::new(tfs[i].finish()));
        }
    }
    batch("pairs", fields, columns)
}

/// The review rows `rows` (from [`crate::review::queue`]) as one record batch with the
/// columns of the review file `carematch review` writes: `left_id`, `right_id`, `decision`
/// (null in every row: the reviewer's to fill), `status`, `reason` (utf8), `match_weight`,
/// `match_probability` (float64, null without a weight), then `left_<column>` and
/// `right_<column>` (utf8, null when the record lacks the value) for each of
/// [`crate::review::value_columns`].
///
/// # Errors
///
/// An input error if Arrow refuses the batch (it never should: the columns are built to the
/// schema).
pub fn review_batch(records: &Records, rows: &[ReviewRow]) -> Result<RecordBatch, Error> {
    let n = rows.len();
    let text = || StringBuilder::with_capacity(n, 12 * n);
    let (mut left, mut right, mut decision) = (text(), text(), text());
    let (mut status, mut reason) = (text(), text());
    let mut weight = Float64Builder::with_capacity(n);
    let mut probability = Float64Builder::with_capacity(n);
    let cols = crate::review::value_columns(records);
    let mut values: Vec<[StringBuilder; 2]> = cols.iter().map(|_| [text(), text()]).collect();
    for r in rows {
        left.append_value(records.id(r.pair.left));
        right.append_value(records.id(r.pair.right));
        decision.append_null();
        status.append_value(r.status.as_str());
        reason.append_value(r.reason);
        weight.append_option(r.weight.map(MatchWeight::bits));
        probability.append_option(r.weight.map(|w| w.probability().get()));
        for (c, [l, rt]) in cols.iter().zip(values.iter_mut()) {
            l.append_option(crate::review::value(records, r.pair.left, c));
            rt.append_option(crate::review::value(records, r.pair.right, c));
        }
    }
    let mut fields: Vec<(String, DataType, bool)> = crate::review::REVIEW_HEADER
        .iter()
        .zip([
            (DataType::Utf8, false),
            (DataType::Utf8, false),
            (DataType::Utf8, true),
            (DataType::Utf8, false),
            (DataType::Utf8, false),
            (DataType::Float64, true),
            (DataType::Float64, true),
        ])
        .map(|(name, (t, nullable))| ((*name).to_string(), t, nullable))
        .collect();
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(left.finish()),
        Arc::new(right.finish()),
        Arc::new(decision.finish()),
        Arc::new(status.finish()),
        Arc::new(reason.finish()),
        Arc::new(weight.finish()),
        Arc::new(probability.finish()),
    ];
    for (c, pair) in cols.iter().zip(values.iter_mut()) {
        for (side, b) in ["left", "right"].iter().zip(pair.iter_mut()) {
            fields.push((format!("{side}_{c}"), DataType::Utf8, true));
            columns.push(Arc::new(b.finish()));
        }
    }
    batch("review", fields, columns)
}

/// Every record's person id as one record batch, in the clusters file's order (by person
/// id, then source, then record id): three utf8 columns named by `header` (the person id,
/// the source, the record id). A source is named by `source_name` of its name (the clusters
/// file gives the file name without its directory).
///
/// # Errors
///
/// An input error if Arrow refuses the batch (it never should: the columns are built to the
/// schema).
pub fn clusters_batch(
    records: &Records,
    clusters: &Clusters,
    header: [&str; 3],
    source_name: impl Fn(&str) -> String,
) -> Result<RecordBatch, Error> {
    let order = clusters.rows_by_person(records);
    clusters_batch_of(
        records,
        clusters,
        header,
        &source_names(records, source_name),
        &order,
    )
}

/// [`clusters_batch`]'s schema, and its rows in record batches of at most `rows` records,
/// each made when it is asked for (a writer holds one at a time); none when there are no
/// records.
///
/// # Errors
///
/// As [`clusters_batch`].
pub fn clusters_batches<'a>(
    records: &'a Records,
    clusters: &'a Clusters,
    header: [&'a str; 3],
    source_name: impl Fn(&str) -> String,
    rows: usize,
) -> Result<
    (
        SchemaRef,
        impl Iterator<Item = Result<RecordBatch, Error>> + 'a,
    ),
    Error,
> {
    let names = source_names(records, source_name);
    let schema = clusters_batch_of(records, clusters, header, &names, &[])?.schema();
    let order = clusters.rows_by_person(records);
    let chunks: Vec<std::ops::Range<usize>> = (0..order.len())
        .step_by(rows.max(1))
        .map(|s| s..(s + rows.max(1)).min(order.len()))
        .collect();
    let batches = chunks
        .into_iter()
        .map(move |c| clusters_batch_of(records, clusters, header, &names, &order[c]));
    Ok((schema, batches))
}

/// Each source's name as `source_name` gives it.
fn source_names(records: &Records, source_name: impl Fn(&str) -> String) -> Vec<String> {
    records
        .sources()
        .iter()
        .map(|s| source_name(&s.name))
        .collect()
}

/// The record batch of the rows `order` (in that order) of [`clusters_batch`].
fn clusters_batch_of(
    records: &Records,
    clusters: &Clusters,
    header: [&str; 3],
    names: &[String],
    order: &[u32],
) -> Result<RecordBatch, Error> {
    let n = order.len();
    let mut cols: [StringBuilder; 3] =
        std::array::from_fn(|_| StringBuilder::with_capacity(n, 12 * n));
    for &r in order {
        let source = names.get(records.source_of(r)).map_or("", String::as_str);
        for (col, v) in cols
            .iter_mut()
            .zip([clusters.person_id(r), source, records.id(r)])
        {
            col.append_value(v);
        }
    }
    let fields = header
        .iter()
        .map(|n| ((*n).to_string(), DataType::Utf8, false))
        .collect();
    let columns = cols
        .iter_mut()
        .map(|c| Arc::new(c.finish()) as ArrayRef)
        .collect();
    batch("clusters", fields, columns)
}

/// The encoded records of source `source` as one record batch, with the columns of
/// [`crate::pseudonym::write_encoded_csv`] (all utf8), rows in the source's order. A value
/// the record lacks is null (an empty field in the CSV file).
///
/// # Errors
///
/// A usage error for a bad source index.
pub fn encoded_batch(
    records: &Records,
    source: usize,
    p: &Pseudonymiser,
    options: EncodeOptions,
) -> Result<RecordBatch, Error> {
    let header = crate::pseudonym::encoded_header_of(records, options);
    let mut cols: Vec<StringBuilder> = header.iter().map(|_| StringBuilder::new()).collect();
    crate::pseudonym::for_each_encoded_line(records, source, p, options, |line| {
        for (i, (col, v)) in cols.iter_mut().zip(line).enumerate() {
            // The id and scheme are always there; any other empty value is one the record
            // lacks.
            if v.is_empty() && i >= 2 {
                col.append_null();
            } else {
                col.append_value(v);
            }
        }
        Ok(())
    })?;
    let fields = header
        .iter()
        .enumerate()
        .map(|(i, n)| (n.clone(), DataType::Utf8, i >= 2))
        .collect();
    let columns = cols
        .iter_mut()
        .map(|c| Arc::new(c.finish()) as ArrayRef)
        .collect();
    batch("encoded records", fields, columns)
}

#[cfg(test)]
mod tests {
    use arrow_array::{Array, Float64Array, StringArray};

    use super::*;
    use crate::block::Pair;
    use crate::link::Decision;
    use crate::review::{ReviewRow, stage_review_csv};

    #[test]
    fn the_review_batch_has_the_review_files_columns_and_values() {
        let mut b = Records::builder();
        b.add_reader(
            "a.csv",
            "id,given_name,surname,dob\nA1,Ann,Lee,1980-02-01\nA2,,Lee,\n".as_bytes(),
        )
        .unwrap();
        let records = b.build().unwrap().0;
        let rows = [ReviewRow {
            pair: Pair { left: 0, right: 1 },
            weight: None,
            status: Decision::Review,
            reason: "below_threshold",
        }];
        let batch = review_batch(&records, &rows).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("review.csv");
        stage_review_csv(&path, &records, &rows)
            .unwrap()
            .commit()
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
        let schema = batch.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, header);
        assert_eq!(batch.num_rows(), 1);
        let col = |name: &str| {
            batch
                .column_by_name(name)
                .unwrap()
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .clone()
        };
        assert!(col("decision").is_null(0));
        assert_eq!(col("status").value(0), "review");
        assert_eq!(col("left_given_name").value(0), "ann");
        assert!(col("right_given_name").is_null(0));
        let w = batch.column_by_name("match_weight").unwrap();
        assert!(
            w.as_any()
                .downcast_ref::<Float64Array>()
                .unwrap()
                .is_null(0)
        );
        assert!(review_batch(&records, &[]).unwrap().num_rows() == 0);
    }
}
