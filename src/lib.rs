//! carematch: patient record linkage for health and social care.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
pub mod normalise;
pub mod synth;

pub use error::{Error, ErrorKind};

/// The version of this crate, from `Cargo.toml`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
