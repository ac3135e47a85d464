//! The batch side of the C ABI, called as a C program would through the `carematch_ffi`
//! rlib: batches from CSV text in memory (`carematch_batch_from_csv`) and column by column
//! (`carematch_batch_add_column`), dedupe and link (with the shared sample model, or with
//! none so one is trained), every reader of a result, training and explaining a pair, and
//! pseudonymising a batch. Everything allocated is freed, so LeakSanitizer sees any leak
//! inside the library; a status of `CAREMATCH_PANIC` fails the input.
//!
//! Input: a flags byte, then the left CSV text, optionally a NUL and the right CSV text.
#![no_main]

use std::ptr;

use carematch_ffi::*;
use carematch_fuzz::ffi::{
    batch_from_csv, carematch_model_explain_pair, carematch_normalise, carematch_result_quality,
    check, cstr, read_text,
};
use carematch_fuzz::split_once;
use libfuzzer_sys::fuzz_target;

/// Reads everything a result offers; `right_rows` is the row count of the right side.
unsafe fn read_result(r: *const carematch_result, left_rows: usize, right_rows: usize) {
    unsafe {
        let mut n = 0usize;
        assert_eq!(check(carematch_result_len(r, &mut n)), CAREMATCH_OK);
        let mut first_ids: Option<(Vec<u8>, Vec<u8>)> = None;
        for i in 0..n {
            let mut p = std::mem::zeroed::<carematch_pair>();
            assert_eq!(check(carematch_result_get(r, i, &mut p)), CAREMATCH_OK);
            assert!((p.left as usize) < left_rows && (p.right as usize) < right_rows);
            assert!((0.0..=1.0).contains(&p.match_probability) || p.match_probability.is_nan());
            let left = read_text(|b, l, o| carematch_result_record_id(r, 0, p.left, b, l, o));
            let right = read_text(|b, l, o| carematch_result_record_id(r, 1, p.right, b, l, o));
            assert!(
                left.is_some() && right.is_some(),
                "a pair's ids do not read"
            );
            if first_ids.is_none() {
                first_ids = left.zip(right);
            }
            let _ = read_text(|b, l, o| carematch_result_person_id(r, 0, p.left, b, l, o));
            let _ = read_text(|b, l, o| carematch_result_person_id(r, 1, p.right, b, l, o));
            let _ = read_text(|b, l, o| carematch_result_explain(r, i, b, l, o));
            if p.rule >= 0 {
                let name = read_text(|b, l, o| carematch_result_rule_name(r, p.rule, b, l, o));
                assert!(name.is_some(), "a pair's rule has no name");
            }
        }
        // Past the end: an error, not a crash.
        let mut p = std::mem::zeroed::<carematch_pair>();
        assert_ne!(check(carematch_result_get(r, n, &mut p)), CAREMATCH_OK);
        let mut tmp = [0u8; 4];
        let mut w = 0usize;
        let _ = check(carematch_result_record_id(
            r,
            2,
            0,
            tmp.as_mut_ptr().cast(),
            4,
            &mut w,
        ));
        let _ = check(carematch_result_person_id(
            r,
            0,
            u32::MAX,
            tmp.as_mut_ptr().cast(),
            4,
            &mut w,
        ));
        let _ = check(carematch_result_rule_name(
            r,
            i32::MAX,
            tmp.as_mut_ptr().cast(),
            4,
            &mut w,
        ));

        let mut needed = 0usize;
        let s = check(carematch_result_copy(r, ptr::null_mut(), 0, &mut needed));
        assert!(s == CAREMATCH_OK || s == CAREMATCH_BUFFER_TOO_SMALL);
        assert_eq!(needed, n);
        let mut pairs = vec![std::mem::zeroed::<carematch_pair>(); n];
        let mut written = 0usize;
        assert_eq!(
            check(carematch_result_copy(
                r,
                pairs.as_mut_ptr(),
                n,
                &mut written
            )),
            CAREMATCH_OK
        );
        assert_eq!(written, n);

        let csv = read_text(|b, l, o| carematch_result_csv(r, b, l, o)).expect("pairs CSV");
        assert!(std::str::from_utf8(&csv).is_ok());
        let mut invalid = 0u64;
        let inv: *mut u64 = &mut invalid;
        let _ = read_text(|b, l, o| carematch_result_quality(r, inv, b, l, o));

        // Evaluation against the first pair as the truth (or none).
        let mut e = std::mem::zeroed::<carematch_evaluation>();
        let (tl, tr): (Vec<carematch_str>, Vec<carematch_str>) = match &first_ids {
            Some((a, b)) => (vec![cstr(a)], vec![cstr(b)]),
            None => (Vec::new(), Vec::new()),
        };
        let s = check(carematch_result_evaluate(
            r,
            if tl.is_empty() {
                ptr::null()
            } else {
                tl.as_ptr()
            },
            if tr.is_empty() {
                ptr::null()
            } else {
                tr.as_ptr()
            },
            tl.len(),
            &mut e,
        ));
        if s == CAREMATCH_OK {
            for x in [e.precision, e.recall, e.f1] {
                assert!((0.0..=1.0).contains(&x), "evaluation figure out of range");
            }
        }
    }
}

unsafe fn rows(b: *const carematch_batch) -> usize {
    let mut n = 0usize;
    assert_eq!(
        check(unsafe { carematch_batch_len(b, &mut n) }),
        CAREMATCH_OK
    );
    n
}

/// A batch built column by column from naive comma-split text: header names, then rows
/// (short rows padded with empty values, long ones cut), with the role of each column from
/// the flags (by name, or one role for the column at `role_col`).
unsafe fn batch_by_columns(text: &[u8], role: u32, role_col: usize) -> *mut carematch_batch {
    let mut lines = text.split(|&b| b == b'\n');
    let header: Vec<&[u8]> = lines
        .next()
        .unwrap_or_default()
        .split(|&b| b == b',')
        .collect();
    let body: Vec<Vec<&[u8]>> = lines
        .take(64)
        .map(|l| l.split(|&b| b == b',').collect())
        .collect();
    let mut b = ptr::null_mut();
    let name = "columns";
    if check(unsafe { carematch_batch_new(name.as_ptr().cast(), name.len(), &mut b) })
        != CAREMATCH_OK
    {
        return ptr::null_mut();
    }
    for (i, h) in header.iter().take(16).enumerate() {
        let values: Vec<carematch_str> = body
            .iter()
            .map(|row| cstr(row.get(i).copied().unwrap_or_default()))
            .collect();
        let r = if i == role_col {
            role
        } else {
            CAREMATCH_ROLE_BY_NAME
        };
        let _ = check(unsafe {
            carematch_batch_add_column(
                b,
                if h.is_empty() {
                    ptr::null()
                } else {
                    h.as_ptr().cast()
                },
                h.len(),
                r,
                if values.is_empty() {
                    ptr::null()
                } else {
                    values.as_ptr()
                },
                values.len(),
            )
        });
    }
    b
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (left_text, right_text) = split_once(rest, 0);
    let model = if flags & 1 != 0 {
        carematch_fuzz::ffi::model()
    } else {
        ptr::null()
    };
    unsafe {
        let left = if flags & 4 != 0 {
            batch_by_columns(
                left_text,
                u32::from(flags >> 5),
                usize::from(flags >> 3 & 3),
            )
        } else {
            batch_from_csv("left", left_text)
        };
        if left.is_null() {
            return;
        }
        let right = if right_text.is_empty() {
            ptr::null_mut()
        } else {
            batch_from_csv("right", right_text)
        };
        let nl = rows(left);

        let mut r = ptr::null_mut();
        if check(carematch_dedupe(left, model, &mut r)) == CAREMATCH_OK {
            read_result(r, nl, nl);
        }
        carematch_result_free(r);

        if !right.is_null() {
            let nr = rows(right);
            let mut r = ptr::null_mut();
            if check(carematch_link(left, right, model, &mut r)) == CAREMATCH_OK {
                read_result(r, nl, nr);
            }
            carematch_result_free(r);
        }

        if flags & 2 != 0 {
            // Training through the C ABI, the model's JSON, and one pair explained.
            let mut m = ptr::null_mut();
            if check(carematch_model_train(left, right, &mut m)) == CAREMATCH_OK {
                let json = read_text(|b, l, o| carematch_model_to_json(m, b, l, o))
                    .expect("a trained model writes JSON");
                let mut again = ptr::null_mut();
                let status =
                    carematch_model_from_json(json.as_ptr().cast(), json.len(), &mut again);
                if status != CAREMATCH_OK {
                    let why = read_text(|b, l, o| carematch_last_error_message(b, l, o))
                        .map(|m| String::from_utf8_lossy(&m).into_owned());
                    panic!("a trained model's JSON does not read back: {status:?} {why:?}");
                }
                carematch_model_free(again);
                let other = if right.is_null() { left } else { right };
                let _ = read_text(|b, l, o| {
                    carematch_model_explain_pair(m, left, 0, other, 0, b, l, o)
                });
                let _ = read_text(|b, l, o| {
                    carematch_model_explain_pair(m, left, u32::MAX, other, 0, b, l, o)
                });
            }
            carematch_model_free(m);
        }

        if flags & 8 != 0 {
            // One value normalised through the C ABI under every role number (0 and 9 are
            // not value roles: an error, not a crash); it must agree with the core's.
            let value = &left_text[..left_text.len().min(256)];
            for role in 0..=9u32 {
                let got = read_text(|b, l, o| {
                    carematch_normalise(
                        role,
                        if value.is_empty() {
                            ptr::null()
                        } else {
                            value.as_ptr().cast()
                        },
                        value.len(),
                        b,
                        l,
                        o,
                    )
                });
                if role == 0 || role == 9 {
                    assert!(got.is_none(), "an unknown role normalised");
                }
            }
        }

        if flags & 0x80 != 0 {
            // Pseudonymised: encode, then dedupe the encoded batch.
            let key = [7u8; 32];
            let project = "fuzz";
            let mut p = ptr::null_mut();
            assert_eq!(
                check(carematch_pseudonymiser_new(
                    key.as_ptr(),
                    key.len(),
                    project.as_ptr().cast(),
                    project.len(),
                    1,
                    &mut p
                )),
                CAREMATCH_OK
            );
            let mut enc = ptr::null_mut();
            if check(carematch_pseudonymiser_encode(
                p,
                left,
                u32::from(flags >> 6 & 1),
                &mut enc,
            )) == CAREMATCH_OK
            {
                let ne = rows(enc);
                assert_eq!(ne, nl, "encoding changed the row count");
                let mut r = ptr::null_mut();
                if check(carematch_dedupe(enc, ptr::null(), &mut r)) == CAREMATCH_OK {
                    read_result(r, ne, ne);
                }
                carematch_result_free(r);
            }
            carematch_batch_free(enc);
            let field = "surname.bf";
            let _ = read_text(|b, l, o| {
                carematch_pseudonymiser_token(
                    p,
                    field.as_ptr().cast(),
                    field.len(),
                    left_text.as_ptr().cast(),
                    left_text.len().min(64),
                    b,
                    l,
                    o,
                )
            });
            carematch_pseudonymiser_free(p);
        }

        carematch_batch_free(left);
        carematch_batch_free(right);
    }
});
