//! A JSON config (`Config::from_json`) and, when it parses, everything that reads it, as the
//! command line does: the column mapping and reading options on a small GP + hospital sample,
//! the comparisons, training options and training, the blocking rules and the deterministic
//! rules, the thresholds, then a link with them, an index build and a query.
//!
//! Training and linking cost milliseconds on 12 + 12 rows (a config asking for 10^18 random
//! pairs gets all 144); EM iterations are capped at 50 to keep each input quick.
#![no_main]

use carematch::index::QueryOptions;
use carematch::{Config, Index, Linker, Model, Records};
use libfuzzer_sys::fuzz_target;

const ROWS: usize = 12;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = Config::from_json(text) else {
        return;
    };
    // The reading options and the column mapping, as `read_sources` applies them.
    let mut b = Records::builder();
    b.columns(config.columns.clone())
        .strict(config.strict)
        .accept_test_nhs_numbers(config.accept_test_nhs_numbers);
    let gp = carematch_fuzz::head(carematch_fuzz::GP_CSV, ROWS);
    let hospital = carematch_fuzz::head(carematch_fuzz::HOSPITAL_CSV, ROWS);
    if b.add_reader("gp.csv", gp.as_bytes()).is_err()
        || b.add_reader("hospital.csv", hospital.as_bytes()).is_err()
    {
        return;
    }
    let Ok((records, _quality)) = b.build() else {
        return;
    };

    let rules = config.rules_for(&records);
    let Ok(mode) = carematch::block::Mode::link(&records, 0, 1) else {
        return;
    };
    let Ok(blocking) = config.blocking_for(&records, &mode).map(|c| c.rules()) else {
        return;
    };
    let Ok(mut options) = config.train_options_for(&records, &mode) else {
        return;
    };
    options.max_iterations = options.max_iterations.min(50);
    let Ok(comparisons) = config.comparisons(&records) else {
        return;
    };
    let Ok(mut model) = Model::train(&records, &mode, &comparisons, &options) else {
        return;
    };
    model.set_blocking(blocking.clone());
    // The config's thresholds over the model's, as a run applies them.
    match config.apply_thresholds(&mut model, None, "default") {
        Ok(applied) => {
            let t = applied.thresholds;
            assert!(
                t.review_probability <= t.match_probability,
                "review above match"
            );
            assert_eq!(model.thresholds(), t);
            let _ = applied.to_string();
        }
        Err(_) => return,
    }
    // A trained model must write JSON that reads back.
    let json = model.to_json();
    let again = Model::from_json(&json).expect("a trained model's JSON reads back");
    assert_eq!(again.to_json(), json, "model JSON does not round-trip");

    let Ok(linker) = Linker::builder()
        .rules(rules.clone())
        .model(Some(model.clone()))
        .build()
    else {
        return;
    };
    if let Ok(result) = linker.link(&records, 0, 1) {
        let _ = result.clusters(&records);
    }

    // The index of the GP part with the same settings, queried with a hospital row.
    let mut ib = Records::builder();
    ib.columns(config.columns.clone())
        .accept_test_nhs_numbers(config.accept_test_nhs_numbers);
    if ib.add_reader("gp.csv", gp.as_bytes()).is_err() {
        return;
    }
    let Ok((population, _)) = ib.build() else {
        return;
    };
    let mut builder = Index::builder(model);
    builder
        .rules(rules)
        .columns(config.columns.clone())
        .accept_test_nhs_numbers(config.accept_test_nhs_numbers)
        .person_ids(true);
    let Ok(index) = builder.build(population) else {
        return;
    };
    let mut lines = hospital.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    if let Some(row) = lines.next() {
        let fields: Vec<(&str, &str)> = header.iter().copied().zip(row.split(',')).collect();
        if let Ok(rec) = index.entry(&fields) {
            let _ = index.query(&rec, &QueryOptions::default());
        }
    }
});
