//! Real-time matching: one record at a time against a population held in memory.
//!
//! An [`Index`] holds a population (a [`Records`](crate::Records) store that grows by one row per insert),
//! a table of its rows by record id, and one bucket table per blocking rule, so that a query
//! costs a few hash lookups for its candidates and the model's comparisons for each of them,
//! not a pass over the population. A query is normalised exactly as a file's row would be,
//! compared with the same comparison code as a batch run (its values are looked up in the
//! population's dictionaries; a value the population does not hold compares as text), scored
//! with the same weights, vetoes and deterministic rules, and decided the way a batch link
//! decides a record of its left file.
//!
//! # Concurrency
//!
//! `Index` is `Send + Sync`. Queries take a shared read lock; [`Index::insert`],
//! [`Index::update`] and [`Index::remove`] normalise their record before they take the write
//! lock and hold it only to append or mark one row (microseconds), so writers never block
//! readers for long and readers never block each other.
//!
//! # Differences from a batch link
//!
//! A query sees the population from one record's side. A batch link also makes a pair
//! ambiguous when the *right* record has two equally good left candidates, and counts
//! term frequencies over both files; a query knows only the indexed population. These are
//! the differences `examples/index_latency.rs` measures when it queries every record.

mod answer;
mod buckets;
mod entry;
mod file;
mod ids;
pub(crate) mod keys;
mod people;
mod population;
mod settings;

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use rustc_hash::FxHashMap;

use crate::Error;
use crate::error::ErrorKind;
use crate::input::normalise_record;
use crate::model::Model;
use crate::pseudonym::SCHEME_COLUMN;
use crate::record::NewRow;
use crate::rules::MatchRule;
use crate::schema::{ColumnConfig, ColumnUse, Role, Schema};

pub use answer::{Candidate, InvalidValue, QueryDecision, QueryOptions, QueryResult};
pub use entry::{Entry, MAX_QUERY_BYTES};
pub use file::FORMAT_VERSION;
pub use people::{PersonChange, PersonChanges};
pub use settings::IndexBuilder;

use entry::json_fields;
use population::{Inner, match_rows};
use settings::Settings;

/// A record's invalid values (field and problem, never the value).
type Invalid = Vec<InvalidValue>;

/// A population held in memory for one-record-at-a-time matching. See the [module
/// docs](crate::index).
///
/// # Example
///
/// ```
/// # fn main() -> Result<(), carematch::Error> {
/// use carematch::{Index, Model, Records, Role};
/// use carematch::index::Entry;
/// use carematch::compare::Comparison;
/// use carematch::model::LevelProbabilities;
///
/// let population = "id,nhs_number,given_name,surname,dob,postcode\n\
///                   A1,943 476 5919,Elizabeth,Smith,1980-02-01,LS1 4AP\n\
///                   A2,,Tom,Jones,1975-07-30,M1 1AE\n";
/// let mut b = Records::builder();
/// b.add_reader("population.csv", population.as_bytes())?;
/// let (records, _) = b.build()?;
/// // A model with flat parameters, for the example; use `Model::train` or `Model::load`.
/// let flat = |c: &Comparison| { let k = c.level_names().len() - 1; vec![1.0 / k as f64; k] };
/// let model = Comparison::defaults()
///     .into_iter()
///     .fold(Model::builder(), |b, c| {
///         let levels = LevelProbabilities { m: flat(&c), u: flat(&c) };
///         b.comparison(c, levels)
///     })
///     .lambda(0.01)
///     .build()?;
/// let index = Index::builder(model).build(records)?;
///
/// let mut q = Entry::new("H7");
/// q.set(Role::NhsNumber, "9434765919").set(Role::DateOfBirth, "01/02/1980");
/// let answer = index.query(&q, &Default::default())?;
/// assert_eq!(answer.decision.as_str(), "match");
/// assert_eq!(answer.candidates[0].id, "A1");
/// assert_eq!(answer.candidates[0].rule.as_deref(), Some("nhs-dob"));
/// # Ok(()) }
/// ```
pub struct Index {
    settings: Settings,
    inner: RwLock<Inner>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("records", &self.len())
            .finish_non_exhaustive()
    }
}

impl Index {
    /// A builder for an index scored by `model`.
    pub fn builder(model: Model) -> IndexBuilder {
        IndexBuilder {
            model,
            rules: MatchRule::defaults(),
            columns: ColumnConfig::new(),
            accept_test: true,
            person_ids: false,
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        // A panic while writing cannot leave a half-made row visible: every write appends
        // the row last. So a poisoned lock is still consistent.
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The number of records in the index.
    pub fn len(&self) -> usize {
        self.read().live_count as usize
    }

    /// True when the index holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The model the index scores with.
    pub fn model(&self) -> &Model {
        &self.settings.model
    }

    /// True when the index holds a record with id `id`.
    pub fn contains(&self, id: &str) -> bool {
        let g = self.read();
        g.ids.get(&g.records, id).is_some()
    }

    /// The person id of record `id`, when the index keeps person ids.
    pub fn person_id(&self, id: &str) -> Option<String> {
        let g = self.read();
        let row = g.ids.get(&g.records, id)?;
        g.people.as_ref().map(|p| p.id_of(row).to_string())
    }

    /// A record from (column name, raw value) pairs, named as in the population's file: the
    /// column mapping the index was built with applies, then the usual recognition of
    /// names; several address columns are joined in order; other columns the index carries
    /// are kept, the rest ignored.
    ///
    /// # Errors
    ///
    /// A usage error naming the column when there is no id or two ids.
    pub fn entry(&self, fields: &[(&str, &str)]) -> Result<Entry, Error> {
        let f: Vec<(&str, &[u8])> = fields.iter().map(|&(n, v)| (n, v.as_bytes())).collect();
        self.entry_bytes(&f)
    }

    /// [`Index::entry`] from raw bytes, as read from a file.
    ///
    /// # Errors
    ///
    /// As [`Index::entry`]; an id that is not UTF-8 is an error too.
    pub fn entry_bytes(&self, fields: &[(&str, &[u8])]) -> Result<Entry, Error> {
        if fields.iter().any(|(n, _)| n.trim() == SCHEME_COLUMN) {
            return Err(Error::new(
                ErrorKind::Usage,
                format!(
                    "a pseudonymised record (it has a {SCHEME_COLUMN} field): an index holds clear \
                     data; link pseudonymised files in batch"
                ),
            ));
        }
        // The same rules as a file's header: one column per role, no name twice.
        let names: Vec<String> = fields.iter().map(|(n, _)| n.trim().to_string()).collect();
        // A record's fields are the caller's arguments, not a file: a usage error.
        let schema = Schema::resolve_at(&names, &self.settings.columns, "the record", 0)
            .map_err(|e| Error::new(ErrorKind::Usage, e.message()))?;
        let mut rec = Entry::default();
        let mut id: Option<&[u8]> = None;
        for (&(name, value), u) in fields.iter().zip(schema.uses()) {
            match u {
                ColumnUse::Role(Role::Id) => id = Some(value),
                ColumnUse::Role(r) => {
                    rec.set_bytes(*r, value);
                }
                ColumnUse::Other => {
                    let name = name.trim();
                    if self.settings.others.iter().any(|o| o == name) {
                        rec.others.push((name.to_string(), value.to_vec()));
                    }
                }
                ColumnUse::Excluded => {}
            }
        }
        let id = match id.map(std::str::from_utf8) {
            Some(Ok(i)) if !i.trim().is_empty() => i.trim(),
            Some(Err(_)) => {
                return Err(Error::new(
                    ErrorKind::Usage,
                    "the id is not valid UTF-8".to_string(),
                ));
            }
            _ => {
                return Err(Error::new(
                    ErrorKind::Usage,
                    "no id: a record needs a non-empty id column".to_string(),
                ));
            }
        };
        rec.id = id.to_string();
        Ok(rec)
    }

    /// A record from one JSON object whose keys are column names (as [`Index::entry`]):
    /// strings and numbers are values, `null` is missing.
    ///
    /// # Errors
    ///
    /// A usage error for malformed JSON, a line that is not an object, a value that is an
    /// array, object or boolean (naming the key, not the value), or no id.
    pub fn entry_from_json(&self, line: &str) -> Result<Entry, Error> {
        let bad = |m: String| Error::new(ErrorKind::Usage, m);
        if line.len() > MAX_QUERY_BYTES {
            return Err(bad(format!(
                "the record is {} bytes; at most {MAX_QUERY_BYTES} are read",
                line.len()
            )));
        }
        let fields = json_fields(line).map_err(bad)?;
        let fields: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.entry(&fields)
    }

    /// The records of a CSV file (header first), in file order, for [`Index::insert`] or
    /// [`Index::link`].
    ///
    /// # Errors
    ///
    /// An I/O error when the file cannot be read; an input error naming the file and line
    /// for malformed CSV, a ragged row, a missing, non-UTF-8 or repeated id.
    pub fn read_csv(&self, path: &std::path::Path) -> Result<Vec<Entry>, Error> {
        let (name, file) = crate::csvread::open(path)?;
        let mut rdr = crate::csvread::CsvReader::new(&name, file, false, None)?;
        let headers = rdr.headers().to_vec();
        let mut out = Vec::new();
        let mut seen: FxHashMap<String, u64> = FxHashMap::default();
        let mut rec = csv::ByteRecord::new();
        while let Some(line) = rdr.read(&mut rec)? {
            let fields: Vec<(&str, &[u8])> = headers
                .iter()
                .map(String::as_str)
                .zip(rec.iter().map(<[u8]>::trim_ascii))
                .collect();
            let r = self
                .entry_bytes(&fields)
                .map_err(|e| Error::input_at(&name, line, None, e.message()))?;
            if let Some(first) = seen.insert(r.id.clone(), line) {
                return Err(Error::input_at(
                    &name,
                    line,
                    None,
                    &format!("duplicate id: the same id is also on line {first}"),
                ));
            }
            out.push(r);
        }
        Ok(out)
    }

    /// Normalises `rec` as a file's row would be.
    fn normalise(&self, rec: &Entry) -> Result<(NewRow, Invalid), Error> {
        if rec.id.is_empty() {
            return Err(Error::new(
                ErrorKind::Usage,
                "no id: a record needs a non-empty id".to_string(),
            ));
        }
        if rec.id.len() > crate::MAX_VALUE_BYTES {
            return Err(Error::new(ErrorKind::Usage, "id is too long".to_string()));
        }
        let others = &self.settings.others;
        let (row, problems) = normalise_record(
            &rec.id,
            |r| rec.raw(r),
            |i| rec.other(&others[i]),
            others.len(),
            self.settings.accept_test,
        );
        let problems = problems
            .into_iter()
            .map(|(r, problem)| InvalidValue {
                field: r.as_str().to_string(),
                problem,
            })
            .collect();
        Ok((row, problems))
    }

    /// Ranked candidates for `rec` with a decision on it.
    ///
    /// # Errors
    ///
    /// A usage error when the record has no id. Invalid values are not errors: they are
    /// treated as missing and listed in [`QueryResult::invalid`].
    pub fn query(&self, rec: &Entry, opts: &QueryOptions) -> Result<QueryResult, Error> {
        let (x, invalid) = self.normalise(rec)?;
        let s = &self.settings;
        let g = self.read();
        let (decision, scored, compared) = g.query(s, &x, opts);
        let candidates = scored
            .into_iter()
            .map(|c| g.candidate(s, &c, opts.explain))
            .collect();
        Ok(QueryResult {
            decision,
            candidates,
            compared,
            invalid,
        })
    }

    /// Queries `rec` and adds it, atomically (no write comes between the answer and the
    /// insert): the batch-update step. With person ids, the record takes the person of the
    /// candidates it matches, merging them when it matches several people.
    ///
    /// # Errors
    ///
    /// As [`Index::insert`].
    pub fn link(
        &self,
        rec: &Entry,
        opts: &QueryOptions,
    ) -> Result<(QueryResult, Option<PersonChanges>), Error> {
        self.add(rec, opts, true)
    }

    /// Adds `rec` to the index. When the index keeps person ids, the record is first
    /// matched against the index and takes the person id of the people it matches (merging
    /// them when it matches several), or a new one.
    ///
    /// # Errors
    ///
    /// A usage error when the index already holds a record with its id (use
    /// [`Index::update`]) or the record has no id.
    pub fn insert(&self, rec: &Entry) -> Result<Option<PersonChanges>, Error> {
        Ok(self.add(rec, &QueryOptions::default(), false)?.1)
    }

    /// Inserts `rec` under one write lock, first answering it as a query (with `opts`) when
    /// `answer` or person ids need its candidates; an answer not asked for is left empty.
    fn add(
        &self,
        rec: &Entry,
        opts: &QueryOptions,
        answer: bool,
    ) -> Result<(QueryResult, Option<PersonChanges>), Error> {
        let (row, invalid) = self.normalise(rec)?;
        let s = &self.settings;
        let mut g = self.write();
        if g.ids.get(&g.records, &row.id).is_some() {
            return Err(duplicate_id());
        }
        let (decision, scored, compared) = if answer || g.people.is_some() {
            let all = QueryOptions {
                limit: usize::MAX,
                ..*opts
            };
            g.query(s, &row, &all)
        } else {
            (QueryDecision::NoMatch, Vec::new(), 0)
        };
        let matched = match_rows(&scored);
        let r = g.append(s, &row)?;
        let people = g.link_person(r, &row.id, &matched);
        let candidates = scored
            .into_iter()
            .take(if answer { opts.limit } else { 0 })
            .map(|c| g.candidate(s, &c, opts.explain))
            .collect();
        let result = QueryResult {
            decision,
            candidates,
            compared,
            invalid,
        };
        Ok((result, people))
    }

    /// Replaces the record with `rec`'s id by `rec`, keeping its person id; when the change
    /// leaves its person in parts that no longer link, the person is split (and the split
    /// returned).
    ///
    /// # Errors
    ///
    /// A usage error when the index holds no record with that id.
    pub fn update(&self, rec: &Entry) -> Result<Vec<PersonChange>, Error> {
        let (row, _) = self.normalise(rec)?;
        let s = &self.settings;
        let mut g = self.write();
        let old = g.ids.get(&g.records, &row.id).ok_or_else(no_such_id)?;
        let unchanged = g.records.row(old) == row;
        g.retire(s, old);
        // The links of a changed record are made again from what it matches now.
        let matched: Vec<u32> = if g.people.is_some() && !unchanged {
            g.matches(s, &row)
        } else {
            Vec::new()
        };
        let r = g.append(s, &row)?;
        let Some(p) = g.people.as_mut() else {
            return Ok(Vec::new());
        };
        p.copy(old, r);
        let person = p.of(r);
        if unchanged {
            // Same values, same links: nothing can split.
            for m in p.links(old).to_vec() {
                p.link(r, m);
            }
            p.unlink(old);
            return Ok(Vec::new());
        }
        let mut starts = p.links(old).to_vec();
        starts.push(r);
        let same: Vec<u32> = matched.into_iter().filter(|&m| p.of(m) == person).collect();
        for m in same {
            p.link(r, m);
        }
        p.unlink(old);
        Ok(person
            .map(|q| g.split_check(q, &starts))
            .unwrap_or_default())
    }

    /// Removes the record with id `id`; when that leaves its person in parts that no longer
    /// link, the person is split (and the split returned).
    ///
    /// # Errors
    ///
    /// A usage error when the index holds no record with that id.
    pub fn remove(&self, id: &str) -> Result<Vec<PersonChange>, Error> {
        let s = &self.settings;
        let mut g = self.write();
        let old = g.ids.get(&g.records, id).ok_or_else(no_such_id)?;
        g.retire(s, old);
        let Some(p) = g.people.as_mut() else {
            return Ok(Vec::new());
        };
        let (person, starts) = (p.of(old), p.links(old).to_vec());
        p.unlink(old);
        Ok(person
            .map(|q| g.split_check(q, &starts))
            .unwrap_or_default())
    }
}

fn duplicate_id() -> Error {
    Error::new(
        ErrorKind::Usage,
        "the index already holds a record with this id (update it instead)".to_string(),
    )
}

fn no_such_id() -> Error {
    Error::new(
        ErrorKind::Usage,
        "the index holds no record with this id".to_string(),
    )
}

// The index is shared by threads: a compile-time check.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Index>();
};
