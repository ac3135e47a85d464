//! Arrow data in and out through the Arrow C stream interface (`struct ArrowArrayStream`).
//! The reading and the result columns are the core's ([`carematch::arrow`]); this module
//! moves record batches across the boundary.

use arrow_array::ffi_stream::{ArrowArrayStreamReader, FFI_ArrowArrayStream};
use arrow_array::{RecordBatch, RecordBatchIterator};
use arrow_schema::SchemaRef;
use carematch::arrow::ArrowTable;

use crate::guard::Failure;
use crate::status::CAREMATCH_INPUT_ERROR;

/// Reads every record batch of `stream` (called `name` in messages) as a table.
///
/// # Errors
///
/// An input error naming `name` when the stream is released or fails, a column has a type
/// that cannot be read as text, or binary data is not UTF-8.
pub(crate) fn read(name: &str, stream: FFI_ArrowArrayStream) -> Result<ArrowTable, Failure> {
    let reader = ArrowArrayStreamReader::try_new(stream).map_err(|_| {
        Failure::new(
            CAREMATCH_INPUT_ERROR,
            format!("{name}: not a readable Arrow stream (released, or no schema)"),
        )
    })?;
    Ok(ArrowTable::from_reader(name, reader)?)
}

/// A stream of `batches` under `schema`.
pub(crate) fn stream_of(schema: SchemaRef, batches: Vec<RecordBatch>) -> FFI_ArrowArrayStream {
    let reader = RecordBatchIterator::new(batches.into_iter().map(Ok), schema);
    FFI_ArrowArrayStream::new(Box::new(reader))
}

/// A stream of the one record batch `batch`.
pub(crate) fn one_batch_stream(batch: RecordBatch) -> FFI_ArrowArrayStream {
    stream_of(batch.schema(), vec![batch])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_released_stream_is_an_input_error_naming_it() {
        let e = read("frame", FFI_ArrowArrayStream::empty()).unwrap_err();
        let shown = format!("{e:?}");
        assert!(
            shown.contains("frame: not a readable Arrow stream"),
            "{shown}"
        );
    }
}
