//! NHS numbers.

/// A valid NHS number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NhsNumber(u64);

impl NhsNumber {
    /// As an integer.
    pub fn to_u64(self) -> u64 {
        self.0
    }
    /// In the never-issued 999 test range.
    pub fn is_test_range(self) -> bool {
        self.0 / 10_000_000 == 999
    }
}

/// Why an NHS number was invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NhsProblem {
    /// Check digit wrong.
    CheckDigit,
}

impl NhsProblem {
    /// Name.
    pub fn as_str(self) -> &'static str {
        "check digit"
    }
}

/// Check digit of the first nine digits, `None` when it would be 10.
pub fn check_digit(first_nine: [u8; 9]) -> Option<u8> {
    todo!("{first_nine:?}")
}

/// Parses an NHS number.
pub fn parse_nhs_number(raw: &str) -> Result<Option<NhsNumber>, NhsProblem> {
    todo!("{raw}")
}
