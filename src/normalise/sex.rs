//! Sex codes.

/// Sex.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sex {
    /// Male.
    Male,
    /// Female.
    Female,
}

/// Why a sex code was invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SexProblem {
    /// Not a known code.
    Unrecognised,
}

impl SexProblem {
    /// Name.
    pub fn as_str(self) -> &'static str {
        "unrecognised code"
    }
}

/// Parses a sex code.
pub fn parse_sex(raw: &str) -> Result<Option<Sex>, SexProblem> {
    todo!("{raw}")
}
