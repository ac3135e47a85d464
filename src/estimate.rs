//! Error estimates without labels: how many false and missed matches a run should expect,
//! from the model's own match probabilities (as fastLink does).
//!
//! Under the model, a scored pair of probability p is a true match with probability p. Over
//! the pairs a run links, the expected true matches are Σ p and the expected false matches
//! Σ (1 − p); over every other pair blocking made, Σ p are matches the run missed. Blocking
//! never compares some true pairs: the prior λ times all pairs is the model's count of true
//! pairs in all (λ is itself estimated from the training sessions and the blocking rules'
//! recall), so λ × pairs − Σ p over every compared pair estimates the matches blocking lost.
//! Precision is then E\[true\] / linked and recall E\[true\] / (E\[true\] + E\[missed\]).
//!
//! A [`ScoreHistogram`] holds the count and Σ p of the scored pairs by weight, in bins of
//! 1/[`BINS_PER_BIT`] bit, so the estimate can be given at any threshold; Σ p is kept in
//! fixed point so that it is the same on any thread count.

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

/// Count and Σ probability of scored pairs by match weight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScoreHistogram {
    counts: Vec<u64>,
    /// Σ p per bin in units of 2^-40.
    mass: Vec<u128>,
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

    /// Adds one scored pair.
    pub fn add(&mut self, w: MatchWeight) {
        let i = Self::bin(w.bits());
        self.counts[i] += 1;
        self.mass[i] += (w.probability().get() * UNIT).round() as u128;
    }

    /// Takes out one pair added before (a reviewer decided it is not a match).
    pub fn remove(&mut self, w: MatchWeight) {
        let i = Self::bin(w.bits());
        self.counts[i] = self.counts[i].saturating_sub(1);
        self.mass[i] = self.mass[i].saturating_sub((w.probability().get() * UNIT).round() as u128);
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
        self
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
}

impl Scores {
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
        let (linked, expected_true) = self.histogram.at_or_above(bits);
        ErrorEstimate {
            threshold_bits: Some(bits),
            linked,
            expected_true,
            expected_false: linked as f64 - expected_true,
            expected_missed_compared: self.histogram.expected_matches() - expected_true,
            expected_missed_by_blocking: self.missed_by_blocking(self.histogram.expected_matches()),
        }
    }

    /// The estimate at each bin edge from `from_bits` to `to_bits`, one per `step` bins.
    pub fn curve(&self, from_bits: f64, to_bits: f64, step: usize) -> Vec<ErrorEstimate> {
        let (a, b) = (ScoreHistogram::bin(from_bits), ScoreHistogram::bin(to_bits));
        (a..=b)
            .step_by(step.max(1))
            .map(|i| self.at_threshold(ScoreHistogram::bin_start(i)))
            .collect()
    }

    /// The estimate for the pairs `result` linked (its matches, whatever rule, veto or
    /// one-to-one choice decided them). A match without a model weight counts as sure.
    ///
    /// The written pairs of a record compete. In a link a record has at most one true match
    /// in the other source, mostly; in a dedupe a record's duplicates are mostly linked to
    /// one another, so a candidate not linked, next to a linked one of far higher odds, is
    /// more likely a relative than one more duplicate. So a pair not linked, of odds o,
    /// whose records' written pairs have odds Σ o (it included), is a match with probability
    /// o / (1 + Σ o), the smaller of its two records' figures. Measured against the truth
    /// (`benches/estimate_honesty.py`), this brings the generator's expected misses from 3-8
    /// times too many to within a fifth, and moves FEBRL's recall estimates by at most 1.6
    /// points. A linked pair keeps its own probability (a record may have two true matches:
    /// a duplicate in the other source), and so do the pairs below the review threshold.
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
            } else if l.weight.is_some() {
                written_unlinked += q;
            }
        }
        let below = (self.histogram.expected_matches() - written_raw).max(0.0);
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

    /// Σ odds of the written pairs of every row that is in a pair not linked (the rows
    /// whose pairs compete; at 14M records far fewer than all). Rows are numbered across
    /// sources, so one map serves a link's two sides and a dedupe's records.
    fn competition(result: &LinkResult) -> rustc_hash::FxHashMap<u32, f64> {
        let mut sum: rustc_hash::FxHashMap<u32, f64> = rustc_hash::FxHashMap::default();
        for l in result
            .links
            .iter()
            .filter(|l| l.decision != Decision::Match)
        {
            sum.insert(l.pair.left, 0.0);
            sum.insert(l.pair.right, 0.0);
        }
        for l in &result.links {
            if let Some(o) = Self::odds(l) {
                for row in [l.pair.left, l.pair.right] {
                    if let Some(s) = sum.get_mut(&row) {
                        *s += o;
                    }
                }
            }
        }
        sum
    }

    /// A written pair's match probability, a pair not linked competing with its records'
    /// other pairs (see [`Scores::of_result`]); 1 for a pair without a weight or that a
    /// reviewer matched.
    fn probability(l: &crate::link::Link, sums: &rustc_hash::FxHashMap<u32, f64>) -> f64 {
        if l.reason == Some(crate::link::Reason::ReviewedMatch) {
            // A reviewer's decision is not a guess.
            return 1.0;
        }
        match (Self::odds(l), l.weight) {
            (Some(_), Some(w)) if l.decision == Decision::Match => w.probability().get(),
            (Some(o), _) => {
                let s = |r: u32| sums.get(&r).copied().unwrap_or(o);
                o / (1.0 + s(l.pair.left).max(s(l.pair.right)))
            }
            _ => 1.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(weights: &[f64], expected_true_pairs: f64) -> Scores {
        let mut histogram = ScoreHistogram::new();
        for &w in weights {
            histogram.add(MatchWeight::new(w));
        }
        Scores {
            histogram,
            expected_true_pairs,
            blocking_recall: None,
        }
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
