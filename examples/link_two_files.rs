//! Link a GP extract with a hospital extract, step by step.
//!
//! Run: `cargo run --release --example link_two_files -- examples/data/gp.csv examples/data/hospital.csv`
//!
//! This is what `carematch link` does, written out with the library so that a service can do
//! the same in-process: read, check data quality, see what blocking will cost, link, cluster.

use std::path::Path;

use carematch::{Linker, RecordsBuilder};

fn main() -> Result<(), carematch::Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (left, right) = match args.as_slice() {
        [l, r] => (l.as_str(), r.as_str()),
        _ => ("examples/data/gp.csv", "examples/data/hospital.csv"),
    };

    // 1. Read both files into one store. Columns are recognised by name (`nhs_number`,
    //    `nhs_no`, `dob`, `forename`, ...); every distinct value is normalised once.
    let mut builder = RecordsBuilder::new();
    builder.add_csv(Path::new(left))?;
    builder.add_csv(Path::new(right))?;
    let (records, quality) = builder.build()?;

    // 2. Invalid values (a bad check digit, 31/02/1980) became missing; the report counts them
    //    per column with line numbers, never the values.
    print!("{quality}");

    // 3. The default ladder of deterministic rules, and what its blocking will cost.
    let linker = Linker::new().build()?;
    let mode = carematch::link_mode(&records, 0, 1)?;
    let blocker = linker.blocker(&records, &mode)?;
    for (rule, n) in blocker.rules().iter().zip(blocker.comparisons_per_rule()) {
        println!("blocking on {rule}: {n} comparisons");
    }

    // 4. Link. Each link carries the rule that made it; ambiguous pairs are held back.
    let result = linker.run(&records, &blocker, &mode)?;
    for (rule, (linked, ambiguous)) in result.rules.iter().zip(result.counts_per_rule()) {
        println!(
            "{:<16} {linked:>7} linked {ambiguous:>5} ambiguous",
            rule.name()
        );
    }

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
