//! The one CSV reader behind every file carematch reads (sources, truth and pairs files,
//! earlier clusters, index batches): the header checked once, and true line numbers.
//!
//! [`open`] is the one way a path becomes bytes: `-` is standard input, and gzip is read
//! transparently (found by its magic bytes, not its name). The field delimiter is given, or
//! found: a tab for a `.tsv` or `.tab` name, else the header line decides (a comma when it
//! has one; otherwise a tab, semicolon or pipe, whichever it has most of).
//!
//! The csv crate counts lines by record terminators, and with CRLF files it places a record
//! at the line before its own. Line numbers here are counted from the bytes instead: a
//! record's line is one plus the number of `\n` bytes before its first byte, so LF, CRLF and
//! quoted fields that span lines are all numbered as an editor shows them.

use std::collections::VecDeque;
use std::io::{BufRead, Read};
use std::path::Path;

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

/// The name standard input goes by in messages.
pub const STDIN_NAME: &str = "standard input";

/// Opens `path` to read (`-` for standard input), decompressing gzip; returns the name to use
/// in messages and the bytes.
///
/// # Errors
///
/// An I/O error naming `path` when it cannot be opened or read.
pub(crate) fn open(path: &Path) -> Result<(String, Box<dyn Read>), Error> {
    open_sized(path).map(|(name, r, _)| (name, r))
}

/// An opened input: its name for messages, its bytes, and their number when known.
pub(crate) type Opened = (String, Box<dyn Read>, Option<u64>);

/// [`open`], with the size of the text when it is known: a plain file's length (not for
/// standard input or gzip).
pub(crate) fn open_sized(path: &Path) -> Result<Opened, Error> {
    let (name, inner, mut size): (String, Box<dyn Read>, Option<u64>) = if path.as_os_str() == "-" {
        (STDIN_NAME.to_string(), Box::new(std::io::stdin()), None)
    } else {
        let f = std::fs::File::open(path).map_err(|e| Error::io(path, "open", &e))?;
        let size = f.metadata().ok().map(|m| m.len());
        (path.display().to_string(), Box::new(f), size)
    };
    let mut r = std::io::BufReader::with_capacity(1 << 20, inner);
    let start = r.fill_buf().map_err(|e| Error::io(path, "read", &e))?;
    if start.starts_with(b"PAR1") {
        // Only standard input gets here: a Parquet file is read from its end, so not from
        // a pipe (`RecordsBuilder::add_file` reads one given by its path).
        return Err(Error::new(
            crate::error::ErrorKind::Usage,
            format!("{name}: is Parquet, which cannot be read from a pipe; give its path"),
        ));
    }
    if start.starts_with(&[0x1f, 0x8b]) {
        size = None;
        let d = flate2::bufread::MultiGzDecoder::new(r);
        Ok((
            name,
            Box::new(std::io::BufReader::with_capacity(1 << 20, d)),
            size,
        ))
    } else {
        Ok((name, Box::new(r), size))
    }
}

/// The delimiter of a source called `name` whose text starts with `start`: a tab for a
/// `.tsv` or `.tab` name, else what its header line shows.
pub(crate) fn delimiter_for(name: &str, start: &[u8]) -> u8 {
    delimiter_of_name(name)
        .unwrap_or_else(|| delimiter_of_header(start.split(|&b| b == b'\n').next().unwrap_or(&[])))
}

/// The delimiter a file's name says (a tab for `.tsv` and `.tab`, gzipped or not), if any.
fn delimiter_of_name(name: &str) -> Option<u8> {
    let path = Path::new(name);
    let is = |p: &Path, ext: &str| p.extension().is_some_and(|e| e.eq_ignore_ascii_case(ext));
    let base = if is(path, "gz") {
        Path::new(path.file_stem().unwrap_or_default())
    } else {
        path
    };
    (is(base, "tsv") || is(base, "tab")).then_some(b'\t')
}

/// The delimiter of a header line: a comma when it has one outside quotes; otherwise the
/// most frequent of tab, semicolon and pipe; a comma when it has none (one column).
fn delimiter_of_header(line: &[u8]) -> u8 {
    let mut counts = [0usize; 4];
    let mut quoted = false;
    for &b in line {
        match b {
            b'"' => quoted = !quoted,
            _ if quoted => {}
            b',' => counts[0] += 1,
            b'\t' => counts[1] += 1,
            b';' => counts[2] += 1,
            b'|' => counts[3] += 1,
            _ => {}
        }
    }
    if counts[0] > 0 {
        return b',';
    }
    let best = (1..4).max_by_key(|&i| (counts[i], std::cmp::Reverse(i)));
    match best {
        Some(i) if counts[i] > 0 => [b',', b'\t', b';', b'|'][i],
        _ => b',',
    }
}

/// The most bytes read ahead to find the header line's delimiter.
const SNIFF_BYTES: usize = 1 << 16;

/// The bytes of `reader` with its first line read ahead (up to [`SNIFF_BYTES`]), and the
/// delimiter that line shows.
fn sniff<R: Read>(mut reader: R) -> std::io::Result<(u8, Ahead<R>)> {
    let mut ahead = Vec::new();
    let mut buf = [0u8; 4096];
    while ahead.len() < SNIFF_BYTES && !ahead.contains(&b'\n') {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        ahead.extend_from_slice(&buf[..n]);
    }
    let line = ahead.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let d = delimiter_of_header(line);
    Ok((d, std::io::Cursor::new(ahead).chain(reader)))
}

/// The reader under a [`CsvReader`]: the bytes read ahead to find the delimiter, then the
/// rest.
type Ahead<R> = std::io::Chain<std::io::Cursor<Vec<u8>>, R>;

/// The checked column names of a header (a CSV header row, or a table's column names): each
/// trimmed, a UTF-8 byte-order mark dropped from the first.
///
/// # Errors
///
/// An input error naming `name` for no columns, more than [`MAX_COLUMNS`], a name that is
/// not UTF-8, or two columns of one name.
pub(crate) fn header_names(name: &str, headers: &[&[u8]]) -> Result<Vec<String>, Error> {
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
    for (i, &h) in headers.iter().enumerate() {
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

/// A CSV source: its checked header, then byte records with their line numbers.
pub(crate) struct CsvReader<R: Read> {
    name: String,
    rdr: csv::Reader<Lines<Ahead<R>>>,
    headers: Vec<String>,
    flexible: bool,
}

impl<R: Read> CsvReader<R> {
    /// Opens `reader` (called `name` in messages) and reads its header: each column's name
    /// trimmed, a UTF-8 byte-order mark dropped from the first.
    ///
    /// With `flexible`, rows may have other field counts than the header (the caller checks
    /// what it needs); otherwise a ragged row is an error. `delimiter` separates fields;
    /// `None` finds it (see the module's documentation).
    ///
    /// # Errors
    ///
    /// An input error naming `name` for an empty file, malformed CSV, a header that is not
    /// UTF-8, more than [`MAX_COLUMNS`] columns, or two columns of one name; an I/O error
    /// naming it when it cannot be read.
    pub(crate) fn new(
        name: &str,
        reader: R,
        flexible: bool,
        delimiter: Option<u8>,
    ) -> Result<CsvReader<R>, Error> {
        let (found, inner) = sniff(reader).map_err(|e| Error::io(Path::new(name), "read", &e))?;
        let delimiter = delimiter
            .or_else(|| delimiter_of_name(name))
            .unwrap_or(found);
        let lines = Lines {
            inner,
            offset: 0,
            ahead: VecDeque::new(),
            passed: 0,
        };
        let rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .delimiter(delimiter)
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
        let fields: Vec<&[u8]> = headers.iter().collect();
        header_names(&self.name, &fields)
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
        let mut r = CsvReader::new("t.csv", text, true, None).unwrap();
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
        let mut r = CsvReader::new("crlf.csv", &text[..], false, None).unwrap();
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
        let r = CsvReader::new("w.csv", text.as_bytes(), true, None).unwrap();
        assert_eq!(r.headers().len(), MAX_COLUMNS);
        let text = format!("{},x\n", wide.join(","));
        let e = CsvReader::new("w.csv", text.as_bytes(), true, None)
            .err()
            .expect("too wide");
        assert!(e.message().contains("at most 10000"), "{e}");
        let e = CsvReader::new("d.csv", &b"id,a,b,a\n"[..], true, None)
            .err()
            .expect("dup");
        assert_eq!(
            e.message(),
            "d.csv: line 1, column 'a': two columns have this header"
        );
    }

    #[test]
    fn the_header_line_decides_the_delimiter_unless_the_name_does() {
        assert_eq!(
            delimiter_of_header(b"id,given_name\tx;y"),
            b',',
            "a comma wins"
        );
        assert_eq!(delimiter_of_header(b"id\tgiven_name\tsurname"), b'\t');
        assert_eq!(delimiter_of_header(b"id;given_name;surname|x"), b';');
        assert_eq!(delimiter_of_header(b"id|given_name|surname"), b'|');
        assert_eq!(
            delimiter_of_header(b"\"a,b\"\tc"),
            b'\t',
            "a quoted comma is text"
        );
        assert_eq!(delimiter_of_header(b"id"), b',', "one column");
        assert_eq!(delimiter_of_name("x/GP.TSV.gz"), Some(b'\t'));
        assert_eq!(delimiter_of_name("x.tab"), Some(b'\t'));
        assert_eq!(delimiter_of_name("x.csv"), None);
        // A named .tsv is read as tab-separated even when its header has a comma.
        let mut r =
            CsvReader::new("a.tsv", &b"id\tname\n1\tSmith, Ann\n"[..], false, None).unwrap();
        assert_eq!(r.headers(), ["id", "name"]);
        let mut rec = csv::ByteRecord::new();
        assert_eq!(r.read(&mut rec).unwrap(), Some(2));
        assert_eq!(&rec[1], b"Smith, Ann");
    }
}
