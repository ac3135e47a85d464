//! Keys: a master key held by the data controller, and the keys derived from it.
//!
//! There is no keyless or password mode: an NHS number has about 10^9 valid values and a
//! name with a date of birth little more, so an unkeyed (or known-salt) hash of them is
//! reversed by trying them all. Only a secret 32-byte key protects such identifiers.
//!
//! ```text
//! master key (32 random bytes, from a file or the environment)
//!   └─ project key = BLAKE3 derive_key("carematch 2026-11 pseudonym v1 project",
//!                                      master ‖ len(project) ‖ project ‖ key version)
//!        └─ field key = BLAKE3 derive_key("carematch 2026-11 pseudonym v1 field",
//!                                         project key ‖ field tag ‖ purpose)
//! ```
//!
//! Every key is zeroised when dropped and prints as `Key(..)`.

use std::fmt;
use std::path::Path;

use zeroize::Zeroize;

use crate::Error;
use crate::error::ErrorKind;

/// The BLAKE3 context for project keys. Hard-coded and versioned: changing it changes every
/// pseudonym, so it changes only with the scheme version.
const PROJECT_CONTEXT: &str = "carematch 2026-11 pseudonym v1 project";
/// The BLAKE3 context for field keys.
const FIELD_CONTEXT: &str = "carematch 2026-11 pseudonym v1 field";

/// The environment variable a master key may come from, as 64 hex digits.
pub const KEY_ENV: &str = "CAREMATCH_KEY";

/// 32 bytes of key material, zeroised on drop, never printed.
#[derive(Clone)]
pub struct Key([u8; 32]);

impl Drop for Key {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    /// A key from 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Key {
        Key(bytes)
    }

    /// The key bytes, for the keyed hash.
    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Reads a master key from `path`: exactly 32 raw bytes, or 64 hex digits (surrounding
    /// whitespace allowed).
    ///
    /// # Errors
    ///
    /// An I/O error naming the file, or a usage error saying the file is neither form; the
    /// message never shows the file's contents.
    pub fn from_file(path: &Path) -> Result<Key, Error> {
        let mut raw = std::fs::read(path).map_err(|e| Error::io(path, "read", &e))?;
        let key = Key::parse(&raw).ok_or_else(|| {
            Error::new(
                ErrorKind::Usage,
                format!(
                    "{}: a key file holds exactly 32 bytes or 64 hex digits",
                    path.display()
                ),
            )
        });
        raw.zeroize();
        key
    }

    /// Reads a master key from the environment variable [`KEY_ENV`] (64 hex digits).
    ///
    /// # Errors
    ///
    /// A usage error when the variable is unset or not 64 hex digits.
    pub fn from_env() -> Result<Key, Error> {
        let mut v = std::env::var(KEY_ENV)
            .map_err(|_| Error::new(ErrorKind::Usage, format!("{KEY_ENV} is not set")))?;
        let key = Key::parse(v.as_bytes())
            .ok_or_else(|| Error::new(ErrorKind::Usage, format!("{KEY_ENV} is not 64 hex digits")));
        v.zeroize();
        key
    }

    /// A master key from the contents of a key file: exactly 32 raw bytes, or 64 hex digits
    /// with optional surrounding whitespace; `None` for anything else.
    pub fn parse(raw: &[u8]) -> Option<Key> {
        if raw.len() == 32 {
            let mut k = [0u8; 32];
            k.copy_from_slice(raw);
            return Some(Key(k));
        }
        let t = raw.trim_ascii();
        if t.len() != 64 {
            return None;
        }
        let mut k = [0u8; 32];
        for (i, pair) in t.chunks(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            k[i] = (hi * 16 + lo) as u8;
        }
        Some(Key(k))
    }

    /// The project key for `project` at `version`, derived from this master key.
    #[must_use]
    pub fn project(&self, project: &str, version: u32) -> Key {
        let mut h = blake3::Hasher::new_derive_key(PROJECT_CONTEXT);
        h.update(&self.0);
        h.update(&(project.len() as u64).to_le_bytes());
        h.update(project.as_bytes());
        h.update(&version.to_le_bytes());
        Key(*h.finalize().as_bytes())
    }

    /// The key for one field kind (`tag`) and purpose (`"token"`, `"bloom"`, ...), derived
    /// from this project key.
    pub(crate) fn field(&self, tag: u8, purpose: &str) -> Key {
        let mut h = blake3::Hasher::new_derive_key(FIELD_CONTEXT);
        h.update(&self.0);
        h.update(&[tag]);
        h.update(&(purpose.len() as u64).to_le_bytes());
        h.update(purpose.as_bytes());
        Key(*h.finalize().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_key_material() {
        let k = Key::from_bytes([0xAB; 32]);
        assert_eq!(format!("{k:?}"), "Key(..)");
        assert!(!format!("{:?}", k.project("p", 1)).contains("ab"));
    }

    #[test]
    fn parses_raw_and_hex_keys_only() {
        assert!(Key::parse(&[7u8; 32]).is_some());
        let hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF\n";
        assert_eq!(Key::parse(hex.as_bytes()).unwrap().bytes()[1], 0x11);
        assert!(Key::parse(b"short").is_none());
        assert!(Key::parse(&[b'z'; 64]).is_none());
    }

    #[test]
    fn projects_and_versions_get_different_keys() {
        let m = Key::from_bytes([1; 32]);
        let a = m.project("gp-hospital", 1);
        assert_ne!(a.bytes(), m.project("gp-hospital", 2).bytes());
        assert_ne!(a.bytes(), m.project("gp-social", 1).bytes());
        assert_ne!(a.field(1, "token").bytes(), a.field(2, "token").bytes());
        assert_ne!(a.field(1, "token").bytes(), a.field(1, "bloom").bytes());
        assert_eq!(a.bytes(), m.project("gp-hospital", 1).bytes());
    }
}
