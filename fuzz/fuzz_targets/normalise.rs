//! Every normaliser, chosen by the first byte (the rest is the raw value), with the invariants
//! their documentation promises and their own property tests check:
//!
//! - names, addresses and `fold`: idempotent (`src/normalise/mod.rs`: "Every function here is
//!   pure and idempotent"); `fold` output has no upper case, combining mark, double, leading
//!   or trailing space, and only alphanumerics and spaces (`text.rs`);
//! - dates: `Display` reads back to the same date, the integer and day-count forms round-trip,
//!   the year is in range;
//! - postcodes: the canonical text parses back to the same postcode; unit ⊇ sector ⊇ district
//!   ⊇ area for a UK postcode;
//! - NHS numbers: every answer of `parse_nhs_number` agrees with a reference implementation
//!   of the modulus 11 rule written here from the NHS definition;
//! - sex: the code reads back to the same sex;
//! - Soundex/NYSIIS: unchanged by folding, well formed on ASCII letters;
//! - nicknames: symmetric, and a canonical name is its own canonical name;
//! - `normalise_value` (the file reader's path): agrees with the functions above and is
//!   idempotent when its output is not over the length limit.
#![no_main]

use carematch::input::normalise_value;
use carematch::normalise::address::normalise_address;
use carematch::normalise::date::{Date, MAX_YEAR, MIN_YEAR, parse_date};
use carematch::normalise::name::{are_nickname_variants, canonical_given_name, normalise_name};
use carematch::normalise::nhs_number::{NhsNumber, NhsProblem, check_digit, parse_nhs_number};
use carematch::normalise::phonetic::{nysiis, soundex};
use carematch::normalise::postcode::parse_postcode;
use carematch::normalise::sex::parse_sex;
use carematch::normalise::text::fold;
use carematch::{MAX_VALUE_BYTES, Role};
use libfuzzer_sys::fuzz_target;

const ROLES: [Role; 8] = Role::ALL;

fn check_fold(s: &str) {
    let f = fold(s);
    assert_eq!(fold(&f), f, "fold is not idempotent");
    assert!(
        !f.starts_with(' ') && !f.ends_with(' '),
        "fold left an outer space"
    );
    assert!(!f.contains("  "), "fold left a double space");
    assert!(
        !f.chars().any(char::is_uppercase),
        "fold left an upper-case letter"
    );
    assert!(
        f.chars().all(|c| c == ' ' || c.is_alphanumeric()),
        "fold left punctuation"
    );
}

fn check_name(s: &str) {
    if let Some(once) = normalise_name(s) {
        assert!(!once.is_empty() && !once.contains("  "));
        assert_eq!(
            normalise_name(&once).as_deref(),
            Some(once.as_str()),
            "name not idempotent"
        );
    }
}

fn check_address(s: &str) {
    if let Some(once) = normalise_address(s) {
        assert_eq!(
            normalise_address(&once).as_deref(),
            Some(once.as_str()),
            "address not idempotent"
        );
    }
}

fn check_date(s: &str) {
    if let Ok(Some(d)) = parse_date(s) {
        assert!((MIN_YEAR..=MAX_YEAR).contains(&d.year()));
        assert_eq!(Date::new(d.year(), d.month(), d.day()), Some(d));
        assert_eq!(
            parse_date(&d.to_string()),
            Ok(Some(d)),
            "ISO text does not read back"
        );
        assert_eq!(Date::from_u32(d.to_u32()), Some(d));
        assert_eq!(Date::from_days_since_epoch(d.days_since_epoch()), Some(d));
        if let Some(w) = d.swapped_day_month() {
            assert_eq!((w.day(), w.month()), (d.month(), d.day()));
        }
    }
}

fn check_postcode(s: &str) {
    if let Some(p) = parse_postcode(s) {
        assert_eq!(
            parse_postcode(&p.to_string()),
            Some(p.clone()),
            "postcode not idempotent"
        );
        if let Some(u) = p.uk() {
            assert!(u.unit().starts_with(u.sector()));
            assert!(u.sector().starts_with(u.district()));
            assert!(u.district().starts_with(u.area()));
            assert!(!u.area().is_empty());
            assert_eq!(u.outward(), u.district());
            assert!(u.unit().ends_with(u.inward()));
        }
    }
}

/// `parse_nhs_number` by the NHS definition, written independently of the code under test.
fn reference_nhs(s: &str) -> Result<Option<u64>, NhsProblem> {
    let t = s.trim();
    if t.chars().any(|c| !matches!(c, ' ' | '-' | '0'..='9')) {
        return Err(NhsProblem::NotDigits);
    }
    let d: Vec<u32> = t.chars().filter_map(|c| c.to_digit(10)).collect();
    if d.is_empty() {
        return Ok(None);
    }
    if d.len() != 10 {
        return Err(NhsProblem::WrongLength);
    }
    if d.iter().all(|&x| x == d[0]) {
        return Err(NhsProblem::Placeholder);
    }
    let sum: u32 = d[..9].iter().zip((2..=10).rev()).map(|(x, w)| x * w).sum();
    let check = match 11 - sum % 11 {
        11 => 0,
        10 => return Err(NhsProblem::CheckDigit),
        c => c,
    };
    if check != d[9] {
        return Err(NhsProblem::CheckDigit);
    }
    Ok(Some(d.iter().fold(0u64, |a, &x| a * 10 + u64::from(x))))
}

fn check_nhs(s: &str) {
    let got = parse_nhs_number(s);
    assert_eq!(
        got.map(|n| n.map(NhsNumber::to_u64)),
        reference_nhs(s),
        "parse_nhs_number disagrees with the modulus 11 rule"
    );
    if let Ok(Some(n)) = got {
        let digits = n.digits();
        let mut nine = [0u8; 9];
        nine.copy_from_slice(&digits[..9]);
        assert_eq!(check_digit(nine), Some(digits[9]));
        assert_eq!(NhsNumber::from_u64(n.to_u64()), Some(n));
        assert_eq!(NhsNumber::from_first_nine(n.to_u64() / 10), Some(n));
        assert_eq!(parse_nhs_number(&n.to_string()), Ok(Some(n)));
        assert_eq!(n.to_string().len(), 10);
    }
    // The integer constructors agree with the text parser on any number.
    let v = s.bytes().take(8).fold(0u64, |a, b| a << 8 | u64::from(b)) % 20_000_000_000;
    let by_int = NhsNumber::from_u64(v);
    if v <= 9_999_999_999 {
        assert_eq!(
            by_int.map(NhsNumber::to_u64),
            reference_nhs(&format!("{v:010}")).ok().flatten()
        );
    } else {
        assert_eq!(by_int, None);
    }
}

fn check_sex(s: &str) {
    if let Ok(Some(x)) = parse_sex(s) {
        assert_eq!(parse_sex(x.as_str()), Ok(Some(x)));
        assert_eq!(parse_sex(&x.to_string()), Ok(Some(x)));
    }
}

fn check_phonetic(s: &str) {
    let f = fold(s);
    assert_eq!(soundex(s), soundex(&f), "soundex changed by folding");
    assert_eq!(nysiis(s), nysiis(&f), "NYSIIS changed by folding");
    assert_eq!(soundex(s), soundex(&s.to_ascii_uppercase()));
    assert_eq!(nysiis(s), nysiis(&s.to_ascii_uppercase()));
    if s.bytes()
        .all(|b| b.is_ascii_alphabetic() || b" '-".contains(&b))
    {
        let letters = s.bytes().any(|b| b.is_ascii_alphabetic());
        match soundex(s) {
            Some(c) => {
                let b = c.as_bytes();
                assert_eq!(b.len(), 4);
                assert!(b[0].is_ascii_uppercase());
                assert!(b[1..].iter().all(|d| (b'0'..=b'6').contains(d)));
            }
            None => assert!(!letters),
        }
        match nysiis(s) {
            Some(c) => assert!(!c.is_empty() && c.bytes().all(|b| b.is_ascii_uppercase())),
            None => assert!(!letters),
        }
    }
}

fn check_nicknames(data: &[u8]) {
    let (a, b) = carematch_fuzz::split_once(data, 0);
    let (Ok(a), Ok(b)) = (std::str::from_utf8(a), std::str::from_utf8(b)) else {
        return;
    };
    assert_eq!(
        are_nickname_variants(a, b),
        are_nickname_variants(b, a),
        "not symmetric"
    );
    for t in [a, b] {
        if let Some(c) = canonical_given_name(t) {
            assert!(are_nickname_variants(t, c));
            assert_eq!(canonical_given_name(c), Some(c));
        }
    }
}

/// `normalise_value` for `role` agrees with the normaliser it wraps, and is idempotent.
fn check_value(role: Role, raw: &[u8], accept_test: bool) {
    let got = normalise_value(role, raw, accept_test);
    let t = raw.trim_ascii();
    if role != Role::Id {
        if t.is_empty() {
            assert_eq!(got, Ok(None));
            return;
        }
        if t.len() > MAX_VALUE_BYTES {
            assert_eq!(got, Err("too long"));
            return;
        }
        let Ok(s) = std::str::from_utf8(t) else {
            assert_eq!(got, Err("not valid UTF-8"));
            return;
        };
        let want: Result<Option<String>, &'static str> = match role {
            Role::GivenName | Role::Surname => Ok(normalise_name(s)),
            Role::Address => Ok(normalise_address(s)),
            Role::DateOfBirth => parse_date(s)
                .map(|d| d.map(|d| d.to_string()))
                .map_err(|p| p.as_str()),
            Role::Sex => parse_sex(s)
                .map(|x| x.map(|x| x.to_string()))
                .map_err(|p| p.as_str()),
            Role::Postcode => Ok(parse_postcode(s).map(|p| p.to_string())),
            Role::NhsNumber => match parse_nhs_number(s) {
                Ok(Some(n)) if n.is_test_range() && !accept_test => Err("999 test range"),
                r => r.map(|n| n.map(|n| n.to_string())).map_err(|p| p.as_str()),
            },
            Role::Id => unreachable!(),
        };
        assert_eq!(got, want, "normalise_value disagrees with its normaliser");
    }
    if let Ok(Some(out)) = &got
        && out.len() <= MAX_VALUE_BYTES
    {
        assert_eq!(
            normalise_value(role, out.as_bytes(), accept_test).as_ref(),
            Ok(&Some(out.clone())),
            "normalise_value is not idempotent"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    match sel % 12 {
        10 => return check_nicknames(rest),
        11 => {
            // The file reader's path: raw bytes (maybe not UTF-8, maybe too long).
            let role = ROLES[usize::from(sel / 12) % ROLES.len()];
            return check_value(role, rest, sel & 0x80 == 0);
        }
        _ => {}
    }
    let Ok(s) = std::str::from_utf8(rest) else {
        return;
    };
    match sel % 12 {
        0 => check_name(s),
        1 => check_date(s),
        2 => check_postcode(s),
        3 => check_nhs(s),
        4 => check_sex(s),
        5 => check_fold(s),
        6 => check_address(s),
        7 => check_phonetic(s),
        8 => {
            // Every normaliser on the same text.
            check_name(s);
            check_date(s);
            check_postcode(s);
            check_nhs(s);
            check_sex(s);
            check_fold(s);
            check_address(s);
            check_phonetic(s);
        }
        _ => {
            for role in ROLES {
                check_value(role, rest, true);
                check_value(role, rest, false);
            }
        }
    }
});
