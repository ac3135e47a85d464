//! Text folding shared by every other normaliser.

/// Folds free text for comparison.
///
/// Unicode NFKD with combining marks removed, lower case, apostrophes removed, every other
/// character that is neither alphanumeric nor whitespace replaced by a space, whitespace
/// collapsed to single spaces and trimmed. Letters of non-Latin scripts are kept.
pub fn fold(s: &str) -> String {
    todo!("{s}")
}
