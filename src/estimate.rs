//! Error estimates without labels: how many false and missed matches a run should expect,
//! from the model's own match probabilities (as fastLink does).
//!
//! Under the model, a scored pair of probability p is a true match with probability p. Over
//! the pairs a run links, the expected true matches are Σ p and the expected false matches
//! Σ (1 − p); over every other pair blocking made, Σ p are matches the run missed. Blocking
//! never compares some true pairs: from the blocking rules' recall under the model (or λ ×
//! all pairs − Σ p) comes the number it lost. Precision is then E\[true\] / linked and
//! recall E\[true\] / (E\[true\] + E\[missed\]).
//!
//! The model's probabilities assume the comparisons are independent given match status,
//! and relatives break that: two corrections for the pairs not linked, each from the model
//! itself, not from labels ([`Scores::factors`], [`Scores::of_result`]): no comparison vector
//! holds more true pairs than the model's m says it can, and a record's candidates compete
//! for it.
//!
//! A [`ScoreHistogram`] holds the count and Σ p of the scored pairs by weight, in bins of
//! 1/[`BINS_PER_BIT`] bit, so the estimate can be given at any threshold, and Σ p by
//! comparison vector and whole bit; Σ p is kept in fixed point so that it is the same on
//! any thread count.

use rustc_hash::FxHashMap;

use crate::link::{Decision, LinkResult};
use crate::model::MatchWeight;

/// Bins per bit of match weight.
pub const BINS_PER_BIT: f64 = 10.0;
/// The lowest weight with a bin of its own; lower weights fall in the first bin.
pub const LOWEST_BITS: f64 = -64.0;
/// The highest weight with a bin of its own; higher weights fall in the last bin.
pub const HIGHEST_BITS: f64 = 64.0;
/// Fixed-point units of probability per 1.
const UNIT: f64 = (1u64 << 40) as f64;

/// A probability in fixed point.
fn fixed(p: f64) -> u128 {
    (p * UNIT).round() as u128
}

/// Count and Σ probability of scored pairs by match weight, and Σ probability by comparison
/// vector and whole bit of weight (the cells of [`Scores::factors`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScoreHistogram {
    counts: Vec<u64>,
    /// Σ p per bin in units of 2^-40.
    mass: Vec<u128>,
    /// Σ p per (comparison vector, whole bit of weight), in units of 2^-40.
    cells: FxHashMap<(u64, i8), u128>,
}

impl Default for ScoreHistogram {
    fn default() -> Self {
        ScoreHistogram::new()
    }
}

impl ScoreHistogram {
    /// An empty histogram.
    pub fn new() -> ScoreHistogram {
        let n = Self::bins();
        ScoreHistogram {
            counts: vec![0; n],
            mass: vec![0; n],
            cells: FxHashMap::default(),
        }
    }

    /// How many bins there are.
    pub fn bins() -> usize {
        ((HIGHEST_BITS - LOWEST_BITS) * BINS_PER_BIT) as usize
    }

    /// The bin of a weight.
    fn bin(bits: f64) -> usize {
        let b = ((bits - LOWEST_BITS) * BINS_PER_BIT).floor();
        if b.is_nan() || b < 0.0 {
            0
        } else {
            (b as usize).min(Self::bins() - 1)
        }
    }

    /// The lowest weight of bin `i` (its threshold).
    pub fn bin_start(i: usize) -> f64 {
        LOWEST_BITS + i as f64 / BINS_PER_BIT
    }

    /// The whole-bit bin of a weight, for the cells.
    fn bit(bits: f64) -> i8 {
        bits.clamp(LOWEST_BITS, HIGHEST_BITS - 1.0).floor() as i8
    }

    /// Adds one scored pair, with its comparison vector when known.
    pub fn add(&mut self, vector: Option<u64>, w: MatchWeight) {
        let i = Self::bin(w.bits());
        let p = fixed(w.probability().get());
        self.counts[i] += 1;
        self.mass[i] += p;
        if let Some(v) = vector {
            *self.cells.entry((v, Self::bit(w.bits()))).or_insert(0) += p;
        }
    }

    /// Takes out one pair added before (a reviewer decided it is not a match).
    pub fn remove(&mut self, vector: Option<u64>, w: MatchWeight) {
        let i = Self::bin(w.bits());
        let p = fixed(w.probability().get());
        self.counts[i] = self.counts[i].saturating_sub(1);
        self.mass[i] = self.mass[i].saturating_sub(p);
        if let Some(m) = vector.and_then(|v| self.cells.get_mut(&(v, Self::bit(w.bits())))) {
            *m = m.saturating_sub(p);
        }
    }

    /// Adds another histogram's pairs.
    #[must_use]
    pub fn merge(mut self, other: &ScoreHistogram) -> ScoreHistogram {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        for (a, b) in self.mass.iter_mut().zip(&other.mass) {
            *a += b;
        }
        for (k, m) in &other.cells {
            *self.cells.entry(*k).or_insert(0) += m;
        }
        self
    }

    /// Σ p per comparison vector, sorted by vector.
    fn by_vector(&self) -> Vec<(u64, f64)> {
        let mut per: FxHashMap<u64, u128> = FxHashMap::default();
        for (&(v, _), &m) in &self.cells {
            *per.entry(v).or_insert(0) += m;
        }
        let mut out: Vec<(u64, f64)> = per.into_iter().map(|(v, m)| (v, m as f64 / UNIT)).collect();
        out.sort_unstable_by_key(|&(v, _)| v);
        out
    }

    /// Pairs per bin.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// All the pairs counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Σ p over all the pairs.
    pub fn expected_matches(&self) -> f64 {
        self.mass.iter().sum::<u128>() as f64 / UNIT
    }

    /// (pairs, Σ p) at or above `bits`.
    fn at_or_above(&self, bits: f64) -> (u64, f64) {
        let from = Self::bin(bits);
        let n = self.counts[from..].iter().sum();
        let m = self.mass[from..].iter().sum::<u128>() as f64 / UNIT;
        (n, m)
    }

    /// The weight range that holds pairs: (first bin, last bin + 1), `None` when empty.
    pub fn occupied(&self) -> Option<(usize, usize)> {
        let first = self.counts.iter().position(|&c| c > 0)?;
        let last = self.counts.iter().rposition(|&c| c > 0)?;
        Some((first, last + 1))
    }
}

/// The expected errors of linking at a threshold (or by a run's decisions).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ErrorEstimate {
    /// The match weight threshold in bits (`None` for a run's actual decisions).
    pub threshold_bits: Option<f64>,
    /// Pairs linked.
    pub linked: u64,
    /// Expected true matches among them: Σ p.
    pub expected_true: f64,
    /// Expected false matches among them: Σ (1 − p).
    pub expected_false: f64,
    /// Expected true matches among the compared pairs not linked.
    pub expected_missed_compared: f64,
    /// Expected true matches blocking never compared.
    pub expected_missed_by_blocking: f64,
}

impl ErrorEstimate {
    /// All the expected missed matches.
    pub fn expected_missed(&self) -> f64 {
        self.expected_missed_compared + self.expected_missed_by_blocking
    }

    /// Expected precision: E\[true\] / linked (1 when nothing is linked).
    pub fn precision(&self) -> f64 {
        if self.linked == 0 {
            1.0
        } else {
            self.expected_true / self.linked as f64
        }
    }

    /// Expected recall: E\[true\] / (E\[true\] + E\[missed\]) (1 when no match is expected).
    pub fn recall(&self) -> f64 {
        let all = self.expected_true + self.expected_missed();
        if all <= 0.0 {
            1.0
        } else {
            self.expected_true / all
        }
    }

    /// The harmonic mean of the two.
    pub fn f1(&self) -> f64 {
        crate::evaluate::f1(self.precision(), self.recall())
    }
}

/// The scores of a run and what the model expects beyond them: what [`ErrorEstimate`]s are
/// made from.
#[derive(Clone, Debug, PartialEq)]
pub struct Scores {
    /// Every compared pair, by weight (rule pairs included, each pair once).
    pub histogram: ScoreHistogram,
    /// The model's count of true pairs among all pairs: λ × all pairs.
    pub expected_true_pairs: f64,
    /// P(a true pair is compared by blocking), from the model ([`crate::Model::blocking_recall`]);
    /// `None` falls back on λ × all pairs.
    pub blocking_recall: Option<f64>,
    /// The comparison vectors whose pairs' Σ p is more than the model lets true pairs of that
    /// vector be, with the share of their Σ p that is kept; a vector not listed keeps all of
    /// it.
    ///
    /// The model's probabilities assume the comparisons are independent given match status.
    /// Where they are not (relatives share a surname and an address, and a child's date of
    /// birth is near a sibling's), many more non-matches reach a vector than independence
    /// allows, and each keeps the probability that vector has: on the generator's noisy
    /// dedupe 2,384 pairs that differ in given name and date of birth but share surname and
    /// address summed to 1,636 expected matches, and none was a match. The model itself says
    /// how many true pairs a vector can hold: E\[true pairs\] × P(v | match), from m, which
    /// training learned from the bulk of the pairs. So where a vector's pairs sum to more
    /// than that (plus two standard deviations and two pairs, for chance), their Σ p is
    /// scaled down to it; elsewhere it is kept.
    pub factors: FxHashMap<u64, f64>,
    /// Σ p of the written pairs (those at or above the review threshold, and rule pairs)
    /// per comparison vector, in fixed point.
    written: FxHashMap<u64, u128>,
    /// The comparison vector of each written pair not linked, by its rows (smaller first).
    unlinked: FxHashMap<(u32, u32), u64>,
}

/// One written pair, for [`Scores::new`]: its rows, comparison vector, weight and whether it
/// was linked.
pub(crate) struct Written {
    pub(crate) pair: crate::block::Pair,
    pub(crate) vector: u64,
    pub(crate) weight: MatchWeight,
    pub(crate) linked: bool,
}

/// Rows as an unordered key.
fn rows_key(p: crate::block::Pair) -> (u32, u32) {
    (p.left.min(p.right), p.left.max(p.right))
}

impl Scores {
    /// The scores of a run: its `histogram`, the model's `expected_true_pairs` (λ × all
    /// pairs) and `blocking_recall`, `share(v)` = P(vector v | match) under the model, and
    /// the `written` pairs; see [`Scores::factors`].
    pub(crate) fn new(
        histogram: ScoreHistogram,
        expected_true_pairs: f64,
        blocking_recall: Option<f64>,
        share: impl Fn(u64) -> f64,
        written: impl Iterator<Item = Written>,
    ) -> Scores {
        let mut factors = FxHashMap::default();
        for (v, mass) in histogram.by_vector() {
            let cap = expected_true_pairs * share(v);
            let allowed = cap + 2.0 * cap.sqrt() + 2.0;
            if mass > allowed {
                factors.insert(v, allowed / mass);
            }
        }
        let mut sums: FxHashMap<u64, u128> = FxHashMap::default();
        let mut unlinked = FxHashMap::default();
        for w in written {
            *sums.entry(w.vector).or_insert(0) += fixed(w.weight.probability().get());
            if !w.linked {
                unlinked.insert(rows_key(w.pair), w.vector);
            }
        }
        Scores {
            histogram,
            expected_true_pairs,
            blocking_recall,
            factors,
            written: sums,
            unlinked,
        }
    }

    /// Scores from a histogram alone (a run rebuilt from its pairs file, where the vectors
    /// are not known): every probability is kept as the model gives it.
    pub fn of_histogram(
        histogram: ScoreHistogram,
        expected_true_pairs: f64,
        blocking_recall: Option<f64>,
    ) -> Scores {
        Scores {
            histogram,
            expected_true_pairs,
            blocking_recall,
            factors: FxHashMap::default(),
            written: FxHashMap::default(),
            unlinked: FxHashMap::default(),
        }
    }

    /// Takes out a written pair a reviewer decided is not a match.
    pub(crate) fn remove(&mut self, pair: crate::block::Pair, w: MatchWeight) {
        let v = self.unlinked.remove(&rows_key(pair));
        self.histogram.remove(v, w);
        if let Some(m) = v.and_then(|v| self.written.get_mut(&v)) {
            *m = m.saturating_sub(fixed(w.probability().get()));
        }
    }

    /// The share of vector `v`'s Σ p kept.
    fn factor(&self, v: u64) -> f64 {
        self.factors.get(&v).copied().unwrap_or(1.0)
    }

    /// Per whole bit of weight (from [`LOWEST_BITS`]): the share of its Σ p kept, over all
    /// its cells (1 where nothing is scaled down). Summed in vector order, so the same on
    /// any thread count.
    fn bit_shares(&self) -> Vec<f64> {
        let n = (HIGHEST_BITS - LOWEST_BITS) as usize;
        if self.factors.is_empty() {
            return vec![1.0; n];
        }
        let mut cells: Vec<(&(u64, i8), &u128)> = self.histogram.cells.iter().collect();
        cells.sort_unstable_by_key(|(k, _)| **k);
        let mut raw = vec![0u128; n];
        let mut kept = vec![0.0; n];
        for (&(v, b), &m) in cells {
            let i = (i32::from(b) - LOWEST_BITS as i32) as usize;
            raw[i] += m;
            kept[i] += m as f64 * self.factor(v);
        }
        raw.iter()
            .zip(kept)
            .map(|(&r, k)| if r == 0 { 1.0 } else { k / r as f64 })
            .collect()
    }

    /// Σ p kept of the pairs below `bits`: each histogram bin's Σ p times its whole bit's
    /// share kept (`shares`, from [`Scores::bit_shares`]).
    fn kept_below(&self, bits: f64, shares: &[f64]) -> f64 {
        (0..ScoreHistogram::bin(bits))
            .map(|i| {
                let b = ScoreHistogram::bit(ScoreHistogram::bin_start(i));
                let share = shares[(i32::from(b) - LOWEST_BITS as i32) as usize];
                self.histogram.mass[i] as f64 / UNIT * share
            })
            .sum()
    }

    /// The expected true pairs blocking never compared, when `compared` true pairs were
    /// compared: `compared` × (1 − R) / R for the blocking recall R, else λ × all pairs −
    /// `compared` (never below 0).
    pub fn missed_by_blocking(&self, compared: f64) -> f64 {
        match self.blocking_recall {
            Some(r) if r > 0.0 => compared * (1.0 - r) / r,
            _ => (self.expected_true_pairs - compared).max(0.0),
        }
    }

    /// The estimate if every pair at or above `bits` were linked.
    pub fn at_threshold(&self, bits: f64) -> ErrorEstimate {
        self.at_threshold_with(bits, &self.bit_shares())
    }

    fn at_threshold_with(&self, bits: f64, shares: &[f64]) -> ErrorEstimate {
        let (linked, expected_true) = self.histogram.at_or_above(bits);
        let missed = self.kept_below(bits, shares);
        ErrorEstimate {
            threshold_bits: Some(bits),
            linked,
            expected_true,
            expected_false: linked as f64 - expected_true,
            expected_missed_compared: missed,
            expected_missed_by_blocking: self.missed_by_blocking(expected_true + missed),
        }
    }

    /// The estimate at each bin edge from `from_bits` to `to_bits`, one per `step` bins.
    pub fn curve(&self, from_bits: f64, to_bits: f64, step: usize) -> Vec<ErrorEstimate> {
        let (a, b) = (ScoreHistogram::bin(from_bits), ScoreHistogram::bin(to_bits));
        let shares = self.bit_shares();
        (a..=b)
            .step_by(step.max(1))
            .map(|i| self.at_threshold_with(ScoreHistogram::bin_start(i), &shares))
            .collect()
    }

    /// The estimate for the pairs `result` linked (its matches, whatever rule, veto or
    /// one-to-one choice decided them). A match without a model weight counts as sure.
    ///
    /// A pair not linked is a match with the smaller of two probabilities:
    ///
    /// - **Competing**: a record is one person. A pair (a, b) not linked, of odds o, competes
    ///   with a's written pairs whose other record is not in b's linked cluster, and with
    ///   b's whose other record is not in a's: those are the other people a (or b) might be.
    ///   With Σ o' the larger of the two sums, it is a match with probability
    ///   o / (1 + Σ o' + o). A candidate next to a linked pair of far higher odds with
    ///   someone else is more likely a relative than one more record of the person; a pair
    ///   whose records are already in one cluster (a third record linked to both) competes
    ///   with nothing. (Counting a record's own cluster as a rival took FEBRL3's expected
    ///   misses among its written pairs from 96 to 1.)
    /// - **Its vector's share kept** ([`Scores::factors`]), which also scales the pairs below
    ///   the review threshold.
    ///
    /// A linked pair keeps its own probability (a record may have two true matches: a
    /// duplicate in the other source). Measured against the truth
    /// (`benches/estimate_honesty.py`, figures in the README), recall estimates are within
    /// 1.2 points on the generator at noise 1-3 and FEBRL1-4.
    pub fn of_result(&self, result: &LinkResult) -> ErrorEstimate {
        let sums = Self::competition(result);
        let mut linked = 0u64;
        let (mut expected_true, mut written_raw, mut written_unlinked) = (0.0, 0.0, 0.0);
        for l in &result.links {
            written_raw += l.weight.map_or(0.0, |w| w.probability().get());
            let q = Self::probability(l, &sums);
            if l.decision == Decision::Match {
                linked += 1;
                expected_true += q;
            } else if let Some(w) = l.weight {
                let kept = self
                    .unlinked
                    .get(&rows_key(l.pair))
                    .map_or(1.0, |&v| self.factor(v));
                let raw = w.probability().get();
                written_unlinked += q.min(raw * kept);
            }
        }
        let below = if self.histogram.cells.is_empty() {
            (self.histogram.expected_matches() - written_raw).max(0.0)
        } else {
            self.histogram
                .by_vector()
                .into_iter()
                .map(|(v, m)| {
                    let w = self.written.get(&v).map_or(0.0, |&x| x as f64 / UNIT);
                    (m - w).max(0.0) * self.factor(v)
                })
                .sum()
        };
        let compared = expected_true + written_unlinked + below;
        ErrorEstimate {
            threshold_bits: None,
            linked,
            expected_true,
            expected_false: linked as f64 - expected_true,
            expected_missed_compared: written_unlinked + below,
            expected_missed_by_blocking: self.missed_by_blocking(compared),
        }
    }

    /// A written pair's odds (capped at 2^60), `None` without a weight.
    fn odds(l: &crate::link::Link) -> Option<f64> {
        l.weight.map(|w| w.bits().min(60.0).exp2())
    }

    /// What the written pairs not linked compete with: per row in such a pair, Σ odds of
    /// its written pairs, and Σ odds of those whose other record is in each linked cluster.
    /// Rows are numbered across sources, so one map serves a link's two sides and a
    /// dedupe's records.
    fn competition(result: &LinkResult) -> Competition {
        let mut c = Competition {
            cluster: Self::clusters(result),
            total: FxHashMap::default(),
            by_cluster: FxHashMap::default(),
        };
        for l in result
            .links
            .iter()
            .filter(|l| l.decision != Decision::Match)
        {
            c.total.insert(l.pair.left, 0.0);
            c.total.insert(l.pair.right, 0.0);
        }
        for l in &result.links {
            if let Some(o) = Self::odds(l) {
                for (row, other) in [(l.pair.left, l.pair.right), (l.pair.right, l.pair.left)] {
                    if let Some(s) = c.total.get_mut(&row) {
                        *s += o;
                        *c.by_cluster
                            .entry((row, c.cluster_of(other)))
                            .or_insert(0.0) += o;
                    }
                }
            }
        }
        c
    }

    /// The linked clusters: per row, its root row (union-find over the matches; a row not
    /// in a match is its own).
    fn clusters(result: &LinkResult) -> Vec<u32> {
        let rows = result
            .links
            .iter()
            .map(|l| l.pair.left.max(l.pair.right) as usize + 1)
            .max()
            .unwrap_or(0);
        let mut parent: Vec<u32> = (0..rows as u32).collect();
        for l in result
            .links
            .iter()
            .filter(|l| l.decision == Decision::Match)
        {
            let (a, b) = (
                crate::cluster::find_root(&mut parent, l.pair.left),
                crate::cluster::find_root(&mut parent, l.pair.right),
            );
            parent[a.max(b) as usize] = a.min(b);
        }
        for r in 0..rows as u32 {
            let root = crate::cluster::find_root(&mut parent, r);
            parent[r as usize] = root;
        }
        parent
    }

    /// A written pair's match probability, a pair not linked competing with its records'
    /// other pairs (see [`Scores::of_result`]); 1 for a pair without a weight or that a
    /// reviewer matched.
    fn probability(l: &crate::link::Link, c: &Competition) -> f64 {
        if l.reason == Some(crate::link::Reason::ReviewedMatch) {
            // A reviewer's decision is not a guess.
            return 1.0;
        }
        match (Self::odds(l), l.weight) {
            (Some(_), Some(w)) if l.decision == Decision::Match => w.probability().get(),
            (Some(o), _) => {
                let (a, b) = (l.pair.left, l.pair.right);
                o / (1.0 + c.rivals(a, b, o).max(c.rivals(b, a, o)) + o)
            }
            _ => 1.0,
        }
    }
}

/// See [`Scores::competition`].
struct Competition {
    /// Per row, its cluster's root.
    cluster: Vec<u32>,
    /// Per row in a written pair not linked: Σ odds of its written pairs.
    total: FxHashMap<u32, f64>,
    /// Per (such a row, cluster): Σ odds of its written pairs with a record of the cluster.
    by_cluster: FxHashMap<(u32, u32), f64>,
}

impl Competition {
    fn cluster_of(&self, row: u32) -> u32 {
        self.cluster.get(row as usize).copied().unwrap_or(row)
    }

    /// Σ odds of `row`'s written pairs with records outside `other`'s cluster: the other
    /// people `row` might be (`o`, the pair's own odds, when `row` is not known).
    fn rivals(&self, row: u32, other: u32, o: f64) -> f64 {
        let Some(t) = self.total.get(&row) else {
            return 0.0;
        };
        let same = self
            .by_cluster
            .get(&(row, self.cluster_of(other)))
            .copied()
            .unwrap_or(o);
        (t - same).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(weights: &[f64], expected_true_pairs: f64) -> Scores {
        let mut histogram = ScoreHistogram::new();
        for &w in weights {
            histogram.add(None, MatchWeight::new(w));
        }
        Scores::of_histogram(histogram, expected_true_pairs, None)
    }

    /// Issue 14: a vector whose pairs sum to more true pairs than the model lets it hold
    /// (relatives sharing surname and address) is scaled down to what it allows; a vector
    /// within it is kept whole.
    #[test]
    fn a_vector_holding_more_than_the_model_allows_is_scaled_down() {
        let mut h = ScoreHistogram::new();
        for _ in 0..100 {
            h.add(Some(1), MatchWeight::new(0.0));
        }
        for _ in 0..10 {
            h.add(Some(2), MatchWeight::new(0.0));
        }
        // 100 true pairs in all; vector 1 holds 1% of matches (1 pair, allowed 1 + 2 + 2),
        // vector 2 half of them.
        let share = |v: u64| if v == 1 { 0.01 } else { 0.5 };
        let s = Scores::new(h, 100.0, Some(1.0), share, std::iter::empty());
        assert!((s.factors[&1] - 5.0 / 50.0).abs() < 1e-12);
        assert!(!s.factors.contains_key(&2));
        let e = s.at_threshold(10.0);
        assert_eq!(e.linked, 0);
        assert!((e.expected_missed_compared - (5.0 + 5.0)).abs() < 1e-9);
        // Raw, the same pairs would have missed 55.
        assert!((s.histogram.expected_matches() - 55.0).abs() < 1e-9);
    }

    /// Issue 14: a candidate not linked competes with its records' pairs with other people,
    /// not with the records of its own cluster.
    #[test]
    fn candidates_compete_with_other_people_not_their_own_cluster() {
        use crate::block::Pair;
        use crate::link::{Link, Reason};
        let link = |l: u32, r: u32, bits: f64, decision: Decision| Link {
            pair: Pair { left: l, right: r },
            rule: None,
            weight: Some(MatchWeight::new(bits)),
            decision,
            reason: (decision != Decision::Match).then_some(Reason::BelowThreshold),
        };
        // Records 0, 1, 2 are one person (0-1 and 1-2 linked); 0-2 is a candidate inside
        // that cluster. 3 is someone else: 0-3 competes with 0's linked pairs.
        let links = vec![
            link(0, 1, 20.0, Decision::Match),
            link(1, 2, 20.0, Decision::Match),
            link(0, 2, 3.0, Decision::Review),
            link(0, 3, 3.0, Decision::Review),
        ];
        let mut h = ScoreHistogram::new();
        let written: Vec<Written> = links
            .iter()
            .enumerate()
            .map(|(i, l)| {
                h.add(Some(i as u64), l.weight.unwrap());
                Written {
                    pair: l.pair,
                    vector: i as u64,
                    weight: l.weight.unwrap(),
                    linked: l.decision == Decision::Match,
                }
            })
            .collect();
        let s = Scores::new(h, 4.0, Some(1.0), |_| 1.0, written.into_iter());
        assert!(s.factors.is_empty());
        let result = LinkResult {
            links,
            rules: Vec::new(),
            candidates: 4,
            rule_candidates: 0,
            comparisons: Vec::new(),
            scores: None,
            new_pairs_per_rule: Vec::new(),
        };
        let e = s.of_result(&result);
        // 0-2's rivals are 0's pairs outside its own cluster: 0-3 (odds 8), so p = 8/17, not
        // 8/(1 + 2^20 + 16). 0-3's rivals are 0's pairs with 1 and 2 (odds 2^20 + 8): about 0.
        let p02 = 8.0 / 17.0;
        let p03 = 8.0 / (1.0 + (20f64.exp2() + 8.0) + 8.0);
        assert!(
            (e.expected_missed_compared - (p02 + p03)).abs() < 1e-9,
            "{}",
            e.expected_missed_compared
        );
        assert_eq!(e.linked, 2);
    }

    #[test]
    fn expected_errors_are_sums_of_probabilities() {
        // Weight 0 is p = 0.5; 10 bits is 1024/1025; -10 bits is 1/1025.
        let s = scores(&[10.0, 10.0, 0.0, -10.0], 3.0);
        let e = s.at_threshold(0.0);
        assert_eq!(e.linked, 3);
        let p10 = 1024.0 / 1025.0;
        assert!((e.expected_true - (2.0 * p10 + 0.5)).abs() < 1e-9);
        assert!((e.expected_false - (2.0 * (1.0 - p10) + 0.5)).abs() < 1e-9);
        assert!((e.expected_missed_compared - 1.0 / 1025.0).abs() < 1e-9);
        // Σ p over the compared pairs is about 2.5; λ × pairs says 3, so 0.5 were never compared.
        assert!(
            (e.expected_missed_by_blocking - (3.0 - 2.0 * p10 - 0.5 - 1.0 / 1025.0)).abs() < 1e-9
        );
        assert!((e.precision() - e.expected_true / 3.0).abs() < 1e-12);
        let recall = e.expected_true / 3.0;
        assert!((e.recall() - recall).abs() < 1e-9);
        // A higher threshold links fewer pairs, each surer.
        let high = s.at_threshold(5.0);
        assert_eq!(high.linked, 2);
        assert!(high.precision() > e.precision());
        assert!(high.recall() < e.recall());
    }

    #[test]
    fn a_prior_below_the_compared_mass_loses_nothing_to_blocking() {
        let s = scores(&[20.0, 20.0], 1.0);
        assert_eq!(s.missed_by_blocking(s.histogram.expected_matches()), 0.0);
        assert_eq!(s.at_threshold(0.0).expected_missed(), 0.0);
    }

    #[test]
    fn out_of_range_weights_land_in_the_end_bins() {
        let s = scores(&[-1000.0, 1000.0, f64::NAN], 0.0);
        assert_eq!(s.histogram.total(), 3);
        assert_eq!(s.histogram.occupied(), Some((0, ScoreHistogram::bins())));
    }

    #[test]
    fn merging_is_order_free() {
        let a = scores(&[1.0, 2.5, -3.0], 0.0).histogram;
        let b = scores(&[7.25, 0.125], 0.0).histogram;
        let ab = a.clone().merge(&b);
        let ba = b.merge(&a);
        assert_eq!(ab, ba);
        assert_eq!(ab.total(), 5);
    }

    #[test]
    fn curve_runs_from_low_to_high_thresholds() {
        let s = scores(&[-5.0, 0.0, 5.0, 15.0], 2.0);
        let c = s.curve(-10.0, 20.0, 10);
        assert_eq!(c.len(), 31);
        assert!(c.windows(2).all(|w| w[0].linked >= w[1].linked));
        assert_eq!(c[0].linked, 4);
        assert_eq!(c[30].linked, 0);
    }
}
