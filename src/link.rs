//! The pipeline: link two sources, or deduplicate one.

use std::fmt;

use rayon::prelude::*;

use crate::Error;
use crate::block::{Blocker, BlockingRule, Mode, Pair};
use crate::cluster::Clusters;
use crate::record::Records;
use crate::rules::{Ladder, MatchRule};

/// What was decided about a linked pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Decision {
    /// The records are the same person.
    Match,
    /// The pair satisfies a rule, but one of its records satisfies the same rule with
    /// another record too: it needs a person to decide, and is not linked.
    Ambiguous,
}

impl Decision {
    /// `match` or `ambiguous`, as written in the pairs file.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Match => "match",
            Decision::Ambiguous => "ambiguous",
        }
    }
}

/// One output pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    /// The rows. In a link, left is from the left source; in a dedupe, the record with the
    /// smaller id is on the left.
    pub pair: Pair,
    /// The index of the rule that made it.
    pub rule: u16,
    /// The decision.
    pub decision: Decision,
}

/// The result of a run.
#[derive(Clone)]
pub struct LinkResult {
    /// The pairs, ordered by left id then right id.
    pub links: Vec<Link>,
    /// The rules, by index.
    pub rules: Vec<MatchRule>,
    /// The blocking rules used, one per distinct match-rule blocking rule.
    pub blocking: Vec<BlockingRule>,
    /// Comparisons each blocking rule generates on its own.
    pub comparisons_per_blocking_rule: Vec<u64>,
    /// Candidate pairs compared (each once).
    pub candidates: u64,
}

impl fmt::Debug for LinkResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkResult")
            .field("links", &self.links.len())
            .field("candidates", &self.candidates)
            .finish_non_exhaustive()
    }
}

impl LinkResult {
    /// The matched pairs only.
    pub fn matches(&self) -> impl Iterator<Item = &Link> {
        self.links.iter().filter(|l| l.decision == Decision::Match)
    }

    /// Clusters every row of `records` into people by the matched pairs.
    pub fn clusters(&self, records: &Records) -> Clusters {
        let links: Vec<(Pair, u16)> = self.matches().map(|l| (l.pair, l.rule)).collect();
        Clusters::new(records, &links)
    }

    /// Per rule: (matches, ambiguous pairs).
    pub fn counts_per_rule(&self) -> Vec<(u64, u64)> {
        let mut out = vec![(0, 0); self.rules.len()];
        for l in &self.links {
            let e = &mut out[l.rule as usize];
            match l.decision {
                Decision::Match => e.0 += 1,
                Decision::Ambiguous => e.1 += 1,
            }
        }
        out
    }
}

/// Deterministic linkage with a ladder of rules.
///
/// # Example
///
/// ```
/// # fn main() -> Result<(), carematch::Error> {
/// let gp = "rec_id,nhs_number,given_name,surname,dob\nG1,943 476 5919,Ann,Smith,1980-02-01\n";
/// let hosp = "id,nhs_no,forename,surname,dob\nH1,9434765919,ANN,SMITH,01/02/1980\n";
/// let mut b = carematch::RecordsBuilder::new();
/// b.add_reader("gp.csv", gp.as_bytes())?.add_reader("hospital.csv", hosp.as_bytes())?;
/// let (records, _quality) = b.build()?;
/// let result = carematch::Linker::new().build()?.link(&records, 0, 1)?;
/// let link = result.matches().next().unwrap();
/// assert_eq!(records.id(link.pair.right), "H1");
/// assert_eq!(result.rules[link.rule as usize].name(), "nhs-dob");
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Linker {
    rules: Vec<MatchRule>,
    chunk: usize,
}

/// Builds a [`Linker`].
#[derive(Clone, Debug)]
pub struct LinkerBuilder {
    rules: Vec<MatchRule>,
    chunk: usize,
}

impl Linker {
    /// A builder with the default rules ([`MatchRule::defaults`]).
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> LinkerBuilder {
        LinkerBuilder {
            rules: MatchRule::defaults(),
            chunk: 1 << 20,
        }
    }
}

impl LinkerBuilder {
    /// The ladder of rules, tried in order. Default: [`MatchRule::defaults`].
    pub fn rules(&mut self, rules: Vec<MatchRule>) -> &mut Self {
        self.rules = rules;
        self
    }

    /// How many candidate pairs are held in memory at once. Default: 1,048,576.
    pub fn chunk_size(&mut self, pairs: usize) -> &mut Self {
        self.chunk = pairs.max(1);
        self
    }

    /// The linker.
    ///
    /// # Errors
    ///
    /// A config error when there are no rules or more than 65,535.
    pub fn build(&self) -> Result<Linker, Error> {
        if self.rules.is_empty() || self.rules.len() > usize::from(u16::MAX) {
            return Err(crate::block::config_err(
                "the rule ladder needs between 1 and 65535 rules".into(),
            ));
        }
        Ok(Linker {
            rules: self.rules.clone(),
            chunk: self.chunk,
        })
    }
}

impl Linker {
    /// The rules.
    pub fn rules(&self) -> &[MatchRule] {
        &self.rules
    }

    /// The blocking rules that produce every pair the ladder can match: each rule's plain
    /// keys, leaving out a rule whose keys include all of another's (its pairs are a subset).
    pub fn blocking_rules(&self) -> Vec<BlockingRule> {
        let all: Vec<BlockingRule> = self
            .rules
            .iter()
            .filter_map(MatchRule::blocking_rule)
            .collect();
        let covers =
            |a: &BlockingRule, b: &BlockingRule| b.keys().iter().all(|k| a.keys().contains(k));
        let mut out: Vec<BlockingRule> = Vec::new();
        for (i, r) in all.iter().enumerate() {
            let redundant = all.iter().enumerate().any(|(j, o)| {
                // `o` produces every pair `r` does; keep the first of two equal rules.
                j != i && covers(r, o) && (!covers(o, r) || j < i)
            });
            if !redundant {
                out.push(r.clone());
            }
        }
        out
    }

    /// Blocks `records` for `mode`, so that the comparison counts can be shown before running.
    ///
    /// # Errors
    ///
    /// A config error when a rule names a column the input does not have.
    pub fn blocker(&self, records: &Records, mode: &Mode) -> Result<Blocker, Error> {
        Blocker::new(records, &self.blocking_rules(), mode)
    }

    /// Links source `left` with source `right` (indexes into `records.sources()`).
    ///
    /// # Errors
    ///
    /// A usage error for a bad source index; a config error when a rule names a column the
    /// input does not have.
    pub fn link(&self, records: &Records, left: usize, right: usize) -> Result<LinkResult, Error> {
        let mode = link_mode(records, left, right)?;
        let blocker = self.blocker(records, &mode)?;
        self.run(records, &blocker, &mode)
    }

    /// Finds the records of source `source` that belong to the same person.
    ///
    /// # Errors
    ///
    /// As [`Linker::link`].
    pub fn dedupe(&self, records: &Records, source: usize) -> Result<LinkResult, Error> {
        let mode = dedupe_mode(records, source)?;
        let blocker = self.blocker(records, &mode)?;
        self.run(records, &blocker, &mode)
    }

    /// Runs the ladder over the pairs of a prepared `blocker`.
    ///
    /// # Errors
    ///
    /// A config error when a rule names a column the input does not have.
    pub fn run(
        &self,
        records: &Records,
        blocker: &Blocker,
        mode: &Mode,
    ) -> Result<LinkResult, Error> {
        let ladder = Ladder::new(records, &self.rules)?;
        let mut found: Vec<(Pair, u16)> = Vec::new();
        let mut candidates = 0u64;
        for chunk in blocker.pairs(self.chunk) {
            candidates += chunk.len() as u64;
            let hits: Vec<(Pair, u16)> = chunk
                .par_iter()
                .filter_map(|&p| ladder.first_match(p).map(|r| (p, r)))
                .collect();
            found.extend(hits);
        }
        let mut links = match mode {
            Mode::Link { .. } => decide_one_to_one(&records.nhs, &found),
            Mode::Dedupe { .. } => found
                .iter()
                .map(|&(pair, rule)| Link {
                    pair: oriented(records, pair),
                    rule,
                    decision: Decision::Match,
                })
                .collect(),
        };
        links.par_sort_unstable_by_key(|l| (records.rank(l.pair.left), records.rank(l.pair.right)));
        Ok(LinkResult {
            links,
            rules: self.rules.clone(),
            blocking: blocker.rules().to_vec(),
            comparisons_per_blocking_rule: blocker.comparisons_per_rule(),
            candidates,
        })
    }
}

/// The blocking mode that links source `left` with source `right`.
///
/// # Errors
///
/// A usage error for a bad or repeated source index.
pub fn link_mode(records: &Records, left: usize, right: usize) -> Result<Mode, Error> {
    let s = records.sources();
    match (s.get(left), s.get(right)) {
        (Some(l), Some(r)) if left != right => Ok(Mode::Link {
            left: l.rows.clone(),
            right: r.rows.clone(),
        }),
        _ => Err(Error::new(
            crate::ErrorKind::Usage,
            format!(
                "link needs two different sources; the store has {}",
                s.len()
            ),
        )),
    }
}

/// The blocking mode that deduplicates source `source`.
///
/// # Errors
///
/// A usage error for a bad source index.
pub fn dedupe_mode(records: &Records, source: usize) -> Result<Mode, Error> {
    match records.sources().get(source) {
        Some(s) => Ok(Mode::Dedupe {
            rows: s.rows.clone(),
        }),
        None => Err(Error::new(
            crate::ErrorKind::Usage,
            format!(
                "no source {source}; the store has {}",
                records.sources().len()
            ),
        )),
    }
}

/// In a dedupe, the record with the smaller id goes on the left, whatever the row order.
fn oriented(records: &Records, p: Pair) -> Pair {
    if records.rank(p.left) <= records.rank(p.right) {
        p
    } else {
        Pair {
            left: p.right,
            right: p.left,
        }
    }
}

/// Link mode: a pair matches when its rule is the best rule of both its records and neither
/// record has another candidate at that rule, unless all of a record's candidates at its best
/// rule carry one valid NHS number (duplicates of one patient in the other source: each is
/// linked). Otherwise every pair at that best rule is ambiguous. Pairs below a record's best
/// rule are superseded and dropped.
fn decide_one_to_one(nhs: &[u64], found: &[(Pair, u16)]) -> Vec<Link> {
    /// Per row: best rule, candidates at it, and whether they all share one valid NHS number.
    #[derive(Clone, Copy)]
    struct Best {
        rule: u16,
        count: u32,
        nhs: u64,
        one_patient: bool,
    }
    let mut best = vec![
        Best {
            rule: u16::MAX,
            count: 0,
            nhs: 0,
            one_patient: true,
        };
        nhs.len()
    ];
    for &(p, r) in found {
        for (row, other) in [(p.left, p.right), (p.right, p.left)] {
            let b = &mut best[row as usize];
            let n = nhs[other as usize];
            if r < b.rule {
                *b = Best {
                    rule: r,
                    count: 1,
                    nhs: n,
                    one_patient: n != 0,
                };
            } else if r == b.rule {
                b.count += 1;
                b.one_patient &= n != 0 && n == b.nhs;
            }
        }
    }
    let clear = |b: Best| b.count == 1 || b.one_patient;
    found
        .iter()
        .filter_map(|&(pair, rule)| {
            let (bl, br) = (best[pair.left as usize], best[pair.right as usize]);
            if bl.rule != rule || br.rule != rule {
                return None;
            }
            let decision = if clear(bl) && clear(br) {
                Decision::Match
            } else {
                Decision::Ambiguous
            };
            Some(Link {
                pair,
                rule,
                decision,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(l: u32, r: u32) -> Pair {
        Pair { left: l, right: r }
    }

    #[test]
    fn one_record_matching_two_at_its_best_rule_is_ambiguous() {
        // Left row 0 matches right rows 1 and 2 at rule 0: neither is linked.
        let links = decide_one_to_one(&[0, 0, 0], &[(p(0, 1), 0), (p(0, 2), 0)]);
        assert_eq!(links.len(), 2);
        assert!(links.iter().all(|l| l.decision == Decision::Ambiguous));
    }

    #[test]
    fn a_better_rule_elsewhere_supersedes_a_weaker_pair() {
        // Row 0 matches 2 at rule 0, and 1 at rule 3: only (0, 2) is linked.
        let links = decide_one_to_one(&[0; 3], &[(p(0, 1), 3), (p(0, 2), 0)]);
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].pair, p(0, 2));
        assert_eq!(links[0].decision, Decision::Match);
    }

    #[test]
    fn two_candidates_with_one_nhs_number_are_one_patient_and_both_link() {
        // Right rows 1 and 2 are duplicates of one patient (same valid NHS number).
        let nhs = [9434765919, 9434765919, 9434765919];
        let links = decide_one_to_one(&nhs, &[(p(0, 1), 0), (p(0, 2), 0)]);
        assert!(links.iter().all(|l| l.decision == Decision::Match));
        // Different NHS numbers (or none) keep it ambiguous.
        let nhs = [0, 9434765919, 4010232137];
        let links = decide_one_to_one(&nhs, &[(p(0, 1), 3), (p(0, 2), 3)]);
        assert!(links.iter().all(|l| l.decision == Decision::Ambiguous));
    }

    #[test]
    fn blocking_leaves_out_rules_whose_pairs_another_rule_produces() {
        let rules = vec![
            MatchRule::new("a", "nhs_number & dob").unwrap(),
            MatchRule::new("b", "nhs_number & dob:swap").unwrap(),
            MatchRule::new("c", "surname & dob").unwrap(),
            MatchRule::new("d", "dob & surname & sex").unwrap(),
        ];
        let l = Linker::new().rules(rules).build().unwrap();
        let b: Vec<String> = l.blocking_rules().iter().map(ToString::to_string).collect();
        assert_eq!(b, ["nhs_number", "surname & dob"]);
    }

    #[test]
    fn unique_best_pairs_match() {
        let links = decide_one_to_one(&[0; 4], &[(p(0, 2), 1), (p(1, 3), 0)]);
        assert!(links.iter().all(|l| l.decision == Decision::Match));
        assert_eq!(links.len(), 2);
    }
}
