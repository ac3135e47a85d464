//! carematch: patient record linkage for health and social care.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod block;
mod cluster;
mod config;
mod error;
mod evaluate;
mod input;
mod link;
pub mod normalise;
mod output;
mod record;
mod rules;
pub mod schema;
pub mod synth;

pub use block::{Blocker, BlockingRule, Field, Key, Mode, Pair, PairChunks, Transform};
pub use cluster::Clusters;
pub use config::Config;
pub use error::{Error, ErrorKind};
pub use evaluate::{Evaluation, PairFile, evaluate_files};
pub use input::{
    ColumnQuality, MAX_VALUE_BYTES, ProblemCount, QualityReport, RecordsBuilder, SourceQuality,
};
pub use link::{Decision, Link, LinkResult, Linker, LinkerBuilder, dedupe_mode, link_mode};
pub use output::{write_clusters_csv, write_pairs_csv};
pub use record::{Records, Source};
pub use rules::{Condition, MatchRule};
pub use schema::Role;

/// The version of this crate, from `Cargo.toml`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
