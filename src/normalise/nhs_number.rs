//! NHS numbers.
//!
//! An NHS number is ten digits, the last a modulus 11 check digit over the first nine
//! ([`check_digit`]). The check catches every single mistyped digit and every swap of two
//! adjacent different digits.

use std::fmt;

/// A valid NHS number: ten digits with a correct check digit, not all the same digit.
///
/// `Debug` is redacted (`NhsNumber(..)`); `Display` writes the ten digits without spaces,
/// which [`parse_nhs_number`] reads back to the same number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NhsNumber(u64);

impl fmt::Debug for NhsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NhsNumber(..)")
    }
}

impl fmt::Display for NhsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:010}", self.0)
    }
}

/// The ten digits of `v` (numbers `0..=9`), most significant first.
fn digits_of(mut v: u64) -> [u8; 10] {
    let mut out = [0u8; 10];
    for slot in out.iter_mut().rev() {
        *slot = (v % 10) as u8;
        v /= 10;
    }
    out
}

/// Whether ten digits are a valid NHS number (check digit right, not one repeated digit).
fn validate(digits: &[u8; 10]) -> Result<(), NhsProblem> {
    if digits.iter().all(|&d| d == digits[0]) {
        return Err(NhsProblem::Placeholder);
    }
    let [first_nine @ .., last] = *digits;
    match check_digit(first_nine) {
        Some(c) if c == last => Ok(()),
        _ => Err(NhsProblem::CheckDigit),
    }
}

impl NhsNumber {
    /// As an integer.
    pub fn to_u64(self) -> u64 {
        self.0
    }
    /// In the never-issued 999 test range.
    pub fn is_test_range(self) -> bool {
        self.0 / 10_000_000 == 999
    }

    /// The ten digits as numbers `0..=9` (not ASCII), most significant first.
    ///
    /// # Example
    ///
    /// ```
    /// use carematch::normalise::nhs_number::NhsNumber;
    ///
    /// let n = NhsNumber::from_u64(943_476_5919).unwrap();
    /// assert_eq!(n.digits(), [9, 4, 3, 4, 7, 6, 5, 9, 1, 9]);
    /// ```
    pub fn digits(self) -> [u8; 10] {
        digits_of(self.0)
    }

    /// A valid NHS number from its integer value, or `None` when `v` has more than ten
    /// digits, a wrong check digit or is a repeated-digit placeholder.
    ///
    /// # Example
    ///
    /// ```
    /// use carematch::normalise::nhs_number::NhsNumber;
    ///
    /// assert!(NhsNumber::from_u64(943_476_5919).is_some());
    /// assert!(NhsNumber::from_u64(943_476_5918).is_none());
    /// assert!(NhsNumber::from_u64(0).is_none());
    /// ```
    pub fn from_u64(v: u64) -> Option<NhsNumber> {
        if v > 9_999_999_999 {
            return None;
        }
        validate(&digits_of(v)).ok().map(|()| NhsNumber(v))
    }

    /// The NHS number whose first nine digits are `first_nine` (leading zeros implied), with
    /// the check digit appended; `None` when `first_nine` has more than nine digits, when no
    /// check digit exists (it would be 10) or when the result is a placeholder. For test-data
    /// generators: use the 999 prefix for numbers that can never belong to a real patient.
    ///
    /// # Example
    ///
    /// ```
    /// use carematch::normalise::nhs_number::NhsNumber;
    ///
    /// let n = NhsNumber::from_first_nine(943_476_591).unwrap();
    /// assert_eq!(n.to_string(), "9434765919");
    /// assert!(NhsNumber::from_first_nine(999_000_001).unwrap().is_test_range());
    /// ```
    pub fn from_first_nine(first_nine: u64) -> Option<NhsNumber> {
        if first_nine > 999_999_999 {
            return None;
        }
        let d = digits_of(first_nine);
        let mut nine = [0u8; 9];
        nine.copy_from_slice(&d[1..]);
        let check = check_digit(nine)?;
        NhsNumber::from_u64(first_nine * 10 + u64::from(check))
    }
}

/// Why an NHS number was invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NhsProblem {
    /// Check digit wrong (or the first nine digits have no check digit).
    CheckDigit,
    /// Not ten digits once spaces and hyphens are removed.
    WrongLength,
    /// Contains something other than digits, spaces and hyphens.
    NotDigits,
    /// One digit repeated ten times (`0000000000`, `1111111111`, ...), a placeholder.
    Placeholder,
}

impl NhsProblem {
    /// Name.
    pub fn as_str(self) -> &'static str {
        match self {
            NhsProblem::CheckDigit => "check digit",
            NhsProblem::WrongLength => "wrong length",
            NhsProblem::NotDigits => "not digits",
            NhsProblem::Placeholder => "placeholder number",
        }
    }
}

/// Check digit of the first nine digits, `None` when it would be 10.
///
/// Modulus 11: multiply the digits by 10, 9, ..., 2, sum, and subtract the remainder mod 11
/// from 11; 11 becomes 0, and 10 means the nine digits cannot start an NHS number. Each element
/// must be a digit value `0..=9` (not ASCII); any larger value gives `None`.
///
/// # Example
///
/// ```
/// use carematch::normalise::nhs_number::check_digit;
///
/// assert_eq!(check_digit([9, 4, 3, 4, 7, 6, 5, 9, 1]), Some(9));
/// assert_eq!(check_digit([0; 9]), Some(0));
/// ```
pub fn check_digit(first_nine: [u8; 9]) -> Option<u8> {
    let mut sum: u32 = 0;
    for (d, weight) in first_nine.into_iter().zip((2..=10u32).rev()) {
        if d > 9 {
            return None;
        }
        sum += u32::from(d) * weight;
    }
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        c => Some(c as u8),
    }
}

/// Parses an NHS number.
///
/// Surrounding whitespace, and spaces and hyphens anywhere, are removed (`943 476 5919`,
/// `943-476-5919`); nothing else is. Empty or blank input is missing (`Ok(None)`).
///
/// # Errors
///
/// [`NhsProblem::NotDigits`] when anything else remains, [`NhsProblem::WrongLength`] when it is
/// not ten digits, [`NhsProblem::Placeholder`] for one digit repeated ten times and
/// [`NhsProblem::CheckDigit`] when the modulus 11 check fails.
///
/// # Example
///
/// ```
/// use carematch::normalise::nhs_number::{parse_nhs_number, NhsProblem};
///
/// let n = parse_nhs_number("943 476 5919")?.unwrap();
/// assert_eq!(n.to_string(), "9434765919");
/// assert_eq!(parse_nhs_number("943 476 5918"), Err(NhsProblem::CheckDigit));
/// assert_eq!(parse_nhs_number("0000000000"), Err(NhsProblem::Placeholder));
/// assert_eq!(parse_nhs_number("  "), Ok(None));
/// # Ok::<(), NhsProblem>(())
/// ```
pub fn parse_nhs_number(raw: &str) -> Result<Option<NhsNumber>, NhsProblem> {
    let mut digits = [0u8; 10];
    let mut len = 0usize;
    let mut not_digits = false;
    for &c in raw.trim().as_bytes() {
        match c {
            b' ' | b'-' => {}
            b'0'..=b'9' => {
                if let Some(slot) = digits.get_mut(len) {
                    *slot = c - b'0';
                }
                len += 1;
            }
            _ => not_digits = true,
        }
    }
    if not_digits {
        return Err(NhsProblem::NotDigits);
    }
    if len == 0 {
        return Ok(None);
    }
    if len != 10 {
        return Err(NhsProblem::WrongLength);
    }
    validate(&digits)?;
    let value = digits.iter().fold(0u64, |acc, &d| acc * 10 + u64::from(d));
    Ok(Some(NhsNumber(value)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn valid(s: &str) -> NhsNumber {
        match parse_nhs_number(s) {
            Ok(Some(n)) => n,
            other => panic!("expected a valid NHS number, got {other:?}"),
        }
    }

    #[test]
    fn check_digit_by_hand() {
        // 9*10+4*9+3*8+4*7+7*6+6*5+5*4+9*3+1*2 = 299; 299 mod 11 = 2; 11 - 2 = 9.
        assert_eq!(check_digit([9, 4, 3, 4, 7, 6, 5, 9, 1]), Some(9));
        // 4*10+0+1*8+0+2*6+3*5+2*4+1*3+3*2 = 92; 92 mod 11 = 4; 11 - 4 = 7.
        assert_eq!(check_digit([4, 0, 1, 0, 2, 3, 2, 1, 3]), Some(7));
        // Remainder 0 gives 11, which becomes 0.
        assert_eq!(check_digit([0; 9]), Some(0));
        // 1*10 = 10; 10 mod 11 = 10; 11 - 10 = 1.
        assert_eq!(check_digit([1, 0, 0, 0, 0, 0, 0, 0, 0]), Some(1));
        // 1*10 + 1*2 = 12; 12 mod 11 = 1; 11 - 1 = 10: no check digit.
        assert_eq!(check_digit([1, 0, 0, 0, 0, 0, 0, 0, 1]), None);
        // Not digit values.
        assert_eq!(check_digit([10, 0, 0, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(check_digit([b'9', 0, 0, 0, 0, 0, 0, 0, 0]), None);
    }

    #[test]
    fn known_valid_numbers() {
        assert_eq!(valid("9434765919").to_u64(), 9_434_765_919);
        assert_eq!(valid("4010232137").to_u64(), 4_010_232_137);
        assert_eq!(valid("943 476 5919").to_string(), "9434765919");
        assert_eq!(valid("943-476-5919").to_string(), "9434765919");
        assert_eq!(valid(" 401 023 2137\t").to_string(), "4010232137");
        assert_eq!(valid("9 4 3 4 7 6 5 9 1 9").to_u64(), 9_434_765_919);
        assert!(!valid("9434765919").is_test_range());
    }

    #[test]
    fn wrong_check_digit() {
        for last in 0..=9u8 {
            let s = format!("943476591{last}");
            let got = parse_nhs_number(&s);
            if last == 9 {
                assert!(matches!(got, Ok(Some(_))));
            } else {
                assert_eq!(got, Err(NhsProblem::CheckDigit), "{s}");
            }
        }
        // First nine digits with no possible check digit.
        assert_eq!(parse_nhs_number("1000000010"), Err(NhsProblem::CheckDigit));
    }

    #[test]
    fn every_placeholder() {
        for d in 0..=9u8 {
            let s: String = std::iter::repeat_n(char::from(b'0' + d), 10).collect();
            assert_eq!(parse_nhs_number(&s), Err(NhsProblem::Placeholder), "{s}");
        }
        // 0000000000 passes the modulus 11 check; it is still rejected.
        assert_eq!(check_digit([0; 9]), Some(0));
        assert_eq!(NhsNumber::from_u64(0), None);
        assert_eq!(NhsNumber::from_u64(1_111_111_111), None);
        assert_eq!(NhsNumber::from_first_nine(0), None);
        assert_eq!(NhsNumber::from_first_nine(111_111_111), None);
    }

    #[test]
    fn lengths_and_characters() {
        assert_eq!(parse_nhs_number(""), Ok(None));
        assert_eq!(parse_nhs_number("   "), Ok(None));
        assert_eq!(parse_nhs_number(" - "), Ok(None));
        assert_eq!(parse_nhs_number("943476591"), Err(NhsProblem::WrongLength));
        assert_eq!(
            parse_nhs_number("94347659190"),
            Err(NhsProblem::WrongLength)
        );
        assert_eq!(parse_nhs_number("9"), Err(NhsProblem::WrongLength));
        assert_eq!(
            parse_nhs_number(&"9".repeat(10_000)),
            Err(NhsProblem::WrongLength)
        );
        assert_eq!(parse_nhs_number("943.476.5919"), Err(NhsProblem::NotDigits));
        assert_eq!(parse_nhs_number("943_476_5919"), Err(NhsProblem::NotDigits));
        assert_eq!(
            parse_nhs_number("NHS9434765919"),
            Err(NhsProblem::NotDigits)
        );
        assert_eq!(parse_nhs_number("unknown"), Err(NhsProblem::NotDigits));
        // Full-width digits are not ASCII digits.
        assert_eq!(
            parse_nhs_number("９４３４７６５９１９"),
            Err(NhsProblem::NotDigits)
        );
        assert_eq!(
            parse_nhs_number("943\u{a0}476\u{a0}5919"),
            Err(NhsProblem::NotDigits)
        );
        assert_eq!(parse_nhs_number("🎉"), Err(NhsProblem::NotDigits));
    }

    #[test]
    fn leading_zero_round_trips() {
        // 012 345 678 -> check digit: 0+9+16+21+24+25+24+21+16 = 156; 156 mod 11 = 2 -> 9.
        let n = NhsNumber::from_first_nine(12_345_678).expect("valid");
        assert_eq!(n.to_string(), "0123456789");
        assert_eq!(parse_nhs_number(&n.to_string()), Ok(Some(n)));
    }

    #[test]
    fn from_u64_and_first_nine() {
        assert_eq!(
            NhsNumber::from_u64(9_434_765_919),
            Some(valid("9434765919"))
        );
        assert_eq!(NhsNumber::from_u64(19_434_765_919), None);
        assert_eq!(NhsNumber::from_u64(u64::MAX), None);
        assert_eq!(
            NhsNumber::from_first_nine(943_476_591),
            Some(valid("9434765919"))
        );
        assert_eq!(NhsNumber::from_first_nine(1_000_000_000), None);
        assert_eq!(NhsNumber::from_first_nine(100_000_001), None); // check would be 10
        let t = NhsNumber::from_first_nine(999_123_457).expect("valid");
        assert_eq!(NhsNumber::from_first_nine(999_123_456), None); // 320 mod 11 = 1: no check digit
        assert!(t.is_test_range());
    }

    #[test]
    fn debug_is_redacted() {
        let n = valid("9434765919");
        assert_eq!(format!("{n:?}"), "NhsNumber(..)");
        assert!(!format!("{:?}", Some(n)).contains('9'));
    }

    #[test]
    fn problem_names() {
        assert_eq!(NhsProblem::CheckDigit.as_str(), "check digit");
        assert_eq!(NhsProblem::WrongLength.as_str(), "wrong length");
        assert_eq!(NhsProblem::NotDigits.as_str(), "not digits");
        assert_eq!(NhsProblem::Placeholder.as_str(), "placeholder number");
    }

    fn any_valid() -> impl Strategy<Value = NhsNumber> {
        (0u64..=999_999_999).prop_filter_map("has a check digit", NhsNumber::from_first_nine)
    }

    fn parse_digits(d: &[u8; 10]) -> Result<Option<NhsNumber>, NhsProblem> {
        let s: String = d.iter().map(|&x| char::from(b'0' + x)).collect();
        parse_nhs_number(&s)
    }

    proptest! {
        #[test]
        fn every_single_digit_substitution_is_detected(n in any_valid()) {
            prop_assert_eq!(parse_nhs_number(&n.to_string()), Ok(Some(n)));
            let digits = n.digits();
            for pos in 0..10 {
                for sub in 0..=9u8 {
                    if sub == digits[pos] {
                        continue;
                    }
                    let mut wrong = digits;
                    wrong[pos] = sub;
                    let got = parse_digits(&wrong);
                    prop_assert!(
                        matches!(got, Err(NhsProblem::CheckDigit | NhsProblem::Placeholder)),
                        "substitution at {} not detected", pos
                    );
                }
            }
        }

        #[test]
        fn adjacent_transpositions_are_detected(n in any_valid()) {
            let digits = n.digits();
            for pos in 0..9 {
                if digits[pos] == digits[pos + 1] {
                    continue;
                }
                let mut wrong = digits;
                wrong.swap(pos, pos + 1);
                prop_assert!(parse_digits(&wrong).is_err(), "transposition at {} not detected", pos);
            }
        }

        #[test]
        fn display_round_trips(n in any_valid()) {
            prop_assert_eq!(NhsNumber::from_u64(n.to_u64()), Some(n));
            let spaced = format!("{} {} {}", &n.to_string()[..3], &n.to_string()[3..6], &n.to_string()[6..]);
            prop_assert_eq!(parse_nhs_number(&spaced), Ok(Some(n)));
        }

        #[test]
        fn parse_never_panics(s in "\\PC*") {
            let _ = parse_nhs_number(&s);
        }

        #[test]
        fn parse_never_panics_digits(s in "[0-9 -]{0,40}") {
            if let Ok(Some(n)) = parse_nhs_number(&s) {
                prop_assert_eq!(parse_nhs_number(&n.to_string()), Ok(Some(n)));
            }
        }
    }
}
