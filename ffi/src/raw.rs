//! Conversions from C pointers to Rust references: all the pointer `unsafe` of the crate.
//!
//! Entry points borrow their pointer arguments through a [`Caller`], the promise their C caller
//! made, whose methods are the crate's only conversions from C pointers. Each checks what can be
//! checked (NULL, alignment, length limits) and returns a status instead of touching memory when
//! a check fails; what cannot be checked (that a non-NULL pointer really points to enough live
//! memory) is what the C caller promised, stated for each entry point under `# Safety` in the
//! header. Each method states that reasoning once, in its one `SAFETY` comment.
//!
//! `slice::from_raw_parts` is never called with a NULL pointer: `(NULL, 0)` becomes a fresh empty
//! slice, because `from_raw_parts(NULL, 0)` is undefined behaviour even though it "works".

use std::ffi::c_char;
use std::marker::PhantomData;
use std::mem::MaybeUninit;

use crate::guard::Failure;
use crate::status::{
    CAREMATCH_BUFFER_TOO_SMALL, CAREMATCH_INVALID_ARGUMENT, CAREMATCH_INVALID_UTF8,
    CAREMATCH_NULL_ARGUMENT, carematch_status,
};

/// The promise the C caller of an entry point made: each pointer argument meets the contract
/// the header states for it (the function's `# Safety`), for the length of the call.
///
/// This is the crate's one safety contract for entry points, and the reason their bodies need
/// no `unsafe` of their own: a `Caller` is made only by [`ffi_body!`](crate::guard::ffi_body)
/// at the top of an `unsafe extern "C"` function, and its methods are safe because the promise
/// was made. What each method relies on is stated with it ("Promised: ..."). Rules for a body,
/// which is all the code that holds a `Caller`:
///
/// - pass its methods only the entry point's own arguments, each as its contract describes it
///   (a handle to [`handle`](Caller::handle), a `(buf, len)` pair to [`buf`](Caller::buf), ...);
/// - borrow an argument mutably at most once ([`handle_mut`](Caller::handle_mut),
///   [`out_param`](Caller::out_param), [`buf`](Caller::buf), [`slice_out`](Caller::slice_out),
///   [`text_out`](Caller::text_out)) and free a handle only in its `_free` function.
///
/// What it borrows lives for `'c`, a local of the entry point's body: nothing borrowed from C
/// outlives the call.
#[derive(Clone, Copy)]
pub(crate) struct Caller<'c>(PhantomData<&'c ()>);

impl<'c> Caller<'c> {
    /// The promise of the entry point whose body calls this.
    ///
    /// # Safety
    ///
    /// Only in the body of an entry point (an `unsafe extern "C" fn` documenting the contract
    /// of each pointer argument), with `call` a local of that body, and only used as the type's
    /// documentation says. [`ffi_body!`](crate::guard::ffi_body) is the one caller.
    pub(crate) unsafe fn promised(_call: &'c ()) -> Caller<'c> {
        Caller(PhantomData)
    }

    /// Borrows C text given as pointer + length (UTF-8, not NUL-terminated) as a `&str`.
    ///
    /// A length of 0 is the empty string whatever the pointer, so `(NULL, 0)` is `""`.
    ///
    /// Promised: if `ptr` is not NULL and `len > 0`, `ptr` points to `len` initialised bytes
    /// that stay valid and unmodified for the call.
    ///
    /// # Errors
    ///
    /// `CAREMATCH_NULL_ARGUMENT` for a NULL pointer with a non-zero length,
    /// `CAREMATCH_INVALID_ARGUMENT` for a length over `isize::MAX`,
    /// `CAREMATCH_INVALID_UTF8` for bytes that are not UTF-8.
    pub(crate) fn str(self, ptr: *const c_char, len: usize) -> Result<&'c str, carematch_status> {
        if len == 0 {
            return Ok("");
        }
        if ptr.is_null() {
            return Err(CAREMATCH_NULL_ARGUMENT);
        }
        if len > isize::MAX as usize {
            return Err(CAREMATCH_INVALID_ARGUMENT);
        }
        // SAFETY: `ptr` is not NULL, `len` is at most isize::MAX, bytes have alignment 1, and
        // the C caller promised `len` initialised bytes that outlive 'c and are not mutated
        // meanwhile.
        let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) };
        std::str::from_utf8(bytes).map_err(|_| CAREMATCH_INVALID_UTF8)
    }

    /// Takes the Arrow C stream (`struct ArrowArrayStream`) at `ptr`: moves it out and leaves
    /// a released stream behind, as the Arrow C stream interface's move semantics say.
    ///
    /// Promised: if `ptr` is not NULL, it points to a `struct ArrowArrayStream` (released or
    /// not) that the caller hands over and no one else uses during the call.
    ///
    /// # Errors
    ///
    /// `CAREMATCH_NULL_ARGUMENT` for NULL, `CAREMATCH_INVALID_ARGUMENT` for a pointer not
    /// aligned for the struct.
    pub(crate) fn arrow_stream(
        self,
        ptr: *mut std::ffi::c_void,
    ) -> Result<arrow_array::ffi_stream::FFI_ArrowArrayStream, carematch_status> {
        use arrow_array::ffi_stream::FFI_ArrowArrayStream;
        if ptr.is_null() {
            return Err(CAREMATCH_NULL_ARGUMENT);
        }
        if ptr.align_offset(std::mem::align_of::<FFI_ArrowArrayStream>()) != 0 {
            return Err(CAREMATCH_INVALID_ARGUMENT);
        }
        // SAFETY: non-NULL and aligned; the C caller promised an initialised
        // `struct ArrowArrayStream` (the layout `FFI_ArrowArrayStream` is declared with) that it
        // hands over: `from_raw` moves it out and writes a released stream in its place.
        Ok(unsafe { FFI_ArrowArrayStream::from_raw(ptr.cast()) })
    }

    /// Borrows an out-parameter for an Arrow C stream (`struct ArrowArrayStream`, passed as
    /// `void *`), as [`out_param`](Caller::out_param) does for a typed one.
    ///
    /// # Errors
    ///
    /// As [`out_param`](Caller::out_param).
    pub(crate) fn arrow_stream_out(
        self,
        ptr: *mut std::ffi::c_void,
    ) -> Result<&'c mut MaybeUninit<arrow_array::ffi_stream::FFI_ArrowArrayStream>, carematch_status>
    {
        self.out_param(ptr.cast())
    }

    /// Borrows `len` bytes from C.
    ///
    /// Promised: if `ptr` is not NULL and `len > 0`, it points to `len` initialised bytes valid
    /// for the call.
    ///
    /// # Errors
    ///
    /// As [`str`](Caller::str), less the UTF-8 check.
    pub(crate) fn bytes(self, ptr: *const u8, len: usize) -> Result<&'c [u8], carematch_status> {
        if len == 0 {
            return Ok(&[]);
        }
        if ptr.is_null() {
            return Err(CAREMATCH_NULL_ARGUMENT);
        }
        if len > isize::MAX as usize {
            return Err(CAREMATCH_INVALID_ARGUMENT);
        }
        // SAFETY: non-NULL, alignment 1, size in range; the C caller promised `len` live bytes.
        Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
    }

    /// Borrows an array of `n` [`carematch_str`] as text.
    ///
    /// Promised: if `ptr` is not NULL and `n > 0`, it points to `n` valid `carematch_str`, each
    /// as [`str`](Caller::str) needs, all valid for the call.
    ///
    /// # Errors
    ///
    /// `(status, index)` of the first element that is not valid text (see
    /// [`str`](Caller::str)), or `(CAREMATCH_NULL_ARGUMENT, 0)` for a NULL array with `n > 0`.
    pub(crate) fn strs(
        self,
        ptr: *const carematch_str,
        n: usize,
    ) -> Result<Vec<&'c str>, (carematch_status, usize)> {
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
        // SAFETY: non-NULL, aligned, size in range; the C caller promised n live elements.
        let items = unsafe { std::slice::from_raw_parts(ptr, n) };
        items
            .iter()
            .enumerate()
            .map(|(i, s)| self.str(s.ptr, s.len).map_err(|e| (e, i)))
            .collect()
    }

    /// Borrows a caller's output buffer of `len` bytes, which may be uninitialised.
    ///
    /// A length of 0 gives an empty slice whatever the pointer, so `(NULL, 0)` is allowed.
    ///
    /// Promised: if `ptr` is not NULL and `len > 0`, `ptr` is valid for writing `len` bytes for
    /// the call, and nothing else accesses them meanwhile.
    ///
    /// # Errors
    ///
    /// `CAREMATCH_NULL_ARGUMENT` for a NULL pointer with a non-zero length,
    /// `CAREMATCH_INVALID_ARGUMENT` for a length over `isize::MAX`.
    pub(crate) fn buf(
        self,
        ptr: *mut c_char,
        len: usize,
    ) -> Result<&'c mut [MaybeUninit<u8>], carematch_status> {
        if len == 0 {
            return Ok(&mut []);
        }
        if ptr.is_null() {
            return Err(CAREMATCH_NULL_ARGUMENT);
        }
        if len > isize::MAX as usize {
            return Err(CAREMATCH_INVALID_ARGUMENT);
        }
        // SAFETY: `ptr` is not NULL, `len` is at most isize::MAX, MaybeUninit<u8> has alignment 1
        // and accepts uninitialised memory, and the C caller promised exclusive write access for
        // the call (borrowed once: see `Caller`).
        Ok(unsafe { std::slice::from_raw_parts_mut(ptr.cast::<MaybeUninit<u8>>(), len) })
    }

    /// Borrows the first `n` elements of a caller's array of `T`s for writing, which may be
    /// uninitialised.
    ///
    /// Promised: if `ptr` is not NULL and `n > 0`, it is valid for writing at least `n` `T`s for
    /// the call, and nothing else accesses them meanwhile.
    ///
    /// # Errors
    ///
    /// `CAREMATCH_NULL_ARGUMENT` for NULL with `n > 0`, `CAREMATCH_INVALID_ARGUMENT` for a
    /// misaligned pointer or a size past `isize::MAX`.
    pub(crate) fn slice_out<T>(
        self,
        ptr: *mut T,
        n: usize,
    ) -> Result<&'c mut [MaybeUninit<T>], carematch_status> {
        if n == 0 {
            return Ok(&mut []);
        }
        if ptr.is_null() {
            return Err(CAREMATCH_NULL_ARGUMENT);
        }
        if !ptr.is_aligned() || n > isize::MAX as usize / std::mem::size_of::<T>().max(1) {
            return Err(CAREMATCH_INVALID_ARGUMENT);
        }
        // SAFETY: non-NULL, aligned, size in range; the C caller promised exclusive write access
        // (borrowed once: see `Caller`).
        Ok(unsafe { std::slice::from_raw_parts_mut(ptr.cast::<MaybeUninit<T>>(), n) })
    }

    /// Borrows an out-parameter so it can be written once the call has succeeded.
    ///
    /// Returns `MaybeUninit` because the caller's `T` need not be initialised; write it with
    /// `MaybeUninit::write`, only on the success path.
    ///
    /// Promised: if `ptr` is not NULL it is valid for writing a `T` for the call, and nothing
    /// else accesses it meanwhile.
    ///
    /// # Errors
    ///
    /// `CAREMATCH_NULL_ARGUMENT` for NULL, `CAREMATCH_INVALID_ARGUMENT` for a misaligned pointer.
    pub(crate) fn out_param<T>(
        self,
        ptr: *mut T,
    ) -> Result<&'c mut MaybeUninit<T>, carematch_status> {
        if ptr.is_null() {
            return Err(CAREMATCH_NULL_ARGUMENT);
        }
        if !ptr.is_aligned() {
            return Err(CAREMATCH_INVALID_ARGUMENT);
        }
        // SAFETY: `ptr` is non-NULL and aligned; the C caller promised it is valid for writes and
        // exclusively ours for the call (borrowed once: see `Caller`). MaybeUninit<T> has T's
        // layout and accepts uninitialised memory.
        Ok(unsafe { &mut *ptr.cast::<MaybeUninit<T>>() })
    }

    /// Borrows the object behind a handle.
    ///
    /// Promised: a non-NULL `ptr` comes from [`new_handle`] for this `T` and has not been freed.
    ///
    /// # Errors
    ///
    /// `CAREMATCH_NULL_ARGUMENT` for NULL.
    pub(crate) fn handle<T>(self, ptr: *const T) -> Result<&'c T, carematch_status> {
        if ptr.is_null() {
            return Err(CAREMATCH_NULL_ARGUMENT);
        }
        // SAFETY: the C caller promised a live handle made by new_handle (a Box<T>).
        Ok(unsafe { &*ptr })
    }

    /// A handle that may be NULL: `None` for NULL (the one failure of
    /// [`handle`](Caller::handle)).
    pub(crate) fn optional_handle<T>(self, ptr: *const T) -> Option<&'c T> {
        self.handle(ptr).ok()
    }

    /// Borrows the object behind a handle mutably.
    ///
    /// Promised: as [`handle`](Caller::handle), and no other thread uses the handle during the
    /// call.
    ///
    /// # Errors
    ///
    /// `CAREMATCH_NULL_ARGUMENT` for NULL.
    pub(crate) fn handle_mut<T>(self, ptr: *mut T) -> Result<&'c mut T, carematch_status> {
        if ptr.is_null() {
            return Err(CAREMATCH_NULL_ARGUMENT);
        }
        // SAFETY: the C caller promised a live handle, used by this call alone (and borrowed
        // once: see `Caller`).
        Ok(unsafe { &mut *ptr })
    }

    /// Frees a handle made by [`new_handle`]; NULL is a no-op. Only for the handle's `_free`
    /// function.
    ///
    /// Promised: a non-NULL `ptr` comes from [`new_handle`] for this `T`, has not been freed, and
    /// no other thread uses it; it is invalid afterwards.
    pub(crate) fn free_handle<T>(self, ptr: *mut T) {
        if !ptr.is_null() {
            // SAFETY: the C caller promised a live handle made by Box::into_raw, used by no one
            // else.
            drop(unsafe { Box::from_raw(ptr) });
        }
    }

    /// Writes `text` with a NUL into the caller's `(buf, len)` and its length to `out_written`,
    /// or, when it does not fit, the size needed (counting the NUL) and
    /// `CAREMATCH_BUFFER_TOO_SMALL`.
    ///
    /// Promised: as [`buf`](Caller::buf) for `(buf, len)` and
    /// [`out_param`](Caller::out_param) for `out_written`.
    ///
    /// # Errors
    ///
    /// `CAREMATCH_NULL_ARGUMENT` for a NULL `out_written` (or NULL `buf` with `len > 0`);
    /// `CAREMATCH_BUFFER_TOO_SMALL` as above.
    pub(crate) fn text_out(
        self,
        text: &str,
        buf: *mut c_char,
        len: usize,
        out_written: *mut usize,
    ) -> Result<(), Failure> {
        let out = self.out_param(out_written)?;
        let buf = self.buf(buf, len)?;
        match copy_c_str(text, buf) {
            Ok(n) => {
                out.write(n);
                Ok(())
            }
            Err(needed) => {
                out.write(needed);
                Err(CAREMATCH_BUFFER_TOO_SMALL.into())
            }
        }
    }
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

/// A `uint32_t` flag argument: 0 or 1.
///
/// # Errors
///
/// `CAREMATCH_INVALID_ARGUMENT` naming the argument for any other number.
pub(crate) fn flag(value: u32, name: &str) -> Result<bool, Failure> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(Failure::new(
            CAREMATCH_INVALID_ARGUMENT,
            format!("{name} is 0 or 1"),
        )),
    }
}

/// A new handle owning `value`, for C to free with the type's `_free`.
pub(crate) fn new_handle<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr;

    /// A `Caller` for one conversion of a test.
    ///
    /// # Safety
    ///
    /// The pointers then converted must meet the method's promise (each use says why).
    unsafe fn promise() -> Caller<'static> {
        // SAFETY: this function's own contract.
        unsafe { Caller::promised(&()) }
    }

    #[test]
    fn null_zero_is_empty_text() {
        // SAFETY: len is 0, so the pointer is never read.
        assert_eq!(unsafe { promise() }.str(ptr::null(), 0), Ok(""));
    }

    #[test]
    fn dangling_pointer_with_zero_length_is_empty_text_and_not_read() {
        let dangling = ptr::dangling::<c_char>();
        // SAFETY: len is 0, so the pointer is never read.
        assert_eq!(unsafe { promise() }.str(dangling, 0), Ok(""));
    }

    #[test]
    fn null_with_length_is_null_argument() {
        // SAFETY: the NULL check comes before any read.
        let got = unsafe { promise() }.str(ptr::null(), 3);
        assert_eq!(got, Err(CAREMATCH_NULL_ARGUMENT));
    }

    #[test]
    fn reads_exactly_len_bytes_without_nul() {
        let text = "Smith-Jones, Zoë";
        // SAFETY: the pointer and length come from a live &str; only the first 11 bytes are read.
        let got = unsafe { promise() }.str(text.as_ptr().cast(), 11);
        assert_eq!(got, Ok("Smith-Jones"));
        // SAFETY: as above, the whole string.
        let got = unsafe { promise() }.str(text.as_ptr().cast(), text.len());
        assert_eq!(got, Ok(text));
    }

    #[test]
    fn invalid_utf8_is_rejected() {
        let bytes = [b'a', 0xFF, b'b'];
        // SAFETY: the pointer and length come from a live array.
        let got = unsafe { promise() }.str(bytes.as_ptr().cast(), bytes.len());
        assert_eq!(got, Err(CAREMATCH_INVALID_UTF8));
        // A multi-byte character cut in half is invalid too.
        let text = "é";
        // SAFETY: one byte of a live &str.
        let got = unsafe { promise() }.str(text.as_ptr().cast(), 1);
        assert_eq!(got, Err(CAREMATCH_INVALID_UTF8));
    }

    #[test]
    fn huge_length_is_rejected_before_any_read() {
        let byte = 0_u8;
        // SAFETY: the length check comes before any read.
        let got = unsafe { promise() }.str((&raw const byte).cast(), usize::MAX);
        assert_eq!(got, Err(CAREMATCH_INVALID_ARGUMENT));
    }

    #[test]
    fn buffers_follow_the_same_null_rules() {
        // SAFETY: len is 0, so the pointer is never used.
        let empty = unsafe { promise() }.buf(ptr::null_mut(), 0);
        assert_eq!(empty.map(|b| b.len()), Ok(0));
        // SAFETY: the NULL check comes before any access.
        let null = unsafe { promise() }.buf(ptr::null_mut(), 4);
        assert_eq!(null.map(|b| b.len()), Err(CAREMATCH_NULL_ARGUMENT));
    }

    #[test]
    fn out_param_rejects_null_and_misaligned() {
        // SAFETY: the NULL check comes before any access.
        let got = unsafe { promise() }.out_param::<usize>(ptr::null_mut());
        assert_eq!(got.err(), Some(CAREMATCH_NULL_ARGUMENT));

        let mut words = [0_usize; 2];
        let misaligned = words
            .as_mut_ptr()
            .cast::<u8>()
            .wrapping_add(1)
            .cast::<usize>();
        // SAFETY: the alignment check comes before any access.
        let got = unsafe { promise() }.out_param(misaligned);
        assert_eq!(got.err(), Some(CAREMATCH_INVALID_ARGUMENT));

        // SAFETY: points to a live, aligned usize.
        let out = unsafe { promise() }.out_param(words.as_mut_ptr()).unwrap();
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
