//! Blocking rules chosen from the data.
//!
//! The default rules for clear text assume a date of birth, a postcode and an NHS number. Data
//! from elsewhere may have none of them (FEBRL has no NHS number and Australian postcodes; a
//! names-and-address extract has no date of birth), and a pair whose date of birth was
//! mistyped or whose names were entered the wrong way round leaves almost every default rule.
//! So the rules a model blocks on are the defaults, then rules from a pool built from the
//! fields the data has, each kept only while the comparisons of all rules kept so far stay
//! within a budget per record. Each rule's comparisons are counted (estimated on a sample for
//! large sources) before any pair is compared, and the choice is written in the run's
//! summary. A config's `blocking` replaces the choice.
//!
//! The pool runs from narrow to broad: keys that survive one wrong field (swapped names with
//! the year of birth or the postcode district, a transposed identifier, a street with a name),
//! then single fields (`dob`, `postcode`, both names), which are cheap on small files and are
//! left out on large ones by the budget.

use std::fmt;

use rayon::prelude::*;

use crate::Error;
use crate::block::{BlockingRule, Mode, estimate_comparisons};
use crate::record::Records;

/// Comparisons per record the chosen rules may generate in all (never fewer than
/// 1,000,000 in all), when a config sets no `blocking_budget`. Measured: the default rules
/// generate about 2.4 per record on the generator's 1M-person link (so nothing is added
/// there and its speed is kept: at 5 per record five rules were added, the run took 1.45x
/// as long and F1 rose by 0.0002) and about 8 on its 14M-person dedupe; on a 100k-person
/// link, FEBRL or a names-and-address extract the minimum budget holds every rule of the
/// pool that makes pairs.
pub const DEFAULT_BUDGET_PER_RECORD: f64 = 1.0;

/// The budget is never below this many comparisons in all: below about a million,
/// comparing costs less than a second, so a small file gets every rule that fits.
pub const MIN_BUDGET: u64 = 1_000_000;

/// Rules tried after the defaults, in order; `{id}` stands for each identifier column.
const POOL: &[&str] = &[
    "{id}:sorted",
    "names:soundex & dob:year",
    "names:soundex & postcode:district",
    "surname:soundex & address:street",
    "given_name:soundex & address:street",
    "names:soundex & address:street",
    "given_name:first3 & surname:first4",
    "dob",
    "postcode",
    "given_name & surname",
    "address:street",
];

/// Training sessions tried, in order, for a comparison that no session estimates; the first
/// that does not block on its field and makes pairs within the budget is added.
const TRAINING_POOL: &[&str] = &[
    "given_name & surname",
    "dob",
    "postcode",
    "address:street",
    "surname & dob:year",
];

/// Whether and why a rule is blocked on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A default rule: always kept (its comparisons count toward the budget).
    Default,
    /// Added from the pool within the budget.
    Added,
    /// Left out: it would take the total over the budget.
    OverBudget,
    /// Left out: it makes no pairs on this data (a field it needs is missing).
    NoPairs,
}

/// One rule considered.
#[derive(Clone, Debug)]
pub struct Considered {
    /// The rule.
    pub rule: BlockingRule,
    /// The comparisons it generates on its own (estimated for large sources).
    pub comparisons: u64,
    /// Kept or not, and why.
    pub verdict: Verdict,
}

/// The blocking rules chosen for a model, with every rule considered.
#[derive(Clone, Debug)]
pub struct BlockingChoice {
    /// Every rule considered, in order.
    pub considered: Vec<Considered>,
    /// The budget: comparisons in all.
    pub budget: u64,
    /// The budget per record it comes from.
    pub per_record: f64,
    /// The least budget in all.
    pub min_budget: u64,
    /// True when the rules came from the config (nothing was chosen).
    pub from_config: bool,
}

impl BlockingChoice {
    /// The rules to block on, in order.
    pub fn rules(&self) -> Vec<BlockingRule> {
        self.considered
            .iter()
            .filter(|c| matches!(c.verdict, Verdict::Default | Verdict::Added))
            .map(|c| c.rule.clone())
            .collect()
    }

    /// A choice that is exactly `rules` (a config's).
    pub fn given(rules: Vec<BlockingRule>) -> BlockingChoice {
        BlockingChoice {
            considered: rules
                .into_iter()
                .map(|rule| Considered {
                    rule,
                    comparisons: 0,
                    verdict: Verdict::Default,
                })
                .collect(),
            budget: 0,
            per_record: 0.0,
            min_budget: 0,
            from_config: true,
        }
    }
}

impl fmt::Display for BlockingChoice {
    /// The summary: each rule with its own and the cumulative comparisons of the rules kept.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.from_config {
            return writeln!(f, "blocking rules: from the config");
        }
        writeln!(
            f,
            "blocking rules chosen from the data (budget {} comparisons per record, at least \
             {}: {} in all; comparisons counted before running):",
            self.per_record, self.min_budget, self.budget
        )?;
        writeln!(
            f,
            "  {:<9} {:<58} {:>12} {:>12}",
            "", "rule", "own", "cumulative"
        )?;
        let mut total = 0u64;
        for c in &self.considered {
            let (label, cumulative) = match c.verdict {
                Verdict::Default | Verdict::Added => {
                    total = total.saturating_add(c.comparisons);
                    let l = if c.verdict == Verdict::Default {
                        "default"
                    } else {
                        "added"
                    };
                    (l, total.to_string())
                }
                Verdict::OverBudget => ("left out", "over budget".to_string()),
                Verdict::NoPairs => ("left out", "no pairs".to_string()),
            };
            writeln!(
                f,
                "  {label:<9} {:<58} {:>12} {cumulative:>12}",
                c.rule.to_string(),
                c.comparisons
            )?;
        }
        Ok(())
    }
}

/// Chooses the blocking rules for `records` in `mode`: `defaults` always, then the pool's
/// rules that make pairs, while the total stays within `per_record` comparisons per record
/// of the mode (and never below `min_budget`). `identifiers` are the identifier columns (see
/// [`crate::Config::identifiers`]).
///
/// # Errors
///
/// A config error when a default rule names a column the input does not have.
pub fn choose(
    records: &Records,
    mode: &Mode,
    defaults: Vec<BlockingRule>,
    identifiers: &[String],
    per_record: f64,
    min_budget: u64,
) -> Result<BlockingChoice, Error> {
    let budget = budget(mode, per_record, min_budget);
    let mut considered = Vec::new();
    let mut total = 0u64;
    // The defaults are always counted: side by side (the first error in rule order).
    let counts: Vec<Result<u64, Error>> = defaults
        .par_iter()
        .map(|rule| estimate_comparisons(records, rule, mode))
        .collect();
    for (rule, comparisons) in defaults.into_iter().zip(counts) {
        let comparisons = comparisons?;
        total = total.saturating_add(comparisons);
        considered.push(Considered {
            rule,
            comparisons,
            verdict: Verdict::Default,
        });
    }
    for rule in pool(records, identifiers) {
        if considered.iter().any(|c| c.rule == rule) {
            continue;
        }
        // The defaults alone may use up the budget (a large dedupe): then nothing more is
        // counted, so a large run pays nothing for the choice.
        if total >= budget {
            considered.push(Considered {
                rule,
                comparisons: 0,
                verdict: Verdict::OverBudget,
            });
            continue;
        }
        let comparisons = estimate_comparisons(records, &rule, mode)?;
        let verdict = if comparisons == 0 {
            Verdict::NoPairs
        } else if total.saturating_add(comparisons) > budget {
            Verdict::OverBudget
        } else {
            total += comparisons;
            Verdict::Added
        };
        considered.push(Considered {
            rule,
            comparisons,
            verdict,
        });
    }
    Ok(BlockingChoice {
        considered,
        budget,
        per_record,
        min_budget,
        from_config: false,
    })
}

/// The comparisons in all that `per_record` comparisons per record allow in `mode`, never
/// fewer than `min_budget`: what the chosen blocking rules, and each training session from
/// the pool, may cost.
pub(crate) fn budget(mode: &Mode, per_record: f64, min_budget: u64) -> u64 {
    ((per_record.max(0.0) * f64::from(mode.records())).round() as u64).max(min_budget)
}

/// The training sessions for `records` in `mode`: those of `sessions` that make pairs, then,
/// for each comparison that none of them leaves out of its blocking (so none can estimate
/// its m), the first rule of the training pool that leaves it out and makes pairs within
/// `cap` comparisons (the blocking budget, see [`budget`]). FEBRL has no NHS number and a
/// names-and-address extract no date of birth: without this the default sessions find
/// nothing and m keeps its starting values.
///
/// # Errors
///
/// A config error when a rule names a column the input does not have.
pub(crate) fn complete_sessions(
    records: &Records,
    mode: &Mode,
    comparisons: &[crate::compare::Comparison],
    sessions: Vec<BlockingRule>,
    cap: u64,
) -> Result<Vec<BlockingRule>, Error> {
    let mut out = Vec::new();
    let counts: Vec<Result<u64, Error>> = sessions
        .par_iter()
        .map(|rule| estimate_comparisons(records, rule, mode))
        .collect();
    for (rule, pairs) in sessions.into_iter().zip(counts) {
        if pairs? > 0 {
            out.push(rule);
        }
    }
    let pool: Vec<BlockingRule> = TRAINING_POOL
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
    for c in comparisons {
        if out.iter().any(|r| !crate::model::train::reads(r, c)) {
            continue;
        }
        for rule in &pool {
            if out.contains(rule) || crate::model::train::reads(rule, c) {
                continue;
            }
            let pairs = estimate_comparisons(records, rule, mode)?;
            if pairs > 0 && pairs <= cap {
                out.push(rule.clone());
                break;
            }
        }
    }
    Ok(out)
}

/// The pool's rules for `records`: `{id}` rules once per identifier column; rules on columns
/// the input lacks left out.
fn pool(records: &Records, identifiers: &[String]) -> Vec<BlockingRule> {
    let mut out = Vec::new();
    for s in POOL {
        if s.contains("{id}") {
            for id in identifiers {
                if let Ok(r) = s.replace("{id}", id).parse() {
                    out.push(r);
                }
            }
        } else if let Ok(r) = s.parse::<BlockingRule>() {
            out.push(r);
        }
    }
    crate::block::available(records, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(csv: &str) -> Records {
        let mut b = Records::builder();
        b.add_reader("t.csv", csv.as_bytes()).unwrap();
        b.build().unwrap().0
    }

    /// Issue 11: two sources that share only names and an address get candidate pairs (the
    /// defaults all need a date of birth or a postcode), and swapped names meet.
    #[test]
    fn names_and_address_alone_get_rules_that_make_pairs() {
        let r = store(
            "id,given_name,surname,address\n\
             1,John,Smith,\"11 Dorset Close, Leeds\"\n\
             2,Smith,Jon,\"Flat 2, 11 Dorset Cl\"\n\
             3,Mary,Jones,4 High Street\n\
             4,Maty,Jones,4 High St\n",
        );
        let mode = crate::link::dedupe_mode(&r, 0).unwrap();
        let c = choose(&r, &mode, BlockingRule::defaults(), &[], 5.0, 0).unwrap();
        let rules = c.rules();
        assert!(
            c.considered
                .iter()
                .filter(|c| c.verdict == Verdict::Default)
                .all(|c| c.comparisons == 0)
        );
        let has = |s: &str| rules.iter().any(|r| r.to_string() == s);
        assert!(has("names:soundex & address:street"), "{c}");
        assert!(has("surname:soundex & address:street"), "{c}");
        let b = crate::block::Blocker::new(&r, &rules, &mode).unwrap();
        let pairs: usize = b.pairs(100).map(|p| p.len()).sum();
        assert_eq!(pairs, 2, "{c}");
    }

    /// The budget holds: a rule that would take the total over it is left out, and said so.
    #[test]
    fn a_rule_over_the_budget_is_left_out() {
        let mut csv = String::from("id,given_name,surname,dob\n");
        for i in 0..40 {
            csv.push_str(&format!("{i},Name{},Surname{},1980-01-01\n", i % 7, i % 5));
        }
        let r = store(&csv);
        let mode = crate::link::dedupe_mode(&r, 0).unwrap();
        // 40 records with one date of birth: `dob` alone makes 780 comparisons.
        let tight = choose(&r, &mode, Vec::new(), &[], 1.0, 0).unwrap();
        let dob = |c: &BlockingChoice| {
            c.considered
                .iter()
                .find(|c| c.rule.to_string() == "dob")
                .map(|c| (c.comparisons, c.verdict))
        };
        assert_eq!(dob(&tight), Some((780, Verdict::OverBudget)));
        let loose = choose(&r, &mode, Vec::new(), &[], 100.0, 0).unwrap();
        assert_eq!(dob(&loose), Some((780, Verdict::Added)));
        let total: u64 = loose
            .considered
            .iter()
            .filter(|c| c.verdict == Verdict::Added)
            .map(|c| c.comparisons)
            .sum();
        assert!(total <= loose.budget);
        assert!(tight.to_string().contains("over budget"));
    }
}
