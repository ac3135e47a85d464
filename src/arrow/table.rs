//! An Arrow table read as an [`input::Table`](crate::input::Table): record batches held as
//! they come, their values read in place when the store is built.
//!
//! String columns (`utf8`, `large_utf8`, `utf8_view`) are read in place. A float column is
//! read as a file would write it for a person: a whole number without `.0` (an NHS number
//! column with gaps, which pandas and polars hold as floats) and NaN as missing. A timestamp
//! is read as its date (a date of birth held as a datetime). Every other type (dictionary
//! columns, integers, dates, booleans, decimals) is cast to text once, when the table is
//! read. A null is a missing value, as an empty field is.

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef, Float64Array, LargeStringArray, StringArray};
use arrow_array::{RecordBatch, RecordBatchReader, StringViewArray};
use arrow_schema::{DataType, SchemaRef};

use crate::error::{Error, ErrorKind};

/// One column of one record batch, in the form it is read in.
enum Column {
    Utf8(StringArray),
    LargeUtf8(LargeStringArray),
    View(StringViewArray),
    Float(Float64Array),
}

/// Record batches of one Arrow stream, as a table.
pub struct ArrowTable {
    name: String,
    names: Vec<String>,
    /// Per record batch, its columns.
    batches: Vec<Vec<Column>>,
    /// Per record batch, its first row in the table; then the row count.
    starts: Vec<usize>,
    /// The record batches as they came (their arrays are shared with `batches`), to hand on.
    schema: SchemaRef,
    record_batches: Vec<RecordBatch>,
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

/// An input error naming the table; Arrow's own message is left out, as a producer's error
/// text may quote the data.
pub(crate) fn failed(name: &str, what: &str) -> Error {
    Error::new(ErrorKind::Input, format!("{name}: {what}"))
}

impl ArrowTable {
    /// Reads every record batch of `reader` (called `name` in messages).
    ///
    /// # Errors
    ///
    /// An input error naming `name` when a record batch fails, a column has a type that
    /// cannot be read as text, or binary data is not UTF-8.
    pub fn from_reader(name: &str, reader: impl RecordBatchReader) -> Result<ArrowTable, Error> {
        let schema = reader.schema();
        let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let mut batches = Vec::new();
        let mut record_batches = Vec::new();
        let mut starts = vec![0];
        for (i, batch) in reader.enumerate() {
            let batch = batch
                .map_err(|_| failed(name, &format!("record batch {} failed to read", i + 1)))?;
            let columns = columns_of(name, &names, &batch)?;
            let last = starts.last().copied().unwrap_or(0);
            starts.push(last + batch.num_rows());
            batches.push(columns);
            record_batches.push(batch);
        }
        Ok(ArrowTable {
            name: name.to_string(),
            names,
            batches,
            starts,
            schema,
            record_batches,
        })
    }

    /// The record batches as they were read, and their schema (to hand the table on).
    pub fn record_batches(&self) -> (&SchemaRef, &[RecordBatch]) {
        (&self.schema, &self.record_batches)
    }

    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.starts.last().copied().unwrap_or(0)
    }

    /// The column names.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// The columns of `batch` in the form they are read in, named `names` in errors.
fn columns_of(name: &str, names: &[String], batch: &RecordBatch) -> Result<Vec<Column>, Error> {
    batch
        .columns()
        .iter()
        .zip(names)
        .map(|(array, column)| {
            Column::of(array).map_err(|what| failed(name, &format!("column '{column}': {what}")))
        })
        .collect()
}

/// The rows of a record batch reader one at a time, one record batch held at once: for a
/// source too large to hold twice (a Parquet file read into the store).
pub(crate) struct RowStream<R> {
    name: String,
    names: Vec<String>,
    reader: R,
    batch: Vec<Column>,
    row: usize,
    rows: usize,
    batches_read: usize,
    row_count: Option<u64>,
}

impl<R: RecordBatchReader> RowStream<R> {
    /// The rows of `reader`, called `name` in messages.
    pub(crate) fn new(name: &str, reader: R) -> RowStream<R> {
        let names = reader
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        RowStream {
            name: name.to_string(),
            names,
            reader,
            batch: Vec::new(),
            row: 0,
            rows: 0,
            batches_read: 0,
            row_count: None,
        }
    }

    /// The column names.
    pub(crate) fn names(&self) -> &[String] {
        &self.names
    }

    /// The number of rows, when the reader says (a Parquet file's metadata does).
    pub(crate) fn row_count(&self) -> Option<u64> {
        self.row_count
    }

    /// Sets the number of rows the stream will give.
    pub(crate) fn with_row_count(mut self, rows: Option<u64>) -> RowStream<R> {
        self.row_count = rows;
        self
    }

    /// Puts the next row's values into `rec` as text; false at the end.
    ///
    /// # Errors
    ///
    /// An input error naming the source when a record batch fails or a column cannot be
    /// read as text.
    pub(crate) fn next_row(&mut self, rec: &mut csv::ByteRecord) -> Result<bool, Error> {
        while self.row == self.rows {
            let Some(batch) = self.reader.next() else {
                return Ok(false);
            };
            self.batches_read += 1;
            let batch = batch.map_err(|_| {
                failed(
                    &self.name,
                    &format!("record batch {} failed to read", self.batches_read),
                )
            })?;
            self.batch = columns_of(&self.name, &self.names, &batch)?;
            (self.row, self.rows) = (0, batch.num_rows());
        }
        rec.clear();
        let mut value = Vec::new();
        for c in &self.batch {
            value.clear();
            c.write(self.row, &mut value);
            rec.push_field(&value);
        }
        self.row += 1;
        Ok(true)
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

impl crate::input::Table for ArrowTable {
    fn column_names(&self) -> Vec<String> {
        self.names.clone()
    }

    fn row_count(&self) -> usize {
        self.rows()
    }

    fn write_value(&self, column: usize, row: usize, out: &mut Vec<u8>) -> Result<(), Error> {
        // The record batch holding `row`: the last whose start is at or before it.
        let b = self.starts.partition_point(|&s| s <= row).saturating_sub(1);
        if let Some(c) = self.batches.get(b).and_then(|cols| cols.get(column)) {
            c.write(row - self.starts[b], out);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Table;
    use arrow_array::{Float64Array, Int64Array, RecordBatchIterator, StringArray};
    use std::sync::Arc;

    fn stream(batches: Vec<RecordBatch>) -> impl RecordBatchReader {
        let schema = batches[0].schema();
        RecordBatchIterator::new(batches.into_iter().map(Ok), schema)
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
        let t = ArrowTable::from_reader(
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
}
