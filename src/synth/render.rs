//! Rendering one record copy of a person in one source's conventions, with corruption.
//!
//! Every record copy draws from its own generator seeded by `(seed, source, person, copy)`,
//! so a row's content does not depend on which thread renders it or in what order.

use super::calendar::{Date, civil_from_days};
use super::corrupt;
use super::nhs::nhs_number;
use super::population::{Address, NO_ID, Person, Population, REFERENCE, moved_address};
use super::stream;
use super::tables::{Sex, Tables};
use crate::rng::Rng;

/// Corruption rates per record copy at `noise` 1.0 (each is multiplied by the noise and
/// capped at 1). Rates in one group (given name, date of birth, postcode, NHS number, sex)
/// are exclusive: a copy gets at most one corruption of each group.
pub(crate) mod rates {
    /// Given name: one typing error.
    pub const GIVEN_TYPO: f64 = 0.04;
    /// Given name: a nickname or short form, when the nickname table knows the name.
    pub const GIVEN_NICKNAME: f64 = 0.05;
    /// Given name: the initial only.
    pub const GIVEN_INITIAL: f64 = 0.005;
    /// Given name: missing.
    pub const GIVEN_MISSING: f64 = 0.005;
    /// Surname: one typing error.
    pub const SURNAME_TYPO: f64 = 0.03;
    /// Given name and surname swapped.
    pub const NAME_SWAP: f64 = 0.005;
    /// Married woman recorded under her maiden name.
    pub const MAIDEN_NAME: f64 = 0.10;
    /// Double-barrelled surname recorded with one part only, or a space for the hyphen.
    pub const HYPHEN_DROPPED: f64 = 0.30;
    /// Date of birth: day and month swapped (only when the day is 12 or less and differs
    /// from the month).
    pub const DOB_SWAP: f64 = 0.01;
    /// Date of birth: one digit mistyped (still a real date).
    pub const DOB_DIGIT: f64 = 0.015;
    /// Date of birth: two adjacent digits transposed (still a real date).
    pub const DOB_TRANSPOSE: f64 = 0.005;
    /// Date of birth: missing.
    pub const DOB_MISSING: f64 = 0.005;
    /// Date of birth: placeholder 1900-01-01.
    pub const DOB_PLACEHOLDER: f64 = 0.002;
    /// Postcode and address: the household's other address (the person moved).
    pub const POSTCODE_MOVED: f64 = 0.08;
    /// Postcode: missing (address kept).
    pub const POSTCODE_MISSING: f64 = 0.03;
    /// Postcode: one character mistyped.
    pub const POSTCODE_TYPO: f64 = 0.01;
    /// Postcode ZZ99 3VZ and address "No Fixed Abode".
    pub const POSTCODE_NO_FIXED_ABODE: f64 = 0.002;
    /// Postcode: no space, two spaces, or lower case.
    pub const POSTCODE_FORMAT: f64 = 0.20;
    /// NHS number: one digit mistyped (always fails the modulus-11 check).
    pub const NHS_MISTYPE: f64 = 0.01;
    /// NHS number: two adjacent digits transposed (always fails the check).
    pub const NHS_TRANSPOSE: f64 = 0.005;
    /// Sex: missing.
    pub const SEX_MISSING: f64 = 0.01;
    /// Sex: the other one.
    pub const SEX_WRONG: f64 = 0.002;
    /// Names and address in UPPER (60%) or lower (40%) case.
    pub const CASE: f64 = 0.20;
    /// An extra leading, trailing or doubled space in a name or the address.
    pub const EXTRA_SPACE: f64 = 0.05;
    /// Street suffix abbreviated ("Road" -> "Rd").
    pub const ADDRESS_ABBREVIATION: f64 = 0.20;
}

/// A source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// A GP system.
    Gp,
    /// A hospital patient administration system.
    Hospital,
    /// A social-care / master patient index extract with duplicates.
    Dedupe,
}

impl Source {
    pub(crate) const ALL: [Source; 3] = [Source::Gp, Source::Hospital, Source::Dedupe];

    pub(crate) fn index(self) -> usize {
        match self {
            Source::Gp => 0,
            Source::Hospital => 1,
            Source::Dedupe => 2,
        }
    }

    pub(crate) fn file_name(self) -> &'static str {
        match self {
            Source::Gp => "gp.csv",
            Source::Hospital => "hospital.csv",
            Source::Dedupe => "dedupe.csv",
        }
    }

    pub(crate) fn header(self) -> [&'static str; 8] {
        match self {
            Source::Gp | Source::Dedupe => [
                "rec_id",
                "nhs_number",
                "given_name",
                "surname",
                "date_of_birth",
                "sex",
                "postcode",
                "address",
            ],
            Source::Hospital => [
                "id",
                "nhs_no",
                "first_name",
                "last_name",
                "dob",
                "gender",
                "postcode",
                "address_line_1",
            ],
        }
    }

    /// The id of the record at 0-based `position` in the file.
    pub(crate) fn id(self, position: usize) -> String {
        let n = position + 1;
        match self {
            Source::Gp => format!("GP{n:08}"),
            Source::Hospital => format!("H{n:08}"),
            Source::Dedupe => format!("S{n:08}"),
        }
    }

    /// NHS number missing, per copy.
    pub(crate) fn nhs_missing(self) -> f64 {
        match self {
            Source::Gp => 0.01,
            Source::Hospital => 0.12,
            Source::Dedupe => 0.40,
        }
    }

    /// Newborn (under one) recorded with a placeholder given name, per copy.
    pub(crate) fn baby_placeholder(self) -> f64 {
        match self {
            Source::Gp => 0.0,
            Source::Hospital => 0.7,
            Source::Dedupe => 0.3,
        }
    }
}

/// Hospital: share of NHS numbers written `943 476 5919` (a format convention, not scaled by
/// the noise).
pub(crate) const HOSPITAL_NHS_SPACED: f64 = 0.3;
/// Hospital: share of records with gender coded `1`/`2` (`0` not known) rather than
/// `Male`/`Female` (a format convention, not scaled by the noise).
pub(crate) const HOSPITAL_NUMERIC_GENDER: f64 = 0.25;

/// What a renderer needs.
pub(crate) struct Context<'a> {
    pub seed: u64,
    pub noise: f64,
    pub population: &'a Population,
    pub tables: &'a Tables,
    pub reference: i32,
}

/// One rendered record, without its id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Row {
    pub nhs: String,
    pub given: String,
    pub surname: String,
    pub dob: String,
    pub sex: String,
    pub postcode: String,
    pub address: String,
}

/// The first category whose cumulative rate exceeds a uniform draw, if any.
fn pick(rng: &mut Rng, rates: &[f64]) -> Option<usize> {
    let u = rng.unit();
    let mut acc = 0.0;
    for (i, r) in rates.iter().enumerate() {
        acc += r;
        if u < acc {
            return Some(i);
        }
    }
    None
}

/// The full surname of a person as the table spells it (double-barrelled when built from two
/// entries).
pub(crate) fn true_surname(t: &Tables, p: &Person) -> String {
    let mut s = t.surnames[usize::from(p.surname)].to_string();
    if p.surname2 != NO_ID {
        s.push('-');
        s.push_str(&t.surnames[usize::from(p.surname2)]);
    }
    s
}

/// The first line of an address ("Flat 2, 14 Church Road").
fn address_line(t: &Tables, a: &Address, abbreviate: bool) -> String {
    let suffix = &t.suffixes[usize::from(a.suffix)];
    let word = match (&suffix.abbreviation, abbreviate) {
        (Some(abbr), true) => abbr,
        _ => &suffix.word,
    };
    let street = &t.streets[usize::from(a.street)];
    if a.flat > 0 {
        format!("Flat {}, {} {street} {word}", a.flat, a.number)
    } else {
        format!("{} {street} {word}", a.number)
    }
}

fn format_date(source: Source, d: Date) -> String {
    match source {
        Source::Hospital => format!("{:02}/{:02}/{:04}", d.day, d.month, d.year),
        Source::Gp | Source::Dedupe => format!("{:04}-{:02}-{:02}", d.year, d.month, d.day),
    }
}

/// Renders copy `copy` of person `person` in `source`. The phases draw from one generator
/// in a fixed order (names, date of birth, sex, location, NHS number, case and spacing), so
/// that the same seed gives the same file.
pub(crate) fn render(ctx: &Context<'_>, source: Source, person: u32, copy: u8) -> Row {
    let p = &ctx.population.people[person as usize];
    let mut rng = Rng::new(
        ctx.seed,
        stream::RECORD + source.index() as u64,
        (u64::from(person) << 8) | u64::from(copy),
    );
    let noise = ctx.noise;
    let r = |x: f64| (x * noise).min(1.0);
    let (mut given, mut surname) = render_names(ctx, source, p, &mut rng, r);
    let dob = render_dob(source, p, &mut rng, r);
    let sex = render_sex(source, p, &mut rng, r);
    let (mut address, postcode) = render_location(ctx, source, p, &mut rng, r);
    let nhs = render_nhs(ctx, source, person, &mut rng, r);
    text_noise(&mut rng, r, [&mut given, &mut surname, &mut address]);
    Row {
        nhs,
        given,
        surname,
        dob,
        sex,
        postcode,
        address,
    }
}

/// The given name and surname as `source` records them.
fn render_names(
    ctx: &Context<'_>,
    source: Source,
    p: &Person,
    rng: &mut Rng,
    r: impl Fn(f64) -> f64,
) -> (String, String) {
    let t = ctx.tables;
    // Surname: maiden name, then a double-barrelled name shortened.
    let mut surname = if p.maiden != NO_ID && rng.chance(r(rates::MAIDEN_NAME)) {
        t.surnames[usize::from(p.maiden)].to_string()
    } else {
        true_surname(t, p)
    };
    if surname.contains('-') && rng.chance(r(rates::HYPHEN_DROPPED)) {
        surname = match rng.below(3) {
            0 => surname.split('-').next().unwrap_or_default().to_owned(),
            1 => surname.rsplit('-').next().unwrap_or_default().to_owned(),
            _ => surname.replace('-', " "),
        };
    }

    // Given name: newborn placeholders, else the exclusive given-name corruptions.
    let true_given: &str = &t.given[usize::from(p.given)].name;
    let newborn = ctx.reference - p.dob < 365;
    let mut given = if newborn && rng.chance(r(source.baby_placeholder())) {
        if p.twin > 0 && rng.chance(0.6) {
            format!("Twin {}", p.twin)
        } else if rng.chance(0.5) {
            format!("Baby of {surname}")
        } else {
            "BABY".to_owned()
        }
    } else {
        match pick(
            rng,
            &[
                r(rates::GIVEN_TYPO),
                r(rates::GIVEN_NICKNAME),
                r(rates::GIVEN_INITIAL),
                r(rates::GIVEN_MISSING),
            ],
        ) {
            Some(0) => corrupt::typo(rng, true_given),
            Some(1) => match t.nicknames_of(true_given) {
                Some(list) if !list.is_empty() => corrupt::capitalise(&list[rng.index(list.len())]),
                _ => true_given.to_owned(),
            },
            Some(2) => true_given.chars().take(1).collect(),
            Some(3) => String::new(),
            _ => true_given.to_owned(),
        }
    };
    if rng.chance(r(rates::SURNAME_TYPO)) {
        surname = corrupt::typo(rng, &surname);
    }
    if rng.chance(r(rates::NAME_SWAP)) {
        std::mem::swap(&mut given, &mut surname);
    }
    if source == Source::Hospital {
        given = corrupt::strip_diacritics(&given);
        surname = corrupt::strip_diacritics(&surname);
    }

    (given, surname)
}

/// The date of birth as `source` writes it (empty when missing).
fn render_dob(source: Source, p: &Person, rng: &mut Rng, r: impl Fn(f64) -> f64) -> String {
    let d = civil_from_days(p.dob);
    let dob = match pick(
        rng,
        &[
            r(rates::DOB_SWAP),
            r(rates::DOB_DIGIT),
            r(rates::DOB_TRANSPOSE),
            r(rates::DOB_MISSING),
            r(rates::DOB_PLACEHOLDER),
        ],
    ) {
        Some(0) if d.day <= 12 && d.day != d.month => Some(Date {
            year: d.year,
            month: d.day,
            day: d.month,
        }),
        Some(1) => Some(corrupt::date_digit_error(rng, d, REFERENCE).unwrap_or(d)),
        Some(2) => Some(corrupt::date_transposition(rng, d, REFERENCE).unwrap_or(d)),
        Some(3) => None,
        Some(4) => Some(Date {
            year: 1900,
            month: 1,
            day: 1,
        }),
        _ => Some(d),
    };
    dob.map(|d| format_date(source, d)).unwrap_or_default()
}

/// Sex as `source` codes it.
fn render_sex(source: Source, p: &Person, rng: &mut Rng, r: impl Fn(f64) -> f64) -> String {
    let sex = match pick(rng, &[r(rates::SEX_MISSING), r(rates::SEX_WRONG)]) {
        Some(0) => None,
        Some(1) => Some(p.sex.other()),
        _ => Some(p.sex),
    };
    match source {
        Source::Gp | Source::Dedupe => match sex {
            Some(Sex::Male) => "M",
            Some(Sex::Female) => "F",
            None => "",
        },
        Source::Hospital => {
            let numeric = rng.chance(HOSPITAL_NUMERIC_GENDER);
            match (sex, numeric) {
                (Some(Sex::Male), true) => "1",
                (Some(Sex::Female), true) => "2",
                (None, true) => "0",
                (Some(Sex::Male), false) => "Male",
                (Some(Sex::Female), false) => "Female",
                (None, false) => "",
            }
        }
    }
    .to_owned()
}

/// The address line(s) and postcode as `source` records them.
fn render_location(
    ctx: &Context<'_>,
    source: Source,
    p: &Person,
    rng: &mut Rng,
    r: impl Fn(f64) -> f64,
) -> (String, String) {
    let t = ctx.tables;
    let household = &ctx.population.households[p.household as usize];
    let home = household.address;
    let (address, mut postcode) = match pick(
        rng,
        &[
            r(rates::POSTCODE_MOVED),
            r(rates::POSTCODE_MISSING),
            r(rates::POSTCODE_TYPO),
            r(rates::POSTCODE_NO_FIXED_ABODE),
        ],
    ) {
        Some(0) => {
            let moved = moved_address(ctx.seed, p.household, &home, t);
            (Some(moved), moved.postcode(t))
        }
        Some(1) => (Some(home), String::new()),
        Some(2) => (Some(home), corrupt::postcode_typo(rng, &home.postcode(t))),
        Some(3) => (None, "ZZ99 3VZ".to_owned()),
        _ => (Some(home), home.postcode(t)),
    };
    if !postcode.is_empty() && rng.chance(r(rates::POSTCODE_FORMAT)) {
        postcode = corrupt::postcode_format_noise(rng, &postcode);
    }
    let address = match address {
        Some(a) => {
            let line = address_line(t, &a, rng.chance(r(rates::ADDRESS_ABBREVIATION)));
            match source {
                Source::Hospital => line,
                Source::Gp | Source::Dedupe => {
                    format!("{line}, {}", t.districts[usize::from(a.district)].town)
                }
            }
        }
        None => "No Fixed Abode".to_owned(),
    };

    (address, postcode)
}

/// The NHS number as `source` writes it (empty when missing).
fn render_nhs(
    ctx: &Context<'_>,
    source: Source,
    person: u32,
    rng: &mut Rng,
    r: impl Fn(f64) -> f64,
) -> String {
    let mut digits = nhs_number(ctx.seed, u64::from(person));
    let nhs = match pick(
        rng,
        &[
            r(source.nhs_missing()),
            r(rates::NHS_MISTYPE),
            r(rates::NHS_TRANSPOSE),
        ],
    ) {
        Some(0) => None,
        Some(1) => {
            corrupt::digit_error(rng, &mut digits);
            Some(digits)
        }
        Some(2) => {
            corrupt::digit_transposition(rng, &mut digits);
            Some(digits)
        }
        _ => Some(digits),
    };
    match nhs {
        None => String::new(),
        Some(d) => {
            let s = String::from_utf8_lossy(&d).into_owned();
            if source == Source::Hospital && rng.chance(HOSPITAL_NHS_SPACED) {
                format!("{} {} {}", &s[0..3], &s[3..6], &s[6..10])
            } else {
                s
            }
        }
    }
}

/// Case and spacing noise on the free-text fields (given name, surname, address).
fn text_noise(rng: &mut Rng, r: impl Fn(f64) -> f64, fields: [&mut String; 3]) {
    let [given, surname, address] = fields;
    if rng.chance(r(rates::CASE)) {
        let upper = rng.chance(0.6);
        for f in [&mut *given, &mut *surname, &mut *address] {
            *f = if upper {
                f.to_uppercase()
            } else {
                f.to_lowercase()
            };
        }
    }
    if rng.chance(r(rates::EXTRA_SPACE)) {
        let f = match rng.below(3) {
            0 => given,
            1 => surname,
            _ => address,
        };
        if !f.is_empty() {
            *f = corrupt::extra_space(rng, f);
        }
    }
}

/// Days since 1970-01-01 of [`REFERENCE`].
pub(crate) fn reference_day() -> i32 {
    super::calendar::days_from_civil(REFERENCE)
}
