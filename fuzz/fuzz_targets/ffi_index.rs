//! The index side of the C ABI, called as a C program would through the `carematch_ffi`
//! rlib: an index built per input (`carematch_index_build`, 40 sample GP records, the shared
//! sample model, person ids on or off by the first byte), then a script of queries, inserts,
//! updates and removals whose records are column-name/value pairs, and every reader of an
//! answer. Everything allocated is freed (LeakSanitizer); `CAREMATCH_PANIC` fails the input.
//!
//! Script: after the flags byte, one operation per line: its first byte is the operation
//! (`q` query, `i` insert, `u` update, `r` remove, `l` length; anything else a query), the
//! rest is `name=value` fields separated by `|` (for `r`, the rest is the id). Names and
//! values are raw bytes, so they may be empty or not UTF-8.
#![no_main]

use std::ptr;

use carematch_ffi::*;
use carematch_fuzz::ffi::{batch_from_csv, check, cstr, read_text};
use carematch_fuzz::split_once;
use libfuzzer_sys::fuzz_target;

const ROWS: usize = 40;

unsafe fn len(index: *const carematch_index) -> usize {
    let mut n = 0usize;
    assert_eq!(
        check(unsafe { carematch_index_len(index, &mut n) }),
        CAREMATCH_OK
    );
    n
}

unsafe fn read_answer(a: *const carematch_answer, limit: usize) {
    unsafe {
        let mut decision = 0u32;
        assert_eq!(
            check(carematch_answer_decision(a, &mut decision)),
            CAREMATCH_OK
        );
        assert!((1..=4).contains(&decision), "unknown decision number");
        let mut n = 0usize;
        assert_eq!(check(carematch_answer_len(a, &mut n)), CAREMATCH_OK);
        assert!(n <= limit, "more candidates than the limit");
        for i in 0..=n {
            let mut c = std::mem::zeroed::<carematch_candidate>();
            let s = check(carematch_answer_candidate(a, i, &mut c));
            let id = read_text(|b, l, o| carematch_answer_candidate_id(a, i, b, l, o));
            if i == n {
                assert_ne!(s, CAREMATCH_OK, "a candidate past the end");
                assert!(id.is_none());
            } else {
                assert_eq!(s, CAREMATCH_OK);
                assert!((0.0..=1.0).contains(&c.match_probability));
                assert!((1..=4).contains(&c.decision) && c.by_rule <= 1);
                assert!(id.is_some());
            }
        }
        let json = read_text(|b, l, o| carematch_answer_json(a, b, l, o)).expect("answer JSON");
        assert!(std::str::from_utf8(&json).is_ok());
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, script)) = data.split_first() else {
        return;
    };
    let csv = carematch_fuzz::head(carematch_fuzz::GP_CSV, ROWS);
    unsafe {
        let batch = batch_from_csv("gp.csv", csv.as_bytes());
        assert!(!batch.is_null(), "the sample reads");
        let mut index = ptr::null_mut();
        let s = check(carematch_index_build(
            batch,
            carematch_fuzz::ffi::model(),
            u32::from(flags & 1),
            &mut index,
        ));
        carematch_batch_free(batch);
        assert_eq!(s, CAREMATCH_OK, "the sample index builds");
        let limit = usize::from(flags >> 1 & 0x0f);

        for line in script.split(|&b| b == b'\n').take(32) {
            let Some((&op, rest)) = line.split_first() else {
                continue;
            };
            if op == b'r' {
                let before = len(index);
                let s = check(carematch_index_remove(
                    index,
                    if rest.is_empty() {
                        ptr::null()
                    } else {
                        rest.as_ptr().cast()
                    },
                    rest.len(),
                ));
                assert_eq!(len(index), before - usize::from(s == CAREMATCH_OK));
                continue;
            }
            if op == b'l' {
                let _ = len(index);
                continue;
            }
            let fields: Vec<(&[u8], &[u8])> = rest
                .split(|&b| b == b'|')
                .take(24)
                .map(|f| split_once(f, b'='))
                .collect();
            let names: Vec<carematch_str> = fields.iter().map(|(n, _)| cstr(n)).collect();
            let values: Vec<carematch_str> = fields.iter().map(|(_, v)| cstr(v)).collect();
            let (np, vp) = if names.is_empty() {
                (ptr::null(), ptr::null())
            } else {
                (names.as_ptr(), values.as_ptr())
            };
            let before = len(index);
            match op {
                b'i' => {
                    let s = check(carematch_index_insert(index, np, vp, names.len()));
                    assert_eq!(len(index), before + usize::from(s == CAREMATCH_OK));
                }
                b'u' => {
                    let _ = check(carematch_index_update(index, np, vp, names.len()));
                    assert_eq!(len(index), before, "an update changed the record count");
                }
                _ => {
                    let mut a = ptr::null_mut();
                    if check(carematch_index_query(
                        index,
                        np,
                        vp,
                        names.len(),
                        limit,
                        &mut a,
                    )) == CAREMATCH_OK
                    {
                        read_answer(a, limit);
                    }
                    carematch_answer_free(a);
                    assert_eq!(len(index), before, "a query changed the record count");
                }
            }
        }
        carematch_index_free(index);
    }
});
