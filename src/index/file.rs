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

use super::people::People;
use super::{Index, IndexBuilder, Inner, Settings};
use crate::Error;
use crate::error::ErrorKind;
use crate::files::{FileLock, NewFile};
use crate::model::Model;
use crate::normalise::postcode::{Postcode, parse_postcode};
use crate::record::{NewRow, Records};
use crate::rules::MatchRule;
use crate::schema::ColumnConfig;

const MAGIC: &[u8; 8] = b"CMINDEX\0";
/// The version of the file format; a file of another version is refused.
pub const FORMAT_VERSION: u32 = 1;
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

/// Appends length-prefixed fields.
struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }
    fn opt(&mut self, s: Option<&str>) {
        match s {
            None => self.u8(0),
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
        }
    }
}

/// Reads what [`Writer`] wrote, every read bounds-checked.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

/// The error for a payload that does not decode.
fn corrupt(path: &Path, what: &str) -> Error {
    Error::new(
        ErrorKind::Input,
        format!("{}: the index file is corrupt ({what})", path.display()),
    )
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn str(&mut self) -> Option<&'a str> {
        let n = usize::try_from(self.u64()?).ok()?;
        std::str::from_utf8(self.take(n)?).ok()
    }
    /// An optional string: `None` when the bytes are malformed, `Some(None)` for an absent
    /// value.
    #[allow(
        clippy::option_option,
        reason = "malformed (None) differs from absent (Some(None))"
    )]
    fn opt(&mut self) -> Option<Option<&'a str>> {
        match self.u8()? {
            0 => Some(None),
            1 => Some(Some(self.str()?)),
            _ => None,
        }
    }
}

/// The fixed header of a file holding `payload`.
fn header(payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER);
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    h.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    h.extend_from_slice(blake3::hash(payload).as_bytes());
    h
}

fn put_row(o: &mut Writer, r: &NewRow) {
    o.str(&r.id);
    o.opt(r.given.as_deref());
    o.u8(u8::from(r.placeholder));
    o.opt(r.surname.as_deref());
    o.u32(r.dob);
    o.u8(r.sex);
    match &r.postcode {
        None => o.u8(0),
        Some(Postcode::Uk(u)) => {
            o.u8(1);
            o.str(u.unit());
        }
        Some(Postcode::Other(s)) => {
            o.u8(2);
            o.str(s);
        }
    }
    o.u64(r.nhs);
    o.u64(r.nhs_invalid);
    o.opt(r.address.as_deref());
    o.u32(r.others.len() as u32);
    for v in &r.others {
        o.opt(v.as_deref());
    }
}

fn get_row(i: &mut Reader<'_>) -> Option<NewRow> {
    let id = i.str()?.to_string();
    let given = i.opt()?.map(str::to_string);
    let placeholder = i.u8()? == 1;
    let surname = i.opt()?.map(str::to_string);
    let dob = i.u32()?;
    let sex = i.u8()?;
    let postcode = match i.u8()? {
        0 => None,
        1 => match parse_postcode(i.str()?)? {
            p @ Postcode::Uk(_) => Some(p),
            Postcode::Other(_) => return None,
        },
        2 => Some(Postcode::Other(i.str()?.to_string())),
        _ => return None,
    };
    let nhs = i.u64()?;
    let nhs_invalid = i.u64()?;
    let address = i.opt()?.map(str::to_string);
    let n = i.u32()? as usize;
    let mut others = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        others.push(i.opt()?.map(str::to_string));
    }
    Some(NewRow {
        id,
        given,
        placeholder,
        surname,
        dob,
        sex,
        postcode,
        nhs,
        nhs_invalid,
        address,
        others,
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
        let payload = self.payload()?;
        let mut f = NewFile::create(path)?;
        f.write_all(&header(&payload))
            .and_then(|()| f.write_all(&payload))
            .map_err(|e| Error::io(path, "write the index", &e))?;
        Ok(f)
    }

    /// The payload: settings, then the live rows in row order.
    fn payload(&self) -> Result<Vec<u8>, Error> {
        let s = &self.settings;
        let g = self.read();
        let saved = Saved {
            carematch: crate::VERSION.to_string(),
            model: s.model.to_json(),
            rules: s.rules.clone(),
            columns: s.columns.clone(),
            accept_test_nhs_numbers: s.accept_test,
            others: s.others.clone(),
            person_ids: g.people.is_some(),
        };
        let json = serde_json::to_string(&saved)
            .map_err(|e| Error::new(ErrorKind::Config, format!("cannot write settings: {e}")))?;
        let mut o = Writer(Vec::with_capacity(64 + g.records.len() * 96));
        o.str(&json);
        o.u64(g.live_count);
        // Live rows are saved in row order; links name rows by their position in the file.
        let mut saved_as = vec![u32::MAX; g.records.len()];
        let mut k = 0u32;
        for (row, &alive) in g.live.iter().enumerate() {
            if alive {
                saved_as[row] = k;
                k += 1;
            }
        }
        for row in 0..g.records.len() as u32 {
            if !g.live[row as usize] {
                continue;
            }
            put_row(&mut o, &g.records.row(row));
            if let Some(p) = &g.people {
                o.str(p.id_of(row));
                let links: Vec<u32> = p
                    .links(row)
                    .iter()
                    .map(|&b| saved_as[b as usize])
                    .filter(|&b| b != u32::MAX)
                    .collect();
                o.u32(links.len() as u32);
                for b in links {
                    o.u32(b);
                }
            }
        }
        Ok(o.0)
    }

    /// Reads an index written by [`Index::save`].
    ///
    /// # Errors
    ///
    /// An I/O error when the file cannot be read; an input error naming the file when it is
    /// not an index file, is of another format version, is truncated, or fails its checksum.
    pub fn load(path: &Path) -> Result<Index, Error> {
        FileLock::tidy(path);
        let mut bytes = Vec::new();
        File::open(path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(|e| Error::io(path, "read the index", &e))?;
        Index::from_bytes(&bytes, path)
    }

    /// Decodes the bytes of a whole index file, as [`Index::load`] does after reading it;
    /// `path` only names the file in errors.
    ///
    /// # Errors
    ///
    /// An input error naming `path` when the bytes are not an index file of this version,
    /// are truncated, fail their checksum or do not decode.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Index, Error> {
        let refuse =
            |what: &str| Error::new(ErrorKind::Input, format!("{}: {what}", path.display()));
        if bytes.len() < HEADER || bytes[..8] != MAGIC[..] {
            if bytes.len() >= 8 && bytes[..8] == MAGIC[..] {
                return Err(refuse("the index file is truncated"));
            }
            return Err(refuse("not a carematch index file"));
        }
        let u32_at =
            |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
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
        len.copy_from_slice(&bytes[16..24]);
        let len = u64::from_le_bytes(len);
        let payload = &bytes[HEADER..];
        if payload.len() as u64 != len {
            return Err(refuse(if (payload.len() as u64) < len {
                "the index file is truncated"
            } else {
                "the index file has bytes past its end"
            }));
        }
        if blake3::hash(payload).as_bytes() != &bytes[24..56] {
            return Err(refuse(
                "the index file is corrupt (its checksum does not match)",
            ));
        }
        let mut i = Reader {
            bytes: payload,
            at: 0,
        };
        let json = i.str().ok_or_else(|| corrupt(path, "settings"))?;
        let saved: Saved =
            serde_json::from_str(json).map_err(|e| corrupt(path, &format!("settings: {e}")))?;
        let model = Model::from_json(&saved.model)
            .map_err(|e| corrupt(path, &format!("its model: {}", e.message())))?;
        let n = i.u64().ok_or_else(|| corrupt(path, "row count"))?;
        let mut records = Records::with_other_columns(&saved.others);
        let mut person_ids = Vec::new();
        let mut links: Vec<Vec<u32>> = Vec::new();
        for k in 0..n {
            let row = get_row(&mut i).ok_or_else(|| corrupt(path, &format!("record {}", k + 1)))?;
            if row.others.len() != saved.others.len() {
                return Err(corrupt(path, &format!("record {}", k + 1)));
            }
            records.push(&row, "index")?;
            if saved.person_ids {
                let bad = || corrupt(path, &format!("record {}", k + 1));
                let p = i.str().ok_or_else(bad)?;
                person_ids.push(p.to_string());
                let m = i.u32().ok_or_else(bad)?;
                let mut l = Vec::with_capacity((m as usize).min(64));
                for _ in 0..m {
                    let b = i.u32().filter(|&b| u64::from(b) < n).ok_or_else(bad)?;
                    l.push(b);
                }
                links.push(l);
            }
        }
        if i.at != payload.len() {
            return Err(corrupt(path, "bytes after the last record"));
        }
        let builder = IndexBuilder {
            model,
            rules: saved.rules,
            columns: saved.columns,
            accept_test: saved.accept_test_nhs_numbers,
            person_ids: saved.person_ids,
        };
        let settings = Settings::new(&builder, &records)?;
        let people = saved
            .person_ids
            .then(|| People::from_saved(&person_ids, links));
        let inner = Inner::build(&settings, records, people);
        Ok(Index {
            settings,
            inner: std::sync::RwLock::new(inner),
        })
    }
}
