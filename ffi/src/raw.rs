//! Conversions from C pointers to Rust references: all the pointer `unsafe` of the crate.
//!
//! Each function checks what can be checked (NULL, alignment, length limits) and returns a
//! status instead of touching memory when a check fails; what cannot be checked (that a non-NULL
//! pointer really points to enough live memory) is the caller's contract, stated under
//! `# Safety` and repeated in the header for C callers.
//!
//! `slice::from_raw_parts` is never called with a NULL pointer: `(NULL, 0)` becomes a fresh empty
//! slice, because `from_raw_parts(NULL, 0)` is undefined behaviour even though it "works".

use std::ffi::c_char;
use std::mem::MaybeUninit;

use crate::status::{
    CAREMATCH_INVALID_ARGUMENT, CAREMATCH_INVALID_UTF8, CAREMATCH_NULL_ARGUMENT, carematch_status,
};

/// Borrows C text given as pointer + length (UTF-8, not NUL-terminated) as a `&str`.
///
/// A length of 0 is the empty string whatever the pointer, so `(NULL, 0)` is `""`.
///
/// # Errors
///
/// `CAREMATCH_NULL_ARGUMENT` for a NULL pointer with a non-zero length,
/// `CAREMATCH_INVALID_ARGUMENT` for a length over `isize::MAX`,
/// `CAREMATCH_INVALID_UTF8` for bytes that are not UTF-8.
///
/// # Safety
///
/// If `ptr` is not NULL and `len > 0`, `ptr` must point to `len` initialised bytes that stay
/// valid and unmodified for `'a`.
pub(crate) unsafe fn str_from_raw<'a>(
    ptr: *const c_char,
    len: usize,
) -> Result<&'a str, carematch_status> {
    if len == 0 {
        return Ok("");
    }
    if ptr.is_null() {
        return Err(CAREMATCH_NULL_ARGUMENT);
    }
    if len > isize::MAX as usize {
        return Err(CAREMATCH_INVALID_ARGUMENT);
    }
    // SAFETY: `ptr` is not NULL, `len` is at most isize::MAX, bytes have alignment 1, and the
    // caller guarantees `len` initialised bytes that outlive 'a and are not mutated meanwhile.
    let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) };
    std::str::from_utf8(bytes).map_err(|_| CAREMATCH_INVALID_UTF8)
}

/// Borrows `len` bytes from C.
///
/// # Errors
///
/// As [`str_from_raw`], less the UTF-8 check.
///
/// # Safety
///
/// If `ptr` is not NULL and `len > 0`, it must point to `len` initialised bytes valid for `'a`.
pub(crate) unsafe fn bytes_from_raw<'a>(
    ptr: *const u8,
    len: usize,
) -> Result<&'a [u8], carematch_status> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(CAREMATCH_NULL_ARGUMENT);
    }
    if len > isize::MAX as usize {
        return Err(CAREMATCH_INVALID_ARGUMENT);
    }
    // SAFETY: non-NULL, alignment 1, size in range; the caller guarantees `len` live bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Borrows a caller's output buffer of `len` bytes, which may be uninitialised.
///
/// A length of 0 gives an empty slice whatever the pointer, so `(NULL, 0)` is allowed.
///
/// # Errors
///
/// `CAREMATCH_NULL_ARGUMENT` for a NULL pointer with a non-zero length,
/// `CAREMATCH_INVALID_ARGUMENT` for a length over `isize::MAX`.
///
/// # Safety
///
/// If `ptr` is not NULL and `len > 0`, `ptr` must be valid for writing `len` bytes for `'a`, and
/// nothing else may access them meanwhile.
pub(crate) unsafe fn buf_from_raw<'a>(
    ptr: *mut c_char,
    len: usize,
) -> Result<&'a mut [MaybeUninit<u8>], carematch_status> {
    if len == 0 {
        return Ok(&mut []);
    }
    if ptr.is_null() {
        return Err(CAREMATCH_NULL_ARGUMENT);
    }
    if len > isize::MAX as usize {
        return Err(CAREMATCH_INVALID_ARGUMENT);
    }
    // SAFETY: `ptr` is not NULL, `len` is at most isize::MAX, MaybeUninit<u8> has alignment 1 and
    // accepts uninitialised memory, and the caller guarantees exclusive write access for 'a.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr.cast::<MaybeUninit<u8>>(), len) })
}

/// Borrows a caller's array of `n` `T`s for writing, which may be uninitialised.
///
/// # Errors
///
/// `CAREMATCH_NULL_ARGUMENT` for NULL with `n > 0`, `CAREMATCH_INVALID_ARGUMENT` for a
/// misaligned pointer or a size past `isize::MAX`.
///
/// # Safety
///
/// If `ptr` is not NULL and `n > 0`, it must be valid for writing `n` `T`s for `'a`, and
/// nothing else may access them meanwhile.
pub(crate) unsafe fn slice_out<'a, T>(
    ptr: *mut T,
    n: usize,
) -> Result<&'a mut [MaybeUninit<T>], carematch_status> {
    if n == 0 {
        return Ok(&mut []);
    }
    if ptr.is_null() {
        return Err(CAREMATCH_NULL_ARGUMENT);
    }
    if !ptr.is_aligned() || n > isize::MAX as usize / std::mem::size_of::<T>().max(1) {
        return Err(CAREMATCH_INVALID_ARGUMENT);
    }
    // SAFETY: non-NULL, aligned, size in range; the caller guarantees exclusive write access.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr.cast::<MaybeUninit<T>>(), n) })
}

/// Borrows an out-parameter so it can be written once the call has succeeded.
///
/// Returns `MaybeUninit` because the caller's `T` need not be initialised; write it with
/// `MaybeUninit::write`, only on the success path.
///
/// # Errors
///
/// `CAREMATCH_NULL_ARGUMENT` for NULL, `CAREMATCH_INVALID_ARGUMENT` for a misaligned pointer.
///
/// # Safety
///
/// If `ptr` is not NULL it must be valid for writing a `T` for `'a`, and nothing else may access
/// it meanwhile.
pub(crate) unsafe fn out_param<'a, T>(
    ptr: *mut T,
) -> Result<&'a mut MaybeUninit<T>, carematch_status> {
    if ptr.is_null() {
        return Err(CAREMATCH_NULL_ARGUMENT);
    }
    if !ptr.is_aligned() {
        return Err(CAREMATCH_INVALID_ARGUMENT);
    }
    // SAFETY: `ptr` is non-NULL and aligned; the caller guarantees it is valid for writes and
    // exclusively ours for 'a. MaybeUninit<T> has T's layout and accepts uninitialised memory.
    Ok(unsafe { &mut *ptr.cast::<MaybeUninit<T>>() })
}

/// Copies `text` and a NUL terminator into `buf`.
///
/// Returns `Ok(text.len())` (bytes written, not counting the NUL), or `Err(needed)` with the
/// buffer size needed (counting the NUL) when `buf` is too small, in which case `buf` is left
/// untouched.
pub(crate) fn copy_c_str(text: &str, buf: &mut [MaybeUninit<u8>]) -> Result<usize, usize> {
    let bytes = text.as_bytes();
    let needed = bytes.len() + 1;
    if buf.len() < needed {
        return Err(needed);
    }
    for (slot, &byte) in buf.iter_mut().zip(bytes) {
        slot.write(byte);
    }
    buf[bytes.len()].write(0);
    Ok(bytes.len())
}

/// Text as a pointer and a length in bytes (UTF-8, not NUL-terminated); `{NULL, 0}` is the
/// empty string.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct carematch_str {
    /// The first byte, or NULL when `len` is 0.
    pub ptr: *const c_char,
    /// The length in bytes.
    pub len: usize,
}

/// Borrows an array of `n` [`carematch_str`] as text.
///
/// # Errors
///
/// `(status, index)` of the first element that is not valid text (see [`str_from_raw`]), or
/// `(CAREMATCH_NULL_ARGUMENT, 0)` for a NULL array with `n > 0`.
///
/// # Safety
///
/// If `ptr` is not NULL and `n > 0`, it must point to `n` valid `carematch_str`, each meeting
/// [`str_from_raw`]'s contract, all valid for `'a`.
pub(crate) unsafe fn strs_from_raw<'a>(
    ptr: *const carematch_str,
    n: usize,
) -> Result<Vec<&'a str>, (carematch_status, usize)> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if ptr.is_null() {
        return Err((CAREMATCH_NULL_ARGUMENT, 0));
    }
    if n > isize::MAX as usize / std::mem::size_of::<carematch_str>() {
        return Err((CAREMATCH_INVALID_ARGUMENT, 0));
    }
    if !ptr.is_aligned() {
        return Err((CAREMATCH_INVALID_ARGUMENT, 0));
    }
    // SAFETY: non-NULL, aligned, size in range; the caller guarantees n live elements.
    let items = unsafe { std::slice::from_raw_parts(ptr, n) };
    items
        .iter()
        .enumerate()
        // SAFETY: each element meets str_from_raw's contract, by the caller's guarantee.
        .map(|(i, s)| unsafe { str_from_raw(s.ptr, s.len) }.map_err(|e| (e, i)))
        .collect()
}

/// A `uint32_t` flag argument: 0 or 1.
///
/// # Errors
///
/// `CAREMATCH_INVALID_ARGUMENT` naming the argument for any other number.
pub(crate) fn flag(value: u32, name: &str) -> Result<bool, crate::guard::Failure> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(crate::guard::Failure::new(
            CAREMATCH_INVALID_ARGUMENT,
            format!("{name} is 0 or 1"),
        )),
    }
}

/// Borrows the object behind a handle.
///
/// # Errors
///
/// `CAREMATCH_NULL_ARGUMENT` for NULL.
///
/// # Safety
///
/// A non-NULL `ptr` must come from [`new_handle`] for this `T` and not have been freed.
pub(crate) unsafe fn handle<'a, T>(ptr: *const T) -> Result<&'a T, carematch_status> {
    if ptr.is_null() {
        return Err(CAREMATCH_NULL_ARGUMENT);
    }
    // SAFETY: the caller guarantees a live handle made by new_handle (a Box<T>).
    Ok(unsafe { &*ptr })
}

/// Borrows the object behind a handle mutably.
///
/// # Errors
///
/// `CAREMATCH_NULL_ARGUMENT` for NULL.
///
/// # Safety
///
/// As [`handle`], and no other thread may use the handle during the call.
pub(crate) unsafe fn handle_mut<'a, T>(ptr: *mut T) -> Result<&'a mut T, carematch_status> {
    if ptr.is_null() {
        return Err(CAREMATCH_NULL_ARGUMENT);
    }
    // SAFETY: the caller guarantees a live handle, used by this call alone.
    Ok(unsafe { &mut *ptr })
}

/// A new handle owning `value`, for C to free with the type's `_free`.
pub(crate) fn new_handle<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Frees a handle made by [`new_handle`]; NULL is a no-op.
///
/// # Safety
///
/// A non-NULL `ptr` must come from [`new_handle`] for this `T` and not have been freed; it is
/// invalid afterwards.
pub(crate) unsafe fn free_handle<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: the caller guarantees a live handle made by Box::into_raw.
        drop(unsafe { Box::from_raw(ptr) });
    }
}

/// Writes `text` with a NUL into the caller's `(buf, len)` and its length to `out_written`,
/// or, when it does not fit, the size needed (counting the NUL) and `CAREMATCH_BUFFER_TOO_SMALL`.
///
/// # Errors
///
/// `CAREMATCH_NULL_ARGUMENT` for a NULL `out_written` (or NULL `buf` with `len > 0`);
/// `CAREMATCH_BUFFER_TOO_SMALL` as above.
///
/// # Safety
///
/// As [`buf_from_raw`] for `(buf, len)` and [`out_param`] for `out_written`.
pub(crate) unsafe fn text_out(
    text: &str,
    buf: *mut c_char,
    len: usize,
    out_written: *mut usize,
) -> Result<(), crate::guard::Failure> {
    // SAFETY: the caller's contract.
    let out = unsafe { out_param(out_written) }?;
    // SAFETY: the caller's contract.
    let buf = unsafe { buf_from_raw(buf, len) }?;
    match copy_c_str(text, buf) {
        Ok(n) => {
            out.write(n);
            Ok(())
        }
        Err(needed) => {
            out.write(needed);
            Err(crate::status::CAREMATCH_BUFFER_TOO_SMALL.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr;

    #[test]
    fn null_zero_is_empty_text() {
        // SAFETY: len is 0, so the pointer is never read.
        assert_eq!(unsafe { str_from_raw(ptr::null(), 0) }, Ok(""));
    }

    #[test]
    fn dangling_pointer_with_zero_length_is_empty_text_and_not_read() {
        let dangling = ptr::dangling::<c_char>();
        // SAFETY: len is 0, so the pointer is never read.
        assert_eq!(unsafe { str_from_raw(dangling, 0) }, Ok(""));
    }

    #[test]
    fn null_with_length_is_null_argument() {
        // SAFETY: the NULL check comes before any read.
        let got = unsafe { str_from_raw(ptr::null(), 3) };
        assert_eq!(got, Err(CAREMATCH_NULL_ARGUMENT));
    }

    #[test]
    fn reads_exactly_len_bytes_without_nul() {
        let text = "Smith-Jones, Zoë";
        // SAFETY: the pointer and length come from a live &str; only the first 11 bytes are read.
        let got = unsafe { str_from_raw(text.as_ptr().cast(), 11) };
        assert_eq!(got, Ok("Smith-Jones"));
        // SAFETY: as above, the whole string.
        let got = unsafe { str_from_raw(text.as_ptr().cast(), text.len()) };
        assert_eq!(got, Ok(text));
    }

    #[test]
    fn invalid_utf8_is_rejected() {
        let bytes = [b'a', 0xFF, b'b'];
        // SAFETY: the pointer and length come from a live array.
        let got = unsafe { str_from_raw(bytes.as_ptr().cast(), bytes.len()) };
        assert_eq!(got, Err(CAREMATCH_INVALID_UTF8));
        // A multi-byte character cut in half is invalid too.
        let text = "é";
        // SAFETY: one byte of a live &str.
        let got = unsafe { str_from_raw(text.as_ptr().cast(), 1) };
        assert_eq!(got, Err(CAREMATCH_INVALID_UTF8));
    }

    #[test]
    fn huge_length_is_rejected_before_any_read() {
        let byte = 0_u8;
        // SAFETY: the length check comes before any read.
        let got = unsafe { str_from_raw((&raw const byte).cast(), usize::MAX) };
        assert_eq!(got, Err(CAREMATCH_INVALID_ARGUMENT));
    }

    #[test]
    fn buffers_follow_the_same_null_rules() {
        // SAFETY: len is 0, so the pointer is never used.
        let empty = unsafe { buf_from_raw(ptr::null_mut(), 0) };
        assert_eq!(empty.map(|b| b.len()), Ok(0));
        // SAFETY: the NULL check comes before any access.
        let null = unsafe { buf_from_raw(ptr::null_mut(), 4) };
        assert_eq!(null.map(|b| b.len()), Err(CAREMATCH_NULL_ARGUMENT));
    }

    #[test]
    fn out_param_rejects_null_and_misaligned() {
        // SAFETY: the NULL check comes before any access.
        let got = unsafe { out_param::<usize>(ptr::null_mut()) };
        assert_eq!(got.err(), Some(CAREMATCH_NULL_ARGUMENT));

        let mut words = [0_usize; 2];
        let misaligned = words
            .as_mut_ptr()
            .cast::<u8>()
            .wrapping_add(1)
            .cast::<usize>();
        // SAFETY: the alignment check comes before any access.
        let got = unsafe { out_param(misaligned) };
        assert_eq!(got.err(), Some(CAREMATCH_INVALID_ARGUMENT));

        // SAFETY: points to a live, aligned usize.
        let out = unsafe { out_param(words.as_mut_ptr()) }.unwrap();
        out.write(42);
        assert_eq!(words[0], 42);
    }

    #[test]
    fn copy_c_str_fits_exactly_or_reports_needed_size() {
        let mut buf = [MaybeUninit::new(0xAA_u8); 4];
        assert_eq!(copy_c_str("abc", &mut buf), Ok(3));
        // SAFETY: all four bytes were initialised above.
        let bytes = buf.map(|b| unsafe { b.assume_init() });
        assert_eq!(&bytes, b"abc\0");

        let mut small = [MaybeUninit::new(0xAA_u8); 3];
        assert_eq!(copy_c_str("abc", &mut small), Err(4));
        // SAFETY: initialised above, and copy_c_str must not have written on failure.
        assert!(small.iter().all(|b| unsafe { b.assume_init() } == 0xAA));

        assert_eq!(copy_c_str("", &mut []), Err(1));
    }
}
