//! Comparisons: each maps a pair of records to a level of agreement on one field.
//!
//! Level 0 of every comparison is the null level: a value is missing on one side, so the
//! comparison says nothing (its weight is exactly 0). Levels 1.. run from the strongest
//! agreement to the last level, "else" (disagreement). A pair's comparison vector is one
//! level per comparison, packed four bits each into a `u64`.
//!
//! The defaults for NHS data ([`Comparison::defaults`]):
//!
//! | field | levels |
//! |---|---|
//! | given name | exact; nickname (same name per the nickname table); Jaro-Winkler ≥ 0.92; ≥ 0.88; phonetic (Soundex or NYSIIS); else |
//! | surname | exact; swapped with the given name (exactly, or both crossed pairs at Jaro-Winkler ≥ 0.9 with the same initials); Jaro-Winkler ≥ 0.92; ≥ 0.88; phonetic; else |
//! | date of birth | exact; day and month swapped; one digit different or two adjacent digits transposed; same year and month; within a year; else |
//! | location | same address (address tokens' Jaccard ≥ 0.8, postcode not contradicting); postcode unit; sector; district; area; else. With no postcode on either side: same address also when at least two words and three quarters of the shorter address's words are in the other; else otherwise |
//! | NHS number | equal; one digit or one adjacent transposition apart (one side failed its check digit); different |
//! | sex | agree; disagree |
//!
//! Postcode and address are one comparison, "location", because they are one fact (where a
//! household lives): counting them as two independent agreements would double the evidence
//! that a twin or a relative at the same address is the same person. When the given names
//! are swapped with the surnames, the surname comparison takes the "swapped" level and the
//! given-name comparison is null, so the swap is counted once.

mod comparer;
mod comparison;
mod encoded;
mod levels;
pub(crate) mod similarity;

pub(crate) use comparer::{Comparer, Spec, level_of};
pub use comparison::{Comparison, Kind, MAX_COMPARISONS};
pub use encoded::columns_of as encoded_columns;
pub(crate) use encoded::is_name_column as is_encoded_name_column;
pub(crate) use encoded::read_columns as encoded_read_columns;
pub(crate) use levels::{Lookup, clear_level, column_level};
pub use similarity::jaro_winkler;
pub(crate) use similarity::{Sketch, Token};

#[cfg(test)]
mod tests {
    use super::comparer::*;
    use super::levels::*;
    use super::*;
    use crate::block::Pair;
    use crate::record::Records;

    /// The store of one CSV text.
    fn store(csv: &str) -> Records {
        let mut b = crate::Records::builder();
        b.add_reader("t.csv", csv.as_bytes()).unwrap();
        b.build().unwrap().0
    }

    #[test]
    fn dob_levels_follow_the_mps_partial_date_ladder() {
        assert_eq!(dob_level(19800201, 19800201), 1);
        assert_eq!(dob_level(19800201, 19800102), 2);
        assert_eq!(dob_level(19800201, 19800204), 3, "one digit");
        assert_eq!(dob_level(19800201, 19800210), 3, "adjacent transposition");
        assert_eq!(dob_level(19800201, 19800228), 4);
        assert_eq!(dob_level(19800201, 19810101), 5);
        assert_eq!(dob_level(19800201, 19900101), 6);
        assert_eq!(dob_level(0, 19900101), 0);
    }

    /// Issue 11: with no postcode on either side the address alone decides the location: the
    /// same street and number with the town left off by one system is the same address, and
    /// a different address is "else" (it was "null", no evidence, so an extract of names and
    /// addresses could not tell a move from a match). With a postcode, unchanged.
    #[test]
    fn without_postcodes_the_address_alone_decides_the_location() {
        let r = store(
            "id,given_name,address,postcode\n\
             1,Ann,\"18 Hall Lane, Sutton Coldfield\",\n\
             2,Ann,18 Hall Ln,\n\
             3,Ann,4 Mill Road,\n\
             4,Ann,18 Hall Lane,LS1 4AP\n\
             5,Ann,4 Mill Road,M1 1AE\n",
        );
        let location = [Comparison::for_field("location").unwrap()];
        let c = Comparer::new(&r, &location).unwrap();
        let level = |a: u32, b: u32| level_of(c.vector(Pair { left: a, right: b }), 0);
        assert_eq!(level(0, 1), 1, "the town left off");
        assert_eq!(level(0, 2), 6, "another address");
        assert_eq!(level(1, 2), 6);
        // One postcode missing: as before, no evidence unless the addresses agree.
        assert_eq!(level(2, 3), 0);
        assert_eq!(level(1, 3), 1);
        // Both postcodes: they decide.
        assert_eq!(level(3, 4), 6);
    }

    /// Issue 11: names entered the wrong way round and then misspelt (FEBRL does this) are
    /// swapped: the surname comparison says so and the given name says nothing, once. Two
    /// people whose crossed names merely look alike are not.
    #[test]
    fn names_swapped_with_a_typo_count_as_swapped() {
        let r = store(
            "id,given_name,surname\n\
             1,campblel,joshua\n\
             2,joshua,campbell\n\
             3,jessica,campbell\n\
             4,mary,jones\n",
        );
        let cs = [
            Comparison::for_field("given_name").unwrap(),
            Comparison::for_field("surname").unwrap(),
        ];
        let c = Comparer::new(&r, &cs).unwrap();
        let levels = |a: u32, b: u32| {
            let v = c.vector(Pair { left: a, right: b });
            (level_of(v, 0), level_of(v, 1))
        };
        assert_eq!(levels(0, 1), (0, 2), "swapped, one name misspelt");
        assert_eq!(levels(1, 0), (0, 2));
        // campblel/jessica and joshua/campbell: one crossed pair is not alike.
        assert_eq!(levels(0, 2).0, 6);
        assert_ne!(levels(0, 3).1, 2);
    }

    #[test]
    fn level_names_match_level_numbers() {
        for c in Comparison::defaults() {
            c.validate().unwrap();
            let names = c.level_names();
            assert_eq!(names[0], "null");
            assert_eq!(
                names.last().map_or("", String::as_str),
                match c.kind {
                    Kind::NhsNumber => "different",
                    Kind::Sex => "disagree",
                    _ => "else",
                }
            );
        }
        let g = Comparison::for_field("given_name").unwrap();
        assert_eq!(g.level_names().len(), 7);
    }

    #[test]
    fn bad_thresholds_are_config_errors() {
        let mut c = Comparison::for_field("surname").unwrap();
        c.thresholds = vec![0.8, 0.9];
        assert!(c.validate().unwrap_err().is_config());
        c.thresholds = vec![];
        assert!(c.validate().is_err());
        let mut d = Comparison::for_field("dob").unwrap();
        d.thresholds = vec![0.5];
        assert!(d.validate().is_err());
    }

    #[test]
    fn threshold_level_counts_from_first() {
        assert_eq!(threshold_level(0.95, &[0.92, 0.88], 3), 3);
        assert_eq!(threshold_level(0.90, &[0.92, 0.88], 3), 4);
        assert_eq!(threshold_level(0.10, &[0.92, 0.88], 3), 5);
    }
}
