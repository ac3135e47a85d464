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

/// Whether the file at `path` is to be read as Parquet: its name ([`is_parquet`]) or its
/// first bytes ([`has_parquet_magic`]) say so. Every entry point that opens a file by path
/// (the command line, the C ABI's batches) decides with this.
pub fn is_parquet_file(path: &Path) -> bool {
    is_parquet(path) || has_parquet_magic(path)
}

/// Whether the file at `path` starts with Parquet's magic bytes (`PAR1`); false when it
/// cannot be read (the CSV reader then says why).
pub fn has_parquet_magic(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| &magic == b"PAR1")
}

/// The rows of the Parquet file at `path`, one record batch in memory at a time.
///
/// # Errors
///
/// As [`read_parquet`].
pub(crate) fn parquet_rows(
    path: &Path,
) -> Result<super::table::RowStream<parquet::arrow::arrow_reader::ParquetRecordBatchReader>, Error>
{
    let (reader, rows) = parquet_reader(path)?;
    Ok(super::table::RowStream::new(&path.display().to_string(), reader).with_row_count(rows))
}

/// Reads the Parquet file at `path` as a table called by the path.
///
/// # Errors
///
/// An I/O error naming `path` when it cannot be opened; an input error naming it when it is
/// not a readable Parquet file or a column cannot be read as text.
pub fn read_parquet(path: &Path) -> Result<ArrowTable, Error> {
    ArrowTable::from_reader(&path.display().to_string(), parquet_reader(path)?.0)
}

/// A reader of the record batches of the Parquet file at `path`, and its number of rows.
fn parquet_reader(
    path: &Path,
) -> Result<
    (
        parquet::arrow::arrow_reader::ParquetRecordBatchReader,
        Option<u64>,
    ),
    Error,
> {
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
    ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| {
            let rows = u64::try_from(b.metadata().file_metadata().num_rows()).ok();
            Ok((b.with_batch_size(READ_BATCH).build()?, rows))
        })
        .map_err(|_| super::table::failed(&name, "not a readable Parquet file"))
}

/// Writes `batch` as a Parquet file at `path` (a [`NewFile`]: committed by the caller).
///
/// # Errors
///
/// An I/O error naming `path`.
pub fn stage_parquet(path: &Path, batch: &RecordBatch) -> Result<NewFile, Error> {
    stage_parquet_batches(path, batch.schema(), [Ok(batch.clone())])
}

/// Rows per row group of a written file, and per record batch of a result written: memory
/// holds one of each at a time.
pub(crate) const WRITE_ROWS: usize = 1 << 17;

/// Writes `batches` (each of `schema`) as one Parquet file at `path`, one batch in memory at
/// a time (a [`NewFile`]: committed by the caller).
///
/// # Errors
///
/// The first error of `batches`; an I/O error naming `path`.
pub fn stage_parquet_batches(
    path: &Path,
    schema: arrow_schema::SchemaRef,
    batches: impl IntoIterator<Item = Result<RecordBatch, Error>>,
) -> Result<NewFile, Error> {
    let fail = || {
        Error::new(
            ErrorKind::Io,
            format!("{}: cannot write the Parquet file", path.display()),
        )
    };
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_size(WRITE_ROWS)
        .build();
    let mut w =
        ArrowWriter::try_new(NewFile::create(path)?, schema, Some(props)).map_err(|_| fail())?;
    for batch in batches {
        w.write(&batch?).map_err(|_| fail())?;
    }
    w.into_inner().map_err(|_| fail())
}
