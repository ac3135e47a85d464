//! Fixtures shared by the fuzz targets: the sample data shipped in `examples/data`, a model
//! trained on it once per process, and an index of it. Everything here is built lazily in a
//! `OnceLock` so that each target pays for it once, not once per input.

use std::sync::OnceLock;

use carematch::{Index, Model, Records};

/// The GP sample file shipped with the repository.
pub const GP_CSV: &str = include_str!("../../examples/data/gp.csv");
/// The hospital sample file shipped with the repository.
pub const HOSPITAL_CSV: &str = include_str!("../../examples/data/hospital.csv");

/// The header and the first `rows` data rows of `csv` (the sample files have no quoted line
/// breaks, so lines are rows).
pub fn head(csv: &str, rows: usize) -> String {
    let mut out = String::new();
    for line in csv.lines().take(rows + 1) {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Rows of the GP sample the population fixtures are made of: enough for training to find
/// matches, few enough to build in well under a second.
pub const POPULATION_ROWS: usize = 300;

/// The first [`POPULATION_ROWS`] rows of the GP sample, read as a file is.
pub fn population() -> Records {
    let text = head(GP_CSV, POPULATION_ROWS);
    let mut b = Records::builder();
    b.add_reader("gp.csv", text.as_bytes())
        .expect("the GP sample reads");
    b.build().expect("the GP sample builds").0
}

/// A model trained on [`population`] as `carematch index build` trains one (dedupe, default
/// config), once per process.
pub fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| {
        let records = population();
        let config = carematch::Config::default();
        let mode = carematch::block::Mode::dedupe(&records, 0).expect("one source");
        config
            .train(&records, &mode, Vec::new())
            .expect("training")
            .0
    })
}

/// An index of [`population`] scored by [`model`], with person ids, once per process.
/// Only read by the targets (queries), so one input cannot change what the next one sees.
pub fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let records = population();
        let mut b = Index::builder(model().clone());
        b.person_ids(true);
        b.build(records).expect("the index builds")
    })
}

/// A tiny store of `rows` GP rows (and, with `hospital`, a second source of as many hospital
/// rows), for targets that run something per input on a store.
pub fn small_records(rows: usize, hospital: bool) -> Records {
    let mut b = Records::builder();
    b.add_reader("gp.csv", head(GP_CSV, rows).as_bytes())
        .expect("the GP sample reads");
    if hospital {
        b.add_reader("hospital.csv", head(HOSPITAL_CSV, rows).as_bytes())
            .expect("the hospital sample reads");
    }
    b.build().expect("the samples build").0
}

/// Splits `data` at the first occurrence of `sep` (the separator dropped); all of `data` and
/// an empty tail when there is none.
pub fn split_once(data: &[u8], sep: u8) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == sep) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// Helpers for calling the C ABI from Rust the way a C caller would.
pub mod ffi {
    use std::ffi::c_char;
    use std::ptr;
    use std::sync::OnceLock;

    use carematch_ffi::*;

    pub use carematch_ffi::{
        carematch_model_explain_pair, carematch_normalise, carematch_result_quality,
    };

    /// Fails the input when the library reports a panic (it is caught at the C boundary and
    /// turned into a status, so it would otherwise go unnoticed), and reads the thread's
    /// last-error message after every failure, as a C caller would.
    pub fn check(status: carematch_status) -> carematch_status {
        assert_ne!(
            status, CAREMATCH_PANIC,
            "carematch panicked behind the C ABI"
        );
        if status != CAREMATCH_OK {
            let _ =
                read_text(|buf, len, out| unsafe { carematch_last_error_message(buf, len, out) });
        }
        status
    }

    /// Text written by a `(buf, len, out_written)` function: asks for the size with
    /// `(NULL, 0)`, then reads it into a buffer of exactly that size, and checks the
    /// documented contract (size counts the NUL, `out_written` does not, NUL-terminated).
    pub fn read_text(
        f: impl Fn(*mut c_char, usize, *mut usize) -> carematch_status,
    ) -> Option<Vec<u8>> {
        let mut needed = 0usize;
        let s = f(ptr::null_mut(), 0, &mut needed);
        assert_ne!(s, CAREMATCH_PANIC, "carematch panicked behind the C ABI");
        if s != CAREMATCH_BUFFER_TOO_SMALL {
            return None;
        }
        assert!(needed >= 1, "a size needed that has no room for the NUL");
        // One byte short must still be too small, and write nothing.
        if needed > 1 {
            let mut short = vec![0x55u8; needed - 1];
            let mut n = 0usize;
            let s = f(short.as_mut_ptr().cast(), short.len(), &mut n);
            assert_eq!(s, CAREMATCH_BUFFER_TOO_SMALL);
            assert_eq!(n, needed);
            assert!(
                short.iter().all(|&b| b == 0x55),
                "a too-small buffer was written"
            );
        }
        let mut buf = vec![0u8; needed];
        let mut written = 0usize;
        let s = f(buf.as_mut_ptr().cast(), buf.len(), &mut written);
        assert_eq!(s, CAREMATCH_OK, "the size asked for was not enough");
        assert_eq!(written + 1, needed);
        assert_eq!(buf[written], 0, "not NUL-terminated");
        buf.truncate(written);
        Some(buf)
    }

    /// A `carematch_str` over `bytes` (`{NULL, 0}` when empty, as C callers pass "").
    pub fn cstr(bytes: &[u8]) -> carematch_str {
        carematch_str {
            ptr: if bytes.is_empty() {
                ptr::null()
            } else {
                bytes.as_ptr().cast()
            },
            len: bytes.len(),
        }
    }

    /// A model handle shared by every input (the model of [`super::model`], read back
    /// through `carematch_model_from_json`); never freed, so it is not a leak.
    pub struct SharedModel(pub *mut carematch_model);
    // SAFETY: the C ABI documents models as immutable and safe to use from several threads.
    unsafe impl Send for SharedModel {}
    // SAFETY: as above.
    unsafe impl Sync for SharedModel {}

    /// The shared model handle.
    pub fn model() -> *const carematch_model {
        static M: OnceLock<SharedModel> = OnceLock::new();
        M.get_or_init(|| {
            let json = super::model().to_json();
            let mut m = ptr::null_mut();
            let s = unsafe { carematch_model_from_json(json.as_ptr().cast(), json.len(), &mut m) };
            assert_eq!(s, CAREMATCH_OK, "the sample model reads through the C ABI");
            SharedModel(m)
        })
        .0
    }

    /// A batch from CSV text, or NULL when the text does not read.
    pub fn batch_from_csv(name: &str, text: &[u8]) -> *mut carematch_batch {
        let mut b = ptr::null_mut();
        let s = check(unsafe {
            carematch_batch_from_csv(
                name.as_ptr().cast(),
                name.len(),
                if text.is_empty() {
                    ptr::null()
                } else {
                    text.as_ptr().cast()
                },
                text.len(),
                &mut b,
            )
        });
        if s == CAREMATCH_OK {
            assert!(!b.is_null());
            b
        } else {
            ptr::null_mut()
        }
    }
}
