//! The CSV reader with normalisation: `RecordsBuilder::add_reader` then `build`, with the
//! builder options chosen by the first byte. No input may panic (lib.rs: "Untrusted input");
//! on success the quality report must account for every row of every column.
#![no_main]

use carematch::Records;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&opts, csv)) = data.split_first() else {
        return;
    };
    let mut b = Records::builder();
    b.strict(opts & 1 != 0)
        .accept_test_nhs_numbers(opts & 2 != 0);
    // Bit 2: the same text as a second source too (the link path: two sources, one store).
    let twice = opts & 4 != 0;
    if b.add_reader("fuzz.csv", csv).is_err() {
        return;
    }
    if twice && b.add_reader("fuzz2.csv", csv).is_err() {
        return;
    }
    let Ok((records, quality)) = b.build() else {
        return;
    };
    let total: usize = records.sources().iter().map(|s| s.rows.len()).sum();
    assert_eq!(total, records.len());
    assert_eq!(quality.sources.len(), records.sources().len());
    for (s, q) in records.sources().iter().zip(&quality.sources) {
        assert_eq!(q.rows, s.rows.len() as u64);
        for c in &q.columns {
            let invalid: u64 = c.problems.iter().map(|p| p.count).sum();
            assert_eq!(
                c.present + c.missing + invalid,
                q.rows,
                "a column's counts do not add up to its rows"
            );
        }
    }
    if opts & 1 != 0 {
        assert_eq!(
            quality.invalid_total(),
            0,
            "strict mode kept an invalid value"
        );
    }
    // Every accessor on every row: the values the store holds must be readable.
    let others: Vec<String> = records.other_columns().map(str::to_owned).collect();
    for row in 0..records.len() as u32 {
        let _ = records.id(row);
        let _ = records.given_name(row);
        let _ = records.surname(row);
        let _ = records.date_of_birth(row);
        let _ = records.sex(row);
        let _ = records.postcode(row);
        let _ = records.nhs_number(row);
        let _ = records.address(row);
        let _ = records.newborn_placeholder(row);
        let _ = records.source_of(row);
        for o in &others {
            let _ = records.other(o, row);
        }
    }
});
