//! What the comparisons read of each row, derived from the store once: a row's features
//! side by side ([`RowFeatures`]), each address's words ([`Words`]), and the same for a
//! record that is not in the store (a query: [`RowFeatures::outside`]).

use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;
use rustc_hash::FxBuildHasher;

use super::{Interner, NO_ID, NameDict, NameFeatures, NewRow, Records};
use crate::compare::{Sketch, Token};
use crate::normalise::name::{groups_meet, is_folded_token, nickname_groups_at, nickname_index};

/// A value id that is no value of the store: a query's value the store does not hold. It
/// equals no stored id, so every equality test between a query and a row stays exact.
pub(crate) const FOREIGN: u32 = NO_ID - 1;

/// The strings of a query record that is not a row of the store, for the features whose ids
/// are [`FOREIGN`]. In a comparison the query is always the left side.
pub(crate) struct Outside {
    /// The normalised given name and its first token.
    pub(crate) given: (String, String),
    /// The normalised surname and its first token.
    pub(crate) surname: (String, String),
    /// The address's word hashes, sorted and distinct.
    pub(crate) address_words: Vec<u64>,
    /// The surname's id in the store's given-name dictionary (for swapped names), or `NO_ID`.
    pub(crate) surname_as_given: u32,
}

/// Everything the default comparisons read of one row, side by side in one cache line
/// (64 bytes, aligned) instead of a dozen scattered arrays. Scoring a pair then costs two
/// row loads plus dictionary lookups only where names differ. The NHS number and the digits
/// of a mistyped one share a word (a row has one or the other), and the sex shares the
/// date's: at 72 bytes every row spanned two lines, and 14M rows held 180 MB more.
#[derive(Clone, Copy)]
#[repr(align(64))]
pub(crate) struct RowFeatures {
    /// The NHS number; or, with [`NHS_MISTYPED`] set, the ten digits of one that failed
    /// its check digit; 0 when neither.
    nhs: u64,
    pub(crate) given: u32,
    pub(crate) given_canonical: u32,
    /// Soundex and NYSIIS of the first token.
    pub(crate) given_phonetic: [u32; 2],
    /// The given name's id in the surname dictionary (for swaps), or `NO_ID`.
    pub(crate) given_as_surname: u32,
    pub(crate) surname: u32,
    pub(crate) surname_phonetic: [u32; 2],
    /// The date of birth (YYYYMMDD, below 2^25) and, from bit [`SEX_SHIFT`], the sex code.
    dob_sex: u32,
    /// Unit, sector, district and area ids.
    pub(crate) postcode: [u32; 4],
    pub(crate) address: u32,
}

const _: () = assert!(std::mem::size_of::<RowFeatures>() == 64);

/// The flag of [`RowFeatures::nhs`] words holding a mistyped number's digits.
const NHS_MISTYPED: u64 = 1 << 63;
/// Where the sex code starts in [`RowFeatures::dob_sex`].
const SEX_SHIFT: u32 = 30;

impl RowFeatures {
    /// The row's NHS number, 0 when it has none (or a mistyped one).
    #[inline]
    pub(crate) fn nhs(&self) -> u64 {
        if self.nhs & NHS_MISTYPED == 0 {
            self.nhs
        } else {
            0
        }
    }

    /// The digits of the row's NHS number that failed its check digit, 0 when none.
    #[inline]
    pub(crate) fn nhs_invalid(&self) -> u64 {
        if self.nhs & NHS_MISTYPED == 0 {
            0
        } else {
            self.nhs & !NHS_MISTYPED
        }
    }

    /// The date of birth as YYYYMMDD, 0 when missing.
    #[inline]
    pub(crate) fn dob(&self) -> u32 {
        self.dob_sex & ((1 << SEX_SHIFT) - 1)
    }

    /// The [`Sex::code`](crate::normalise::sex::Sex::code): 0 missing, 1 male, 2 female.
    #[inline]
    pub(crate) fn sex(&self) -> u8 {
        (self.dob_sex >> SEX_SHIFT) as u8
    }

    /// The shared words of an NHS number (`nhs`, else the mistyped digits `invalid`), a
    /// date of birth and a sex code.
    fn words(nhs: u64, invalid: u64, dob: u32, sex: u8) -> (u64, u32) {
        let nhs = if nhs != 0 || invalid == 0 {
            nhs
        } else {
            invalid | NHS_MISTYPED
        };
        (nhs, dob | (u32::from(sex) << SEX_SHIFT))
    }
}

impl RowFeatures {
    /// The features of row `row` of `r`, with `cross` mapping given-name ids to surname ids.
    pub(crate) fn of(r: &Records, cross: &[u32], row: usize) -> RowFeatures {
        let (g, s, p) = (r.cols.given[row], r.cols.surname[row], r.cols.postcode[row]);
        let gd = &r.cols.given_dict;
        let sd = &r.cols.surname_dict;
        let pd = &r.cols.postcode_dict;
        let at = |v: &[u32], i: u32| if i == NO_ID { NO_ID } else { v[i as usize] };
        let (nhs, dob_sex) = RowFeatures::words(
            r.cols.nhs[row],
            r.cols.nhs_invalid[row],
            r.cols.dob[row],
            r.cols.sex[row],
        );
        RowFeatures {
            nhs,
            given: g,
            given_canonical: at(&gd.canonical, g),
            given_phonetic: [at(&gd.soundex, g), at(&gd.nysiis, g)],
            given_as_surname: at(cross, g),
            surname: s,
            surname_phonetic: [at(&sd.soundex, s), at(&sd.nysiis, s)],
            dob_sex,
            postcode: [p, at(&pd.sector, p), at(&pd.district, p), at(&pd.area, p)],
            address: r.cols.address[row],
        }
    }
}

impl RowFeatures {
    /// The features of a record that is not in `r`, in `r`'s id space: a value `r` holds
    /// gets its id, any other value [`FOREIGN`], whose strings go in the returned
    /// [`Outside`]. Comparing the result with a row of `r` gives the levels the record would
    /// get were it a row of `r`.
    pub(crate) fn outside(r: &Records, row: &NewRow) -> (RowFeatures, Outside) {
        let mut out = Outside {
            given: Default::default(),
            surname: Default::default(),
            address_words: Vec::new(),
            surname_as_given: row
                .surname
                .as_deref()
                .and_then(|s| r.cols.given_dict.values.lookup(s))
                .unwrap_or(NO_ID),
        };
        let gd = &r.cols.given_dict;
        let sd = &r.cols.surname_dict;
        let pd = &r.cols.postcode_dict;
        let at = |v: &[u32], i: u32| if i == NO_ID { NO_ID } else { v[i as usize] };
        let known = |i: &Interner, s: &str| i.lookup(s).unwrap_or(FOREIGN);
        // A name's id, Soundex and NYSIIS (and, for given names, canonical token).
        let name = |dict: &NameDict, v: &Option<String>, keep: &mut (String, String)| {
            let Some(v) = v.as_deref() else {
                return (NO_ID, [NO_ID; 2], NO_ID);
            };
            if let Some(id) = dict.values.lookup(v) {
                let ph = [dict.soundex[id as usize], dict.nysiis[id as usize]];
                return (id, ph, dict.canonical[id as usize]);
            }
            let f = NameFeatures::of(v);
            let ny = f.nysiis.as_deref().map_or(NO_ID, |c| known(&dict.codes, c));
            let canon = known(&dict.tokens, f.canonical);
            *keep = (v.to_string(), f.first.to_string());
            (FOREIGN, [f.soundex, ny], canon)
        };
        let (given, given_phonetic, given_canonical) = name(gd, &row.given, &mut out.given);
        let (surname, surname_phonetic, _) = name(sd, &row.surname, &mut out.surname);
        let given_as_surname = row
            .given
            .as_deref()
            .and_then(|g| sd.values.lookup(g))
            .unwrap_or(NO_ID);
        let postcode = match &row.postcode {
            None => [NO_ID; 4],
            Some(p) => {
                let [text, s, d, a] = p.levels();
                match pd.values.lookup(text) {
                    Some(id) => [
                        id,
                        at(&pd.sector, id),
                        at(&pd.district, id),
                        at(&pd.area, id),
                    ],
                    None => [
                        FOREIGN,
                        known(&pd.parts, &format!("s:{s}")),
                        known(&pd.parts, &format!("d:{d}")),
                        known(&pd.parts, &format!("a:{a}")),
                    ],
                }
            }
        };
        let address = match row.address.as_deref() {
            None => NO_ID,
            Some(a) => {
                out.address_words = address_words(a);
                known(&r.cols.address_dict, a)
            }
        };
        let (nhs, dob_sex) = RowFeatures::words(row.nhs, row.nhs_invalid, row.dob, row.sex);
        let f = RowFeatures {
            nhs,
            given,
            given_canonical,
            given_phonetic,
            given_as_surname,
            surname,
            surname_phonetic,
            dob_sex,
            postcode,
            address,
        };
        (f, out)
    }
}

fn to_id(to: &Interner, s: &str) -> u32 {
    to.lookup(s).unwrap_or(NO_ID)
}

/// Sorted, distinct word hashes of every address value, in CSR form.
pub(crate) struct Words {
    start: Vec<u32>,
    toks: Vec<u64>,
}

/// The words of no address, for comparisons that read none.
pub(crate) static EMPTY_WORDS: Words = Words {
    start: Vec::new(),
    toks: Vec::new(),
};

impl Words {
    /// The words of address value `id` (none for an id it does not hold).
    #[inline]
    pub(crate) fn get(&self, id: u32) -> &[u64] {
        let i = id as usize;
        match (self.start.get(i), self.start.get(i + 1)) {
            (Some(&a), Some(&b)) => &self.toks[a as usize..b as usize],
            _ => &[],
        }
    }

    /// The words of every value of `dict`, computed in parallel, a part of values at a time
    /// into arrays of the part's own (a vector per value was a million allocations, and as
    /// many copies, at 1M people).
    pub(crate) fn of(dict: &Interner) -> Words {
        const PART: u32 = 4096;
        let n = dict.len() as u32;
        let parts: Vec<(Vec<u32>, Vec<u64>)> = (0..n.div_ceil(PART))
            .into_par_iter()
            .map(|p| {
                let (mut counts, mut toks) = (Vec::with_capacity(PART as usize), Vec::new());
                for i in p * PART..(p * PART + PART).min(n) {
                    let before = toks.len();
                    push_address_words(dict.get(i), &mut toks);
                    counts.push((toks.len() - before) as u32);
                }
                (counts, toks)
            })
            .collect();
        let total = parts.iter().map(|(_, t)| t.len()).sum();
        let mut w = Words {
            start: Vec::with_capacity(n as usize + 1),
            toks: Vec::with_capacity(total),
        };
        w.start.push(0);
        for (counts, toks) in parts {
            let mut at = w.toks.len() as u32;
            w.start.extend(counts.iter().map(|c| {
                at += c;
                at
            }));
            w.toks.extend_from_slice(&toks);
        }
        w
    }

    /// The arrays: where each value's words start, and the words.
    pub(crate) fn parts(&self) -> (&[u32], &[u64]) {
        (&self.start, &self.toks)
    }

    /// The words of `values` address values from [`Words::parts`]; `None` when the arrays do
    /// not fit them.
    pub(crate) fn from_parts(start: Vec<u32>, toks: Vec<u64>, values: usize) -> Option<Words> {
        let ok = start.len() == values + 1
            && start.first() == Some(&0)
            && start.windows(2).all(|w| w[0] <= w[1])
            && start.last().map(|&s| s as usize) == Some(toks.len());
        ok.then_some(Words { start, toks })
    }

    /// Appends the words of the next address value.
    pub(crate) fn push(&mut self, words: &[u64]) {
        if self.start.is_empty() {
            self.start.push(0);
        }
        self.toks.extend_from_slice(words);
        self.start.push(self.toks.len() as u32);
    }
}

/// An address's words as sorted, distinct 64-bit hashes: Jaccard needs only equality, and a
/// collision among one address's few words is vanishingly rare.
pub(crate) fn address_words(address: &str) -> Vec<u64> {
    let mut t = Vec::new();
    push_address_words(address, &mut t);
    t
}

/// Appends [`address_words`] of `address` to `out`.
fn push_address_words(address: &str, out: &mut Vec<u64>) {
    let from = out.len();
    out.extend(address.split(' ').map(|w| FxBuildHasher.hash_one(w)));
    let t = &mut out[from..];
    t.sort_unstable();
    let mut kept = 0;
    for i in 0..t.len() {
        if i == 0 || t[i] != t[kept - 1] {
            t[kept] = t[i];
            kept += 1;
        }
    }
    out.truncate(from + kept);
}

/// Per-store data every comparer needs, computed on first use and shared by training
/// and scoring.
#[derive(Default)]
pub(crate) struct Derived {
    /// Kept until [`Derived::release_features`]: 80 bytes a row, 1.8 GB at 22.6M rows.
    features: Mutex<Option<Arc<Vec<RowFeatures>>>>,
    words: OnceLock<Arc<Words>>,
    names: OnceLock<Arc<NameSketches>>,
}

/// The [`Sketch`] of every given name and surname value, by id: what the name comparisons
/// read before they fetch two names' strings (see [`crate::compare`]'s levels).
pub(crate) struct NameSketches {
    /// Given names' sketches carry their first token's nickname standing
    /// ([`Sketch::with_token`]).
    pub(crate) given: Vec<Sketch>,
    pub(crate) surname: Vec<Sketch>,
}

impl NameSketches {
    /// Whether given names `a` and `b` are nickname variants, as
    /// [`crate::normalise::name::are_nickname_variants`] of their first tokens says, when
    /// known without the tokens' strings: plain tokens are variants when equal (the same
    /// token id in `first_token`) or when their groups in the table meet.
    #[inline]
    pub(crate) fn nickname_variants(&self, a: u32, b: u32, first_token: &[u32]) -> Option<bool> {
        let (x, y) = (self.given.get(a as usize)?, self.given.get(b as usize)?);
        let (Token::Plain(nx), Token::Plain(ny)) = (x.token(), y.token()) else {
            return None;
        };
        // A plain token starts its name, so equal tokens have equal first bytes: the token
        // ids are read only then.
        if x.first() == y.first() && first_token[a as usize] == first_token[b as usize] {
            return Some(true);
        }
        Some(
            nx.zip(ny)
                .is_some_and(|(i, j)| groups_meet(nickname_groups_at(i), nickname_groups_at(j))),
        )
    }
}

impl Clone for Derived {
    /// A clone starts empty: the data is derived.
    fn clone(&self) -> Self {
        Derived::default()
    }
}

impl Derived {
    /// Every row's [`RowFeatures`].
    pub(crate) fn features(&self, records: &Records) -> Arc<Vec<RowFeatures>> {
        let mut kept = self
            .features
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(kept.get_or_insert_with(|| {
            let g = &records.cols.given_dict.values;
            let s = &records.cols.surname_dict.values;
            let cross: Vec<u32> = (0..g.len() as u32).map(|i| to_id(s, g.get(i))).collect();
            Arc::new(
                (0..records.len())
                    .into_par_iter()
                    .map(|row| RowFeatures::of(records, &cross, row))
                    .collect(),
            )
        }))
    }

    /// Stops keeping the rows' features: freed when the last comparer using them is, and
    /// computed again if asked for.
    pub(crate) fn release_features(&self) {
        *self
            .features
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// The names' sketches, computed in parallel.
    pub(crate) fn names(&self, records: &Records) -> Arc<NameSketches> {
        Arc::clone(self.names.get_or_init(|| {
            let of = |d: &Interner| {
                (0..d.len() as u32)
                    .into_par_iter()
                    .map(|id| Sketch::of(d.get(id)))
                    .collect()
            };
            let g = &records.cols.given_dict;
            let given = (0..g.values.len())
                .into_par_iter()
                .map(|id| {
                    let token = g.tokens.get(g.first_token[id]);
                    Sketch::of(g.values.get(id as u32)).with_token(if is_folded_token(token) {
                        Token::Plain(nickname_index(token))
                    } else {
                        Token::Other
                    })
                })
                .collect();
            Arc::new(NameSketches {
                given,
                surname: of(&records.cols.surname_dict.values),
            })
        }))
    }

    /// Each address's words ([`address_words`]), computed in parallel.
    pub(crate) fn words(&self, records: &Records) -> Arc<Words> {
        Arc::clone(
            self.words
                .get_or_init(|| Arc::new(Words::of(&records.cols.address_dict))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Over more than one part of values: each value's words are its own, sorted and
    /// distinct (a repeated word, an empty value), in the order of the values.
    #[test]
    fn every_address_value_gets_its_own_words() {
        let mut dict = Interner::default();
        let values: Vec<String> = (0..9000)
            .map(|i| match i % 4 {
                0 => format!("{i} high street high street leeds"),
                1 => String::new(),
                2 => format!("flat {} {i} the lane", i % 7),
                _ => format!("{i}"),
            })
            .collect();
        for v in &values {
            dict.push_distinct(v);
        }
        let words = Words::of(&dict);
        for (i, v) in values.iter().enumerate() {
            let mut want: Vec<u64> = v.split(' ').map(|w| FxBuildHasher.hash_one(w)).collect();
            want.sort_unstable();
            want.dedup();
            assert_eq!(words.get(i as u32), want.as_slice(), "value {i}");
        }
        assert_eq!(words.get(9000), &[] as &[u64]);
    }

    /// The nickname test from the sketches (token ids and groups) agrees with the tokens'
    /// strings on every pair of given names: equal tokens, variants, strangers, and tokens
    /// it leaves to the strings (digits).
    #[test]
    fn nickname_variants_from_the_sketches_are_those_of_the_strings() {
        let names = [
            "Bill", "William", "Liam", "Peggy", "Maggie", "Margaret", "Zebedee", "Mary Ann",
            "Mary", "Jo", "J0hn", "John", "Sandy", "Alex", "José", "Robert",
        ];
        let mut text = String::from("id,given_name,surname\n");
        for (i, n) in names.iter().enumerate() {
            text.push_str(&format!("r{i},{n},smith\n"));
        }
        let mut b = Records::builder();
        b.add_reader("t", text.as_bytes()).unwrap();
        let records = b.build().unwrap().0;
        let sketches = records.name_sketches();
        let dict = &records.cols.given_dict;
        let token = |id: u32| dict.tokens.get(dict.first_token[id as usize]);
        let (mut known, mut variants) = (0, 0);
        for a in 0..dict.values.len() as u32 {
            for b in 0..dict.values.len() as u32 {
                let want = crate::normalise::name::are_nickname_variants(token(a), token(b));
                if let Some(got) = sketches.nickname_variants(a, b, &dict.first_token) {
                    assert_eq!(got, want, "{a} {b}");
                    known += 1;
                    variants += usize::from(got && a != b);
                }
            }
        }
        assert!(variants >= 8, "{variants}");
        assert!(
            known < dict.values.len().pow(2),
            "digits are left to the strings"
        );
    }

    #[test]
    fn a_row_keeps_its_nhs_number_or_mistyped_digits_date_and_sex_in_shared_words() {
        let row = |nhs, invalid, dob, sex| {
            let (nhs, dob_sex) = RowFeatures::words(nhs, invalid, dob, sex);
            let f = RowFeatures {
                nhs,
                given: NO_ID,
                given_canonical: NO_ID,
                given_phonetic: [NO_ID; 2],
                given_as_surname: NO_ID,
                surname: NO_ID,
                surname_phonetic: [NO_ID; 2],
                dob_sex,
                postcode: [NO_ID; 4],
                address: NO_ID,
            };
            (f.nhs(), f.nhs_invalid(), f.dob(), f.sex())
        };
        assert_eq!(
            row(9_434_765_919, 0, 19_800_201, 2),
            (9_434_765_919, 0, 19_800_201, 2)
        );
        assert_eq!(
            row(0, 9_434_765_918, 20_261_231, 1),
            (0, 9_434_765_918, 20_261_231, 1)
        );
        assert_eq!(row(0, 0, 0, 0), (0, 0, 0, 0));
        assert_eq!(row(0, 9_999_999_999, 0, 2), (0, 9_999_999_999, 0, 2));
    }
}
