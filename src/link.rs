//! The pipeline: link two sources, or deduplicate one.

use std::fmt;

use rayon::prelude::*;

use crate::Error;
use rustc_hash::FxHashMap;

use crate::block::{Blocker, BlockingRule, Mode, Pair};
use crate::cluster::Clusters;
use crate::estimate::ScoreHistogram;
use crate::model::{MatchWeight, Model, Probability, Scorer, Thresholds};
use crate::record::Records;
use crate::rules::{Ladder, MatchRule};

/// What was decided about a pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Decision {
    /// The records are the same person.
    Match,
    /// The pair needs a person to decide: its probability is between the review and match
    /// thresholds, or a field vetoes an automatic match (given names or dates of birth
    /// disagree outright), or one-to-one assignment gave its record to a better pair.
    Review,
    /// The pair would match, but one of its records has another candidate almost as good
    /// (within the ambiguity margin, or at the same deterministic rule): not linked.
    Ambiguous,
}

impl Decision {
    /// `match`, `review` or `ambiguous`, as written in the pairs file.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Match => "match",
            Decision::Review => "review",
            Decision::Ambiguous => "ambiguous",
        }
    }

    /// A decision from the pairs file's text ([`Decision::as_str`]); `None` for any other.
    pub fn parse(text: &str) -> Option<Decision> {
        [Decision::Match, Decision::Review, Decision::Ambiguous]
            .into_iter()
            .find(|d| d.as_str() == text)
    }
}

/// One output pair.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Link {
    /// The rows. In a link, left is from the left source; in a dedupe, the record with the
    /// smaller id is on the left.
    pub pair: Pair,
    /// The index of the deterministic rule that matched it, if one did.
    pub rule: Option<u16>,
    /// The model's weight, when there is a model.
    pub weight: Option<MatchWeight>,
    /// The decision.
    pub decision: Decision,
    /// Why the pair is not an automatic match (`None` for a match, `reviewed:match` for a
    /// match a reviewer made): see [`Reason`].
    pub reason: Option<Reason>,
}

/// Why a written pair is not an automatic match: the pairs file's `reason` column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// At or above the match threshold, but a veto holds (`veto:<field>`, or
    /// `veto:newborn_placeholder`).
    Veto(crate::model::Veto),
    /// Between the review and the match thresholds (`below_threshold`).
    BelowThreshold,
    /// One record's two best matches are within the ambiguity margin, or a rule met two
    /// records that are not one patient (`ambiguous`).
    Ambiguous,
    /// With `--one-to-one`, a record of the pair kept a better match (`one_to_one`).
    OneToOne,
    /// A reviewer decided the pair is a match (`reviewed:match`): linked whatever the
    /// scores say.
    ReviewedMatch,
    /// A reviewer could not decide (`reviewed:unsure`): kept for review.
    ReviewedUnsure,
}

impl Link {
    /// The match probability: the model's when there is one, else 1 for a rule match.
    pub fn probability(&self) -> Option<Probability> {
        match (self.weight, self.rule) {
            (Some(w), _) => Some(w.probability()),
            (None, Some(_)) => Some(Probability::new(1.0)),
            _ => None,
        }
    }
}

/// The result of a run.
#[derive(Clone)]
pub struct LinkResult {
    /// The pairs at or above the review threshold and every rule match, ordered by left id
    /// then right id.
    pub links: Vec<Link>,
    /// The deterministic rules, by index.
    pub rules: Vec<MatchRule>,
    /// Candidate pairs the model scored (each once), or the rules compared when there is no
    /// model.
    pub candidates: u64,
    /// Candidate pairs the deterministic rules compared (each once).
    pub rule_candidates: u64,
    /// The fields of the model's comparisons, by index (empty without a model): what a
    /// [`Reason::Veto`] names.
    pub comparisons: Vec<String>,
    /// Every compared pair's model weight and the model's count of true pairs: what the
    /// error estimates without labels are made from (`None` without a model).
    pub scores: Option<crate::estimate::Scores>,
    /// Per blocking rule, in the order of [`Plan::pair_counts`], the pairs it made that no
    /// earlier rule of its pass had made: the running sum is the pass's cumulative count.
    pub new_pairs_per_rule: Vec<u64>,
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
    /// The `reason` column's text for `link`: empty for a match, else `veto:<field>`,
    /// `veto:newborn_placeholder`, `below_threshold`, `ambiguous` or `one_to_one`.
    pub fn reason_text(&self, link: &Link) -> std::borrow::Cow<'static, str> {
        reason_text(link.reason, |c| self.comparisons.get(c).map(String::as_str))
    }

    /// The matched pairs only.
    pub fn matches(&self) -> impl Iterator<Item = &Link> {
        self.links.iter().filter(|l| l.decision == Decision::Match)
    }

    /// Clusters every row of `records` into people by the matched pairs: rule matches first
    /// (in ladder order), then model matches.
    pub fn clusters(&self, records: &Records) -> Clusters {
        let n_rules = self.rules.len() as u16;
        let links: Vec<(Pair, u16)> = self
            .matches()
            .map(|l| (l.pair, l.rule.unwrap_or(n_rules)))
            .collect();
        Clusters::new(records, &links)
    }

    /// Per rule: (matches, ambiguous pairs); then one more entry for the model's pairs.
    pub fn counts_per_rule(&self) -> Vec<(u64, u64)> {
        let mut out = vec![(0, 0); self.rules.len() + 1];
        for l in &self.links {
            let e = &mut out[l.rule.map_or(self.rules.len(), usize::from)];
            match l.decision {
                Decision::Match => e.0 += 1,
                Decision::Ambiguous => e.1 += 1,
                Decision::Review => {}
            }
        }
        out
    }

    /// The name of the deterministic rule that linked `link`, `None` when the model did.
    pub fn rule_name(&self, link: &Link) -> Option<&str> {
        link.rule
            .and_then(|r| self.rules.get(usize::from(r)))
            .map(MatchRule::name)
    }

    /// How many pairs got each decision.
    pub fn decision_counts(&self) -> DecisionCounts {
        let mut c = DecisionCounts::default();
        for l in &self.links {
            match l.decision {
                Decision::Match => c.matched += 1,
                Decision::Review => c.review += 1,
                Decision::Ambiguous => c.ambiguous += 1,
            }
        }
        c
    }
}

/// How many pairs of a result got each decision ([`LinkResult::decision_counts`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecisionCounts {
    /// Linked automatically.
    pub matched: u64,
    /// For clerical review.
    pub review: u64,
    /// Ambiguous: more than one candidate as good, not linked.
    pub ambiguous: u64,
}

/// Record linkage: a ladder of deterministic rules, then (when it has one) a Fellegi-Sunter
/// model for the rest.
///
/// # Example
///
/// ```
/// # fn main() -> Result<(), carematch::Error> {
/// let gp = "rec_id,nhs_number,given_name,surname,dob\nG1,943 476 5919,Ann,Smith,1980-02-01\n";
/// let hosp = "id,nhs_no,forename,surname,dob\nH1,9434765919,ANN,SMITH,01/02/1980\n";
/// let mut b = carematch::Records::builder();
/// b.add_reader("gp.csv", gp.as_bytes())?.add_reader("hospital.csv", hosp.as_bytes())?;
/// let (records, _quality) = b.build()?;
/// let result = carematch::Linker::builder().build()?.link(&records, 0, 1)?;
/// let link = result.matches().next().unwrap();
/// assert_eq!(records.id(link.pair.right), "H1");
/// assert_eq!(result.rules[link.rule.unwrap() as usize].name(), "nhs-dob");
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Linker {
    rules: Vec<MatchRule>,
    model: Option<Model>,
    one_to_one: bool,
    chunk: usize,
    progress: Option<crate::progress::Observer>,
    memory: Option<crate::memory::Budget>,
}

/// Candidate pairs made and compared at a time by default (the pool compares one chunk
/// while the next is made). With chunks of 65,536 the 14M-person link took 355 s against
/// 343 s with chunks of this size and no overlap (one run each, on a busy machine), so the
/// size measured at 14M is kept.
const CHUNK: usize = 1 << 20;

/// Builds a [`Linker`].
#[derive(Clone, Debug)]
pub struct LinkerBuilder {
    rules: Vec<MatchRule>,
    model: Option<Model>,
    one_to_one: bool,
    chunk: usize,
    progress: Option<crate::progress::Observer>,
    memory: Option<crate::memory::Budget>,
}

impl Linker {
    /// A builder with the default rules ([`MatchRule::defaults`]) and no model.
    pub fn builder() -> LinkerBuilder {
        LinkerBuilder {
            rules: MatchRule::defaults(),
            model: None,
            one_to_one: false,
            chunk: CHUNK,
            progress: None,
            memory: crate::memory::Budget::detect(),
        }
    }
}

impl LinkerBuilder {
    /// The ladder of rules, tried in order; may be empty when there is a model. Default:
    /// [`MatchRule::defaults`].
    pub fn rules(&mut self, rules: Vec<MatchRule>) -> &mut Self {
        self.rules = rules;
        self
    }

    /// The model that scores the pairs the rules do not match. Default: none (rules only).
    pub fn model(&mut self, model: Option<Model>) -> &mut Self {
        self.model = model;
        self
    }

    /// In a link, give each record at most one match, best weight first; the rest go to
    /// review. Default: false.
    pub fn one_to_one(&mut self, yes: bool) -> &mut Self {
        self.one_to_one = yes;
        self
    }

    /// How many candidate pairs are made at a time, at most (a chunk passes this many
    /// pairs of the blocking's order, those an earlier rule made included; two chunks are
    /// held at once: one being compared, the next being made). Default: 1,048,576.
    pub fn chunk_size(&mut self, pairs: usize) -> &mut Self {
        self.chunk = pairs.max(1);
        self
    }

    /// What the run may hold: it stops with an [`crate::ErrorKind::Memory`]
    /// error before it holds more (checked before the plan is made and after each chunk of
    /// pairs). Default: [`Budget::detect`](crate::memory::Budget::detect), what the machine
    /// or container has free when the builder is made; `None` for no check.
    pub fn memory(&mut self, budget: Option<crate::memory::Budget>) -> &mut Self {
        self.memory = budget;
        self
    }

    /// Reports the comparing of candidate pairs to `observer` (step `comparing`, in
    /// [`crate::progress::Unit::Pairs`], out of the plan's comparisons per rule summed).
    /// Default: none.
    pub fn progress(&mut self, observer: Option<crate::progress::Observer>) -> &mut Self {
        self.progress = observer;
        self
    }

    /// The linker.
    ///
    /// # Errors
    ///
    /// A config error when there are more than 65,535 rules, or neither rules nor a model.
    pub fn build(&self) -> Result<Linker, Error> {
        if self.rules.len() >= usize::from(u16::MAX) {
            return Err(crate::error::config_err(
                "the rule ladder takes at most 65534 rules".into(),
            ));
        }
        if self.rules.is_empty() && self.model.is_none() {
            return Err(crate::error::config_err(
                "a linker needs deterministic rules, a model, or both".into(),
            ));
        }
        Ok(Linker {
            rules: self.rules.clone(),
            model: self.model.clone(),
            one_to_one: self.one_to_one,
            chunk: self.chunk,
            progress: self.progress.clone(),
            memory: self.memory,
        })
    }
}

/// Progress of a run's comparing: the pairs examined by the blockers done, plus the current
/// one's, out of `total`.
struct Meter<'a> {
    observer: Option<&'a crate::progress::Observer>,
    total: u64,
    before: std::cell::Cell<u64>,
    /// Per rule of each blocker run so far, the new pairs it made.
    produced: std::cell::RefCell<Vec<u64>>,
}

impl Meter<'_> {
    /// Reports `examined` pairs of the current blocker.
    fn at(&self, examined: u64) {
        crate::progress::report(
            self.observer,
            &crate::progress::Step {
                what: "comparing",
                unit: crate::progress::Unit::Pairs,
                done: self.before.get() + examined,
                total: Some(self.total),
            },
        );
    }

    /// Reports the end of the current blocker's pairs, and keeps what each rule made.
    fn finish_blocker(&self, chunks: &crate::block::PairChunks<'_>) {
        self.at(chunks.examined());
        self.before.set(self.before.get() + chunks.examined());
        self.produced
            .borrow_mut()
            .extend_from_slice(chunks.produced_per_rule());
    }
}

/// The blocking of a run, made before it runs so that its cost can be shown.
pub struct Plan {
    rules: Option<Blocker>,
    model: Option<Blocker>,
}

impl Plan {
    /// Per blocking rule of each pass, the pairs it generates on its own.
    pub fn pair_counts(&self) -> Vec<RulePairs> {
        let mut out = Vec::new();
        for (pass, b) in [("rules", &self.rules), ("model", &self.model)] {
            if let Some(b) = b {
                for (r, n) in b.rules().iter().zip(b.comparisons_per_rule()) {
                    out.push(RulePairs {
                        pass,
                        rule: r.clone(),
                        pairs: n,
                    });
                }
            }
        }
        out
    }
}

/// The pairs one blocking rule of a [`Plan`] generates on its own, counted before the run
/// (a pair an earlier rule also makes is counted again).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RulePairs {
    /// The pass the rule serves: `"rules"` (the deterministic ladder) or `"model"`.
    pub pass: &'static str,
    /// The blocking rule.
    pub rule: BlockingRule,
    /// The pairs it generates.
    pub pairs: u64,
}

impl Linker {
    /// The rules.
    pub fn rules(&self) -> &[MatchRule] {
        &self.rules
    }

    /// The model, if any.
    pub fn model(&self) -> Option<&Model> {
        self.model.as_ref()
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
    pub fn plan(&self, records: &Records, mode: &Mode) -> Result<Plan, Error> {
        let ladder = self.blocking_rules();
        let n_rules = ladder.len() + self.model.as_ref().map_or(0, |m| m.blocking().len());
        // Each blocking rule keeps about two integers per record.
        self.check_memory(8 * records.len() as u64 * n_rules as u64, || {
            format!(
                "making the blocking plan ({} records, {n_rules} blocking rules)",
                records.len()
            )
        })?;
        let rules = if self.rules.is_empty() {
            None
        } else {
            Some(Blocker::new(records, &ladder, mode)?)
        };
        let model = match &self.model {
            Some(m) => {
                m.check_fits(records)?;
                Some(Blocker::new(records, m.blocking(), mode)?)
            }
            None => None,
        };
        // The blockers hold the keys they use; the keys of rules no blocker uses (those
        // training tried and left out) are not needed again.
        records.rule_key_cache().clear();
        Ok(Plan { rules, model })
    }

    /// Links source `left` with source `right` (indexes into `records.sources()`).
    ///
    /// # Errors
    ///
    /// A usage error for a bad source index; a config error when a rule or comparison names
    /// a column the input does not have.
    pub fn link(&self, records: &Records, left: usize, right: usize) -> Result<LinkResult, Error> {
        let mode = link_mode(records, left, right)?;
        let plan = self.plan(records, &mode)?;
        self.run(records, &plan, &mode)
    }

    /// Finds the records of source `source` that belong to the same person.
    ///
    /// # Errors
    ///
    /// As [`Linker::link`].
    pub fn dedupe(&self, records: &Records, source: usize) -> Result<LinkResult, Error> {
        let mode = dedupe_mode(records, source)?;
        let plan = self.plan(records, &mode)?;
        self.run(records, &plan, &mode)
    }

    /// [`crate::memory::Budget::check`] against the linker's budget, if it has one.
    fn check_memory(&self, more: u64, doing: impl FnOnce() -> String) -> Result<(), Error> {
        match &self.memory {
            Some(b) => b.check(more, doing),
            None => Ok(()),
        }
    }

    /// Runs the ladder and the model over the pairs of a prepared `plan`.
    ///
    /// # Errors
    ///
    /// A config error when a rule or comparison names a column the input does not have.
    pub fn run(&self, records: &Records, plan: &Plan, mode: &Mode) -> Result<LinkResult, Error> {
        // Pass 1: the deterministic ladder.
        let meter = Meter {
            observer: self.progress.as_ref(),
            total: [&plan.rules, &plan.model]
                .into_iter()
                .flatten()
                .flat_map(Blocker::comparisons_per_rule)
                .sum(),
            before: std::cell::Cell::new(0),
            produced: std::cell::RefCell::new(Vec::new()),
        };
        let (found, rule_candidates) = self.ladder_pairs(records, plan, &meter)?;
        let dedupe = matches!(mode, Mode::Dedupe { .. });
        // One key per row that is equal exactly when two rows carry one valid NHS number
        // (or, encoded, one NHS token); the rule and model decisions both use it.
        let nhs = records.nhs_keys();
        let rule_decisions: Vec<Option<Decision>> = if dedupe {
            found.iter().map(|_| Some(Decision::Match)).collect()
        } else {
            decide_one_to_one(&nhs, &found)
        };
        // Pass 2: the model, over its own blocking; rule pairs are scored too.
        let (cands, candidates, scores) = if let (Some(model), Some(blocker)) =
            (&self.model, &plan.model)
        {
            let scorer = Scorer::new(model, records)?;
            let review_w = odds_bits(model.thresholds().review_probability);
            let (mut cands, candidates, histogram) =
                self.model_candidates(&scorer, blocker, review_w, &found, &rule_decisions, &meter)?;
            decide_by_model(
                records,
                &nhs,
                &scorer,
                &mut cands,
                model.thresholds(),
                dedupe,
                self.one_to_one,
            );
            let scores = crate::estimate::Scores::new(
                histogram,
                model.lambda() * mode.all_pairs(),
                model.blocking_recall(),
                |v| model.match_share(v),
                cands.iter().filter_map(|c| {
                    Some(crate::estimate::Written {
                        pair: c.pair,
                        vector: c.vector,
                        weight: c.weight?,
                        linked: c.decision? == Decision::Match,
                    })
                }),
            );
            (cands, candidates, Some(scores))
        } else {
            let cands = found
                .iter()
                .zip(&rule_decisions)
                .map(|(&(pair, rule), d)| Candidate {
                    pair,
                    rule: d.map(|_| rule),
                    decision: *d,
                    weight: None,
                    veto: None,
                    demoted: false,
                    vector: 0,
                })
                .collect();
            (cands, 0, None)
        };
        // Scoring is done: the rows' features (80 bytes a row) go with the scorer.
        records.release_features();
        self.check_memory((cands.len() * std::mem::size_of::<Link>()) as u64, || {
            format!("linking: writing out {} pairs kept", cands.len())
        })?;
        let links = self.links(records, cands, dedupe);
        Ok(LinkResult {
            links,
            rules: self.rules.clone(),
            candidates: if plan.model.is_none() {
                rule_candidates
            } else {
                candidates
            },
            rule_candidates,
            comparisons: self.model.as_ref().map_or_else(Vec::new, |m| {
                m.comparisons().iter().map(|c| c.field.clone()).collect()
            }),
            scores,
            new_pairs_per_rule: meter.produced.take(),
        })
    }

    /// The pairs of the plan's rule blocking that a deterministic rule links, with the first
    /// rule each satisfies, and how many pairs were tried.
    fn ladder_pairs(
        &self,
        records: &Records,
        plan: &Plan,
        meter: &Meter<'_>,
    ) -> Result<(Vec<(Pair, u16)>, u64), Error> {
        let mut found: Vec<(Pair, u16)> = Vec::new();
        let mut tried = 0u64;
        if let Some(blocker) = &plan.rules {
            let ladder = Ladder::new(records, &self.rules)?;
            let mut chunks = blocker.pairs(self.chunk);
            chunks.pipelined(
                |chunk| -> Vec<(Pair, u16)> {
                    chunk
                        .par_iter()
                        .filter_map(|&p| ladder.first_match(p).map(|r| (p, r)))
                        .collect()
                },
                |hits, chunks, len| {
                    meter.at(chunks.examined());
                    tried += len as u64;
                    found.extend(hits);
                    self.check_memory(0, || {
                        format!(
                            "linking: {tried} candidate pairs tried by the deterministic rules, \
                             {} rule matches kept",
                            found.len()
                        )
                    })
                },
            )?;
            meter.finish_blocker(&chunks);
        }
        Ok((found, tried))
    }

    /// Every rule pair, scored, then every pair of the model's blocking that reaches the
    /// review weight `review_w` and is not a rule pair; how many model pairs were compared;
    /// and the histogram of every pair's weight (each pair once).
    fn model_candidates(
        &self,
        scorer: &Scorer<'_>,
        blocker: &Blocker,
        review_w: f64,
        found: &[(Pair, u16)],
        rule_decisions: &[Option<Decision>],
        meter: &Meter<'_>,
    ) -> Result<(Vec<Candidate>, u64, ScoreHistogram), Error> {
        let mut cands = rule_candidates(scorer, found, rule_decisions);
        let mut histogram = ScoreHistogram::new();
        let mut candidates = 0u64;
        let mut seen: FxHashMap<(u32, u32), usize> = FxHashMap::default();
        seen.reserve(found.len());
        for (i, c) in cands.iter().enumerate() {
            if let Some(w) = c.weight {
                histogram.add(Some(c.vector), w);
            }
            seen.insert((c.pair.left, c.pair.right), i);
        }
        let mut chunks = blocker.pairs(self.chunk);
        let seen = &seen;
        chunks.pipelined(
            |chunk| {
                // Rule pairs were scored above: each pair counts once in the histogram.
                chunk
                    .par_chunks(1 << 10)
                    .fold(
                        || (Vec::new(), ScoreHistogram::new(), Vec::new()),
                        |(mut hits, mut hist, mut todo), batch| {
                            todo.clear();
                            todo.extend(batch.iter().filter(|p| {
                                seen.is_empty() || !seen.contains_key(&(p.left, p.right))
                            }));
                            scorer.for_each_score(&todo, |p, v, w| {
                                hist.add(Some(v), w);
                                if w.bits() >= review_w {
                                    hits.push((p, v, w));
                                }
                            });
                            (hits, hist, todo)
                        },
                    )
                    .map(|(hits, hist, _)| (hits, hist))
                    .reduce(
                        || (Vec::new(), ScoreHistogram::new()),
                        |(mut a, ha), (b, hb)| {
                            a.extend(b);
                            (a, ha.merge(&hb))
                        },
                    )
            },
            |(hits, hist), chunks, len| {
                meter.at(chunks.examined());
                candidates += len as u64;
                histogram = std::mem::take(&mut histogram).merge(&hist);
                cands.extend(
                    hits.into_iter()
                        .map(|(pair, v, w)| model_candidate(scorer, pair, v, w)),
                );
                self.check_memory(0, || {
                    format!(
                        "linking: {candidates} candidate pairs scored, {} pairs kept",
                        cands.len()
                    )
                })
            },
        )?;
        meter.finish_blocker(&chunks);
        Ok((cands, candidates, histogram))
    }

    /// Decides the candidate pairs given, as [`Linker::run`] decides the pairs its blockers
    /// make: `ladder_pairs` are the pairs the ladder's blocking makes, `model_pairs` those of
    /// the model's (a pair may be in both; repeats are ignored). A distributed run that makes
    /// the pairs itself (Spark's joins on the blocking keys) calls this on every connected
    /// group of the pairs that decide each other, with a store of their records: the
    /// decisions are those of a whole run, because a pair's decision depends on no pair
    /// outside its group (see [`crate::kernel`]).
    ///
    /// # Errors
    ///
    /// A config error when the linker has no model, or a rule names a column the store lacks.
    pub(crate) fn decide_pairs(
        &self,
        records: &Records,
        scorer: &Scorer<'_>,
        ladder_pairs: &[Pair],
        model_pairs: &[Pair],
        dedupe: bool,
    ) -> Result<Vec<Link>, Error> {
        let model = self
            .model
            .as_ref()
            .ok_or_else(|| crate::error::config_err("deciding given pairs needs a model".into()))?;
        let sorted = |pairs: &[Pair]| {
            let mut v = pairs.to_vec();
            v.sort_unstable();
            v.dedup();
            v
        };
        let ladder = Ladder::new(records, &self.rules)?;
        let found: Vec<(Pair, u16)> = sorted(ladder_pairs)
            .into_iter()
            .filter_map(|p| ladder.first_match(p).map(|r| (p, r)))
            .collect();
        let nhs = records.nhs_keys();
        let rule_decisions: Vec<Option<Decision>> = if dedupe {
            found.iter().map(|_| Some(Decision::Match)).collect()
        } else {
            decide_one_to_one(&nhs, &found)
        };
        let review_w = odds_bits(model.thresholds().review_probability);
        let mut cands = rule_candidates(scorer, &found, &rule_decisions);
        let seen: rustc_hash::FxHashSet<Pair> = found.iter().map(|&(p, _)| p).collect();
        for p in sorted(model_pairs) {
            if seen.contains(&p) {
                continue;
            }
            let (v, w) = scorer.score(p);
            if w.bits() >= review_w {
                cands.push(model_candidate(scorer, p, v, w));
            }
        }
        decide_by_model(
            records,
            &nhs,
            scorer,
            &mut cands,
            model.thresholds(),
            dedupe,
            self.one_to_one,
        );
        Ok(self.links(records, cands, dedupe))
    }

    /// The decided candidates as links (dedupe pairs oriented), sorted by the rows' order.
    fn links(&self, records: &Records, cands: Vec<Candidate>, dedupe: bool) -> Vec<Link> {
        let match_w = self.model.as_ref().map_or(f64::INFINITY, |m| {
            odds_bits(m.thresholds().match_probability)
        });
        let mut links: Vec<Link> = cands
            .into_iter()
            .filter_map(|c| {
                let decision = c.decision?;
                let weight = c.weight.map(MatchWeight::bits);
                let reason = reason_for(decision, c.veto, weight, match_w, c.demoted);
                Some(Link {
                    pair: if dedupe {
                        oriented(records, c.pair)
                    } else {
                        c.pair
                    },
                    rule: c.rule,
                    weight: c.weight,
                    decision,
                    reason,
                })
            })
            .collect();
        links.par_sort_unstable_by_key(|l| (records.rank(l.pair.left), records.rank(l.pair.right)));
        links
    }
}

/// The reason of a decision: none for a match; for review, a veto when the weight reached
/// `match_w` (the veto is what held it), else below the threshold; `demoted` when
/// `--one-to-one` demoted it. Shared by the batch link and the index.
pub(crate) fn reason_for(
    decision: Decision,
    veto: Option<crate::model::Veto>,
    weight: Option<f64>,
    match_w: f64,
    demoted: bool,
) -> Option<Reason> {
    match decision {
        Decision::Match => None,
        Decision::Ambiguous => Some(Reason::Ambiguous),
        Decision::Review if demoted => Some(Reason::OneToOne),
        Decision::Review => match veto {
            Some(v) if weight.is_some_and(|w| w >= match_w) => Some(Reason::Veto(v)),
            _ => Some(Reason::BelowThreshold),
        },
    }
}

/// The text of `reason` (see [`LinkResult::reason_text`]); `field` names comparison `c`.
pub(crate) fn reason_text<'a>(
    reason: Option<Reason>,
    field: impl Fn(usize) -> Option<&'a str>,
) -> std::borrow::Cow<'static, str> {
    use crate::model::Veto;
    use std::borrow::Cow;
    match reason {
        None => Cow::Borrowed(""),
        Some(Reason::Veto(Veto::Comparison(c))) => {
            Cow::Owned(format!("veto:{}", field(usize::from(c)).unwrap_or("?")))
        }
        Some(Reason::Veto(Veto::Placeholder)) => Cow::Borrowed("veto:newborn_placeholder"),
        Some(Reason::Veto(Veto::Missing(c))) => Cow::Owned(format!(
            "veto:missing_{}",
            field(usize::from(c)).unwrap_or("?")
        )),
        Some(Reason::BelowThreshold) => Cow::Borrowed("below_threshold"),
        Some(Reason::Ambiguous) => Cow::Borrowed("ambiguous"),
        Some(Reason::OneToOne) => Cow::Borrowed("one_to_one"),
        Some(Reason::ReviewedMatch) => Cow::Borrowed("reviewed:match"),
        Some(Reason::ReviewedUnsure) => Cow::Borrowed("reviewed:unsure"),
    }
}

/// A pair on its way to a decision.
struct Candidate {
    pair: Pair,
    /// The rule that matched it, when its rule decision stands.
    rule: Option<u16>,
    /// The decision so far; `None` is a non-match (not written).
    decision: Option<Decision>,
    weight: Option<MatchWeight>,
    /// What vetoes its automatic match, if anything.
    veto: Option<crate::model::Veto>,
    /// Demoted to review by `--one-to-one`.
    demoted: bool,
    /// The comparison vector (0 when not scored).
    vector: u64,
}

/// The pairs the ladder matched (`found`, with their rule decisions), scored: the rule pairs
/// of a run, in `found`'s order.
fn rule_candidates(
    scorer: &Scorer<'_>,
    found: &[(Pair, u16)],
    rule_decisions: &[Option<Decision>],
) -> Vec<Candidate> {
    // Scored a batch at a time, as the model's pairs are (`Scorer::for_each_score`).
    found
        .par_chunks(1 << 10)
        .zip(rule_decisions.par_chunks(1 << 10))
        .flat_map_iter(|(found, decisions)| {
            let pairs: Vec<Pair> = found.iter().map(|&(p, _)| p).collect();
            let mut out: Vec<Candidate> = Vec::with_capacity(pairs.len());
            scorer.for_each_score(&pairs, |pair, v, w| {
                // In order: the k-th pair scored is the k-th found.
                let (rule, d) = (found[out.len()].1, &decisions[out.len()]);
                out.push(Candidate {
                    pair,
                    rule: d.map(|_| rule),
                    decision: *d,
                    weight: Some(w),
                    veto: scorer.veto(v, pair),
                    demoted: false,
                    vector: v,
                });
            });
            out
        })
        .collect()
}

/// A pair of the model's blocking, scored `(v, w)`, not yet decided.
fn model_candidate(scorer: &Scorer<'_>, pair: Pair, v: u64, w: MatchWeight) -> Candidate {
    Candidate {
        pair,
        rule: None,
        decision: None,
        weight: Some(w),
        veto: scorer.veto(v, pair),
        demoted: false,
        vector: v,
    }
}

/// log2(p / (1 − p)): the weight at which the probability is `p`.
pub(crate) fn odds_bits(p: f64) -> f64 {
    (p / (1.0 - p)).log2()
}

/// The model's decision on a pair of weight `w` (bits): match at or above `match_w` unless
/// vetoed, review from `review_w`, else none (not written).
pub(crate) fn model_decision(
    w: f64,
    vetoed: bool,
    match_w: f64,
    review_w: f64,
) -> Option<Decision> {
    if w >= match_w && !vetoed {
        Some(Decision::Match)
    } else if w >= review_w {
        Some(Decision::Review)
    } else {
        None
    }
}

/// Decides the pairs no rule decided: match at or above the match threshold unless vetoed,
/// review from the review threshold. Then, in a link, a record whose two best matches are
/// within the ambiguity margin (and do not carry one valid NHS number) makes both
/// ambiguous; and with `one_to_one`, each record keeps only its best match.
fn decide_by_model(
    records: &Records,
    nhs: &[u64],
    scorer: &Scorer<'_>,
    cands: &mut [Candidate],
    t: Thresholds,
    dedupe: bool,
    one_to_one: bool,
) {
    let match_w = odds_bits(t.match_probability);
    let review_w = odds_bits(t.review_probability);
    for c in cands.iter_mut() {
        if c.decision.is_some() {
            continue;
        }
        let w = c.weight.map_or(f64::NEG_INFINITY, MatchWeight::bits);
        c.decision = model_decision(w, c.veto.is_some(), match_w, review_w);
    }
    if dedupe {
        return;
    }
    // Ambiguity: per record, its model matches' two best (weight, other row). Of two equal
    // weights the other record with the smaller id is the better, so that the two chosen do
    // not depend on the order the pairs were made in (a row order, or a Spark partitioning).
    let n = records.len();
    let none = (f64::NEG_INFINITY, u32::MAX);
    let mut best: Vec<[(f64, u32); 2]> = vec![[none, none]; n];
    let model_match = |c: &Candidate| c.rule.is_none() && c.decision == Some(Decision::Match);
    let better = |w: f64, other: u32, than: (f64, u32)| {
        than.1 == u32::MAX
            || w.total_cmp(&than.0)
                .then_with(|| records.rank(than.1).cmp(&records.rank(other)))
                == std::cmp::Ordering::Greater
    };
    for c in cands.iter().filter(|c| model_match(c)) {
        let w = c.weight.map_or(f64::NEG_INFINITY, MatchWeight::bits);
        for (row, other) in [(c.pair.left, c.pair.right), (c.pair.right, c.pair.left)] {
            let b = &mut best[row as usize];
            if better(w, other, b[0]) {
                b[1] = b[0];
                b[0] = (w, other);
            } else if better(w, other, b[1]) {
                b[1] = (w, other);
            }
        }
    }
    // Two candidates within the margin are ambiguous unless they are one patient: they carry
    // one valid NHS number, or the model matches them with each other (a duplicate in the
    // other source).
    let ambiguous: Vec<bool> = (0..n)
        .into_par_iter()
        .map(|row| {
            let [(w1, a), (w2, b)] = best[row];
            if b == u32::MAX || w1 - w2 >= t.ambiguity_margin {
                return false;
            }
            let (na, nb) = (nhs[a as usize], nhs[b as usize]);
            if na != 0 && na == nb {
                return false;
            }
            let (v, w) = scorer.score(Pair { left: a, right: b });
            w.bits() < match_w || scorer.vetoed(v, Pair { left: a, right: b })
        })
        .collect();
    for c in cands.iter_mut().filter(|c| model_match(c)) {
        if ambiguous[c.pair.left as usize] || ambiguous[c.pair.right as usize] {
            c.decision = Some(Decision::Ambiguous);
        }
    }
    if one_to_one {
        let mut order: Vec<usize> = (0..cands.len())
            .filter(|&i| cands[i].decision == Some(Decision::Match))
            .collect();
        order.sort_by(|&a, &b| {
            let (ca, cb) = (&cands[a], &cands[b]);
            // Rule matches first, then by weight, then by record ids.
            (
                ca.rule.is_none(),
                std::cmp::Reverse(ca.weight.map(|w| OrdF64(w.bits()))),
            )
                .cmp(&(
                    cb.rule.is_none(),
                    std::cmp::Reverse(cb.weight.map(|w| OrdF64(w.bits()))),
                ))
                .then_with(|| {
                    (records.rank(ca.pair.left), records.rank(ca.pair.right))
                        .cmp(&(records.rank(cb.pair.left), records.rank(cb.pair.right)))
                })
        });
        let mut used = vec![false; n];
        for i in order {
            let p = cands[i].pair;
            if used[p.left as usize] || used[p.right as usize] {
                cands[i].decision = Some(Decision::Review);
                cands[i].demoted = true;
            } else {
                used[p.left as usize] = true;
                used[p.right as usize] = true;
            }
        }
    }
}

/// A total order on weights (never NaN).
#[derive(Clone, Copy, PartialEq)]
struct OrdF64(f64);
impl Eq for OrdF64 {}
impl PartialOrd for OrdF64 {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for OrdF64 {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&o.0)
    }
}

impl Mode {
    /// The mode that links source `left` of `records` with source `right`.
    ///
    /// # Errors
    ///
    /// A usage error for a bad or repeated source index.
    pub fn link(records: &Records, left: usize, right: usize) -> Result<Mode, Error> {
        link_mode(records, left, right)
    }

    /// The mode that deduplicates source `source` of `records`.
    ///
    /// # Errors
    ///
    /// A usage error for a bad source index.
    pub fn dedupe(records: &Records, source: usize) -> Result<Mode, Error> {
        dedupe_mode(records, source)
    }
}

/// The blocking mode that links source `left` with source `right`.
///
/// # Errors
///
/// A usage error for a bad or repeated source index.
pub(crate) fn link_mode(records: &Records, left: usize, right: usize) -> Result<Mode, Error> {
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
pub(crate) fn dedupe_mode(records: &Records, source: usize) -> Result<Mode, Error> {
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
fn decide_one_to_one(nhs: &[u64], found: &[(Pair, u16)]) -> Vec<Option<Decision>> {
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
        .map(|&(pair, rule)| {
            let (bl, br) = (best[pair.left as usize], best[pair.right as usize]);
            if bl.rule != rule || br.rule != rule {
                return None;
            }
            Some(if clear(bl) && clear(br) {
                Decision::Match
            } else {
                Decision::Ambiguous
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
        let d = decide_one_to_one(&[0, 0, 0], &[(p(0, 1), 0), (p(0, 2), 0)]);
        assert_eq!(d, [Some(Decision::Ambiguous); 2]);
    }

    #[test]
    fn a_better_rule_elsewhere_supersedes_a_weaker_pair() {
        // Row 0 matches 2 at rule 0, and 1 at rule 3: only (0, 2) is linked.
        let d = decide_one_to_one(&[0; 3], &[(p(0, 1), 3), (p(0, 2), 0)]);
        assert_eq!(d, [None, Some(Decision::Match)]);
    }

    #[test]
    fn two_candidates_with_one_nhs_number_are_one_patient_and_both_link() {
        // Right rows 1 and 2 are duplicates of one patient (same valid NHS number).
        let nhs = [9434765919, 9434765919, 9434765919];
        let d = decide_one_to_one(&nhs, &[(p(0, 1), 0), (p(0, 2), 0)]);
        assert_eq!(d, [Some(Decision::Match); 2]);
        // Different NHS numbers (or none) keep it ambiguous.
        let nhs = [0, 9434765919, 4010232137];
        let d = decide_one_to_one(&nhs, &[(p(0, 1), 3), (p(0, 2), 3)]);
        assert_eq!(d, [Some(Decision::Ambiguous); 2]);
    }

    #[test]
    fn blocking_leaves_out_rules_whose_pairs_another_rule_produces() {
        let rules = vec![
            MatchRule::new("a", "nhs_number & dob").unwrap(),
            MatchRule::new("b", "nhs_number & dob:swap").unwrap(),
            MatchRule::new("c", "surname & dob").unwrap(),
            MatchRule::new("d", "dob & surname & sex").unwrap(),
        ];
        let l = Linker::builder().rules(rules).build().unwrap();
        let b: Vec<String> = l.blocking_rules().iter().map(ToString::to_string).collect();
        assert_eq!(b, ["nhs_number", "surname & dob"]);
    }

    #[test]
    fn a_run_keeps_neither_the_keys_of_rules_it_does_not_use_nor_the_rows_features() {
        let csv = "id,given_name,surname,dob,postcode\n\
                   A,ann,smith,1980-01-02,LS1 1AA\n\
                   B,ann,smith,1980-01-02,LS1 1AA\n\
                   C,bob,jones,1970-03-04,M1 1AA\n";
        let mut b = Records::builder();
        b.add_reader("a.csv", csv.as_bytes()).unwrap();
        let records = b.build().unwrap().0;
        // Keys of a rule no blocker of the run uses, as training's choice leaves behind.
        let unused: crate::BlockingRule = "postcode:district & sex".parse().unwrap();
        let mode = Mode::dedupe(&records, 0).unwrap();
        Blocker::new(&records, std::slice::from_ref(&unused), &mode).unwrap();
        let name = unused.to_string();
        assert!(records.rule_key_cache().get(&name).is_some());
        let before = records.features();
        let result = Linker::builder()
            .build()
            .unwrap()
            .dedupe(&records, 0)
            .unwrap();
        assert_eq!(result.links.len(), 1);
        assert!(records.rule_key_cache().get(&name).is_none());
        // Released after the run: asked for again, they are made again.
        let after = records.features();
        assert!(!std::sync::Arc::ptr_eq(&before, &after));
        assert_eq!(before.len(), after.len());
    }

    #[test]
    fn unique_best_pairs_match() {
        let d = decide_one_to_one(&[0; 4], &[(p(0, 2), 1), (p(1, 3), 0)]);
        assert_eq!(d, [Some(Decision::Match); 2]);
    }
}
