//! Training: u from random pairs, m and λ by EM sessions (or from labelled pairs).

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use super::em;
use super::{Model, SessionSummary, Thresholds, TrainingSummary};
use crate::Error;
use crate::block::{Blocker, BlockingRule, Field, Key, Mode, Pair, Transform};
use crate::compare::{Comparer, Comparison, Kind, level_of};
use crate::record::Records;
use crate::rng::Rng;
use crate::schema::Role;

/// Options for [`Model::train`].
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// Random pairs for u. Default 1,000,000 (all pairs when there are fewer).
    pub u_pairs: u64,
    /// Seed for the random pairs. Default 1.
    pub seed: u64,
    /// Training blocking rules, one EM session each. Default: `nhs_number`;
    /// `dob & surname:soundex`; `given_name & surname & postcode:area`. Each is cheap (few
    /// pairs per record) and together they leave every default comparison out of at most
    /// two sessions.
    pub sessions: Vec<BlockingRule>,
    /// EM iterations at most. Default 200.
    pub max_iterations: u32,
    /// EM stops when no parameter moves by more than this. Default 1e-7.
    pub tolerance: f64,
    /// Known true pairs (rows of the store). When not empty, m comes from them directly
    /// (supervised: each level's share among them) and λ from their number, and no EM runs.
    /// Default: none.
    pub labelled: Vec<Pair>,
    /// True pairs a reviewer confirmed (clerical review's `match` decisions). They refine
    /// the m that EM estimates: each level's count among them is added to EM's expected
    /// match counts (the average session's expected matches, spread as m says), so a few
    /// hundred decisions move m a little and many move it more. Default: none.
    pub reviewed: Vec<Pair>,
}

impl Default for TrainOptions {
    fn default() -> TrainOptions {
        TrainOptions {
            u_pairs: 1_000_000,
            seed: 1,
            sessions: [
                "nhs_number",
                "dob & surname:soundex",
                "given_name & surname & postcode:area",
            ]
            .iter()
            .map(|s| s.parse().expect("default training rules parse"))
            .collect(),
            max_iterations: 200,
            tolerance: 1e-7,
            labelled: Vec::new(),
            reviewed: Vec::new(),
        }
    }
}

/// Default m for a comparison's levels before training: strong agreement likely, else rare.
pub(super) fn default_m(c: &Comparison) -> Vec<f64> {
    let k = c.level_names().len() - 1;
    let mut v = vec![0.0; k + 1];
    if k == 1 {
        v[1] = 1.0;
        return v;
    }
    v[1] = 0.85;
    v[k] = 0.02;
    let rest = (1.0 - 0.87) / (k.saturating_sub(2)).max(1) as f64;
    for x in v.iter_mut().take(k).skip(2) {
        *x = rest;
    }
    if k == 2 {
        v[1] = 0.98;
        v[2] = 0.02;
    }
    v
}

impl Model {
    /// Trains a model with `comparisons` on the pairs of `mode` in `records`.
    ///
    /// # Errors
    ///
    /// A config error when a comparison or training rule names a column the input lacks.
    pub fn train(
        records: &Records,
        mode: &Mode,
        comparisons: &[Comparison],
        options: &TrainOptions,
    ) -> Result<Model, Error> {
        if let Some(budget) = crate::memory::Budget::detect()
            && let Some(held) = crate::memory::resident()
        {
            // Training's pairs and the rows' features need about as much again as the store
            // (1.0 to 1.3 times, measured at 14M to 23M records).
            budget.check_held(held, held, || {
                format!(
                    "training the model on {} records (it needs about as much again as the \
                     store holds)",
                    records.len()
                )
            })?;
        }
        let comparer = Comparer::new(records, comparisons)?;
        let rules: &[BlockingRule] = if options.labelled.is_empty() {
            &options.sessions
        } else {
            &[]
        };
        // What reads pairs, side by side: u from random pairs, the identifiers' levels on
        // sure pairs, each session's blocking and vectors. None of it depends on another's
        // result; each is parallel inside, and together they fill each other's serial parts
        // (sorting a rule's keys, numbering them).
        let ((random, sure), counted) = rayon::join(
            || {
                rayon::join(
                    || RandomPairs::estimate(records, mode, &comparer, comparisons, options),
                    || {
                        if options.labelled.is_empty() {
                            sure_counts(records, mode, comparisons)
                        } else {
                            Ok(Vec::new())
                        }
                    },
                )
            },
            || {
                rules
                    .par_iter()
                    .map(|rule| Counted::count(records, mode, comparisons, rule))
                    .collect::<Vec<_>>()
            },
        );
        let u = &random.u;

        // m of the identifiers (NHS number, identifier columns) from sure pairs, held fixed
        // in every session: see [`anchored_m`].
        let anchors = if options.labelled.is_empty() {
            anchored_m(comparisons, &sure?, u)
        } else {
            vec![None; comparisons.len()]
        };

        // m and λ by EM, one session per training rule (the first error in rule order).
        let setup = Setup {
            comparisons,
            anchors: &anchors,
            anchored_bits: anchors
                .iter()
                .enumerate()
                .filter(|(_, a)| a.is_some())
                .fold(0u32, |b, (c, _)| b | (1 << c)),
            u,
            options,
        };
        let mut sessions = Vec::new();
        for (rule, counted) in rules.iter().zip(counted) {
            if let Some(c) = counted? {
                sessions.push(Session::fit(&setup, rule, c));
            }
        }
        let mut m = combine_m(comparisons, &sessions, &anchors, u);
        if !options.reviewed.is_empty() && !sessions.is_empty() {
            m = refine_m(&comparer, comparisons, &m, &sessions, &options.reviewed, u);
        }
        let (mut lambda, summaries) = combine_lambda(comparisons, &sessions, &m, &random, mode);
        if !options.labelled.is_empty() {
            // Supervised: each level's share among the labelled pairs (add-half smoothing),
            // and λ from their number among all pairs.
            m = level_counts(&comparer, comparisons, &options.labelled)
                .iter()
                .zip(u)
                .map(|(row, u)| monotone(&add_half(row), u))
                .collect();
            lambda =
                (options.labelled.len() as f64 / random.total_pairs.max(1.0)).clamp(1e-15, 0.5);
        }
        let tf = comparisons
            .iter()
            .map(|c| c.exact_level().is_some())
            .collect();
        let model = Model {
            comparisons: comparisons.to_vec(),
            m,
            u: random.u,
            tf,
            lambda,
            blocking: BlockingRule::defaults(),
            thresholds: Thresholds::default(),
            training: Some(TrainingSummary {
                u_pairs: random.pairs,
                u_exhaustive: random.exhaustive,
                seed: options.seed,
                total_pairs: random.total_pairs,
                sessions: summaries,
                term_frequencies: "computed from the records being scored, at scoring time".into(),
                labelled_pairs: options.labelled.len() as u64,
                present: random.present.clone(),
            }),
        };
        model.validate()?;
        Ok(model)
    }
}

/// What random pairs tell: u of every level, and each comparison's share of pairs where it
/// is not null.
struct RandomPairs {
    u: Vec<Vec<f64>>,
    present: Vec<f64>,
    /// Random pairs drawn, and whether they were every pair.
    pairs: u64,
    exhaustive: bool,
    /// Pairs of `mode` in all.
    total_pairs: f64,
}

impl RandomPairs {
    fn estimate(
        records: &Records,
        mode: &Mode,
        comparer: &Comparer<'_>,
        comparisons: &[Comparison],
        options: &TrainOptions,
    ) -> RandomPairs {
        let (mut pairs, exhaustive, total_pairs) =
            random_pairs(records, mode, options.u_pairs, options.seed);
        // Counts do not depend on the pairs' order; in row order the left rows' features
        // are read in sequence, not at random.
        pairs.par_sort_unstable();
        let counts = level_counts(comparer, comparisons, &pairs);
        let mut u: Vec<Vec<f64>> = Vec::with_capacity(comparisons.len());
        let mut present = Vec::with_capacity(comparisons.len());
        for c in &counts {
            let non_null: u64 = c[1..].iter().sum();
            // A level never seen among random pairs (two random people sharing an NHS
            // number) gets u of about half a pair, not zero.
            u.push(add_half(c));
            present.push(if pairs.is_empty() {
                1.0
            } else {
                non_null as f64 / pairs.len() as f64
            });
        }
        if let Some((names, salt_u, salt_present)) =
            salted_name_u(records, mode, comparer, comparisons, options)
        {
            for (i, c) in names.into_iter().enumerate() {
                u[c].clone_from(&salt_u[i]);
                present[c] = salt_present[i];
            }
        }
        RandomPairs {
            u,
            present,
            pairs: counts.first().map_or(0, |c| c.iter().sum()),
            exhaustive,
            total_pairs,
        }
    }
}

/// Known different people sharing a salt before u for salted names is taken from them.
const SALTED_U_MIN_PAIRS: usize = 100;

/// For a file whose names are salted (`carematch-pseudonym-3`): u and presence of the name
/// comparisons, from random pairs that share the salt and are known to be two people.
///
/// Names salted apart cannot be compared, so among random pairs (nearly all salted apart)
/// names are almost never present, and the few pairs with one date of birth are as often one
/// person as two: u from them is wrong by orders of magnitude. Among non-matches the names
/// do not depend on the date of birth, so u given equal salts is u: it is counted here on
/// random pairs drawn within one salt value (`dob.tok`, or `dob.year.tok` for year salts)
/// whose NHS numbers or identifier columns say they are two people (both present and
/// different), or when too few do, whose locations disagree outright. `None` for unsalted
/// input, or when fewer than [`SALTED_U_MIN_PAIRS`] such
/// pairs are found (u then stays that of all random pairs). Returns the name comparisons'
/// indices, their u and their presence.
#[allow(clippy::type_complexity, reason = "three parallel lists, used once")]
fn salted_name_u(
    records: &Records,
    mode: &Mode,
    comparer: &Comparer<'_>,
    comparisons: &[Comparison],
    options: &TrainOptions,
) -> Option<(Vec<usize>, Vec<Vec<f64>>, Vec<f64>)> {
    use crate::pseudonym::{NameSalt, TokenField};
    let salt_column = match NameSalt::of_records(records) {
        NameSalt::DateOfBirth => TokenField::Dob.token_column(),
        NameSalt::Year => TokenField::DobYear.token_column(),
        NameSalt::None => return None,
    };
    let names: Vec<usize> = (0..comparisons.len())
        .filter(|&c| {
            matches!(
                comparisons[c].kind,
                Kind::EncodedGivenName | Kind::EncodedSurname
            )
        })
        .collect();
    let last = |c: usize| (comparisons[c].level_names().len() - 1) as u8;
    let of_kind = |kinds: &[Kind]| -> Vec<(usize, u8)> {
        (0..comparisons.len())
            .filter(|&c| kinds.contains(&comparisons[c].kind))
            .map(|c| (c, last(c)))
            .collect()
    };
    // Two people: identifiers both present and different; failing enough of those (no NHS
    // numbers in the data), locations that disagree outright (not one postcode area), the
    // few movers among them true pairs.
    let signs = [
        of_kind(&[Kind::EncodedNhsNumber, Kind::NhsNumber, Kind::Identifier]),
        of_kind(&[Kind::EncodedLocation]),
    ];
    if names.is_empty() {
        return None;
    }
    let salts = records.other_named(salt_column)?.rows;
    let pairs = same_salt_pairs(salts, mode, options.u_pairs, options.seed);
    let mut counts = [
        vec![vec![0u64; 16]; names.len()],
        vec![vec![0u64; 16]; names.len()],
    ];
    let mut kept = [0usize; 2];
    comparer.for_each_vector(&pairs, |_, v| {
        for (k, sign) in signs.iter().enumerate() {
            if sign.iter().any(|&(c, l)| level_of(v, c) == l) {
                kept[k] += 1;
                for (i, &c) in names.iter().enumerate() {
                    counts[k][i][usize::from(level_of(v, c))] += 1;
                }
            }
        }
    });
    let k = (0..2).find(|&k| kept[k] >= SALTED_U_MIN_PAIRS)?;
    let (counts, kept) = (&counts[k], kept[k]);
    let u = names
        .iter()
        .zip(counts)
        .map(|(&c, n)| add_half(&n[..comparisons[c].level_names().len()]))
        .collect();
    let present = counts
        .iter()
        .map(|n| n[1..].iter().sum::<u64>() as f64 / kept as f64)
        .collect();
    Some((names, u, present))
}

/// Up to `max` random pairs of `mode` whose `salts` (a value id per row) are equal and
/// present: a random row of the left side (any row, for a dedupe), then a random row of the
/// other side with its salt; every such pair once when there are no more than `max`. In row
/// order, deterministic for a seed.
fn same_salt_pairs(salts: &[u32], mode: &Mode, max: u64, seed: u64) -> Vec<Pair> {
    use crate::record::NO_ID;
    let (from, to) = match mode {
        Mode::Link { left, right } => (left.clone(), right.clone()),
        Mode::Dedupe { rows } => (rows.clone(), rows.clone()),
    };
    // The other side's rows grouped by salt.
    let mut by_salt: Vec<(u32, u32)> = to
        .clone()
        .filter_map(|r| {
            let s = salts.get(r as usize).copied().unwrap_or(NO_ID);
            (s != NO_ID).then_some((s, r))
        })
        .collect();
    by_salt.sort_unstable();
    let group = |s: u32| {
        let lo = by_salt.partition_point(|&(x, _)| x < s);
        lo..by_salt.partition_point(|&(x, _)| x <= s)
    };
    let salt_of = |r: u32| salts.get(r as usize).copied().unwrap_or(NO_ID);
    let dedupe = matches!(mode, Mode::Dedupe { .. });
    let all: u64 = from
        .clone()
        .filter(|&a| salt_of(a) != NO_ID)
        .map(|a| group(salt_of(a)).len() as u64)
        .sum();
    if all <= max {
        // Few enough: every pair sharing a salt, once.
        let mut pairs: Vec<Pair> = from
            .clone()
            .filter(|&a| salt_of(a) != NO_ID)
            .flat_map(|a| by_salt[group(salt_of(a))].iter().map(move |&(_, b)| (a, b)))
            .filter(|&(a, b)| if dedupe { a < b } else { true })
            .map(|(left, right)| Pair { left, right })
            .collect();
        pairs.sort_unstable();
        return pairs;
    }
    let n = u64::from(from.end - from.start);
    let mut rng = Rng::new(seed, 0x5a, 2);
    let mut pairs = Vec::new();
    // Rows whose salt no other row has are drawn and skipped; stop after as many draws again.
    for _ in 0..max.saturating_mul(2) {
        if pairs.len() as u64 >= max || n == 0 {
            break;
        }
        let a = from.start + rng.below(n) as u32;
        let s = salt_of(a);
        if s == NO_ID {
            continue;
        }
        let g = group(s);
        if g.is_empty() {
            continue;
        }
        let b = by_salt[g.start + rng.below(g.len() as u64) as usize].1;
        if a != b {
            let (left, right) = if dedupe && b < a { (b, a) } else { (a, b) };
            pairs.push(Pair { left, right });
        }
    }
    pairs.sort_unstable();
    pairs
}

/// What every EM session reads.
#[derive(Clone, Copy)]
struct Setup<'a> {
    comparisons: &'a [Comparison],
    /// The identifiers' m from sure pairs, held fixed.
    anchors: &'a [Option<Vec<f64>>],
    /// Bit c set when comparison c has an anchored m.
    anchored_bits: u32,
    u: &'a [Vec<f64>],
    options: &'a TrainOptions,
}

/// One EM session: the pairs of one training rule, their distinct comparison vectors, and
/// what EM made of them.
struct Session {
    rule: BlockingRule,
    /// Comparisons the rule's keys decide (left out of its EM).
    masked: u32,
    pairs: u64,
    distinct_vectors: u64,
    em: em::EmResult,
    /// 2 for a converged session on an identifier alone whose m is anchored (its pairs are
    /// nearly all true, and the share of true pairs it keeps is known), 1 for another session
    /// that converged to a λ below 0.5, 0 otherwise. On the generator's 14M-person dedupe
    /// the `given_name & surname & postcode:area` session's pairs are mostly namesakes, and
    /// averaged in it gave m(dob else) = 0.55.
    trust: usize,
}

/// A session's pairs counted by comparison vector, before EM.
struct Counted {
    /// Comparisons the rule's keys decide (left out of its EM).
    masked: u32,
    vectors: Vec<(u64, u64)>,
    pairs: u64,
}

impl Counted {
    /// The vectors of `rule`'s pairs; `None` when the rule decides every comparison.
    fn count(
        records: &Records,
        mode: &Mode,
        comparisons: &[Comparison],
        rule: &BlockingRule,
    ) -> Result<Option<Counted>, Error> {
        let masked = mask_for(comparisons, rule) | salt_mask(records, comparisons, rule);
        if masked.count_ones() as usize == comparisons.len() {
            return Ok(None);
        }
        let blocker = Blocker::new(records, std::slice::from_ref(rule), mode)?;
        let (vectors, pairs) = count_vectors(records, comparisons, &blocker, masked)?;
        Ok(Some(Counted {
            masked,
            vectors,
            pairs,
        }))
    }
}

impl Session {
    /// Runs EM on the vectors counted on `rule`'s pairs.
    fn fit(setup: &Setup<'_>, rule: &BlockingRule, counted: Counted) -> Session {
        let Setup {
            comparisons,
            anchors,
            anchored_bits,
            u,
            options,
        } = *setup;
        let Counted {
            masked,
            vectors,
            pairs,
        } = counted;
        let start: Vec<Vec<f64>> = comparisons
            .iter()
            .zip(anchors)
            .map(|(c, a)| a.clone().unwrap_or_else(|| default_m(c)))
            .collect();
        let r = em::em(
            &vectors,
            u,
            start,
            0.5,
            masked,
            anchored_bits & !masked,
            options.max_iterations,
            options.tolerance,
        );
        // (Most pairs of an identifier's session are true: its λ is near 1.)
        let on_anchored_id = rule.keys().len() == 1
            && rule.keys()[0].transform == Transform::Exact
            && comparisons
                .iter()
                .enumerate()
                .any(|(c, x)| anchored_bits & (1 << c) != 0 && key_reads(&rule.keys()[0].field, x));
        let trust = if on_anchored_id && r.converged {
            2
        } else {
            usize::from(r.converged && r.lambda < 0.5)
        };
        Session {
            rule: rule.clone(),
            masked,
            pairs,
            distinct_vectors: vectors.len() as u64,
            em: r,
            trust,
        }
    }

    fn summary(&self, comparisons: &[Comparison], lambda: f64) -> SessionSummary {
        let r = &self.em;
        SessionSummary {
            rule: self.rule.to_string(),
            left_out: (0..comparisons.len())
                .filter(|c| self.masked & (1 << c) != 0)
                .map(|c| comparisons[c].field.clone())
                .collect(),
            pairs: self.pairs,
            distinct_vectors: self.distinct_vectors,
            iterations: r.iterations,
            converged: r.converged,
            log_likelihood: r.log_likelihood.last().copied().unwrap_or(0.0),
            lambda_in_session: r.lambda,
            lambda,
        }
    }
}

/// The distinct comparison vectors of the blocker's pairs with their counts, sorted, and the
/// number of pairs. The comparisons in `masked` (those the session's rule decides) are
/// left out, at level 0: they are not computed at all (a session blocked on the surname
/// compares no surnames).
fn count_vectors(
    records: &Records,
    comparisons: &[Comparison],
    blocker: &Blocker,
    masked: u32,
) -> Result<(Vec<(u64, u64)>, u64), Error> {
    let kept: Vec<usize> = (0..comparisons.len())
        .filter(|c| masked & (1 << c) == 0)
        .collect();
    let subset: Vec<Comparison> = kept.iter().map(|&c| comparisons[c].clone()).collect();
    let comparer = Comparer::new(records, &subset)?;
    let mut counter: FxHashMap<u64, u64> = FxHashMap::default();
    let mut n_pairs = 0u64;
    blocker.pairs(1 << 20).pipelined(
        |chunk| {
            chunk
                .par_chunks(1 << 10)
                .fold(FxHashMap::default, |mut h: FxHashMap<u64, u64>, batch| {
                    comparer.for_each_vector(batch, |_, v| *h.entry(v).or_insert(0) += 1);
                    h
                })
                .reduce(FxHashMap::default, |mut a, b| {
                    for (k, v) in b {
                        *a.entry(k).or_insert(0) += v;
                    }
                    a
                })
        },
        |part, _, len| {
            n_pairs += len as u64;
            for (k, v) in part {
                *counter.entry(k).or_insert(0) += v;
            }
            Ok(())
        },
    )?;
    // Each kept comparison's level back at its place in the whole vector.
    let whole = |v: u64| {
        (kept.iter().enumerate()).fold(0u64, |w, (i, &c)| {
            w | (u64::from(level_of(v, i)) << (4 * c))
        })
    };
    let mut vectors: Vec<(u64, u64)> = counter.into_iter().map(|(v, n)| (whole(v), n)).collect();
    vectors.sort_unstable();
    Ok((vectors, n_pairs))
}

/// Each comparison's m: the sessions' m averaged (weighted by their expected matches) over
/// the most trusted sessions that estimate it, else the default; an anchored m wins; then
/// made monotone against u.
fn combine_m(
    comparisons: &[Comparison],
    sessions: &[Session],
    anchors: &[Option<Vec<f64>>],
    u: &[Vec<f64>],
) -> Vec<Vec<f64>> {
    let n_comp = comparisons.len();
    let mut m_sum: Vec<Vec<Vec<f64>>> = (0..3)
        .map(|_| {
            comparisons
                .iter()
                .map(|c| vec![0.0; c.level_names().len()])
                .collect()
        })
        .collect();
    let mut m_weight = vec![vec![0.0; n_comp]; 3];
    for s in sessions {
        let r = &s.em;
        for c in 0..n_comp {
            if s.masked & (1 << c) == 0 && r.expected_matches > 0.0 {
                for l in 1..m_sum[s.trust][c].len() {
                    m_sum[s.trust][c][l] += r.m[c][l] * r.expected_matches;
                }
                m_weight[s.trust][c] += r.expected_matches;
            }
        }
    }
    (0..n_comp)
        .map(|c| {
            let m = if let Some(a) = &anchors[c] {
                a.clone()
            } else if let Some(t) = (0..3).rev().find(|&t| m_weight[t][c] > 0.0) {
                let mut v: Vec<f64> = m_sum[t][c].iter().map(|x| x / m_weight[t][c]).collect();
                v[0] = 0.0;
                // A level EM found empty still gets a tiny m, so its weight is finite.
                for x in v.iter_mut().skip(1) {
                    *x = x.max(1e-6);
                }
                v
            } else {
                default_m(&comparisons[c])
            };
            monotone(&m, &u[c])
        })
        .collect()
}

/// m refined by reviewed true pairs: per comparison, EM's m as counts over the average
/// session's expected matches, plus each level's count among the reviewed pairs (those with
/// both values present), renormalised and made monotone.
fn refine_m(
    comparer: &Comparer<'_>,
    comparisons: &[Comparison],
    m: &[Vec<f64>],
    sessions: &[Session],
    reviewed: &[Pair],
    u: &[Vec<f64>],
) -> Vec<Vec<f64>> {
    let weight =
        sessions.iter().map(|s| s.em.expected_matches).sum::<f64>() / sessions.len() as f64;
    let counts = level_counts(comparer, comparisons, reviewed);
    m.iter()
        .zip(&counts)
        .zip(u)
        .map(|((m, c), u)| {
            let n: u64 = c[1..].iter().sum();
            let mut out: Vec<f64> = m
                .iter()
                .zip(c)
                .enumerate()
                .map(|(l, (m, c))| if l == 0 { 0.0 } else { m * weight + *c as f64 })
                .collect();
            let total = weight + n as f64;
            for x in &mut out[1..] {
                *x /= total;
            }
            monotone(&out, u)
        })
        .collect()
}

/// λ for all pairs and every session's summary. Each session implies `λ_s` × `pairs_s` /
/// (total × P(rule keeps | match)). Only the most trusted sessions count: a session on an
/// anchored identifier alone (on the generator's 14M-person dedupe it gives λ within 5% of
/// the truth, where the name and date-of-birth sessions, whose pairs are mostly namesakes at
/// that size, are 2.4-3x too high), else those that converged to a sane λ, else all. A
/// session whose EM did not converge, or ended with half its pairs or more as matches (EM
/// took a household or a name for the person), says little about λ.
fn combine_lambda(
    comparisons: &[Comparison],
    sessions: &[Session],
    m: &[Vec<f64>],
    random: &RandomPairs,
    mode: &Mode,
) -> (f64, Vec<SessionSummary>) {
    let best = sessions.iter().map(|s| s.trust).max().unwrap_or(0);
    let mut lambda_num = 0.0;
    let mut lambda_den = 0.0;
    let mut summaries = Vec::with_capacity(sessions.len());
    for s in sessions {
        let recall = rule_recall(comparisons, m, &random.present, &s.rule);
        let mut implied = 0.0;
        if recall > 0.0 && random.total_pairs > 0.0 {
            let l =
                (s.em.lambda * s.pairs as f64 / (random.total_pairs * recall)).clamp(1e-15, 0.5);
            implied = l;
            if s.trust == best {
                lambda_num += l.ln() * s.em.expected_matches;
                lambda_den += s.em.expected_matches;
            }
        }
        summaries.push(s.summary(comparisons, implied));
    }
    let mut lambda = if lambda_den > 0.0 {
        (lambda_num / lambda_den).exp()
    } else {
        1e-6
    };
    // In a link each record of the smaller source matches at most about one record of the
    // larger (sources are rarely full of duplicates), so λ is at most 1 / the larger
    // source's size. A session that took families for people cannot push it higher.
    if let Mode::Link { left, right } = mode {
        let larger = (left.end - left.start).max(right.end - right.start).max(1);
        lambda = lambda.min(1.0 / f64::from(larger));
    }
    (lambda, summaries)
}

/// True when a key on `field` reads the field that comparison `c` compares.
fn key_reads(field: &Field, c: &Comparison) -> bool {
    match (field, c.kind) {
        (Field::Role(Role::GivenName), Kind::GivenName)
        | (Field::Role(Role::Surname), Kind::Surname)
        | (Field::Role(Role::DateOfBirth), Kind::DateOfBirth)
        | (Field::Role(Role::Postcode), Kind::Location | Kind::Postcode)
        | (Field::Role(Role::Address), Kind::Location | Kind::Address)
        | (Field::Role(Role::NhsNumber), Kind::NhsNumber)
        | (Field::Role(Role::Sex), Kind::Sex)
        | (Field::Names, Kind::GivenName | Kind::Surname) => true,
        (Field::Other(name), Kind::Text | Kind::Identifier) => *name == c.field,
        (Field::Other(name), kind) if !crate::compare::encoded_columns(kind).is_empty() => {
            crate::compare::encoded_columns(kind).contains(&name.as_str())
                || (kind == Kind::EncodedLocation && name == "address.bf")
        }
        _ => false,
    }
}

/// Per comparison, how many of `pairs` fall at each of its levels (level 0, null, included).
fn level_counts(
    comparer: &Comparer<'_>,
    comparisons: &[Comparison],
    pairs: &[Pair],
) -> Vec<Vec<u64>> {
    let zero = || -> Vec<Vec<u64>> {
        comparisons
            .iter()
            .map(|x| vec![0u64; x.level_names().len()])
            .collect()
    };
    pairs
        .par_chunks(1 << 14)
        .map(|chunk| {
            let mut c = zero();
            comparer.for_each_vector(chunk, |_, v| {
                for (i, ci) in c.iter_mut().enumerate() {
                    ci[usize::from(level_of(v, i))] += 1;
                }
            });
            c
        })
        .reduce(zero, |mut a, b| {
            for (x, y) in a.iter_mut().zip(b) {
                for (p, q) in x.iter_mut().zip(y) {
                    *p += q;
                }
            }
            a
        })
}

/// Each level's share of `counts` (level 0, null, left out and set to 0) with add-half
/// smoothing, so that a level never seen still gets about half an observation.
fn add_half(counts: &[u64]) -> Vec<f64> {
    let non_null: u64 = counts[1..].iter().sum();
    let k = (counts.len() - 1) as f64;
    let mut v = vec![0.0];
    v.extend(
        counts[1..]
            .iter()
            .map(|&x| (x as f64 + 0.5) / (non_null as f64 + 0.5 * k)),
    );
    v
}

/// The least sure pairs with both values present from which an identifier's m is taken.
const MIN_SURE_PAIRS: u64 = 30;

/// m of each identifier comparison (NHS number, an identifier column), from the sure pairs
/// (those of the ladder's [`crate::rules::DEMOGRAPHICS`] rule):
/// each level's share among those with both values present (add-half smoothing), when there
/// are at least [`MIN_SURE_PAIRS`]; `None` for the other comparisons, or when the data has
/// too few sure pairs. EM holds these fixed. Without them, EM on a session where the people
/// who merely share a surname and a date of birth far outnumber the true pairs (a 14M-person
/// dedupe) took them for matches: their NHS numbers differ, so it learnt m(NHS equal) ≈
/// 0.007 and a prior 340 times too high. An identifier's agreement among true pairs is what
/// keeps EM on people rather than families or namesakes.
fn anchored_m(
    comparisons: &[Comparison],
    sure: &[(usize, Vec<u64>)],
    u: &[Vec<f64>],
) -> Vec<Option<Vec<f64>>> {
    let mut out = vec![None; comparisons.len()];
    for (c, row) in sure {
        let non_null: u64 = row[1..].iter().sum();
        if non_null < MIN_SURE_PAIRS {
            continue;
        }
        out[*c] = Some(monotone(&add_half(row), &u[*c]));
    }
    out
}

/// The level counts of each identifier comparison (NHS number, identifier columns) among
/// the sure pairs of [`anchored_m`], with the comparison's index.
fn sure_counts(
    records: &Records,
    mode: &Mode,
    comparisons: &[Comparison],
) -> Result<Vec<(usize, Vec<u64>)>, Error> {
    let ids: Vec<usize> = comparisons
        .iter()
        .enumerate()
        .filter(|(_, c)| matches!(c.kind, Kind::NhsNumber | Kind::Identifier))
        .map(|(i, _)| i)
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rule: BlockingRule = crate::rules::DEMOGRAPHICS.parse()?;
    let blocker = Blocker::new(records, std::slice::from_ref(&rule), mode)?;
    let sure: Vec<Pair> = blocker.pairs(1 << 20).flatten().collect();
    // Only the identifiers' levels are read: the names' and addresses' are not computed.
    let identifiers: Vec<Comparison> = ids.iter().map(|&c| comparisons[c].clone()).collect();
    let only = Comparer::new(records, &identifiers)?;
    let counts = level_counts(&only, &identifiers, &sure);
    Ok(ids.into_iter().zip(counts).collect())
}

/// True when `rule` blocks on the field comparison `c` compares (so a session on it cannot
/// estimate `c`'s m).
pub(crate) fn reads(rule: &BlockingRule, c: &Comparison) -> bool {
    rule.keys().iter().any(|k| key_reads(&k.field, c))
}

/// Bits of the comparisons whose field a training rule blocks on.
fn mask_for(comparisons: &[Comparison], rule: &BlockingRule) -> u32 {
    comparisons
        .iter()
        .enumerate()
        .filter(|(_, c)| rule.keys().iter().any(|k| key_reads(&k.field, c)))
        .fold(0, |m, (i, _)| m | (1 << i))
}

/// Bits of the comparisons a training rule decides through the salt of a salted file's
/// names: a key on a name column salted with the date of birth (or its year) agrees only
/// where the salts do, so the rule's pairs agree on the date of birth too, and a session on
/// it cannot estimate the date's m (it would find every true pair's dates agreeing).
fn salt_mask(records: &Records, comparisons: &[Comparison], rule: &BlockingRule) -> u32 {
    let salted =
        crate::pseudonym::NameSalt::of_records(records) != crate::pseudonym::NameSalt::None;
    let on_names = rule
        .keys()
        .iter()
        .any(|k| matches!(&k.field, Field::Other(n) if crate::compare::is_encoded_name_column(n)));
    if !(salted && on_names) {
        return 0;
    }
    comparisons
        .iter()
        .enumerate()
        .filter(|(_, c)| c.kind == Kind::EncodedDateOfBirth)
        .fold(0, |m, (i, _)| m | (1 << i))
}

/// Makes the weights log2(m/u) non-increasing from the first level to the last, keeping the
/// total of m: adjacent levels whose weights are out of order are pooled (pool-adjacent-
/// violators on the ratio m/u, weighted by u). Levels are ordered from the strongest
/// agreement to disagreement, so a better level must never weigh less; EM on sparse levels
/// can break that by noise.
pub(crate) fn monotone(m: &[f64], u: &[f64]) -> Vec<f64> {
    // Blocks of (sum m, sum u, first level, last level), over levels 1..
    let mut blocks: Vec<(f64, f64, usize, usize)> = Vec::new();
    for l in 1..m.len() {
        blocks.push((m[l], u[l], l, l));
        while blocks.len() >= 2 {
            let b = blocks[blocks.len() - 1];
            let a = blocks[blocks.len() - 2];
            // Ratio must not rise: pool when a's ratio is below b's.
            if a.0 * b.1 < b.0 * a.1 {
                blocks.pop();
                let last = blocks.len() - 1;
                blocks[last] = (a.0 + b.0, a.1 + b.1, a.2, b.3);
            } else {
                break;
            }
        }
    }
    let mut out = vec![0.0; m.len()];
    for (sm, su, first, last) in blocks {
        for l in first..=last {
            out[l] = sm * u[l] / su;
        }
    }
    out
}

/// The levels of a comparison at which a blocking key on its field would agree.
#[allow(
    clippy::match_same_arms,
    reason = "a table: one row per kind and transform, read top to bottom"
)]
fn agreeing_levels(c: &Comparison, key: &Key) -> Vec<usize> {
    let n = c.level_names().len();
    let t = key.transform;
    if let Field::Other(col) = &key.field {
        // Encoded columns: the level at which the column's token agrees, and the better ones.
        let cols = crate::compare::encoded_columns(c.kind);
        if let Some(i) = cols.iter().position(|x| x == col) {
            return match c.kind {
                Kind::EncodedDateOfBirth => match i {
                    0 => vec![1],
                    1 => vec![2],
                    2 => vec![1, 4],
                    3 => vec![1, 2, 3, 4, 5],
                    _ => vec![1, 3],
                },
                Kind::EncodedLocation => (1..=i + 2).collect(),
                _ if i == 0 => vec![1],
                _ => (1..n - 1).collect(),
            };
        }
    }
    match (c.kind, t) {
        (Kind::DateOfBirth, Transform::Exact) => vec![1],
        (Kind::DateOfBirth, Transform::YearMonth) => vec![1, 4],
        (Kind::DateOfBirth, _) => vec![1, 2, 3, 4],
        (Kind::Location, Transform::Exact) => vec![1, 2],
        (Kind::Location, Transform::Sector) => vec![1, 2, 3],
        (Kind::Location, Transform::District) => vec![1, 2, 3, 4],
        (Kind::Location, _) => vec![1, 2, 3, 4, 5],
        (Kind::Postcode, Transform::Exact) => vec![1],
        (Kind::Postcode, Transform::Sector) => vec![1, 2],
        (Kind::Postcode, Transform::District) => vec![1, 2, 3],
        (Kind::Postcode, _) => vec![1, 2, 3, 4],
        (_, Transform::Exact) => vec![1],
        // Phonetic, initial, prefix and nickname keys agree on most non-"else" levels.
        _ => (1..n - 1).collect(),
    }
}

/// P(the rule's keys all agree | match), assuming independence across keys.
fn rule_recall(
    comparisons: &[Comparison],
    m: &[Vec<f64>],
    present: &[f64],
    rule: &BlockingRule,
) -> f64 {
    let mut p = 1.0;
    for k in rule.keys() {
        let found = comparisons
            .iter()
            .enumerate()
            .find(|(_, c)| key_reads(&k.field, c));
        if let Some((i, c)) = found {
            let agree: f64 = agreeing_levels(c, k)
                .iter()
                .map(|&l| m[i].get(l).copied().unwrap_or(0.0))
                .sum();
            p *= present[i] * agree;
        }
    }
    p
}

/// P(some rule's keys all agree | match) with comparisons independent: every combination
/// of the levels (null included) of the comparisons the rules read, weighed by its
/// probability. A key on a field no comparison reads is taken to agree, as in
/// [`rule_recall`]. `None` when the rules read more than 12 comparisons.
pub(crate) fn blocking_recall(
    comparisons: &[Comparison],
    m: &[Vec<f64>],
    present: &[f64],
    rules: &[BlockingRule],
) -> Option<f64> {
    // Per rule, per comparison it reads: the levels at which all its keys on it agree.
    let mut read: Vec<usize> = Vec::new();
    let mut needs: Vec<Vec<(usize, Vec<bool>)>> = Vec::new();
    for rule in rules {
        let mut need: Vec<(usize, Vec<bool>)> = Vec::new();
        for k in rule.keys() {
            let Some((i, c)) = comparisons
                .iter()
                .enumerate()
                .find(|(_, c)| key_reads(&k.field, c))
            else {
                continue;
            };
            let mut ok = vec![false; m[i].len()];
            for l in agreeing_levels(c, k) {
                if let Some(x) = ok.get_mut(l) {
                    *x = true;
                }
            }
            if let Some((_, prev)) = need.iter_mut().find(|(j, _)| *j == i) {
                for (a, b) in prev.iter_mut().zip(ok) {
                    *a &= b;
                }
            } else {
                need.push((i, ok));
            }
            if !read.contains(&i) {
                read.push(i);
            }
        }
        if need.is_empty() {
            return Some(1.0);
        }
        needs.push(need);
    }
    if read.len() > 12 {
        return None;
    }
    // Depth-first over the levels of the comparisons read, carrying the probability.
    let mut level = vec![0usize; comparisons.len()];
    Some(recall_below(0, 1.0, &read, &mut level, m, present, &needs))
}

fn recall_below(
    depth: usize,
    p: f64,
    read: &[usize],
    level: &mut [usize],
    m: &[Vec<f64>],
    present: &[f64],
    needs: &[Vec<(usize, Vec<bool>)>],
) -> f64 {
    if p == 0.0 {
        return 0.0;
    }
    let Some(&i) = read.get(depth) else {
        let kept = needs
            .iter()
            .any(|need| need.iter().all(|(i, ok)| ok[level[*i]]));
        return if kept { p } else { 0.0 };
    };
    let mut sum = 0.0;
    for l in 0..m[i].len() {
        let pl = if l == 0 {
            1.0 - present[i]
        } else {
            present[i] * m[i][l]
        };
        level[i] = l;
        sum += recall_below(depth + 1, p * pl, read, level, m, present, needs);
    }
    sum
}

/// Random pairs of `mode` for u, or every pair when there are at most `max` of them.
/// Returns the pairs, whether they are all pairs, and the number of all pairs.
///
/// Pairs are drawn by rank (the order of record ids), not by row, so that the same records
/// in another order give the same pairs and so bit-identical parameters.
fn random_pairs(records: &Records, mode: &Mode, max: u64, seed: u64) -> (Vec<Pair>, bool, f64) {
    let mut row_of_rank = vec![0u32; records.len()];
    for r in 0..records.len() as u32 {
        row_of_rank[records.rank(r) as usize] = r;
    }
    let row = |rank: u32| row_of_rank[rank as usize];
    match mode {
        Mode::Link { left, right } => {
            let (nl, nr) = (
                u64::from(left.end - left.start),
                u64::from(right.end - right.start),
            );
            let total = nl as f64 * nr as f64;
            if nl * nr <= max {
                let v = left
                    .clone()
                    .flat_map(|l| right.clone().map(move |r| Pair { left: l, right: r }))
                    .collect();
                return (v, true, total);
            }
            let mut rng = Rng::new(seed, 0x75, 0);
            let v = (0..max)
                .map(|_| Pair {
                    left: row(left.start + rng.below(nl) as u32),
                    right: row(right.start + rng.below(nr) as u32),
                })
                .collect();
            (v, false, total)
        }
        Mode::Dedupe { rows } => {
            let n = u64::from(rows.end - rows.start);
            let total = n as f64 * n.saturating_sub(1) as f64 / 2.0;
            if n * n.saturating_sub(1) / 2 <= max {
                let v = rows
                    .clone()
                    .flat_map(|a| (a + 1..rows.end).map(move |b| Pair { left: a, right: b }))
                    .collect();
                return (v, true, total);
            }
            let mut rng = Rng::new(seed, 0x75, 1);
            let mut v = Vec::with_capacity(max as usize);
            while (v.len() as u64) < max {
                let a = row(rows.start + rng.below(n) as u32);
                let b = row(rows.start + rng.below(n) as u32);
                if a != b {
                    v.push(Pair {
                        left: a.min(b),
                        right: a.max(b),
                    });
                }
            }
            (v, false, total)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weights(m: &[f64], u: &[f64]) -> Vec<f64> {
        m.iter()
            .zip(u)
            .skip(1)
            .map(|(m, u)| (m / u).log2())
            .collect()
    }

    /// A session's vectors, with the comparisons its rule decides left out before they are
    /// computed, are the whole vectors with those comparisons' levels cleared.
    #[test]
    fn a_session_leaves_out_what_its_rule_decides_without_computing_it() {
        let records = crate::synth::generated_records(3_000, 5, &["dedupe.csv"]);
        let mode = crate::link::dedupe_mode(&records, 0).unwrap();
        let comparisons = crate::Config::default().comparisons(&records).unwrap();
        let whole = Comparer::new(&records, &comparisons).unwrap();
        for rule in [
            "dob & surname:soundex",
            "given_name & surname & postcode:area",
        ] {
            let rule: BlockingRule = rule.parse().unwrap();
            let masked = mask_for(&comparisons, &rule);
            assert!(masked != 0);
            let blocker = Blocker::new(&records, std::slice::from_ref(&rule), &mode).unwrap();
            let (vectors, n) = count_vectors(&records, &comparisons, &blocker, masked).unwrap();
            let clear = (0..16)
                .filter(|c| masked & (1 << c) != 0)
                .fold(0u64, |m, c| m | (0xF << (4 * c)));
            let pairs: Vec<Pair> = blocker.pairs(1 << 20).flatten().collect();
            let mut want: FxHashMap<u64, u64> = FxHashMap::default();
            whole.for_each_vector(&pairs, |_, v| *want.entry(v & !clear).or_insert(0) += 1);
            let mut want: Vec<(u64, u64)> = want.into_iter().collect();
            want.sort_unstable();
            assert_eq!(n, pairs.len() as u64);
            assert!(want.len() > 5, "{rule}: {want:?}");
            assert_eq!(vectors, want, "{rule}");
        }
    }

    proptest::proptest! {
        /// After training's monotone step, a more agreeing level never weighs less, and m
        /// still sums to what it did.
        #[test]
        fn monotone_weights(
            m in proptest::collection::vec(0.001f64..1.0, 2..8),
            u in proptest::collection::vec(0.001f64..1.0, 8),
        ) {
            let m: Vec<f64> = std::iter::once(0.0).chain(m).collect();
            let u: Vec<f64> = std::iter::once(0.0).chain(u.into_iter().take(m.len() - 1)).collect();
            let out = monotone(&m, &u);
            let w = weights(&out, &u);
            for pair in w.windows(2) {
                proptest::prop_assert!(pair[0] >= pair[1] - 1e-9, "{w:?}");
            }
            let (a, b): (f64, f64) = (m.iter().sum(), out.iter().sum());
            proptest::prop_assert!((a - b).abs() < 1e-9);
            proptest::prop_assert!(out[1..].iter().all(|x| *x > 0.0));
        }
    }

    /// The blocking recall is the probability that some rule's keys all agree: one rule on
    /// an exact field is P(present) × m(exact); two rules on independent fields combine as
    /// 1 − (1 − a)(1 − b); a rule contained in another adds nothing.
    #[test]
    fn blocking_recall_combines_rules_under_independence() {
        let comps = Comparison::defaults();
        let dob = comps
            .iter()
            .position(|c| c.kind == Kind::DateOfBirth)
            .unwrap();
        let nhs = comps
            .iter()
            .position(|c| c.kind == Kind::NhsNumber)
            .unwrap();
        let m: Vec<Vec<f64>> = comps.iter().map(default_m).collect();
        let present: Vec<f64> = comps.iter().map(|_| 0.9).collect();
        let rule = |s: &str| s.parse::<BlockingRule>().unwrap();
        let a = present[dob] * m[dob][1];
        let b = present[nhs] * m[nhs][1];
        let one = blocking_recall(&comps, &m, &present, &[rule("dob")]).unwrap();
        assert!((one - a).abs() < 1e-12, "{one} {a}");
        let both =
            blocking_recall(&comps, &m, &present, &[rule("dob"), rule("nhs_number")]).unwrap();
        assert!((both - (1.0 - (1.0 - a) * (1.0 - b))).abs() < 1e-12);
        let nested = blocking_recall(
            &comps,
            &m,
            &present,
            &[rule("dob"), rule("dob & nhs_number")],
        )
        .unwrap();
        assert!((nested - a).abs() < 1e-12);
    }

    #[test]
    fn monotone_leaves_ordered_weights_alone() {
        let m = [0.0, 0.8, 0.15, 0.05];
        let u = [0.0, 0.01, 0.09, 0.9];
        assert_eq!(monotone(&m, &u), m.to_vec());
        // A violation is pooled: levels 2 and 3 get one ratio.
        let out = monotone(&[0.0, 0.8, 0.05, 0.15], &[0.0, 0.01, 0.5, 0.49]);
        let w = weights(&out, &[0.0, 0.01, 0.5, 0.49]);
        assert!((w[1] - w[2]).abs() < 1e-12);
    }

    /// Monotone weights: a more agreeing level never weighs less, for a model whose m falls
    /// and u rises with the level (as every trained model on real data should).
    #[test]
    fn default_m_falls_with_level() {
        for c in Comparison::defaults() {
            let m = default_m(&c);
            assert!((m[1..].iter().sum::<f64>() - 1.0).abs() < 1e-9, "{c}");
            assert!(m[1] > *m.last().unwrap_or(&0.0));
        }
    }
}
