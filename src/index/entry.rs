//! An entry: one record to query with, insert or update (raw values by role or column, normalised on use) and reading one from JSON.

use crate::schema::Role;

/// One record to query with, insert or update: an id and raw values, by role or by column name.
///
/// Values are raw, as they would appear in a CSV file; the index normalises them the same
/// way. `Debug` shows the id and which fields are set, never their values.
#[derive(Clone, Default)]
pub struct Entry {
    pub(super) id: String,
    pub(super) roles: Vec<(Role, Vec<u8>)>,
    pub(super) others: Vec<(String, Vec<u8>)>,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let roles: Vec<&str> = self.roles.iter().map(|(r, _)| r.as_str()).collect();
        let others: Vec<&str> = self.others.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Entry")
            .field("fields", &roles)
            .field("other_columns", &others)
            .finish_non_exhaustive()
    }
}

impl Entry {
    /// A record with id `id` and no values.
    pub fn new(id: &str) -> Entry {
        Entry {
            id: id.trim().to_string(),
            ..Entry::default()
        }
    }

    /// The record's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Sets the raw value of `role` (a second address value is joined to the first with
    /// ", ", as several address columns of a file are). Setting [`Role::Id`] sets the id.
    pub fn set(&mut self, role: Role, value: &str) -> &mut Self {
        self.set_bytes(role, value.as_bytes())
    }

    /// Sets the raw value of `role` from bytes as read from a file: bytes that are not
    /// UTF-8 make the value invalid (treated as missing and reported), as in a file. An id
    /// that is not UTF-8 becomes empty, which queries and inserts refuse.
    pub fn set_bytes(&mut self, role: Role, value: &[u8]) -> &mut Self {
        if role == Role::Id {
            self.id = std::str::from_utf8(value).unwrap_or("").trim().to_string();
            return self;
        }
        match self.roles.iter_mut().find(|(r, _)| *r == role) {
            Some((_, v)) if role == Role::Address => {
                let value = value.trim_ascii();
                if !value.is_empty() {
                    if !v.trim_ascii().is_empty() {
                        v.extend_from_slice(b", ");
                    }
                    v.extend_from_slice(value);
                }
            }
            Some((_, v)) => *v = value.to_vec(),
            None => self.roles.push((role, value.to_vec())),
        }
        self
    }

    /// Sets the raw value of a carried-through column.
    pub fn set_other(&mut self, column: &str, value: &str) -> &mut Self {
        match self.others.iter_mut().find(|(n, _)| n == column) {
            Some((_, v)) => *v = value.as_bytes().to_vec(),
            None => self
                .others
                .push((column.to_string(), value.as_bytes().to_vec())),
        }
        self
    }

    pub(super) fn raw(&self, role: Role) -> Option<&[u8]> {
        self.roles
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, v)| v.as_slice())
    }

    pub(super) fn other(&self, column: &str) -> Option<&[u8]> {
        self.others
            .iter()
            .find(|(n, _)| n == column)
            .map(|(_, v)| v.as_slice())
    }
}

/// The most bytes of one JSON query record ([`Index::entry_from_json`](super::Index::entry_from_json)): a record of every
/// field at [`crate::MAX_VALUE_BYTES`] is far below it; a longer line is refused unread.
pub const MAX_QUERY_BYTES: usize = 1 << 20;

/// The fields of one JSON object, in the line's order: strings as they are, numbers as
/// their literal text (an id `12345678901234567890123` keeps every digit), `null` left out.
/// A key given twice, or a value that is a boolean, array or object, is an error naming the
/// key.
pub(super) fn json_fields(line: &str) -> Result<Vec<(String, String)>, String> {
    use serde::de::{Deserializer, MapAccess, Visitor};
    use serde_json::value::RawValue;
    struct Fields;
    impl<'de> Visitor<'de> for Fields {
        type Value = Result<Vec<(String, String)>, String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out: Vec<(String, String)> = Vec::new();
            let mut seen = rustc_hash::FxHashSet::default();
            while let Some((k, v)) = map.next_entry::<String, &RawValue>()? {
                if !seen.insert(k.clone()) {
                    return Ok(Err(format!("key '{k}' appears twice")));
                }
                let raw = v.get();
                match raw.as_bytes().first() {
                    Some(b'"') => {
                        let s: String =
                            serde_json::from_str(raw).map_err(serde::de::Error::custom)?;
                        out.push((k, s));
                    }
                    Some(b'n') => {}
                    Some(b'-' | b'0'..=b'9') => out.push((k, raw.to_string())),
                    _ => {
                        return Ok(Err(format!(
                            "key '{k}': a value must be a string, a number or null"
                        )));
                    }
                }
            }
            Ok(Ok(out))
        }
    }
    let malformed = |e: &serde_json::Error| {
        format!("malformed JSON (line {}, column {})", e.line(), e.column())
    };
    let mut de = serde_json::Deserializer::from_str(line);
    let fields = match (&mut de).deserialize_map(Fields) {
        Ok(f) => f,
        Err(e) if e.is_data() => return Err("a record must be a JSON object".to_string()),
        Err(e) => return Err(malformed(&e)),
    };
    de.end().map_err(|e| malformed(&e))?;
    fields
}
