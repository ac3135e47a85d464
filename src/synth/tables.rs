//! The frequency tables behind the synthetic population, parsed once from the data files in
//! `src/synth/data/` (compiled in with `include_str!`).
//!
//! The files are ours, so parsing is lenient: a malformed line is skipped, and the unit tests
//! check that every line parses and that each table has the size the documentation promises.

use std::sync::OnceLock;

use rustc_hash::FxHashMap;

use crate::rng::Rng;

const GIVEN_NAMES: &str = include_str!("data/given_names.csv");
const SURNAMES: &str = include_str!("data/surnames.csv");
const POSTCODES: &str = include_str!("data/postcodes.csv");
const STREETS: &str = include_str!("data/streets.txt");
const STREET_SUFFIXES: &str = include_str!("data/street_suffixes.csv");
const NICKNAMES: &str = include_str!("data/nicknames.txt");

/// Sex of a synthetic person.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sex {
    Male,
    Female,
}

impl Sex {
    pub(crate) fn index(self) -> usize {
        match self {
            Sex::Male => 0,
            Sex::Female => 1,
        }
    }

    pub(crate) fn other(self) -> Sex {
        match self {
            Sex::Male => Sex::Female,
            Sex::Female => Sex::Male,
        }
    }
}

/// Birth eras for given-name popularity.
pub(crate) const ERAS: usize = 3;

/// The era of a birth year: 0 before 1965, 1 for 1965-1994, 2 from 1995.
pub(crate) fn era_of(year: i32) -> usize {
    if year < 1965 {
        0
    } else if year < 1995 {
        1
    } else {
        2
    }
}

/// Origin groups (see the data files): W, S, A, E, X.
pub(crate) const GROUPS: usize = 5;

/// Share of households by origin group, roughly following the 2021 census of England and
/// Wales (White British and Irish plus Caribbean heritage with British surnames in W).
pub(crate) const GROUP_WEIGHTS: [u32; GROUPS] = [80, 9, 4, 4, 3];

fn group_of(code: &str) -> Option<u8> {
    match code {
        "W" => Some(0),
        "S" => Some(1),
        "A" => Some(2),
        "E" => Some(3),
        "X" => Some(4),
        _ => None,
    }
}

/// A cumulative-weight table over indices into some item list.
#[derive(Debug, Default)]
pub(crate) struct Weighted {
    items: Vec<u16>,
    cumulative: Vec<u64>,
}

impl Weighted {
    fn push(&mut self, item: u16, weight: u64) {
        if weight == 0 {
            return;
        }
        let total = self.total() + weight;
        self.items.push(item);
        self.cumulative.push(total);
    }

    fn total(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// A weighted random item; `None` only for an empty table.
    pub(crate) fn sample(&self, rng: &mut Rng) -> Option<u16> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let x = rng.below(total);
        let i = self.cumulative.partition_point(|&c| c <= x);
        self.items.get(i).copied()
    }
}

/// A given name.
#[derive(Debug)]
pub(crate) struct GivenName {
    pub name: Box<str>,
    #[allow(dead_code, reason = "read by the table tests")]
    pub sex: Sex,
}

/// A postcode district.
#[derive(Debug)]
pub(crate) struct District {
    pub code: Box<str>,
    pub town: Box<str>,
}

/// A street suffix and its abbreviation.
#[derive(Debug)]
pub(crate) struct Suffix {
    pub word: Box<str>,
    pub abbreviation: Option<Box<str>>,
}

/// All tables.
#[derive(Debug)]
pub(crate) struct Tables {
    pub given: Vec<GivenName>,
    /// `[sex][era][group]` sampling tables over `given`.
    given_by: Vec<Weighted>,
    pub surnames: Vec<Box<str>>,
    /// Per group sampling tables over `surnames`.
    surname_by: Vec<Weighted>,
    pub districts: Vec<District>,
    district_weights: Weighted,
    pub streets: Vec<Box<str>>,
    pub suffixes: Vec<Suffix>,
    suffix_weights: Weighted,
    groups: Weighted,
    /// Lower-case formal name -> nicknames.
    pub nicknames: FxHashMap<Box<str>, Vec<Box<str>>>,
}

/// The tables, parsed on first use.
pub(crate) fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(parse_all)
}

/// Data lines of a file: trimmed, without blank lines and `#` comments.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

fn given_index(sex: Sex, era: usize, group: usize) -> usize {
    (sex.index() * ERAS + era) * GROUPS + group
}

fn parse_all() -> Tables {
    let (given, given_by) = parse_given();
    let (surnames, surname_by) = parse_surnames();
    let (districts, district_weights) = parse_districts();
    let streets: Vec<Box<str>> = lines(STREETS).map(Into::into).collect();
    let (suffixes, suffix_weights) = parse_suffixes();
    let nicknames = parse_nicknames();
    let mut groups = Weighted::default();
    for (g, w) in GROUP_WEIGHTS.iter().enumerate() {
        groups.push(g as u16, u64::from(*w));
    }

    Tables {
        given,
        given_by,
        surnames,
        surname_by,
        districts,
        district_weights,
        streets,
        suffixes,
        suffix_weights,
        groups,
        nicknames,
    }
}

/// Given names, and their weights by sex, era and origin group.
fn parse_given() -> (Vec<GivenName>, Vec<Weighted>) {
    let mut given = Vec::new();
    let mut given_by: Vec<Weighted> = (0..2 * ERAS * GROUPS)
        .map(|_| Weighted::default())
        .collect();
    for line in lines(GIVEN_NAMES) {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let [sex, name, weight, eras, group] = f[..] else {
            continue;
        };
        let sex = match sex {
            "M" => Sex::Male,
            "F" => Sex::Female,
            _ => continue,
        };
        let (Ok(weight), Some(group)) = (weight.parse::<u64>(), group_of(group)) else {
            continue;
        };
        let Ok(idx) = u16::try_from(given.len()) else {
            break;
        };
        for (era, letter) in ['O', 'M', 'N'].into_iter().enumerate() {
            if eras.contains(letter) {
                given_by[given_index(sex, era, usize::from(group))].push(idx, weight);
            }
        }
        given.push(GivenName {
            name: name.into(),
            sex,
        });
    }
    (given, given_by)
}

/// Surnames, and their weights by origin group.
fn parse_surnames() -> (Vec<Box<str>>, Vec<Weighted>) {
    let mut surnames = Vec::new();
    let mut surname_by: Vec<Weighted> = (0..GROUPS).map(|_| Weighted::default()).collect();
    for line in lines(SURNAMES) {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let [name, weight, group] = f[..] else {
            continue;
        };
        let (Ok(weight), Some(group)) = (weight.parse::<u64>(), group_of(group)) else {
            continue;
        };
        let Ok(idx) = u16::try_from(surnames.len()) else {
            break;
        };
        surname_by[usize::from(group)].push(idx, weight);
        surnames.push(name.into());
    }
    (surnames, surname_by)
}

/// Postcode districts with their towns and weights.
fn parse_districts() -> (Vec<District>, Weighted) {
    let mut districts = Vec::new();
    let mut district_weights = Weighted::default();
    for line in lines(POSTCODES) {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let [code, town, weight] = f[..] else {
            continue;
        };
        let (Ok(weight), Ok(idx)) = (weight.parse::<u64>(), u16::try_from(districts.len())) else {
            continue;
        };
        district_weights.push(idx, weight);
        districts.push(District {
            code: code.into(),
            town: town.into(),
        });
    }
    (districts, district_weights)
}

/// Street suffixes with their weights and abbreviations.
fn parse_suffixes() -> (Vec<Suffix>, Weighted) {
    let mut suffixes = Vec::new();
    let mut suffix_weights = Weighted::default();
    for line in lines(STREET_SUFFIXES) {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let [word, weight, abbreviation] = f[..] else {
            continue;
        };
        let (Ok(weight), Ok(idx)) = (weight.parse::<u64>(), u16::try_from(suffixes.len())) else {
            continue;
        };
        suffix_weights.push(idx, weight);
        suffixes.push(Suffix {
            word: word.into(),
            abbreviation: (!abbreviation.is_empty()).then(|| abbreviation.into()),
        });
    }
    (suffixes, suffix_weights)
}

/// Nicknames of each formal given name.
fn parse_nicknames() -> FxHashMap<Box<str>, Vec<Box<str>>> {
    let mut nicknames = FxHashMap::default();
    for line in lines(NICKNAMES) {
        let Some((formal, rest)) = line.split_once(':') else {
            continue;
        };
        let list: Vec<Box<str>> = rest
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Into::into)
            .collect();
        if !list.is_empty() {
            nicknames.insert(formal.trim().into(), list);
        }
    }
    nicknames
}

impl Tables {
    /// A weighted given name for a person of `sex` born in `era` with origin `group`; falls
    /// back to group W (index 0) when the group has no name for that era.
    pub(crate) fn sample_given(&self, rng: &mut Rng, sex: Sex, era: usize, group: usize) -> u16 {
        let table = &self.given_by[given_index(sex, era, group)];
        let table = if table.is_empty() {
            &self.given_by[given_index(sex, era, 0)]
        } else {
            table
        };
        table.sample(rng).unwrap_or(0)
    }

    /// A weighted surname of origin `group`.
    pub(crate) fn sample_surname(&self, rng: &mut Rng, group: usize) -> u16 {
        self.surname_by[group]
            .sample(rng)
            .or_else(|| self.surname_by[0].sample(rng))
            .unwrap_or(0)
    }

    /// A weighted origin group.
    pub(crate) fn sample_group(&self, rng: &mut Rng) -> usize {
        usize::from(self.groups.sample(rng).unwrap_or(0))
    }

    /// A weighted postcode district.
    pub(crate) fn sample_district(&self, rng: &mut Rng) -> u16 {
        self.district_weights.sample(rng).unwrap_or(0)
    }

    /// A weighted street suffix.
    pub(crate) fn sample_suffix(&self, rng: &mut Rng) -> u8 {
        self.suffix_weights.sample(rng).unwrap_or(0) as u8
    }

    /// Nicknames of a given name, if the table knows it.
    pub(crate) fn nicknames_of(&self, given: &str) -> Option<&[Box<str>]> {
        self.nicknames
            .get(given.to_lowercase().as_str())
            .map(Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data_lines(text: &str) -> usize {
        lines(text).count()
    }

    #[test]
    fn every_data_line_parses() {
        let t = tables();
        assert_eq!(t.given.len(), data_lines(GIVEN_NAMES));
        assert_eq!(t.surnames.len(), data_lines(SURNAMES));
        assert_eq!(t.districts.len(), data_lines(POSTCODES));
        assert_eq!(t.suffixes.len(), data_lines(STREET_SUFFIXES));
        assert_eq!(t.nicknames.len(), data_lines(NICKNAMES));
    }

    #[test]
    fn tables_are_as_large_as_documented() {
        let t = tables();
        let distinct = |sex: Sex| {
            let mut v: Vec<&str> = t
                .given
                .iter()
                .filter(|g| g.sex == sex)
                .map(|g| &*g.name)
                .collect();
            v.sort_unstable();
            v.dedup();
            v.len()
        };
        assert!(distinct(Sex::Male) >= 300);
        assert!(distinct(Sex::Female) >= 300);
        assert!(t.surnames.len() >= 1000);
        assert!(t.districts.len() >= 400);
        assert!(t.streets.len() >= 150);
        assert!(t.nicknames.len() >= 100);
        for name in ["Zoë", "Chloé", "Siân", "José", "Renée", "Łukasz"] {
            assert!(t.given.iter().any(|g| &*g.name == name), "{name}");
        }
        for name in [
            "McDonald",
            "MacLeod",
            "O'Brien",
            "Lloyd-Jones",
            "Patel",
            "Okafor",
        ] {
            assert!(t.surnames.iter().any(|s| &**s == name), "{name}");
        }
    }

    #[test]
    fn every_sampling_table_for_group_w_is_populated() {
        let t = tables();
        for sex in [Sex::Male, Sex::Female] {
            for era in 0..ERAS {
                assert!(!t.given_by[given_index(sex, era, 0)].is_empty());
            }
        }
        for g in 0..GROUPS {
            assert!(!t.surname_by[g].is_empty());
        }
    }

    #[test]
    fn district_codes_are_well_formed_outward_codes() {
        for d in &tables().districts {
            let c = d.code.as_bytes();
            assert!((2..=4).contains(&c.len()), "{}", d.code);
            assert!(c[0].is_ascii_uppercase(), "{}", d.code);
            assert!(c.iter().any(u8::is_ascii_digit), "{}", d.code);
            assert!(c.iter().all(u8::is_ascii_alphanumeric), "{}", d.code);
        }
    }
}
