//! Synthetic NHS numbers: valid modulus-11 numbers starting with 9, one per person.
//!
//! NHS numbers beginning with 9 are not issued to any real patient in England, Wales,
//! Scotland or Northern Ireland, so a synthetic number can never be a real patient's.
//!
//! Person index `i` maps to a number by a bijection: a keyed Feistel permutation of
//! `0..CAPACITY` (with cycle walking) gives `j`; `j / 9` gives the eight digits after the
//! leading 9, and `j % 9` picks one of the (at least nine) values of the last of those eight
//! digits that leave a valid check digit. So no two people share a number.

/// How many distinct synthetic numbers exist: 10^7 seven-digit stems, 9 per stem.
pub(crate) const CAPACITY: u64 = 90_000_000;

const WEIGHTS: [u32; 9] = [10, 9, 8, 7, 6, 5, 4, 3, 2];

/// The modulus-11 check digit of nine digits, or `None` when the check would be 10 (such
/// numbers are never issued).
pub(crate) fn check_digit(digits: &[u8; 9]) -> Option<u8> {
    let sum: u32 = digits
        .iter()
        .zip(WEIGHTS)
        .map(|(&d, w)| u32::from(d) * w)
        .sum();
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        c => Some(c as u8),
    }
}

/// True when ten ASCII digits form a valid NHS number.
#[cfg(test)]
pub(crate) fn is_valid(number: &str) -> bool {
    let b = number.as_bytes();
    if b.len() != 10 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut nine = [0u8; 9];
    for (d, c) in nine.iter_mut().zip(b) {
        *d = c - b'0';
    }
    check_digit(&nine) == Some(b[9] - b'0')
}

// CAPACITY < 2^27; the permutation works on 28 bits, two halves of 14 (balanced Feistel).
const HALF: u32 = 14;
const MASK: u64 = (1 << HALF) - 1;

fn feistel(key: u64, x: u64) -> u64 {
    let (mut l, mut r) = (x >> HALF, x & MASK);
    for round in 0..4u64 {
        let f = crate::rng::hash3(key, round, r) & MASK;
        (l, r) = (r, l ^ f);
    }
    (l << HALF) | r
}

/// The NHS number (ten ASCII digits) of person `index` under `seed`; `index` must be below
/// [`CAPACITY`] (checked by option validation).
pub(crate) fn nhs_number(seed: u64, index: u64) -> [u8; 10] {
    let key = crate::rng::hash3(seed, super::stream::NHS, 0);
    // Cycle walking: a permutation of 0..2^28 restricted to 0..CAPACITY is a permutation of
    // 0..CAPACITY when we keep applying it until the value falls inside.
    let mut j = index % CAPACITY;
    loop {
        j = feistel(key, j);
        if j < CAPACITY {
            break;
        }
    }
    let stem = j / 9;
    let pick = j % 9;
    let mut nine = [0u8; 9];
    nine[0] = 9;
    let mut s = stem;
    for k in (1..8).rev() {
        nine[k] = (s % 10) as u8;
        s /= 10;
    }
    let mut seen = 0;
    let mut out = [b'0'; 10];
    for last in 0..10u8 {
        nine[8] = last;
        if let Some(check) = check_digit(&nine) {
            if seen == pick {
                for (o, d) in out.iter_mut().zip(nine) {
                    *o = b'0' + d;
                }
                out[9] = b'0' + check;
                return out;
            }
            seen += 1;
        }
    }
    // Unreachable: every stem has at least nine valid last digits.
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_valid_number() {
        // The example number from NHS Digital's documentation of the check.
        assert!(is_valid("9434765919"));
        assert!(!is_valid("9434765918"));
        assert!(!is_valid("943476591"));
    }

    #[test]
    fn every_stem_has_nine_valid_endings() {
        for stem in 0..2000u64 {
            let mut nine = [9u8, 0, 0, 0, 0, 0, 0, 0, 0];
            let mut s = stem * 4999;
            for k in (1..8).rev() {
                nine[k] = (s % 10) as u8;
                s /= 10;
            }
            let valid = (0..10u8)
                .filter(|&d| {
                    nine[8] = d;
                    check_digit(&nine).is_some()
                })
                .count();
            assert!(valid >= 9);
        }
    }

    #[test]
    fn numbers_are_valid_distinct_and_start_with_9() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..20_000 {
            let n = nhs_number(42, i);
            let s = std::str::from_utf8(&n).unwrap_or("");
            assert!(is_valid(s), "{s}");
            assert_eq!(n[0], b'9');
            assert!(seen.insert(n));
        }
    }

    #[test]
    fn seed_changes_the_numbers() {
        assert_ne!(nhs_number(1, 0), nhs_number(2, 0));
    }
}
