//! carematch: patient record linkage for health and social care.
//!
//! # Overview
//!
//! carematch finds the records that belong to the same patient across GP, hospital,
//! community and social-care extracts. A run reads one or two CSV sources into a columnar
//! [`Records`] store, normalising every value the way NHS data needs ([`normalise`]), makes
//! candidate pairs by [blocking](BlockingRule) instead of comparing everyone with everyone,
//! links the sure matches with an ordered ladder of deterministic [rules](MatchRule), scores
//! the rest with a Fellegi-Sunter [`Model`] trained on the data ([`compare`] has the
//! comparisons and their levels, [`model`] the training, scoring and explanation), and groups
//! the links into people ([`Clusters`]) with person ids that do not depend on input order.
//!
//! # Example
//!
//! ```
//! # fn main() -> Result<(), carematch::Error> {
//! use carematch::{Linker, Records};
//!
//! let gp = "rec_id,nhs_number,given_name,surname,date_of_birth,postcode\n\
//!           G1,943 476 5919,Elizabeth,Smith,1980-02-01,LS1 4AP\n\
//!           G2,,Tom,Jones,1975-07-30,M1 1AE\n";
//! let hospital = "id,nhs_no,first_name,last_name,dob,postcode\n\
//!                 H7,9434765919,LIZ,SMITH,01/02/1980,ls14ap\n\
//!                 H8,,Tom,Jones,30/07/1975,M1 1AE\n";
//! let mut builder = Records::builder();
//! builder.add_reader("gp.csv", gp.as_bytes())?;
//! builder.add_reader("hospital.csv", hospital.as_bytes())?;
//! let (records, quality) = builder.build()?;
//! assert_eq!(quality.invalid_total(), 0);
//!
//! let result = Linker::builder().build()?.link(&records, 0, 1)?;
//! let links: Vec<(&str, &str, &str)> = result
//!     .matches()
//!     .map(|l| {
//!         let rule = result.rule_name(l).unwrap_or("model");
//!         (records.id(l.pair.left), records.id(l.pair.right), rule)
//!     })
//!     .collect();
//! assert_eq!(links, [("G1", "H7", "nhs-dob"), ("G2", "H8", "demographics")]);
//!
//! let people = result.clusters(&records);
//! assert_eq!(people.len(), 2);
//! assert_eq!(people.person_id(0), people.person_id(2));
//! # Ok(()) }
//! ```
//!
//! # Usage
//!
//! * Read sources with [`RecordsBuilder`]: columns with common names are recognised
//!   ([`schema`]); a [`Config`] maps any others. Invalid values become missing and are
//!   counted in the [`QualityReport`], or are fatal in strict mode.
//! * Train a model with [`Model::train`] (or load one with [`Model::load`]).
//! * Link two sources or deduplicate one with [`Linker`]; [`Linker::plan`] gives the
//!   comparison count of each blocking rule before anything runs.
//! * Write the command-line contract's files with [`output::write_pairs_csv`] and
//!   [`output::write_clusters_csv`]; measure against truth with [`Evaluation`].
//!
//! The root holds the types most programs need; the rest is in the modules: [`block`]
//! (blocking keys, rules, modes and pairs), [`choice`] (rules chosen from the data),
//! [`cluster`], [`evaluate`], [`index`], [`input`] (the quality report's parts), [`link`]
//! (the linker's builder, plan and decision counts), [`model`], [`output`], [`record`],
//! [`rules`], [`schema`], [`pseudonym`], [`normalise`], [`compare`], [`synth`] and [`files`].
//! * Match one record at a time against a population held in memory with an [`Index`]
//!   (queries, inserts, updates and removals from many threads; person ids that last;
//!   saved to and loaded from a checksummed file).
//! * Make test data with [`synth::generate`].
//!
//! # Performance
//!
//! Each distinct value is normalised and its features (tokens, Soundex, NYSIIS, nickname
//! group, postcode parts) computed once, in parallel; rows hold integer ids, so comparisons
//! are integer compares. Candidate pairs are streamed in chunks (default 1,048,576), each
//! evaluated in parallel with rayon while the next is made; memory is bounded by the store
//! plus two chunks plus the links found. Output is byte-identical on any thread count and
//! chunk size.
//!
//! # Untrusted input
//!
//! Input files are untrusted. No input makes carematch panic: structural problems
//! (malformed CSV, a ragged row, a missing or duplicated id) are [`Error`]s naming the file,
//! line and column; a value longer than [`MAX_VALUE_BYTES`] or not valid UTF-8 is invalid,
//! not fatal. No error, report or `Debug` output contains a patient's value.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod arrow;
pub mod block;
pub mod choice;
pub mod cluster;
mod colfile;
pub mod compare;
mod config;
mod csvread;
mod csvwrite;
mod error;
pub mod estimate;
pub mod evaluate;
pub mod files;
mod fixed;
pub mod index;
pub mod input;
pub mod kernel;
pub mod link;
pub mod memory;
pub mod model;
pub mod normalise;
pub mod output;
pub mod progress;
pub mod pseudonym;
pub mod record;
pub mod report;
pub mod review;
mod rng;
pub mod rules;
pub mod schema;
pub mod synth;

pub use block::BlockingRule;
pub use cluster::Clusters;
pub use config::Config;
pub use error::{Error, ErrorKind};
pub use evaluate::Evaluation;
pub use index::Index;
pub use input::{MAX_VALUE_BYTES, QualityReport, RecordsBuilder};
pub use link::{Decision, Link, LinkResult, Linker};
pub use model::Model;
pub use record::Records;
pub use rules::MatchRule;
pub use schema::Role;

/// The version of this crate, from `Cargo.toml`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
