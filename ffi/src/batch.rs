//! Record batches: one source's records, built column by column from C.

use arrow_array::RecordBatch;
use arrow_array::builder::StringBuilder;
use arrow_schema::SchemaRef;
use std::ffi::c_char;

use carematch::{Records, Role};

use crate::guard::{Failure, ffi_body};
use crate::raw::{self, carematch_str};
use crate::status::{CAREMATCH_INVALID_ARGUMENT, carematch_status};

/// A column whose role comes from its name, as in a CSV header (`nhs_no`, `forename`, …);
/// a name no role recognises is carried through as an extra column.
pub const CAREMATCH_ROLE_BY_NAME: u32 = 0;
/// The record id (required; unique within the batch).
pub const CAREMATCH_ROLE_ID: u32 = 1;
/// Given name(s).
pub const CAREMATCH_ROLE_GIVEN_NAME: u32 = 2;
/// Surname.
pub const CAREMATCH_ROLE_SURNAME: u32 = 3;
/// Date of birth, in any format a file may hold.
pub const CAREMATCH_ROLE_DATE_OF_BIRTH: u32 = 4;
/// Sex or gender code.
pub const CAREMATCH_ROLE_SEX: u32 = 5;
/// UK postcode.
pub const CAREMATCH_ROLE_POSTCODE: u32 = 6;
/// NHS number.
pub const CAREMATCH_ROLE_NHS_NUMBER: u32 = 7;
/// An address line (several address columns are joined in order).
pub const CAREMATCH_ROLE_ADDRESS: u32 = 8;

/// A batch of records: one source (a file's worth), built column by column.
///
/// Made by `carematch_batch_new`, filled by `carematch_batch_add_column`, freed by
/// `carematch_batch_free`. Not thread-safe while columns are being added; once built it is
/// only read, and may be used by several threads at once.
#[allow(non_camel_case_types)] // the C name, as declared in the header
pub struct carematch_batch {
    name: String,
    columns: Vec<(String, Vec<String>)>,
    rows: Option<usize>,
    /// A batch read from CSV text keeps the text, which the core then reads as it reads a
    /// file (no second encoding); columns added later are appended to it.
    csv: Option<(Vec<u8>, u8)>,
    /// A batch from an Arrow stream keeps its record batches, which the core reads as a
    /// table (no CSV in between).
    arrow: Option<carematch::arrow::ArrowTable>,
}

impl carematch_batch {
    /// A batch of CSV text (header first), checked and counted: malformed CSV, a ragged row
    /// or text that is not UTF-8 is an input error naming `name` and the line.
    fn from_csv(name: String, text: Vec<u8>, delimiter: u8) -> Result<Self, Failure> {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .delimiter(delimiter)
            .from_reader(text.as_slice());
        // Lines counted from the bytes (as the core's reader does): the csv crate's own
        // count is one too low on CRLF text.
        let line_at = |byte: u64| {
            let end = usize::try_from(byte).map_or(text.len(), |b| (b + 1).min(text.len()));
            text[..end].iter().filter(|&&b| b == b'\n').count() + 1
        };
        let bad = |e: csv::Error| {
            let line = e.position().map_or(0, |p| line_at(p.byte()));
            let what = match e.kind() {
                csv::ErrorKind::Utf8 { .. } => "not valid UTF-8",
                csv::ErrorKind::UnequalLengths { .. } => "ragged row",
                _ => "malformed CSV",
            };
            Failure::new(
                crate::status::CAREMATCH_INPUT_ERROR,
                format!("{name}: line {line}: {what}"),
            )
        };
        let headers: Vec<String> = rdr
            .headers()
            .map_err(bad)?
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let h = if i == 0 {
                    h.trim_start_matches('\u{feff}')
                } else {
                    h
                };
                h.trim().to_string()
            })
            .collect();
        if headers.iter().all(String::is_empty) {
            return Err(Failure::new(
                crate::status::CAREMATCH_INPUT_ERROR,
                format!("{name}: empty file: no header row"),
            ));
        }
        // One UTF-8 check over the whole text (fast), then rows counted as bytes.
        if let Err(e) = std::str::from_utf8(&text) {
            let line = text[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            return Err(Failure::new(
                crate::status::CAREMATCH_INPUT_ERROR,
                format!("{name}: line {line}: not valid UTF-8"),
            ));
        }
        let mut rows = 0;
        let mut rec = csv::ByteRecord::new();
        while rdr.read_byte_record(&mut rec).map_err(bad)? {
            rows += 1;
        }
        Ok(carematch_batch {
            name,
            columns: headers.into_iter().map(|h| (h, Vec::new())).collect(),
            rows: Some(rows),
            csv: Some((text, delimiter)),
            arrow: None,
        })
    }

    /// Turns a CSV batch into columns, so that a column can be added.
    fn expand_columns(&mut self) -> Result<(), Failure> {
        let Some(text) = self.csv.take() else {
            return Ok(());
        };
        for_each_value(&text.0, text.1, |c, v| {
            if let Some(col) = self.columns.get_mut(c) {
                col.1.push(v.to_string());
            }
        })
    }

    /// The columns of a batch built column by column as CSV text, header first.
    fn to_csv(&self) -> Result<Vec<u8>, Failure> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let io = |_| {
            Failure::new(
                crate::status::CAREMATCH_INPUT_ERROR,
                "cannot encode the batch",
            )
        };
        w.write_record(self.columns.iter().map(|(h, _)| h.as_str()))
            .map_err(io)?;
        for r in 0..self.rows.unwrap_or(0) {
            w.write_record(self.columns.iter().map(|(_, v)| v[r].as_str()))
                .map_err(io)?;
        }
        w.into_inner().map_err(|_| {
            Failure::new(
                crate::status::CAREMATCH_INPUT_ERROR,
                "cannot encode the batch",
            )
        })
    }

    /// A batch read from `table` (its columns named, its rows counted; the table is read by
    /// the core in place).
    pub(crate) fn from_table(name: String, table: carematch::arrow::ArrowTable) -> Self {
        carematch_batch {
            name,
            columns: table
                .names()
                .iter()
                .map(|h| (h.clone(), Vec::new()))
                .collect(),
            rows: Some(table.rows()),
            csv: None,
            arrow: Some(table),
        }
    }

    /// The batch as Arrow record batches: those it was read from, or its columns as utf8
    /// (an empty value null, as it is missing).
    fn to_arrow(&self) -> Result<(SchemaRef, Vec<RecordBatch>), Failure> {
        if let Some(t) = &self.arrow {
            let (schema, batches) = t.record_batches();
            return Ok((schema.clone(), batches.to_vec()));
        }
        let rows = self.rows.unwrap_or(0);
        let mut cols: Vec<StringBuilder> = self
            .columns
            .iter()
            .map(|_| StringBuilder::with_capacity(rows, 0))
            .collect();
        let mut push = |c: usize, v: &str| {
            if v.is_empty() {
                cols[c].append_null();
            } else {
                cols[c].append_value(v);
            }
        };
        if let Some(text) = &self.csv {
            let width = self.columns.len();
            for_each_value(&text.0, text.1, |c, v| {
                if c < width {
                    push(c, v);
                }
            })?;
        } else {
            for (c, (_, values)) in self.columns.iter().enumerate() {
                for v in values {
                    push(c, v);
                }
            }
        }
        let schema = std::sync::Arc::new(arrow_schema::Schema::new(
            self.columns
                .iter()
                .map(|(h, _)| arrow_schema::Field::new(h, arrow_schema::DataType::Utf8, true))
                .collect::<Vec<_>>(),
        ));
        let columns = cols
            .iter_mut()
            .map(|c| std::sync::Arc::new(c.finish()) as arrow_array::ArrayRef)
            .collect();
        let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|_| {
            Failure::new(
                crate::status::CAREMATCH_INPUT_ERROR,
                format!("{}: cannot be made into an Arrow record batch", self.name),
            )
        })?;
        Ok((schema, vec![batch]))
    }

    /// The batch's column names, as its header.
    pub(crate) fn column_names(&self) -> Vec<String> {
        self.columns.iter().map(|(h, _)| h.clone()).collect()
    }

    /// The batch's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }
}

/// Calls `f(column, value)` for every value of the rows of delimited `text` (header first),
/// row by row.
fn for_each_value(
    text: &[u8],
    delimiter: u8,
    mut f: impl FnMut(usize, &str),
) -> Result<(), Failure> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .delimiter(delimiter)
        .from_reader(text);
    for rec in rdr.records() {
        // Checked when the batch was made: cannot fail.
        let rec = rec.map_err(|_| {
            Failure::new(
                crate::status::CAREMATCH_INPUT_ERROR,
                "cannot read the batch",
            )
        })?;
        for (c, v) in rec.iter().enumerate() {
            f(c, v);
        }
    }
    Ok(())
}

/// One store holding `batches` as its sources, in order, read as files would be.
pub(crate) fn records_of(batches: &[&carematch_batch]) -> Result<Records, Failure> {
    Ok(read_batches(batches, &carematch::Config::default())?.0)
}

/// [`records_of`] under `config` (its column mapping, strictness and test NHS numbers), with
/// the data-quality report (what was missing or invalid, per column).
pub(crate) fn read_batches(
    batches: &[&carematch_batch],
    config: &carematch::Config,
) -> Result<(Records, carematch::QualityReport), Failure> {
    let mut b = Records::builder();
    b.columns(config.columns.clone())
        .strict(config.strict)
        .accept_test_nhs_numbers(config.accept_test_nhs_numbers);
    for batch in batches {
        if batch.columns.is_empty() {
            return Err(Failure::new(
                CAREMATCH_INVALID_ARGUMENT,
                format!("batch '{}' has no columns", batch.name),
            ));
        }
        match (&batch.arrow, &batch.csv) {
            (Some(table), _) => b.add_table(&batch.name, table)?,
            (None, Some((text, d))) => b
                .delimiter(Some(*d))
                .add_reader(&batch.name, text.as_slice())?,
            // Written with commas by `to_csv`: no need to find the delimiter.
            (None, None) => b
                .delimiter(Some(b','))
                .add_reader(&batch.name, batch.to_csv()?.as_slice())?,
        };
    }
    Ok(b.build()?)
}

/// The role of a `CAREMATCH_ROLE_*` number (not `BY_NAME`).
pub(crate) fn role_of(role: u32) -> Option<Role> {
    Some(match role {
        CAREMATCH_ROLE_ID => Role::Id,
        CAREMATCH_ROLE_GIVEN_NAME => Role::GivenName,
        CAREMATCH_ROLE_SURNAME => Role::Surname,
        CAREMATCH_ROLE_DATE_OF_BIRTH => Role::DateOfBirth,
        CAREMATCH_ROLE_SEX => Role::Sex,
        CAREMATCH_ROLE_POSTCODE => Role::Postcode,
        CAREMATCH_ROLE_NHS_NUMBER => Role::NhsNumber,
        CAREMATCH_ROLE_ADDRESS => Role::Address,
        _ => return None,
    })
}

/// The header a column gets for `role` (the `k`-th address column gets its own).
fn header(role: u32, name: &str, k: usize) -> Option<String> {
    match role {
        CAREMATCH_ROLE_BY_NAME => Some(name.to_string()),
        CAREMATCH_ROLE_ADDRESS => Some(format!("address_{}", k + 1)),
        r => role_of(r).map(|r| r.as_str().to_string()),
    }
}

/// The normalised text of one raw `value` of `role` (a `CAREMATCH_ROLE_*` number other than
/// `BY_NAME`), as a file's value is normalised: names and addresses as compared
/// (`"obrien"`), dates `YYYY-MM-DD`, sex `M`/`F`, postcodes canonical, NHS numbers as ten
/// digits; the empty string when the value is missing or a placeholder. Written into
/// `(buf, len)` with a NUL (`CAREMATCH_BUFFER_TOO_SMALL` and the size needed when it does
/// not fit).
///
/// Errors: `CAREMATCH_INPUT_ERROR` for an invalid value (the message names the role and the
/// problem, never the value), `CAREMATCH_INVALID_ARGUMENT` for an unknown role, and those of
/// the arguments.
///
/// # Safety
///
/// `(value, value_len)` valid text; `buf` NULL or valid for `len` bytes; `out_written` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_normalise(
    role: u32,
    value: *const c_char,
    value_len: usize,
    buf: *mut c_char,
    len: usize,
    out_written: *mut usize,
) -> carematch_status {
    ffi_body!(|caller| {
        let r = role_of(role).ok_or_else(|| {
            Failure::new(CAREMATCH_INVALID_ARGUMENT, format!("unknown role {role}"))
        })?;
        let value = caller.str(value, value_len)?;
        let text = carematch::input::normalise_value(r, value.as_bytes(), true).map_err(|p| {
            Failure::new(
                crate::status::CAREMATCH_INPUT_ERROR,
                format!("{}: {p}", r.as_str()),
            )
        })?;
        caller.text_out(text.as_deref().unwrap_or(""), buf, len, out_written)
    })
}

/// Makes an empty batch called `name` (the source name used in messages and clusters).
///
/// On success `*out` is a new batch, to be freed with `carematch_batch_free`.
///
/// Errors: `CAREMATCH_NULL_ARGUMENT` (`out` NULL), `CAREMATCH_INVALID_UTF8` (`name`).
///
/// # Safety
///
/// `(name, name_len)` must be valid text or `(NULL, 0)`; `out` must be a valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_batch_new(
    name: *const c_char,
    name_len: usize,
    out: *mut *mut carematch_batch,
) -> carematch_status {
    ffi_body!(|caller| {
        let out = caller.out_param(out)?;
        let name = caller.str(name, name_len)?;
        out.write(raw::new_handle(carematch_batch {
            name: if name.is_empty() {
                "batch".into()
            } else {
                name.into()
            },
            columns: Vec::new(),
            rows: None,
            csv: None,
            arrow: None,
        }));
        Ok(())
    })
}

/// Reads a file into a new batch named by its path, as `carematch link` reads files: CSV or
/// other delimited text (the delimiter by a `.tsv`/`.tab` name or the header line), gzipped
/// or not, or Parquet (a `.parquet`/`.pq` name or Parquet's magic bytes); every column by its
/// header name.
///
/// On success `*out` is a new batch, to be freed with `carematch_batch_free`.
///
/// Errors: `CAREMATCH_IO_ERROR` (naming the file), `CAREMATCH_INPUT_ERROR` (malformed CSV, a
/// ragged row, text that is not UTF-8: naming the file and line), and those of the arguments.
///
/// # Safety
///
/// `(path, len)` valid text; `out` a valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_batch_read_csv(
    path: *const c_char,
    len: usize,
    out: *mut *mut carematch_batch,
) -> carematch_status {
    ffi_body!(|caller| {
        let out = caller.out_param(out)?;
        let path = std::path::Path::new(caller.str(path, len)?);
        // The file opened as the command line opens it: Parquet by name or magic bytes, gzip
        // by magic bytes, the delimiter by name or header.
        let batch = if carematch::arrow::is_parquet_file(path) {
            let table = carematch::arrow::read_parquet(path)?;
            carematch_batch::from_table(path.display().to_string(), table)
        } else {
            let (name, text, d) = carematch::RecordsBuilder::read_delimited(path, None)?;
            carematch_batch::from_csv(name, text, d)?
        };
        out.write(raw::new_handle(batch));
        Ok(())
    })
}

/// Makes a batch called `name` from an Arrow C stream: `stream` points to a
/// `struct ArrowArrayStream` of the Arrow C stream interface (declared in Arrow's
/// `abi.h`; `void *` here so that this header does not declare it). Every record batch is read
/// now; each column by its name, as a CSV header's; string columns are then read in place, with
/// no CSV in between. Nulls (and NaN) are missing values; a whole-number float is read without
/// `.0` (an NHS number column with gaps); a timestamp is read as its date; dictionary, integer,
/// date and other columns as their text.
///
/// The stream is taken whether or not the call succeeds: it is left released (moved from),
/// and the caller must not call its callbacks again, only drop the struct.
///
/// Errors: `CAREMATCH_INPUT_ERROR` (a released or failing stream, a column that cannot be read
/// as text, two columns of one name, naming `name`), and those of the arguments.
///
/// # Safety
///
/// `(name, name_len)` valid text; `stream` NULL or a valid, aligned `struct ArrowArrayStream`
/// no other thread uses during the call; `out` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_batch_from_arrow_stream(
    name: *const c_char,
    name_len: usize,
    stream: *mut std::ffi::c_void,
    out: *mut *mut carematch_batch,
) -> carematch_status {
    ffi_body!(|caller| {
        let out = caller.out_param(out)?;
        let stream = caller.arrow_stream(stream)?;
        let name = caller.str(name, name_len)?;
        let name = if name.is_empty() { "batch" } else { name };
        let table = crate::arrow::read(name, stream)?;
        out.write(raw::new_handle(carematch_batch::from_table(
            name.to_string(),
            table,
        )));
        Ok(())
    })
}

/// Makes a batch called `name` from CSV text in memory (header first, UTF-8; another
/// delimiter is found from a `.tsv` name or the header line, as for a file), read as a file
/// would be: every column by its header name. The text is copied. (A data frame is handed
/// over faster, with no text, by `carematch_batch_from_arrow_stream`.)
///
/// Errors: `CAREMATCH_INPUT_ERROR` (malformed CSV, a ragged row, text that is not UTF-8,
/// naming `name` and the line), and those of the arguments.
///
/// # Safety
///
/// `(name, name_len)` valid text; `text` valid for `text_len` bytes; `out` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_batch_from_csv(
    name: *const c_char,
    name_len: usize,
    text: *const c_char,
    text_len: usize,
    out: *mut *mut carematch_batch,
) -> carematch_status {
    ffi_body!(|caller| {
        let out = caller.out_param(out)?;
        let name = caller.str(name, name_len)?;
        let text = caller.bytes(text.cast(), text_len)?;
        let name = if name.is_empty() { "batch" } else { name };
        let delimiter = carematch::RecordsBuilder::delimiter_of(name, text);
        out.write(raw::new_handle(carematch_batch::from_csv(
            name.to_string(),
            text.to_vec(),
            delimiter,
        )?));
        Ok(())
    })
}

/// Adds a column of `n` values to `batch`: `role` is a `CAREMATCH_ROLE_*` number
/// (`CAREMATCH_ROLE_BY_NAME` to take the role from `name` as a CSV header would); `values[i]`
/// is row `i`'s raw value (`{NULL, 0}` is empty). Every column of a batch has the same number
/// of rows. The values are copied; the caller keeps ownership of its arrays.
///
/// Errors: `CAREMATCH_NULL_ARGUMENT`, `CAREMATCH_INVALID_UTF8` (the message names the column
/// and row, never the value), `CAREMATCH_INVALID_ARGUMENT` (unknown role, or a row count that
/// differs from the first column's).
///
/// Thread-safety: not while another thread uses `batch`.
///
/// # Safety
///
/// `batch` must be a live batch; `(name, name_len)` valid text; `values` NULL (with `n == 0`)
/// or `n` valid `carematch_str`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_batch_add_column(
    batch: *mut carematch_batch,
    name: *const c_char,
    name_len: usize,
    role: u32,
    values: *const carematch_str,
    n: usize,
) -> carematch_status {
    ffi_body!(|caller| {
        let batch = caller.handle_mut(batch)?;
        let name = caller.str(name, name_len)?;
        if batch.arrow.is_some() {
            return Err(Failure::new(
                CAREMATCH_INVALID_ARGUMENT,
                "a batch from an Arrow stream takes no more columns: add them to the table",
            ));
        }
        batch.expand_columns()?;
        let addresses = batch
            .columns
            .iter()
            .filter(|(h, _)| h.starts_with("address_"))
            .count();
        let header = header(role, name, addresses).ok_or_else(|| {
            Failure::new(CAREMATCH_INVALID_ARGUMENT, format!("unknown role {role}"))
        })?;
        if header.is_empty() {
            return Err(Failure::new(
                CAREMATCH_INVALID_ARGUMENT,
                "a column taking its role from its name needs a name",
            ));
        }
        let vals = caller.strs(values, n).map_err(|(status, i)| {
            Failure::new(
                status,
                format!("column '{header}', row {i}: {}", status.description()),
            )
        })?;
        if let Some(rows) = batch.rows.filter(|&rows| rows != n) {
            return Err(Failure::new(
                CAREMATCH_INVALID_ARGUMENT,
                format!("column '{header}' has {n} rows; the batch has {rows}"),
            ));
        }
        batch.rows = Some(n);
        batch
            .columns
            .push((header, vals.into_iter().map(str::to_string).collect()));
        Ok(())
    })
}

/// The number of rows of `batch` (0 before its first column).
///
/// Errors: `CAREMATCH_NULL_ARGUMENT`.
///
/// # Safety
///
/// `batch` must be a live batch or NULL; `out_rows` a valid pointer or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_batch_len(
    batch: *const carematch_batch,
    out_rows: *mut usize,
) -> carematch_status {
    ffi_body!(|caller| {
        let batch = caller.handle(batch)?;
        let out = caller.out_param(out_rows)?;
        out.write(batch.rows.unwrap_or(0));
        Ok(())
    })
}

/// The records of `batch` as an Arrow C stream, written to `out_stream` (a
/// `struct ArrowArrayStream`, `void *` here): the record batches it was made from when it came
/// from an Arrow stream (or from `carematch_pseudonymiser_encode`), else its columns as utf8,
/// an empty value null. The caller owns the stream and must release it; it stays valid after
/// `batch` is freed.
///
/// # Safety
///
/// `batch` a live batch; `out_stream` valid for writing a `struct ArrowArrayStream`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_batch_arrow_stream(
    batch: *const carematch_batch,
    out_stream: *mut std::ffi::c_void,
) -> carematch_status {
    ffi_body!(|caller| {
        let batch = caller.handle(batch)?;
        let out = caller.arrow_stream_out(out_stream)?;
        let (schema, batches) = batch.to_arrow()?;
        out.write(crate::arrow::stream_of(schema, batches));
        Ok(())
    })
}

/// Frees a batch; NULL is a no-op. The batch must not be used afterwards.
///
/// Thread-safety: a built batch may be read by several threads at once, but not while it is
/// freed. Freeing a batch while another thread is using it (a call taking it still in flight)
/// is undefined behaviour: carematch does not wait for such calls; the caller must ensure none
/// is in flight and none starts.
///
/// # Safety
///
/// `batch` must be NULL or a live batch not in use by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_batch_free(batch: *mut carematch_batch) {
    ffi_body!(or(), |caller| { caller.free_handle(batch) })
}
