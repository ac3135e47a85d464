//! The panic guard every exported function runs in, and the failure type its bodies return.
//!
//! A panic must never unwind into C (that would abort the host at the `extern "C"` boundary) and
//! carematch must never decide for the host that the process dies, so every exported body runs
//! inside [`catch`] or [`guard`]. No panic hook is installed: what the default hook prints, or
//! whether the host replaced it, is the host's business.

use std::any::Any;
use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::last_error;
use crate::status::{CAREMATCH_OK, CAREMATCH_PANIC, carematch_status};

/// Why a call failed: the status returned to C and the message kept for
/// `carematch_last_error_message`.
///
/// The message must not contain patient values or keys (STYLE.md): it ends up in logs.
#[derive(Debug)]
pub(crate) struct Failure {
    status: carematch_status,
    message: Cow<'static, str>,
}

impl Failure {
    /// A failure with `status` (never `CAREMATCH_OK`) and a specific message.
    pub(crate) fn new(status: carematch_status, message: impl Into<Cow<'static, str>>) -> Failure {
        debug_assert_ne!(
            status, CAREMATCH_OK,
            "a Failure must not carry CAREMATCH_OK"
        );
        Failure {
            status,
            message: message.into(),
        }
    }
}

impl From<carematch_status> for Failure {
    /// A failure with the generic message for `status`, for `?` on the `raw` helpers.
    fn from(status: carematch_status) -> Failure {
        debug_assert_ne!(
            status, CAREMATCH_OK,
            "a Failure must not carry CAREMATCH_OK"
        );
        Failure {
            status,
            message: Cow::Borrowed(status.description()),
        }
    }
}

impl From<carematch::Error> for Failure {
    /// The core error's kind picks the status; its message (which never echoes patient values)
    /// becomes the last error.
    fn from(err: carematch::Error) -> Failure {
        Failure {
            status: err.kind().into(),
            message: Cow::Owned(err.message().to_owned()),
        }
    }
}

/// Runs `body`; if it panics, records a last-error message naming `function` and returns
/// `on_panic` instead.
///
/// For functions that return something other than a status (a static string) or that must not
/// touch the last error on ordinary failure (`carematch_last_error_message`).
pub(crate) fn catch<T>(function: &'static str, on_panic: T, body: impl FnOnce() -> T) -> T {
    // AssertUnwindSafe: after a panic the caller gets CAREMATCH_PANIC, whose documentation tells
    // them that handles passed to the call may be in an unspecified (but memory-safe) state.
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(payload) => {
            drop_payload(payload);
            // The panic's own message is left out on purpose: a panic message can be built from
            // data (`expect(&format!(..))`), and data here is patient records.
            last_error::set(format!(
                "internal error in {function}: carematch panicked (a bug; please report it)"
            ));
            on_panic
        }
    }
}

/// Runs a fallible body: `Ok` becomes `CAREMATCH_OK`; a [`Failure`] becomes its status, with its
/// message recorded as the thread's last error; a panic becomes `CAREMATCH_PANIC`.
pub(crate) fn guard(
    function: &'static str,
    body: impl FnOnce() -> Result<(), Failure>,
) -> carematch_status {
    catch(function, CAREMATCH_PANIC, || match body() {
        Ok(()) => CAREMATCH_OK,
        Err(failure) => {
            last_error::set(failure.message);
            failure.status
        }
    })
}

/// Drops a panic payload without letting a panic in its `Drop` escape (which would unwind out of
/// the guard and abort the host at the `extern "C"` boundary).
fn drop_payload(payload: Box<dyn Any + Send>) {
    if let Err(second) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        // Dropping this one could panic again; leaking it is the only safe choice.
        std::mem::forget(second);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{CAREMATCH_INVALID_ARGUMENT, CAREMATCH_NULL_ARGUMENT};

    #[test]
    fn ok_body_returns_ok_and_leaves_last_error_alone() {
        last_error::set("earlier failure");
        assert_eq!(guard("test_fn", || Ok(())), CAREMATCH_OK);
        assert_eq!(last_error::get(), "earlier failure");
    }

    #[test]
    fn failure_returns_its_status_and_sets_last_error() {
        let status = guard("test_fn", || {
            Err(Failure::new(
                CAREMATCH_INVALID_ARGUMENT,
                "threshold must be in 0..=1",
            ))
        });
        assert_eq!(status, CAREMATCH_INVALID_ARGUMENT);
        assert_eq!(last_error::get(), "threshold must be in 0..=1");
    }

    #[test]
    fn status_converts_to_failure_with_generic_message() {
        let status = guard("test_fn", || Err(CAREMATCH_NULL_ARGUMENT.into()));
        assert_eq!(status, CAREMATCH_NULL_ARGUMENT);
        assert_eq!(last_error::get(), CAREMATCH_NULL_ARGUMENT.description());
    }

    #[test]
    fn panic_becomes_status_and_names_the_function_not_the_payload() {
        let status = guard("carematch_test_fn", || panic!("secret patient value"));
        assert_eq!(status, CAREMATCH_PANIC);
        let message = last_error::get();
        assert!(message.contains("carematch_test_fn"), "{message}");
        assert!(!message.contains("secret"), "{message}");
    }

    #[test]
    fn catch_returns_fallback_on_panic() {
        let value = catch("carematch_test_fn", 7_u32, || panic!("boom"));
        assert_eq!(value, 7);
    }

    #[test]
    fn payload_whose_drop_panics_does_not_escape() {
        struct PanicsOnDrop;
        impl Drop for PanicsOnDrop {
            fn drop(&mut self) {
                panic!("drop");
            }
        }
        let status = guard("carematch_test_fn", || {
            std::panic::panic_any(PanicsOnDrop);
        });
        assert_eq!(status, CAREMATCH_PANIC);
    }
}
