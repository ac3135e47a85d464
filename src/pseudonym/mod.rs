//! Pseudonymisation at source: keyed tokens for exact fields, hardened Bloom filters for
//! fuzzy ones.
//!
//! A source organisation normalises its records with the same normalisers as clear-text
//! matching, then replaces every identifying value with
//!
//! * a **token**: `BLAKE3-keyed(field key, tag ‖ len ‖ value)`, truncated to 128 bits, for
//!   values compared exactly: NHS number, date of birth and its parts (day/month swapped,
//!   year and month, year), sex, postcode at each level, names, nickname-canonical given
//!   names and phonetic codes; formatting variants normalise to one value and so to one
//!   token;
//! * a **Bloom filter** of the value's character bigrams, for names and address, hashed with
//!   a key of its own per field (salting per attribute) and **balanced** (the filter is
//!   followed by its complement and the bits permuted by a keyed permutation, so every
//!   filter has exactly half its bits set: bit and pattern frequencies no longer follow
//!   name frequencies).
//!
//! Keys come from [`Key`]: one master key, a project key per project and key version, one
//! field key per field and purpose. The encoded file carries the scheme and key version in
//! its `carematch_scheme` column, so files encoded under different keys cannot be mixed by
//! mistake. See `docs/threat-model.md` for what this does and does not protect.

pub mod attack;
mod encode;
mod key;

use std::fmt;

pub(crate) use encode::for_each_encoded_line;
pub use encode::{
    BLOOM_COLUMNS, EncodeOptions, SCHEME_COLUMN, carried_columns, check_scheme, encoded_header,
    encoded_header_of, encoded_line, field_value, file_scheme, identifier_columns, name_columns,
    names_left_out, write_encoded, write_encoded_csv,
};
pub use key::{KEY_ENV, Key};

/// The scheme of encoded files whose names are not salted (`pseudonymise --name-salt none`,
/// and every file written before names were salted): name tokens and filters are the same for
/// one name in every record, so their frequencies can be read.
pub const SCHEME: &str = "carematch-pseudonym-1";

/// The scheme of encoded files whose name tokens and name filters are salted with an
/// attribute of the record ([`NameSalt`]): one name gives different tokens and unrelated
/// filters for records with different salts. The value is followed by `;salt=dob` or
/// `;salt=year`. Scheme 3 salts each name filter with the name's first letter too
/// ([`filter_salt`]), so that the filters of one date of birth hold no common pattern for
/// pattern mining; scheme 2 (the same without) is refused ([`RETIRED_SCHEMES`]).
pub const SCHEME_SALTED: &str = "carematch-pseudonym-3";

/// Schemes this version no longer reads: their files must be encoded again.
pub const RETIRED_SCHEMES: &[&str] = &["carematch-pseudonym-2"];

/// The salt of a name's filter in a salted file: the record's salt (`salt`, its date of
/// birth or year) and the name's first letter. Two names that differ in their first letter
/// get unrelated filters (they are compared by their tokens' levels alone); within one date
/// of birth, a bigram's positions then differ from initial to initial, which is what stops
/// the pattern-mining attack there (`attack::pattern_mining_attack`: at 380 names under one
/// date, as in a region of 14 million, 9.27% of the census-table given names without it,
/// 0.00% with it).
pub fn filter_salt(salt: &str, value: &str) -> String {
    let initial = value
        .chars()
        .next()
        .map_or(String::new(), |c| c.to_string());
    format!("{salt};initial={initial}")
}

/// What the names' tokens and filters of an encoded file are salted with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum NameSalt {
    /// The record's date of birth, day and month in either order ([`NameSalt::salt`]): one
    /// name gives unrelated tokens and filters for people born on different dates, so their
    /// frequencies no longer follow the name's. Records whose dates differ otherwise than by
    /// a day-month swap cannot have their names compared. The default.
    #[default]
    DateOfBirth,
    /// The record's year of birth: names are compared whenever the years agree, but one
    /// year holds about 1% of a population, and within it the commonest names still stand
    /// out (see `docs/threat-model.md` for what an attacker reads).
    Year,
    /// Not salted ([`SCHEME`]): a name's tokens are equal, and its filters nearly so, in
    /// every record, and a frequency attack reads the commonest names. Only to link with
    /// files written so.
    None,
}

impl NameSalt {
    /// The name used on the command line and in the scheme column.
    pub fn label(self) -> &'static str {
        match self {
            NameSalt::DateOfBirth => "dob",
            NameSalt::Year => "year",
            NameSalt::None => "none",
        }
    }

    /// The salt of [`NameSalt::label`] `s`.
    pub fn parse(s: &str) -> Option<NameSalt> {
        [NameSalt::DateOfBirth, NameSalt::Year, NameSalt::None]
            .into_iter()
            .find(|n| n.label() == s)
    }

    /// The salt of the names of a record born on `date`: for [`NameSalt::DateOfBirth`] the
    /// year then the smaller and the larger of day and month (two records' salts are equal
    /// exactly when their dates are equal or swapped), for [`NameSalt::Year`] the year, for
    /// [`NameSalt::None`] empty. `None` when the salt needs a date and there is none: the
    /// record's names are then not written (a name salted with nothing could be read by
    /// frequency).
    pub fn salt(self, date: Option<crate::normalise::date::Date>) -> Option<String> {
        match self {
            NameSalt::None => Some(String::new()),
            NameSalt::Year => date.map(|d| format!("{:04}", d.year())),
            NameSalt::DateOfBirth => date.map(|d| {
                let (day, month) = (d.day(), d.month());
                format!("{:04}{:02}{:02}", d.year(), day.min(month), day.max(month))
            }),
        }
    }

    /// The salt of `records`' names: that of its scheme, [`NameSalt::None`] for clear text.
    pub fn of_records(records: &crate::Records) -> NameSalt {
        records.scheme().map_or(NameSalt::None, NameSalt::of_scheme)
    }

    /// The salt of a file whose `carematch_scheme` value is `scheme`, as written
    /// (`carematch-pseudonym-3;salt=dob;…`) or as read into a store, whose text columns are
    /// folded (`carematch pseudonym 3 salt dob …`).
    pub fn of_scheme(scheme: &str) -> NameSalt {
        let lower = scheme.to_ascii_lowercase();
        let mut words = lower
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty());
        let salted = SCHEME_SALTED
            .split('-')
            .chain(["salt"])
            .all(|w| words.next() == Some(w));
        words
            .next()
            .filter(|_| salted)
            .and_then(NameSalt::parse)
            .unwrap_or(NameSalt::None)
    }
}

/// Bits in a Bloom filter before balancing.
pub const BLOOM_BITS: usize = 512;
/// Positions set per bigram.
pub const BLOOM_HASHES: usize = 20;
/// The probability that hardening flips a bit of a written filter (BLIP).
pub const FLIP_PROBABILITY: f64 = 0.03;
/// The tag of identifier columns' tokens ([`Pseudonymiser::identifier_token`]), after every
/// [`TokenField`]'s.
const IDENTIFIER_TAG: u8 = 40;
/// 64-bit words in a balanced filter.
const WORDS: usize = 2 * BLOOM_BITS / 64;

/// What a token or filter encodes. The tag byte goes into both the key derivation and the
/// hashed message, so the same value in two fields never gives the same token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenField {
    /// The record id (only when ids are tokenised).
    Id,
    /// NHS number.
    NhsNumber,
    /// Date of birth, `YYYY-MM-DD`.
    Dob,
    /// Date of birth with day and month swapped (when that is a valid, different date).
    /// Written as the token of that date under [`TokenField::Dob`]'s key, so that it equals
    /// the date token of a record whose day and month are the other way round.
    DobSwapped,
    /// Year and month of birth.
    DobYearMonth,
    /// Year of birth.
    DobYear,
    /// Sex (`M`/`F`).
    Sex,
    /// Postcode unit.
    Postcode,
    /// Postcode sector.
    PostcodeSector,
    /// Postcode district.
    PostcodeDistrict,
    /// Postcode area.
    PostcodeArea,
    /// Normalised given name.
    GivenName,
    /// Canonical given name of its first token (nickname table).
    GivenNameNickname,
    /// Soundex of the given name's first token.
    GivenNameSoundex,
    /// NYSIIS of the given name's first token.
    GivenNameNysiis,
    /// Normalised surname.
    Surname,
    /// Soundex of the surname's first token.
    SurnameSoundex,
    /// NYSIIS of the surname's first token.
    SurnameNysiis,
    /// Normalised address.
    Address,
    /// Date of birth (`YYYYMMDD`) with digit `n` (0..8) replaced by `*`: two dates one
    /// digit apart share one of these tokens, so the "one digit different" level survives
    /// pseudonymisation.
    DobMasked(u8),
    /// The ten digits of an NHS number, valid or failing its check digit, with digit `n`
    /// (0..10) replaced by `*`: a mistyped number shares one of these with the right one.
    NhsMasked(u8),
    /// Normalised given name salted with the record's person identifier (salted files
    /// only): its valid NHS number, else its first identifier column's value. A person's
    /// records can have their names compared when their dates of birth differ.
    GivenNameByNhs,
    /// Normalised surname salted with the record's person identifier (salted files only).
    SurnameByNhs,
}

/// The token columns of the ten masked NHS numbers.
pub const NHS_MASKED_COLUMNS: [&str; 10] = [
    "nhs_number.mask0.tok",
    "nhs_number.mask1.tok",
    "nhs_number.mask2.tok",
    "nhs_number.mask3.tok",
    "nhs_number.mask4.tok",
    "nhs_number.mask5.tok",
    "nhs_number.mask6.tok",
    "nhs_number.mask7.tok",
    "nhs_number.mask8.tok",
    "nhs_number.mask9.tok",
];

/// The token columns of the eight masked dates of birth.
pub const DOB_MASKED_COLUMNS: [&str; 8] = [
    "dob.mask0.tok",
    "dob.mask1.tok",
    "dob.mask2.tok",
    "dob.mask3.tok",
    "dob.mask4.tok",
    "dob.mask5.tok",
    "dob.mask6.tok",
    "dob.mask7.tok",
];

impl TokenField {
    /// Every field, in the column order of an encoded file.
    pub const ALL: [TokenField; 19] = [
        TokenField::Id,
        TokenField::NhsNumber,
        TokenField::Dob,
        TokenField::DobSwapped,
        TokenField::DobYearMonth,
        TokenField::DobYear,
        TokenField::Sex,
        TokenField::Postcode,
        TokenField::PostcodeSector,
        TokenField::PostcodeDistrict,
        TokenField::PostcodeArea,
        TokenField::GivenName,
        TokenField::GivenNameNickname,
        TokenField::GivenNameSoundex,
        TokenField::GivenNameNysiis,
        TokenField::Surname,
        TokenField::SurnameSoundex,
        TokenField::SurnameNysiis,
        TokenField::Address,
    ];

    /// The stable tag byte. Never renumber: tokens depend on it.
    pub fn tag(self) -> u8 {
        match self {
            TokenField::Id => 1,
            TokenField::NhsNumber => 2,
            TokenField::Dob => 3,
            TokenField::DobSwapped => 4,
            TokenField::DobYearMonth => 5,
            TokenField::DobYear => 6,
            TokenField::Sex => 7,
            TokenField::Postcode => 8,
            TokenField::PostcodeSector => 9,
            TokenField::PostcodeDistrict => 10,
            TokenField::PostcodeArea => 11,
            TokenField::GivenName => 12,
            TokenField::GivenNameNickname => 13,
            TokenField::GivenNameSoundex => 14,
            TokenField::GivenNameNysiis => 15,
            TokenField::Surname => 16,
            TokenField::SurnameSoundex => 17,
            TokenField::SurnameNysiis => 18,
            TokenField::Address => 19,
            TokenField::DobMasked(n) => 20 + n.min(7),
            TokenField::NhsMasked(n) => 28 + n.min(9),
            TokenField::GivenNameByNhs => 38,
            TokenField::SurnameByNhs => 39,
        }
    }

    /// The column name of the field's token in an encoded file, e.g. `dob.year.tok`.
    pub fn token_column(self) -> &'static str {
        match self {
            TokenField::Id => "id.tok",
            TokenField::NhsNumber => crate::schema::NHS_TOKEN_COLUMN,
            TokenField::Dob => "dob.tok",
            TokenField::DobSwapped => "dob.swapped.tok",
            TokenField::DobYearMonth => "dob.year_month.tok",
            TokenField::DobYear => "dob.year.tok",
            TokenField::Sex => "sex.tok",
            TokenField::Postcode => "postcode.tok",
            TokenField::PostcodeSector => "postcode.sector.tok",
            TokenField::PostcodeDistrict => "postcode.district.tok",
            TokenField::PostcodeArea => "postcode.area.tok",
            TokenField::GivenName => "given_name.tok",
            TokenField::GivenNameNickname => "given_name.nickname.tok",
            TokenField::GivenNameSoundex => "given_name.soundex.tok",
            TokenField::GivenNameNysiis => "given_name.nysiis.tok",
            TokenField::Surname => "surname.tok",
            TokenField::SurnameSoundex => "surname.soundex.tok",
            TokenField::SurnameNysiis => "surname.nysiis.tok",
            TokenField::Address => "address.tok",
            TokenField::DobMasked(n) => DOB_MASKED_COLUMNS[usize::from(n.min(7))],
            TokenField::NhsMasked(n) => NHS_MASKED_COLUMNS[usize::from(n.min(9))],
            TokenField::GivenNameByNhs => "given_name.id_salted.tok",
            TokenField::SurnameByNhs => "surname.id_salted.tok",
        }
    }
}

/// Every token field, in no particular order: [`TokenField::ALL`], the masked dates and NHS
/// numbers, and the names salted with the NHS number.
fn every_token_field() -> impl Iterator<Item = TokenField> {
    TokenField::ALL
        .into_iter()
        .chain((0..8).map(TokenField::DobMasked))
        .chain((0..10).map(TokenField::NhsMasked))
        .chain([TokenField::GivenNameByNhs, TokenField::SurnameByNhs])
}

/// True for the NHS number's token columns (`nhs_number.tok` and its masked forms), which
/// the encoded NHS comparison reads: not identifier columns of their own.
pub fn is_nhs_token_column(name: &str) -> bool {
    every_token_field().any(|f| {
        matches!(f, TokenField::NhsNumber | TokenField::NhsMasked(_)) && f.token_column() == name
    })
}

/// True for the column an encoded file holds for the token of a field that is not an
/// identifier (names, dates of birth, sex, postcodes). Salted name tokens are nearly all
/// distinct, as an identifier's are; they must still be compared as names, not taken for
/// identifier columns.
pub fn is_demographic_token_column(name: &str) -> bool {
    every_token_field().any(|f| {
        !matches!(
            f,
            TokenField::Id | TokenField::NhsNumber | TokenField::NhsMasked(_)
        ) && f.token_column() == name
    })
}

/// A 128-bit keyed token. Equality is constant-time; `Display` is 32 lower-case hex digits.
#[derive(Clone, Copy)]
pub struct Token([u8; 16]);

impl PartialEq for Token {
    fn eq(&self, other: &Token) -> bool {
        // Constant time: no early exit on the first differing byte.
        self.0
            .iter()
            .zip(&other.0)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl Eq for Token {}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A token is a pseudonym, not a secret, but keep logs free of them too.
        f.write_str("Token(..)")
    }
}

/// A balanced Bloom filter of 2 × [`BLOOM_BITS`] bits, exactly half of them set.
#[derive(Clone, PartialEq, Eq)]
pub struct Bloom([u64; WORDS]);

impl fmt::Debug for Bloom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Bloom(..)")
    }
}

impl Bloom {
    /// The Dice coefficient 2|A∩B| / (|A| + |B|), in 0..=1.
    pub fn dice(&self, other: &Bloom) -> f64 {
        let (mut both, mut total) = (0u32, 0u32);
        for (a, b) in self.0.iter().zip(&other.0) {
            both += (a & b).count_ones();
            total += a.count_ones() + b.count_ones();
        }
        if total == 0 {
            0.0
        } else {
            2.0 * f64::from(both) / f64::from(total)
        }
    }

    /// The filter as 256 hex digits.
    pub fn to_hex(&self) -> String {
        use std::fmt::Write;
        let mut s = String::with_capacity(self.0.len() * 16);
        for w in &self.0 {
            let _ = write!(s, "{w:016x}");
        }
        s
    }

    /// A filter from 256 hex digits.
    pub fn from_hex(s: &str) -> Option<Bloom> {
        if s.len() != WORDS * 16 || !s.is_ascii() {
            return None;
        }
        let mut w = [0u64; WORDS];
        for (i, slot) in w.iter_mut().enumerate() {
            *slot = u64::from_str_radix(&s[i * 16..i * 16 + 16], 16).ok()?;
        }
        Some(Bloom(w))
    }

    /// Bits set.
    pub fn count_ones(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }
}

/// Encodes values under one project key.
pub struct Pseudonymiser {
    /// Per field tag: the token key and the Bloom key.
    token_keys: Vec<Key>,
    bloom_keys: Vec<Key>,
    /// Per field tag: the keyed permutation of the balanced filter's bits.
    permutations: Vec<Vec<u16>>,
    version: u32,
    fingerprint: String,
}

impl fmt::Debug for Pseudonymiser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pseudonymiser")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Pseudonymiser {
    /// A pseudonymiser for `project` at key `version`, from the master key.
    pub fn new(master: &Key, project: &str, version: u32) -> Pseudonymiser {
        let project_key = master.project(project, version);
        let n = usize::from(IDENTIFIER_TAG) + 1;
        let mut token_keys = Vec::with_capacity(n);
        let mut bloom_keys = Vec::with_capacity(n);
        let mut permutations = Vec::with_capacity(n);
        for tag in 0..n as u8 {
            token_keys.push(project_key.field(tag, "token"));
            let bk = project_key.field(tag, "bloom");
            permutations.push(permutation(&project_key.field(tag, "bloom-permutation")));
            bloom_keys.push(bk);
        }
        // Identifies the project key without revealing it: two files with one fingerprint
        // were encoded under one key.
        let fp = blake3::keyed_hash(
            project_key.field(0, "fingerprint").bytes(),
            SCHEME.as_bytes(),
        );
        Pseudonymiser {
            token_keys,
            bloom_keys,
            permutations,
            version,
            fingerprint: fp.to_hex()[..12].to_string(),
        }
    }

    /// The value of the `carematch_scheme` column: scheme, key version and key fingerprint.
    pub fn scheme(&self) -> String {
        format!(
            "{SCHEME};key-version={};key={}",
            self.version, self.fingerprint
        )
    }

    /// The token of a normalised `value` of `field`, unsalted: what a file of the scheme
    /// `carematch-pseudonym-1` holds, and what the default scheme holds for every field but
    /// the names (whose tokens are salted: [`Pseudonymiser::token_salted`]).
    pub fn token(&self, field: TokenField, value: &str) -> Token {
        self.token_salted(field, value, "")
    }

    /// The token of `value` of the carried column `column` (an identifier such as a
    /// social-security or local patient number, or another column without a role such as a
    /// suburb): keyed by a key of its own, the column's name hashed with the value.
    pub fn identifier_token(&self, column: &str, value: &str) -> Token {
        let key = &self.token_keys[usize::from(IDENTIFIER_TAG)];
        let mut h = blake3::Hasher::new_keyed(key.bytes());
        h.update(&[IDENTIFIER_TAG]);
        h.update(&(column.len() as u64).to_le_bytes());
        h.update(column.as_bytes());
        h.update(&(value.len() as u64).to_le_bytes());
        h.update(value.as_bytes());
        let mut out = [0u8; 16];
        out.copy_from_slice(&h.finalize().as_bytes()[..16]);
        Token(out)
    }

    /// The token of `value` of `field` salted with `salt` (see [`NameSalt::salt`]): one value
    /// gives a different token for every salt. An empty salt gives [`Pseudonymiser::token`].
    pub fn token_salted(&self, field: TokenField, value: &str, salt: &str) -> Token {
        // The swapped date is tokenised as a date, so that it equals the date token of a
        // record born on the swapped date.
        let field = if field == TokenField::DobSwapped {
            TokenField::Dob
        } else {
            field
        };
        let key = &self.token_keys[usize::from(field.tag())];
        let mut h = blake3::Hasher::new_keyed(key.bytes());
        h.update(&[field.tag()]);
        h.update(&(value.len() as u64).to_le_bytes());
        h.update(value.as_bytes());
        if !salt.is_empty() {
            h.update(b"salt");
            h.update(&(salt.len() as u64).to_le_bytes());
            h.update(salt.as_bytes());
        }
        let mut out = [0u8; 16];
        out.copy_from_slice(&h.finalize().as_bytes()[..16]);
        Token(out)
    }

    /// The balanced Bloom filter of a normalised `value` of `field`: the bigrams of
    /// `_value_`, each setting [`BLOOM_HASHES`] keyed positions of [`BLOOM_BITS`]; then the
    /// complement appended and all bits permuted by the field's keyed permutation.
    pub fn bloom(&self, field: TokenField, value: &str) -> Bloom {
        self.bloom_salted(field, value, "")
    }

    /// [`Pseudonymiser::bloom`] with every bigram's positions hashed with `salt` too: one
    /// value gives unrelated filters under two salts (record-level salting).
    pub fn bloom_salted(&self, field: TokenField, value: &str, salt: &str) -> Bloom {
        let tag = usize::from(field.tag());
        let base = self.base_filter(field, value, salt);
        let perm = &self.permutations[tag];
        let mut out = [0u64; WORDS];
        for (i, &to) in perm.iter().enumerate() {
            let set = if i < BLOOM_BITS {
                base[i / 64] >> (i % 64) & 1 == 1
            } else {
                let j = i - BLOOM_BITS;
                base[j / 64] >> (j % 64) & 1 == 0
            };
            if set {
                let to = usize::from(to);
                out[to / 64] |= 1 << (to % 64);
            }
        }
        Bloom(out)
    }

    /// The hardened filter written to encoded files: [`Pseudonymiser::bloom`], then each bit
    /// flipped with probability [`FLIP_PROBABILITY`] by a keyed generator seeded with the
    /// record's id (BLIP, randomised response). Two records with one name no longer share a
    /// filter, so counting identical filters learns nothing; but their Dice similarity drops
    /// only a little (about 0.94 instead of 1), so clustering filters by similarity before
    /// counting recovers the names' frequencies ([`attack::cluster_alignment_rate`]).
    pub fn bloom_record(&self, field: TokenField, value: &str, record: &str) -> Bloom {
        self.bloom_record_salted(field, value, "", record)
    }

    /// [`Pseudonymiser::bloom_record`] of [`Pseudonymiser::bloom_salted`]: the filter
    /// written for a name salted with the record's date of birth.
    pub fn bloom_record_salted(
        &self,
        field: TokenField,
        value: &str,
        salt: &str,
        record: &str,
    ) -> Bloom {
        let mut b = self.bloom_salted(field, value, salt);
        let key = self.bloom_keys[usize::from(field.tag())].bytes();
        let mut h = blake3::Hasher::new_keyed(key);
        h.update(b"blip");
        h.update(&(record.len() as u64).to_le_bytes());
        h.update(record.as_bytes());
        let mut xof = h.finalize_xof();
        let threshold = (FLIP_PROBABILITY * 65536.0) as u32;
        let mut buf = [0u8; 2 * 64];
        for (w, word) in b.0.iter_mut().enumerate() {
            xof.fill(&mut buf);
            let _ = w;
            for bit in 0..64 {
                let r = u32::from(u16::from_le_bytes([buf[2 * bit], buf[2 * bit + 1]]));
                if r < threshold {
                    *word ^= 1 << bit;
                }
            }
        }
        b
    }

    /// The plain filter of bigrams, neither balanced nor noised: what an unhardened
    /// cryptographic long-term key encoding would publish. Kept for the frequency-attack
    /// control in the tests and benches; never written to a file.
    pub fn unhardened_bloom(&self, field: TokenField, value: &str) -> Bloom {
        let base = self.base_filter(field, value, "");
        let mut out = [0u64; WORDS];
        out[..WORDS / 2].copy_from_slice(&base);
        Bloom(out)
    }

    /// The bigram filter of [`BLOOM_BITS`] bits; a non-empty `salt` is hashed before each
    /// bigram.
    fn base_filter(&self, field: TokenField, value: &str, salt: &str) -> [u64; WORDS / 2] {
        let tag = usize::from(field.tag());
        let key = self.bloom_keys[tag].bytes();
        let mut base = [0u64; WORDS / 2];
        let chars: Vec<char> = std::iter::once('_')
            .chain(value.chars())
            .chain(std::iter::once('_'))
            .collect();
        let mut buf = [0u8; 8];
        for w in chars.windows(2) {
            let mut n = w[0].encode_utf8(&mut buf).len();
            n += w[1].encode_utf8(&mut buf[n..]).len();
            let mut out = [0u8; 2 * BLOOM_HASHES];
            let mut h = blake3::Hasher::new_keyed(key);
            if !salt.is_empty() {
                h.update(b"salt");
                h.update(&(salt.len() as u64).to_le_bytes());
                h.update(salt.as_bytes());
            }
            h.update(&buf[..n]).finalize_xof().fill(&mut out);
            for p in out.chunks(2) {
                let bit = usize::from(u16::from_le_bytes([p[0], p[1]])) % BLOOM_BITS;
                base[bit / 64] |= 1 << (bit % 64);
            }
        }
        base
    }
}

/// A keyed permutation of the 2 × `BLOOM_BITS` positions (Fisher-Yates driven by the key's
/// XOF output).
fn permutation(key: &Key) -> Vec<u16> {
    let mut p: Vec<u16> = (0..2 * BLOOM_BITS as u16).collect();
    let mut xof = blake3::Hasher::new_keyed(key.bytes()).finalize_xof();
    for i in (1..p.len()).rev() {
        let mut b = [0u8; 8];
        xof.fill(&mut b);
        let j = (u64::from_le_bytes(b) % (i as u64 + 1)) as usize;
        p.swap(i, j);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_key() -> Key {
        let mut k = [0u8; 32];
        for (i, b) in k.iter_mut().enumerate() {
            *b = i as u8;
        }
        Key::from_bytes(k)
    }

    #[test]
    fn tokens_depend_on_field_value_project_and_version() {
        let m = test_key();
        let p = Pseudonymiser::new(&m, "test-project", 1);
        let t = p.token(TokenField::NhsNumber, "9991234561");
        assert_eq!(t, p.token(TokenField::NhsNumber, "9991234561"));
        assert!(t != p.token(TokenField::NhsNumber, "9991234562"));
        assert!(
            t != p.token(TokenField::Id, "9991234561"),
            "field separation"
        );
        assert!(
            t != Pseudonymiser::new(&m, "other-project", 1)
                .token(TokenField::NhsNumber, "9991234561")
        );
        assert!(
            t != Pseudonymiser::new(&m, "test-project", 2)
                .token(TokenField::NhsNumber, "9991234561")
        );
        assert_eq!(t.to_string().len(), 32);
        assert_eq!(format!("{t:?}"), "Token(..)");
    }

    #[test]
    fn balanced_filters_have_half_their_bits_set() {
        let p = Pseudonymiser::new(&test_key(), "test-project", 1);
        for v in ["", "a", "smith", "oconnor", "a much longer address line 12"] {
            assert_eq!(
                p.bloom(TokenField::Surname, v).count_ones() as usize,
                BLOOM_BITS
            );
        }
    }

    #[test]
    fn dice_is_high_for_typos_and_lower_for_other_names() {
        let p = Pseudonymiser::new(&test_key(), "test-project", 1);
        let b = |v: &str| p.bloom(TokenField::Surname, v);
        let same = b("johnson").dice(&b("johnson"));
        let typo = b("johnson").dice(&b("jonhson"));
        let other = b("johnson").dice(&b("patel"));
        assert_eq!(same, 1.0);
        assert!(typo > other + 0.1, "typo {typo} other {other}");
    }

    #[test]
    fn bloom_hex_round_trips() {
        let p = Pseudonymiser::new(&test_key(), "test-project", 1);
        let b = p.bloom(TokenField::GivenName, "elizabeth");
        assert_eq!(Bloom::from_hex(&b.to_hex()), Some(b));
        assert_eq!(Bloom::from_hex("zz"), None);
    }

    #[test]
    fn name_salts_agree_for_equal_or_swapped_dates_only() {
        use crate::normalise::date::Date;
        let d = |y, m, day| Date::new(y, m, day);
        let dob = |x| NameSalt::DateOfBirth.salt(x);
        assert_eq!(
            dob(d(1980, 3, 5)),
            dob(d(1980, 5, 3)),
            "day and month swapped"
        );
        assert_ne!(dob(d(1980, 3, 5)), dob(d(1980, 3, 6)));
        assert_ne!(dob(d(1980, 3, 5)), dob(d(1981, 3, 5)));
        assert_eq!(dob(None), None, "no date, no salt: the names are left out");
        assert_eq!(
            NameSalt::Year.salt(d(1980, 3, 5)),
            NameSalt::Year.salt(d(1980, 12, 31))
        );
        assert_eq!(NameSalt::None.salt(None).as_deref(), Some(""));
    }

    #[test]
    fn the_salt_is_read_from_the_scheme_as_written_and_as_folded() {
        for salt in [NameSalt::DateOfBirth, NameSalt::Year] {
            let written = format!(
                "{SCHEME_SALTED};salt={};key-version=1;key=ab12",
                salt.label()
            );
            assert_eq!(NameSalt::of_scheme(&written), salt);
            let folded = written.replace(['-', ';', '='], " ");
            assert_eq!(NameSalt::of_scheme(&folded), salt, "{folded}");
        }
        for unsalted in [
            "carematch-pseudonym-1;key-version=1;key=ab12",
            "carematch pseudonym 1 key version 1 key ab12",
            "carematch-pseudonym-3;salt=moon",
            "",
        ] {
            assert_eq!(NameSalt::of_scheme(unsalted), NameSalt::None, "{unsalted}");
        }
    }

    #[test]
    fn a_salt_changes_tokens_and_filters_and_no_salt_changes_nothing() {
        let p = Pseudonymiser::new(&test_key(), "test-project", 1);
        let f = TokenField::Surname;
        assert_eq!(p.token_salted(f, "smith", ""), p.token(f, "smith"));
        assert!(p.token_salted(f, "smith", "19800305") != p.token(f, "smith"));
        assert!(p.token_salted(f, "smith", "19800305") != p.token_salted(f, "smith", "19800306"));
        assert_eq!(p.bloom_salted(f, "smith", ""), p.bloom(f, "smith"));
        let a = p.bloom_salted(f, "smith", "19800305");
        assert_eq!(a.dice(&p.bloom_salted(f, "smith", "19800305")), 1.0);
        // Under two salts one name's filters are as unrelated as two names' (balanced
        // filters of unrelated names are about 0.67 similar): below the lowest Dice level.
        let other = a.dice(&p.bloom_salted(f, "smith", "19800306"));
        let jones = a.dice(&p.bloom_salted(f, "jones", "19800305"));
        assert!(
            other < 0.75 && (other - jones).abs() < 0.08,
            "{other} {jones}"
        );
        let typo = a.dice(&p.bloom_salted(f, "smyth", "19800305"));
        assert!(typo > other + 0.1, "typo {typo}, other salt {other}");
    }

    #[test]
    fn tags_are_distinct_and_columns_named() {
        let all: Vec<TokenField> = every_token_field().collect();
        let mut tags: Vec<u8> = all.iter().map(|f| f.tag()).collect();
        tags.sort_unstable();
        tags.dedup();
        assert_eq!(tags.len(), all.len());
        assert!(
            TokenField::ALL
                .iter()
                .all(|f| f.token_column().rsplit('.').next() == Some("tok"))
        );
    }
}
