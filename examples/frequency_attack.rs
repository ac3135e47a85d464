//! Measures frequency attacks on the surname and given-name columns of the encoded lines
//! `pseudonymise` writes (`encoded_line`), under each `--name-salt`: the default (names
//! salted with the date of birth), `year` and `none`. Attacks: counting equal tokens;
//! counting within each value of the column that salted them (the attacker sees the
//! date-of-birth or year token); clustering near-identical filters first, on the whole file
//! and within each date of birth; joining records through any name token they share (the
//! date-of-birth-salted and identifier-salted tokens), then counting the groups. For comparison,
//! encodings `pseudonymise` does not write: an unhardened and a balanced filter. The
//! pattern-mining attack on bigram positions (`pattern_mining_attack`) on each filter, and on
//! filters of as many names as share a date of birth in a region of 14 million, under one
//! salt. Then the
//! same alignment on the other exact tokens: date of birth and its parts, sex, postcode and
//! its levels.
//!
//! Run: `cargo run --release --example frequency_attack -- [people]` (default 100000).
//! The attacker's public list is the surname frequency ranking of an independent sample
//! (another seed), as a census table would be. Or on any population in the input format:
//! `-- --target target.csv --public public.csv` (the records attacked, and the independent
//! sample the attacker ranks); `benches/census_population.py` writes one whose names follow
//! the US Census Bureau's published tables.

use std::path::Path;

use std::collections::HashMap;

use rayon::prelude::*;

use carematch::Records;
use carematch::pseudonym::attack::{
    PatternMining, cluster_alignment_rate, filter_clusters, frequency_alignment_rate,
    linked_groups, partitioned_alignment_rate, pattern_mining_attack,
};
use carematch::pseudonym::{
    Bloom, EncodeOptions, Key, NameSalt, Pseudonymiser, TokenField, encoded_header, encoded_line,
    field_value, file_scheme, filter_salt,
};
use carematch::synth::{GenerateOptions, generate};

/// The exact tokens besides the names' that `pseudonymise` writes, with a frequency to read.
const OTHER_FIELDS: [(&str, TokenField); 8] = [
    ("date of birth", TokenField::Dob),
    ("year and month of birth", TokenField::DobYearMonth),
    ("year of birth", TokenField::DobYear),
    ("sex", TokenField::Sex),
    ("postcode", TokenField::Postcode),
    ("postcode sector", TokenField::PostcodeSector),
    ("postcode district", TokenField::PostcodeDistrict),
    ("postcode area", TokenField::PostcodeArea),
];

/// Per GP record with both names: its id, surname and given name, and the columns of its
/// encoded line under each salting `pseudonymise` offers (see [`Encoded`]).
struct Person {
    id: String,
    surname: String,
    given: String,
    /// Per entry of [`SALTS`], the record's encoded line.
    lines: Vec<Vec<String>>,
}

/// The saltings measured: the default, the year of birth, none.
const SALTS: [NameSalt; 3] = [NameSalt::DateOfBirth, NameSalt::Year, NameSalt::None];

/// Per field of [`OTHER_FIELDS`], the values of the GP records that have one, as encoded.
type Others = Vec<Vec<String>>;

/// The GP records of `people` generated with `seed`.
fn generated(
    dir: &Path,
    people: u64,
    seed: u64,
    p: &Pseudonymiser,
) -> Result<(Vec<Person>, Others), carematch::Error> {
    generate(
        &GenerateOptions {
            people,
            seed,
            ..GenerateOptions::default()
        },
        dir,
    )?;
    read(&dir.join("gp.csv"), p)
}

/// The records of `file` with both names, encoded under each salting.
fn read(file: &Path, p: &Pseudonymiser) -> Result<(Vec<Person>, Others), carematch::Error> {
    let mut b = Records::builder();
    b.add_csv(file)?;
    let (r, _) = b.build()?;
    let others = OTHER_FIELDS
        .iter()
        .map(|&(_, f)| {
            (0..r.len() as u32)
                .filter_map(|row| field_value(&r, f, row))
                .collect()
        })
        .collect();
    let options: Vec<(EncodeOptions, String)> = SALTS
        .iter()
        .map(|&name_salt| {
            let o = EncodeOptions {
                name_salt,
                ..EncodeOptions::default()
            };
            (o, file_scheme(p, o))
        })
        .collect();
    let out = (0..r.len() as u32)
        .into_par_iter()
        .filter_map(|row| {
            Some(Person {
                id: r.id(row).to_string(),
                surname: r.surname(row)?.to_string(),
                given: r.given_name(row)?.to_string(),
                lines: options
                    .iter()
                    .map(|(o, scheme)| encoded_line(&r, row, p, *o, scheme))
                    .collect(),
            })
        })
        .collect();
    Ok((out, others))
}

/// The public list: values of an independent sample, most frequent first.
fn ranking<'a>(values: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    let mut public: Vec<(&str, usize)> = counts.into_iter().collect();
    public.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(y.0)));
    public.into_iter().map(|(s, _)| s.to_string()).collect()
}

/// The header of a file written with salting `salt` (an index into [`SALTS`]).
fn header(salt: usize) -> Vec<&'static str> {
    encoded_header(EncodeOptions {
        name_salt: SALTS[salt],
        ..EncodeOptions::default()
    })
}

/// Column `name` of every person's line under salting `salt` (an index into [`SALTS`]); an
/// empty cell (a name left out for want of a date of birth) becomes a value of its own, so
/// that left-out names form no group.
fn column(target: &[Person], salt: usize, name: &str) -> Vec<String> {
    let i = header(salt).iter().position(|h| *h == name).unwrap_or(0);
    target
        .iter()
        .enumerate()
        .map(|(k, t)| match t.lines[salt][i].as_str() {
            "" => format!("missing {k}"),
            v => v.to_string(),
        })
        .collect()
}

/// The filters of column `name` under salting `salt`; a left-out filter is a filter of its
/// own record id (unrelated to every other).
fn filters(p: &Pseudonymiser, target: &[Person], salt: usize, name: &str) -> Vec<Bloom> {
    let i = header(salt).iter().position(|h| *h == name).unwrap_or(0);
    target
        .iter()
        .map(|t| {
            Bloom::from_hex(&t.lines[salt][i])
                .unwrap_or_else(|| p.bloom_record(TokenField::Surname, &t.id, &t.id))
        })
        .collect()
}

fn main() -> Result<(), carematch::Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(Path::new)
    };
    let p = Pseudonymiser::new(&Key::from_bytes([7; 32]), "attack-demo", 1);
    let ((target, target_others), (sample, sample_others), what) =
        if let (Some(t), Some(s)) = (flag("--target"), flag("--public")) {
            (read(t, &p)?, read(s, &p)?, t.display().to_string())
        } else {
            let n: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
            let tmp = std::env::temp_dir().join(format!("carematch-attack-{}", std::process::id()));
            let target = generated(&tmp.join("target"), n, 31, &p)?;
            let sample = generated(&tmp.join("public"), n, 32, &p)?;
            let _ = std::fs::remove_dir_all(&tmp);
            (target, sample, format!("{n} generated people"))
        };
    println!(
        "frequency-alignment attacks ({what}: {} records with both names):",
        target.len()
    );
    for (label, field, pick) in [
        ("surname", TokenField::Surname, true),
        ("given name", TokenField::GivenName, false),
    ] {
        println!("  {label}:");
        name_attacks(&p, &target, &sample, field, pick);
    }
    other_tokens(&p, &target_others, &sample_others);
    Ok(())
}

/// Every attack on the surnames (`pick`) or given names of `target`, the attacker's list
/// ranked from `sample`.
fn name_attacks(
    p: &Pseudonymiser,
    target: &[Person],
    sample: &[Person],
    field: TokenField,
    pick: bool,
) {
    let get = |t: &Person| {
        if pick {
            t.surname.clone()
        } else {
            t.given.clone()
        }
    };
    let truth: Vec<String> = target.iter().map(get).collect();
    let public = ranking(sample.iter().map(|t| {
        if pick {
            t.surname.as_str()
        } else {
            t.given.as_str()
        }
    }));
    let rate = |enc: &[String]| frequency_alignment_rate(enc, &truth, &public);
    let tok = field.token_column();
    let bf = if pick { "surname.bf" } else { "given_name.bf" };
    let by_nhs = if pick {
        TokenField::SurnameByNhs
    } else {
        TokenField::GivenNameByNhs
    }
    .token_column();
    // The default file: names salted with the date of birth (SALTS[0]).
    let salted = column(target, 0, tok);
    let dob = column(target, 0, TokenField::Dob.token_column());
    let written = filters(p, target, 0, bf);
    let clusters: Vec<String> = filter_clusters(&written, 0.88)
        .iter()
        .map(u32::to_string)
        .collect();
    let graph: Vec<String> = linked_groups(&[salted.clone(), column(target, 0, by_nhs)])
        .iter()
        .map(u32::to_string)
        .collect();
    println!("    default file (names salted with the date of birth):");
    // What the same within-date alignment gets from encodings that say nothing (every
    // record's own): labelling each date's records with the commonest names.
    let nothing: Vec<String> = (0..target.len()).map(|i| i.to_string()).collect();
    let lines = [
        ("exact token, counted", rate(&salted)),
        (
            "exact token, within each date-of-birth token",
            partitioned_alignment_rate(&salted, &dob, &truth, &public),
        ),
        (
            "  (encodings saying nothing, within each date)",
            partitioned_alignment_rate(&nothing, &dob, &truth, &public),
        ),
        ("filters clustered (Dice >= 0.88)", rate(&clusters)),
        (
            "filters clustered, within each date of birth",
            partitioned_alignment_rate(&clusters, &dob, &truth, &public),
        ),
        (
            "tokens joined through the identifier-salted token",
            rate(&graph),
        ),
    ];
    print_rates(&lines);
    // --name-salt year (SALTS[1]).
    let year_salted = column(target, 1, tok);
    let years = column(target, 1, TokenField::DobYear.token_column());
    println!("    --name-salt year:");
    print_rates(&[
        ("exact token, counted", rate(&year_salted)),
        (
            "exact token, within each year-of-birth token",
            partitioned_alignment_rate(&year_salted, &years, &truth, &public),
        ),
        (
            "  (encodings saying nothing, within each year)",
            partitioned_alignment_rate(&nothing, &years, &truth, &public),
        ),
    ]);
    // --name-salt none (SALTS[2]), and the unwritten encodings for comparison.
    let unsalted = filters(p, target, 2, bf);
    let control: Vec<String> = truth
        .iter()
        .map(|v| p.unhardened_bloom(field, v).to_hex())
        .collect();
    let balanced: Vec<String> = truth.iter().map(|v| p.bloom(field, v).to_hex()).collect();
    let counted: Vec<String> = unsalted.iter().map(Bloom::to_hex).collect();
    println!("    --name-salt none (carematch-pseudonym-1):");
    let lines = [
        (
            "unhardened Bloom filter (control, not written)",
            rate(&control),
        ),
        ("balanced Bloom filter (not written)", rate(&balanced)),
        ("written filter (balanced + BLIP), counted", rate(&counted)),
        (
            "written filter, clustered (Dice >= 0.88)",
            cluster_alignment_rate(&unsalted, &truth, &public, 0.88),
        ),
        ("exact token", rate(&column(target, 2, tok))),
    ];
    print_rates(&lines);
    let people: Vec<String> = sample.iter().map(get).collect();
    pattern_attacks(p, field, &truth, &people, &column(target, 0, bf), &unsalted);
}

/// People sharing one date of birth in a region of 14 million (about 100 years of dates).
const REGION_DATE: usize = 380;

/// The pattern-mining attack on bigram positions against the default file's filters
/// (`salted`, hex), the unsalted written ones and the encodings not written; and against
/// filters of [`REGION_DATE`] names under one salt, as one date's are at a region's scale.
fn pattern_attacks(
    p: &Pseudonymiser,
    field: TokenField,
    truth: &[String],
    people: &[String],
    salted: &[String],
    unsalted: &[Bloom],
) {
    let line = |what: &str, found: PatternMining| {
        println!(
            "      {what:<50} {:6.2}%  ({} of {} bigrams labelled right)",
            100.0 * found.rate,
            found.right,
            found.labelled
        );
    };
    println!("    pattern mining on bigram positions:");
    let written: Vec<Bloom> = (salted.iter().enumerate())
        .map(|(i, h)| {
            Bloom::from_hex(h).unwrap_or_else(|| p.bloom_record(field, &format!("none{i}"), h))
        })
        .collect();
    line(
        "default file",
        pattern_mining_attack(&written, truth, people),
    );
    // One date at a region's scale: names in an order unrelated to households, in groups of
    // REGION_DATE, each group's filters salted as the file salts them (the date, and each
    // name's initial).
    let mut order: Vec<usize> = (0..truth.len()).collect();
    order.sort_by_key(|&i| {
        let mut h = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(&i, &mut h);
        std::hash::Hasher::finish(&h)
    });
    let (mut hits, mut right, mut labelled) = (0.0, 0, 0);
    let groups = order.chunks_exact(REGION_DATE);
    let n_groups = groups.len();
    for (g, members) in groups.enumerate() {
        let names: Vec<String> = members.iter().map(|&i| truth[i].clone()).collect();
        let filters: Vec<Bloom> = (names.iter().enumerate())
            .map(|(k, v)| {
                let salt = filter_salt(&format!("date{g}"), v);
                p.bloom_record_salted(field, v, &salt, &format!("r{g}-{k}"))
            })
            .collect();
        let found = pattern_mining_attack(&filters, &names, people);
        hits += found.rate * names.len() as f64;
        right += found.right;
        labelled += found.labelled;
    }
    println!(
        "      {:<50} {:6.2}%  ({:.1} of {:.1} bigrams labelled right per date)",
        format!("default, within one date of {REGION_DATE} (a 14M region)"),
        100.0 * hits / (n_groups * REGION_DATE).max(1) as f64,
        right as f64 / n_groups.max(1) as f64,
        labelled as f64 / n_groups.max(1) as f64
    );
    let control: Vec<Bloom> = truth.iter().map(|v| p.unhardened_bloom(field, v)).collect();
    let balanced: Vec<Bloom> = truth.iter().map(|v| p.bloom(field, v)).collect();
    line(
        "--name-salt none, written filter",
        pattern_mining_attack(unsalted, truth, people),
    );
    line(
        "balanced filter (not written)",
        pattern_mining_attack(&balanced, truth, people),
    );
    line(
        "unhardened filter (control, not written)",
        pattern_mining_attack(&control, truth, people),
    );
}

/// One line per attack: what, and the share re-identified.
fn print_rates(lines: &[(&str, f64)]) {
    for (what, r) in lines {
        println!("      {what:<50} {:6.2}%", 100.0 * r);
    }
}

/// The alignment on the exact tokens of [`OTHER_FIELDS`], each ranked by the sample's values.
fn other_tokens(p: &Pseudonymiser, target: &Others, sample: &Others) {
    println!("  other exact tokens (share of the records with a value):");
    for ((label, field), (values, public)) in OTHER_FIELDS.iter().zip(target.iter().zip(sample)) {
        let public = ranking(public.iter().map(String::as_str));
        let enc: Vec<String> = values
            .iter()
            .map(|v| p.token(*field, v).to_string())
            .collect();
        println!(
            "    {label:<34}  {:6.2}%",
            100.0 * frequency_alignment_rate(&enc, values, &public)
        );
    }
}
