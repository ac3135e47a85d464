//! The true population: households and the people living in them, before any source has
//! recorded (and corrupted) them.
//!
//! People are generated in fixed chunks of [`CHUNK`] person indices; each chunk draws from its
//! own generator seeded by `(seed, chunk)`, so the population is the same on any thread count.

use rayon::prelude::*;

use super::GenerateOptions;
use super::calendar::{Date, civil_from_days, days_from_civil};
use super::stream;
use super::tables::{Sex, Tables, era_of, tables};
use crate::rng::Rng;

/// "No surname" in the optional surname slots.
pub(crate) const NO_ID: u16 = u16::MAX;

/// People per generation chunk (fixed: changing it changes the output).
pub(crate) const CHUNK: usize = 4096;

/// The date the synthetic extracts are taken: ages are measured to this day.
pub(crate) const REFERENCE: Date = Date {
    year: 2025,
    month: 1,
    day: 1,
};

/// Letters used in the last two places of a unit postcode.
pub(crate) const INWARD_LETTERS: &[u8; 20] = b"ABDEFGHJLNPQRSTUWXYZ";

/// Share of people who are one of a pair of twins living together.
pub(crate) const TWIN_RATE: f64 = 0.015;
/// Share of people who share given name and surname with a relative at their address.
pub(crate) const NAMESAKE_RATE: f64 = 0.005;
/// Share of opposite-sex couples who are married (the wife then usually has a maiden name).
pub(crate) const MARRIED_RATE: f64 = 0.65;
/// Share of married women who took their husband's surname.
pub(crate) const TOOK_NAME_RATE: f64 = 0.9;
/// Share of families with children whose children have a double-barrelled surname made of
/// both parents' surnames.
pub(crate) const DOUBLE_BARREL_RATE: f64 = 0.03;
/// Share of people recorded in the deduplication source.
pub(crate) const DEDUPE_COVERAGE: f64 = 0.5;
/// Share of people in GP or hospital who have a second record there.
pub(crate) const DUPLICATE_RATE: f64 = 0.01;
/// In the deduplication source, the chance that a person with two records has a third, a
/// third a fourth, and so on (geometric), up to [`MAX_DEDUPE_COPIES`].
pub(crate) const DEDUPE_EXTRA_CONTINUE: f64 = 0.3;
/// Most records of one person in the deduplication source.
pub(crate) const MAX_DEDUPE_COPIES: u8 = 6;

/// Mean size of an ordinary household (from the size distribution below), used to turn the
/// per-person twin and namesake rates into per-household probabilities.
const MEAN_HOUSEHOLD: f64 = 2.4;
/// Household sizes 1..=6 (percent), roughly the 2021 census of England and Wales.
const SIZE_WEIGHTS: [u64; 6] = [30, 35, 15, 13, 5, 2];
/// Age bands (from, to, weight) of adults living alone, as a couple or sharing: a rough
/// UK picture, where such households are older than families with children.
const ADULT_AGES: [(i64, i64, u64); 9] = [
    (18, 24, 5),
    (25, 34, 14),
    (35, 44, 9),
    (45, 54, 11),
    (55, 64, 16),
    (65, 74, 19),
    (75, 84, 16),
    (85, 94, 8),
    (95, 100, 2),
];
/// Share of children in a family household who are adults still living at home.
const ADULT_CHILD_RATE: f64 = 0.3;

/// An address: a unit postcode plus house number and street.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Address {
    /// Index into the district table.
    pub district: u16,
    /// Inward code: digit, letter, letter (ASCII).
    pub inward: [u8; 3],
    /// House number.
    pub number: u16,
    /// Flat number, 0 for none.
    pub flat: u8,
    /// Index into the street stems.
    pub street: u16,
    /// Index into the street suffixes.
    pub suffix: u8,
}

impl Address {
    /// The postcode in its standard form ("LS1 4AB").
    pub(crate) fn postcode(&self, t: &Tables) -> String {
        let mut s = String::with_capacity(8);
        s.push_str(&t.districts[usize::from(self.district)].code);
        s.push(' ');
        for &b in &self.inward {
            s.push(char::from(b));
        }
        s
    }
}

/// A household.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Household {
    pub address: Address,
}

/// A person as they really are.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Person {
    pub household: u32,
    pub given: u16,
    pub surname: u16,
    /// Second part of a double-barrelled surname built from two table entries, or [`NO_ID`].
    pub surname2: u16,
    /// Surname before marriage, or [`NO_ID`].
    pub maiden: u16,
    /// Date of birth, days since 1970-01-01.
    pub dob: i32,
    pub sex: Sex,
    /// 0 when not a twin; 1 or 2 for the first- and second-born twin.
    pub twin: u8,
    /// Shares given name and surname with a relative at the same address.
    pub namesake: bool,
    /// Records in GP, hospital and the deduplication source.
    pub copies: [u8; 3],
}

/// The whole population.
#[derive(Debug, Default)]
pub(crate) struct Population {
    pub people: Vec<Person>,
    pub households: Vec<Household>,
}

/// A random address, in `district` when given.
pub(crate) fn random_address(rng: &mut Rng, t: &Tables, district: Option<u16>) -> Address {
    let district = district.unwrap_or_else(|| t.sample_district(rng));
    let inward = [
        b'0' + rng.below(10) as u8,
        INWARD_LETTERS[rng.index(INWARD_LETTERS.len())],
        INWARD_LETTERS[rng.index(INWARD_LETTERS.len())],
    ];
    // Small house numbers are commoner than large ones.
    let number = if rng.chance(0.7) {
        rng.range(1, 60)
    } else {
        rng.range(61, 250)
    } as u16;
    let flat = if rng.chance(0.12) {
        rng.range(1, 24) as u8
    } else {
        0
    };
    Address {
        district,
        inward,
        number,
        flat,
        street: rng.index(t.streets.len()) as u16,
        suffix: t.sample_suffix(rng),
    }
}

/// The other address of a household whose members are recorded as having moved: half the
/// moves stay in the same postcode district. Seeded by the household, so every member who
/// moved shows the same address.
pub(crate) fn moved_address(seed: u64, household: u32, from: &Address, t: &Tables) -> Address {
    let mut rng = Rng::new(seed, stream::MOVE, u64::from(household));
    let district = rng.chance(0.5).then_some(from.district);
    let mut to = random_address(&mut rng, t, district);
    if to.inward == from.inward && to.district == from.district {
        to.inward[0] = b'0' + (to.inward[0] - b'0' + 1) % 10;
    }
    to
}

/// The age in whole years on [`REFERENCE`] of someone born on day `dob`.
pub(crate) fn age_on_reference(dob: i32) -> i32 {
    let b = civil_from_days(dob);
    let mut age = REFERENCE.year - b.year;
    if (REFERENCE.month, REFERENCE.day) < (b.month, b.day) {
        age -= 1;
    }
    age
}

/// Builds the population for `options` (validated by the caller).
pub(crate) fn build(options: &GenerateOptions) -> Population {
    let n = options.people as usize;
    let chunks: Vec<(Vec<Household>, Vec<Person>)> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let len = CHUNK.min(n - c * CHUNK);
            build_chunk(options, c as u64, len)
        })
        .collect();
    let mut population = Population {
        people: Vec::with_capacity(n),
        households: Vec::with_capacity(n / 2 + 1),
    };
    for (households, people) in chunks {
        let offset = population.households.len() as u32;
        population.households.extend(households);
        population.people.extend(people.into_iter().map(|p| Person {
            household: p.household + offset,
            ..p
        }));
    }
    population
}

fn build_chunk(options: &GenerateOptions, chunk: u64, len: usize) -> (Vec<Household>, Vec<Person>) {
    let t = tables();
    let mut rng = Rng::new(options.seed, stream::POPULATION, chunk);
    let mut households = Vec::with_capacity(len / 2 + 1);
    let mut people = Vec::with_capacity(len);
    let reference = days_from_civil(REFERENCE);
    while people.len() < len {
        let h = households.len() as u32;
        let mut b = HouseholdBuilder {
            rng: &mut rng,
            t,
            reference,
            members: Vec::with_capacity(6),
            household: h,
        };
        b.build(len - people.len());
        let members = b.members;
        let address = random_address(&mut rng, t, None);
        households.push(Household { address });
        for mut p in members {
            p.copies = coverage(&mut rng, options);
            people.push(p);
        }
    }
    (households, people)
}

fn coverage(rng: &mut Rng, o: &GenerateOptions) -> [u8; 3] {
    let gp = if rng.chance(o.gp_coverage) {
        1 + u8::from(rng.chance(DUPLICATE_RATE))
    } else {
        0
    };
    let hospital = if rng.chance(o.hospital_coverage) {
        1 + u8::from(rng.chance(DUPLICATE_RATE))
    } else {
        0
    };
    let dedupe = if rng.chance(DEDUPE_COVERAGE) {
        if rng.chance(o.dedupe_duplicate_rate) {
            let mut k = 2;
            while k < MAX_DEDUPE_COPIES && rng.chance(DEDUPE_EXTRA_CONTINUE) {
                k += 1;
            }
            k
        } else {
            1
        }
    } else {
        0
    };
    [gp, hospital, dedupe]
}

struct HouseholdBuilder<'a> {
    rng: &'a mut Rng,
    t: &'a Tables,
    reference: i32,
    members: Vec<Person>,
    household: u32,
}

impl HouseholdBuilder<'_> {
    /// Fills `members` with at most `max` (>= 1) people.
    fn build(&mut self, max: usize) {
        let q_twin = TWIN_RATE * MEAN_HOUSEHOLD / 2.0;
        let q_namesake = NAMESAKE_RATE * MEAN_HOUSEHOLD / 2.0;
        let group = self.t.sample_group(self.rng);
        let u = self.rng.unit();
        if max >= 3 && u < q_twin {
            self.family(group, max, true, false);
        } else if max >= 2 && u < q_twin + q_namesake {
            self.family(group, max, false, true);
        } else {
            let size = 1 + self.sample_size().min(max - 1);
            match size {
                1 => {
                    let age = self.adult_age();
                    let sex = self.sex();
                    let surname = self.t.sample_surname(self.rng, group);
                    self.add_adult(sex, age, group, surname);
                }
                2 => {
                    let r = self.rng.unit();
                    if r < 0.6 {
                        let age = self.adult_age().max(20);
                        self.couple(group, age, false);
                    } else if r < 0.8 {
                        self.family_with(group, 1, 1);
                    } else {
                        for _ in 0..2 {
                            let g = if self.rng.chance(0.8) {
                                group
                            } else {
                                self.t.sample_group(self.rng)
                            };
                            let age = self.rng.range(18, 40);
                            let sex = self.sex();
                            let surname = self.t.sample_surname(self.rng, g);
                            self.add_adult(sex, age, g, surname);
                        }
                    }
                }
                _ => {
                    let parents = if self.rng.chance(0.75) { 2 } else { 1 };
                    self.family_with(group, parents, size - parents);
                }
            }
        }
    }

    fn sample_size(&mut self) -> usize {
        let total: u64 = SIZE_WEIGHTS.iter().sum();
        let mut x = self.rng.below(total);
        for (i, &w) in SIZE_WEIGHTS.iter().enumerate() {
            if x < w {
                return i;
            }
            x -= w;
        }
        0
    }

    fn sex(&mut self) -> Sex {
        if self.rng.chance(0.5) {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    fn adult_age(&mut self) -> i64 {
        let total: u64 = ADULT_AGES.iter().map(|a| a.2).sum();
        let mut x = self.rng.below(total);
        for &(lo, hi, w) in &ADULT_AGES {
            if x < w {
                return self.rng.range(lo, hi);
            }
            x -= w;
        }
        40
    }

    fn dob_for_age(&mut self, age: i64) -> i32 {
        let age = age.clamp(0, 100) as i32;
        // A birthday in the year before the age was reached.
        self.reference - age * 365 - age / 4 - self.rng.range(0, 364) as i32
    }

    fn given(&mut self, sex: Sex, dob: i32, group: usize, own_group: f64) -> u16 {
        let era = era_of(civil_from_days(dob).year);
        let g = if self.rng.chance(own_group) { group } else { 0 };
        // Avoid a second member with the same given name (namesakes are made on purpose).
        let mut name = self.t.sample_given(self.rng, sex, era, g);
        for _ in 0..20 {
            if !self.members.iter().any(|m| m.given == name) {
                break;
            }
            name = self.t.sample_given(self.rng, sex, era, g);
        }
        name
    }

    fn push(&mut self, sex: Sex, dob: i32, given: u16, surname: u16) -> usize {
        self.members.push(Person {
            household: self.household,
            given,
            surname,
            surname2: NO_ID,
            maiden: NO_ID,
            dob,
            sex,
            twin: 0,
            namesake: false,
            copies: [0; 3],
        });
        self.members.len() - 1
    }

    fn add_adult(&mut self, sex: Sex, age: i64, group: usize, surname: u16) -> usize {
        let dob = self.dob_for_age(age);
        let given = self.given(sex, dob, group, 0.9);
        self.push(sex, dob, given, surname)
    }

    /// Two adults; returns the indices of the man (or first partner) and the woman (or
    /// second partner) and the children's surname parts.
    fn couple(&mut self, group: usize, age: i64, for_children: bool) -> (usize, usize, u16, u16) {
        let partner_group = if self.rng.chance(0.9) {
            group
        } else {
            self.t.sample_group(self.rng)
        };
        let his = self.t.sample_surname(self.rng, group);
        let hers = self.t.sample_surname(self.rng, partner_group);
        let same_sex = !for_children && self.rng.chance(0.03);
        let first_sex = if same_sex { self.sex() } else { Sex::Male };
        let second_sex = if same_sex { first_sex } else { Sex::Female };
        let a = self.add_adult(first_sex, age, group, his);
        let partner_age = (age + self.rng.range(-6, 2)).clamp(18, 100);
        let married = !same_sex && partner_age >= 20 && self.rng.chance(MARRIED_RATE);
        let takes_name = married && self.rng.chance(TOOK_NAME_RATE);
        let b = self.add_adult(second_sex, partner_age, partner_group, hers);
        if takes_name {
            self.members[b].surname = his;
            self.members[b].maiden = hers;
        }
        let (s1, s2) = if self.rng.chance(DOUBLE_BARREL_RATE) {
            (his, hers)
        } else if married || self.rng.chance(0.8) {
            (his, NO_ID)
        } else {
            (hers, NO_ID)
        };
        (a, b, s1, s2)
    }

    /// Parents and `children` children.
    fn family_with(&mut self, group: usize, parents: usize, children: usize) {
        let ages: Vec<i64> = (0..children)
            .map(|_| {
                if self.rng.chance(ADULT_CHILD_RATE) {
                    self.rng.range(18, 35)
                } else {
                    self.rng.range(0, 17)
                }
            })
            .collect();
        let oldest = ages.iter().copied().max().unwrap_or(0);
        let parent_age = (oldest + self.rng.range(20, 40)).min(95);
        let (surname, surname2) = if parents == 2 {
            let (_, _, s1, s2) = self.couple(group, parent_age, true);
            (s1, s2)
        } else {
            let sex = if self.rng.chance(0.85) {
                Sex::Female
            } else {
                Sex::Male
            };
            let s = self.t.sample_surname(self.rng, group);
            self.add_adult(sex, parent_age, group, s);
            (s, NO_ID)
        };
        for age in ages {
            self.add_child(age, group, surname, surname2);
        }
    }

    fn youngest_age(&self) -> i64 {
        self.members
            .iter()
            .map(|m| i64::from(age_on_reference(m.dob)))
            .min()
            .unwrap_or(40)
    }

    fn add_child(&mut self, age: i64, group: usize, surname: u16, surname2: u16) -> usize {
        let sex = self.sex();
        let dob = self.dob_for_age(age);
        let given = self.given(sex, dob, group, 0.75);
        let i = self.push(sex, dob, given, surname);
        self.members[i].surname2 = surname2;
        i
    }

    /// A family with twins (`twins`) or with a parent and child of the same name
    /// (`namesake`), in at most `max` people.
    fn family(&mut self, group: usize, max: usize, twins: bool, namesake: bool) {
        let needed = if twins { 2 } else { 1 };
        let parents = if max > needed + 1 && self.rng.chance(0.7) {
            2
        } else {
            1
        };
        let parent_age = if namesake {
            self.rng.range(38, 85)
        } else {
            self.rng.range(22, 50)
        };
        let (surname, surname2) = if parents == 2 {
            let (_, _, s1, s2) = self.couple(group, parent_age, true);
            (s1, s2)
        } else {
            let sex = self.sex();
            let s = self.t.sample_surname(self.rng, group);
            self.add_adult(sex, parent_age, group, s);
            (s, NO_ID)
        };
        let oldest_child = (self.youngest_age() - 20).clamp(0, if namesake { 45 } else { 25 });
        if twins {
            let age = self.rng.range(0, oldest_child);
            let first = self.add_child(age, group, surname, surname2);
            let dob = self.members[first].dob;
            let sex = self.sex();
            let same_initial = self.rng.chance(0.5);
            let first_initial = self.t.given[usize::from(self.members[first].given)]
                .name
                .chars()
                .next();
            let era = era_of(civil_from_days(dob).year);
            let g = if self.rng.chance(0.75) { group } else { 0 };
            let mut given = self.members[first].given;
            for _ in 0..200 {
                let candidate = self.t.sample_given(self.rng, sex, era, g);
                let initial = self.t.given[usize::from(candidate)].name.chars().next();
                let differs = self.t.given[usize::from(candidate)].name
                    != self.t.given[usize::from(self.members[first].given)].name;
                if differs && (!same_initial || initial == first_initial) {
                    given = candidate;
                    break;
                }
            }
            if given == self.members[first].given {
                // No same-initial name found: any different name will do.
                while given == self.members[first].given {
                    given = self.t.sample_given(self.rng, sex, era, 0);
                }
            }
            let second = self.push(sex, dob, given, surname);
            self.members[second].surname2 = surname2;
            self.members[first].twin = 1;
            self.members[second].twin = 2;
        } else {
            // The parent whose name the child shares: the first adult of the child's sex.
            let age = self.rng.range(0, oldest_child);
            let parent = self.rng.index(parents);
            let sex = self.members[parent].sex;
            let dob = self.dob_for_age(age);
            let given = self.members[parent].given;
            // The child has the family surname; make sure the parent shows it too.
            let child = self.push(sex, dob, given, surname);
            self.members[child].surname2 = surname2;
            if self.members[parent].surname != surname || surname2 != NO_ID {
                self.members[parent].surname = surname;
                self.members[parent].surname2 = surname2;
            }
            self.members[parent].namesake = true;
            self.members[child].namesake = true;
        }
        let room = max.saturating_sub(self.members.len());
        let extra = i32::from(room > 0 && self.rng.chance(0.4));
        for _ in 0..extra {
            let age = self.rng.range(0, oldest_child.min(17));
            self.add_child(age, group, surname, surname2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(people: u64) -> GenerateOptions {
        GenerateOptions {
            people,
            seed: 11,
            ..GenerateOptions::default()
        }
    }

    #[test]
    fn builds_exactly_the_requested_number_of_people() {
        for n in [1, 2, 3, 4095, 4096, 4097, 9000] {
            let p = build(&options(n));
            assert_eq!(p.people.len() as u64, n);
            assert!(
                p.people
                    .iter()
                    .all(|x| (x.household as usize) < p.households.len())
            );
        }
    }

    #[test]
    fn ages_span_0_to_100_with_children_and_elderly() {
        let p = build(&options(20_000));
        let ages: Vec<i32> = p.people.iter().map(|x| age_on_reference(x.dob)).collect();
        assert!(ages.iter().all(|a| (0..=100).contains(a)));
        let share = |lo: i32, hi: i32| {
            ages.iter().filter(|a| (lo..=hi).contains(*a)).count() as f64 / ages.len() as f64
        };
        // UK: about 21% under 18, 19% 65 and over, about 1.1% under one.
        assert!((0.14..0.30).contains(&share(0, 17)), "{}", share(0, 17));
        assert!((0.12..0.28).contains(&share(65, 100)), "{}", share(65, 100));
        assert!((0.004..0.02).contains(&share(0, 0)), "{}", share(0, 0));
    }

    #[test]
    fn namesakes_share_names_and_address_but_not_birth_date() {
        let p = build(&options(20_000));
        let namesakes: Vec<&Person> = p.people.iter().filter(|x| x.namesake).collect();
        let rate = namesakes.len() as f64 / p.people.len() as f64;
        assert!((0.0025..0.0090).contains(&rate), "{rate}");
        for a in &namesakes {
            assert!(namesakes.iter().any(|b| b.household == a.household
                && b.given == a.given
                && b.surname == a.surname
                && b.dob != a.dob));
        }
    }

    #[test]
    fn married_women_have_maiden_names() {
        let p = build(&options(5_000));
        let married = p.people.iter().filter(|x| x.maiden != NO_ID).count();
        assert!(married > 500, "{married}");
        assert!(
            p.people
                .iter()
                .filter(|x| x.maiden != NO_ID)
                .all(|x| x.sex == Sex::Female && age_on_reference(x.dob) >= 20)
        );
    }
}
