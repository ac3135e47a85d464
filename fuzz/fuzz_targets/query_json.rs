//! A query line as `carematch index query` reads it: `Index::entry_from_json`, then
//! `Index::query` against an index of 300 sample GP records (built once, model trained once
//! on them), with options from the first byte; the answer is written as JSON, which must
//! parse. Queries only read the index, so every input sees the same population.
#![no_main]

use carematch::index::{QueryDecision, QueryOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let index = carematch_fuzz::index();
    let Some((&opts, line)) = data.split_first() else {
        return;
    };
    let Ok(line) = std::str::from_utf8(line) else {
        return;
    };
    let Ok(rec) = index.entry_from_json(line) else {
        return;
    };
    let options = QueryOptions {
        limit: usize::from(opts & 0x0f),
        min_probability: match opts >> 5 {
            0 => None,
            1 => Some(0.0),
            2 => Some(1.0),
            3 => Some(f64::NAN),
            4 => Some(-1.0),
            k => Some(f64::from(k) / 8.0),
        },
        explain: opts & 0x10 != 0,
    };
    let Ok(answer) = index.query(&rec, &options) else {
        return;
    };
    assert!(answer.candidates.len() <= options.limit);
    // Every decided candidate is kept (before the limit), so no candidate means no decision.
    if answer.candidates.is_empty() && options.limit > 0 {
        assert_eq!(answer.decision, QueryDecision::NoMatch);
    }
    for w in answer.candidates.windows(2) {
        assert!(
            w[0].weight.bits().total_cmp(&w[1].weight.bits()).is_ge(),
            "candidates not best first"
        );
    }
    for c in &answer.candidates {
        assert!(
            index.contains(&c.id),
            "a candidate that is not in the index"
        );
        assert!(c.probability.get() >= 0.0 && c.probability.get() <= 1.0);
        assert_eq!(c.explanation.is_some(), options.explain);
    }
    let json = answer.to_json(rec.id());
    assert!(!json.contains('\n'), "an answer must be one line");
    let v: serde_json::Value = serde_json::from_str(&json).expect("the answer is valid JSON");
    assert_eq!(v["id"].as_str(), Some(rec.id()));
    assert_eq!(v["decision"].as_str(), Some(answer.decision.as_str()));
});
