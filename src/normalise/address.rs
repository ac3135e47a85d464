//! Address lines.

/// Normalises an address.
pub fn normalise_address(raw: &str) -> Option<String> {
    todo!("{raw}")
}
