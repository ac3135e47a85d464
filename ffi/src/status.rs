//! The status code every fallible C function returns.

use std::ffi::{CStr, c_char};

use crate::guard::ffi_body;

/// The result of a carematch call: `CAREMATCH_OK` (0) on success, another `CAREMATCH_*` code
/// otherwise.
///
/// The numbers are part of the ABI and never change; new codes may be added, so treat unknown
/// values as failures. After a failure, `carematch_last_error_message` gives a message for
/// people. `carematch_status_name` gives the code's name.
//
// A transparent u32 rather than a Rust enum: C sees a plain uint32_t, so any number a caller
// hands back (e.g. from a callback) is a valid value here, never undefined behaviour.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[must_use]
#[allow(non_camel_case_types)] // the C name, as declared in the header
pub struct carematch_status(u32);

/// The call succeeded and its out-parameters were written.
pub const CAREMATCH_OK: carematch_status = carematch_status(0);
/// A required pointer argument was NULL (or a text/buffer pointer was NULL with a non-zero
/// length).
pub const CAREMATCH_NULL_ARGUMENT: carematch_status = carematch_status(1);
/// A text argument was not valid UTF-8.
pub const CAREMATCH_INVALID_UTF8: carematch_status = carematch_status(2);
/// An argument was out of range or otherwise invalid (e.g. an unknown option value).
pub const CAREMATCH_INVALID_ARGUMENT: carematch_status = carematch_status(3);
/// The caller's buffer was too small; the size needed was written to the length out-parameter
/// and nothing else was written.
pub const CAREMATCH_BUFFER_TOO_SMALL: carematch_status = carematch_status(4);
/// The input data was malformed (bad CSV, a ragged row, a missing column, an invalid value in
/// strict mode).
pub const CAREMATCH_INPUT_ERROR: carematch_status = carematch_status(5);
/// A file could not be opened, read or written.
pub const CAREMATCH_IO_ERROR: carematch_status = carematch_status(6);
/// carematch hit an internal bug (a Rust panic) and the call was abandoned. Handles passed to
/// the call may be in an unspecified but memory-safe state; free them.
pub const CAREMATCH_PANIC: carematch_status = carematch_status(7);
/// A configuration, blocking rule or deterministic rule was invalid.
pub const CAREMATCH_CONFIG_ERROR: carematch_status = carematch_status(8);
/// The call stopped before it held more memory than the machine (or container) had free;
/// the message says what it was doing, what it held and what it could hold.
pub const CAREMATCH_MEMORY_ERROR: carematch_status = carematch_status(9);

/// The name returned for numbers that are not a known status.
const UNKNOWN_NAME: &CStr = c"CAREMATCH_UNKNOWN_STATUS";

impl carematch_status {
    /// The number C sees.
    pub fn code(self) -> u32 {
        self.0
    }

    /// The C name of the status (`"CAREMATCH_OK"`), or `None` for an unknown number.
    pub(crate) fn name_of(code: u32) -> Option<&'static CStr> {
        Some(match carematch_status(code) {
            CAREMATCH_OK => c"CAREMATCH_OK",
            CAREMATCH_NULL_ARGUMENT => c"CAREMATCH_NULL_ARGUMENT",
            CAREMATCH_INVALID_UTF8 => c"CAREMATCH_INVALID_UTF8",
            CAREMATCH_INVALID_ARGUMENT => c"CAREMATCH_INVALID_ARGUMENT",
            CAREMATCH_BUFFER_TOO_SMALL => c"CAREMATCH_BUFFER_TOO_SMALL",
            CAREMATCH_INPUT_ERROR => c"CAREMATCH_INPUT_ERROR",
            CAREMATCH_IO_ERROR => c"CAREMATCH_IO_ERROR",
            CAREMATCH_PANIC => c"CAREMATCH_PANIC",
            CAREMATCH_CONFIG_ERROR => c"CAREMATCH_CONFIG_ERROR",
            CAREMATCH_MEMORY_ERROR => c"CAREMATCH_MEMORY_ERROR",
            _ => return None,
        })
    }

    /// A generic message for a failure of this kind, used when the failing code has nothing
    /// more specific to say.
    pub(crate) fn description(self) -> &'static str {
        match self {
            CAREMATCH_OK => "no error",
            CAREMATCH_NULL_ARGUMENT => "a required pointer argument was NULL",
            CAREMATCH_INVALID_UTF8 => "a text argument was not valid UTF-8",
            CAREMATCH_INVALID_ARGUMENT => "an argument was invalid",
            CAREMATCH_BUFFER_TOO_SMALL => "the buffer was too small",
            CAREMATCH_INPUT_ERROR => "the input data was malformed",
            CAREMATCH_IO_ERROR => "a file could not be read or written",
            CAREMATCH_PANIC => "internal error in carematch",
            CAREMATCH_CONFIG_ERROR => "the configuration was invalid",
            CAREMATCH_MEMORY_ERROR => "the call stopped before memory ran out",
            _ => "unknown status",
        }
    }
}

impl From<carematch::ErrorKind> for carematch_status {
    fn from(kind: carematch::ErrorKind) -> carematch_status {
        use carematch::ErrorKind;
        match kind {
            ErrorKind::Io => CAREMATCH_IO_ERROR,
            // Value errors are invalid data in strict mode: input errors, as `Error::is_input`.
            ErrorKind::Input | ErrorKind::Value => CAREMATCH_INPUT_ERROR,
            ErrorKind::Config => CAREMATCH_CONFIG_ERROR,
            ErrorKind::Usage => CAREMATCH_INVALID_ARGUMENT,
            ErrorKind::Memory => CAREMATCH_MEMORY_ERROR,
            // ErrorKind is non_exhaustive: a new kind gets its own status when it is added; until
            // then it is reported as the caller's mistake rather than hidden as success.
            _ => CAREMATCH_INVALID_ARGUMENT,
        }
    }
}

/// The name of a status code, e.g. `"CAREMATCH_BUFFER_TOO_SMALL"` for 4, or
/// `"CAREMATCH_UNKNOWN_STATUS"` for a number that is not a status.
///
/// Takes a `uint32_t` rather than `carematch_status` so that any number is a valid argument.
///
/// Ownership and lifetime: returns a static NUL-terminated string, never NULL, valid for the life
/// of the process; do not free it or write to it.
///
/// Thread-safety: safe to call from any thread at any time.
#[unsafe(no_mangle)]
pub extern "C" fn carematch_status_name(status: u32) -> *const c_char {
    ffi_body!(or UNKNOWN_NAME.as_ptr(), || {
        carematch_status::name_of(status)
            .unwrap_or(UNKNOWN_NAME)
            .as_ptr()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every status, for exhaustive tests.
    const ALL: [carematch_status; 10] = [
        CAREMATCH_OK,
        CAREMATCH_NULL_ARGUMENT,
        CAREMATCH_INVALID_UTF8,
        CAREMATCH_INVALID_ARGUMENT,
        CAREMATCH_BUFFER_TOO_SMALL,
        CAREMATCH_INPUT_ERROR,
        CAREMATCH_IO_ERROR,
        CAREMATCH_PANIC,
        CAREMATCH_CONFIG_ERROR,
        CAREMATCH_MEMORY_ERROR,
    ];

    #[test]
    fn numbers_are_stable() {
        // These numbers are ABI: C callers and the Python wrapper compare against them.
        let expected = [
            (CAREMATCH_OK, 0),
            (CAREMATCH_NULL_ARGUMENT, 1),
            (CAREMATCH_INVALID_UTF8, 2),
            (CAREMATCH_INVALID_ARGUMENT, 3),
            (CAREMATCH_BUFFER_TOO_SMALL, 4),
            (CAREMATCH_INPUT_ERROR, 5),
            (CAREMATCH_IO_ERROR, 6),
            (CAREMATCH_PANIC, 7),
            (CAREMATCH_CONFIG_ERROR, 8),
            (CAREMATCH_MEMORY_ERROR, 9),
        ];
        assert_eq!(expected.len(), ALL.len());
        for (status, code) in expected {
            assert_eq!(status.code(), code);
        }
    }

    #[test]
    fn every_status_has_a_distinct_name_and_description() {
        let mut names = std::collections::HashSet::new();
        for status in ALL {
            let name = carematch_status::name_of(status.code()).unwrap();
            assert!(name.to_str().unwrap().starts_with("CAREMATCH_"));
            assert!(names.insert(name), "duplicate name {name:?}");
            assert_ne!(status.description(), "unknown status");
        }
    }

    #[test]
    fn core_error_kinds_map_to_statuses() {
        use carematch::ErrorKind;
        assert_eq!(carematch_status::from(ErrorKind::Io), CAREMATCH_IO_ERROR);
        assert_eq!(
            carematch_status::from(ErrorKind::Input),
            CAREMATCH_INPUT_ERROR
        );
        assert_eq!(
            carematch_status::from(ErrorKind::Value),
            CAREMATCH_INPUT_ERROR
        );
        assert_eq!(
            carematch_status::from(ErrorKind::Config),
            CAREMATCH_CONFIG_ERROR
        );
        assert_eq!(
            carematch_status::from(ErrorKind::Usage),
            CAREMATCH_INVALID_ARGUMENT
        );
        assert_eq!(
            carematch_status::from(ErrorKind::Memory),
            CAREMATCH_MEMORY_ERROR
        );
    }

    #[test]
    fn unknown_numbers_get_the_unknown_name_not_null() {
        for code in [10, 100, u32::MAX] {
            let ptr = carematch_status_name(code);
            assert!(!ptr.is_null());
            // SAFETY: carematch_status_name returns a static NUL-terminated string.
            let name = unsafe { CStr::from_ptr(ptr) };
            assert_eq!(name, UNKNOWN_NAME);
        }
    }

    #[test]
    fn status_name_returns_the_c_name() {
        let ptr = carematch_status_name(4);
        // SAFETY: carematch_status_name returns a static NUL-terminated string.
        let name = unsafe { CStr::from_ptr(ptr) };
        assert_eq!(name, c"CAREMATCH_BUFFER_TOO_SMALL");
    }
}
