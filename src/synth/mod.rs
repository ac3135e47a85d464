//! Synthetic patient data with ground truth.
//!
//! [`generate`] writes a synthetic population as three sources that record the same people
//! differently, plus the true links between them, so linkage quality can be measured
//! (`carematch evaluate`) without touching real patient data. It is what
//! `carematch generate --people N --seed S --out-dir DIR` runs.
//!
//! # Files
//!
//! | file | what | columns |
//! |---|---|---|
//! | `gp.csv` | a GP system | `rec_id,nhs_number,given_name,surname,date_of_birth,sex,postcode,address`; ids `GP00000001`; dates `YYYY-MM-DD`; sex `M`/`F` |
//! | `hospital.csv` | a hospital PAS | `id,nhs_no,first_name,last_name,dob,gender,postcode,address_line_1`; ids `H00000001`; dates `DD/MM/YYYY`; gender `Male`/`Female` or `1`/`2` (`0` not known); NHS numbers sometimes `943 476 5919`; no diacritics |
//! | `truth.csv` | the true links between GP and hospital | `left_id,right_id`: every (GP id, hospital id) pair of records of one person |
//! | `dedupe.csv` | a social-care / MPI extract with duplicates | as `gp.csv`, ids `S00000001` |
//! | `truth_dedupe.csv` | the true duplicates in `dedupe.csv` | `left_id,right_id`: every pair of `dedupe.csv` records of one person, left id < right id |
//!
//! Each person is in the GP source with probability [`GenerateOptions::gp_coverage`], in the
//! hospital source with [`GenerateOptions::hospital_coverage`], and in the deduplication
//! source with probability 0.5; 1% of the people in GP and in hospital have a second record
//! there, and [`GenerateOptions::dedupe_duplicate_rate`] of the people in the deduplication
//! source have two or more records (a third with probability 0.3, a fourth with 0.3 of that,
//! and so on, at most six). Records are in a seeded random order, and ids follow file order,
//! so neither order nor id reveals the person.
//!
//! # Population
//!
//! People live in households that share a postcode and address and usually a surname.
//! Names come from frequency tables of given names (by sex, birth era and origin group) and
//! surnames; postcodes are real England and Wales districts with synthetic unit codes
//! (district + digit + two letters from `ABDEFGHJLNPQRSTUWXYZ`). Ages follow a rough UK age
//! pyramid up to 100, measured on 2025-01-01. Every person has a distinct valid NHS number
//! starting with 9, a range never issued to real patients.
//!
//! The hard cases of record linkage are built in:
//!
//! | case | rate |
//! |---|---|
//! | twins living together: same surname, date of birth and address, different given names (same initial in half), different NHS numbers | 1.5% of people |
//! | same-named parent and child at one address (father/son, mother/daughter), different dates of birth | 0.5% of people |
//! | newborns (under one) recorded as `Baby of <Surname>`, `BABY` or `Twin 1`/`Twin 2`; the GP record has the real name | 70% of hospital copies, 30% of deduplication copies of newborns |
//! | married women with a maiden name, recorded under it | 65% of opposite-sex couples marry, 90% of wives take the name; 10% of copies show the maiden name |
//! | double-barrelled surnames recorded with one part or a space | 3% of families with children, plus table entries; 30% of copies |
//! | people who moved: the copy has the household's other postcode and address | 8% of copies |
//!
//! # Corruption
//!
//! Each record copy is corrupted independently. The rates below are at noise 1.0; every one
//! is multiplied by [`GenerateOptions::noise`] and capped at 1. Within one group (given name,
//! date of birth, postcode, NHS number, sex) a copy gets at most one corruption.
//!
//! | field | corruption | rate per copy |
//! |---|---|---|
//! | given name | one typing error (insert, delete, keyboard-adjacent substitute, transpose) | 4% |
//! | given name | nickname or short form (`William` -> `Bill`), when one is known | 5% |
//! | given name | initial only | 0.5% |
//! | given name | missing | 0.5% |
//! | surname | one typing error | 3% |
//! | names | given name and surname swapped | 0.5% |
//! | names | diacritics stripped (`Zoë` -> `Zoe`) | hospital: always |
//! | date of birth | day and month swapped (only when day <= 12 and day != month) | 1% |
//! | date of birth | one digit mistyped, still a real date | 1.5% |
//! | date of birth | two adjacent digits transposed, still a real date | 0.5% |
//! | date of birth | missing | 0.5% |
//! | date of birth | placeholder 1900-01-01 | 0.2% |
//! | postcode | moved (other address, postcode and address both change) | 8% |
//! | postcode | missing | 3% |
//! | postcode | one character mistyped | 1% |
//! | postcode | `ZZ99 3VZ`, address `No Fixed Abode` | 0.2% |
//! | postcode | no space, two spaces or lower case | 20% |
//! | NHS number | missing | GP 1%, hospital 12%, deduplication 40% |
//! | NHS number | one digit mistyped (fails the modulus-11 check) | 1% |
//! | NHS number | adjacent digits transposed (fails the check) | 0.5% |
//! | sex | missing | 1% |
//! | sex | wrong | 0.2% |
//! | names, address | UPPER (60%) or lower (40%) case | 20% |
//! | names, address | an extra leading, trailing or doubled space | 5% |
//! | address | street suffix abbreviated (`Road` -> `Rd`) | 20% |
//!
//! Format conventions are not corruption and do not scale with noise: the hospital writes 30%
//! of NHS numbers as `943 476 5919` and codes 25% of genders as `1`/`2`.
//!
//! # Determinism and scale
//!
//! The same options give byte-identical files on any machine and thread count: every
//! household chunk and every record copy draws from its own generator seeded by a hash of
//! the seed and its index, with a generator written out in this module (not a crate, so a
//! dependency upgrade cannot change the output). Work runs in parallel with rayon and rows
//! are written in order, streamed in blocks; memory holds a few dozen bytes per person.

mod calendar;
mod corrupt;
mod nhs;
mod population;
mod render;
pub(crate) mod stream;
mod tables;

use std::io::Write;
use std::path::Path;

use rayon::prelude::*;

use crate::files::NewFile;
use crate::{Error, ErrorKind};

use population::Population;
use render::{Context, Source};

/// The store of the generator's `files` (`gp.csv`, `hospital.csv`, `dedupe.csv`) for
/// `people` people and `seed`, read in that order: what unit tests that need realistic
/// records start from.
#[cfg(test)]
pub(crate) fn generated_records(people: u64, seed: u64, files: &[&str]) -> crate::Records {
    let dir = tempfile::tempdir().unwrap();
    let options = GenerateOptions {
        people,
        seed,
        ..GenerateOptions::default()
    };
    generate(&options, dir.path()).unwrap();
    let mut b = crate::Records::builder();
    for f in files {
        b.add_file(&dir.path().join(f)).unwrap();
    }
    b.build().unwrap().0
}

/// Options for [`generate`].
#[derive(Clone, Debug)]
pub struct GenerateOptions {
    /// Number of people in the population, at least 1 and at most 90,000,000 (the number of
    /// distinct synthetic NHS numbers). Default 10,000.
    pub people: u64,
    /// Seed; the same seed and options give byte-identical files. Default 1.
    pub seed: u64,
    /// Multiplier on every corruption rate, in `[0, 10]`: 0 gives clean copies, 2.0 the
    /// "noisier variant". Default 1.0.
    pub noise: f64,
    /// Probability that a person is in `gp.csv`, in `[0, 1]`. Default 0.8.
    pub gp_coverage: f64,
    /// Probability that a person is in `hospital.csv`, in `[0, 1]`. Default 0.6.
    pub hospital_coverage: f64,
    /// Share of the people in `dedupe.csv` who have two or more records there, in `[0, 1]`.
    /// Default 0.2.
    pub dedupe_duplicate_rate: f64,
}

impl Default for GenerateOptions {
    fn default() -> GenerateOptions {
        GenerateOptions {
            people: 10_000,
            seed: 1,
            noise: 1.0,
            gp_coverage: 0.8,
            hospital_coverage: 0.6,
            dedupe_duplicate_rate: 0.2,
        }
    }
}

/// What [`generate`] wrote.
#[derive(Clone, Debug)]
pub struct GenerateSummary {
    /// Data rows (not counting the header) per file written, by file name, in the order
    /// `gp.csv`, `hospital.csv`, `dedupe.csv`, `truth.csv`, `truth_dedupe.csv`.
    pub files: Vec<(String, u64)>,
}

/// Generates the synthetic sources and truth files into `out_dir`, creating it if missing
/// and overwriting files of the same names.
///
/// # Errors
///
/// A usage error when an option is out of range; an I/O error when the directory or a file
/// cannot be created or written.
///
/// # Example
///
/// ```no_run
/// use carematch::synth::{generate, GenerateOptions};
///
/// let options = GenerateOptions { people: 1_000, seed: 7, ..GenerateOptions::default() };
/// let summary = generate(&options, std::path::Path::new("synthetic"))?;
/// for (file, rows) in &summary.files {
///     println!("{file}: {rows} rows");
/// }
/// # Ok::<(), carematch::Error>(())
/// ```
pub fn generate(options: &GenerateOptions, out_dir: &Path) -> Result<GenerateSummary, Error> {
    validate(options)?;
    std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, "create", &e))?;
    let plan = Plan::new(options);
    let mut files = Vec::with_capacity(5);
    for source in Source::ALL {
        let name = source.file_name();
        let rows = write_source(&plan, source, &out_dir.join(name))?;
        files.push((name.to_owned(), rows));
    }
    let rows = write_pairs(
        &out_dir.join("truth.csv"),
        &plan.truth_pairs(),
        [Source::Gp, Source::Hospital],
    )?;
    files.push(("truth.csv".to_owned(), rows));
    let rows = write_pairs(
        &out_dir.join("truth_dedupe.csv"),
        &plan.dedupe_pairs(),
        [Source::Dedupe, Source::Dedupe],
    )?;
    files.push(("truth_dedupe.csv".to_owned(), rows));
    Ok(GenerateSummary { files })
}

fn validate(o: &GenerateOptions) -> Result<(), Error> {
    if o.people == 0 {
        return Err(Error::new(ErrorKind::Usage, "people must be at least 1"));
    }
    if o.people > nhs::CAPACITY {
        return Err(Error::new(
            ErrorKind::Usage,
            format!(
                "people must be at most {} (the number of distinct synthetic NHS numbers)",
                nhs::CAPACITY
            ),
        ));
    }
    if !(0.0..=10.0).contains(&o.noise) {
        return Err(Error::new(
            ErrorKind::Usage,
            "noise must be between 0 and 10",
        ));
    }
    for (name, v) in [
        ("gp_coverage", o.gp_coverage),
        ("hospital_coverage", o.hospital_coverage),
        ("dedupe_duplicate_rate", o.dedupe_duplicate_rate),
    ] {
        if !(0.0..=1.0).contains(&v) {
            return Err(Error::new(
                ErrorKind::Usage,
                format!("{name} must be between 0 and 1"),
            ));
        }
    }
    Ok(())
}

/// One record of a file: which person and which of their copies, and its shuffle key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    key: u64,
    person: u32,
    copy: u8,
}

/// Everything decided before rows are rendered: the population and each file's record order.
struct Plan {
    seed: u64,
    noise: f64,
    population: Population,
    /// Records of each source in file order.
    files: [Vec<Entry>; 3],
}

impl Plan {
    fn new(options: &GenerateOptions) -> Plan {
        let population = population::build(options);
        let files = Source::ALL.map(|source| {
            let s = source.index();
            let total: usize = population
                .people
                .iter()
                .map(|p| usize::from(p.copies[s]))
                .sum();
            let mut entries = Vec::with_capacity(total);
            for (i, p) in population.people.iter().enumerate() {
                for copy in 0..p.copies[s] {
                    let index = ((i as u64) << 8) | u64::from(copy);
                    entries.push(Entry {
                        key: crate::rng::hash3(options.seed, stream::SHUFFLE + s as u64, index),
                        person: i as u32,
                        copy,
                    });
                }
            }
            entries.par_sort_unstable();
            entries
        });
        Plan {
            seed: options.seed,
            noise: options.noise,
            population,
            files,
        }
    }

    /// (GP position, hospital position) of every pair of one person, by GP then hospital
    /// position.
    fn truth_pairs(&self) -> Vec<(u32, u32)> {
        let mut hospital = vec![[u32::MAX; 2]; self.population.people.len()];
        for (pos, e) in self.files[Source::Hospital.index()].iter().enumerate() {
            let slot = &mut hospital[e.person as usize];
            let k = usize::from(slot[0] != u32::MAX);
            slot[k.min(1)] = pos as u32;
        }
        let mut pairs = Vec::new();
        for (pos, e) in self.files[Source::Gp.index()].iter().enumerate() {
            let mut h = hospital[e.person as usize];
            h.sort_unstable();
            for &hp in h.iter().filter(|&&x| x != u32::MAX) {
                pairs.push((pos as u32, hp));
            }
        }
        pairs
    }

    /// Every pair of positions of one person in the deduplication file, left < right,
    /// sorted.
    fn dedupe_pairs(&self) -> Vec<(u32, u32)> {
        let mut by_person: Vec<(u32, u32)> = self.files[Source::Dedupe.index()]
            .iter()
            .enumerate()
            .map(|(pos, e)| (e.person, pos as u32))
            .collect();
        by_person.sort_unstable();
        let mut pairs = Vec::new();
        for group in by_person.chunk_by(|a, b| a.0 == b.0) {
            for (i, a) in group.iter().enumerate() {
                for b in &group[i + 1..] {
                    pairs.push((a.1.min(b.1), a.1.max(b.1)));
                }
            }
        }
        pairs.sort_unstable();
        pairs
    }
}

/// Rows rendered per parallel task, and per sequential block written.
const TASK_ROWS: usize = 2048;
const BLOCK_ROWS: usize = 64 * TASK_ROWS;

fn csv_error(path: &Path, e: &dyn std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Io,
        format!("{}: cannot write: {e}", path.display()),
    )
}

fn create(path: &Path) -> Result<NewFile, Error> {
    NewFile::create(path)
}

fn to_bytes(path: &Path, w: csv::Writer<Vec<u8>>) -> Result<Vec<u8>, Error> {
    w.into_inner().map_err(|e| csv_error(path, &e.error()))
}

fn write_source(plan: &Plan, source: Source, path: &Path) -> Result<u64, Error> {
    let mut out = create(path)?;
    let mut header = csv::Writer::from_writer(Vec::new());
    header
        .write_record(source.header())
        .map_err(|e| csv_error(path, &e))?;
    out.write_all(&to_bytes(path, header)?)
        .map_err(|e| Error::io(path, "write", &e))?;
    let ctx = Context {
        seed: plan.seed,
        noise: plan.noise,
        population: &plan.population,
        tables: tables::tables(),
        reference: render::reference_day(),
    };
    let entries = &plan.files[source.index()];
    for (b, block) in entries.chunks(BLOCK_ROWS).enumerate() {
        let parts: Vec<Result<Vec<u8>, Error>> = block
            .par_chunks(TASK_ROWS)
            .enumerate()
            .map(|(k, task)| {
                let start = b * BLOCK_ROWS + k * TASK_ROWS;
                let mut w = csv::Writer::from_writer(Vec::with_capacity(task.len() * 96));
                for (i, e) in task.iter().enumerate() {
                    let row = render::render(&ctx, source, e.person, e.copy);
                    w.write_record([
                        source.id(start + i).as_str(),
                        &row.nhs,
                        &row.given,
                        &row.surname,
                        &row.dob,
                        &row.sex,
                        &row.postcode,
                        &row.address,
                    ])
                    .map_err(|e| csv_error(path, &e))?;
                }
                to_bytes(path, w)
            })
            .collect();
        for part in parts {
            out.write_all(&part?)
                .map_err(|e| Error::io(path, "write", &e))?;
        }
    }
    out.commit()?;
    Ok(entries.len() as u64)
}

fn write_pairs(path: &Path, pairs: &[(u32, u32)], sources: [Source; 2]) -> Result<u64, Error> {
    let mut w = csv::Writer::from_writer(create(path)?);
    w.write_record(["left_id", "right_id"])
        .map_err(|e| csv_error(path, &e))?;
    for &(a, b) in pairs {
        w.write_record([sources[0].id(a as usize), sources[1].id(b as usize)])
            .map_err(|e| csv_error(path, &e))?;
    }
    w.into_inner()
        .map_err(|e| Error::io(path, "write", e.error()))?
        .commit()?;
    Ok(pairs.len() as u64)
}

#[cfg(test)]
mod tests;
