//! String similarity, allocation-free for the short ASCII strings names are.

/// Jaro-Winkler similarity in 0.0..=1.0, equal to `strsim::jaro_winkler` (prefix scale 0.1,
/// prefix at most 4, applied when the Jaro similarity is above 0.7).
///
/// Strings of ASCII up to 64 bytes take a path with bit masks and no allocation; anything
/// else is handed to `strsim`.
///
/// # Example
///
/// ```
/// use carematch::compare::jaro_winkler;
/// assert!((jaro_winkler("martha", "marhta") - 0.9611).abs() < 1e-4);
/// assert_eq!(jaro_winkler("ann", "ann"), 1.0);
/// ```
pub fn jaro_winkler(a: &str, b: &str) -> f64 {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    if x.len() > 64 || y.len() > 64 || !a.is_ascii() || !b.is_ascii() {
        return strsim::jaro_winkler(a, b);
    }
    let sim = jaro_ascii(x, y);
    if sim > 0.7 {
        let prefix = x.iter().zip(y).take(4).take_while(|(p, q)| p == q).count();
        sim + 0.1 * prefix as f64 * (1.0 - sim)
    } else {
        sim
    }
}

/// What bounds a name's Jaro-Winkler similarity to another without reading either string:
/// the letters it holds (a bit per lowercase ASCII letter; any other byte sets one of six
/// shared bits), its length, and its first byte. Kept per dictionary value, 8 bytes where
/// the string costs two cache misses to reach.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Sketch(u64);

impl Sketch {
    /// Set when the string is ASCII of 1 to 64 bytes: the mask and length bound
    /// [`jaro_winkler`] (whose fast path takes such strings).
    const BOUNDS: u64 = 1 << 40;
    /// Set when the string is not empty; its first byte is then in bits 41..49.
    const HAS_FIRST: u64 = 1 << 49;
    /// For given names: set when the first token is plain lower-case ASCII (nickname
    /// variants are then known from token ids and the table); bits 51..62 then hold the
    /// token's position in the nickname table plus one, or 0 when the table lacks it.
    const PLAIN: u64 = 1 << 50;
    const NICKNAME_SHIFT: u32 = 51;

    pub(crate) fn of(s: &str) -> Sketch {
        let b = s.as_bytes();
        let mut v = b
            .first()
            .map_or(0, |&c| Sketch::HAS_FIRST | (u64::from(c) << 41));
        if s.is_ascii() && (1..=64).contains(&b.len()) {
            let mask = b.iter().fold(0u32, |m, &c| {
                m | if c.is_ascii_lowercase() {
                    1 << (c - b'a')
                } else {
                    1 << (26 + c % 6)
                }
            });
            v |= u64::from(mask) | ((b.len() as u64) << 32) | Sketch::BOUNDS;
        }
        Sketch(v)
    }

    /// This sketch with its given name's first token's [`Token`] standing.
    pub(crate) fn with_token(self, token: Token) -> Sketch {
        match token {
            // A position that does not fit the 13 bits left is left to the strings.
            Token::Plain(i) if i.is_none_or(|i| i < NICKNAME_POSITIONS) => Sketch(
                self.0 | Sketch::PLAIN | (i.map_or(0, |i| i as u64 + 1) << Sketch::NICKNAME_SHIFT),
            ),
            Token::Plain(_) | Token::Other => self,
        }
    }

    /// The first token's standing, as given to [`Sketch::with_token`].
    #[inline]
    pub(crate) fn token(self) -> Token {
        if self.0 & Sketch::PLAIN == 0 {
            return Token::Other;
        }
        Token::Plain(((self.0 >> Sketch::NICKNAME_SHIFT) as usize).checked_sub(1))
    }

    /// The first byte, `None` for the empty string. Different first bytes mean different
    /// first characters.
    #[inline]
    pub(crate) fn first(self) -> Option<u8> {
        (self.0 & Sketch::HAS_FIRST != 0).then_some((self.0 >> 41) as u8)
    }
}

/// Positions in the nickname table a sketch can hold (13 bits, position plus one).
pub(crate) const NICKNAME_POSITIONS: usize = (1 << 13) - 1;

/// A given name's first token as the nickname test sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Token {
    /// Plain lower-case ASCII, at this position of the nickname table (a sketch holds
    /// positions below [`NICKNAME_POSITIONS`]; others are left to the strings) if the
    /// table knows it: variants of another plain token are then known without strings.
    Plain(Option<usize>),
    /// Anything else: only the strings tell.
    Other,
}

/// An upper bound of [`jaro_winkler`] of the two strings sketched (1.0 when a sketch bounds
/// nothing). Each match pairs a byte of one string with an equal byte of the other, so the
/// matches are at most the bytes of either string whose mask bit the other holds: the shared
/// bits, plus the bytes that repeat a bit of their own string. With that count `m` and no
/// transpositions, Jaro is at most (m/|a| + m/|b| + 1)/3, and the Winkler bonus at most
/// four prefix bytes' worth.
#[inline]
pub(crate) fn jaro_winkler_bound(a: Sketch, b: Sketch) -> f64 {
    if a.0 & b.0 & Sketch::BOUNDS == 0 {
        return 1.0;
    }
    let (ma, mb) = (a.0 as u32, b.0 as u32);
    let (la, lb) = (((a.0 >> 32) & 0xFF) as u32, ((b.0 >> 32) & 0xFF) as u32);
    let repeats = (la - ma.count_ones()).min(lb - mb.count_ones());
    let m = ((ma & mb).count_ones() + repeats).min(la).min(lb);
    if m == 0 {
        return 0.0;
    }
    let m = f64::from(m);
    let jaro = (m / f64::from(la) + m / f64::from(lb) + 1.0) / 3.0;
    if jaro > 0.7 {
        jaro + 0.4 * (1.0 - jaro)
    } else {
        jaro
    }
}

/// Jaro similarity of two ASCII strings of at most 64 bytes.
fn jaro_ascii(a: &[u8], b: &[u8]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let range = (a.len().max(b.len()) / 2).saturating_sub(1);
    let (mut a_flags, mut b_flags) = (0u64, 0u64);
    let mut matches = 0usize;
    for (i, &c) in a.iter().enumerate() {
        let lo = i.saturating_sub(range);
        let hi = (i + range + 1).min(b.len());
        for (j, &d) in b.iter().enumerate().take(hi).skip(lo) {
            if b_flags & (1 << j) == 0 && d == c {
                a_flags |= 1 << i;
                b_flags |= 1 << j;
                matches += 1;
                break;
            }
        }
    }
    if matches == 0 {
        return 0.0;
    }
    let mut transpositions = 0usize;
    let mut j = 0usize;
    for (i, &c) in a.iter().enumerate() {
        if a_flags & (1 << i) != 0 {
            while b_flags & (1 << j) == 0 {
                j += 1;
            }
            if b[j] != c {
                transpositions += 1;
            }
            j += 1;
        }
    }
    let m = matches as f64;
    let t = (transpositions / 2) as f64;
    (m / a.len() as f64 + m / b.len() as f64 + (m - t) / m) / 3.0
}

/// Jaccard similarity of two sorted, de-duplicated lists; 1.0 when both are empty.
pub(crate) fn jaccard_sorted<T: Ord>(a: &[T], b: &[T]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let common = common_sorted(a, b);
    common as f64 / (a.len() + b.len() - common) as f64
}

/// The number of elements two sorted, distinct slices share.
pub(crate) fn common_sorted<T: Ord>(a: &[T], b: &[T]) -> usize {
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    common
}

/// True when two equal-length digit arrays differ by one substitution or one adjacent
/// transposition.
pub(crate) fn one_digit_apart(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
    match diff.as_slice() {
        [_] => true,
        [i, j] => *j == i + 1 && a[*i] == b[*j] && a[*j] == b[*i],
        _ => false,
    }
}

/// True when two different byte strings are one edit apart: one byte substituted, inserted
/// or deleted, or two adjacent bytes transposed (restricted Damerau-Levenshtein distance 1).
pub(crate) fn one_edit_apart(a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return false;
    }
    if a.len() == b.len() {
        return one_digit_apart(a, b);
    }
    let (short, long) = if a.len() < b.len() { (a, b) } else { (b, a) };
    if long.len() - short.len() != 1 {
        return false;
    }
    let i = short.iter().zip(long).take_while(|(x, y)| x == y).count();
    short[i..] == long[i + 1..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values() {
        assert!((jaro_winkler("dwayne", "duane") - 0.84).abs() < 1e-9);
        assert!((jaro_winkler("dixon", "dicksonx") - 0.8133).abs() < 1e-4);
        assert_eq!(jaro_winkler("", ""), 1.0);
        assert_eq!(jaro_winkler("a", ""), 0.0);
        assert_eq!(jaro_winkler("abc", "xyz"), 0.0);
    }

    /// A token's nickname position comes back from the sketch; one too large for it is left
    /// to the strings rather than cut short.
    #[test]
    fn a_sketch_holds_a_nickname_position_or_leaves_it_to_the_strings() {
        let s = Sketch::of("bill");
        for t in [
            Token::Plain(None),
            Token::Plain(Some(0)),
            Token::Plain(Some(1_163)),
        ] {
            assert_eq!(s.with_token(t).token(), t);
            assert_eq!(s.with_token(t).first(), Some(b'b'));
        }
        assert_eq!(
            s.with_token(Token::Plain(Some(NICKNAME_POSITIONS - 1)))
                .token(),
            Token::Plain(Some(NICKNAME_POSITIONS - 1))
        );
        assert_eq!(
            s.with_token(Token::Plain(Some(NICKNAME_POSITIONS))).token(),
            Token::Other
        );
        assert_eq!(s.with_token(Token::Other).token(), Token::Other);
    }

    /// Names sharing few letters are bounded below the name thresholds (0.88): the
    /// comparison skips Jaro-Winkler for them. Anagrams are not.
    #[test]
    fn names_sharing_few_letters_are_bounded_low() {
        let bound = |a: &str, b: &str| jaro_winkler_bound(Sketch::of(a), Sketch::of(b));
        assert!(bound("smith", "jones") < 0.5);
        assert_eq!(bound("john", "mary"), 0.0);
        assert!(bound("amelia", "emilia") >= 0.88);
        assert_eq!(bound("mary", "army"), 1.0);
        assert_eq!(bound("zoë", "zoe"), 1.0, "no bound off the fast path");
    }

    #[test]
    fn one_edit_apart_is_restricted_damerau_levenshtein_one() {
        assert!(one_edit_apart(b"1234567", b"1234568"));
        assert!(one_edit_apart(b"1234567", b"1243567"));
        assert!(one_edit_apart(b"1234567", b"123567"));
        assert!(one_edit_apart(b"123456", b"1234567"));
        assert!(!one_edit_apart(b"1234567", b"1234567"));
        assert!(!one_edit_apart(b"1234567", b"2143567"));
        assert!(!one_edit_apart(b"1234567", b"12345"));
        assert!(one_edit_apart(b"", b"1"));
    }

    #[test]
    fn jaccard_counts_shared_tokens() {
        assert!((jaccard_sorted(&[1, 2, 3], &[2, 3, 4]) - 0.5).abs() < 1e-12);
        assert_eq!(jaccard_sorted::<u32>(&[], &[1]), 0.0);
        assert_eq!(jaccard_sorted::<u32>(&[], &[]), 1.0);
    }

    #[test]
    fn one_digit_apart_finds_substitutions_and_adjacent_swaps() {
        assert!(one_digit_apart(b"12345", b"12845"));
        assert!(one_digit_apart(b"12345", b"12354"));
        assert!(!one_digit_apart(b"12345", b"12345"));
        assert!(!one_digit_apart(b"12345", b"52341"));
        assert!(!one_digit_apart(b"12345", b"1234"));
    }

    proptest! {
        /// The fast path is an oracle match for strsim on ASCII names.
        #[test]
        fn fast_jaro_winkler_equals_strsim(a in "[a-e ]{0,12}", b in "[a-e ]{0,12}") {
            let fast = jaro_winkler(&a, &b);
            let slow = strsim::jaro_winkler(&a, &b);
            prop_assert!((fast - slow).abs() < 1e-12, "{a:?} {b:?}: {fast} vs {slow}");
        }

        /// The sketches' bound is never below the similarity, on names with repeated
        /// letters, spaces, hyphens, digits, and strings the bound does not cover.
        #[test]
        fn the_sketch_bound_is_at_least_jaro_winkler(
            a in "[a-f ' -]{0,12}|[a-z]{0,70}|\\PC{0,6}",
            b in "[a-f ' -]{0,12}|[a-z]{0,70}|\\PC{0,6}",
        ) {
            let (sa, sb) = (Sketch::of(&a), Sketch::of(&b));
            let bound = jaro_winkler_bound(sa, sb);
            let sim = jaro_winkler(&a, &b);
            prop_assert!(bound >= sim, "{a:?} {b:?}: bound {bound} below {sim}");
            prop_assert_eq!(bound, jaro_winkler_bound(sb, sa));
            if sa.first() != sb.first() {
                prop_assert_ne!(a.chars().next(), b.chars().next());
            }
        }

        /// Similarity is symmetric and in range.
        #[test]
        fn jaro_winkler_is_symmetric_and_bounded(a in "\\PC{0,10}", b in "\\PC{0,10}") {
            let s = jaro_winkler(&a, &b);
            prop_assert!((0.0..=1.0).contains(&s));
            prop_assert!((s - jaro_winkler(&b, &a)).abs() < 1e-12);
        }
    }
}
