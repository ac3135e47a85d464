//! Reading CSV sources into a [`Records`] store, with a data-quality report.
//!
//! Reading is two-staged so that each distinct value is normalised once: rows are read and
//! every raw field is interned (a repeated surname costs one hash lookup); then the distinct
//! raw values of each column are normalised in parallel and interned again, with their
//! features, into the store's dictionaries. Ids are assigned in first-seen order, so the
//! store is the same on any thread count.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use hashbrown::HashTable;
use rayon::prelude::*;

use crate::Error;
use crate::csvread::CsvReader;
use crate::error::ErrorKind;
use crate::normalise::address::normalise_address;
use crate::normalise::date::parse_date;
use crate::normalise::name::normalise_name;
use crate::normalise::nhs_number::parse_nhs_number;
use crate::normalise::postcode::{Postcode, parse_postcode};
use crate::normalise::sex::{Sex, parse_sex};
use crate::normalise::text::fold;
use crate::record::{Interner, NONE, NewRow, OtherColumn, Records, Source, find_or_insert, span};
use crate::schema::{ColumnConfig, ColumnUse, Role, Schema};

/// A field longer than this many bytes is invalid ("too long"): no name, date, postcode or
/// address is this long, and refusing it bounds the work any one value can cause.
pub const MAX_VALUE_BYTES: usize = 4096;

/// How many line numbers the data-quality report keeps per problem.
const FIRST_LINES: usize = 5;

/// The value roles, in the order their columns are stored.
const VALUE_ROLES: &[Role] = Role::VALUES;

/// Distinct raw byte strings of one column, stored once in an arena.
#[derive(Default)]
struct RawColumn {
    table: HashTable<u32>,
    bytes: Vec<u8>,
    ends: Vec<usize>,
    /// Per row (across all sources): raw id, or NONE when empty or absent.
    rows: Vec<u32>,
}

impl RawColumn {
    fn push(&mut self, field: Option<&[u8]>) {
        let id = match field {
            Some(f) if !f.iter().all(u8::is_ascii_whitespace) => {
                let next = u32::try_from(self.ends.len()).unwrap_or(NONE - 1);
                let (bytes, ends) = (&self.bytes, &self.ends);
                let get = |id: u32| &bytes[span(ends, id)];
                match find_or_insert(&mut self.table, get, f, next) {
                    Some(id) => id,
                    None => {
                        self.bytes.extend_from_slice(f);
                        self.ends.push(self.bytes.len());
                        next
                    }
                }
            }
            _ => NONE,
        };
        self.rows.push(id);
    }

    /// The distinct values, in id order.
    fn values(&self) -> Vec<&[u8]> {
        (0..self.ends.len() as u32)
            .map(|id| &self.bytes[span(&self.ends, id)])
            .collect()
    }
}

/// Rows read before their columns are interned (in parallel, one column per thread).
const BATCH: usize = 16_384;

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

/// A normalised value, or why there is none.
enum Norm<T> {
    Missing,
    Invalid(&'static str),
    Value(T),
}

/// What one role's raw values normalise to.
enum Normalised {
    Name(Vec<Norm<String>>),
    Date(Vec<Norm<u32>>),
    Sex(Vec<Norm<u8>>),
    Postcode(Vec<Norm<Postcode>>),
    /// Valid numbers, and the digits of ten-digit numbers that failed the check digit.
    Nhs(Vec<Norm<u64>>, Vec<u64>),
    Text(Vec<Norm<String>>),
}

/// Reads CSV sources into a [`Records`] store.
///
/// # Example
///
/// ```
/// # fn main() -> Result<(), carematch::Error> {
/// let csv = "id,given_name,surname,dob,nhs_number\n1,Ann,Smith,01/02/1980,943 476 5919\n";
/// let mut b = carematch::RecordsBuilder::new();
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
    sources: Vec<Source>,
    schemas: Vec<Schema>,
    ids: Vec<u8>,
    id_end: Vec<u32>,
    lines: Vec<u64>,
    raw: Vec<RawColumn>,
    others: Vec<(String, RawColumn)>,
}

impl Default for RecordsBuilder {
    fn default() -> Self {
        RecordsBuilder::new()
    }
}

impl RecordsBuilder {
    /// A builder with no sources, an empty column config, strict mode off and test-range NHS
    /// numbers accepted.
    pub fn new() -> RecordsBuilder {
        RecordsBuilder {
            columns: ColumnConfig::new(),
            strict: false,
            accept_test_nhs_numbers: true,
            sources: Vec::new(),
            schemas: Vec::new(),
            ids: Vec::new(),
            id_end: Vec::new(),
            lines: Vec::new(),
            raw: VALUE_ROLES.iter().map(|_| RawColumn::default()).collect(),
            others: Vec::new(),
        }
    }

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

    /// Reads the CSV file at `path` as a new source named by its path.
    ///
    /// # Errors
    ///
    /// I/O errors, and input errors naming the file, line and column: malformed CSV, a ragged
    /// row, no header, no id column, an empty or non-UTF-8 id.
    pub fn add_csv(&mut self, path: &Path) -> Result<&mut Self, Error> {
        let f = File::open(path).map_err(|e| Error::io(path, "open", &e))?;
        self.add_reader(
            &path.display().to_string(),
            std::io::BufReader::with_capacity(1 << 20, f),
        )
    }

    /// Reads CSV from `reader` as a new source called `name` (used in messages).
    ///
    /// # Errors
    ///
    /// As [`RecordsBuilder::add_csv`].
    pub fn add_reader(&mut self, name: &str, reader: impl Read) -> Result<&mut Self, Error> {
        let mut rdr = CsvReader::new(name, reader, false)?;
        let names = rdr.headers().to_vec();
        let schema = Schema::resolve(&names, &self.columns, name)?;
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
        // column by one thread in row order, so ids do not depend on the thread count.
        // Grown as rows come, so that a small batch (one C or Python call) pays for its rows
        // only, not for BATCH empty records.
        let mut batch: Vec<csv::ByteRecord> = Vec::new();
        let id_name = &names[id_col];
        let mut eof = false;
        while !eof {
            let mut n = 0;
            while n < BATCH {
                if n == batch.len() {
                    batch.push(csv::ByteRecord::new());
                }
                let rec = &mut batch[n];
                let Some(line) = rdr.read(rec)? else {
                    eof = true;
                    break;
                };
                let id = rec.get(id_col).unwrap_or(b"").trim_ascii();
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
                self.ids.extend_from_slice(id);
                let end = u32::try_from(self.ids.len()).map_err(|_| too_many(name))?;
                self.id_end.push(end);
                if self.id_end.len() >= NONE as usize {
                    return Err(too_many(name));
                }
                self.lines.push(line);
                n += 1;
            }
            let rows = &batch[..n];
            self.raw
                .par_iter_mut()
                .zip(role_cols.par_iter())
                .for_each(|(col, cols)| {
                    let mut joined = Vec::new();
                    for rec in rows {
                        col.push(field(rec, cols, &mut joined));
                    }
                });
            self.others
                .par_iter_mut()
                .enumerate()
                .for_each(|(i, (_, col))| {
                    let c = other_cols.iter().find(|(_, s)| *s == i).map(|(c, _)| *c);
                    for rec in rows {
                        col.push(c.and_then(|c| rec.get(c)).map(<[u8]>::trim_ascii));
                    }
                });
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
            rows: vec![NONE; self.id_end.len()],
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
    pub fn build(self) -> Result<(Records, QualityReport), Error> {
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
        let rank = self.ranks()?;
        let accept_test = self.accept_test_nhs_numbers;
        let normalised: Vec<Normalised> = VALUE_ROLES
            .iter()
            .zip(&self.raw)
            .map(|(&role, col)| normalise_column(role, &col.values(), accept_test))
            .collect();
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
        let n = self.id_end.len();
        let mut rec = Records {
            sources: self.sources.clone(),
            id_text: String::from_utf8(self.ids).unwrap_or_default(),
            id_end: self.id_end,
            rank,
            ..Records::default()
        };
        for ((&role, col), norm) in VALUE_ROLES.iter().zip(&self.raw).zip(normalised) {
            let problems: Vec<Status>;
            match norm {
                Normalised::Name(v) => {
                    let dict = if role == Role::GivenName {
                        &mut rec.given_dict
                    } else {
                        &mut rec.surname_dict
                    };
                    let ids = intern_all(&v, |s| dict.intern(s));
                    problems = problems_of(&v);
                    let out = map_rows(&col.rows, &ids, NONE);
                    if role == Role::GivenName {
                        let values = col.values();
                        let flags: Vec<bool> = values
                            .par_iter()
                            .map(|r| is_newborn_placeholder(r))
                            .collect();
                        let mut bits = vec![0u64; col.rows.len().div_ceil(64)];
                        for (i, &r) in col.rows.iter().enumerate() {
                            if r != NONE && flags[r as usize] {
                                bits[i / 64] |= 1 << (i % 64);
                            }
                        }
                        rec.placeholder = bits;
                        rec.given = out;
                    } else {
                        rec.surname = out;
                    }
                }
                Normalised::Date(v) => {
                    let ids: Vec<u32> = v.iter().map(|x| value_or(x, 0)).collect();
                    problems = problems_of(&v);
                    rec.dob = map_rows(&col.rows, &ids, 0);
                }
                Normalised::Sex(v) => {
                    let ids: Vec<u8> = v.iter().map(|x| value_or(x, 0)).collect();
                    problems = problems_of(&v);
                    rec.sex = map_rows(&col.rows, &ids, 0);
                }
                Normalised::Postcode(v) => {
                    let ids = intern_all(&v, |p| rec.postcode_dict.intern(p));
                    problems = problems_of(&v);
                    rec.postcode = map_rows(&col.rows, &ids, NONE);
                }
                Normalised::Nhs(v, invalid) => {
                    let ids: Vec<u64> = v.iter().map(|x| value_or(x, 0)).collect();
                    problems = problems_of(&v);
                    rec.nhs = map_rows(&col.rows, &ids, 0);
                    rec.nhs_invalid = map_rows(&col.rows, &invalid, 0);
                }
                Normalised::Text(v) => {
                    let ids = intern_all(&v, |s| rec.address_dict.intern(s));
                    problems = problems_of(&v);
                    rec.address = map_rows(&col.rows, &ids, NONE);
                }
            }
            for (si, s) in rec.sources.iter().enumerate() {
                let label = self.schemas[si].column_label(role);
                if label.is_empty() {
                    continue;
                }
                quality.sources[si].columns.push(column_quality(
                    label,
                    Some(role),
                    s.rows.clone(),
                    &col.rows,
                    &problems,
                    &self.lines,
                ));
            }
        }
        for (name, col) in &self.others {
            let v: Vec<Norm<String>> = col.values().par_iter().map(|r| norm_other(r)).collect();
            let mut dict = Interner::default();
            let ids = intern_all(&v, |s| dict.intern(s));
            let problems = problems_of(&v);
            let values = map_rows(&col.rows, &ids, NONE);
            for (si, s) in rec.sources.iter().enumerate() {
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
            rec.others.push(OtherColumn {
                name: name.clone(),
                values,
                dict,
            });
        }
        debug_assert!(rec.given.len() == n && rec.nhs.len() == n);
        if self.strict
            && let Some(e) = quality.first_problem()
        {
            return Err(e);
        }
        // Every store is checked here, whoever reads it (CLI, C, Python, index): clear and
        // pseudonymised sources, or sources of two encoding schemes, can never be linked.
        rec.scheme = crate::pseudonym::check_scheme(&rec)?;
        Ok((rec, quality))
    }

    /// Each row's position in the order of (source, id); fails when a source holds two rows
    /// with one id, naming both lines.
    fn ranks(&self) -> Result<Vec<u32>, Error> {
        let id = |r: u32| &self.ids[span_u32(&self.id_end, r)];
        let mut rank = vec![0u32; self.id_end.len()];
        for (si, s) in self.sources.iter().enumerate() {
            let mut rows: Vec<u32> = s.rows.clone().collect();
            rows.par_sort_unstable_by(|&a, &b| id(a).cmp(id(b)).then(a.cmp(&b)));
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

/// Normalises the distinct raw values of one role, in parallel, in order.
fn normalise_column(role: Role, raw: &[&[u8]], accept_test: bool) -> Normalised {
    match role {
        Role::GivenName | Role::Surname => {
            Normalised::Name(raw.par_iter().map(|r| norm_name(r)).collect())
        }
        Role::Address => Normalised::Text(raw.par_iter().map(|r| norm_address(r)).collect()),
        Role::DateOfBirth => Normalised::Date(raw.par_iter().map(|r| norm_date(r)).collect()),
        Role::Sex => Normalised::Sex(raw.par_iter().map(|r| norm_sex(r)).collect()),
        Role::Postcode => Normalised::Postcode(raw.par_iter().map(|r| norm_postcode(r)).collect()),
        Role::NhsNumber => Normalised::Nhs(
            raw.par_iter().map(|r| norm_nhs(r, accept_test)).collect(),
            raw.par_iter().map(|r| mistyped_nhs(r)).collect(),
        ),
        Role::Id => Normalised::Text(Vec::new()),
    }
}

fn norm_name(raw: &[u8]) -> Norm<String> {
    text_norm(raw, normalise_name)
}

fn norm_address(raw: &[u8]) -> Norm<String> {
    text_norm(raw, normalise_address)
}

fn norm_other(raw: &[u8]) -> Norm<String> {
    text_norm(raw, |s| Some(fold(s)).filter(|f| !f.is_empty()))
}

fn norm_date(raw: &[u8]) -> Norm<u32> {
    checked(raw, |s| match parse_date(s) {
        Ok(Some(d)) => Norm::Value(d.to_u32()),
        Ok(None) => Norm::Missing,
        Err(p) => Norm::Invalid(p.as_str()),
    })
}

fn norm_sex(raw: &[u8]) -> Norm<u8> {
    checked(raw, |s| match parse_sex(s) {
        Ok(Some(Sex::Male)) => Norm::Value(1),
        Ok(Some(Sex::Female)) => Norm::Value(2),
        Ok(None) => Norm::Missing,
        Err(p) => Norm::Invalid(p.as_str()),
    })
}

fn norm_postcode(raw: &[u8]) -> Norm<Postcode> {
    checked(raw, |s| match parse_postcode(s) {
        Some(p) => Norm::Value(p),
        None => Norm::Missing,
    })
}

fn norm_nhs(raw: &[u8], accept_test: bool) -> Norm<u64> {
    checked(raw, |s| match parse_nhs_number(s) {
        Ok(Some(n)) if n.is_test_range() && !accept_test => Norm::Invalid("999 test range"),
        Ok(Some(n)) => Norm::Value(n.to_u64()),
        Ok(None) => Norm::Missing,
        Err(p) => Norm::Invalid(p.as_str()),
    })
}

/// One record's fields normalised as a file's rows are (the same functions, so a record
/// queried or inserted one at a time gets exactly the values it would get in a batch):
/// `raw(role)` gives a role's raw value (several address columns already joined), `other(i)`
/// the raw value of carried column `others[i]`. Invalid values become missing; each is
/// returned as (role, problem), without the value.
pub(crate) fn normalise_record<'a>(
    id: &str,
    raw: impl Fn(Role) -> Option<&'a [u8]>,
    other: impl Fn(usize) -> Option<&'a [u8]>,
    n_others: usize,
    accept_test: bool,
) -> (NewRow, Vec<(Role, &'static str)>) {
    let mut problems = Vec::new();
    let mut take = |role: Role, n: Norm<()>| {
        if let Norm::Invalid(p) = n {
            problems.push((role, p));
        }
    };
    fn split<T>(n: Norm<T>) -> (Norm<()>, Option<T>) {
        match n {
            Norm::Value(v) => (Norm::Value(()), Some(v)),
            Norm::Missing => (Norm::Missing, None),
            Norm::Invalid(p) => (Norm::Invalid(p), None),
        }
    }
    let get = |role: Role| raw(role).map(<[u8]>::trim_ascii).filter(|r| !r.is_empty());
    let mut row = NewRow {
        id: id.to_string(),
        ..NewRow::default()
    };
    for &role in VALUE_ROLES {
        let Some(r) = get(role) else { continue };
        match role {
            Role::GivenName => {
                let (n, v) = split(norm_name(r));
                take(role, n);
                row.given = v;
                row.placeholder = is_newborn_placeholder(r);
            }
            Role::Surname => {
                let (n, v) = split(norm_name(r));
                take(role, n);
                row.surname = v;
            }
            Role::DateOfBirth => {
                let (n, v) = split(norm_date(r));
                take(role, n);
                row.dob = v.unwrap_or(0);
            }
            Role::Sex => {
                let (n, v) = split(norm_sex(r));
                take(role, n);
                row.sex = v.unwrap_or(0);
            }
            Role::Postcode => {
                let (n, v) = split(norm_postcode(r));
                take(role, n);
                row.postcode = v;
            }
            Role::NhsNumber => {
                let (n, v) = split(norm_nhs(r, accept_test));
                take(role, n);
                row.nhs = v.unwrap_or(0);
                row.nhs_invalid = mistyped_nhs(r);
            }
            Role::Address => {
                let (n, v) = split(norm_address(r));
                take(role, n);
                row.address = v;
            }
            Role::Id => {}
        }
    }
    row.others = (0..n_others)
        .map(|i| match other(i).map(<[u8]>::trim_ascii) {
            Some(r) if !r.is_empty() => match norm_other(r) {
                Norm::Value(v) => Some(v),
                _ => None,
            },
            _ => None,
        })
        .collect();
    (row, problems)
}

/// The normalised text of one raw value of `role`, as a file's value is normalised:
/// `Ok(None)` when missing (or a placeholder), `Err(problem)` when invalid (the problem's
/// name, never the value). Names and addresses as compared (`"obrien"`), dates as
/// `YYYY-MM-DD`, sex as `M` or `F`, postcodes in canonical form, NHS numbers as ten digits.
///
/// # Example
///
/// ```
/// use carematch::{Role, normalise_value};
/// assert_eq!(normalise_value(Role::DateOfBirth, b"01/02/1980", true), Ok(Some("1980-02-01".into())));
/// assert_eq!(normalise_value(Role::Postcode, b"ls14ap", true), Ok(Some("LS1 4AP".into())));
/// assert_eq!(normalise_value(Role::DateOfBirth, b"31/02/1980", true), Err("impossible date"));
/// ```
pub fn normalise_value(
    role: Role,
    raw: &[u8],
    accept_test_nhs_numbers: bool,
) -> Result<Option<String>, &'static str> {
    let (row, problems) = normalise_record(
        "",
        |r| (r == role).then_some(raw),
        |_| None,
        0,
        accept_test_nhs_numbers,
    );
    if let Some((_, p)) = problems.first() {
        return Err(p);
    }
    Ok(match role {
        Role::GivenName => row.given,
        Role::Surname => row.surname,
        Role::DateOfBirth => crate::normalise::date::Date::from_u32(row.dob).map(|d| d.to_string()),
        Role::Sex => match row.sex {
            1 => Some(Sex::Male.to_string()),
            2 => Some(Sex::Female.to_string()),
            _ => None,
        },
        Role::Postcode => row.postcode.map(|p| p.to_string()),
        Role::NhsNumber => (row.nhs != 0).then(|| format!("{:010}", row.nhs)),
        Role::Address => row.address,
        Role::Id => std::str::from_utf8(raw).ok().map(|s| s.trim().to_string()),
    })
}

/// True for a given name that stands for a newborn of a multiple birth not yet named:
/// "Twin 1", "Twin B", "Triplet 2" and the like. ("Baby of …" alone says nothing of a twin:
/// the ambiguity check catches two babies who match one record equally well.)
fn is_newborn_placeholder(raw: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(raw) else {
        return false;
    };
    let f = fold(s);
    let multiple = f
        .split(' ')
        .any(|t| t.starts_with("twin") || t.starts_with("triplet") || t.starts_with("quad"));
    multiple && normalise_name(s).is_none()
}

/// The ten digits of a raw NHS number that fails only its check digit, else 0.
fn mistyped_nhs(raw: &[u8]) -> u64 {
    let digits: Vec<u8> = raw
        .iter()
        .copied()
        .filter(|b| !matches!(b, b' ' | b'-'))
        .collect();
    if digits.len() != 10 || !digits.iter().all(u8::is_ascii_digit) {
        return 0;
    }
    let s = std::str::from_utf8(&digits).unwrap_or("");
    match parse_nhs_number(s) {
        Err(crate::normalise::nhs_number::NhsProblem::CheckDigit) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

/// Applies `f` to a raw value that is valid UTF-8 and not too long.
fn checked<T>(raw: &[u8], f: impl Fn(&str) -> Norm<T>) -> Norm<T> {
    if raw.len() > MAX_VALUE_BYTES {
        return Norm::Invalid("too long");
    }
    match std::str::from_utf8(raw) {
        Ok(s) => f(s),
        Err(_) => Norm::Invalid("not valid UTF-8"),
    }
}

fn text_norm(raw: &[u8], f: impl Fn(&str) -> Option<String>) -> Norm<String> {
    checked(raw, |s| f(s).map_or(Norm::Missing, Norm::Value))
}

fn intern_all<T>(v: &[Norm<T>], mut f: impl FnMut(&T) -> u32) -> Vec<u32> {
    v.iter()
        .map(|x| match x {
            Norm::Value(t) => f(t),
            _ => NONE,
        })
        .collect()
}

fn value_or<T: Copy>(x: &Norm<T>, none: T) -> T {
    match x {
        Norm::Value(t) => *t,
        _ => none,
    }
}

/// What a distinct raw value normalised to, for the quality report.
#[derive(Clone, Copy)]
enum Status {
    Present,
    Missing,
    Invalid(&'static str),
}

fn problems_of<T>(v: &[Norm<T>]) -> Vec<Status> {
    v.iter()
        .map(|x| match x {
            Norm::Value(_) => Status::Present,
            Norm::Missing => Status::Missing,
            Norm::Invalid(p) => Status::Invalid(p),
        })
        .collect()
}

fn map_rows<T: Copy>(rows: &[u32], ids: &[T], none: T) -> Vec<T> {
    rows.iter()
        .map(|&r| if r == NONE { none } else { ids[r as usize] })
        .collect()
}

fn column_quality(
    column: String,
    role: Option<Role>,
    rows: std::ops::Range<u32>,
    raw_rows: &[u32],
    statuses: &[Status],
    lines: &[u64],
) -> ColumnQuality {
    let mut q = ColumnQuality {
        column,
        role,
        present: 0,
        missing: 0,
        problems: Vec::new(),
    };
    for row in rows {
        let r = row as usize;
        let raw = raw_rows[r];
        let status = if raw == NONE {
            Status::Missing
        } else {
            statuses
                .get(raw as usize)
                .copied()
                .unwrap_or(Status::Missing)
        };
        if let Status::Invalid(p) = status {
            let e = match q.problems.iter_mut().position(|x| x.problem == p) {
                Some(i) => &mut q.problems[i],
                None => {
                    q.problems.push(ProblemCount {
                        problem: p,
                        count: 0,
                        first_lines: Vec::new(),
                    });
                    q.problems.last_mut().expect("just pushed")
                }
            };
            e.count += 1;
            if e.first_lines.len() < FIRST_LINES {
                e.first_lines.push(lines[r]);
            }
        } else if let Status::Missing = status {
            q.missing += 1;
        } else {
            q.present += 1;
        }
    }
    q.problems
        .sort_by(|a, b| b.count.cmp(&a.count).then(a.problem.cmp(b.problem)));
    q
}

/// Counts of present, missing and invalid values per source and column.
///
/// Never holds a value: only counts, problem names and line numbers.
#[derive(Clone, Debug, Default)]
pub struct QualityReport {
    /// One entry per source, in the order added.
    pub sources: Vec<SourceQuality>,
}

/// The data quality of one source.
#[derive(Clone, Debug)]
pub struct SourceQuality {
    /// The source's name (its file path).
    pub file: String,
    /// Data rows read.
    pub rows: u64,
    /// One entry per used column.
    pub columns: Vec<ColumnQuality>,
}

/// The data quality of one column (or group of address columns).
#[derive(Clone, Debug)]
pub struct ColumnQuality {
    /// Header name(s).
    pub column: String,
    /// The role, or `None` for a carried-through column.
    pub role: Option<Role>,
    /// Rows with a usable value.
    pub present: u64,
    /// Rows with no value (empty or a placeholder).
    pub missing: u64,
    /// Rows whose value was invalid and is treated as missing, by problem.
    pub problems: Vec<ProblemCount>,
}

/// How many rows had one problem, and the first few of their line numbers.
#[derive(Clone, Debug)]
pub struct ProblemCount {
    /// The problem, e.g. "check digit".
    pub problem: &'static str,
    /// Rows with it.
    pub count: u64,
    /// The first few line numbers (the header is line 1).
    pub first_lines: Vec<u64>,
}

impl QualityReport {
    /// The number of invalid values across all sources and columns.
    pub fn invalid_total(&self) -> u64 {
        self.sources
            .iter()
            .flat_map(|s| &s.columns)
            .flat_map(|c| &c.problems)
            .map(|p| p.count)
            .sum()
    }

    /// The invalid value on the earliest line, as a value error.
    fn first_problem(&self) -> Option<Error> {
        let mut best: Option<(usize, u64, &ColumnQuality, &ProblemCount)> = None;
        for (si, s) in self.sources.iter().enumerate() {
            for c in &s.columns {
                for p in &c.problems {
                    let line = p.first_lines.first().copied().unwrap_or(0);
                    if best.is_none_or(|(bs, bl, _, _)| (si, line) < (bs, bl)) {
                        best = Some((si, line, c, p));
                    }
                }
            }
        }
        best.map(|(si, line, c, p)| {
            Error::new(
                ErrorKind::Value,
                crate::error::locate(
                    &self.sources[si].file,
                    line,
                    Some(&c.column),
                    &format!("invalid value: {} (strict mode)", p.problem),
                ),
            )
        })
    }
}

impl fmt::Display for QualityReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.sources {
            writeln!(f, "data quality: {} ({} rows)", s.file, s.rows)?;
            writeln!(
                f,
                "  {:<24} {:>10} {:>10} {:>10}",
                "column", "present", "missing", "invalid"
            )?;
            for c in &s.columns {
                let invalid: u64 = c.problems.iter().map(|p| p.count).sum();
                write!(
                    f,
                    "  {:<24} {:>10} {:>10} {:>10}",
                    c.column, c.present, c.missing, invalid
                )?;
                for p in &c.problems {
                    let lines: Vec<String> = p.first_lines.iter().map(u64::to_string).collect();
                    write!(
                        f,
                        "  {}: {} (lines {}",
                        p.problem,
                        p.count,
                        lines.join(", ")
                    )?;
                    if p.count > p.first_lines.len() as u64 {
                        write!(f, ", ...")?;
                    }
                    write!(f, ")")?;
                }
                writeln!(f)?;
            }
        }
        Ok(())
    }
}
