//! Personal names: titles, placeholders, tokens, nicknames.
//!
//! [`normalise_name`] turns a typed name into space-separated folded tokens, or `None` when
//! the value is a placeholder rather than a name. The nickname table ([`canonical_given_name`],
//! [`are_nickname_variants`]) relates given-name tokens such as `bill` and `william`.

use std::borrow::Cow;
use std::sync::OnceLock;

use rustc_hash::FxHashMap;

use super::text::fold;

/// Titles removed from the start of a name.
const TITLES: &[&str] = &[
    "mr",
    "mrs",
    "ms",
    "miss",
    "mx",
    "dr",
    "prof",
    "professor",
    "rev",
    "revd",
    "reverend",
    "fr",
    "sir",
    "dame",
    "lady",
    "lord",
    "master",
];

/// Suffixes removed from the end of a name.
const SUFFIXES: &[&str] = &[
    "jr", "jnr", "junior", "snr", "sr", "senior", "ii", "iii", "iv",
];

/// Titles and suffixes that are never names: a value made only of these is a placeholder.
/// (`lord`, `lady`, `master`, `sir`, `dame`, `junior` and `senior` are also surnames.)
const NEVER_NAMES: &[&str] = &[
    "mr",
    "mrs",
    "ms",
    "miss",
    "mx",
    "dr",
    "prof",
    "professor",
    "rev",
    "revd",
    "reverend",
    "fr",
    "jr",
    "jnr",
    "snr",
    "sr",
    "ii",
    "iii",
    "iv",
];

/// Whole values (after folding, title and suffix removal) that mean "no name".
const PLACEHOLDERS: &[&str] = &[
    "unknown",
    "unk",
    "not known",
    "notknown",
    "nk",
    "xxx",
    "xx",
    "zzz",
    "zz",
    "test",
    "testing",
    "test patient",
    "testpatient",
    "patient",
    "no name",
    "noname",
    "unnamed",
    "anon",
    "anonymous",
    "none",
    "null",
    "not stated",
    "not given",
    "not recorded",
    "not applicable",
    "name unknown",
    "unknown name",
    "unknown patient",
    "unidentified",
    "dummy",
    "temp",
    "temporary",
    "refused",
    "withheld",
    "newborn",
    "infant",
];

/// First tokens that make the whole value a placeholder: newborns not yet named.
const PLACEHOLDER_FIRST: &[&str] = &[
    "baby",
    "babyof",
    "twin",
    "twins",
    "triplet",
    "triplets",
    "quad",
    "quadruplet",
];

/// Normalises a given name or surname: folded, titles and suffixes removed, hyphenated and
/// double-barrelled names split into space-separated tokens; `None` for placeholders.
///
/// Steps:
///
/// 1. [`super::text::fold`]: case, accents, apostrophes removed (`O'Brien` → `obrien`),
///    hyphens and other punctuation split tokens (`Smith-Jones` → `smith jones`). `Mc` and
///    `Mac` prefixes are kept as typed (`McDonald` → `mcdonald`, `Mc Donald` → `mc donald`).
/// 2. Leading titles are removed as whole tokens (`mr mrs ms miss mx dr prof professor rev
///    revd reverend fr sir dame lady lord master`), then trailing suffixes (`jr jnr junior snr
///    sr senior ii iii iv`), but never the last remaining token, so the surname `Lord` stays
///    `lord`.
/// 3. The result is `None` when it is a placeholder:
///    - empty;
///    - starting with `baby`, `babyof`, `twin`, `triplet` (and plurals), `quad`, or a token such
///      as `twin1`, `twina`, `baby2`: "Baby of Smith", "TWIN 1", "Twin B";
///    - one of `unknown`, `not known`, `nk`, `n/k`, `xxx`, `zzz` (any run of two or more `x`
///      or `z`), `test`, `test patient`, `patient`, `no name`, `unnamed`, `anon`,
///      `anonymous`, `none`, `null`, `not stated`, `not given`, `dummy`, `newborn` and a few
///      more;
///    - made only of single ASCII characters (`J`, `A B`, `N/A`): initials are not names.
///      A single Chinese character is a name and is kept;
///    - made only of digits, or only of titles and suffixes that are never names (`Mr`,
///      `Mrs`).
///
/// The result is idempotent: normalising a normalised name returns it unchanged.
///
/// # Example
///
/// ```
/// use carematch::normalise::name::normalise_name;
///
/// assert_eq!(normalise_name("Mrs Mary-Ann O'Brien").as_deref(), Some("mary ann obrien"));
/// assert_eq!(normalise_name("Dr. José Smith-Jones Jr").as_deref(), Some("jose smith jones"));
/// assert_eq!(normalise_name("LORD").as_deref(), Some("lord"));
/// assert_eq!(normalise_name("Baby of Smith"), None);
/// assert_eq!(normalise_name("TWIN 1"), None);
/// assert_eq!(normalise_name("N/K"), None);
/// ```
pub fn normalise_name(raw: &str) -> Option<String> {
    let folded = fold(raw);
    let mut toks: Vec<&str> = tokens(&folded).collect();
    let leading = toks
        .iter()
        .take(toks.len().saturating_sub(1))
        .take_while(|t| TITLES.contains(t))
        .count();
    toks.drain(..leading);
    while toks.len() > 1 && toks.last().is_some_and(|t| SUFFIXES.contains(t)) {
        toks.pop();
    }
    if is_placeholder(&toks) {
        return None;
    }
    Some(toks.join(" "))
}

/// The tokens of a normalised name: its words, split on white space.
///
/// # Example
///
/// ```
/// use carematch::normalise::name::{normalise_name, tokens};
///
/// let name = normalise_name("Smith-Jones").unwrap_or_default();
/// assert_eq!(tokens(&name).collect::<Vec<_>>(), ["smith", "jones"]);
/// ```
pub fn tokens(name: &str) -> impl Iterator<Item = &str> {
    name.split_whitespace()
}

/// True when the tokens of a name (folded, titles and suffixes removed) are a placeholder.
fn is_placeholder(toks: &[&str]) -> bool {
    let Some(first) = toks.first() else {
        return true;
    };
    if toks.iter().all(|t| t.len() == 1)
        || toks.iter().all(|t| t.bytes().all(|b| b.is_ascii_digit()))
        || toks.iter().all(|t| NEVER_NAMES.contains(t))
    {
        return true;
    }
    if PLACEHOLDER_FIRST.contains(first)
        || first.starts_with("babyof")
        || PLACEHOLDER_FIRST.iter().any(|p| is_numbered(first, p))
    {
        return true;
    }
    if let [only] = toks {
        let b = only.as_bytes();
        if b.len() >= 2 && (b.iter().all(|&c| c == b'x') || b.iter().all(|&c| c == b'z')) {
            return true;
        }
    }
    // Short values only: placeholders are at most three words.
    toks.len() <= 3 && PLACEHOLDERS.contains(&toks.join(" ").as_str())
}

/// True for `twin1`, `twina`, `twin12`: `prefix` then digits, or then one letter a to d.
fn is_numbered(token: &str, prefix: &str) -> bool {
    match token.strip_prefix(prefix) {
        Some(rest) if !rest.is_empty() => {
            rest.bytes().all(|b| b.is_ascii_digit()) || matches!(rest, "a" | "b" | "c" | "d")
        }
        _ => false,
    }
}

/// The nickname table, as shipped.
const NICKNAMES: &str = include_str!("nicknames.txt");

/// Token → the formal names of every group it belongs to, sorted and deduplicated.
type NicknameMap = FxHashMap<&'static str, Vec<&'static str>>;

/// The parsed nickname table, built on first use.
fn nickname_map() -> &'static NicknameMap {
    static MAP: OnceLock<NicknameMap> = OnceLock::new();
    MAP.get_or_init(|| parse_nicknames(NICKNAMES))
}

/// Parses `formal: variant, variant` lines; `#` starts a comment; malformed lines are skipped
/// (a unit test checks that the shipped file has none).
fn parse_nicknames(text: &'static str) -> NicknameMap {
    let mut map = NicknameMap::default();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some((formal, variants)) = line.split_once(':') else {
            continue;
        };
        let formal = formal.trim();
        if formal.is_empty() {
            continue;
        }
        map.entry(formal).or_default().push(formal);
        for v in variants.split(',').map(str::trim).filter(|v| !v.is_empty()) {
            map.entry(v).or_default().push(formal);
        }
    }
    for formals in map.values_mut() {
        formals.sort_unstable();
        formals.dedup();
    }
    map
}

/// Folds a token unless it already is lower-case ASCII letters (the usual case).
fn folded_token(token: &str) -> Cow<'_, str> {
    if token.bytes().all(|b| b.is_ascii_lowercase()) {
        Cow::Borrowed(token)
    } else {
        Cow::Owned(fold(token))
    }
}

/// The canonical formal name of a given-name token that the nickname table knows.
///
/// A formal name maps to itself; a variant maps to its group's formal name, and a variant in
/// several groups to the alphabetically first of their formal names (`alex` → `alexander`,
/// not `alexandra`). `None` when the table does not know the token. The token should be
/// folded; one that is not (`Bill`) is folded first.
///
/// The table (`src/normalise/nicknames.txt`) holds about 300 groups of UK given names with
/// their diminutives, spelling variants and Welsh, Scottish and Irish forms.
///
/// # Example
///
/// ```
/// use carematch::normalise::name::canonical_given_name;
///
/// assert_eq!(canonical_given_name("bill"), Some("william"));
/// assert_eq!(canonical_given_name("william"), Some("william"));
/// assert_eq!(canonical_given_name("alex"), Some("alexander"));
/// assert_eq!(canonical_given_name("Peggy"), Some("margaret"));
/// assert_eq!(canonical_given_name("zebedee"), None);
/// ```
pub fn canonical_given_name(token: &str) -> Option<&'static str> {
    let token = folded_token(token);
    let formals = nickname_map().get(token.as_ref())?;
    formals
        .iter()
        .find(|f| **f == token.as_ref())
        .or_else(|| formals.first())
        .copied()
}

/// True when two given-name tokens are variants of one name per the nickname table.
///
/// True when `a` and `b` are equal (and not empty), or belong to a common group of the table:
/// a formal name and one of its variants (`william`, `bill`), or two variants of one name
/// (`bill`, `liam`; `alex`, `sandy`). Symmetric. Tokens should be folded; ones that are not
/// are folded first.
///
/// # Example
///
/// ```
/// use carematch::normalise::name::are_nickname_variants;
///
/// assert!(are_nickname_variants("bill", "william"));
/// assert!(are_nickname_variants("peggy", "maggie"));
/// assert!(are_nickname_variants("zebedee", "zebedee"));
/// assert!(!are_nickname_variants("william", "robert"));
/// ```
pub fn are_nickname_variants(a: &str, b: &str) -> bool {
    let (a, b) = (folded_token(a), folded_token(b));
    if a.is_empty() || b.is_empty() {
        return false;
    }
    if a == b {
        return true;
    }
    let map = nickname_map();
    match (map.get(a.as_ref()), map.get(b.as_ref())) {
        (Some(fa), Some(fb)) => groups_meet(fa, fb),
        _ => false,
    }
}

/// The nickname table's tokens, sorted, each with the formal names whose groups it is in
/// (sorted): what [`are_nickname_variants`] intersects, numbered by [`nickname_index`].
fn nickname_list() -> &'static [(&'static str, &'static [&'static str])] {
    static LIST: OnceLock<Vec<(&'static str, &'static [&'static str])>> = OnceLock::new();
    LIST.get_or_init(|| {
        let mut v: Vec<_> = nickname_map()
            .iter()
            .map(|(k, f)| (*k, f.as_slice()))
            .collect();
        v.sort_unstable();
        v
    })
}

/// The position of a folded given-name token in the nickname table, `None` when the table
/// does not know it. Every position fits a name's sketch (a test holds the table to that;
/// one that did not would be left to the strings, slower but alike).
pub(crate) fn nickname_index(folded: &str) -> Option<usize> {
    nickname_list()
        .binary_search_by(|(k, _)| k.cmp(&folded))
        .ok()
}

/// The formal names of the token at `index` (see [`nickname_index`]).
pub(crate) fn nickname_groups_at(index: usize) -> &'static [&'static str] {
    nickname_list()[index].1
}

/// True when two tokens' [`nickname_groups`] share a formal name.
pub(crate) fn groups_meet(a: &[&str], b: &[&str]) -> bool {
    a.iter().any(|f| b.binary_search(f).is_ok())
}

/// True when `token` is what [`are_nickname_variants`] compares it as: lower-case ASCII
/// letters, so that two such tokens are variants when equal, or when their groups meet.
pub(crate) fn is_folded_token(token: &str) -> bool {
    !token.is_empty() && token.bytes().all(|b| b.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn n(s: &str) -> Option<String> {
        normalise_name(s)
    }

    /// Every token's position fits a name's sketch, so every plain token's nickname test
    /// goes without its strings; the numbering finds each token's groups.
    #[test]
    fn every_nickname_position_fits_a_sketch() {
        assert!(
            nickname_list().len() <= crate::compare::similarity::NICKNAME_POSITIONS,
            "{}",
            nickname_list().len()
        );
        let bill = nickname_index("bill").unwrap();
        assert!(nickname_groups_at(bill).contains(&"william"));
        assert_eq!(nickname_index("zebedee"), None);
    }

    #[test]
    fn apostrophes_and_prefixes() {
        assert_eq!(n("O'Brien").as_deref(), Some("obrien"));
        assert_eq!(n("O’Neill").as_deref(), Some("oneill"));
        assert_eq!(n("D'Arcy").as_deref(), Some("darcy"));
        assert_eq!(n("McDonald").as_deref(), Some("mcdonald"));
        assert_eq!(n("MacLeod").as_deref(), Some("macleod"));
        assert_eq!(n("Mc Donald").as_deref(), Some("mc donald"));
        assert_eq!(n("van der Berg").as_deref(), Some("van der berg"));
    }

    #[test]
    fn double_barrelled() {
        assert_eq!(n("Smith-Jones").as_deref(), Some("smith jones"));
        assert_eq!(n("SMITH - JONES").as_deref(), Some("smith jones"));
        assert_eq!(n("Bowes-Lyon").as_deref(), Some("bowes lyon"));
        assert_eq!(n("Mary Ann").as_deref(), Some("mary ann"));
    }

    #[test]
    fn titles_and_suffixes() {
        assert_eq!(n("Mr John Smith").as_deref(), Some("john smith"));
        assert_eq!(n("MRS. J. SMITH").as_deref(), Some("j smith"));
        assert_eq!(n("Prof Sir Alan Jones").as_deref(), Some("alan jones"));
        assert_eq!(n("Revd Dr Jones").as_deref(), Some("jones"));
        assert_eq!(n("John Smith Jr.").as_deref(), Some("john smith"));
        assert_eq!(n("Henry Ford III").as_deref(), Some("henry ford"));
        // Titles only at the start, suffixes only at the end.
        assert_eq!(n("Smith Mr").as_deref(), Some("smith mr"));
        assert_eq!(n("Jr Smith").as_deref(), Some("jr smith"));
        // Title-like surnames survive on their own.
        assert_eq!(n("Lord").as_deref(), Some("lord"));
        assert_eq!(n("Mr Lord").as_deref(), Some("lord"));
        assert_eq!(n("Master").as_deref(), Some("master"));
        assert_eq!(n("Senior").as_deref(), Some("senior"));
        // Title-only values are placeholders.
        assert_eq!(n("Mr"), None);
        assert_eq!(n("Mrs."), None);
        assert_eq!(n("Mr Mrs"), None);
    }

    #[test]
    fn diacritics_and_scripts() {
        assert_eq!(n("José").as_deref(), Some("jose"));
        assert_eq!(n("Zoë").as_deref(), Some("zoe"));
        assert_eq!(n("Łukasz").as_deref(), Some("lukasz"));
        assert_eq!(n("Siân").as_deref(), Some("sian"));
        assert_eq!(n("محمد").as_deref(), Some("محمد"));
        // A single Han character is a complete given name.
        assert_eq!(n("伟").as_deref(), Some("伟"));
        assert_eq!(n("王 伟").as_deref(), Some("王 伟"));
    }

    #[test]
    fn newborn_placeholders() {
        for s in [
            "Baby",
            "BABY",
            "Baby of Smith",
            "BABY OF JONES",
            "Babyof Smith",
            "BabyOfSmith",
            "Baby 2",
            "Baby Boy",
            "Twin",
            "TWIN 1",
            "Twin 2",
            "twin a",
            "Twin B",
            "Twin1",
            "TWIN-2",
            "Triplet 3",
            "triplet c",
            "Mrs Baby",
        ] {
            assert_eq!(n(s), None, "{s:?}");
        }
        // Not placeholders: names that merely start like one.
        assert_eq!(n("Twining").as_deref(), Some("twining"));
        assert_eq!(n("Babyface").as_deref(), Some("babyface"));
    }

    #[test]
    fn other_placeholders() {
        for s in [
            "",
            "   ",
            "-",
            "Unknown",
            "UNKNOWN",
            "Not Known",
            "NK",
            "N/K",
            "n.k.",
            "XXX",
            "xxxxx",
            "ZZZ",
            "Test",
            "Test Patient",
            "Patient",
            "No Name",
            "Unnamed",
            "Anon",
            "Anonymous",
            "null",
            "N/A",
            "J",
            "J.",
            "A B",
            "A.B.C.",
            "123",
            "Mr Unknown",
        ] {
            assert_eq!(n(s), None, "{s:?}");
        }
        assert_eq!(n("Unknown Smith").as_deref(), Some("unknown smith"));
        assert_eq!(n("Xu").as_deref(), Some("xu"));
        assert_eq!(n("J Smith").as_deref(), Some("j smith"));
        assert_eq!(n("Testa").as_deref(), Some("testa"));
    }

    #[test]
    fn tokens_split() {
        assert_eq!(
            tokens("mary ann  obrien").collect::<Vec<_>>(),
            ["mary", "ann", "obrien"]
        );
        assert_eq!(tokens("").count(), 0);
    }

    #[test]
    fn nicknames_canonical() {
        assert_eq!(canonical_given_name("bill"), Some("william"));
        assert_eq!(canonical_given_name("liam"), Some("william"));
        assert_eq!(canonical_given_name("william"), Some("william"));
        assert_eq!(canonical_given_name("peggy"), Some("margaret"));
        assert_eq!(canonical_given_name("bob"), Some("robert"));
        assert_eq!(canonical_given_name("liz"), Some("elizabeth"));
        assert_eq!(canonical_given_name("alex"), Some("alexander"));
        assert_eq!(canonical_given_name("sandy"), Some("alexander"));
        assert_eq!(canonical_given_name("chris"), Some("christian"));
        // A formal name that is also a variant elsewhere maps to itself.
        assert_eq!(canonical_given_name("sandra"), Some("sandra"));
        assert_eq!(canonical_given_name("kathleen"), Some("kathleen"));
        assert_eq!(canonical_given_name("BILL"), Some("william"));
        assert_eq!(canonical_given_name("Siân"), Some("jane"));
        assert_eq!(canonical_given_name("muhammad"), Some("mohammed"));
        assert_eq!(canonical_given_name("zebedee"), None);
        assert_eq!(canonical_given_name(""), None);
        assert_eq!(canonical_given_name("bill william"), None);
    }

    #[test]
    fn nicknames_variants() {
        assert!(are_nickname_variants("bill", "william"));
        assert!(are_nickname_variants("william", "bill"));
        assert!(are_nickname_variants("bill", "liam"));
        assert!(are_nickname_variants("alex", "alexandra"));
        assert!(are_nickname_variants("alex", "alexander"));
        assert!(are_nickname_variants("sandy", "sandra"));
        assert!(are_nickname_variants("peggy", "margaret"));
        assert!(are_nickname_variants("Bob", "ROBERT"));
        assert!(are_nickname_variants("smith", "smith"));
        assert!(!are_nickname_variants("", ""));
        assert!(!are_nickname_variants("bill", "robert"));
        assert!(!are_nickname_variants("alexander", "alexandra"));
        assert!(!are_nickname_variants("john", "james"));
        assert!(!are_nickname_variants("bill", "zebedee"));
    }

    /// The shipped table is well formed and as large as promised.
    #[test]
    fn nickname_file_is_well_formed() {
        let mut formals = Vec::new();
        let mut variants = Vec::new();
        for line in NICKNAMES.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (formal, rest) = line.split_once(": ").expect("formal: variants");
            assert!(formal.bytes().all(|b| b.is_ascii_lowercase()), "{line}");
            let vs: Vec<&str> = rest.split(", ").collect();
            for v in &vs {
                assert!(
                    !v.is_empty() && v.bytes().all(|b| b.is_ascii_lowercase()),
                    "{line}"
                );
                assert_ne!(*v, formal, "{line}");
            }
            let mut sorted = vs.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), vs.len(), "duplicate variant in {line}");
            formals.push(formal);
            variants.extend(vs);
        }
        assert!(
            formals.windows(2).all(|w| w[0] < w[1]),
            "groups not sorted or duplicated"
        );
        variants.sort_unstable();
        variants.dedup();
        assert!(formals.len() >= 150, "{} formal names", formals.len());
        assert!(variants.len() >= 300, "{} variants", variants.len());
        // Both sexes are covered.
        for f in [
            "william",
            "elizabeth",
            "margaret",
            "robert",
            "alexandra",
            "mohammed",
        ] {
            assert!(formals.contains(&f), "{f}");
        }
        assert_eq!(
            nickname_map().get("william").map(std::vec::Vec::len),
            Some(1)
        );
    }

    proptest! {
        #[test]
        fn normalise_name_is_idempotent(s in "\\PC{0,30}") {
            if let Some(once) = normalise_name(&s) {
                prop_assert_eq!(normalise_name(&once), Some(once.clone()));
                prop_assert!(!once.is_empty() && !once.contains("  "));
            }
        }

        #[test]
        fn normalise_name_is_idempotent_on_name_like(
            s in "(mr|mrs|lord|baby|twin|unknown|[A-Za-z']{1,8})([ .-](mr|jr|lord|of|[A-Za-z']{1,8})){0,4}"
        ) {
            if let Some(once) = normalise_name(&s) {
                prop_assert_eq!(normalise_name(&once), Some(once.clone()));
            }
        }

        #[test]
        fn nickname_variants_symmetric(a in "[a-z]{2,6}|bill|alex|sandy|peggy", b in "[a-z]{2,6}|william|sandra|maggie") {
            prop_assert_eq!(are_nickname_variants(&a, &b), are_nickname_variants(&b, &a));
            if let Some(c) = canonical_given_name(&a) {
                prop_assert!(are_nickname_variants(&a, c));
                prop_assert_eq!(canonical_given_name(c), Some(c));
            }
        }
    }
}
