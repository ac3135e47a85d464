//! Dates of birth.

/// A calendar date.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    /// A valid date, or `None`.
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        todo!("{year}{month}{day}")
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
        self.year as u32 * 10000 + self.month as u32 * 100 + self.day as u32
    }
    /// Inverse of `to_u32`.
    pub fn from_u32(v: u32) -> Option<Date> {
        Date::new((v / 10000) as u16, (v / 100 % 100) as u8, (v % 100) as u8)
    }
}

/// Why a date was invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateProblem {
    /// Not in a recognised format.
    Unparseable,
}

impl DateProblem {
    /// Name of the problem.
    pub fn as_str(self) -> &'static str {
        "unparseable"
    }
}

/// Parses a date of birth.
pub fn parse_date(raw: &str) -> Result<Option<Date>, DateProblem> {
    todo!("{raw}")
}
