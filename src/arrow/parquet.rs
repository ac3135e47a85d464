//! Parquet files in and out, through the arrow-rs `parquet` crate.
//!
//! A Parquet file is read as an [`ArrowTable`], as a data frame from Python or C is: no text
//! in between. Results are written as one Snappy-compressed file with the columns of the CSV
//! file the same output would be (see [`super::results`]).

use std::fs::File;
use std::path::Path;

use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::ArrowTable;
use crate::error::{Error, ErrorKind};
use crate::files::NewFile;

/// Rows per record batch read from a Parquet file.
const READ_BATCH: usize = 1 << 16;

/// Whether `path` names a Parquet file: its extension is `.parquet` or `.pq` (any case).
pub fn is_parquet(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq"))
}

/// Whether the file at `path` starts with Parquet's magic bytes (`PAR1`); false when it
/// cannot be read (the CSV reader then says why).
pub(crate) fn has_parquet_magic(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| &magic == b"PAR1")
}

/// Reads the Parquet file at `path` as a table called by the path.
///
/// # Errors
///
/// An I/O error naming `path` when it cannot be opened; an input error naming it when it is
/// not a readable Parquet file or a column cannot be read as text.
pub fn read_parquet(path: &Path) -> Result<ArrowTable, Error> {
    let name = path.display().to_string();
    if path.as_os_str() == "-" {
        return Err(Error::new(
            ErrorKind::Usage,
            "-: a Parquet file cannot be read from standard input (it is read from its end); \
             give its path",
        ));
    }
    let file = File::open(path).map_err(|e| Error::io(path, "open", &e))?;
    // The parquet crate's messages are about the file's structure, but may quote statistics
    // (min and max values): left out.
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.with_batch_size(READ_BATCH).build())
        .map_err(|_| super::table::failed(&name, "not a readable Parquet file"))?;
    ArrowTable::from_reader(&name, reader)
}

/// Writes `batch` as a Parquet file at `path` (a [`NewFile`]: committed by the caller).
///
/// # Errors
///
/// An I/O error naming `path`.
pub fn stage_parquet(path: &Path, batch: &RecordBatch) -> Result<NewFile, Error> {
    let fail = || {
        Error::new(
            ErrorKind::Io,
            format!("{}: cannot write the Parquet file", path.display()),
        )
    };
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut w = ArrowWriter::try_new(NewFile::create(path)?, batch.schema(), Some(props))
        .map_err(|_| fail())?;
    w.write(batch).map_err(|_| fail())?;
    w.into_inner().map_err(|_| fail())
}
