//! A store written column by column and read back without re-interning.
//!
//! The columns and dictionaries are written as they lie in memory (see [`crate::colfile`]).
//! Reading them back rebuilds only the dictionaries' hash tables (from hashes computed in
//! parallel) and checks every id against its dictionary, so that a damaged file is refused,
//! never trusted: after [`Records::read_columns`] every accessor is as safe as on a store
//! built from a file.

use std::io::{self, Read, Write};

use rayon::prelude::*;

use super::{
    Columns, Interner, NO_ID, NameDict, OtherColumn, PostcodeDict, Records, Source, span, table_of,
    value_hash,
};
use crate::colfile::{ColReader, ColWriter};

/// Every id of `ids` is `NO_ID` or below `n`.
fn ids_below(ids: &[u32], n: usize) -> bool {
    ids.par_iter().all(|&i| i == NO_ID || (i as usize) < n)
}

impl Interner {
    pub(crate) fn write_to<W: Write>(&self, w: &mut ColWriter<W>) -> io::Result<()> {
        w.str(&self.text)?;
        w.usizes(&self.ends)
    }

    /// Reads an interner and builds its table.
    pub(crate) fn read_from<R: Read>(r: &mut ColReader<R>) -> Option<Interner> {
        let mut i = Interner::read_unindexed(r)?;
        i.index().then_some(i)
    }

    /// Reads an interner's values without building its table (see [`Interner::index`]).
    fn read_unindexed<R: Read>(r: &mut ColReader<R>) -> Option<Interner> {
        let text = r.str()?;
        let ends = r.usizes()?;
        let cuts = ends.last().copied().unwrap_or(0) == text.len()
            && ends.windows(2).all(|w| w[0] <= w[1])
            && ends.par_iter().all(|&e| text.is_char_boundary(e));
        (cuts && ends.len() < NO_ID as usize).then(|| Interner {
            table: std::sync::OnceLock::new(),
            text,
            ends,
        })
    }

    /// The interner of values `text[ends[i-1]..ends[i]]`, or `None` when the ends do not
    /// cut `text` into strings or a value is there twice.
    #[cfg(test)]
    fn from_parts(text: &str, ends: &[usize]) -> Option<Interner> {
        let mut w = ColWriter::new(Vec::new());
        w.str(text).ok()?;
        w.usizes(ends).ok()?;
        let (len, _, buf) = w.finish();
        Interner::read_from(&mut ColReader::new(&buf[..], len))
    }

    /// Builds the table from the values (hashes computed in parallel); false when a value
    /// is there twice.
    fn index(&mut self) -> bool {
        let (text, ends) = (&self.text, &self.ends);
        let get = |id: u32| &text.as_bytes()[span(ends, id)];
        let hashes: Vec<u32> = (0..ends.len() as u32)
            .into_par_iter()
            .map(|id| value_hash(get(id)))
            .collect();
        match table_of(&hashes, |a, b| get(a) == get(b)) {
            Some(table) => {
                self.table = std::sync::OnceLock::from(table);
                true
            }
            None => false,
        }
    }
}

impl NameDict {
    fn write_to<W: Write>(&self, w: &mut ColWriter<W>) -> io::Result<()> {
        self.values.write_to(w)?;
        self.tokens.write_to(w)?;
        self.codes.write_to(w)?;
        w.u32s(&self.first_token)?;
        w.u32s(&self.soundex)?;
        w.u32s(&self.nysiis)?;
        w.u32s(&self.canonical)
    }

    fn read_from<R: Read>(r: &mut ColReader<R>) -> Option<NameDict> {
        let d = NameDict {
            values: Interner::read_unindexed(r)?,
            tokens: Interner::read_unindexed(r)?,
            codes: Interner::read_unindexed(r)?,
            first_token: r.u32s()?,
            soundex: r.u32s()?,
            nysiis: r.u32s()?,
            canonical: r.u32s()?,
        };
        let n = d.values.len();
        let tokens =
            |v: &[u32]| v.len() == n && v.par_iter().all(|&t| (t as usize) < d.tokens.len());
        let ok = tokens(&d.first_token)
            && tokens(&d.canonical)
            && d.soundex.len() == n
            && d.nysiis.len() == n
            && ids_below(&d.nysiis, d.codes.len());
        ok.then_some(d)
    }
}

impl PostcodeDict {
    fn write_to<W: Write>(&self, w: &mut ColWriter<W>) -> io::Result<()> {
        self.values.write_to(w)?;
        self.parts.write_to(w)?;
        w.u32s(&self.sector)?;
        w.u32s(&self.district)?;
        w.u32s(&self.area)
    }

    fn read_from<R: Read>(r: &mut ColReader<R>) -> Option<PostcodeDict> {
        let d = PostcodeDict {
            values: Interner::read_unindexed(r)?,
            parts: Interner::read_unindexed(r)?,
            sector: r.u32s()?,
            district: r.u32s()?,
            area: r.u32s()?,
        };
        let n = d.values.len();
        let ok = [&d.sector, &d.district, &d.area]
            .iter()
            .all(|v| v.len() == n && ids_below(v, d.parts.len()));
        ok.then_some(d)
    }
}

impl Records {
    /// Writes the store's rows, columns and dictionaries (not what is derived from them).
    pub(crate) fn write_columns<W: Write>(&self, w: &mut ColWriter<W>) -> io::Result<()> {
        w.u64(self.sources.len() as u64)?;
        for s in &self.sources {
            w.str(&s.name)?;
            w.u32(s.rows.start)?;
            w.u32(s.rows.end)?;
        }
        w.str(&self.id_text)?;
        w.u32s(&self.id_end)?;
        w.u32s(&self.rank)?;
        let c = &self.cols;
        w.u32s(&c.given)?;
        w.u64s(&c.placeholder)?;
        w.u32s(&c.surname)?;
        w.u32s(&c.dob)?;
        w.u8s(&c.sex)?;
        w.u32s(&c.postcode)?;
        w.u64s(&c.nhs)?;
        w.u64s(&c.nhs_invalid)?;
        w.u32s(&c.address)?;
        c.given_dict.write_to(w)?;
        c.surname_dict.write_to(w)?;
        c.postcode_dict.write_to(w)?;
        c.address_dict.write_to(w)?;
        w.u64(self.others.len() as u64)?;
        for o in &self.others {
            w.str(&o.name)?;
            w.u32s(&o.values)?;
            o.dict.write_to(w)?;
        }
        match &self.scheme {
            None => w.u8(0),
            Some(s) => {
                w.u8(1)?;
                w.str(s)
            }
        }
    }

    /// Reads what [`Records::write_columns`] wrote; `None` when it is malformed: a column of
    /// another length than the rows, an id past its dictionary, ids that do not cut the id
    /// text, sources that do not cover the rows in order.
    pub(crate) fn read_columns<R: Read>(r: &mut ColReader<R>) -> Option<Records> {
        let k = r.u64()?;
        let mut sources = Vec::new();
        for _ in 0..k {
            let name = r.str()?;
            let (start, end) = (r.u32()?, r.u32()?);
            sources.push(Source {
                name,
                rows: start..end,
            });
        }
        let id_text = r.str()?;
        let id_end = r.u32s()?;
        let rank = r.u32s()?;
        let cols = read_cols(r)?;
        let m = r.u64()?;
        let mut others = Vec::new();
        for _ in 0..m {
            let name = r.str()?;
            let values = r.u32s()?;
            let dict = Interner::read_unindexed(r)?;
            others.push(OtherColumn { name, values, dict });
        }
        let scheme = match r.u8()? {
            0 => None,
            1 => Some(r.str()?),
            _ => return None,
        };
        let n = id_end.len();
        let covered = sources.iter().try_fold(0u32, |at, s| {
            (s.rows.start == at && s.rows.end >= at).then_some(s.rows.end)
        }) == Some(u32::try_from(n).ok()?);
        let ids = id_end.last().map_or(0, |&e| e as usize) == id_text.len()
            && id_end.windows(2).all(|w| w[0] <= w[1])
            && id_end
                .par_iter()
                .all(|&e| id_text.is_char_boundary(e as usize));
        let ok = covered
            && ids
            && rank.len() == n
            && cols.fits(n)
            && others
                .iter()
                .all(|o| o.values.len() == n && ids_below(&o.values, o.dict.len()));
        if !ok {
            return None;
        }
        let mut records = Records {
            sources,
            id_text,
            id_end,
            rank,
            cols,
            others,
            scheme,
            ..Records::default()
        };
        // Every dictionary's table at once, the largest first.
        let c = &mut records.cols;
        let mut dicts: Vec<&mut Interner> = vec![
            &mut c.address_dict,
            &mut c.given_dict.values,
            &mut c.given_dict.tokens,
            &mut c.given_dict.codes,
            &mut c.surname_dict.values,
            &mut c.surname_dict.tokens,
            &mut c.surname_dict.codes,
            &mut c.postcode_dict.values,
            &mut c.postcode_dict.parts,
        ];
        dicts.extend(records.others.iter_mut().map(|o| &mut o.dict));
        dicts.sort_by_key(|d| std::cmp::Reverse(d.len()));
        dicts
            .into_par_iter()
            .all(Interner::index)
            .then_some(records)
    }
}

fn read_cols<R: Read>(r: &mut ColReader<R>) -> Option<Columns> {
    Some(Columns {
        given: r.u32s()?,
        placeholder: r.u64s()?,
        surname: r.u32s()?,
        dob: r.u32s()?,
        sex: r.u8s()?,
        postcode: r.u32s()?,
        nhs: r.u64s()?,
        nhs_invalid: r.u64s()?,
        address: r.u32s()?,
        given_dict: NameDict::read_from(r)?,
        surname_dict: NameDict::read_from(r)?,
        postcode_dict: PostcodeDict::read_from(r)?,
        address_dict: Interner::read_unindexed(r)?,
    })
}

impl Columns {
    /// Every column has `n` rows and every id is in its dictionary.
    fn fits(&self, n: usize) -> bool {
        let rows = [
            &self.given,
            &self.surname,
            &self.dob,
            &self.postcode,
            &self.address,
        ]
        .iter()
        .all(|c| c.len() == n)
            && self.sex.len() == n
            && self.nhs.len() == n
            && self.nhs_invalid.len() == n
            && self.placeholder.len() == n.div_ceil(64);
        rows && ids_below(&self.given, self.given_dict.values.len())
            && ids_below(&self.surname, self.surname_dict.values.len())
            && ids_below(&self.postcode, self.postcode_dict.values.len())
            && ids_below(&self.address, self.address_dict.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Records {
        let mut b = Records::builder();
        b.add_reader(
            "a.csv",
            "id,nhs_number,given_name,surname,dob,postcode,address,sex,ward\n\
             A1,943 476 5919,Elizabeth,Smith,1980-02-01,LS1 4AP,1 High St,F,W1\n\
             A2,,Tom,Jones,1975-07-30,M1 1AE,,M,\n\
             A3,,Twin 1,Jones,2024-07-30,ZZ9 9ZZ,2 Low Rd,,W2\n"
                .as_bytes(),
        )
        .unwrap();
        b.build().unwrap().0
    }

    fn write(r: &Records) -> (u64, Vec<u8>) {
        let mut w = ColWriter::new(Vec::new());
        r.write_columns(&mut w).unwrap();
        let (len, _, bytes) = w.finish();
        (len, bytes)
    }

    #[test]
    fn a_store_reads_back_row_for_row_and_finds_its_values() {
        let r = store();
        let (len, bytes) = write(&r);
        let back = Records::read_columns(&mut ColReader::new(&bytes[..], len)).expect("reads");
        assert_eq!(back.len(), r.len());
        for row in 0..r.len() as u32 {
            assert!(back.row(row) == r.row(row), "row {row}");
            assert_eq!(back.id(row), r.id(row));
            assert_eq!(back.newborn_placeholder(row), r.newborn_placeholder(row));
        }
        // The dictionaries' tables were rebuilt: lookups find the same ids.
        let tom = r.given_name(1).expect("a given name");
        let g = &back.cols.given_dict.values;
        assert_eq!(g.lookup(tom), r.cols.given_dict.values.lookup(tom));
        assert!(g.lookup(tom).is_some());
        assert_eq!(g.lookup("NOT A NAME"), None);
        // And written again, the bytes are the same.
        assert_eq!(write(&back).1, bytes);
    }

    #[test]
    fn a_damaged_store_is_refused_not_trusted() {
        let r = store();
        let (len, bytes) = write(&r);
        // Every single-byte change is either refused or reads back as a store that holds
        // exactly the bytes read (nothing invented or dropped: written again, it gives the
        // damaged bytes back) and whose accessors stay in bounds (a changed letter in a name
        // is still a store).
        let mut refused = 0;
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x5a;
            match Records::read_columns(&mut ColReader::new(&b[..], len)) {
                None => refused += 1,
                Some(back) => {
                    assert_eq!(write(&back).1, b, "byte {i}");
                    for row in 0..back.len() as u32 {
                        let _ = back.row(row);
                        let _ = back.id(row);
                    }
                }
            }
        }
        assert!(refused > 0, "some damage is refused");
        // A store cut short is refused.
        let cut = &bytes[..bytes.len() / 2];
        assert!(Records::read_columns(&mut ColReader::new(cut, len)).is_none());
    }

    #[test]
    fn an_interner_with_a_value_twice_is_refused() {
        assert!(Interner::from_parts("abab", &[2, 4]).is_none());
        assert!(Interner::from_parts("abcd", &[2, 4]).is_some());
        assert!(Interner::from_parts("abcd", &[2, 5]).is_none());
        assert!(Interner::from_parts("é", &[1, 2]).is_none());
    }
}
