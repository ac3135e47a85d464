//! Arrow data in and out. In: a batch from an Arrow C stream (`struct ArrowArrayStream`),
//! read by the core column by column as an [`input::Table`](carematch::input::Table), with no
//! CSV text in between. Out: a result's pairs as an Arrow C stream ([`pairs_stream`]).
//!
//! String columns (`utf8`, `large_utf8`, `utf8_view`) are read in place. A float column is
//! read as a file would write it for a person: a whole number without `.0` (an NHS number
//! column with gaps, which pandas and polars hold as floats) and NaN as missing. A timestamp
//! is read as its date (a date of birth held as a datetime). Every other type (dictionary
//! columns, integers, dates, booleans, decimals) is cast to text once, when the batch is made.
//! A null is a missing value, as an empty field is.

use arrow_array::cast::AsArray;
use arrow_array::ffi_stream::{ArrowArrayStreamReader, FFI_ArrowArrayStream};
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef, Float64Array, LargeStringArray, StringArray};
use arrow_array::{RecordBatchReader, StringViewArray};
use arrow_schema::DataType;

use crate::guard::Failure;
use crate::status::CAREMATCH_INPUT_ERROR;

/// One column of one record batch, in the form it is read in.
enum Column {
    Utf8(StringArray),
    LargeUtf8(LargeStringArray),
    View(StringViewArray),
    Float(Float64Array),
}

/// Record batches of one Arrow stream, as a table.
pub(crate) struct ArrowTable {
    name: String,
    names: Vec<String>,
    /// Per record batch, its columns.
    batches: Vec<Vec<Column>>,
    /// Per record batch, its first row in the table; then the row count.
    starts: Vec<usize>,
}

impl std::fmt::Debug for ArrowTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names and counts only: the arrays hold patient data.
        f.debug_struct("ArrowTable")
            .field("name", &self.name)
            .field("columns", &self.names)
            .field("rows", &self.rows())
            .finish_non_exhaustive()
    }
}

/// An input error naming the stream; Arrow's own message is left out, as a producer's error
/// text may quote the data.
fn failed(name: &str, what: &str) -> Failure {
    Failure::new(CAREMATCH_INPUT_ERROR, format!("{name}: {what}"))
}

impl ArrowTable {
    /// Reads every record batch of `stream` (called `name` in messages).
    ///
    /// # Errors
    ///
    /// An input error naming `name` when the stream is released or fails, a column has a type
    /// that cannot be read as text, or binary data is not UTF-8.
    pub(crate) fn read(name: &str, stream: FFI_ArrowArrayStream) -> Result<ArrowTable, Failure> {
        let reader = ArrowArrayStreamReader::try_new(stream)
            .map_err(|_| failed(name, "not a readable Arrow stream (released, or no schema)"))?;
        let schema = reader.schema();
        let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let mut batches = Vec::new();
        let mut starts = vec![0];
        for (i, batch) in reader.enumerate() {
            let batch = batch.map_err(|_| {
                failed(
                    name,
                    &format!("record batch {} of the Arrow stream failed", i + 1),
                )
            })?;
            let columns = batch
                .columns()
                .iter()
                .zip(&names)
                .map(|(array, column)| {
                    Column::of(array)
                        .map_err(|what| failed(name, &format!("column '{column}': {what}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let last = starts.last().copied().unwrap_or(0);
            starts.push(last + batch.num_rows());
            batches.push(columns);
        }
        Ok(ArrowTable {
            name: name.to_string(),
            names,
            batches,
            starts,
        })
    }

    /// The number of rows.
    pub(crate) fn rows(&self) -> usize {
        self.starts.last().copied().unwrap_or(0)
    }

    /// The column names.
    pub(crate) fn names(&self) -> &[String] {
        &self.names
    }
}

impl Column {
    /// `array` in the form it is read in: strings as they are, floats as 64-bit floats,
    /// timestamps as dates, the rest cast to text.
    fn of(array: &ArrayRef) -> Result<Column, &'static str> {
        let cast = |to: &DataType| {
            arrow_cast::cast(array, to).map_err(|_| "its type cannot be read as text")
        };
        Ok(match array.data_type() {
            DataType::Utf8 => Column::Utf8(array.as_string::<i32>().clone()),
            DataType::LargeUtf8 => Column::LargeUtf8(array.as_string::<i64>().clone()),
            DataType::Utf8View => Column::View(array.as_string_view().clone()),
            DataType::Float16 | DataType::Float32 | DataType::Float64 => Column::Float(
                cast(&DataType::Float64)?
                    .as_primitive::<Float64Type>()
                    .clone(),
            ),
            DataType::Timestamp(..) => {
                let date = arrow_cast::cast(array, &DataType::Date32)
                    .map_err(|_| "its timestamps cannot be read as dates")?;
                let text = arrow_cast::cast(&date, &DataType::Utf8)
                    .map_err(|_| "its type cannot be read as text")?;
                Column::Utf8(text.as_string::<i32>().clone())
            }
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
                let text = arrow_cast::cast(array, &DataType::Utf8)
                    .map_err(|_| "binary values that are not UTF-8")?;
                Column::Utf8(text.as_string::<i32>().clone())
            }
            _ => Column::Utf8(cast(&DataType::Utf8)?.as_string::<i32>().clone()),
        })
    }

    /// Appends row `r`'s value to `out`, as text; nothing for a null (or NaN).
    fn write(&self, r: usize, out: &mut Vec<u8>) {
        match self {
            Column::Utf8(a) if a.is_valid(r) => out.extend_from_slice(a.value(r).as_bytes()),
            Column::LargeUtf8(a) if a.is_valid(r) => out.extend_from_slice(a.value(r).as_bytes()),
            Column::View(a) if a.is_valid(r) => out.extend_from_slice(a.value(r).as_bytes()),
            Column::Float(a) if a.is_valid(r) => write_float(a.value(r), out),
            _ => {}
        }
    }
}

/// A float as a file would hold it for a person: a whole number (below 2^53) without a
/// fraction, NaN as nothing.
fn write_float(v: f64, out: &mut Vec<u8>) {
    use std::io::Write;
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if v.is_nan() {
        return;
    }
    let _ = if v.fract() == 0.0 && v.abs() < EXACT {
        write!(out, "{}", v as i64)
    } else {
        write!(out, "{v}")
    };
}

impl carematch::input::Table for ArrowTable {
    fn column_names(&self) -> Vec<String> {
        self.names.clone()
    }

    fn row_count(&self) -> usize {
        self.rows()
    }

    fn write_value(
        &self,
        column: usize,
        row: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), carematch::Error> {
        // The record batch holding `row`: the last whose start is at or before it.
        let b = self.starts.partition_point(|&s| s <= row).saturating_sub(1);
        if let Some(c) = self.batches.get(b).and_then(|cols| cols.get(column)) {
            c.write(row - self.starts[b], out);
        }
        Ok(())
    }
}

/// The columns of [`pairs_stream`], as the pairs file's header names them.
const PAIR_FIELDS: [(&str, DataType, bool); 7] = [
    ("left_id", DataType::Utf8, false),
    ("right_id", DataType::Utf8, false),
    ("match_weight", DataType::Float64, true),
    ("match_probability", DataType::Float64, true),
    ("decision", DataType::Utf8, false),
    ("rule", DataType::Utf8, false),
    ("reason", DataType::Utf8, false),
];

/// The pairs of `result` as an Arrow C stream of one record batch, with the pairs file's
/// columns: the ids, the match weight and probability at full precision (null without a
/// model), the decision, the rule's name and the reason (empty strings when there is none).
///
/// # Errors
///
/// An input error when Arrow refuses the batch (it never should: the columns are built to the
/// schema).
pub(crate) fn pairs_stream(
    records: &carematch::Records,
    result: &carematch::LinkResult,
) -> Result<FFI_ArrowArrayStream, Failure> {
    use arrow_array::builder::{Float64Builder, StringBuilder};
    use std::sync::Arc;
    let n = result.links.len();
    let mut ids = [StringBuilder::new(), StringBuilder::new()];
    let (mut weight, mut probability) = (
        Float64Builder::with_capacity(n),
        Float64Builder::with_capacity(n),
    );
    let (mut decision, mut rule, mut reason) = (
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    for l in &result.links {
        ids[0].append_value(records.id(l.pair.left));
        ids[1].append_value(records.id(l.pair.right));
        weight.append_option(l.weight.map(carematch::model::MatchWeight::bits));
        probability.append_option(l.probability().map(carematch::model::Probability::get));
        decision.append_value(l.decision.as_str());
        rule.append_value(
            l.rule
                .and_then(|r| result.rules.get(usize::from(r)))
                .map_or("", |r| r.name()),
        );
        reason.append_value(result.reason_text(l));
    }
    let [mut left, mut right] = ids;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(left.finish()),
        Arc::new(right.finish()),
        Arc::new(weight.finish()),
        Arc::new(probability.finish()),
        Arc::new(decision.finish()),
        Arc::new(rule.finish()),
        Arc::new(reason.finish()),
    ];
    one_batch_stream("pairs", &PAIR_FIELDS, columns)
}

/// A stream of one record batch of `columns`, named and typed by `fields` (name, type,
/// nullable); `what` names it in the error.
fn one_batch_stream(
    what: &str,
    fields: &[(&str, DataType, bool)],
    columns: Vec<ArrayRef>,
) -> Result<FFI_ArrowArrayStream, Failure> {
    let schema = std::sync::Arc::new(arrow_schema::Schema::new(
        fields
            .iter()
            .map(|(name, t, nullable)| arrow_schema::Field::new(*name, t.clone(), *nullable))
            .collect::<Vec<_>>(),
    ));
    let batch = arrow_array::RecordBatch::try_new(schema.clone(), columns)
        .map_err(|_| failed(what, "cannot be made into an Arrow record batch"))?;
    let reader = arrow_array::RecordBatchIterator::new([Ok(batch)], schema);
    Ok(FFI_ArrowArrayStream::new(Box::new(reader)))
}

/// Every record's person id as an Arrow C stream of one record batch, in the clusters file's
/// order (by person id, then source, then record id): `person_id`, `source` (the batch's
/// name), `record_id`, all utf8.
///
/// # Errors
///
/// An input error when Arrow refuses the batch (it never should).
pub(crate) fn clusters_stream(
    records: &carematch::Records,
    clusters: &carematch::Clusters,
) -> Result<FFI_ArrowArrayStream, Failure> {
    use arrow_array::builder::StringBuilder;
    use std::sync::Arc;
    let mut cols = [
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    ];
    for r in clusters.rows_by_person(records) {
        let source = records
            .sources()
            .get(records.source_of(r))
            .map_or("", |s| s.name.as_str());
        for (col, v) in cols
            .iter_mut()
            .zip([clusters.person_id(r), source, records.id(r)])
        {
            col.append_value(v);
        }
    }
    let fields = ["person_id", "source", "record_id"].map(|n| (n, DataType::Utf8, false));
    let columns: Vec<ArrayRef> = cols
        .iter_mut()
        .map(|c| Arc::new(c.finish()) as ArrayRef)
        .collect();
    one_batch_stream("clusters", &fields, columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, RecordBatch, RecordBatchIterator};
    use carematch::input::Table;
    use std::sync::Arc;

    fn stream(batches: Vec<RecordBatch>) -> FFI_ArrowArrayStream {
        let schema = batches[0].schema();
        let reader = RecordBatchIterator::new(batches.into_iter().map(Ok), schema);
        FFI_ArrowArrayStream::new(Box::new(reader))
    }

    fn text(t: &ArrowTable, c: usize, r: usize) -> String {
        let mut out = Vec::new();
        t.write_value(c, r, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_type_reads_as_a_file_would_hold_it_across_record_batches() {
        let batch = |ids: Vec<&str>, nhs: Vec<Option<f64>>, n: Vec<Option<i64>>| {
            RecordBatch::try_from_iter([
                ("id", Arc::new(StringArray::from(ids)) as ArrayRef),
                ("nhs_number", Arc::new(Float64Array::from(nhs)) as ArrayRef),
                ("n", Arc::new(Int64Array::from(n)) as ArrayRef),
            ])
            .unwrap()
        };
        let t = ArrowTable::read(
            "frame",
            stream(vec![
                batch(
                    vec!["a", "b"],
                    vec![Some(9_434_765_919.0), None],
                    vec![Some(1), None],
                ),
                batch(vec!["c"], vec![Some(f64::NAN)], vec![Some(-3)]),
                batch(vec!["d"], vec![Some(1.5)], vec![Some(7)]),
            ]),
        )
        .unwrap();
        assert_eq!(t.row_count(), 4);
        assert_eq!(t.column_names(), ["id", "nhs_number", "n"]);
        let rows: Vec<[String; 3]> = (0..4)
            .map(|r| [text(&t, 0, r), text(&t, 1, r), text(&t, 2, r)])
            .collect();
        assert_eq!(rows[0], ["a", "9434765919", "1"]);
        assert_eq!(rows[1], ["b", "", ""], "nulls are empty");
        assert_eq!(rows[2], ["c", "", "-3"], "NaN is empty");
        assert_eq!(rows[3], ["d", "1.5", "7"]);
        assert!(
            !format!("{t:?}").contains("9434765919"),
            "Debug shows no values"
        );
    }

    #[test]
    fn a_released_stream_is_an_input_error_naming_it() {
        let e = ArrowTable::read("frame", FFI_ArrowArrayStream::empty()).unwrap_err();
        let shown = format!("{e:?}");
        assert!(
            shown.contains("frame: not a readable Arrow stream"),
            "{shown}"
        );
    }
}
