//! String-level corruptions: the mistakes people and systems make when they record a value.

use super::calendar::{Date, is_valid};
use crate::rng::Rng;

/// Neighbours of each lower-case letter on a UK QWERTY keyboard.
fn keyboard_neighbours(c: char) -> &'static str {
    match c {
        'q' => "wa",
        'w' => "qeas",
        'e' => "wrsd",
        'r' => "etdf",
        't' => "ryfg",
        'y' => "tugh",
        'u' => "yihj",
        'i' => "uojk",
        'o' => "ipkl",
        'p' => "ol",
        'a' => "qwsz",
        's' => "awedxz",
        'd' => "serfcx",
        'f' => "drtgvc",
        'g' => "ftyhbv",
        'h' => "gyujnb",
        'j' => "huikmn",
        'k' => "jiolm",
        'l' => "kop",
        'z' => "asx",
        'x' => "zsdc",
        'c' => "xdfv",
        'v' => "cfgb",
        'b' => "vghn",
        'n' => "bhjm",
        'm' => "njk",
        _ => "",
    }
}

/// A keyboard neighbour of `c` in the same case, or a random letter when `c` is not an
/// ASCII letter.
fn neighbour(rng: &mut Rng, c: char) -> char {
    let lower = c.to_ascii_lowercase();
    let n = keyboard_neighbours(lower);
    let pick = if n.is_empty() {
        char::from(b'a' + rng.below(26) as u8)
    } else {
        let b = n.as_bytes();
        char::from(b[rng.index(b.len())])
    };
    if c.is_uppercase() {
        pick.to_ascii_uppercase()
    } else {
        pick
    }
}

/// One typing error: an inserted, deleted or substituted (keyboard-adjacent) character, or
/// two adjacent characters transposed. The first letter is kept more often than not, as in
/// real data. Returns `s` unchanged only when it has no letters.
pub(crate) fn typo(rng: &mut Rng, s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if !chars.iter().any(|c| c.is_alphabetic()) {
        return s.to_owned();
    }
    for _ in 0..8 {
        let mut c = chars.clone();
        // Positions after the first are three times as likely to be hit.
        let pos = if c.len() > 1 && rng.chance(0.85) {
            1 + rng.index(c.len() - 1)
        } else {
            0
        };
        match rng.below(4) {
            0 => {
                // Insert: a neighbour of the character here, or a doubled letter.
                let base = c[pos];
                let ins = if rng.chance(0.5) {
                    base.to_lowercase().next().unwrap_or(base)
                } else {
                    neighbour(rng, base).to_ascii_lowercase()
                };
                c.insert((pos + 1).min(c.len()), ins);
            }
            1 if c.len() > 2 => {
                c.remove(pos);
            }
            2 if pos + 1 < c.len() && c[pos] != c[pos + 1] => {
                if pos == 0 {
                    // Keep the capital at the front when swapping the first two letters.
                    let (a, b) = (c[0], c[1]);
                    let upper = a.is_uppercase();
                    c[0] = if upper {
                        b.to_uppercase().next().unwrap_or(b)
                    } else {
                        b
                    };
                    c[1] = if upper {
                        a.to_lowercase().next().unwrap_or(a)
                    } else {
                        a
                    };
                } else {
                    c.swap(pos, pos + 1);
                }
            }
            _ => {
                if c[pos].is_alphabetic() {
                    c[pos] = neighbour(rng, c[pos]);
                }
            }
        }
        let out: String = c.into_iter().collect();
        if out != s {
            return out;
        }
    }
    s.to_owned()
}

/// Removes diacritics the way an ASCII-only system does ("Zoë" -> "Zoe", "Łukasz" ->
/// "Lukasz").
pub(crate) fn strip_diacritics(s: &str) -> String {
    s.chars().map(fold_char).collect()
}

fn fold_char(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => 'a',
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'Ā' | 'Ă' | 'Ą' => 'A',
        'ç' | 'ć' | 'č' => 'c',
        'Ç' | 'Ć' | 'Č' => 'C',
        'ď' | 'đ' => 'd',
        'Ď' | 'Đ' => 'D',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' => 'e',
        'È' | 'É' | 'Ê' | 'Ë' | 'Ē' | 'Ę' | 'Ě' => 'E',
        'ğ' | 'ģ' => 'g',
        'Ğ' | 'Ģ' => 'G',
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'ı' => 'i',
        'Ì' | 'Í' | 'Î' | 'Ï' | 'Ī' | 'İ' => 'I',
        'ķ' => 'k',
        'Ķ' => 'K',
        'ł' | 'ļ' => 'l',
        'Ł' | 'Ļ' => 'L',
        'ñ' | 'ń' | 'ņ' | 'ň' => 'n',
        'Ñ' | 'Ń' | 'Ņ' | 'Ň' => 'N',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => 'o',
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' | 'Ō' | 'Ő' => 'O',
        'ř' => 'r',
        'Ř' => 'R',
        'ś' | 'š' | 'ş' | 'ș' => 's',
        'Ś' | 'Š' | 'Ş' | 'Ș' => 'S',
        'ť' | 'ţ' | 'ț' => 't',
        'Ť' | 'Ţ' | 'Ț' => 'T',
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => 'u',
        'Ù' | 'Ú' | 'Û' | 'Ü' | 'Ū' | 'Ů' | 'Ű' => 'U',
        'ý' | 'ÿ' => 'y',
        'Ý' | 'Ÿ' => 'Y',
        'ź' | 'ż' | 'ž' => 'z',
        'Ź' | 'Ż' | 'Ž' => 'Z',
        _ => c,
    }
}

/// `s` with its first character upper case and the rest lower case ("bill" -> "Bill").
pub(crate) fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first
            .to_uppercase()
            .chain(c.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}

/// The eight digits of a date as `YYYYMMDD`.
fn date_digits(d: Date) -> Option<[u8; 8]> {
    if !(1000..=9999).contains(&d.year) {
        return None;
    }
    let s = format!("{:04}{:02}{:02}", d.year, d.month, d.day);
    let mut out = [0u8; 8];
    for (o, b) in out.iter_mut().zip(s.bytes()) {
        *o = b - b'0';
    }
    Some(out)
}

fn date_from_digits(d: [u8; 8]) -> Date {
    let n = |r: std::ops::Range<usize>| d[r].iter().fold(0u32, |a, &x| a * 10 + u32::from(x));
    Date {
        year: n(0..4) as i32,
        month: n(4..6),
        day: n(6..8),
    }
}

/// True for a real date from 1900 to `latest`: what a mistyped date of birth may become.
fn plausible(e: Date, latest: Date) -> bool {
    is_valid(e)
        && e.year >= 1900
        && (e.year, e.month, e.day) <= (latest.year, latest.month, latest.day)
}

/// A date with one digit mistyped, still a real date between 1900 and `latest`; `None` when
/// no such date was found in a few tries.
pub(crate) fn date_digit_error(rng: &mut Rng, d: Date, latest: Date) -> Option<Date> {
    let digits = date_digits(d)?;
    for _ in 0..20 {
        let mut x = digits;
        // The year's century is rarely mistyped: hit positions 2..8.
        let pos = 2 + rng.index(6);
        let new = rng.below(9) as u8;
        x[pos] = if new >= x[pos] { new + 1 } else { new };
        let e = date_from_digits(x);
        if plausible(e, latest) {
            return Some(e);
        }
    }
    None
}

/// A date with two adjacent, different digits transposed, still a real date between 1900 and
/// `latest`; `None` when there is none.
pub(crate) fn date_transposition(rng: &mut Rng, d: Date, latest: Date) -> Option<Date> {
    let digits = date_digits(d)?;
    let start = rng.index(6);
    for k in 0..6 {
        let pos = 2 + (start + k) % 6;
        if pos + 1 >= 8 || digits[pos] == digits[pos + 1] {
            continue;
        }
        let mut x = digits;
        x.swap(pos, pos + 1);
        let e = date_from_digits(x);
        if plausible(e, latest) {
            return Some(e);
        }
    }
    None
}

/// Ten NHS-number digits with one digit mistyped (the modulus-11 check always catches this).
pub(crate) fn digit_error(rng: &mut Rng, digits: &mut [u8]) {
    if digits.is_empty() {
        return;
    }
    let pos = rng.index(digits.len());
    let new = b'0' + rng.below(9) as u8;
    digits[pos] = if new >= digits[pos] { new + 1 } else { new };
}

/// Two adjacent, different digits transposed (the modulus-11 check always catches this).
pub(crate) fn digit_transposition(rng: &mut Rng, digits: &mut [u8]) {
    let n = digits.len();
    if n < 2 {
        return;
    }
    let start = rng.index(n - 1);
    for k in 0..n - 1 {
        let pos = (start + k) % (n - 1);
        if digits[pos] != digits[pos + 1] {
            digits.swap(pos, pos + 1);
            return;
        }
    }
}

/// One character of a postcode mistyped: a letter for another letter, a digit for another
/// digit (the space is left alone).
pub(crate) fn postcode_typo(rng: &mut Rng, postcode: &str) -> String {
    let mut b: Vec<u8> = postcode.bytes().collect();
    let positions: Vec<usize> = (0..b.len()).filter(|&i| b[i] != b' ').collect();
    if positions.is_empty() {
        return postcode.to_owned();
    }
    let pos = positions[rng.index(positions.len())];
    let c = b[pos];
    b[pos] = if c.is_ascii_digit() {
        let new = b'0' + rng.below(9) as u8;
        if new >= c { new + 1 } else { new }
    } else {
        let new = b'A' + rng.below(25) as u8;
        if new >= c { new + 1 } else { new }
    };
    String::from_utf8(b).unwrap_or_else(|_| postcode.to_owned())
}

/// Spacing and case noise on a postcode: no space, lower case, two spaces, or both.
pub(crate) fn postcode_format_noise(rng: &mut Rng, postcode: &str) -> String {
    match rng.below(4) {
        0 => postcode.replace(' ', ""),
        1 => postcode.to_lowercase(),
        2 => postcode.replace(' ', "  "),
        _ => postcode.replace(' ', "").to_lowercase(),
    }
}

/// An extra space: leading, trailing, or doubled inside.
pub(crate) fn extra_space(rng: &mut Rng, s: &str) -> String {
    match rng.below(3) {
        0 => format!(" {s}"),
        1 if s.contains(' ') => s.replacen(' ', "  ", 1),
        _ => format!("{s} "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_change_the_name_by_one_edit() {
        let mut rng = Rng::new(1, 2, 3);
        for name in ["William", "Jo", "Zoë", "O'Brien"] {
            for _ in 0..200 {
                let t = typo(&mut rng, name);
                assert_ne!(t, name);
                let (a, b) = (name.chars().count(), t.chars().count());
                assert!(a.abs_diff(b) <= 1, "{name} -> {t}");
            }
        }
        assert_eq!(typo(&mut rng, ""), "");
    }

    #[test]
    fn stripping_diacritics_leaves_ascii() {
        for (a, b) in [
            ("Zoë", "Zoe"),
            ("Łukasz", "Lukasz"),
            ("Siân", "Sian"),
            ("Şahin", "Sahin"),
        ] {
            assert_eq!(strip_diacritics(a), b);
        }
        for name in super::super::tables::tables()
            .given
            .iter()
            .map(|g| &*g.name)
        {
            assert!(strip_diacritics(name).is_ascii(), "{name}");
        }
        for name in &super::super::tables::tables().surnames {
            assert!(strip_diacritics(name).is_ascii(), "{name}");
        }
    }

    #[test]
    fn date_errors_give_real_dates() {
        let mut rng = Rng::new(4, 5, 6);
        let d = Date {
            year: 1984,
            month: 11,
            day: 30,
        };
        let latest = Date {
            year: 2025,
            month: 1,
            day: 1,
        };
        for _ in 0..200 {
            if let Some(e) = date_digit_error(&mut rng, d, latest) {
                assert!(is_valid(e));
                assert_ne!(e, d);
            }
            if let Some(e) = date_transposition(&mut rng, d, latest) {
                assert!(is_valid(e));
                assert_ne!(e, d);
            }
        }
    }

    #[test]
    fn nhs_digit_errors_fail_the_check() {
        let mut rng = Rng::new(7, 8, 9);
        for _ in 0..200 {
            let mut d = *b"9434765919";
            digit_error(&mut rng, &mut d);
            assert!(!super::super::nhs::is_valid(
                std::str::from_utf8(&d).unwrap_or("")
            ));
            let mut d = *b"9434765919";
            digit_transposition(&mut rng, &mut d);
            assert!(!super::super::nhs::is_valid(
                std::str::from_utf8(&d).unwrap_or("")
            ));
        }
    }
}
