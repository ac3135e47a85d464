//! Personal names: titles, placeholders, tokens, nicknames.

/// Normalises a given name or surname: folded, titles and suffixes removed, hyphenated and
/// double-barrelled names split into space-separated tokens; `None` for placeholders.
pub fn normalise_name(raw: &str) -> Option<String> {
    todo!("{raw}")
}

/// The canonical formal name of a given-name token that the nickname table knows.
pub fn canonical_given_name(token: &str) -> Option<&'static str> {
    todo!("{token}")
}

/// True when two given-name tokens are variants of one name per the nickname table.
pub fn are_nickname_variants(a: &str, b: &str) -> bool {
    todo!("{a}{b}")
}
