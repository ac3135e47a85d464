//! A model file (`Model::from_json`). When it reads: its JSON must round-trip
//! (`to_json` → `from_json` → `to_json` gives the same text), and it scores and explains
//! pairs of a small GP + hospital sample (when its comparisons fit the sample's columns),
//! with weights that are numbers and probabilities in 0..=1.
#![no_main]

use std::sync::OnceLock;

use carematch::block::Pair;
use carematch::model::Scorer;
use carematch::{Model, Records};
use libfuzzer_sys::fuzz_target;

fn records() -> &'static Records {
    static R: OnceLock<Records> = OnceLock::new();
    R.get_or_init(|| carematch_fuzz::small_records(8, true))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(model) = Model::from_json(text) else {
        return;
    };
    let json = model.to_json();
    let again = Model::from_json(&json).expect("a model's own JSON reads back");
    assert_eq!(again.to_json(), json, "model JSON does not round-trip");
    let _ = model.thresholds();
    let _ = model.prior_weight();
    for c in 0..model.comparisons().len() {
        for level in 0..model.comparisons()[c].level_names().len() {
            let _ = model.weight(c, level);
        }
    }

    let records = records();
    let Ok(scorer) = Scorer::new(&model, records) else {
        return;
    };
    let gp = records.sources()[0].rows.clone();
    let hospital = records.sources()[1].rows.clone();
    for left in gp {
        for right in hospital.clone() {
            let pair = Pair { left, right };
            let w = scorer.weight(pair);
            let p = w.probability().get();
            assert!((0.0..=1.0).contains(&p), "probability out of range");
            let e = scorer.explain(pair);
            let _ = e;
        }
    }
});
