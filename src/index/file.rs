//! Saving an index to a file and loading it back.
//!
//! The file is a fixed header, then a payload:
//!
//! ```text
//! magic     8 bytes   "CMINDEX\0"
//! version   u32 LE    FORMAT_VERSION
//! reserved  u32 LE    0
//! length    u64 LE    payload bytes
//! checksum  32 bytes  BLAKE3 of the payload
//! payload   settings (JSON: model, rules, column mapping, carried columns), then the
//!           row count and every live row's normalised values (and, when the index keeps
//!           person ids, its person id and the saved rows it is linked with)
//! ```
//!
//! Rows are stored normalised, so loading interns them and rebuilds the derived tables
//! without normalising or training again. A save holds the index's lock, writes a temporary
//! file (mode 0600, or the mode of the file it replaces) beside the target, syncs it and
//! renames it over the target, so a crash mid-save leaves the old file whole (see
//! [`crate::files`]). A
//! file with another magic, another version, a wrong length or a wrong checksum is refused
//! before any of it is used; the decoder is bounds-checked, so even a file with a forged
//! checksum cannot make it panic.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::buckets::Block;
use super::keys;
use super::people::People;
use super::{Index, IndexBuilder, Inner, Settings};
use crate::Error;
use crate::colfile::{ColReader, ColWriter, ReadAhead};
use crate::error::ErrorKind;
use crate::files::{FileLock, NewFile};
use crate::model::Model;
use crate::record::{Records, Words};
use crate::rules::MatchRule;
use crate::schema::ColumnConfig;

const MAGIC: &[u8; 8] = b"CMINDEX\0";
/// The version of the file format; a file of another version is refused.
pub const FORMAT_VERSION: u32 = 2;
const HEADER: usize = 8 + 4 + 4 + 8 + 32;

/// The settings part of the payload.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Saved {
    carematch: String,
    model: String,
    rules: Vec<MatchRule>,
    columns: ColumnConfig,
    accept_test_nhs_numbers: bool,
    others: Vec<String>,
    person_ids: bool,
}

/// The error for a payload that does not decode.
fn corrupt(path: &Path, what: &str) -> Error {
    Error::new(
        ErrorKind::Input,
        format!("{}: the index file is corrupt ({what})", path.display()),
    )
}

/// The fixed header of a file whose payload is `len` bytes hashing to `hash`.
fn header(len: u64, hash: &[u8; 32]) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER);
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    h.extend_from_slice(&len.to_le_bytes());
    h.extend_from_slice(hash);
    h
}

/// The parts of a payload, decoded but not yet checked against the checksum.
struct Parts {
    saved: Saved,
    model: Model,
    records: Records,
    blocks: Option<Vec<Block>>,
    words: Option<Words>,
    people: Option<People>,
}

/// Decodes a payload; on failure, the part that failed (for the error message), or an
/// error already naming the file.
fn read_parts<R: Read>(r: &mut ColReader<R>, path: &Path) -> Result<Parts, Error> {
    let bad = |what: &str| corrupt(path, what);
    let json = r.str().ok_or_else(|| bad("settings"))?;
    let saved: Saved = serde_json::from_str(&json).map_err(|e| bad(&format!("settings: {e}")))?;
    let model =
        Model::from_json(&saved.model).map_err(|e| bad(&format!("its model: {}", e.message())))?;
    let records = Records::read_columns(r).ok_or_else(|| bad("records"))?;
    let n = records.len();
    // The carried columns its settings name (a pseudonymised store is refused by
    // `Settings::new`, as a build's is).
    if records
        .other_columns()
        .ne(saved.others.iter().map(String::as_str))
    {
        return Err(bad("records"));
    }
    // The bucket tables and address words, used only when they were made with this build's
    // hashing.
    let same_hash = r.u64().ok_or_else(|| bad("bucket tables"))? == keys::fingerprint();
    let k = r.u64().ok_or_else(|| bad("bucket tables"))?;
    let mut blocks = Vec::new();
    for _ in 0..k {
        let tables = || bad("bucket tables");
        let bits = r.u32().ok_or_else(tables)?;
        let dir = r.u32s().ok_or_else(tables)?;
        let fps = r.u32s().ok_or_else(tables)?;
        let rows = r.u32s().ok_or_else(tables)?;
        if same_hash {
            let b = Block::from_parts(bits, dir, fps, rows, n as u32).ok_or_else(tables)?;
            blocks.push(b);
        }
    }
    let start = r.u32s().ok_or_else(|| bad("address words"))?;
    let toks = r.u64s().ok_or_else(|| bad("address words"))?;
    let words = if same_hash {
        let a = records.addresses().dict.len();
        Some(Words::from_parts(start, toks, a).ok_or_else(|| bad("address words"))?)
    } else {
        None
    };
    let people = match r.u8() {
        Some(0) if !saved.person_ids => None,
        Some(1) if saved.person_ids => {
            Some(People::read_from(r, n).ok_or_else(|| bad("person ids"))?)
        }
        _ => return Err(bad("person ids")),
    };
    if r.left() != 0 {
        return Err(bad("bytes after the last part"));
    }
    Ok(Parts {
        saved,
        model,
        records,
        blocks: same_hash.then_some(blocks),
        words,
        people,
    })
}

impl Index {
    /// Writes the index to `path`, atomically: a temporary file beside it (mode 0600, or
    /// the mode of the index it replaces) is written, synced and renamed over `path`, so
    /// `path` holds either the old index or the new one whole. The save holds the index's
    /// lock (see [`FileLock`]) and is refused while another process holds it. Readers may go
    /// on querying while it saves; writers wait while the rows are copied.
    ///
    /// # Errors
    ///
    /// An I/O error naming the file when it cannot be written; a usage error naming the
    /// holder of the lock when another process is changing the file.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let lock = FileLock::acquire(path, false)?;
        self.stage_save(&lock)?.commit()
    }

    /// Writes the index to the file that `lock` guards without committing it: the caller
    /// commits it with the run's other outputs ([`crate::files::commit_all`]) while it
    /// still holds the lock, as `carematch index add` does for its load, add and save.
    ///
    /// # Errors
    ///
    /// As [`Index::save`].
    pub fn stage_save(&self, lock: &FileLock) -> Result<NewFile, Error> {
        let path = lock.path();
        let io = |e: std::io::Error| Error::io(path, "write the index", &e);
        let s = &self.settings;
        let g = self.read();
        // Removed rows leave the file: a store without them is made for the save.
        let compacted;
        let inner: &Inner = if g.live_count < g.records.len() as u64 {
            compacted = g.compacted(s)?;
            &compacted
        } else {
            &g
        };
        let saved = Saved {
            carematch: crate::VERSION.to_string(),
            model: s.model.to_json(),
            rules: s.rules.clone(),
            columns: s.columns.clone(),
            accept_test_nhs_numbers: s.accept_test,
            others: s.others.clone(),
            person_ids: inner.people.is_some(),
        };
        let json = serde_json::to_string(&saved)
            .map_err(|e| Error::new(ErrorKind::Config, format!("cannot write settings: {e}")))?;
        let mut f = NewFile::create(path)?;
        f.write_all(&[0u8; HEADER]).map_err(io)?;
        let mut w = ColWriter::new(&mut f);
        w.str(&json).map_err(io)?;
        inner.write_to(s, &mut w).map_err(io)?;
        let (len, hash, _) = w.finish();
        f.overwrite_start(&header(len, &hash)).map_err(io)?;
        Ok(f)
    }

    /// Reads an index written by [`Index::save`].
    ///
    /// # Errors
    ///
    /// An I/O error when the file cannot be read; an input error naming the file when it is
    /// not an index file, is of another format version, is truncated, or fails its checksum.
    pub fn load(path: &Path) -> Result<Index, Error> {
        FileLock::tidy(path);
        let io = |e: std::io::Error| Error::io(path, "read the index", &e);
        let mut file = File::open(path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        let mut head = Vec::with_capacity(HEADER);
        (&mut file)
            .take(HEADER as u64)
            .read_to_end(&mut head)
            .map_err(io)?;
        let input = ReadAhead::new(file);
        Index::decode(&head, input, size.saturating_sub(HEADER as u64), path)
    }

    /// Decodes the bytes of a whole index file, as [`Index::load`] does after reading it;
    /// `path` only names the file in errors.
    ///
    /// # Errors
    ///
    /// An input error naming `path` when the bytes are not an index file of this version,
    /// are truncated, fail their checksum or do not decode.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Index, Error> {
        let head = &bytes[..bytes.len().min(HEADER)];
        let rest = bytes.get(HEADER..).unwrap_or(&[]);
        Index::decode(head, rest, rest.len() as u64, path)
    }

    /// Checks the header `head`, then decodes the payload from `input` (which holds
    /// `available` bytes), checking the checksum before anything decoded is used.
    fn decode(head: &[u8], input: impl Read, available: u64, path: &Path) -> Result<Index, Error> {
        let refuse =
            |what: &str| Error::new(ErrorKind::Input, format!("{}: {what}", path.display()));
        if head.len() < HEADER || head[..8] != MAGIC[..] {
            if head.len() >= 8 && head[..8] == MAGIC[..] {
                return Err(refuse("the index file is truncated"));
            }
            return Err(refuse("not a carematch index file"));
        }
        let u32_at =
            |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
        let version = u32_at(8);
        if version != FORMAT_VERSION {
            return Err(refuse(&format!(
                "index format version {version}; this carematch reads version {FORMAT_VERSION}"
            )));
        }
        if u32_at(12) != 0 {
            return Err(refuse(
                "the index file is corrupt (its reserved header bytes are not zero)",
            ));
        }
        let mut len = [0u8; 8];
        len.copy_from_slice(&head[16..24]);
        let len = u64::from_le_bytes(len);
        if available != len {
            return Err(refuse(if available < len {
                "the index file is truncated"
            } else {
                "the index file has bytes past its end"
            }));
        }
        let mut r = ColReader::new(input, len);
        let parts = read_parts(&mut r, path);
        // The checksum decides first: a damaged file is reported as damaged, whatever part
        // of it failed to decode.
        if r.finish().as_ref().map(<[u8; 32]>::as_slice) != Some(&head[24..56]) {
            return Err(refuse(
                "the index file is corrupt (its checksum does not match)",
            ));
        }
        let p = parts?;
        let builder = IndexBuilder {
            model: p.model,
            rules: p.saved.rules,
            columns: p.saved.columns,
            accept_test: p.saved.accept_test_nhs_numbers,
            person_ids: p.saved.person_ids,
        };
        let settings = Settings::new(&builder, &p.records)?;
        let inner = Inner::assemble(&settings, p.records, p.words, p.blocks, p.people)
            .ok_or_else(|| corrupt(path, "a record id is there twice"))?;
        Ok(Index {
            settings,
            inner: std::sync::RwLock::new(inner),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::Comparison;
    use crate::index::{Entry, QueryOptions};
    use crate::model::LevelProbabilities;
    use crate::schema::Role;

    fn tiny() -> Index {
        let population = "id,nhs_number,given_name,surname,dob,postcode,address\n\
                          A1,943 476 5919,Elizabeth,Smith,1980-02-01,LS1 4AP,1 High St\n\
                          A2,,Tom,Jones,1975-07-30,M1 1AE,2 Low Rd\n\
                          A3,,Thomas,Jones,1975-07-30,M1 1AE,2 Low Road\n";
        let mut b = Records::builder();
        b.add_reader("population.csv", population.as_bytes())
            .unwrap();
        let (records, _) = b.build().unwrap();
        let model = Comparison::defaults()
            .into_iter()
            .fold(Model::builder(), |b, c| {
                let k = c.level_names().len() - 1;
                let m: Vec<f64> = (0..k)
                    .map(|i| if i == 0 { 0.9 } else { 0.1 / k as f64 })
                    .collect();
                let u: Vec<f64> = (0..k)
                    .map(|i| if i == 0 { 0.01 } else { 0.99 / k as f64 })
                    .collect();
                b.comparison(c, LevelProbabilities { m, u })
            })
            .lambda(0.01)
            .build()
            .unwrap();
        Index::builder(model).build(records).unwrap()
    }

    /// A saved file whose tables were made by another hashing (its fingerprint differs)
    /// loads with tables made again, and answers as the index it was saved from.
    #[test]
    fn tables_saved_by_other_hashing_are_made_again() {
        let index = tiny();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pop.idx");
        index.save(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        // The fingerprint follows the settings and the store.
        let mut w = ColWriter::new(Vec::new());
        let g = index.read();
        let saved = {
            let mut r = ColReader::new(&bytes[HEADER..], (bytes.len() - HEADER) as u64);
            r.str().unwrap()
        };
        w.str(&saved).unwrap();
        g.records.write_columns(&mut w).unwrap();
        drop(g);
        let at = HEADER + w.finish().0 as usize;
        assert_eq!(bytes[at..at + 8], keys::fingerprint().to_le_bytes());
        let mut other = bytes.clone();
        other[at] ^= 1;
        // And its first table's directory not starting at 0: tables it trusted would be
        // refused.
        other[at + 16 + 4 + 8] ^= 0xff;
        let payload = &other[HEADER..];
        let head = header(payload.len() as u64, blake3::hash(payload).as_bytes());
        other[..HEADER].copy_from_slice(&head);
        let loaded = Index::from_bytes(&other, &path).expect("loads");
        let mut q = Entry::new("Q1");
        q.set(Role::GivenName, "Tom")
            .set(Role::Surname, "Jones")
            .set(Role::DateOfBirth, "30/07/1975")
            .set(Role::Postcode, "M1 1AE");
        let opts = QueryOptions::default();
        let a = index.query(&q, &opts).unwrap();
        assert!(!a.candidates.is_empty(), "the query has candidates");
        assert_eq!(a, loaded.query(&q, &opts).unwrap());
        // The same bytes with the fingerprint right load the saved tables, equally.
        assert_eq!(
            a,
            Index::from_bytes(&bytes, &path)
                .unwrap()
                .query(&q, &opts)
                .unwrap()
        );
    }
}
