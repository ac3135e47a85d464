//! C ABI for carematch.
//!
//! # Overview
//!
//! This crate builds `libcarematch_ffi` (static and shared) and is described to C by the
//! generated header `ffi/include/carematch.h`. It follows the conventions of rustls-ffi:
//!
//! - every symbol starts with `carematch_`;
//! - fallible functions return a [`carematch_status`] with stable numbers, and pass results
//!   through trailing out-parameters that are written only when the call succeeds;
//! - every pointer is NULL-checked, and text is UTF-8 as pointer + length, where `(NULL, 0)` is
//!   the empty string;
//! - a failing call leaves a message for its thread, read with `carematch_last_error_message`;
//! - every body runs inside a panic guard: a bug in carematch turns into `CAREMATCH_PANIC`,
//!   never an abort of the host process, and no panic hook is installed.
//!
//! # Layout
//!
//! | module | owns |
//! |---|---|
//! | `status` | the status codes and their names |
//! | `guard` | the panic guard every exported function runs in, and `Failure` |
//! | `last_error` | the thread-local last-error message and its C getter |
//! | `raw` | every `unsafe` conversion from C pointers, each in one small function |
//! | `version` | the library version for C |
//!
//! # Safety
//!
//! All `unsafe` code of carematch lives in this crate, and in this crate it lives in `raw`
//! (pointer conversions) and in the `unsafe extern "C"` entry points whose contracts the header
//! documents. `unsafe_op_in_unsafe_fn` is denied so each unsafe operation is spelled out where it
//! happens, next to a `SAFETY:` comment.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod guard;
mod last_error;
mod raw;
mod status;
mod version;

pub use last_error::carematch_last_error_message;
pub use status::{
    CAREMATCH_BUFFER_TOO_SMALL, CAREMATCH_CONFIG_ERROR, CAREMATCH_INPUT_ERROR,
    CAREMATCH_INVALID_ARGUMENT, CAREMATCH_INVALID_UTF8, CAREMATCH_IO_ERROR,
    CAREMATCH_NULL_ARGUMENT, CAREMATCH_OK, CAREMATCH_PANIC, carematch_status,
    carematch_status_name,
};
pub use version::carematch_version;
