//! Measures the frequency attack on surname and given-name encodings: the unhardened
//! control, the balanced filter, the default hardened filter (balanced + BLIP) counted as
//! identical filters and clustered by similarity first, the exact token, and a candidate
//! hardening not yet written by `pseudonymise`: the token salted with the year of birth,
//! against attackers who know the names' ranking, the years' too, or a table of names by
//! year. Then the same alignment on the other exact tokens: date of birth and its parts,
//! sex, postcode and its levels.
//!
//! Run: `cargo run --release --example frequency_attack -- [people]` (default 100000).
//! The attacker's public list is the surname frequency ranking of an independent sample
//! (another seed), as a census table would be.

use std::path::Path;

use carematch::Records;
use carematch::pseudonym::attack::{cluster_alignment_rate, frequency_alignment_rate};
use carematch::pseudonym::{Key, Pseudonymiser, TokenField, field_value};
use carematch::synth::{GenerateOptions, generate};

/// (record id, surname, given name, year of birth) of every GP record of `people`
/// generated people with both names (year 0 when the date of birth is missing).
type Names = Vec<(String, String, String, u16)>;

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

/// Per field of [`OTHER_FIELDS`], the values of the GP records that have one, as encoded.
type Others = Vec<Vec<String>>;

fn names(dir: &Path, people: u64, seed: u64) -> Result<(Names, Others), carematch::Error> {
    generate(
        &GenerateOptions {
            people,
            seed,
            ..GenerateOptions::default()
        },
        dir,
    )?;
    let mut b = Records::builder();
    b.add_csv(&dir.join("gp.csv"))?;
    let (r, _) = b.build()?;
    let others = OTHER_FIELDS
        .iter()
        .map(|&(_, f)| {
            (0..r.len() as u32)
                .filter_map(|row| field_value(&r, f, row))
                .collect()
        })
        .collect();
    let names = (0..r.len() as u32)
        .filter_map(|row| {
            Some((
                r.id(row).to_string(),
                r.surname(row)?.to_string(),
                r.given_name(row)?.to_string(),
                r.date_of_birth(row)
                    .map_or(0, carematch::normalise::date::Date::year),
            ))
        })
        .collect();
    Ok((names, others))
}

/// The public list: values of an independent sample, most frequent first.
fn ranking<'a>(values: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut public = counts(values);
    public.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(y.0)));
    public.into_iter().map(|(s, _)| s.to_string()).collect()
}

/// How many times each value occurs.
fn counts<K: std::hash::Hash + Eq>(values: impl Iterator<Item = K>) -> Vec<(K, usize)> {
    let mut counts: std::collections::HashMap<K, usize> = std::collections::HashMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    counts.into_iter().collect()
}

/// Counts of the names (surnames when `pick` is 1, else given names) of a sample.
fn public_counts(sample: &Names, pick: usize) -> Vec<(String, usize)> {
    counts(
        sample
            .iter()
            .map(|t| if pick == 1 { t.1.clone() } else { t.2.clone() }),
    )
}

/// Counts of the years of birth of a sample.
fn year_counts(sample: &Names) -> Vec<(u16, usize)> {
    counts(sample.iter().map(|t| t.3))
}

/// `name|year` for the most frequent names and years, ranked by the product of their
/// counts (names and years taken as independent), most likely first.
fn joint_ranking(names: &[(String, usize)], years: &[(u16, usize)]) -> Vec<String> {
    let mut names = names.to_vec();
    names.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
    names.truncate(2000);
    let mut joint: Vec<(usize, String)> = names
        .iter()
        .flat_map(|(n, c)| years.iter().map(move |(y, d)| (c * d, format!("{n}|{y}"))))
        .collect();
    joint.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
    joint.into_iter().map(|(_, s)| s).collect()
}

/// A candidate hardening (issue 17): the token of the name salted with the record's year of
/// birth, so one name gives a token per year. Three attackers: one with the names' ranking
/// only; one who also knows the years' distribution and ranks the pairs (name, year) by the
/// product of the two frequencies; and one with the sample's own (name, year) counts, as a
/// published table of names by year of birth would give. Returns their rates.
fn salted_attacks(
    p: &Pseudonymiser,
    field: TokenField,
    pick: usize,
    target: &Names,
    truth: &[String],
    sample: &Names,
    public: &[String],
) -> (f64, f64, f64) {
    let salted: Vec<String> = target
        .iter()
        .zip(truth)
        .map(|(t, v)| p.token(field, &format!("{v}|{}", t.3)).to_string())
        .collect();
    let salted_truth: Vec<String> = target
        .iter()
        .zip(truth)
        .map(|(t, v)| format!("{v}|{}", t.3))
        .collect();
    let names_only = frequency_alignment_rate(&salted, truth, public);
    let joint = joint_ranking(&public_counts(sample, pick), &year_counts(sample));
    let with_years = frequency_alignment_rate(&salted, &salted_truth, &joint);
    let observed = ranking(
        sample
            .iter()
            .map(|t| format!("{}|{}", if pick == 1 { &t.1 } else { &t.2 }, t.3))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str),
    );
    let with_table = frequency_alignment_rate(&salted, &salted_truth, &observed);
    (names_only, with_years, with_table)
}

fn main() -> Result<(), carematch::Error> {
    let people: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let tmp = std::env::temp_dir().join(format!("carematch-attack-{}", std::process::id()));
    let (target, target_others) = names(&tmp.join("target"), people, 31)?;
    let (sample, sample_others) = names(&tmp.join("public"), people, 32)?;
    let _ = std::fs::remove_dir_all(&tmp);
    let p = Pseudonymiser::new(&Key::from_bytes([7; 32]), "attack-demo", 1);
    println!(
        "frequency-alignment attack ({people} people, {} records):",
        target.len()
    );
    for (label, field, pick) in [
        ("surname", TokenField::Surname, 1usize),
        ("given name", TokenField::GivenName, 2usize),
    ] {
        let get = |t: &(String, String, String, u16)| {
            if pick == 1 { t.1.clone() } else { t.2.clone() }
        };
        let public = ranking(sample.iter().map(|t| {
            if pick == 1 {
                t.1.as_str()
            } else {
                t.2.as_str()
            }
        }));
        let truth: Vec<String> = target.iter().map(get).collect();
        let rate = |enc: Vec<String>| frequency_alignment_rate(&enc, &truth, &public);
        let control = rate(
            truth
                .iter()
                .map(|v| p.unhardened_bloom(field, v).to_hex())
                .collect(),
        );
        let balanced = rate(truth.iter().map(|v| p.bloom(field, v).to_hex()).collect());
        let written: Vec<_> = target
            .iter()
            .zip(&truth)
            .map(|(t, v)| p.bloom_record(field, v, &t.0))
            .collect();
        let hardened = rate(
            written
                .iter()
                .map(carematch::pseudonym::Bloom::to_hex)
                .collect(),
        );
        // Filters of one name under BLIP are about 0.94 similar, of two names sharing most
        // bigrams (smith, smyth) about 0.8.
        let clustered = cluster_alignment_rate(&written, &truth, &public, 0.88);
        let token = rate(
            truth
                .iter()
                .map(|v| p.token(field, v).to_string())
                .collect(),
        );
        println!("  {label}:");
        println!(
            "    unhardened Bloom filter (control)   {:6.2}% re-identified",
            100.0 * control
        );
        println!(
            "    balanced Bloom filter               {:6.2}%",
            100.0 * balanced
        );
        println!(
            "    balanced + BLIP (default, written)  {:6.2}%",
            100.0 * hardened
        );
        println!(
            "    balanced + BLIP, clustered first    {:6.2}%",
            100.0 * clustered
        );
        println!(
            "    exact token                         {:6.2}%",
            100.0 * token
        );
        let (names_only, with_years, with_table) =
            salted_attacks(&p, field, pick, &target, &truth, &sample, &public);
        println!("    token salted with year of birth, the attacker ranking");
        println!(
            "      names only                        {:6.2}%",
            100.0 * names_only
        );
        println!(
            "      names x years (independent)       {:6.2}%",
            100.0 * with_years
        );
        println!(
            "      (name, year) as observed          {:6.2}%",
            100.0 * with_table
        );
    }
    other_tokens(&p, &target_others, &sample_others);
    Ok(())
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
