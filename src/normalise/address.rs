//! Address lines.
//!
//! [`normalise_address`] folds an address and spells out the abbreviations UK systems use
//! for thoroughfares and flats, so `12 High St.` and `12 HIGH STREET` compare equal.

use super::text::fold;

/// Abbreviations expanded as whole tokens. No expansion is itself a key, which keeps
/// [`normalise_address`] idempotent.
const ABBREVIATIONS: &[(&str, &str)] = &[
    ("apt", "flat"),
    ("av", "avenue"),
    ("ave", "avenue"),
    ("bldg", "building"),
    ("bldgs", "buildings"),
    ("blvd", "boulevard"),
    ("cl", "close"),
    ("clo", "close"),
    ("cott", "cottage"),
    ("cotts", "cottages"),
    ("cres", "crescent"),
    ("cresc", "crescent"),
    ("crt", "court"),
    ("ct", "court"),
    ("ctr", "centre"),
    ("dr", "drive"),
    ("drv", "drive"),
    ("est", "estate"),
    ("flt", "flat"),
    ("gdn", "garden"),
    ("gdns", "gardens"),
    ("gr", "grove"),
    ("grn", "green"),
    ("grv", "grove"),
    ("hse", "house"),
    ("hts", "heights"),
    ("ln", "lane"),
    ("lwr", "lower"),
    ("mt", "mount"),
    ("pde", "parade"),
    ("pk", "park"),
    ("pl", "place"),
    ("rd", "road"),
    ("sq", "square"),
    ("tce", "terrace"),
    ("ter", "terrace"),
    ("terr", "terrace"),
    ("upr", "upper"),
    ("vw", "view"),
    ("wk", "walk"),
    ("wy", "way"),
    ("yd", "yard"),
];

/// Thoroughfare words after which `st` starts a new name (`Church Street St Albans`).
const THOROUGHFARES: &[&str] = &[
    "avenue", "close", "court", "crescent", "drive", "gardens", "green", "grove", "hill", "lane",
    "mews", "parade", "park", "place", "road", "row", "square", "street", "terrace", "walk", "way",
];

/// Whole values that mean "no address".
const PLACEHOLDERS: &[&str] = &[
    "unknown",
    "unk",
    "not known",
    "notknown",
    "nk",
    "n k",
    "n a",
    "none",
    "null",
    "no address",
    "address unknown",
    "unknown address",
    "not stated",
    "not given",
    "not recorded",
    "not applicable",
    "homeless",
    "x",
    "xx",
    "xxx",
    "zzz",
    "test",
];

/// Normalises an address.
///
/// Steps:
///
/// 1. [`super::text::fold`]: case, accents, apostrophes (`St Mary's` → `st marys`);
///    commas, full stops, slashes and other punctuation become spaces.
/// 2. Whole-token abbreviations are spelt out: `rd` road, `ave`/`av` avenue, `ln` lane,
///    `cl`/`clo` close, `cres` crescent, `dr` drive, `ct`/`crt` court, `gdns` gardens,
///    `pl` place, `sq` square, `gr`/`grv` grove, `pk` park, `terr`/`ter`/`tce` terrace,
///    `apt`/`flt` flat, `hse` house, `pde` parade, `wk` walk, and a few more.
/// 3. **`st` rule:** `st` means *saint* when it is the first token, follows a token starting
///    with a digit (a house or flat number: `12 St Marys Road`), or follows a thoroughfare
///    word (`Church Street St Albans`); there `st` is kept and `saint` is written `st`.
///    Anywhere else (`High St`, `High St Leeds`) `st` becomes `street`. The rule looks only
///    at the previous token, so an address with its commas removed gets the same result.
/// 4. `None` when the result is empty or a placeholder: `unknown`, `not known`, `nk`, `n/k`, `n/a`,
///    `none`, `no address`, `homeless`, `xxx` and the like, and any address starting with
///    `nfa` or `no fixed abode`/`address` (A&E records often write `NFA - Leeds`).
///
/// Idempotent: normalising a normalised address returns it unchanged.
///
/// # Example
///
/// ```
/// use carematch::normalise::address::normalise_address;
///
/// assert_eq!(
///     normalise_address("Flat 2, 12 St. Mary's Rd").as_deref(),
///     Some("flat 2 12 st marys road")
/// );
/// assert_eq!(normalise_address("1 High St, Leeds").as_deref(), Some("1 high street leeds"));
/// assert_eq!(normalise_address("N.F.A."), None);
/// ```
pub fn normalise_address(raw: &str) -> Option<String> {
    let folded = fold(raw);
    let mut text = String::with_capacity(folded.len() + 8);
    // The previous word: "st" after a number or a thoroughfare (or first) is "saint".
    let mut prev: Option<&str> = None;
    for token in folded.split(' ').filter(|t| !t.is_empty()) {
        let word = match token {
            "st" | "saint" => {
                let saint_position = prev.is_none_or(|p| {
                    p.starts_with(|c: char| c.is_ascii_digit()) || THOROUGHFARES.contains(&p)
                });
                if saint_position {
                    "st"
                } else if token == "st" {
                    "street"
                } else {
                    token
                }
            }
            // Every abbreviation is of two to five letters.
            _ if (2..=5).contains(&token.len())
                && !token.starts_with(|c: char| c.is_ascii_digit()) =>
            {
                ABBREVIATIONS
                    .iter()
                    .find(|(abbr, _)| *abbr == token)
                    .map_or(token, |(_, full)| full)
            }
            _ => token,
        };
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(word);
        prev = Some(word);
    }
    if is_placeholder(&text) {
        return None;
    }
    Some(text)
}

/// True for an empty or placeholder address (already normalised).
fn is_placeholder(text: &str) -> bool {
    text.is_empty()
        || PLACEHOLDERS.contains(&text)
        || starts_with_phrase(text, "nfa")
        || starts_with_phrase(text, "n f a")
        || starts_with_phrase(text, "no fixed abode")
        || starts_with_phrase(text, "no fixed address")
        || starts_with_phrase(text, "of no fixed abode")
}

/// True when `text` is `phrase` or starts with `phrase` followed by a space.
fn starts_with_phrase(text: &str, phrase: &str) -> bool {
    text.strip_prefix(phrase)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn a(s: &str) -> Option<String> {
        normalise_address(s)
    }

    #[test]
    fn every_abbreviation_is_two_to_five_letters() {
        // `normalise_address` looks only such tokens up.
        for (abbr, _) in ABBREVIATIONS {
            assert!((2..=5).contains(&abbr.len()), "{abbr}");
            assert!(abbr.bytes().all(|b| b.is_ascii_lowercase()), "{abbr}");
        }
    }

    #[test]
    fn abbreviations() {
        assert_eq!(a("12 Acacia Ave").as_deref(), Some("12 acacia avenue"));
        assert_eq!(a("12 ACACIA AV.").as_deref(), Some("12 acacia avenue"));
        assert_eq!(a("3 Mill Ln").as_deref(), Some("3 mill lane"));
        assert_eq!(a("4 Rose Cl").as_deref(), Some("4 rose close"));
        assert_eq!(a("5 Moon Cres").as_deref(), Some("5 moon crescent"));
        assert_eq!(a("6 Park Dr").as_deref(), Some("6 park drive"));
        assert_eq!(a("7 Kings Ct").as_deref(), Some("7 kings court"));
        assert_eq!(a("8 Queens Gdns").as_deref(), Some("8 queens gardens"));
        assert_eq!(a("9 Eaton Pl").as_deref(), Some("9 eaton place"));
        assert_eq!(a("10 Market Sq").as_deref(), Some("10 market square"));
        assert_eq!(a("11 Elm Gr").as_deref(), Some("11 elm grove"));
        assert_eq!(a("11 Elm Grv").as_deref(), Some("11 elm grove"));
        assert_eq!(a("12 Hyde Pk").as_deref(), Some("12 hyde park"));
        assert_eq!(a("13 Royal Terr").as_deref(), Some("13 royal terrace"));
        assert_eq!(a("13 Royal Ter.").as_deref(), Some("13 royal terrace"));
        assert_eq!(a("Apt 4, 1 Dock Rd").as_deref(), Some("flat 4 1 dock road"));
        assert_eq!(
            a("Flt 4 1 Dock Road").as_deref(),
            Some("flat 4 1 dock road")
        );
        // Only whole tokens: `rd` inside a word is untouched.
        assert_eq!(a("Ford Rd").as_deref(), Some("ford road"));
        assert_eq!(a("Drake Ave").as_deref(), Some("drake avenue"));
    }

    #[test]
    fn street_and_saint() {
        assert_eq!(a("1 High St").as_deref(), Some("1 high street"));
        assert_eq!(
            a("1 High St, Leeds").as_deref(),
            Some("1 high street leeds")
        );
        assert_eq!(a("1 High St Leeds").as_deref(), Some("1 high street leeds"));
        assert_eq!(a("12 St Marys Road").as_deref(), Some("12 st marys road"));
        assert_eq!(
            a("12 Saint Mary's Road").as_deref(),
            Some("12 st marys road")
        );
        assert_eq!(a("St Johns Court").as_deref(), Some("st johns court"));
        assert_eq!(
            a("Flat 3, St Johns Ct").as_deref(),
            Some("flat 3 st johns court")
        );
        assert_eq!(
            a("4 Church St, St Albans").as_deref(),
            Some("4 church street st albans")
        );
        assert_eq!(a("4 Church Street, St Albans"), a("4 Church St, St Albans"));
        // `saint` after an ordinary word is left alone.
        assert_eq!(a("Port Saint Mary").as_deref(), Some("port saint mary"));
    }

    #[test]
    fn folding() {
        assert_eq!(
            a("  FLAT 2/3,  O'Connell HSE.\n").as_deref(),
            Some("flat 2 3 oconnell house")
        );
        assert_eq!(a("Rue de l’Église").as_deref(), Some("rue de leglise"));
    }

    #[test]
    fn placeholders() {
        for s in [
            "",
            "  ,, ",
            "NFA",
            "N.F.A.",
            "nfa - Leeds",
            "No Fixed Abode",
            "NO FIXED ADDRESS",
            "Unknown",
            "Not Known",
            "N/K",
            "N/A",
            "none",
            "XXX",
            "Homeless",
        ] {
            assert_eq!(a(s), None, "{s:?}");
        }
        assert_eq!(a("Nfald Road").as_deref(), Some("nfald road"));
        assert_eq!(a("Unknown Lane").as_deref(), Some("unknown lane"));
    }

    proptest! {
        #[test]
        fn normalise_address_is_idempotent(s in "\\PC{0,30}") {
            if let Some(once) = normalise_address(&s) {
                prop_assert_eq!(normalise_address(&once), Some(once.clone()));
            }
        }

        #[test]
        fn normalise_address_is_idempotent_on_address_like(
            s in "([0-9]{1,3}[a-b]?|st|saint|street|rd|road|high|church|flat|apt|nfa|[a-z]{1,6})([ ,.](st|saint|street|rd|road|dr|[0-9]{1,2}|[a-z]{1,6})){0,6}"
        ) {
            if let Some(once) = normalise_address(&s) {
                prop_assert_eq!(normalise_address(&once), Some(once.clone()));
                prop_assert!(!once.split(' ').any(|t| ABBREVIATIONS.iter().any(|(k, _)| *k == t)));
            }
        }
    }
}
