//! Writing a pseudonymised copy of a source: tokens and Bloom filters, no clear text.

use std::path::Path;

use rayon::prelude::*;

use super::{NameSalt, Pseudonymiser, SCHEME_SALTED, TokenField};
use crate::Error;
use crate::error::ErrorKind;
use crate::record::{NO_ID, Records};

pub use crate::schema::SCHEME_COLUMN;

/// The Bloom-filter columns of an encoded file, with the field each encodes.
pub const BLOOM_COLUMNS: [(&str, TokenField); 3] = [
    ("given_name.bf", TokenField::GivenName),
    ("surname.bf", TokenField::Surname),
    ("address.bf", TokenField::Address),
];

/// What to write besides the always-present tokens and filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodeOptions {
    /// Replace the record id by its token. Default false.
    pub tokenise_id: bool,
    /// Write exact, nickname and phonetic tokens of names. Default true. Without them names
    /// are compared by their Bloom filters only, at a cost in accuracy.
    pub name_tokens: bool,
    /// What the names' tokens and filters are salted with. Default the date of birth.
    pub name_salt: NameSalt,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            tokenise_id: false,
            name_tokens: true,
            name_salt: NameSalt::DateOfBirth,
        }
    }
}

/// The `carematch_scheme` value of a file encoded by `p` with `options`: the scheme (salted
/// or not), key version and key fingerprint.
pub fn file_scheme(p: &Pseudonymiser, options: EncodeOptions) -> String {
    let scheme = p.scheme();
    match (options.name_salt, scheme.split_once(';')) {
        (NameSalt::None, _) => scheme,
        (salt, Some((_, rest))) => format!("{SCHEME_SALTED};salt={};{rest}", salt.label()),
        (salt, None) => format!("{SCHEME_SALTED};salt={}", salt.label()),
    }
}

/// True for the fields of names: their tokens and (given name, surname) filters, salted.
fn is_name_token(f: TokenField) -> bool {
    matches!(
        f,
        TokenField::GivenName
            | TokenField::GivenNameNickname
            | TokenField::GivenNameSoundex
            | TokenField::GivenNameNysiis
            | TokenField::Surname
            | TokenField::SurnameSoundex
            | TokenField::SurnameNysiis
            | TokenField::GivenNameByNhs
            | TokenField::SurnameByNhs
    )
}

/// Every token field written, in column order.
fn token_fields(options: EncodeOptions) -> impl Iterator<Item = TokenField> {
    // Every field but the id (handled apart) and the address (a filter only).
    TokenField::ALL
        .into_iter()
        .filter(|f| !matches!(f, TokenField::Id | TokenField::Address))
        .filter(move |&f| options.name_tokens || !is_name_token(f))
        .chain((0..8).map(TokenField::DobMasked))
        .chain((0..10).map(TokenField::NhsMasked))
        .chain(
            [TokenField::GivenNameByNhs, TokenField::SurnameByNhs]
                .into_iter()
                .filter(move |_| options.name_tokens && options.name_salt != NameSalt::None),
        )
}

/// The header of an encoded file.
pub fn encoded_header(options: EncodeOptions) -> Vec<&'static str> {
    let tokenise_id = options.tokenise_id;
    let mut h = vec![
        if tokenise_id {
            TokenField::Id.token_column()
        } else {
            "id"
        },
        SCHEME_COLUMN,
    ];
    h.extend(token_fields(options).map(super::TokenField::token_column));
    h.extend(BLOOM_COLUMNS.iter().map(|(c, _)| *c));
    h
}

/// The identifier columns of `records` that an encoded file carries as tokens (written as
/// `<column>.tok`): the carried columns profiled as identifiers, as linkage profiles them.
pub fn identifier_columns(records: &Records) -> Vec<String> {
    if records.is_encoded() {
        return Vec::new();
    }
    crate::config::identifier_columns(records)
}

/// Every carried column of `records` (no role: FEBRL's `soc_sec_id`, `suburb`, `state`)
/// with a value, which an encoded file writes as `<column>.tok`, a token keyed per column:
/// the identifier columns first ([`identifier_columns`]), then the others in column order,
/// but for columns whose header says they hold a person's name ([`name_columns`]): an
/// unsalted token of a name is what a frequency attack reads. Clear-text linkage compares
/// carried columns; without them an encoded file loses that evidence (FEBRL4: F1 0.9645
/// without, 0.9864 with). A column not to be carried is mapped to `"exclude"` in the config.
pub fn carried_columns(records: &Records) -> Vec<String> {
    if records.is_encoded() {
        return Vec::new();
    }
    let mut out = identifier_columns(records);
    out.retain(|c| !is_name_header(c));
    for c in records.others() {
        if c.name != SCHEME_COLUMN
            && !out.contains(&c.name)
            && !is_name_header(&c.name)
            && c.values.iter().any(|&v| v != NO_ID)
        {
            out.push(c.name.clone());
        }
    }
    out
}

/// The carried columns an encoded file leaves out because their header says they hold a
/// person's name (`middle_name`, `maiden_name`, `alias`, `mother_forename`).
pub fn name_columns(records: &Records) -> Vec<String> {
    if records.is_encoded() {
        return Vec::new();
    }
    records
        .others()
        .iter()
        .filter(|c| is_name_header(&c.name))
        .map(|c| c.name.clone())
        .collect()
}

/// A header naming a person's name, by its words (`middle_name`, `MaidenName`, `alias`),
/// not a place's (`street_name`, `practice_name`).
fn is_name_header(header: &str) -> bool {
    const NAME: &[&str] = &[
        "name",
        "names",
        "forename",
        "forenames",
        "surname",
        "middle",
        "maiden",
        "alias",
        "aliases",
        "firstname",
        "lastname",
        "givenname",
        "familyname",
        "nickname",
        "initials",
    ];
    const NOT_A_PERSON: &[&str] = &[
        "street",
        "road",
        "town",
        "city",
        "suburb",
        "place",
        "practice",
        "site",
        "ward",
        "hospital",
        "organisation",
        "organization",
        "file",
        "user",
    ];
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut last_lower = false;
    for ch in header.chars() {
        if ch.is_alphanumeric() {
            // camelCase: a capital after a small letter starts a word.
            if ch.is_uppercase() && last_lower {
                words.push(std::mem::take(&mut word));
            }
            word.extend(ch.to_lowercase());
        } else {
            words.push(std::mem::take(&mut word));
        }
        last_lower = ch.is_lowercase();
    }
    words.push(word);
    words.iter().any(|w| NAME.contains(&w.as_str()))
        && !words.iter().any(|w| NOT_A_PERSON.contains(&w.as_str()))
}

/// The header of `records`' encoded file: [`encoded_header`], then a token column per
/// carried column ([`carried_columns`]).
pub fn encoded_header_of(records: &Records, options: EncodeOptions) -> Vec<String> {
    let mut h: Vec<String> = encoded_header(options)
        .into_iter()
        .map(str::to_string)
        .collect();
    h.extend(carried_columns(records).iter().map(|c| format!("{c}.tok")));
    h
}

/// The normalised value of `field` on `row`, as the token is computed from it.
pub fn field_value(records: &Records, field: TokenField, row: u32) -> Option<String> {
    let r = row as usize;
    let name_part = |given: bool, part: u8| -> Option<String> {
        let names = records.names(given);
        let (id, dict) = (names.id(row), names.dict);
        if id == NO_ID {
            return None;
        }
        let i = id as usize;
        match part {
            0 => Some(dict.values.get(id).to_string()),
            1 => Some(dict.tokens.get(dict.canonical[i]).to_string()),
            2 => {
                let s = dict.soundex[i];
                (s != NO_ID).then(|| String::from_utf8_lossy(&s.to_be_bytes()).into_owned())
            }
            _ => {
                let n = dict.nysiis[i];
                (n != NO_ID).then(|| dict.codes.get(n).to_string())
            }
        }
    };
    let postcode_part = |which: usize| -> Option<String> {
        let postcodes = records.postcodes();
        let p = postcodes.rows[r];
        if p == NO_ID {
            return None;
        }
        let d = postcodes.dict;
        let ids = [&d.sector, &d.district, &d.area];
        let id = ids[which][p as usize];
        // Parts are stored as "s:LS1 4": drop the two-character kind prefix.
        (id != NO_ID).then(|| d.parts.get(id).get(2..).unwrap_or("").to_string())
    };
    match field {
        TokenField::Id => Some(records.id(row).to_string()),
        TokenField::NhsNumber => records.nhs_number(row).map(|n| format!("{n:010}")),
        TokenField::Dob => records.date_of_birth(row).map(|d| d.to_string()),
        TokenField::DobSwapped => records
            .date_of_birth(row)
            .and_then(super::super::normalise::date::Date::swapped_day_month)
            .map(|d| d.to_string()),
        TokenField::DobYearMonth => records
            .date_of_birth(row)
            .map(|d| format!("{:04}-{:02}", d.year(), d.month())),
        TokenField::DobYear => records
            .date_of_birth(row)
            .map(|d| format!("{:04}", d.year())),
        TokenField::Sex => records.sex(row).map(|s| s.as_str().to_string()),
        TokenField::Postcode => records.postcode(row).map(str::to_string),
        TokenField::PostcodeSector => postcode_part(0),
        TokenField::PostcodeDistrict => postcode_part(1),
        TokenField::PostcodeArea => postcode_part(2),
        TokenField::GivenName | TokenField::GivenNameByNhs => name_part(true, 0),
        TokenField::GivenNameNickname => name_part(true, 1),
        TokenField::GivenNameSoundex => name_part(true, 2),
        TokenField::GivenNameNysiis => name_part(true, 3),
        TokenField::Surname | TokenField::SurnameByNhs => name_part(false, 0),
        TokenField::SurnameSoundex => name_part(false, 2),
        TokenField::SurnameNysiis => name_part(false, 3),
        TokenField::Address => records.address(row).map(str::to_string),
        TokenField::NhsMasked(n) => {
            let v = records.nhs_number(row).unwrap_or(records.nhs_invalid(row));
            (v != 0).then(|| {
                let mut s: Vec<u8> = format!("{v:010}").into_bytes();
                if let Some(c) = s.get_mut(usize::from(n)) {
                    *c = b'*';
                }
                String::from_utf8_lossy(&s).into_owned()
            })
        }
        TokenField::DobMasked(n) => records.date_of_birth(row).map(|d| {
            let mut s: Vec<u8> = format!("{:08}", d.to_u32()).into_bytes();
            if let Some(c) = s.get_mut(usize::from(n)) {
                *c = b'*';
            }
            String::from_utf8_lossy(&s).into_owned()
        }),
    }
}

/// Writes the pseudonymised copy of source `source` of `records` to `path`: the record id
/// (or its token), the scheme column, one token column per exact field and one Bloom-filter
/// column per fuzzy field; an empty cell where the value is missing.
/// Rows keep the source's order. Returns the number of rows written.
///
/// # Errors
///
/// A usage error for a bad source index; an I/O error naming `path`.
pub fn write_encoded_csv(
    records: &Records,
    source: usize,
    p: &Pseudonymiser,
    options: EncodeOptions,
    path: &Path,
) -> Result<u64, Error> {
    let mut w = crate::csvwrite::create(path)?;
    let werr = |e: csv::Error| crate::csvwrite::write_err(path, &e);
    w.write_record(encoded_header_of(records, options))
        .map_err(werr)?;
    let rows = for_each_encoded_line(records, source, p, options, |line| {
        w.write_record(&line).map_err(werr)
    })?;
    crate::csvwrite::finish(path, w)?.commit()?;
    Ok(rows)
}

/// Calls `f` with the encoded values of every row of source `source`, in order (computed in
/// parallel, a chunk at a time); returns the number of rows.
///
/// # Errors
///
/// A usage error for a bad source index; the first error of `f`.
pub(crate) fn for_each_encoded_line(
    records: &Records,
    source: usize,
    p: &Pseudonymiser,
    options: EncodeOptions,
    mut f: impl FnMut(Vec<String>) -> Result<(), Error>,
) -> Result<u64, Error> {
    let rows: Vec<u32> = source_rows(records, source)?.collect();
    let scheme = file_scheme(p, options);
    let carried = Carried::of(records);
    for chunk in rows.chunks(1 << 14) {
        let lines: Vec<Vec<String>> = chunk
            .par_iter()
            .map(|&row| line_of(records, row, p, options, &scheme, &carried))
            .collect();
        for line in lines {
            f(line)?;
        }
    }
    Ok(rows.len() as u64)
}

/// [`write_encoded_csv`], or the same columns as Parquet when `path` has a `.parquet` or
/// `.pq` extension (see [`crate::arrow::encoded_batch`]). Returns the number of rows written.
///
/// # Errors
///
/// As [`write_encoded_csv`].
pub fn write_encoded(
    records: &Records,
    source: usize,
    p: &Pseudonymiser,
    options: EncodeOptions,
    path: &Path,
) -> Result<u64, Error> {
    if crate::arrow::is_parquet(path) {
        let batch = crate::arrow::encoded_batch(records, source, p, options)?;
        crate::arrow::stage_parquet(path, &batch)?.commit()?;
        Ok(batch.num_rows() as u64)
    } else {
        write_encoded_csv(records, source, p, options, path)
    }
}

/// The rows of source `source` of `records`.
///
/// # Errors
///
/// A usage error for a bad source index.
pub(crate) fn source_rows(records: &Records, source: usize) -> Result<std::ops::Range<u32>, Error> {
    Ok(records
        .sources()
        .get(source)
        .ok_or_else(|| Error::new(ErrorKind::Usage, format!("no source {source}")))?
        .rows
        .clone())
}

/// The encoded values of row `row` of `records`, in [`encoded_header_of`] order; `scheme` is
/// [`file_scheme`] (passed in so that a file computes it once).
pub fn encoded_line(
    records: &Records,
    row: u32,
    p: &Pseudonymiser,
    options: EncodeOptions,
    scheme: &str,
) -> Vec<String> {
    line_of(records, row, p, options, scheme, &Carried::of(records))
}

/// The carried columns a line is written with, positions looked up once per file rather
/// than once per line.
struct Carried {
    /// Each column of [`carried_columns`] with its position among the carried columns.
    columns: Vec<(String, usize)>,
    /// How many of them, first, are identifier columns (the person salt's).
    identifiers: usize,
}

impl Carried {
    fn of(records: &Records) -> Carried {
        let ids = identifier_columns(records);
        // The identifier columns come first in `carried_columns`.
        let columns: Vec<(String, usize)> = carried_columns(records)
            .into_iter()
            .filter_map(|c| {
                let i = records.other_position(&c)?;
                Some((c, i))
            })
            .collect();
        let identifiers = columns.iter().take_while(|(c, _)| ids.contains(c)).count();
        Carried {
            columns,
            identifiers,
        }
    }
}

/// [`encoded_line`], the carried columns' positions given.
fn line_of(
    records: &Records,
    row: u32,
    p: &Pseudonymiser,
    options: EncodeOptions,
    scheme: &str,
    carried: &Carried,
) -> Vec<String> {
    let mut line = Vec::with_capacity(2 + TokenField::ALL.len() + 18 + BLOOM_COLUMNS.len());
    line.push(if options.tokenise_id {
        p.token(TokenField::Id, records.id(row)).to_string()
    } else {
        records.id(row).to_string()
    });
    line.push(scheme.to_string());
    // The names' salt; `None` when names must not be written (salted, no date of birth).
    let salt = options.name_salt.salt(records.date_of_birth(row));
    let person = person_salt(records, &carried.columns[..carried.identifiers], row);
    let value = |f: TokenField| {
        if matches!(f, TokenField::GivenNameByNhs | TokenField::SurnameByNhs) {
            person
                .as_deref()
                .and_then(|s| Some((field_value(records, f, row)?, s)))
        } else if is_name_token(f) {
            salt.as_deref()
                .and_then(|s| Some((field_value(records, f, row)?, s)))
        } else {
            field_value(records, f, row).map(|v| (v, ""))
        }
    };
    for f in token_fields(options) {
        line.push(value(f).map_or(String::new(), |(v, s)| p.token_salted(f, &v, s).to_string()));
    }
    for (_, f) in BLOOM_COLUMNS {
        line.push(value(f).map_or(String::new(), |(v, s)| {
            if s.is_empty() {
                p.bloom_record_salted(f, &v, s, records.id(row)).to_hex()
            } else {
                let salt = super::filter_salt(s, &v);
                p.bloom_record_salted(f, &v, &salt, records.id(row))
                    .to_hex()
            }
        }));
    }
    for (c, i) in &carried.columns {
        let v = records.other_at(*i, row);
        line.push(v.map_or(String::new(), |v| p.identifier_token(c, v).to_string()));
    }
    line
}

/// The salt of a row's person-salted name tokens: its valid NHS number, else the value of
/// its first identifier column that has one (named, so two columns never share a salt).
fn person_salt(records: &Records, identifiers: &[(String, usize)], row: u32) -> Option<String> {
    if let Some(n) = records.nhs_number(row) {
        return Some(format!("nhs_number:{n:010}"));
    }
    identifiers
        .iter()
        .find_map(|(c, i)| Some(format!("{c}:{}", records.other_at(*i, row)?)))
}

/// The number of rows of source `source` whose names a file encoded with `options` leaves
/// out: with names salted by the date of birth, the rows that have a name but no date.
///
/// # Errors
///
/// A usage error for a bad source index.
pub fn names_left_out(
    records: &Records,
    source: usize,
    options: EncodeOptions,
) -> Result<u64, Error> {
    if options.name_salt == NameSalt::None {
        return Ok(0);
    }
    Ok(source_rows(records, source)?
        .filter(|&r| {
            records.date_of_birth(r).is_none()
                && (records.surname(r).is_some() || records.given_name(r).is_some())
        })
        .count() as u64)
}

/// For pseudonymised input: checks that every row of every source carries one and the same
/// scheme value (scheme, key version, key fingerprint) and returns it; `None` for clear input.
///
/// # Errors
///
/// A usage error naming the source when the scheme column is empty somewhere, or differs
/// within a source or between sources: such files were encoded under different keys or key
/// versions, and their tokens can never agree.
pub fn check_scheme(records: &Records) -> Result<Option<String>, Error> {
    let Some(col) = records.other_named(SCHEME_COLUMN) else {
        return Ok(None);
    };
    let mut seen: Option<u32> = None;
    for s in records.sources() {
        for r in s.rows.clone() {
            let v = col.rows[r as usize];
            if v == NO_ID {
                return Err(Error::new(
                    ErrorKind::Usage,
                    format!(
                        "{}: a row has no {SCHEME_COLUMN}: not a pseudonymised file, or a damaged one",
                        s.name
                    ),
                ));
            }
            match seen {
                None => seen = Some(v),
                Some(x) if x != v => {
                    return Err(Error::new(
                        ErrorKind::Usage,
                        format!(
                            "{}: {SCHEME_COLUMN} differs from the first file's: the files were encoded under different keys, projects or key versions and cannot be linked",
                            s.name
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
    }
    let scheme = seen.map(|v| col.dict.get(v).to_string());
    if let Some(retired) = scheme.as_deref().and_then(retired_scheme) {
        let files: Vec<&str> = records.sources().iter().map(|s| s.name.as_str()).collect();
        return Err(Error::new(
            ErrorKind::Usage,
            format!(
                "{}: encoded under {retired}, which this version no longer reads (its name filters are salted differently): encode the clear files again",
                files.join(", ")
            ),
        ));
    }
    Ok(scheme)
}

/// The retired scheme `scheme` names, written or folded (`carematch pseudonym 2 salt dob`).
fn retired_scheme(scheme: &str) -> Option<&'static str> {
    let words = |s: &str| -> Vec<String> {
        s.to_ascii_lowercase()
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(String::from)
            .collect()
    };
    let have = words(scheme);
    super::RETIRED_SCHEMES.iter().copied().find(|r| {
        let want = words(r);
        have.len() >= want.len() && have[..want.len()] == want[..]
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn retired_schemes_are_recognised_written_or_folded() {
        use super::retired_scheme;
        for s in [
            "carematch-pseudonym-2;salt=dob;key-version=1;key=ab12",
            "carematch pseudonym 2 salt year key version 3 key ab12",
        ] {
            assert_eq!(retired_scheme(s), Some("carematch-pseudonym-2"), "{s}");
        }
        for s in [
            "carematch-pseudonym-3;salt=dob;key-version=1;key=ab12",
            "carematch-pseudonym-1;key-version=1;key=ab12",
            "carematch-pseudonym-20;salt=dob",
        ] {
            assert_eq!(retired_scheme(s), None, "{s}");
        }
    }

    #[test]
    fn name_headers_are_told_from_place_headers() {
        for h in [
            "middle_name",
            "MaidenName",
            "alias",
            "mother_forename",
            "Other Names",
        ] {
            assert!(super::is_name_header(h), "{h}");
        }
        for h in [
            "street_name",
            "PracticeName",
            "suburb",
            "soc_sec_id",
            "state",
            "named_gp",
        ] {
            assert!(!super::is_name_header(h), "{h}");
        }
    }
}
