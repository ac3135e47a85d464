//! `Key::parse`: a key file's contents (32 raw bytes, or 64 hex digits with surrounding
//! white space). Its answer must follow that rule exactly, and a parsed key derives project
//! keys and pseudonyms.
#![no_main]

use carematch::pseudonym::{Key, Pseudonymiser, TokenField};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = Key::parse(data);
    let t = data.trim_ascii();
    let hex = t.len() == 64 && t.iter().all(u8::is_ascii_hexdigit);
    assert_eq!(
        key.is_some(),
        data.len() == 32 || hex,
        "Key::parse broke its rule"
    );
    if let Some(k) = key {
        // Same key read as hex upper and lower case gives the same pseudonyms.
        let p = Pseudonymiser::new(&k, "fuzz", 1);
        let tok = p.token(TokenField::Surname, "smith");
        if hex && data.len() != 32 {
            let upper = Key::parse(&t.to_ascii_uppercase()).expect("upper-case hex parses");
            let q = Pseudonymiser::new(&upper, "fuzz", 1);
            assert!(
                q.token(TokenField::Surname, "smith") == tok,
                "hex case changed the key"
            );
        }
        let _ = k.project("fuzz", 2);
    }
});
