//! The one CSV reader behind every file carematch reads (sources, truth and pairs files,
//! earlier clusters, index batches): the header checked once, and true line numbers.
//!
//! The csv crate counts lines by record terminators, and with CRLF files it places a record
//! at the line before its own. Line numbers here are counted from the bytes instead: a
//! record's line is one plus the number of `\n` bytes before its first byte, so LF, CRLF and
//! quoted fields that span lines are all numbered as an editor shows them.

use std::collections::VecDeque;
use std::io::Read;

use crate::Error;
use crate::error::ErrorKind;

/// The most columns a CSV header may have. No extract of patient demographics comes near it;
/// the cap bounds the memory and time a malformed file (a binary file, one long line) can
/// cost before it is refused.
pub const MAX_COLUMNS: usize = 10_000;

/// Counts the newlines of the bytes read through it, so that a byte offset can be turned
/// into a line number.
struct Lines<R> {
    inner: R,
    /// Bytes read so far.
    offset: u64,
    /// Offsets of line terminator bytes (`\r` or `\n`) read but not yet passed by a record
    /// start, and whether each is a `\n`.
    ahead: VecDeque<(u64, bool)>,
    /// Newlines before the last record start asked about.
    passed: u64,
}

impl<R: Read> Read for Lines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let at = self.offset;
        let part = &buf[..n];
        self.ahead.extend(
            memchr::memchr2_iter(b'\n', b'\r', part).map(|i| (at + i as u64, part[i] == b'\n')),
        );
        self.offset += n as u64;
        Ok(n)
    }
}

impl<R> Lines<R> {
    /// The line of the record whose parse started at byte `start`. Starts must be asked for
    /// in increasing order (records are read in order). The csv crate starts a record where
    /// the previous one's terminator ended, so the terminator bytes and blank lines at
    /// `start` are skipped here: a CRLF file's `\n` and empty lines belong before the record.
    fn line_at(&mut self, start: u64) -> u64 {
        let mut at = start;
        while let Some(&(p, lf)) = self.ahead.front() {
            if p > at {
                break;
            }
            if p == at {
                at += 1;
            }
            self.passed += u64::from(lf);
            self.ahead.pop_front();
        }
        self.passed + 1
    }
}

/// A CSV source: its checked header, then byte records with their line numbers.
pub(crate) struct CsvReader<R: Read> {
    name: String,
    rdr: csv::Reader<Lines<R>>,
    headers: Vec<String>,
    flexible: bool,
}

impl<R: Read> CsvReader<R> {
    /// Opens `reader` (called `name` in messages) and reads its header: each column's name
    /// trimmed, a UTF-8 byte-order mark dropped from the first.
    ///
    /// With `flexible`, rows may have other field counts than the header (the caller checks
    /// what it needs); otherwise a ragged row is an error.
    ///
    /// # Errors
    ///
    /// An input error naming `name` for an empty file, malformed CSV, a header that is not
    /// UTF-8, more than [`MAX_COLUMNS`] columns, or two columns of one name.
    pub(crate) fn new(name: &str, reader: R, flexible: bool) -> Result<CsvReader<R>, Error> {
        let lines = Lines {
            inner: reader,
            offset: 0,
            ahead: VecDeque::new(),
            passed: 0,
        };
        let rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(lines);
        let mut r = CsvReader {
            name: name.to_string(),
            rdr,
            headers: Vec::new(),
            flexible,
        };
        r.headers = r.read_header()?;
        Ok(r)
    }

    fn read_header(&mut self) -> Result<Vec<String>, Error> {
        let headers = match self.rdr.byte_headers() {
            Ok(h) => h.clone(),
            Err(e) => return Err(self.error(&e)),
        };
        let name = &self.name;
        if headers.is_empty() || (headers.len() == 1 && headers[0].is_empty()) {
            return Err(Error::input_at(name, 0, None, "empty file: no header row"));
        }
        if headers.len() > MAX_COLUMNS {
            return Err(Error::input_at(
                name,
                1,
                None,
                &format!(
                    "{} columns in the header; at most {MAX_COLUMNS} are read",
                    headers.len()
                ),
            ));
        }
        let mut names = Vec::with_capacity(headers.len());
        let mut seen = rustc_hash::FxHashSet::default();
        for (i, h) in headers.iter().enumerate() {
            let h = if i == 0 {
                h.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(h)
            } else {
                h
            };
            let s = std::str::from_utf8(h).map_err(|_| {
                Error::input_at(
                    name,
                    1,
                    None,
                    &format!("header {} is not valid UTF-8", i + 1),
                )
            })?;
            let s = s.trim().to_string();
            if !seen.insert(s.clone()) {
                return Err(Error::input_at(
                    name,
                    1,
                    Some(&s),
                    "two columns have this header",
                ));
            }
            names.push(s);
        }
        Ok(names)
    }

    /// The column names.
    pub(crate) fn headers(&self) -> &[String] {
        &self.headers
    }

    /// Reads the next record into `rec`; its line number, or `None` at the end.
    ///
    /// # Errors
    ///
    /// An input error naming the source and line for malformed CSV or (unless flexible) a
    /// row whose field count differs from the header's.
    pub(crate) fn read(&mut self, rec: &mut csv::ByteRecord) -> Result<Option<u64>, Error> {
        match self.rdr.read_byte_record(rec) {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            Err(e) => return Err(self.error(&e)),
        }
        let start = rec.position().map_or(0, csv::Position::byte);
        let line = self.rdr.get_mut().line_at(start);
        if !self.flexible && rec.len() != self.headers.len() {
            return Err(ragged(&self.name, line, rec.len(), self.headers.len()));
        }
        Ok(Some(line))
    }

    /// A csv crate error as an input error with its true line; the csv error's own text may
    /// quote data, so it is not used.
    fn error(&mut self, e: &csv::Error) -> Error {
        let line = match e.position() {
            Some(p) => self.rdr.get_mut().line_at(p.byte()),
            None => 0,
        };
        let name = &self.name;
        match e.kind() {
            csv::ErrorKind::Io(io) => {
                Error::new(ErrorKind::Io, format!("{name}: cannot read: {io}"))
            }
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => ragged(name, line, *len as usize, *expected_len as usize),
            csv::ErrorKind::Utf8 { .. } => Error::input_at(name, line, None, "not valid UTF-8"),
            _ => Error::input_at(name, line, None, "malformed CSV"),
        }
    }
}

/// The fields of `rec` (read from `name` at `line`) as trimmed text.
///
/// # Errors
///
/// An input error naming the file and line when a field is not UTF-8.
pub(crate) fn text_fields<'r>(
    rec: &'r csv::ByteRecord,
    name: &str,
    line: u64,
) -> Result<Vec<&'r str>, Error> {
    rec.iter()
        .map(|f| std::str::from_utf8(f).map(str::trim))
        .collect::<Result<_, _>>()
        .map_err(|_| Error::input_at(name, line, None, "not valid UTF-8"))
}

/// The error for a row with `got` fields where the header of file `name` has `want`.
pub(crate) fn ragged(name: &str, line: u64, got: usize, want: usize) -> Error {
    Error::input_at(
        name,
        line,
        None,
        &format!("ragged row: {got} fields where the header has {want}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(text: &[u8]) -> Vec<u64> {
        let mut r = CsvReader::new("t.csv", text, true).unwrap();
        let mut rec = csv::ByteRecord::new();
        let mut out = Vec::new();
        while let Some(l) = r.read(&mut rec).unwrap() {
            out.push(l);
        }
        out
    }

    /// Regression: on CRLF files every line number was one too low (the csv crate's count).
    #[test]
    fn crlf_lf_and_multiline_records_are_numbered_as_an_editor_shows_them() {
        assert_eq!(lines_of(b"id,a\n1,x\n2,y\n"), [2, 3]);
        assert_eq!(lines_of(b"id,a\r\n1,x\r\n2,y\r\n"), [2, 3]);
        assert_eq!(lines_of(b"id,a\r\n1,\"x\r\nx\"\r\n2,y\r\n"), [2, 4]);
        assert_eq!(lines_of(b"id,a\n\n\n1,x\n"), [4]);
        assert_eq!(lines_of(b"id,a\r1,x\r2,y"), [1, 1]);
    }

    #[test]
    fn a_ragged_crlf_row_names_its_own_line() {
        let text = b"id,given_name,surname\r\n1,a,b\r\n2,c,d\r\n3,e\r\n4,f,g\r\n";
        let mut r = CsvReader::new("crlf.csv", &text[..], false).unwrap();
        let mut rec = csv::ByteRecord::new();
        let e = loop {
            match r.read(&mut rec) {
                Ok(Some(_)) => {}
                Ok(None) => panic!("the ragged row was not found"),
                Err(e) => break e,
            }
        };
        assert_eq!(
            e.message(),
            "crlf.csv: line 4: ragged row: 2 fields where the header has 3"
        );
    }

    /// Regression: the duplicate-header check compared every pair of columns (17 s at 40k
    /// columns); it is now one hash lookup per column, and a header over the cap is refused.
    #[test]
    fn a_wide_header_is_checked_in_linear_time_and_capped() {
        let wide: Vec<String> = (0..MAX_COLUMNS).map(|i| format!("c{i}")).collect();
        let text = format!("{}\n", wide.join(","));
        let r = CsvReader::new("w.csv", text.as_bytes(), true).unwrap();
        assert_eq!(r.headers().len(), MAX_COLUMNS);
        let text = format!("{},x\n", wide.join(","));
        let e = CsvReader::new("w.csv", text.as_bytes(), true)
            .err()
            .expect("too wide");
        assert!(e.message().contains("at most 10000"), "{e}");
        let e = CsvReader::new("d.csv", &b"id,a,b,a\n"[..], true)
            .err()
            .expect("dup");
        assert_eq!(
            e.message(),
            "d.csv: line 1, column 'a': two columns have this header"
        );
    }
}
