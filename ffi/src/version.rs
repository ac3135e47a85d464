//! The library version, for C.

use std::ffi::{CStr, c_char};

use crate::guard::ffi_body;

/// The version with a NUL terminator, checked at compile time.
///
/// Built from this crate's `CARGO_PKG_VERSION`, which is the workspace version shared with the
/// core crate (a unit test checks they agree), so no version number is copied by hand.
const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(version) => version,
        Err(_) => panic!("CARGO_PKG_VERSION contains a NUL byte"),
    };

/// The version of the carematch library, e.g. `"0.1.0"`: the version of the code actually
/// linked, which a caller can compare with `CAREMATCH_VERSION` from the header it compiled
/// against.
///
/// Ownership and lifetime: returns a static NUL-terminated string, never NULL, valid for the life
/// of the process; do not free it or write to it.
///
/// Thread-safety: safe to call from any thread at any time.
#[unsafe(no_mangle)]
pub extern "C" fn carematch_version() -> *const c_char {
    ffi_body!(or VERSION.as_ptr(), || VERSION.as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_matches_the_core_crate() {
        let ptr = carematch_version();
        assert!(!ptr.is_null());
        // SAFETY: carematch_version returns a static NUL-terminated string.
        let version = unsafe { CStr::from_ptr(ptr) };
        assert_eq!(version.to_str(), Ok(carematch::VERSION));
    }
}
