//! The panic guard every exported function runs in, the failure type its bodies return, and
//! [`ffi_body!`], which puts an entry point's body in the guard.
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

/// The body of every entry point: runs it in the panic guard, naming the entry point in the
/// message a panic leaves, and hands it the [`Caller`](crate::raw::Caller) through which it
/// borrows its pointer arguments.
///
/// ```text
/// /// Docs for C, with the `# Safety` of each pointer argument.
/// #[unsafe(no_mangle)]
/// pub unsafe extern "C" fn carematch_thing_len(
///     thing: *const carematch_thing,
///     out_len: *mut usize,
/// ) -> carematch_status {
///     ffi_body!(|caller| {
///         let thing = caller.handle(thing)?;
///         caller.out_param(out_len)?.write(thing.len());
///         Ok(())
///     })
/// }
/// ```
///
/// - `ffi_body!(|caller| body)`: a fallible body (`Result<(), Failure>`), run by [`guard`]; the
///   function returns its status.
/// - `ffi_body!(or on_panic, |caller| body)`: a body that returns the function's value itself, run
///   by [`catch`] (`on_panic` if it panics): the `_free` functions and
///   `carematch_last_error_message`.
/// - `ffi_body!(or on_panic, || body)`: the same without a `Caller`, for the safe functions
///   that take no pointer (`carematch_version`, `carematch_status_name`).
///
/// The forms with `|caller|` compile only inside an `unsafe fn`: the `Caller` stands for that
/// function's own `# Safety` contract, and nothing else vouches for it.
///
/// Only the body goes in the macro, not the `fn` item: cbindgen reads the source without
/// expanding macros and would silently leave a function defined inside a macro invocation out
/// of the header. The entry point's name comes from the type name of an item declared in its
/// body, so no function spells its own name as a string.
macro_rules! ffi_body {
    (|$c:ident| $body:expr) => {{
        fn here() {}
        let call = ();
        // Not in an `unsafe` block, on purpose: outside an `unsafe fn` this is an error, so a
        // `Caller` exists only in an entry point whose contract it stands for.
        #[allow(unsafe_op_in_unsafe_fn)]
        let $c = $crate::raw::Caller::promised(&call);
        $crate::guard::guard(::std::any::type_name_of_val(&here), || $body)
    }};
    (or $on_panic:expr, |$c:ident| $body:expr) => {{
        fn here() {}
        let call = ();
        // As above: compiles only in an `unsafe fn`.
        #[allow(unsafe_op_in_unsafe_fn)]
        let $c = $crate::raw::Caller::promised(&call);
        $crate::guard::catch(::std::any::type_name_of_val(&here), $on_panic, || $body)
    }};
    (or $on_panic:expr, || $body:expr) => {{
        fn here() {}
        $crate::guard::catch(::std::any::type_name_of_val(&here), $on_panic, || $body)
    }};
}
pub(crate) use ffi_body;

/// The entry point named by `function`: the type name of the item `here` that [`ffi_body!`]
/// declares in its body (`carematch_ffi::batch::carematch_batch_len::here`), or a plain name.
fn entry_point(function: &str) -> &str {
    let path = function.strip_suffix("::here").unwrap_or(function);
    // `{{closure}}` segments, should the macro ever be used inside a closure.
    path.rsplit("::")
        .find(|segment| !segment.starts_with('{'))
        .unwrap_or(path)
}

/// Runs `body`; if it panics, records a last-error message naming `function` (a name, or the
/// type name of [`ffi_body!`]'s marker item) and returns `on_panic` instead.
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
            let function = entry_point(function);
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

    /// An entry point written as the crate writes them, whose body panics after borrowing an
    /// argument.
    unsafe extern "C" fn carematch_test_entry(out: *mut usize) -> carematch_status {
        ffi_body!(|caller| {
            let _out = caller.out_param(out)?;
            panic!("secret patient value")
        })
    }

    /// The same for a function returning a value, without a `Caller`.
    extern "C" fn carematch_test_value() -> u32 {
        ffi_body!(or 7, || panic!("boom"))
    }

    #[test]
    fn ffi_body_names_its_entry_point_in_the_panic_message() {
        let mut out = 0_usize;
        // SAFETY: `out` is a live, aligned usize.
        let status = unsafe { carematch_test_entry(&mut out) };
        assert_eq!(status, CAREMATCH_PANIC);
        assert_eq!(
            last_error::get(),
            "internal error in carematch_test_entry: carematch panicked (a bug; please report it)"
        );
        assert_eq!(carematch_test_value(), 7);
        assert!(last_error::get().contains(" carematch_test_value: "));
    }

    #[test]
    fn entry_point_names_come_from_marker_paths_or_plain_names() {
        let marker = "carematch_ffi::batch::carematch_batch_len::here";
        assert_eq!(entry_point(marker), "carematch_batch_len");
        let in_closure = "carematch_ffi::batch::carematch_batch_len::{{closure}}::here";
        assert_eq!(entry_point(in_closure), "carematch_batch_len");
        assert_eq!(entry_point("carematch_test_fn"), "carematch_test_fn");
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
