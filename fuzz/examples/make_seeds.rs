//! Writes the checked-in seed corpora, fuzz/corpus/<target>/, from the sample data in
//! examples/data and the library itself (a trained model's JSON, a real index file). Run from
//! the repository root when a format changes:
//!
//! ```text
//! cargo run --release --manifest-path fuzz/Cargo.toml --example make_seeds
//! ```
//!
//! Every seed is small (a few KB at most): the fuzzer grows its own corpus from them.

use std::fs;
use std::path::Path;

use carematch::{Index, Records};
use carematch_fuzz::{GP_CSV, HOSPITAL_CSV, head};

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new("fuzz/corpus").join(target);
    fs::create_dir_all(&dir).expect("corpus directory");
    fs::write(dir.join(name), bytes).expect("seed written");
}

fn with_flag(flag: u8, rest: &[u8]) -> Vec<u8> {
    let mut v = vec![flag];
    v.extend_from_slice(rest);
    v
}

const DEDUPE_CSV: &str = include_str!("../../examples/data/dedupe.csv");

/// The README's own example rows.
const README_GP: &str = "rec_id,nhs_number,given_name,surname,date_of_birth,postcode\n\
G1,943 476 5919,Elizabeth,Smith,1980-02-01,LS1 4AP\n\
G2,,Tom,Jones,1975-07-30,M1 1AE\n";
const README_HOSPITAL: &str = "id,nhs_no,first_name,last_name,dob,postcode\n\
H7,9434765919,LIZ,SMITH,01/02/1980,ls14ap\n\
H8,,Tom,Jones,30/07/1975,M1 1AE\n";

/// Awkward but legal CSV: quoted commas and quotes, CRLF, a BOM, blank and placeholder values,
/// a carried column, a twin, a test-range NHS number.
const ODD_CSV: &str = "\u{feff}\"Hospital Number\",Forename,Surname,DOB,Gender,Post Code,\"Address 1\",Address 2,Notes\r\n\
\"X1\",\"Mary-Ann\",\"O'Brien\",\"1 Feb 1980\",f,\"ls1 4ap\",\"Flat 2, 12 St. Mary's Rd\",Leeds,\"said \"\"hi\"\"\"\r\n\
X2,TWIN 1,Smith,1900-01-01,9,ZZ99 3VZ,NFA,,\r\n\
X3,Baby of,Unknown,31/02/1980,X,GIR0AA,,,n/a\r\n\
X4,José,Łukasz,19800201,2,SW1A2AA,1 High St,London,999 000 0018\r\n";

fn main() {
    // csv_records: flags byte (strict, accept test numbers, twice), then a file.
    write(
        "csv_records",
        "gp10",
        &with_flag(0x02, head(GP_CSV, 10).as_bytes()),
    );
    write(
        "csv_records",
        "hospital10-strict",
        &with_flag(0x01, head(HOSPITAL_CSV, 10).as_bytes()),
    );
    write(
        "csv_records",
        "dedupe10-twice",
        &with_flag(0x06, head(DEDUPE_CSV, 10).as_bytes()),
    );
    write(
        "csv_records",
        "readme",
        &with_flag(0x00, README_GP.as_bytes()),
    );
    write("csv_records", "odd", &with_flag(0x02, ODD_CSV.as_bytes()));

    // normalise: selector byte, then a value.
    let values: &[(u8, &str, &str)] = &[
        (0, "name-title", "Mrs Mary-Ann O'Brien"),
        (0, "name-placeholder", "Baby of Smith"),
        (1, "date-uk-time", " 1/2/1980 00:00 "),
        (1, "date-iso-t", "1980-02-01T00:00:00.000+01:00"),
        (1, "date-mon", "01-Feb-1980"),
        (2, "postcode-repair", "LS1 OAP"),
        (2, "postcode-other", "d02  x285"),
        (3, "nhs-spaced", "943 476 5919"),
        (3, "nhs-check", "943-476-5918"),
        (4, "sex", " Female "),
        (5, "fold", "  José  Łukasz Zoë Straße İ ﬁ ² Ⅻ محمد 王伟"),
        (
            6,
            "address",
            "Flat 2, 12 St. Mary's Rd, Church Street St Albans",
        ),
        (7, "phonetic", "Macintosh-Knight Schmit"),
        (8, "all", "01/02/1980"),
        (9, "values", "SW1A 2AA"),
        (11, "value-name", "  Dr. José Smith-Jones Jr  "),
        (11 + 12 * 6, "value-nhs", "999 000 0018"),
        (11 + 12 * 3 + 0x80, "value-date-no-test", "31/02/1980"),
    ];
    for &(sel, name, v) in values {
        write("normalise", name, &with_flag(sel, v.as_bytes()));
    }
    write("normalise", "nicknames", &with_flag(10, b"bill\0william"));

    // query_json: options byte, then a query line.
    let queries: &[(u8, &str, &str)] = &[
        (
            0x0a,
            "hospital-row",
            r#"{"id":"H00000003","nhs_no":"921 037 5637","first_name":"Dfaydd","last_name":"Martin","dob":"04/02/1984","gender":"Male","postcode":null,"address_line_1":"13 Abbey Crescent"}"#,
        ),
        (
            0x1a,
            "gp-row-explain",
            r#"{"rec_id":"Q2","nhs_number":9600695377,"given_name":"SUSAN","surname":"HARTLEY","date_of_birth":"1961-09-11","sex":"F","postcode":"B20 7LX","address":"28 BROW AVENUE, BIRMINGHAM"}"#,
        ),
        (
            0x25,
            "minimal",
            r#"{"rec_id":"Q3","surname":"Wood","date_of_birth":"19/09/1958"}"#,
        ),
        (
            0x03,
            "no-id",
            r#"{"given_name":"Owen","surname":"Williams"}"#,
        ),
        (
            0x43,
            "bad-values",
            r#"{"rec_id":"Q5","dob":"31/02/1980","nhs_number":"1234567890","sex":"Q","postcode":"ZZ99 3VZ","given_name":"TWIN 1"}"#,
        ),
    ];
    for &(opts, name, q) in queries {
        write("query_json", name, &with_flag(opts, q.as_bytes()));
    }

    // config: JSON configs.
    let configs: &[(&str, &str)] = &[
        ("empty", "{}"),
        (
            "readme",
            r#"{
  "columns": {"Hospital Number": "id", "Forename 1": "given_name", "Notes": "exclude", "address_line_1": "other"},
  "rules": [
    {"name": "nhs-dob", "when": "nhs_number & dob"},
    {"name": "demographics", "when": "surname & given_name & dob & postcode"}
  ],
  "strict": false,
  "accept_test_nhs_numbers": true
}"#,
        ),
        (
            "everything",
            r#"{
  "comparisons": [{"field": "given_name"}, {"field": "surname", "thresholds": [0.95, 0.8]}, {"field": "dob"}, {"field": "location"}, {"field": "nhs_number"}, {"field": "sex"}],
  "blocking": ["nhs_number", "dob & surname:soundex", "given_name:nysiis & postcode:district", "dob:year & surname:first3"],
  "training_rules": ["nhs_number", "dob & surname:soundex", "given_name & surname & postcode:area"],
  "thresholds": {"match_probability": 0.95, "review_probability": 0.6, "ambiguity_margin": 3},
  "u_pairs": 1000,
  "seed": 7
}"#,
        ),
        (
            "strict",
            r#"{"strict": true, "accept_test_nhs_numbers": false, "thresholds": {"match_probability": 0.4}}"#,
        ),
        (
            "other-column",
            r#"{"columns": {"address": "other"}, "comparisons": [{"field": "address"}, {"field": "postcode"}], "blocking": ["address:token", "postcode:sector"]}"#,
        ),
    ];
    for &(name, c) in configs {
        write("config", name, c.as_bytes());
    }

    // model: a trained model's JSON, and one trained with a config's comparisons.
    let model = carematch_fuzz::model();
    write("model", "trained-gp300", model.to_json().as_bytes());

    // index_file: a real index of 20 GP rows, trained on them as `carematch index build`
    // does; as a payload (mode 0, header made by the target) and as a whole file (mode 1).
    let rows = head(GP_CSV, 20);
    let mut b = Records::builder();
    b.add_reader("gp20.csv", rows.as_bytes()).expect("reads");
    let records = b.build().expect("builds").0;
    let mut ib = Index::builder(model.clone());
    ib.person_ids(true);
    let index = ib.build(records).expect("index builds");
    let tmp = std::env::temp_dir().join(format!("carematch-seed-{}.idx", std::process::id()));
    index.save(&tmp).expect("index saved");
    let file = fs::read(&tmp).expect("index read");
    let _ = fs::remove_file(&tmp);
    assert!(file.len() > 56 && &file[..8] == b"CMINDEX\0");
    write("index_file", "gp20-payload", &with_flag(0x00, &file[56..]));
    write("index_file", "gp20-file", &with_flag(0x01, &file));
    let mut b = Records::builder();
    b.add_reader("gp3.csv", head(GP_CSV, 3).as_bytes())
        .expect("reads");
    let mut ib = Index::builder(model.clone());
    ib.person_ids(false);
    let small = ib
        .build(b.build().expect("builds").0)
        .expect("index builds");
    small.save(&tmp).expect("index saved");
    let file = fs::read(&tmp).expect("index read");
    let _ = fs::remove_file(&tmp);
    write(
        "index_file",
        "gp3-no-person-ids-payload",
        &with_flag(0x00, &file[56..]),
    );
    write(
        "index_file",
        "truncated-file",
        &with_flag(0x01, &file[..40]),
    );

    // key: 32 raw bytes, 64 hex digits (with white space), and near misses.
    write("key", "raw32", &(0u8..32).collect::<Vec<u8>>());
    let hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
    write("key", "hex64", hex.as_bytes());
    write("key", "hex64-newline", format!("  {hex}\n").as_bytes());
    write("key", "hex63", &hex.as_bytes()[..63]);
    write("key", "hex64-bad", hex.replace('f', "g").as_bytes());

    // ffi_batch: flags, left CSV, NUL, right CSV.
    let pair = |l: &str, r: &str| -> Vec<u8> {
        let mut v = l.as_bytes().to_vec();
        v.push(0);
        v.extend_from_slice(r.as_bytes());
        v
    };
    write(
        "ffi_batch",
        "readme-link-model",
        &with_flag(0x01, &pair(README_GP, README_HOSPITAL)),
    );
    write(
        "ffi_batch",
        "readme-link-train",
        &with_flag(0x02, &pair(README_GP, README_HOSPITAL)),
    );
    write(
        "ffi_batch",
        "samples-link",
        &with_flag(0x01, &pair(&head(GP_CSV, 8), &head(HOSPITAL_CSV, 8))),
    );
    write(
        "ffi_batch",
        "dedupe-columns",
        &with_flag(0x04 | 0x08, head(DEDUPE_CSV, 10).as_bytes()),
    );
    write(
        "ffi_batch",
        "dedupe-pseudonymised",
        &with_flag(0x81 | 0x40, head(DEDUPE_CSV, 10).as_bytes()),
    );
    write(
        "ffi_batch",
        "odd-normalise",
        &with_flag(0x08 | 0x01, ODD_CSV.as_bytes()),
    );

    // ffi_index: flags, then a script of operations.
    let scripts: &[(u8, &str, &str)] = &[
        (
            0x15,
            "query-insert-update-remove",
            "qid=H1|first_name=Susan|last_name=Hartley|dob=11/09/1961|gender=Female|postcode=B207LX\n\
inew_id=N1|rec_id=N1|given_name=Susan|surname=Hartley|date_of_birth=1961-09-11|postcode=B20 7LX\n\
urec_id=N1|given_name=Sue|surname=Hartley|date_of_birth=1961-09-11|sex=F\n\
qrec_id=Q|nhs_number=9600695377\n\
rN1\n\
rGP00000002\n\
l\n",
        ),
        (
            0x14,
            "no-person-ids",
            "qrec_id=Q1|surname=Wood|date_of_birth=1958-09-19|postcode=OL8 6WP\n\
irec_id=GP00000003|surname=Wood\n\
urec_id=NOPE|surname=X\n\
rNOPE\n",
        ),
        (
            0x03,
            "bad-fields",
            "q\n\
qrec_id=|rec_id=A\n\
qid=A|rec_id=B\n\
qrec_id=Z|date_of_birth=31/02/1980|nhs_number=943 476 5918|sex=Q|given_name=Twin 2\n",
        ),
    ];
    for &(flags, name, s) in scripts {
        write("ffi_index", name, &with_flag(flags, s.as_bytes()));
    }
    println!("seeds written under fuzz/corpus/");
}
