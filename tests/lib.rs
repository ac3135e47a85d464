//! Integration tests: one binary, one module per area (as rust-lang/regex does).

mod cli;
mod index;
mod memory;
mod properties;
mod pseudonym;
mod reliability;
mod review;
