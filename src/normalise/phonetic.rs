//! Phonetic codes for names.

/// American Soundex of a folded name token.
pub fn soundex(name: &str) -> Option<String> {
    todo!("{name}")
}

/// NYSIIS code of a folded name token.
pub fn nysiis(name: &str) -> Option<String> {
    todo!("{name}")
}
