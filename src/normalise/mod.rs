//! Normalisation: turning the values people type into values that can be compared.
//!
//! One module per kind of value. Every function here is pure and idempotent: normalising a
//! normalised value changes nothing. Functions return `Ok(None)` (or `None`) for a value that
//! is missing, including placeholders such as "Unknown", 1900-01-01 or ZZ99 postcodes, and
//! `Err(problem)` for a value that is present but invalid; a problem is a small enum whose
//! `as_str` names it without echoing the value.

pub mod address;
pub mod date;
pub mod name;
pub mod nhs_number;
pub mod phonetic;
pub mod postcode;
pub mod sex;
pub mod text;
