//! Reading CSV sources into a [`Records`] store, with a data-quality report.
//!
//! Reading is two-staged so that each distinct value is normalised once: rows are read and
//! every raw field is interned (a repeated surname costs one hash lookup); then the distinct
//! raw values of each column are normalised in parallel and interned again, with their
//! features, into the store's dictionaries. Ids are assigned in first-seen order, so the
//! store is the same on any thread count.

use crate::normalise::postcode::Postcode;
use crate::progress::{Step, Unit};
use std::io::Read;
use std::path::Path;

use hashbrown::HashTable;
use rayon::prelude::*;

mod normalise;
mod quality;

pub(crate) use normalise::normalise_record;
pub use normalise::normalise_value;
use normalise::{
    Normalised, is_newborn_placeholder, mistyped_nhs, norm_address, norm_date, norm_name, norm_nhs,
    norm_other, norm_postcode, norm_sex, normalise_all, normalise_interned, value_or,
};
pub use quality::{ColumnQuality, ProblemCount, QualityReport, SourceQuality};
use quality::{Status, column_quality, map_rows, problems_of};

use crate::Error;
use crate::csvread::CsvReader;
use crate::error::ErrorKind;
use crate::record::{
    Columns, Interner, NO_ID, OtherColumn, Records, Source, insert_unique, sort_by_bytes, span,
    spread, value_hash,
};
use crate::schema::{ColumnConfig, ColumnUse, Role, Schema};

/// A field longer than this many bytes is invalid ("too long"): no name, date, postcode or
/// address is this long, and refusing it bounds the work any one value can cause.
pub const MAX_VALUE_BYTES: usize = 4096;

/// How many line numbers the data-quality report keeps per problem.
const FIRST_LINES: usize = 5;

/// The value roles, in the order their columns are stored.
const VALUE_ROLES: &[Role] = Role::VALUES;

/// The raw byte strings of one column, stored in an arena: each distinct value once, or,
/// in a column of nearly all distinct values (see [`RawColumn::settle`]), each row's value.
#[derive(Default)]
struct RawColumn {
    table: HashTable<RawSlot>,
    bytes: Vec<u8>,
    ends: Vec<usize>,
    /// Per row (across all sources): raw id, or `NO_ID` when empty or absent.
    rows: Vec<u32>,
    /// How many rows have a value.
    present: usize,
    /// Whether the column was found to be of nearly all distinct values: it then keeps no
    /// table, and a value read again is stored again.
    unique: bool,
}

/// An entry of a raw column's table: the value's id, its hash, and its first bytes with its
/// length. A value shorter than [`RawSlot::HELD`] bytes (a name, a date, a sex code, a
/// postcode) is told from another by the entry alone, without reading the stored bytes: a
/// random read of the arena per row, inside `memcmp`, was a tenth of reading's samples on
/// both 1M links.
#[derive(Clone, Copy)]
struct RawSlot {
    id: u32,
    hash: u32,
    /// Bytes 0..15 of the value, zero-padded, and in the last byte its length (at most 255).
    head: [u64; 2],
}

impl RawSlot {
    /// Values shorter than this are held whole in the entry.
    const HELD: usize = 16;

    fn head(v: &[u8]) -> [u64; 2] {
        let mut b = [0u8; Self::HELD];
        let n = v.len().min(Self::HELD - 1);
        b[..n].copy_from_slice(&v[..n]);
        b[Self::HELD - 1] = v.len().min(255) as u8;
        let (lo, hi) = b.split_at(8);
        let word = |x: &[u8]| u64::from_le_bytes(x.try_into().unwrap_or_default());
        [word(lo), word(hi)]
    }
}

impl RawColumn {
    fn push(&mut self, field: Option<&[u8]>) {
        let id = match field {
            Some(f) if !f.iter().all(u8::is_ascii_whitespace) => {
                self.present += 1;
                let next = u32::try_from(self.ends.len()).unwrap_or(NO_ID - 1);
                let (bytes, ends) = (&self.bytes, &self.ends);
                let found = if self.unique {
                    None
                } else {
                    let (hash, head) = (value_hash(f), RawSlot::head(f));
                    let short = f.len() < RawSlot::HELD;
                    insert_unique(
                        &mut self.table,
                        spread(hash),
                        RawSlot {
                            id: next,
                            hash,
                            head,
                        },
                        |s| {
                            s.hash == hash
                                && s.head == head
                                && (short || &bytes[span(ends, s.id)] == f)
                        },
                        |s| spread(s.hash),
                    )
                };
                if let Some(s) = found {
                    s.id
                } else {
                    self.bytes.extend_from_slice(f);
                    self.ends.push(self.bytes.len());
                    next
                }
            }
            _ => NO_ID,
        };
        self.rows.push(id);
    }

    /// Once `after` values are read, stops looking values up when nine in ten were distinct:
    /// the table then saves little normalising (NHS numbers of a GP list are nearly all
    /// distinct) and costs a hash-table miss per row. The store does not change: values are
    /// normalised, interned and reported per distinct normalised value, in first-seen order,
    /// whether or not the raw values were deduplicated.
    fn settle(&mut self, after: usize) {
        if !self.unique && self.present >= after && self.ends.len() * 10 >= self.present * 9 {
            self.unique = true;
            self.table = HashTable::new();
        }
    }

    /// The values, in id order: each distinct value once, or, once the column settled as
    /// unique, each row's again.
    fn values(&self) -> Vec<&[u8]> {
        (0..self.ends.len() as u32)
            .map(|id| &self.bytes[span(&self.ends, id)])
            .collect()
    }
}

/// Rows read before their columns are interned (in parallel, one column per thread) while
/// the next are parsed. On the 1M-person link, 4,096 rows a batch took reading from 0.49 to
/// 0.41 s against 16,384 (median of five runs, in turns); 65,536 took it to 0.71 s against
/// 0.58 s. (Not profiled further: that a batch's columns finish closer together when it is
/// small is a guess.)
const BATCH: usize = 4_096;

/// Values a raw column reads before [`RawColumn::settle`] decides whether it is of nearly
/// all distinct values.
const SETTLE_AFTER: usize = 16_384;

/// The value of a role's columns on `rec`: one column trimmed, or several joined by ", ".
fn field<'a>(
    rec: &'a csv::ByteRecord,
    cols: &[usize],
    joined: &'a mut Vec<u8>,
) -> Option<&'a [u8]> {
    match cols {
        [] => None,
        [c] => rec.get(*c).map(<[u8]>::trim_ascii),
        many => {
            joined.clear();
            for &c in many {
                let f = rec.get(c).unwrap_or(b"").trim_ascii();
                if !f.is_empty() {
                    if !joined.is_empty() {
                        joined.extend_from_slice(b", ");
                    }
                    joined.extend_from_slice(f);
                }
            }
            Some(joined.as_slice())
        }
    }
}

/// Reads CSV sources into a [`Records`] store.
///
/// # Example
///
/// ```
/// # fn main() -> Result<(), carematch::Error> {
/// let csv = "id,given_name,surname,dob,nhs_number\n1,Ann,Smith,01/02/1980,943 476 5919\n";
/// let mut b = carematch::Records::builder();
/// b.add_reader("gp.csv", csv.as_bytes())?;
/// let (records, quality) = b.build()?;
/// assert_eq!(records.len(), 1);
/// assert_eq!(records.surname(0), Some("smith"));
/// assert_eq!(records.nhs_number(0), Some(9434765919));
/// assert_eq!(quality.invalid_total(), 0);
/// # Ok(()) }
/// ```
pub struct RecordsBuilder {
    columns: ColumnConfig,
    strict: bool,
    accept_test_nhs_numbers: bool,
    delimiter: Option<u8>,
    sources: Vec<Source>,
    schemas: Vec<Schema>,
    ids: Vec<u8>,
    id_end: Vec<u32>,
    lines: Vec<u64>,
    raw: Vec<RawColumn>,
    others: Vec<(String, RawColumn)>,
    progress: Option<crate::progress::Observer>,
    memory: Option<crate::memory::Budget>,
    /// What the process held when the builder was made.
    held_at_start: u64,
    /// How many values a raw column reads before [`RawColumn::settle`] decides on it (the
    /// tests set it low to compare the two ways).
    settle_after: usize,
}

/// A table of values that a source can be read from instead of delimited text, column by
/// column: the C ABI's and Python's Arrow data are read through it, with no CSV in between.
pub trait Table {
    /// The column names, as a header row would give them.
    fn column_names(&self) -> Vec<String>;

    /// The number of rows.
    fn row_count(&self) -> usize;

    /// Appends the value of column `column` on row `row` to `out`, as a file would hold it
    /// (text; a date or number in any format a file may use); nothing for a missing value.
    ///
    /// # Errors
    ///
    /// An input error naming the table, row and column when the value cannot be read.
    fn write_value(&self, column: usize, row: usize, out: &mut Vec<u8>) -> Result<(), Error>;
}

impl Records {
    /// A builder that reads CSV sources into a store (see [`RecordsBuilder`]).
    pub fn builder() -> RecordsBuilder {
        RecordsBuilder::default()
    }
}

impl Default for RecordsBuilder {
    /// A builder with no sources, an empty column config, strict mode off and test-range NHS
    /// numbers accepted; the same as [`Records::builder`].
    fn default() -> Self {
        RecordsBuilder {
            columns: ColumnConfig::new(),
            strict: false,
            accept_test_nhs_numbers: true,
            delimiter: None,
            sources: Vec::new(),
            schemas: Vec::new(),
            ids: Vec::new(),
            id_end: Vec::new(),
            lines: Vec::new(),
            raw: VALUE_ROLES.iter().map(|_| RawColumn::default()).collect(),
            others: Vec::new(),
            progress: None,
            memory: crate::memory::Budget::detect(),
            held_at_start: crate::memory::resident().unwrap_or(0),
            settle_after: SETTLE_AFTER,
        }
    }
}

/// What reading the rest of a file will add to memory, at the rate of the part read: `grown`
/// bytes for the `done` of `total` bytes read. Zero until a twentieth is read (too little to
/// project from), and for input of unknown size.
fn rest_of_file(grown: u64, (unit, done, total): (Unit, u64, Option<u64>)) -> u64 {
    match (unit, total) {
        (Unit::Bytes, Some(total)) if done > 0 && done >= total / 20 && done < total => {
            (grown as f64 / done as f64 * (total - done) as f64) as u64
        }
        _ => 0,
    }
}

impl RecordsBuilder {
    /// Maps columns to roles for every source added after this call. Default: empty, so only
    /// recognised column names get roles.
    pub fn columns(&mut self, config: ColumnConfig) -> &mut Self {
        self.columns = config;
        self
    }

    /// When true, an invalid value (date, NHS number, sex code, non-UTF-8 text) is an error
    /// rather than a missing value counted in the quality report. Default: false.
    pub fn strict(&mut self, yes: bool) -> &mut Self {
        self.strict = yes;
        self
    }

    /// When false, NHS numbers in the never-issued 999 test range are invalid. Default: true
    /// (synthetic and test data use them; the quality report counts them either way).
    pub fn accept_test_nhs_numbers(&mut self, yes: bool) -> &mut Self {
        self.accept_test_nhs_numbers = yes;
        self
    }

    /// The byte that separates fields in the sources added after this call. Default: `None`,
    /// found per source: a tab for a `.tsv` or `.tab` name, else from the header line (a
    /// comma when it has one, otherwise the tab, semicolon or pipe it has most of).
    pub fn delimiter(&mut self, delimiter: Option<u8>) -> &mut Self {
        self.delimiter = delimiter;
        self
    }

    /// What reading and normalising may hold: they stop with an
    /// [`crate::ErrorKind::Memory`] error before they hold more. Checked
    /// after each batch of rows; for a file of known size, against what the rest of the file
    /// will need at the rate of the part read. Default:
    /// [`Budget::detect`](crate::memory::Budget::detect); `None` for no check.
    pub fn memory(&mut self, budget: Option<crate::memory::Budget>) -> &mut Self {
        self.memory = budget;
        self
    }

    /// Reports the reading of each source to `observer` (step `reading <name>`, in bytes of
    /// a file whose size is known, else in rows). Default: none.
    pub fn progress(&mut self, observer: Option<crate::progress::Observer>) -> &mut Self {
        self.progress = observer;
        self
    }

    /// Reads the delimited file at `path` (`-` for standard input; gzip is decompressed) as a
    /// new source named by its path.
    ///
    /// # Errors
    ///
    /// I/O errors, and input errors naming the file, line and column: malformed CSV, a ragged
    /// row, no header, no id column, an empty or non-UTF-8 id.
    pub fn add_csv(&mut self, path: &Path) -> Result<&mut Self, Error> {
        let (name, f, size) = crate::csvread::open_sized(path)?;
        self.add_delimited(&name, f, size)
    }

    /// Reads the file at `path` as a new source named by its path: a Parquet file (a
    /// `.parquet` or `.pq` name, or Parquet's magic bytes) as [`RecordsBuilder::add_table`]
    /// reads a table, anything else as [`RecordsBuilder::add_csv`] reads delimited text.
    ///
    /// # Errors
    ///
    /// As [`RecordsBuilder::add_csv`]; for Parquet, an input error naming the file when it
    /// is not readable Parquet or a column cannot be read as text, and a usage error for `-`.
    pub fn add_file(&mut self, path: &Path) -> Result<&mut Self, Error> {
        if crate::arrow::is_parquet_file(path) {
            // Record batch by record batch: the file is never held whole beside the store.
            let mut rows = crate::arrow::parquet_rows(path)?;
            let name = path.display().to_string();
            let fields: Vec<&[u8]> = rows.names().iter().map(String::as_bytes).collect();
            let names = crate::csvread::header_names(&name, &fields)?;
            let mut line = 1u64;
            let total = rows.row_count();
            self.add_rows(&name, &names, (Unit::Rows, total), |rec| {
                line += 1;
                Ok(rows.next_row(rec)?.then_some(line))
            })
        } else {
            self.add_csv(path)
        }
    }

    /// Reads the whole delimited file at `path` into memory, as [`RecordsBuilder::add_csv`]
    /// opens it (`-` for standard input; gzip is decompressed): its name for messages, its
    /// text, and its delimiter (`delimiter` when given, else found as `add_csv` finds it).
    /// For a caller that hands the text on (the C ABI's batches).
    ///
    /// # Errors
    ///
    /// An I/O error naming the file.
    pub fn read_delimited(
        path: &Path,
        delimiter: Option<u8>,
    ) -> Result<(String, Vec<u8>, u8), Error> {
        let (name, mut f) = crate::csvread::open(path)?;
        let mut text = Vec::new();
        f.read_to_end(&mut text)
            .map_err(|e| Error::io(path, "read", &e))?;
        let d = delimiter.unwrap_or_else(|| crate::csvread::delimiter_for(&name, &text));
        Ok((name, text, d))
    }

    /// The delimiter of delimited text called `name`, as [`RecordsBuilder::add_csv`] finds
    /// it: a tab for a `.tsv` or `.tab` name, else what the header line shows (a comma when it
    /// has one, otherwise the tab, semicolon or pipe it has most of).
    pub fn delimiter_of(name: &str, text: &[u8]) -> u8 {
        crate::csvread::delimiter_for(name, text)
    }

    /// Reads CSV from `reader` as a new source called `name` (used in messages).
    ///
    /// # Errors
    ///
    /// As [`RecordsBuilder::add_csv`].
    pub fn add_reader(&mut self, name: &str, reader: impl Read) -> Result<&mut Self, Error> {
        self.add_delimited(name, reader, None)
    }

    /// [`RecordsBuilder::add_reader`] of `size` bytes, when known (for progress).
    fn add_delimited(
        &mut self,
        name: &str,
        reader: impl Read,
        size: Option<u64>,
    ) -> Result<&mut Self, Error> {
        let mut rdr = CsvReader::new(name, reader, false, self.delimiter)?;
        let names = rdr.headers().to_vec();
        let unit = if size.is_some() {
            Unit::Bytes
        } else {
            Unit::Rows
        };
        self.add_rows(name, &names, (unit, size), |rec| rdr.read(rec))
    }

    /// Reads `table` as a new source called `name` (used in messages), as a file of the same
    /// columns and values would be read: a null is a missing value, as an empty field is.
    /// Errors and the quality report name the line the row would have in that file (header
    /// first): row index `i` (from 0) is line `i + 2`.
    ///
    /// # Errors
    ///
    /// As [`RecordsBuilder::add_csv`], and `table`'s own errors.
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> Result<(), carematch::Error> {
    /// use carematch::input::Table;
    ///
    /// /// Two columns of string values, `None` for null.
    /// struct Frame(Vec<(&'static str, Vec<Option<&'static str>>)>);
    ///
    /// impl Table for Frame {
    ///     fn column_names(&self) -> Vec<String> {
    ///         self.0.iter().map(|(n, _)| n.to_string()).collect()
    ///     }
    ///     fn row_count(&self) -> usize {
    ///         self.0[0].1.len()
    ///     }
    ///     fn write_value(&self, c: usize, r: usize, out: &mut Vec<u8>) -> Result<(), carematch::Error> {
    ///         out.extend_from_slice(self.0[c].1[r].unwrap_or("").as_bytes());
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let frame = Frame(vec![
    ///     ("id", vec![Some("1"), Some("2")]),
    ///     ("dob", vec![Some("01/02/1980"), None]),
    /// ]);
    /// let mut b = carematch::Records::builder();
    /// b.add_table("frame", &frame)?;
    /// let (records, quality) = b.build()?;
    /// assert_eq!(records.len(), 2);
    /// assert_eq!(quality.sources[0].columns[0].missing, 1);
    /// # Ok(()) }
    /// ```
    pub fn add_table(&mut self, name: &str, table: &dyn Table) -> Result<&mut Self, Error> {
        let headers = table.column_names();
        let fields: Vec<&[u8]> = headers.iter().map(String::as_bytes).collect();
        let names = crate::csvread::header_names(name, &fields)?;
        let (rows, width) = (table.row_count(), names.len());
        let mut next = 0usize;
        let mut value = Vec::new();
        self.add_rows(name, &names, (Unit::Rows, Some(rows as u64)), |rec| {
            if next == rows {
                return Ok(None);
            }
            rec.clear();
            for c in 0..width {
                value.clear();
                table.write_value(c, next, &mut value)?;
                rec.push_field(&value);
            }
            next += 1;
            Ok(Some(next as u64 + 1))
        })
    }

    /// Adds a source called `name` with columns `names`, whose rows `read` gives one at a
    /// time (with its line or row number; `None` at the end). `(unit, total)` is how its
    /// progress is counted: in bytes (a record's position) or rows, out of the total if known.
    fn add_rows(
        &mut self,
        name: &str,
        names: &[String],
        (unit, total): (Unit, Option<u64>),
        mut read: impl FnMut(&mut csv::ByteRecord) -> Result<Option<u64>, Error>,
    ) -> Result<&mut Self, Error> {
        let what = format!("reading {name}");
        let schema = Schema::resolve(names, &self.columns, name)?;
        let id_col = schema.columns_with(Role::Id)[0];
        let role_cols: Vec<Vec<usize>> = VALUE_ROLES
            .iter()
            .map(|&r| schema.columns_with(r))
            .collect();
        let other_cols: Vec<(usize, usize)> = schema
            .uses()
            .iter()
            .enumerate()
            .filter(|(_, u)| **u == ColumnUse::Other)
            .map(|(i, _)| (i, self.other_slot(&names[i])))
            .collect();
        let start = u32::try_from(self.id_end.len()).map_err(|_| too_many(name))?;
        // Rows are read in batches; the columns of a batch are interned in parallel, each
        // column by one thread in row order, so ids do not depend on the thread count. While
        // the pool interns one batch, this thread parses the next.
        // Grown as rows come, so that a small batch (one C or Python call) pays for its rows
        // only, not for BATCH empty records.
        let mut batch: Vec<csv::ByteRecord> = Vec::new();
        let mut next_batch: Vec<csv::ByteRecord> = Vec::new();
        let id_name = &names[id_col];
        let held_before = crate::memory::resident().unwrap_or(0);
        let mut ids = Ids {
            text: &mut self.ids,
            id_end: &mut self.id_end,
            lines: &mut self.lines,
            source: name,
            column: id_name,
            col: id_col,
        };
        let (mut n, mut eof) = ids.fill(&mut read, &mut batch)?;
        while n > 0 {
            let rows = &batch[..n];
            let done = match unit {
                Unit::Bytes => rows
                    .last()
                    .and_then(csv::ByteRecord::position)
                    .map_or(0, csv::Position::byte),
                _ => u64::from(ids.id_end.len() as u32 - start),
            };
            crate::progress::report(
                self.progress.as_ref(),
                &Step {
                    what: &what,
                    unit,
                    done,
                    total,
                },
            );
            let line = ids.lines.last().copied().unwrap_or(0);
            let (raw, others) = (&mut self.raw, &mut self.others);
            let settle_after = self.settle_after;
            let next = rayon::in_place_scope(|s| {
                s.spawn(|_| intern_batch(raw, others, rows, &role_cols, &other_cols, settle_after));
                if eof {
                    Ok((0, true))
                } else {
                    ids.fill(&mut read, &mut next_batch)
                }
            })?;
            if let Some(budget) = &self.memory {
                check_reading(budget, name, line, held_before, (unit, done, total))?;
            }
            (n, eof) = next;
            std::mem::swap(&mut batch, &mut next_batch);
        }
        let end = u32::try_from(self.id_end.len()).map_err(|_| too_many(name))?;
        self.sources.push(Source {
            name: name.to_string(),
            rows: start..end,
        });
        self.schemas.push(schema);
        Ok(self)
    }

    /// The slot of carried column `name`, adding it (absent on earlier rows) if new.
    fn other_slot(&mut self, name: &str) -> usize {
        if let Some(i) = self.others.iter().position(|(n, _)| n == name) {
            return i;
        }
        let col = RawColumn {
            rows: vec![NO_ID; self.id_end.len()],
            ..RawColumn::default()
        };
        self.others.push((name.to_string(), col));
        self.others.len() - 1
    }

    /// Normalises every value and builds the store.
    ///
    /// # Errors
    ///
    /// A config error when the column config names a column no source has; an input error
    /// when a source has two rows with one id; in strict mode, a value error
    /// naming the first invalid value's file, line and column.
    pub fn build(mut self) -> Result<(Records, QualityReport), Error> {
        self.check_mapped_columns()?;
        // The raw values' tables are done with (the values stay, in id order): freed first,
        // their memory serves normalising.
        for col in self
            .raw
            .iter_mut()
            .chain(self.others.iter_mut().map(|(_, c)| c))
        {
            col.table = HashTable::new();
        }
        if let Some(budget) = &self.memory
            && let Some(held) = crate::memory::resident()
        {
            // Normalising holds the normalised columns beside the raw ones: it needs about
            // as much again as reading took (1.2 to 1.4 times, measured at 9M to 23M records),
            // so a run that cannot fit stops here, not minutes later.
            let read = held.saturating_sub(self.held_at_start);
            budget.check_held(held, read, || {
                format!(
                    "normalising {} records (it needs about as much again as reading took)",
                    self.id_end.len()
                )
            })?;
        }
        let rank = self.ranks()?;
        let accept_test = self.accept_test_nhs_numbers;
        let mut quality = QualityReport {
            sources: self
                .sources
                .iter()
                .map(|s| SourceQuality {
                    file: s.name.clone(),
                    rows: u64::from(s.rows.end - s.rows.start),
                    columns: Vec::new(),
                })
                .collect(),
        };
        // The roles side by side, each into columns and dictionaries of its own: a role holds
        // its normalised values a piece at a time and their keys in one arena
        // (`normalise_interned`), and each role's dictionary is numbered in first-seen order,
        // so the store does not depend on the thread count.
        let roles: Vec<(Columns, Vec<(usize, ColumnQuality)>)> = VALUE_ROLES
            .par_iter()
            .zip(&self.raw)
            .map(|(&role, col)| {
                let mut part = Columns::default();
                let problems = store_role(&mut part, role, col, accept_test);
                let quality = (self.sources.iter().enumerate())
                    .filter_map(|(si, s)| {
                        let label = self.schemas[si].column_label(role);
                        (!label.is_empty()).then(|| {
                            let rows = s.rows.clone();
                            let q = column_quality(
                                label,
                                Some(role),
                                rows,
                                &col.rows,
                                &problems,
                                &self.lines,
                            );
                            (si, q)
                        })
                    })
                    .collect();
                (part, quality)
            })
            .collect();
        let mut columns = Columns::default();
        for (&role, (part, qualities)) in VALUE_ROLES.iter().zip(roles) {
            columns.take_role(role, part);
            for (si, q) in qualities {
                quality.sources[si].columns.push(q);
            }
        }
        let mut others = Vec::with_capacity(self.others.len());
        for (name, col) in &self.others {
            let (column, problems) = other_column(name, col);
            for (si, s) in self.sources.iter().enumerate() {
                if !self.schemas[si].headers().iter().any(|h| h == name) {
                    continue;
                }
                quality.sources[si].columns.push(column_quality(
                    name.clone(),
                    None,
                    s.rows.clone(),
                    &col.rows,
                    &problems,
                    &self.lines,
                ));
            }
            others.push(column);
        }
        if self.strict
            && let Some(e) = quality.first_problem()
        {
            return Err(e);
        }
        let ids = (String::from_utf8(self.ids).unwrap_or_default(), self.id_end);
        let records = Records::from_columns(
            self.sources,
            ids,
            rank,
            columns,
            others,
            crate::pseudonym::check_scheme,
        )?;
        Ok((records, quality))
    }

    /// A config error when the column config maps a column no source has.
    fn check_mapped_columns(&self) -> Result<(), Error> {
        for name in self.columns.keys() {
            if !self
                .schemas
                .iter()
                .any(|s| s.headers().iter().any(|h| h == name))
            {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("the config maps column '{name}', which no input file has"),
                ));
            }
        }
        Ok(())
    }

    /// Each row's position in the order of (source, id); fails when a source holds two rows
    /// with one id, naming both lines.
    fn ranks(&self) -> Result<Vec<u32>, Error> {
        let id = |r: u32| &self.ids[span_u32(&self.id_end, r)];
        let mut rank = vec![0u32; self.id_end.len()];
        for (si, s) in self.sources.iter().enumerate() {
            let rows: Vec<u32> = s.rows.clone().collect();
            let rows = sort_by_bytes(&rows, id);
            if let Some(w) = rows.windows(2).find(|w| id(w[0]) == id(w[1])) {
                let col = self.schemas[si].column_label(Role::Id);
                return Err(Error::input_at(
                    &s.name,
                    self.lines[w[1] as usize],
                    Some(&col),
                    &format!(
                        "duplicate id: the same id is also on line {}",
                        self.lines[w[0] as usize]
                    ),
                ));
            }
            for (i, &r) in rows.iter().enumerate() {
                rank[r as usize] = s.rows.start + i as u32;
            }
        }
        Ok(rank)
    }
}

/// Checks the memory held after a batch of rows of source `name`, read up to `line` (the
/// process held `held_before` when the source began), with, for a file of known size read at
/// least a twentieth of the way, what the rest of it will add at the rate of the part read.
fn check_reading(
    budget: &crate::memory::Budget,
    name: &str,
    line: u64,
    held_before: u64,
    (unit, done, total): (Unit, u64, Option<u64>),
) -> Result<(), Error> {
    let Some(held) = crate::memory::resident() else {
        return Ok(());
    };
    let rest = rest_of_file(held.saturating_sub(held_before), (unit, done, total));
    budget.check_held(held, rest, || {
        if rest > 0 {
            format!(
                "reading {name} (at line {line}, {:.0}% of the file; the rest is projected \
                 from the part read)",
                done as f64 * 100.0 / total.unwrap_or(1).max(1) as f64
            )
        } else {
            format!("reading {name} (at line {line})")
        }
    })
}

/// The ids and line numbers of the rows being read from one source, and where its id column is.
struct Ids<'a> {
    text: &'a mut Vec<u8>,
    id_end: &'a mut Vec<u32>,
    lines: &'a mut Vec<u64>,
    /// The source's name and its id column's, for messages.
    source: &'a str,
    column: &'a str,
    col: usize,
}

impl Ids<'_> {
    /// Reads up to [`BATCH`] rows into `batch` with `read`, keeping each row's id and line;
    /// returns how many were read and whether the source ended.
    fn fill(
        &mut self,
        read: &mut impl FnMut(&mut csv::ByteRecord) -> Result<Option<u64>, Error>,
        batch: &mut Vec<csv::ByteRecord>,
    ) -> Result<(usize, bool), Error> {
        let (name, id_name) = (self.source, self.column);
        let mut n = 0;
        while n < BATCH {
            if n == batch.len() {
                batch.push(csv::ByteRecord::new());
            }
            let rec = &mut batch[n];
            let Some(line) = read(rec)? else {
                return Ok((n, true));
            };
            let id = rec.get(self.col).unwrap_or(b"").trim_ascii();
            if id.is_empty() {
                return Err(Error::input_at(name, line, Some(id_name), "empty id"));
            }
            if std::str::from_utf8(id).is_err() {
                return Err(Error::input_at(
                    name,
                    line,
                    Some(id_name),
                    "id is not valid UTF-8",
                ));
            }
            if id.len() > MAX_VALUE_BYTES {
                return Err(Error::input_at(name, line, Some(id_name), "id is too long"));
            }
            self.text.extend_from_slice(id);
            let end = u32::try_from(self.text.len()).map_err(|_| too_many(name))?;
            self.id_end.push(end);
            if self.id_end.len() >= NO_ID as usize {
                return Err(too_many(name));
            }
            self.lines.push(line);
            n += 1;
        }
        Ok((n, false))
    }
}

/// Interns the fields of `rows` into the value columns (`role_cols`: each role's columns)
/// and the carried columns (`other_cols`: file column and slot), the columns in parallel.
fn intern_batch(
    raw: &mut [RawColumn],
    others: &mut [(String, RawColumn)],
    rows: &[csv::ByteRecord],
    role_cols: &[Vec<usize>],
    other_cols: &[(usize, usize)],
    settle_after: usize,
) {
    raw.par_iter_mut()
        .zip(role_cols.par_iter())
        .for_each(|(col, cols)| {
            let mut joined = Vec::new();
            for rec in rows {
                col.push(field(rec, cols, &mut joined));
            }
            col.settle(settle_after);
        });
    others.par_iter_mut().enumerate().for_each(|(i, (_, col))| {
        let c = other_cols.iter().find(|(_, s)| *s == i).map(|(c, _)| *c);
        for rec in rows {
            col.push(c.and_then(|c| rec.get(c)).map(<[u8]>::trim_ascii));
        }
        col.settle(settle_after);
    });
}

/// Normalises one role's raw values and interns them into `rec`, the columns of the store
/// being built, and sets its per-row column from `col`; returns each raw value's status for
/// the quality report.
fn store_role(rec: &mut Columns, role: Role, col: &RawColumn, accept_test: bool) -> Vec<Status> {
    let raw = col.values();
    match role {
        Role::GivenName | Role::Surname => {
            let dict = if role == Role::GivenName {
                &mut rec.given_dict
            } else {
                &mut rec.surname_dict
            };
            let (ids, statuses) =
                normalise_interned(&raw, norm_name, String::as_str, |s| dict.push_distinct(s));
            let out = map_rows(&col.rows, &ids, NO_ID);
            if role == Role::GivenName {
                rec.placeholder = placeholder_bits(col);
                rec.given = out;
            } else {
                rec.surname = out;
            }
            statuses
        }
        Role::Postcode => {
            let dict = &mut rec.postcode_dict;
            let (ids, statuses) = normalise_interned(&raw, norm_postcode, Postcode::as_str, |p| {
                dict.push_distinct_text(p)
            });
            rec.postcode = map_rows(&col.rows, &ids, NO_ID);
            statuses
        }
        Role::Address => {
            let dict = &mut rec.address_dict;
            let (ids, statuses) = normalise_interned(&raw, norm_address, String::as_str, |s| {
                dict.push_distinct(s)
            });
            rec.address = map_rows(&col.rows, &ids, NO_ID);
            statuses
        }
        Role::DateOfBirth => {
            let v = normalise_all(&raw, norm_date);
            let ids: Vec<u32> = v.iter().map(|x| value_or(x, 0)).collect();
            rec.dob = map_rows(&col.rows, &ids, 0);
            problems_of(&v)
        }
        Role::Sex => {
            let v = normalise_all(&raw, norm_sex);
            let ids: Vec<u8> = v.iter().map(|x| value_or(x, 0)).collect();
            rec.sex = map_rows(&col.rows, &ids, 0);
            problems_of(&v)
        }
        Role::NhsNumber => {
            let v = normalise_all(&raw, |r| norm_nhs(r, accept_test));
            let ids: Vec<u64> = v.iter().map(|x| value_or(x, 0)).collect();
            // Only a value found invalid can be a mistyped number.
            let invalid: Vec<u64> = (raw.par_iter().zip(&v))
                .map(|(r, n)| match n {
                    Normalised::Invalid(_) => mistyped_nhs(r),
                    _ => 0,
                })
                .collect();
            rec.nhs = map_rows(&col.rows, &ids, 0);
            rec.nhs_invalid = map_rows(&col.rows, &invalid, 0);
            problems_of(&v)
        }
        Role::Id => Vec::new(),
    }
}

/// One bit per row: the given name is a newborn placeholder ("Baby of ...", "Twin 1").
fn placeholder_bits(col: &RawColumn) -> Vec<u64> {
    let values = col.values();
    let flags: Vec<bool> = values
        .par_iter()
        .map(|r| is_newborn_placeholder(r))
        .collect();
    let mut bits = vec![0u64; col.rows.len().div_ceil(64)];
    for (i, &r) in col.rows.iter().enumerate() {
        if r != NO_ID && flags[r as usize] {
            bits[i / 64] |= 1 << (i % 64);
        }
    }
    bits
}

/// A carried column, normalised (folded) and interned, with each distinct value's status.
fn other_column(name: &str, col: &RawColumn) -> (OtherColumn, Vec<Status>) {
    let mut dict = Interner::default();
    let (ids, statuses) = normalise_interned(&col.values(), norm_other, String::as_str, |s| {
        dict.push_distinct(s)
    });
    let column = OtherColumn {
        name: name.to_string(),
        values: map_rows(&col.rows, &ids, NO_ID),
        dict,
    };
    (column, statuses)
}

/// Byte range of row `r`'s id given the ids' end offsets.
fn span_u32(ends: &[u32], r: u32) -> std::ops::Range<usize> {
    let i = r as usize;
    let start = if i == 0 { 0 } else { ends[i - 1] as usize };
    start..ends[i] as usize
}

fn too_many(name: &str) -> Error {
    Error::input_at(
        name,
        0,
        None,
        "too many rows: at most 4,294,967,294 rows in one run",
    )
}

#[cfg(test)]
mod memory_tests {
    use super::*;
    use crate::memory::Budget;

    #[test]
    fn the_rest_of_a_file_is_projected_from_the_part_read_once_a_twentieth_is_read() {
        // 100 MB grown over the first 1,000 of 10,000 bytes: 900 MB for the other 9,000.
        let at = |done| rest_of_file(100_000_000, (Unit::Bytes, done, Some(10_000)));
        assert_eq!(at(1_000), 900_000_000);
        assert_eq!(at(499), 0, "under a twentieth read: no projection");
        assert_eq!(at(10_000), 0, "all read: nothing more");
        assert_eq!(rest_of_file(100, (Unit::Rows, 10, None)), 0);
        assert_eq!(rest_of_file(100, (Unit::Bytes, 10, None)), 0);
    }

    #[test]
    fn reading_over_budget_stops_naming_the_source_and_line_never_a_value() {
        if crate::memory::resident().is_none() {
            return; // no /proc: no check.
        }
        let csv = "id,surname\nA1,Featherstonehaugh\nA2,Cholmondeley\n";
        let mut b = Records::builder();
        b.memory(Some(Budget::bytes(1)));
        let e = b.add_reader("gp.csv", csv.as_bytes()).err().unwrap();
        assert_eq!(e.kind(), crate::ErrorKind::Memory);
        let m = e.message();
        assert!(m.contains("while reading gp.csv (at line 3)"), "{m}");
        assert!(!m.contains("Featherstonehaugh") && !m.contains("A1"), "{m}");
        let mut b = Records::builder();
        b.memory(Some(Budget::bytes(u64::MAX)));
        b.add_reader("gp.csv", csv.as_bytes()).unwrap();
        assert_eq!(b.build().unwrap().0.len(), 2);
    }

    /// Reads `csv` with raw columns settling after `after` values; the store's bytes and
    /// the quality report.
    fn built(csv: &str, after: usize) -> (Vec<u8>, String, Vec<bool>) {
        let mut b = Records::builder();
        b.settle_after = after;
        b.add_reader("gp.csv", csv.as_bytes()).unwrap();
        let unique = b.raw.iter().map(|c| c.unique).collect();
        let (records, quality) = b.build().unwrap();
        let mut w = crate::colfile::ColWriter::new(Vec::new());
        records.write_columns(&mut w).unwrap();
        (w.finish().2, format!("{quality:?}"), unique)
    }

    #[test]
    fn a_column_of_distinct_values_read_without_its_table_gives_the_same_store() {
        // NHS numbers nearly all distinct (some twice, some invalid); surnames and postcodes
        // repeated; addresses distinct in two spellings.
        let nhs = |i: u64| {
            let body = 400_000_000 + i * 7;
            let digits: Vec<u64> = body
                .to_string()
                .bytes()
                .map(|b| u64::from(b - b'0'))
                .collect();
            let sum: u64 = digits.iter().zip((2..=10).rev()).map(|(d, w)| d * w).sum();
            match 11 - sum % 11 {
                11 => body * 10,
                10 => body * 10 + 1, // fails the check: reported as invalid
                c => body * 10 + c,
            }
        };
        let mut csv = String::from("id,nhs_number,surname,postcode,address\n");
        for i in 0..3_000u64 {
            let n = if i % 50 == 49 { nhs(i - 1) } else { nhs(i) };
            let road = if i % 2 == 0 { "Road" } else { "Rd" };
            csv.push_str(&format!(
                "R{i},{n},Surname{},LS{} {}AB,\"{} High {road}, Leeds\"\n",
                i % 40,
                i % 9,
                i % 7,
                i / 2
            ));
        }
        let (store, quality, unique) = built(&csv, 100);
        let nhs_col = VALUE_ROLES
            .iter()
            .position(|&r| r == Role::NhsNumber)
            .unwrap();
        let surname = VALUE_ROLES
            .iter()
            .position(|&r| r == Role::Surname)
            .unwrap();
        assert!(unique[nhs_col], "the NHS numbers are read without a table");
        assert!(!unique[surname], "repeated surnames keep theirs");
        let (store_all, quality_all, unique_all) = built(&csv, usize::MAX);
        assert!(unique_all.iter().all(|u| !u));
        assert!(quality.contains("check digit"), "{quality}");
        assert_eq!(quality, quality_all);
        assert!(store == store_all, "the stores differ");
    }
}

#[cfg(test)]
mod nhs_tests {
    use super::*;

    #[test]
    fn a_number_failing_only_its_check_digit_is_kept_as_mistyped() {
        // 943 476 5919 is valid; its last digit changed fails the check digit alone.
        assert_eq!(mistyped_nhs(b"943 476 5918"), 9_434_765_918);
        assert_eq!(mistyped_nhs(b"943-476-5918"), 9_434_765_918);
        assert_eq!(mistyped_nhs(b"9434765919"), 0);
        assert_eq!(mistyped_nhs(b"943476591"), 0);
        assert_eq!(mistyped_nhs(b"94347659180"), 0);
        assert_eq!(mistyped_nhs(b"94347659x8"), 0);
        assert_eq!(mistyped_nhs(b""), 0);
    }
}

#[cfg(test)]
mod raw_tests {
    use super::*;

    proptest::proptest! {
        /// Values around the length the table's entries hold whole (15 bytes), sharing
        /// their first 14 bytes, with zero bytes (the padding's value): a raw column numbers
        /// them as a plain table of strings does, and stores each distinct value once.
        #[test]
        fn a_raw_column_numbers_values_as_a_table_of_strings_does(
            tails in proptest::collection::vec(
                proptest::collection::vec(proptest::sample::select(vec![0u8, b'a', b'b']), 0..5),
                0..200,
            ),
        ) {
            // 14 bytes in common, then up to 4 of three: lengths 14 to 18 with many ties.
            let values: Vec<Vec<u8>> = tails.iter().map(|t| [&[b'x'; 14][..], t].concat()).collect();
            let mut col = RawColumn::default();
            let mut want = std::collections::HashMap::<&[u8], u32>::new();
            let mut ids = Vec::new();
            for v in &values {
                col.push(Some(v));
                let next = want.len() as u32;
                ids.push(*want.entry(v.as_slice()).or_insert(next));
            }
            proptest::prop_assert_eq!(&col.rows, &ids);
            proptest::prop_assert_eq!(col.values().len(), want.len());
        }
    }

    /// Two values of `len` bytes starting with `prefix` whose 32-bit hashes are equal.
    fn colliding(prefix: &[u8], len: usize) -> (Vec<u8>, Vec<u8>) {
        let mut seen = std::collections::HashMap::<u32, u64>::new();
        let value = |i: u64| {
            let mut v = prefix.to_vec();
            let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            v.extend(x.to_le_bytes().iter().map(|b| b'a' + b % 26));
            v.truncate(len);
            v
        };
        for i in 0u64.. {
            let v = value(i);
            if let Some(o) = seen.insert(value_hash(&v), i)
                && value(o) != v
            {
                return (value(o), v);
            }
        }
        unreachable!()
    }

    /// Values whose hashes collide are told apart by their bytes: short ones by the bytes
    /// the entry holds, long ones sharing those by the stored bytes.
    #[test]
    fn values_of_one_hash_get_ids_of_their_own() {
        for (prefix, len) in [(&b""[..], 6), (&b"xxxxxxxxxxxxxxx"[..], 19)] {
            let (a, b) = colliding(prefix, len);
            assert_eq!(value_hash(&a), value_hash(&b));
            assert_eq!(RawSlot::head(&a) == RawSlot::head(&b), len >= RawSlot::HELD);
            let mut col = RawColumn::default();
            for v in [&a, &b, &a, &b] {
                col.push(Some(v));
            }
            assert_eq!(col.rows, [0, 1, 0, 1], "values of {len} bytes");
        }
    }
}
