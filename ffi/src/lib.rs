//! C ABI for carematch.

/// Placeholder.
pub fn placeholder() {}
