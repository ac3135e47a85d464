//! Arrow and Parquet: tables in, results out, with no CSV text in between.
//!
//! * In: an [`ArrowTable`] holds the record batches of any Arrow reader (a Parquet file
//!   through [`read_parquet`], a data frame handed over through the Arrow C stream interface
//!   by the C ABI); [`crate::RecordsBuilder::add_table`] reads it as a file of the same
//!   columns would be read.
//! * Out: [`pairs_batch`], [`clusters_batch`], [`encoded_batch`] and [`review_batch`] give
//!   results as record batches with the columns of the CSV files; [`stage_parquet`] writes one as Parquet.

mod parquet;
mod results;
mod table;

pub(crate) use results::batch as batch_of;

pub(crate) use parquet::WRITE_ROWS;
pub use parquet::has_parquet_magic;
pub(crate) use parquet::parquet_rows;
pub use parquet::{
    is_parquet, is_parquet_file, read_parquet, stage_parquet, stage_parquet_batches,
};
pub use results::{
    clusters_batch, clusters_batches, encoded_batch, pairs_batch, pairs_batches, review_batch,
};
pub use table::ArrowTable;
