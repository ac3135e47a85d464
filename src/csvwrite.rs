//! The CSV writer behind every file carematch writes: a new file (temporary, 0600, renamed
//! on commit; see [`NewFile`]) with a buffered writer, and I/O errors that name the file.

use std::path::Path;

use crate::error::{Error, ErrorKind};
use crate::files::NewFile;

/// A CSV writer over a new file (see [`NewFile`]: temporary, 0600, renamed on commit).
pub(crate) fn create(path: &Path) -> Result<csv::Writer<NewFile>, Error> {
    Ok(csv::WriterBuilder::new()
        .buffer_capacity(1 << 16)
        .from_writer(NewFile::create(path)?))
}

/// The written file of a CSV writer from [`create`], flushed, ready to commit.
pub(crate) fn finish(path: &Path, w: csv::Writer<NewFile>) -> Result<NewFile, Error> {
    w.into_inner()
        .map_err(|e| Error::io(path, "write", e.error()))
}

/// The error of a failed CSV write to `path`.
pub(crate) fn write_err(path: &Path, e: &csv::Error) -> Error {
    Error::new(
        ErrorKind::Io,
        format!("{}: cannot write: {e}", path.display()),
    )
}

/// Writes a CSV file of `header` and `rows`, quoting as needed.
///
/// # Errors
///
/// An I/O error naming `path`.
pub fn write_csv<R, F>(path: &Path, header: &[&str], rows: R) -> Result<(), Error>
where
    R: IntoIterator<Item = F>,
    F: IntoIterator,
    F::Item: AsRef<[u8]>,
{
    stage_csv(path, header, rows)?.commit()
}

/// [`write_csv`] without the commit.
///
/// # Errors
///
/// An I/O error naming `path`.
pub fn stage_csv<R, F>(path: &Path, header: &[&str], rows: R) -> Result<NewFile, Error>
where
    R: IntoIterator<Item = F>,
    F: IntoIterator,
    F::Item: AsRef<[u8]>,
{
    let mut w = create(path)?;
    let werr = |e: csv::Error| write_err(path, &e);
    w.write_record(header).map_err(werr)?;
    for r in rows {
        w.write_record(r).map_err(werr)?;
    }
    finish(path, w)
}
