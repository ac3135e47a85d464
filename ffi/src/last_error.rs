//! The thread-local last-error message and its C getter.
//!
//! A failing call stores a message for people on its own thread (like `errno`, but text);
//! successful calls leave it alone, so it is only meaningful right after a call returned a
//! status other than `CAREMATCH_OK`.

use std::cell::RefCell;
use std::ffi::c_char;

use crate::guard::ffi_body;
use crate::raw;
use crate::status::{CAREMATCH_BUFFER_TOO_SMALL, CAREMATCH_OK, CAREMATCH_PANIC, carematch_status};

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Replaces this thread's last-error message.
///
/// NUL bytes would silently truncate the message in C, so they become U+FFFD.
pub(crate) fn set(message: impl Into<String>) {
    let mut message = message.into();
    if message.contains('\0') {
        message = message.replace('\0', "\u{FFFD}");
    }
    // try_with / try_borrow_mut: during thread teardown, or if a panic struck while the message
    // was borrowed, losing the message is better than a second panic.
    let _ = LAST_ERROR.try_with(|cell| {
        if let Ok(mut slot) = cell.try_borrow_mut() {
            *slot = message;
        }
    });
}

/// This thread's last-error message ("" if there is none, or during thread teardown).
pub(crate) fn get() -> String {
    LAST_ERROR
        .try_with(|cell| cell.try_borrow().map(|m| m.clone()).unwrap_or_default())
        .unwrap_or_default()
}

/// Copies the calling thread's last-error message into `buf` as a NUL-terminated UTF-8 string.
///
/// The message describes the most recent failed carematch call on this thread; successful calls
/// do not clear it, so read it only right after a call returned a status other than
/// `CAREMATCH_OK`. If no call has failed on this thread the message is the empty string. The
/// message never contains patient values or keys. This function never changes the message, so it
/// can be called again after `CAREMATCH_BUFFER_TOO_SMALL`.
///
/// - On `CAREMATCH_OK`: `buf` holds the message and its NUL terminator, and `*out_written` is the
///   message length in bytes, not counting the NUL (like `strlen`).
/// - On `CAREMATCH_BUFFER_TOO_SMALL`: `buf` is untouched and `*out_written` is the buffer size
///   needed, counting the NUL. Passing `(NULL, 0)` for `(buf, len)` asks for that size.
/// - On `CAREMATCH_NULL_ARGUMENT` (`out_written` is NULL, or `buf` is NULL with `len > 0`):
///   nothing is written.
///
/// Ownership: the caller owns `buf`; carematch writes at most `len` bytes to it and keeps no
/// pointer to it after returning.
///
/// Thread-safety: safe to call from any thread; each thread sees only its own message.
///
/// # Safety
///
/// `buf` must be NULL or valid for writing `len` bytes; `out_written` must be NULL or a valid,
/// aligned pointer to a `size_t`. Neither may be accessed by another thread during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_last_error_message(
    buf: *mut c_char,
    len: usize,
    out_written: *mut usize,
) -> carematch_status {
    // `catch`, not `guard`: this function's own failures are reported by status only, so that
    // the message the caller is trying to read survives a failed attempt.
    ffi_body!(or CAREMATCH_PANIC, |caller| {
        let out_written = match caller.out_param(out_written) {
            Ok(out) => out,
            Err(status) => return status,
        };
        let buf = match caller.buf(buf, len) {
            Ok(buf) => buf,
            Err(status) => return status,
        };
        match raw::copy_c_str(&get(), buf) {
            Ok(written) => {
                out_written.write(written);
                CAREMATCH_OK
            }
            Err(needed) => {
                out_written.write(needed);
                CAREMATCH_BUFFER_TOO_SMALL
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::CAREMATCH_NULL_ARGUMENT;
    use std::ptr;

    /// Calls the C getter with a buffer of `len` bytes, pre-filled with 0xAA to detect writes.
    fn call(len: usize) -> (carematch_status, Vec<u8>, usize) {
        let mut buf = vec![0xAA_u8; len];
        let mut written = usize::MAX;
        // SAFETY: buf is valid for `len` bytes and `written` is a valid usize.
        let status =
            unsafe { carematch_last_error_message(buf.as_mut_ptr().cast(), len, &mut written) };
        (status, buf, written)
    }

    #[test]
    fn empty_when_nothing_failed() {
        let (status, buf, written) = call(4);
        assert_eq!(status, CAREMATCH_OK);
        assert_eq!(written, 0);
        assert_eq!(buf, [0, 0xAA, 0xAA, 0xAA]);
    }

    #[test]
    fn copies_message_with_nul() {
        set("bad row");
        let (status, buf, written) = call(16);
        assert_eq!(status, CAREMATCH_OK);
        assert_eq!(written, 7);
        assert_eq!(&buf[..8], b"bad row\0");
        assert!(buf[8..].iter().all(|&b| b == 0xAA), "wrote past the NUL");
    }

    #[test]
    fn exact_fit_succeeds_one_short_is_too_small_and_untouched() {
        set("bad row");
        let (status, buf, written) = call(8);
        assert_eq!((status, written), (CAREMATCH_OK, 7));
        assert_eq!(buf, b"bad row\0");

        let (status, buf, needed) = call(7);
        assert_eq!((status, needed), (CAREMATCH_BUFFER_TOO_SMALL, 8));
        assert!(buf.iter().all(|&b| b == 0xAA), "wrote on failure");
        // The failed attempt did not replace the message.
        assert_eq!(get(), "bad row");
    }

    #[test]
    fn null_zero_buffer_asks_for_the_size() {
        set("bad row");
        let mut needed = 0;
        // SAFETY: (NULL, 0) is a valid empty buffer; `needed` is a valid usize.
        let status = unsafe { carematch_last_error_message(ptr::null_mut(), 0, &mut needed) };
        assert_eq!((status, needed), (CAREMATCH_BUFFER_TOO_SMALL, 8));
    }

    #[test]
    fn null_arguments_are_rejected_without_writes() {
        set("bad row");
        let mut buf = [0xAA_u8; 16];
        // SAFETY: NULL out_written is allowed and rejected; buf is valid.
        let status =
            unsafe { carematch_last_error_message(buf.as_mut_ptr().cast(), 16, ptr::null_mut()) };
        assert_eq!(status, CAREMATCH_NULL_ARGUMENT);
        assert!(buf.iter().all(|&b| b == 0xAA));

        let mut written = 1234;
        // SAFETY: NULL buf with len > 0 is rejected before any access.
        let status = unsafe { carematch_last_error_message(ptr::null_mut(), 16, &mut written) };
        assert_eq!((status, written), (CAREMATCH_NULL_ARGUMENT, 1234));
        assert_eq!(get(), "bad row");
    }

    #[test]
    fn nul_in_message_is_replaced() {
        set("a\0b");
        assert_eq!(get(), "a\u{FFFD}b");
    }

    #[test]
    fn messages_are_per_thread() {
        set("main thread");
        std::thread::spawn(|| assert_eq!(get(), "")).join().unwrap();
        assert_eq!(get(), "main thread");
    }
}
