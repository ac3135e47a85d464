//! Link a GP extract with a hospital extract, step by step.
//!
//! Run: `cargo run --release --example link_two_files -- examples/data/gp.csv examples/data/hospital.csv`
//!
//! This is what `carematch link` does, written out with the library so that a service can do
//! the same in-process: read, check data quality, train, see what blocking will cost, link,
//! cluster.

use std::path::Path;

use carematch::compare::Comparison;
use carematch::model::TrainOptions;
use carematch::{Linker, Model, Records};

fn main() -> Result<(), carematch::Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (left, right) = match args.as_slice() {
        [l, r] => (l.as_str(), r.as_str()),
        _ => ("examples/data/gp.csv", "examples/data/hospital.csv"),
    };

    // 1. Read both files into one store. Columns are recognised by name (`nhs_number`,
    //    `nhs_no`, `dob`, `forename`, ...); every distinct value is normalised once.
    let mut builder = Records::builder();
    builder.add_csv(Path::new(left))?;
    builder.add_csv(Path::new(right))?;
    let (records, quality) = builder.build()?;

    // 2. Invalid values (a bad check digit, 31/02/1980) became missing; the report counts them
    //    per column with line numbers, never the values.
    print!("{quality}");

    // 3. Train a Fellegi-Sunter model on these two files: u from random pairs, m and the
    //    prior by EM on counts of distinct comparison vectors.
    let mode = carematch::block::Mode::link(&records, 0, 1)?;
    let model = Model::train(
        &records,
        &mode,
        &Comparison::defaults(),
        &TrainOptions::default(),
    )?;
    println!("prior: {:+.2} bits", model.prior_weight());

    // 4. The default ladder of deterministic rules runs first; the model scores the rest.
    //    Show what blocking will cost before running it.
    let mut builder = Linker::builder();
    builder.model(Some(model));
    let linker = builder.build()?;
    let plan = linker.plan(&records, &mode)?;
    for p in plan.pair_counts() {
        println!("{} blocking on {}: {} comparisons", p.pass, p.rule, p.pairs);
    }
    let result = linker.run(&records, &plan, &mode)?;
    let counts = result.decision_counts();
    println!(
        "{} linked, {} for review, {} ambiguous",
        counts.matched, counts.review, counts.ambiguous
    );

    // 5. People: union-find over the links, refusing merges across two NHS numbers.
    let people = result.clusters(&records);
    println!("{} records are {} people", records.len(), people.len());
    if let Some(link) = result.matches().next() {
        println!(
            "for example {} and {} are person {}",
            records.id(link.pair.left),
            records.id(link.pair.right),
            people.person_id(link.pair.left)
        );
    }
    Ok(())
}
