//! The index loader, `Index::from_bytes`. The first byte picks the mode:
//!
//! - even: the rest is a payload, wrapped in a valid 56-byte header (magic, format version,
//!   reserved 0, length, BLAKE3 of the payload) so that the fuzzer gets past the checksum to
//!   the decoder, which must be bounds-checked ("even a file with a forged checksum cannot
//!   make it panic", src/index/file.rs);
//! - odd: the rest is the whole file, so the header checks themselves are fuzzed.
//!
//! An index that loads is then used: its length and model, a query, and an insert, update
//! and removal of a fixed record (the loaded tables must hold up to reads and writes).
#![no_main]

use std::path::Path;

use carematch::Index;
use carematch::index::FORMAT_VERSION;
use carematch::index::QueryOptions;
use libfuzzer_sys::fuzz_target;

const MAGIC: &[u8; 8] = b"CMINDEX\0";

/// A whole index file around `payload`.
fn wrap(payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(56 + payload.len());
    f.extend_from_slice(MAGIC);
    f.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    f.extend_from_slice(&0u32.to_le_bytes());
    f.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    f.extend_from_slice(blake3::hash(payload).as_bytes());
    f.extend_from_slice(payload);
    f
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let file;
    let bytes = if mode & 1 == 0 {
        file = wrap(rest);
        &file[..]
    } else {
        rest
    };
    let Ok(index) = Index::from_bytes(bytes, Path::new("fuzz.idx")) else {
        return;
    };
    let n = index.len();
    assert_eq!(index.is_empty(), n == 0);
    let _ = index.model().to_json();
    // A query on a record made from a few fixed fields: the loaded tables must hold up.
    let fields = [
        ("rec_id", "Q1"),
        ("nhs_number", "9434765919"),
        ("given_name", "Elizabeth"),
        ("surname", "Smith"),
        ("date_of_birth", "1980-02-01"),
        ("sex", "F"),
        ("postcode", "LS1 4AP"),
        ("address", "1 High St, Leeds"),
    ];
    if let Ok(rec) = index.entry(&fields) {
        if let Ok(answer) = index.query(&rec, &QueryOptions::default()) {
            for c in &answer.candidates {
                assert!(index.contains(&c.id));
                let _ = index.person_id(&c.id);
            }
        }
        // Writes on the loaded index: insert, update, remove.
        if index.insert(&rec).is_ok() {
            assert_eq!(index.len(), n + 1);
            let _ = index.update(&rec);
            let _ = index.remove("Q1");
            assert_eq!(index.len(), n);
        }
    }
});
