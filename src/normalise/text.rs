//! Text folding shared by every other normaliser.
//!
//! [`fold`] is the first step of every text normaliser in this crate: it turns the many ways
//! people and systems type the same letters (case, accents, compatibility forms, punctuation,
//! odd spaces) into one form.

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// How many times a character produced by lower-casing is fed back through decomposition
/// before it is given up as a separator. In practice one level is enough (`İ`); the bound
/// only guarantees termination, and the exhaustive test checks idempotence either way.
const MAX_DEPTH: u8 = 3;

/// Folds free text for comparison.
///
/// In order, for each character:
///
/// 1. apostrophes are removed without leaving a gap, so `O'Brien` becomes `obrien`. An
///    apostrophe is any of `'` (U+0027), `’` (U+2019), `‘` (U+2018), `` ` `` (U+0060),
///    `ʼ` (U+02BC), `´` (U+00B4, often typed for an apostrophe) and `′` (U+2032), and anything
///    whose compatibility decomposition is one of them (the full-width `＇`);
/// 2. Unicode compatibility decomposition (NFKD) is applied and combining marks are removed
///    (`José` → `jose`, `Zoë` → `zoe`, `ﬁ` → `fi`, `²` → `2`, `Ⅻ` → `xii`);
/// 3. the result is lower-cased; lower-casing that yields something NFKD would change again
///    (`İ` → `i` + U+0307) goes back through step 2;
/// 4. a few Latin letters that NFKD does not decompose are spelt in ASCII, as UK systems that
///    cannot store them do: `ł`→`l`, `ø`→`o`, `đ`/`ð`→`d`, `þ`→`th`, `ß`→`ss`, `æ`→`ae`,
///    `œ`→`oe`, `ı`→`i`, `ħ`→`h`, `ŧ`→`t` (so `Łukasz` → `lukasz`, `Søren` → `soren`);
/// 5. **punctuation rule:** every character that is not alphanumeric (Unicode
///    `Alphabetic` or `Numeric`) becomes a space: hyphens, full stops, commas, slashes,
///    brackets, symbols, control characters and all kinds of white space alike, so
///    `Smith-Jones` → `smith jones` and `N/K` → `n k`;
/// 6. runs of spaces are collapsed to one ASCII space and leading and trailing spaces are
///    trimmed.
///
/// Letters of non-Latin scripts (Arabic, Chinese, Cyrillic, Greek, Devanagari ...) are kept,
/// though their combining marks are removed like any other (Arabic harakat, Greek tonos,
/// Cyrillic `й` → `и`, Devanagari vowel signs).
///
/// The output has no upper-case letter, no combining mark, no double space and no leading or
/// trailing space, and `fold` is idempotent: `fold(&fold(s)) == fold(s)` for every string.
/// Pure-ASCII input, the common case, takes a byte-level fast path.
///
/// # Example
///
/// ```
/// use carematch::normalise::text::fold;
///
/// assert_eq!(fold("  Mary-Ann O'BRIEN  "), "mary ann obrien");
/// assert_eq!(fold("José  Łukasz Zoë"), "jose lukasz zoe");
/// assert_eq!(fold("N/K"), "n k");
/// assert_eq!(fold("محمد 王伟"), "محمد 王伟");
/// assert_eq!(fold(&fold("Straße")), fold("Straße"));
/// ```
pub fn fold(s: &str) -> String {
    let mut out = Folder {
        out: String::with_capacity(s.len()),
        gap: false,
    };
    if s.is_ascii() {
        for b in s.bytes() {
            out.ascii(b);
        }
    } else {
        for c in s.chars() {
            out.feed(c, 0);
        }
    }
    out.out
}

/// True for the characters [`fold`] removes as apostrophes.
fn is_apostrophe(c: char) -> bool {
    matches!(
        c,
        '\'' | '\u{2019}' | '\u{2018}' | '`' | '\u{02BC}' | '\u{00B4}' | '\u{2032}'
    )
}

/// The ASCII spelling of a lower-case letter that NFKD leaves alone.
fn ascii_spelling(c: char) -> Option<&'static str> {
    Some(match c {
        'ł' => "l",
        'ø' => "o",
        'đ' | 'ð' => "d",
        'þ' => "th",
        'ß' => "ss",
        'æ' => "ae",
        'œ' => "oe",
        'ı' => "i",
        'ħ' => "h",
        'ŧ' => "t",
        _ => return None,
    })
}

/// True when folding `c` would output `c` itself (if it is alphanumeric): it has no
/// decomposition, is not a combining mark, lower-cases to itself and is not upper case.
fn is_stable(c: char) -> bool {
    if is_combining_mark(c) || c.is_uppercase() {
        return false;
    }
    let mut lower = c.to_lowercase();
    if lower.next() != Some(c) || lower.next().is_some() {
        return false;
    }
    let mut same = true;
    let mut count = 0u8;
    decompose_compatible(c, |d| {
        count = count.saturating_add(1);
        same &= d == c;
    });
    same && count == 1
}

/// Output being built: folded text and whether a separator is pending.
struct Folder {
    out: String,
    gap: bool,
}

impl Folder {
    /// Appends a character known to be a folded alphanumeric.
    fn push(&mut self, c: char) {
        if self.gap && !self.out.is_empty() {
            self.out.push(' ');
        }
        self.gap = false;
        self.out.push(c);
    }

    /// One ASCII byte.
    fn ascii(&mut self, b: u8) {
        match b {
            b'\'' | b'`' => {}
            _ if b.is_ascii_alphanumeric() => self.push(char::from(b.to_ascii_lowercase())),
            _ => self.gap = true,
        }
    }

    /// A character that is already folded but may be punctuation.
    fn emit(&mut self, c: char) {
        if is_apostrophe(c) {
        } else if c.is_alphanumeric() {
            self.push(c);
        } else {
            self.gap = true;
        }
    }

    /// Any character.
    fn feed(&mut self, c: char, depth: u8) {
        if c.is_ascii() {
            // ASCII never decomposes; `c as u8` is exact here.
            self.ascii(c as u8);
            return;
        }
        if is_apostrophe(c) {
            return;
        }
        decompose_compatible(c, |d| self.decomposed(d, depth));
    }

    /// One character of the compatibility decomposition of an input character.
    fn decomposed(&mut self, d: char, depth: u8) {
        if is_combining_mark(d) {
            return;
        }
        for l in d.to_lowercase() {
            if let Some(spelling) = ascii_spelling(l) {
                spelling.chars().for_each(|a| self.push(a));
            } else if l.is_ascii() || is_stable(l) {
                self.emit(l);
            } else if depth < MAX_DEPTH {
                self.feed(l, depth + 1);
            } else {
                self.gap = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The properties every output of `fold` must have.
    fn assert_folded(input: &str, f: &str) {
        assert_eq!(fold(f), f, "not idempotent for {input:?}");
        assert!(!f.starts_with(' ') && !f.ends_with(' '), "{input:?}");
        assert!(!f.contains("  "), "{input:?}");
        assert!(!f.chars().any(char::is_uppercase), "{input:?} -> {f:?}");
        assert!(!f.chars().any(is_combining_mark), "{input:?} -> {f:?}");
        assert!(
            f.chars().all(|c| c == ' ' || c.is_alphanumeric()),
            "{input:?} -> {f:?}"
        );
    }

    #[test]
    fn ascii_cases() {
        assert_eq!(fold("O'Brien"), "obrien");
        assert_eq!(fold("O`Brien"), "obrien");
        assert_eq!(fold("SMITH-JONES"), "smith jones");
        assert_eq!(fold("  McDonald\t\tMacLeod \r\n"), "mcdonald macleod");
        assert_eq!(fold("Dr. J. Smith, Jr."), "dr j smith jr");
        assert_eq!(fold("12a High St."), "12a high st");
        assert_eq!(fold("n/k"), "n k");
        assert_eq!(fold("---"), "");
        assert_eq!(fold(""), "");
        assert_eq!(fold("a\0b\x7fc"), "a b c");
    }

    #[test]
    fn curly_and_other_apostrophes() {
        for s in [
            "O\u{2019}Brien",
            "O\u{2018}Brien",
            "O\u{02BC}Brien",
            "O\u{00B4}Brien",
            "O\u{2032}Brien",
            "O\u{FF07}Brien",
        ] {
            assert_eq!(fold(s), "obrien", "{s:?}");
        }
    }

    #[test]
    fn diacritics_and_ligatures() {
        assert_eq!(fold("José"), "jose");
        assert_eq!(fold("Zoë"), "zoe");
        assert_eq!(fold("ZOË"), "zoe");
        assert_eq!(fold("Łukasz Wałęsa"), "lukasz walesa");
        assert_eq!(fold("Søren Ørsted"), "soren orsted");
        assert_eq!(fold("Straße STRASSE"), "strasse strasse");
        assert_eq!(fold("Æthelred Œuvre"), "aethelred oeuvre");
        assert_eq!(fold("Đorđević"), "dordevic");
        assert_eq!(fold("Þór Guðmundsdóttir"), "thor gudmundsdottir");
        assert_eq!(fold("Siân Gwenllïan"), "sian gwenllian");
        assert_eq!(fold("Seán Ó Briain"), "sean o briain");
        assert_eq!(fold("Müller-Lüdenscheidt"), "muller ludenscheidt");
        assert_eq!(fold("Çelik Şahin Yılmaz"), "celik sahin yilmaz");
        assert_eq!(fold("ﬁnlay"), "finlay");
    }

    #[test]
    fn compatibility_forms() {
        assert_eq!(fold("ＪＯＨＮ"), "john");
        assert_eq!(fold("Ⅻ"), "xii");
        assert_eq!(fold("x²"), "x2");
        assert_eq!(fold("½"), "1 2");
        assert_eq!(fold("㎒"), "mhz");
        assert_eq!(fold("Ⓐnna"), "anna");
        assert_eq!(fold("a\u{00A0}b\u{2003}c\u{200B}d"), "a b c d");
    }

    #[test]
    fn idempotence_traps() {
        // Lower-casing İ gives i + combining dot above.
        assert_eq!(fold("İSTANBUL"), "istanbul");
        // NFKD of ㎒ gives an upper-case M.
        assert_eq!(fold("㎒"), fold(&fold("㎒")));
        // Capital sharp s lower-cases to ß, which is then spelt ss.
        assert_eq!(fold("\u{1E9E}"), "ss");
        for s in ["İ", "㎒", "\u{1E9E}", "ǅ", "ǈ", "ᾈ", "ϒ", "ŀ"] {
            assert_folded(s, &fold(s));
        }
    }

    #[test]
    fn other_scripts_are_kept() {
        assert_eq!(fold("محمد علي"), "محمد علي");
        assert_eq!(fold("王伟"), "王伟");
        assert_eq!(fold("Иван Петров"), "иван петров");
        assert_eq!(fold("Γιώργος"), "γιωργος");
        assert_eq!(fold("שרה"), "שרה");
        // Arabic harakat are combining marks.
        assert_eq!(fold("مُحَمَّد"), "محمد");
        // Full-width CJK punctuation separates.
        assert_eq!(fold("王，伟"), "王 伟");
    }

    /// Every single scalar value: the output is folded and folding it again changes nothing.
    #[test]
    fn every_char_is_idempotent() {
        let mut s = String::new();
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            s.clear();
            s.push('a');
            s.push(c);
            s.push('b');
            assert_folded(&s, &fold(&s));
        }
    }

    /// The ASCII fast path agrees with the general path.
    #[test]
    fn ascii_fast_path_matches_general_path() {
        let general = |s: &str| {
            let mut f = Folder {
                out: String::new(),
                gap: false,
            };
            s.chars().for_each(|c| {
                if c.is_ascii() {
                    f.emit(c.to_ascii_lowercase());
                } else {
                    f.feed(c, 0);
                }
            });
            f.out
        };
        let mut all = String::new();
        for b in 0u8..=127 {
            let s = format!("x{}y", char::from(b));
            assert_eq!(fold(&s), general(&s), "{b}");
            all.push(char::from(b));
        }
        assert_eq!(fold(&all), general(&all));
    }

    fn unicode_string() -> impl Strategy<Value = String> {
        prop::collection::vec(any::<char>(), 0..24).prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        #[test]
        fn fold_is_idempotent_and_clean(s in unicode_string()) {
            let f = fold(&s);
            prop_assert_eq!(fold(&f), f.clone());
            prop_assert!(!f.starts_with(' ') && !f.ends_with(' '));
            prop_assert!(!f.contains("  "));
            prop_assert!(!f.chars().any(char::is_uppercase));
        }

        #[test]
        fn fold_ascii_is_idempotent(s in "[ -~\t\n]{0,40}") {
            let f = fold(&s);
            prop_assert_eq!(fold(&f), f.clone());
            prop_assert!(f.bytes().all(|b| b == b' ' || b.is_ascii_lowercase() || b.is_ascii_digit()));
        }

        #[test]
        fn fold_ignores_case_of_ascii(s in "[A-Za-z' -]{0,30}") {
            prop_assert_eq!(fold(&s.to_ascii_uppercase()), fold(&s.to_ascii_lowercase()));
        }
    }
}
