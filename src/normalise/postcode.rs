//! UK postcodes.

/// A parsed postcode.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Postcode {
    /// A well-formed UK postcode.
    Uk(UkPostcode),
    /// Anything else, folded.
    Other(String),
}

/// A UK postcode in canonical form.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct UkPostcode {
    text: String,
    outward_len: u8,
}

impl UkPostcode {
    /// Whole postcode "LS1 4AP".
    pub fn unit(&self) -> &str {
        &self.text
    }
    /// "LS1 4".
    pub fn sector(&self) -> &str {
        &self.text[..self.outward_len as usize + 2]
    }
    /// "LS1".
    pub fn district(&self) -> &str {
        &self.text[..self.outward_len as usize]
    }
    /// "LS".
    pub fn area(&self) -> &str {
        let d = self.district();
        let n = d.bytes().take_while(|b| b.is_ascii_alphabetic()).count();
        &d[..n]
    }
}

/// Parses a postcode; `None` when missing.
pub fn parse_postcode(raw: &str) -> Option<Postcode> {
    todo!("{raw}")
}
