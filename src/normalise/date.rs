//! Dates of birth.
//!
//! [`parse_date`] reads the forms dates of birth take in NHS extracts (ISO, UK day-first with
//! `/`, `-` or `.`, compact `YYYYMMDD`, SQL timestamps) into a [`Date`]. Two-digit years are
//! never guessed, and the placeholder dates systems write for "unknown"
//! ([`PLACEHOLDER_DATES`]) count as missing.

use std::fmt;

/// Earliest year a [`Date`] may have.
pub const MIN_YEAR: u16 = 1850;
/// Latest year a [`Date`] may have.
pub const MAX_YEAR: u16 = 2199;

/// Dates that source systems write when the date of birth is unknown, as `(year, month, day)`.
///
/// [`parse_date`] returns `Ok(None)` for these, in any accepted format, before checking the
/// year range (so `1111-11-11` and `9999-12-31` are missing, not out of range):
/// 1900-01-01, 1800-01-01, 1899-12-31, 1901-01-01, 0001-01-01, 9999-12-31, 2999-12-31 and
/// 1111-11-11.
pub const PLACEHOLDER_DATES: &[(u16, u8, u8)] = &[
    (1900, 1, 1),
    (1800, 1, 1),
    (1899, 12, 31),
    (1901, 1, 1),
    (1, 1, 1),
    (9999, 12, 31),
    (2999, 12, 31),
    (1111, 11, 11),
];

/// A calendar date (proleptic Gregorian) with a year in `1850..=2199`.
///
/// `Debug` is redacted (`Date(..)`) because a date of birth is patient data; `Display` writes
/// the ISO form `YYYY-MM-DD`, which [`parse_date`] reads back to the same date.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Date(..)")
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Whether `year` is a Gregorian leap year (1900 is not, 2000 is).
fn is_leap(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// Days in `month` (1..=12) of `year`; 0 for a month out of range.
fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

impl Date {
    /// A valid date, or `None`.
    ///
    /// Valid means a year in `1850..=2199` ([`MIN_YEAR`]..=[`MAX_YEAR`]), a month in `1..=12`
    /// and a day that exists in that month, with Gregorian leap years (1900 is not a leap
    /// year, 2000 is).
    ///
    /// # Example
    ///
    /// ```
    /// use carematch::normalise::date::Date;
    ///
    /// assert!(Date::new(2000, 2, 29).is_some());
    /// assert!(Date::new(1900, 2, 29).is_none());
    /// assert!(Date::new(1980, 13, 1).is_none());
    /// assert!(Date::new(1849, 12, 31).is_none());
    /// ```
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
            return None;
        }
        if day == 0 || u32::from(day) > days_in_month(u32::from(year), u32::from(month)) {
            return None;
        }
        Some(Date { year, month, day })
    }
    /// Year.
    pub fn year(self) -> u16 {
        self.year
    }
    /// Month 1..=12.
    pub fn month(self) -> u8 {
        self.month
    }
    /// Day 1..=31.
    pub fn day(self) -> u8 {
        self.day
    }
    /// YYYYMMDD as an integer.
    pub fn to_u32(self) -> u32 {
        u32::from(self.year) * 10000 + u32::from(self.month) * 100 + u32::from(self.day)
    }
    /// Inverse of `to_u32`.
    pub fn from_u32(v: u32) -> Option<Date> {
        let year = u16::try_from(v / 10000).ok()?;
        Date::new(year, (v / 100 % 100) as u8, (v % 100) as u8)
    }

    /// The date with day and month exchanged, as when a US-style `MM/DD` date was read as UK
    /// `DD/MM`; `None` when that is not a valid date or is the same date.
    ///
    /// # Example
    ///
    /// ```
    /// use carematch::normalise::date::Date;
    ///
    /// let d = Date::new(1980, 2, 5).unwrap();
    /// assert_eq!(d.swapped_day_month(), Date::new(1980, 5, 2));
    /// assert_eq!(Date::new(1980, 2, 13).unwrap().swapped_day_month(), None);
    /// assert_eq!(Date::new(1980, 3, 3).unwrap().swapped_day_month(), None);
    /// ```
    pub fn swapped_day_month(self) -> Option<Date> {
        if self.day == self.month {
            return None;
        }
        Date::new(self.year, self.day, self.month)
    }

    /// Days since 1970-01-01 (negative before it), in the proleptic Gregorian calendar.
    ///
    /// The difference of two such numbers is the number of days between the dates.
    ///
    /// # Example
    ///
    /// ```
    /// use carematch::normalise::date::Date;
    ///
    /// assert_eq!(Date::new(1970, 1, 1).unwrap().days_since_epoch(), 0);
    /// assert_eq!(Date::new(2000, 3, 1).unwrap().days_since_epoch(), 11_017);
    /// assert_eq!(Date::new(1969, 12, 31).unwrap().days_since_epoch(), -1);
    /// ```
    pub fn days_since_epoch(self) -> i32 {
        // Howard Hinnant's days_from_civil: years start on 1 March so the leap day is last.
        let m = i32::from(self.month);
        let y = i32::from(self.year) - i32::from(m <= 2);
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400); // 0..=399
        let mp = (m + 9) % 12; // March = 0
        let doy = (153 * mp + 2) / 5 + i32::from(self.day) - 1; // 0..=365
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // 0..=146096
        era * 146_097 + doe - 719_468
    }

    /// Inverse of [`Date::days_since_epoch`]; `None` outside the supported years.
    ///
    /// # Example
    ///
    /// ```
    /// use carematch::normalise::date::Date;
    ///
    /// assert_eq!(Date::from_days_since_epoch(-1), Date::new(1969, 12, 31));
    /// assert_eq!(Date::from_days_since_epoch(i32::MAX), None);
    /// ```
    pub fn from_days_since_epoch(days: i32) -> Option<Date> {
        // Outside this range the year is out of range anyway; checking first avoids overflow.
        if !(-50_000..=100_000).contains(&days) {
            return None;
        }
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i32::from(month <= 2);
        Date::new(
            u16::try_from(year).ok()?,
            u8::try_from(month).ok()?,
            u8::try_from(day).ok()?,
        )
    }

    /// The eight digits of `YYYYMMDD` as numbers `0..=9` (not ASCII), for digit-level
    /// comparisons such as "one digit typed wrong".
    ///
    /// # Example
    ///
    /// ```
    /// use carematch::normalise::date::Date;
    ///
    /// let d = Date::new(1980, 2, 1).unwrap();
    /// assert_eq!(d.digits(), [1, 9, 8, 0, 0, 2, 0, 1]);
    /// ```
    pub fn digits(self) -> [u8; 8] {
        let mut v = self.to_u32();
        let mut out = [0u8; 8];
        for slot in out.iter_mut().rev() {
            *slot = (v % 10) as u8;
            v /= 10;
        }
        out
    }
}

/// Why a date was invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateProblem {
    /// Not in a recognised format.
    Unparseable,
    /// A recognised format with a two-digit year, which is not guessed.
    TwoDigitYear,
    /// A date that does not exist, such as 31 February or month 13.
    Impossible,
    /// A real date, but with a year outside `1850..=2199`.
    OutOfRange,
}

impl DateProblem {
    /// Name of the problem.
    pub fn as_str(self) -> &'static str {
        match self {
            DateProblem::Unparseable => "unparseable",
            DateProblem::TwoDigitYear => "two-digit year",
            DateProblem::Impossible => "impossible date",
            DateProblem::OutOfRange => "year out of range",
        }
    }
}

/// A run of ASCII digits at the start of `b`: its value (saturating, so long runs cannot
/// overflow) and length.
fn digit_run(b: &[u8]) -> (u32, usize) {
    let mut value: u32 = 0;
    let mut len = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            break;
        }
        value = value.saturating_mul(10).saturating_add(u32::from(c - b'0'));
        len += 1;
    }
    (value, len)
}

/// Month number of a three-letter English month abbreviation, any case.
fn month_abbrev(b: &[u8]) -> Option<u32> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"JAN", b"FEB", b"MAR", b"APR", b"MAY", b"JUN", b"JUL", b"AUG", b"SEP", b"OCT", b"NOV",
        b"DEC",
    ];
    let pos = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(b))?;
    u32::try_from(pos).ok().map(|p| p + 1)
}

/// Parses the date part (no time) into (year, month, day) without checking that they make a
/// date.
fn parse_date_part(b: &[u8]) -> Result<(u32, u32, u32), DateProblem> {
    use DateProblem::{TwoDigitYear, Unparseable};
    let (v1, n1) = digit_run(b);
    if n1 == b.len() {
        return match n1 {
            8 => Ok((v1 / 10_000, v1 / 100 % 100, v1 % 100)),
            6 => Err(TwoDigitYear),
            _ => Err(Unparseable),
        };
    }
    if n1 == 0 {
        return Err(Unparseable);
    }
    let sep = b.get(n1).copied().ok_or(Unparseable)?;
    if !matches!(sep, b'-' | b'/' | b'.') {
        return Err(Unparseable);
    }
    let rest = b.get(n1 + 1..).ok_or(Unparseable)?;
    // The middle field: a number, or a month abbreviation as Oracle writes ("01-FEB-1980").
    let (v2, n2, named_month) = match digit_run(rest) {
        (_, 0) => {
            let m = rest.get(..3).and_then(month_abbrev).ok_or(Unparseable)?;
            (m, 3, true)
        }
        (v, n) => (v, n, false),
    };
    if rest.get(n2) != Some(&sep) {
        return Err(Unparseable);
    }
    let last = rest.get(n2 + 1..).ok_or(Unparseable)?;
    let (v3, n3) = digit_run(last);
    if n3 != last.len() || (!(1..=2).contains(&n2) && !named_month) {
        return Err(Unparseable);
    }
    match (n1, n3) {
        (4, 1..=2) if !named_month => Ok((v1, v2, v3)),
        (1..=2, 4) => Ok((v3, v2, v1)),
        (1..=2, 2) => Err(TwoDigitYear),
        _ => Err(Unparseable),
    }
}

/// Checks a time of day as SQL exports write it after a date: `H:MM`, `HH:MM:SS`, optional
/// fraction of a second, optional `AM`/`PM`, `Z` or `+HH:MM` offset.
fn is_time(b: &[u8]) -> bool {
    let (hour, nh) = digit_run(b);
    if !(1..=2).contains(&nh) || hour > 23 {
        return false;
    }
    let mut i = nh;
    // Minutes, then optional seconds.
    for (k, max) in [(0, 59), (1, 60)] {
        if b.get(i) != Some(&b':') {
            if k == 0 {
                return false;
            }
            break;
        }
        let (v, n) = digit_run(b.get(i + 1..).unwrap_or_default());
        if n != 2 || v > max {
            return false;
        }
        i += 1 + n;
    }
    if b.get(i) == Some(&b'.') {
        let (_, n) = digit_run(b.get(i + 1..).unwrap_or_default());
        if n == 0 {
            return false;
        }
        i += 1 + n;
    }
    let tail = b.get(i..).unwrap_or_default();
    let tail = tail.trim_ascii_start();
    match tail {
        [] | [b'Z' | b'z'] => true,
        [b'A' | b'a' | b'P' | b'p', b'M' | b'm'] => hour <= 12,
        [b'+' | b'-', offset @ ..] => {
            let (_, n) = digit_run(offset);
            match n {
                2 => {
                    offset.len() == 2
                        || matches!(offset.get(2..), Some([b':', d, e]) if d.is_ascii_digit() && e.is_ascii_digit())
                }
                4 => offset.len() == 4,
                _ => false,
            }
        }
        _ => false,
    }
}

/// Parses a date of birth.
///
/// Accepted, with surrounding whitespace:
/// - ISO `YYYY-MM-DD` and `YYYY/MM/DD`, compact `YYYYMMDD`;
/// - UK day-first `DD/MM/YYYY`, `DD-MM-YYYY`, `DD.MM.YYYY`, and `DD-MON-YYYY` (`01-Feb-1980`);
/// - one-digit day or month in the separated forms (`1/2/1980`);
/// - a trailing time as SQL exports write it: `1980-02-01T00:00:00`, `1980-02-01 00:00:00.000`,
///   `01/02/1980 00:00`, with optional `AM`/`PM`, `Z` or offset. The time is ignored.
///
/// Day-first is assumed for the separated forms with the year last (UK convention).
///
/// # Errors
///
/// - [`DateProblem::TwoDigitYear`] for `01/02/80`, `80-02-01` or `010280`: the century is not
///   guessed;
/// - [`DateProblem::Impossible`] for a date that does not exist (`31/02/1980`, month 13);
/// - [`DateProblem::OutOfRange`] for a real date with a year outside `1850..=2199`;
/// - [`DateProblem::Unparseable`] for anything else.
///
/// Empty or blank input and the [`PLACEHOLDER_DATES`] give `Ok(None)`.
///
/// # Example
///
/// ```
/// use carematch::normalise::date::{parse_date, Date, DateProblem};
///
/// let d = Date::new(1980, 2, 1);
/// assert_eq!(parse_date("1980-02-01")?, d);
/// assert_eq!(parse_date("01/02/1980")?, d);
/// assert_eq!(parse_date(" 1/2/1980 00:00 ")?, d);
/// assert_eq!(parse_date("19800201")?, d);
/// assert_eq!(parse_date("1900-01-01")?, None); // placeholder
/// assert_eq!(parse_date(""), Ok(None));
/// assert_eq!(parse_date("01/02/80"), Err(DateProblem::TwoDigitYear));
/// assert_eq!(parse_date("31/02/1980"), Err(DateProblem::Impossible));
/// # Ok::<(), DateProblem>(())
/// ```
pub fn parse_date(raw: &str) -> Result<Option<Date>, DateProblem> {
    let b = raw.trim().as_bytes();
    if b.is_empty() {
        return Ok(None);
    }
    // The date ends at whitespace, or at an ISO `T` straight after a digit (not the T of
    // "OCT").
    let date_len = (0..b.len())
        .find(|&i| match b.get(i) {
            Some(b'T' | b't') => i > 0 && b.get(i - 1).is_some_and(u8::is_ascii_digit),
            Some(c) => c.is_ascii_whitespace(),
            None => false,
        })
        .unwrap_or(b.len());
    let (date_part, time_part) = b.split_at(date_len);
    if let [sep, time @ ..] = time_part {
        let time = if *sep == b'T' || *sep == b't' {
            time
        } else {
            time.trim_ascii_start()
        };
        if !is_time(time) {
            return Err(DateProblem::Unparseable);
        }
    }
    let (year, month, day) = parse_date_part(date_part)?;
    if PLACEHOLDER_DATES
        .iter()
        .any(|&(y, m, d)| u32::from(y) == year && u32::from(m) == month && u32::from(d) == day)
    {
        return Ok(None);
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err(DateProblem::Impossible);
    }
    let year = u16::try_from(year).map_err(|_| DateProblem::OutOfRange)?;
    let (Ok(month), Ok(day)) = (u8::try_from(month), u8::try_from(day)) else {
        return Err(DateProblem::Impossible);
    };
    Date::new(year, month, day)
        .map(Some)
        .ok_or(DateProblem::OutOfRange)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[allow(
        clippy::unnecessary_wraps,
        reason = "the parsers under test return Option"
    )]
    fn d(y: u16, m: u8, day: u8) -> Option<Date> {
        Some(Date::new(y, m, day).expect("test date is valid"))
    }

    #[test]
    fn leap_years() {
        assert!(Date::new(2000, 2, 29).is_some());
        assert!(Date::new(1900, 2, 29).is_none());
        assert!(Date::new(2100, 2, 29).is_none());
        assert!(Date::new(1980, 2, 29).is_some());
        assert!(Date::new(1981, 2, 29).is_none());
        assert!(Date::new(1981, 2, 28).is_some());
        assert!(Date::new(2024, 2, 30).is_none());
        assert_eq!(parse_date("29/02/1900"), Err(DateProblem::Impossible));
        assert_eq!(parse_date("29/02/2000"), Ok(d(2000, 2, 29)));
    }

    #[test]
    fn new_rejects_bad_fields() {
        assert!(Date::new(1980, 0, 1).is_none());
        assert!(Date::new(1980, 13, 1).is_none());
        assert!(Date::new(1980, 1, 0).is_none());
        assert!(Date::new(1980, 4, 31).is_none());
        assert!(Date::new(1980, 1, 31).is_some());
        assert!(Date::new(1849, 12, 31).is_none());
        assert!(Date::new(1850, 1, 1).is_some());
        assert!(Date::new(2199, 12, 31).is_some());
        assert!(Date::new(2200, 1, 1).is_none());
    }

    #[test]
    fn every_format() {
        let want = d(1980, 2, 1);
        for s in [
            "1980-02-01",
            "1980/02/01",
            "1980-2-1",
            "19800201",
            "01/02/1980",
            "01-02-1980",
            "01.02.1980",
            "1/2/1980",
            "1-2-1980",
            "1.2.1980",
            "01-Feb-1980",
            "01-FEB-1980",
            "1-feb-1980",
            "01/Feb/1980",
            "1980-02-01T00:00:00",
            "1980-02-01T00:00:00.000Z",
            "1980-02-01T00:00:00+01:00",
            "1980-02-01 00:00:00",
            "1980-02-01 00:00:00.000",
            "01/02/1980 00:00",
            "01/02/1980 12:00:00 AM",
            "  1980-02-01\t",
            "\n01/02/1980  00:00 ",
        ] {
            assert_eq!(parse_date(s), Ok(want), "{s}");
        }
    }

    #[test]
    fn unparseable() {
        for s in [
            "1980-02",
            "1980-02-01-",
            "1980-02/01",
            "1980--02-01",
            "1980-002-01",
            "01/02/19800",
            "198002011",
            "1980020",
            "Feb 1 1980",
            "01-Foo-1980",
            "1980-02-01T",
            "1980-02-01T25:00",
            "1980-02-01 00",
            "1980-02-01 00:0",
            "1980-02-01 00:00:00.",
            "1980-02-01 13:00 PM",
            "1980-02-01 nonsense",
            "-1980-02-01",
            "１９８０-02-01",
            "NULL",
            "unknown",
            "01/02/198",
            "🎉",
            "01/02/1980🎉",
            "1980-02-01 00:00🎉",
        ] {
            assert_eq!(parse_date(s), Err(DateProblem::Unparseable), "{s}");
        }
    }

    #[test]
    fn month_names_containing_t() {
        // Regression: the T of OCT/SEPT must not be taken for the ISO time separator.
        assert_eq!(parse_date("01-Oct-1980"), Ok(d(1980, 10, 1)));
        assert_eq!(parse_date("01-OCT-1980 00:00"), Ok(d(1980, 10, 1)));
        assert_eq!(parse_date("31-Aug-1980"), Ok(d(1980, 8, 31)));
        assert_eq!(parse_date("31-Sep-1980"), Err(DateProblem::Impossible));
    }

    #[test]
    fn huge_input() {
        let long = "9".repeat(100_000);
        assert_eq!(parse_date(&long), Err(DateProblem::Unparseable));
        let long_time = format!("1980-02-01 {}", "0".repeat(100_000));
        assert_eq!(parse_date(&long_time), Err(DateProblem::Unparseable));
    }

    #[test]
    fn two_digit_years_are_not_guessed() {
        for s in [
            "01/02/80",
            "1/2/80",
            "01-02-80",
            "01.02.80",
            "80-02-01",
            "010280",
            "01-FEB-80",
        ] {
            assert_eq!(parse_date(s), Err(DateProblem::TwoDigitYear), "{s}");
        }
    }

    #[test]
    fn impossible_and_out_of_range() {
        assert_eq!(parse_date("31/02/1980"), Err(DateProblem::Impossible));
        assert_eq!(parse_date("1980-13-01"), Err(DateProblem::Impossible));
        assert_eq!(parse_date("1980-00-01"), Err(DateProblem::Impossible));
        assert_eq!(parse_date("00/01/1980"), Err(DateProblem::Impossible));
        assert_eq!(parse_date("31/04/1980"), Err(DateProblem::Impossible));
        assert_eq!(parse_date("1849-12-31"), Err(DateProblem::OutOfRange));
        assert_eq!(parse_date("2200-01-01"), Err(DateProblem::OutOfRange));
        assert_eq!(parse_date("0002-01-01"), Err(DateProblem::OutOfRange));
        assert_eq!(parse_date("1850-01-01"), Ok(d(1850, 1, 1)));
        assert_eq!(parse_date("31/12/2199"), Ok(d(2199, 12, 31)));
    }

    #[test]
    fn placeholders_are_missing() {
        for &(y, m, day) in PLACEHOLDER_DATES {
            let iso = format!("{y:04}-{m:02}-{day:02}");
            let uk = format!("{day:02}/{m:02}/{y:04}");
            let compact = format!("{y:04}{m:02}{day:02}");
            let ts = format!("{iso} 00:00:00");
            for s in [iso, uk, compact, ts] {
                assert_eq!(parse_date(&s), Ok(None), "{s}");
            }
        }
        // Neighbours of placeholders are real dates.
        assert_eq!(parse_date("1900-01-02"), Ok(d(1900, 1, 2)));
        assert_eq!(parse_date("1901-01-02"), Ok(d(1901, 1, 2)));
        assert_eq!(parse_date(""), Ok(None));
        assert_eq!(parse_date(" \t "), Ok(None));
    }

    #[test]
    fn debug_is_redacted_display_is_iso() {
        let date = Date::new(1980, 2, 1).expect("valid");
        assert_eq!(format!("{date:?}"), "Date(..)");
        assert_eq!(format!("{:?}", Some(date)), "Some(Date(..))");
        assert_eq!(date.to_string(), "1980-02-01");
        assert_eq!(
            Date::new(1850, 1, 1).expect("valid").to_string(),
            "1850-01-01"
        );
    }

    #[test]
    fn u32_round_trip_and_bad_values() {
        let date = Date::new(1980, 2, 1).expect("valid");
        assert_eq!(date.to_u32(), 19_800_201);
        assert_eq!(Date::from_u32(19_800_201), Some(date));
        assert_eq!(Date::from_u32(19_800_231), None);
        assert_eq!(Date::from_u32(u32::MAX), None);
        assert_eq!(Date::from_u32(0), None);
    }

    #[test]
    fn swapped_day_month() {
        let date = Date::new(1980, 2, 5).expect("valid");
        assert_eq!(date.swapped_day_month(), d(1980, 5, 2));
        assert_eq!(
            Date::new(1980, 12, 13).expect("valid").swapped_day_month(),
            None
        );
        assert_eq!(
            Date::new(1980, 7, 7).expect("valid").swapped_day_month(),
            None
        );
        // Day 29 would become month 29.
        assert_eq!(
            Date::new(1980, 2, 29).expect("valid").swapped_day_month(),
            None
        );
    }

    #[test]
    fn days_since_epoch_known_values() {
        let days = |y, m, day| Date::new(y, m, day).expect("valid").days_since_epoch();
        assert_eq!(days(1970, 1, 1), 0);
        assert_eq!(days(1970, 1, 2), 1);
        assert_eq!(days(1969, 12, 31), -1);
        assert_eq!(days(2000, 1, 1), 10_957);
        assert_eq!(days(1900, 3, 1) - days(1900, 2, 28), 1);
        assert_eq!(days(2000, 3, 1) - days(2000, 2, 28), 2);
        assert_eq!(days(1850, 1, 1), -43_829);
        assert_eq!(days(2199, 12, 31), 84_005);
    }

    #[test]
    fn digits() {
        assert_eq!(
            Date::new(2199, 12, 31).expect("valid").digits(),
            [2, 1, 9, 9, 1, 2, 3, 1]
        );
    }

    #[test]
    fn problem_names() {
        for p in [
            DateProblem::Unparseable,
            DateProblem::TwoDigitYear,
            DateProblem::Impossible,
            DateProblem::OutOfRange,
        ] {
            assert!(!p.as_str().is_empty());
        }
        assert_eq!(DateProblem::TwoDigitYear.as_str(), "two-digit year");
    }

    fn any_date() -> impl Strategy<Value = Date> {
        (MIN_YEAR..=MAX_YEAR, 1u8..=12, 1u8..=31)
            .prop_filter_map("valid date", |(y, m, d)| Date::new(y, m, d))
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(date in any_date()) {
            let placeholder = PLACEHOLDER_DATES
                .iter()
                .any(|&p| p == (date.year(), date.month(), date.day()));
            let want = if placeholder { None } else { Some(date) };
            prop_assert_eq!(parse_date(&date.to_string()), Ok(want));
            let uk = format!("{:02}/{:02}/{}", date.day(), date.month(), date.year());
            prop_assert_eq!(parse_date(&uk), Ok(want));
            prop_assert_eq!(parse_date(&date.to_u32().to_string()), Ok(want));
        }

        #[test]
        fn epoch_days_round_trip(date in any_date()) {
            prop_assert_eq!(Date::from_days_since_epoch(date.days_since_epoch()), Some(date));
            prop_assert_eq!(Date::from_u32(date.to_u32()), Some(date));
            let next = Date::from_days_since_epoch(date.days_since_epoch() + 1);
            if let Some(next) = next {
                prop_assert!(next > date);
            }
        }

        #[test]
        fn parse_never_panics(s in "\\PC*") {
            let _ = parse_date(&s);
        }

        #[test]
        fn parse_never_panics_on_date_like(s in "[0-9 /.:TZAPMa-z+-]{0,30}") {
            if let Ok(Some(date)) = parse_date(&s) {
                prop_assert_eq!(parse_date(&date.to_string()), Ok(Some(date)));
            }
        }

        #[test]
        fn from_days_never_panics(n in any::<i32>()) {
            if let Some(date) = Date::from_days_since_epoch(n) {
                prop_assert_eq!(date.days_since_epoch(), n);
            }
        }
    }
}
