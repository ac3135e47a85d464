//! Scoring pairs with a model, and explaining a score.

use super::{MatchWeight, Model};
use crate::Error;
use crate::block::Pair;
use crate::compare::{Comparer, Kind, level_of};
use crate::record::Records;

/// A model made ready to score pairs of one store: per-value features computed once, then
/// [`Scorer::weight`] costs a few integer compares and table lookups per comparison (and a
/// Jaro-Winkler only when two names differ).
pub struct Scorer<'a> {
    comparer: Comparer<'a>,
    weights: Weights,
    /// The smallest frequency a value can have (one row).
    tf_floor: f64,
}

/// A model's weights made ready for scoring, independent of any store: what turns a
/// comparison vector (and the frequencies of exactly agreeing values) into a weight, a veto
/// and an explanation. The batch [`Scorer`] and the real-time index share it.
#[derive(Clone)]
pub(crate) struct Weights {
    /// Per comparison per level: log2(m/u).
    levels: Vec<Vec<f64>>,
    /// Per comparison: (exact level, u of it) when term-frequency adjusted.
    tf: Vec<Option<(u8, f64)>>,
    prior: f64,
    /// (comparison, level) pairs that veto an automatic match.
    vetoes: Vec<(usize, u8)>,
    /// The NHS-number and identifier comparisons, each with the worst level that still lifts
    /// the vetoes (equal, or one digit or edit apart).
    lifts: Vec<(usize, u8)>,
    /// Per comparison: its field and level names, for explanations (made once, not per pair).
    names: Vec<(String, Vec<String>)>,
    /// The given-name and sex comparisons.
    given: Option<usize>,
    sex: Option<usize>,
    /// The clear surname comparison (its level 2 is "swapped") and the date-of-birth one.
    surname: Option<usize>,
    dob: Option<usize>,
}

/// What vetoed an automatic match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Veto {
    /// The comparison at this index of the model (a given name or date of birth at "else",
    /// sexes or NHS numbers that differ).
    Comparison(u8),
    /// A newborn placeholder name ("Twin 1") on either record.
    Placeholder,
    /// The comparison at this index (the given name) is missing on a record and the dates of
    /// birth cannot be compared, so nothing tells members of one household apart.
    Missing(u8),
}

/// One comparison's part in a pair's weight.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Contribution {
    /// The comparison's field.
    pub field: String,
    /// The level reached.
    pub level: String,
    /// log2(m/u) of the level (0 for null).
    pub weight: f64,
    /// The term-frequency adjustment added (0 when none).
    #[serde(rename = "tf")]
    pub tf_adjustment: f64,
}

/// Why a pair got its weight: the data of a waterfall chart.
///
/// Serialised (the one JSON shape of an explanation, for the command line's `index query
/// --explain`, the C ABI's `carematch_result_explain`, `carematch_model_explain_pair` and
/// `carematch_answer_json`, and Python), with every weight in bits at full precision:
/// `{"prior": …, "comparisons": [{"field": …, "level": …, "weight": …, "tf": …}, …],
/// "match_weight": …}`, where the prior, the weights and the tf adjustments add up to the
/// match weight.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Explanation {
    /// The prior weight log2(λ / (1 − λ)).
    pub prior: f64,
    /// One entry per comparison, in model order.
    #[serde(rename = "comparisons")]
    pub contributions: Vec<Contribution>,
    /// The total.
    #[serde(rename = "match_weight", serialize_with = "bits")]
    pub weight: MatchWeight,
}

/// A match weight as its number of bits.
#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's serialize_with passes a reference"
)]
fn bits<S: serde::Serializer>(w: &MatchWeight, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(w.bits())
}

impl Weights {
    /// The weights of `model`.
    pub(crate) fn new(model: &Model) -> Weights {
        let weights = (0..model.comparisons.len())
            .map(|c| (0..model.m[c].len()).map(|l| model.weight(c, l)).collect())
            .collect();
        let tf = model
            .comparisons
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let l = c.exact_level()?;
                (model.tf[i]).then(|| (l, model.u(i, usize::from(l))))
            })
            .collect();
        let vetoes = model
            .comparisons
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let last = (c.level_names().len() - 1) as u8;
                matches!(
                    c.kind,
                    Kind::GivenName
                        | Kind::DateOfBirth
                        | Kind::NhsNumber
                        | Kind::Sex
                        | Kind::EncodedGivenName
                        | Kind::EncodedDateOfBirth
                        | Kind::EncodedNhsNumber
                        | Kind::EncodedSex
                )
                .then_some((i, last))
            })
            .collect();
        let names = model
            .comparisons
            .iter()
            .map(|c| (c.field.clone(), c.level_names()))
            .collect();
        Weights {
            names,
            levels: weights,
            tf,
            prior: model.prior_weight(),
            vetoes,
            lifts: model
                .comparisons
                .iter()
                .enumerate()
                .filter_map(|(i, c)| match c.kind {
                    Kind::NhsNumber | Kind::EncodedNhsNumber | Kind::Identifier => Some((i, 2)),
                    _ => None,
                })
                .collect(),
            given: model
                .comparisons
                .iter()
                .position(|c| matches!(c.kind, Kind::GivenName | Kind::EncodedGivenName)),
            sex: model
                .comparisons
                .iter()
                .position(|c| matches!(c.kind, Kind::Sex | Kind::EncodedSex)),
            surname: model
                .comparisons
                .iter()
                .position(|c| c.kind == Kind::Surname),
            dob: model
                .comparisons
                .iter()
                .position(|c| matches!(c.kind, Kind::DateOfBirth | Kind::EncodedDateOfBirth)),
        }
    }

    /// Comparison `c`'s term-frequency adjustment at `level`: log2(u / f) on its exact level,
    /// where `freq(c)` is the share of records holding the agreed value (`None`: no value).
    #[inline]
    pub(crate) fn tf_adjustment(
        &self,
        c: usize,
        level: u8,
        freq: impl Fn(usize) -> Option<f64>,
    ) -> f64 {
        match self.tf[c] {
            Some((exact, u)) if exact == level => freq(c).map_or(0.0, |f| (u / f).log2()),
            _ => 0.0,
        }
    }

    /// The match weight of comparison vector `v`.
    #[inline]
    pub(crate) fn total(&self, v: u64, freq: impl Fn(usize) -> Option<f64>) -> MatchWeight {
        let mut w = self.prior;
        for (c, ws) in self.levels.iter().enumerate() {
            let l = level_of(v, c);
            w += ws[usize::from(l)] + self.tf_adjustment(c, l, &freq);
        }
        MatchWeight::new(w)
    }

    /// The explanation of vector `v` (see [`Scorer::explain`]).
    pub(crate) fn explain(&self, v: u64, freq: impl Fn(usize) -> Option<f64>) -> Explanation {
        let mut total = self.prior;
        let contributions = self
            .names
            .iter()
            .enumerate()
            .map(|(c, (field, levels))| {
                let l = level_of(v, c);
                let weight = self.levels[c][usize::from(l)];
                let tf_adjustment = self.tf_adjustment(c, l, &freq);
                total += weight + tf_adjustment;
                Contribution {
                    field: field.clone(),
                    level: levels[usize::from(l)].clone(),
                    weight,
                    tf_adjustment,
                }
            })
            .collect();
        Explanation {
            prior: self.prior,
            contributions,
            weight: MatchWeight::new(total),
        }
    }

    /// The vetoes of [`Scorer::vetoed`], for vector `v`; `placeholder` when either record's
    /// given name is a newborn placeholder.
    pub(crate) fn vetoed(&self, v: u64, placeholder: bool) -> bool {
        self.veto(v, placeholder).is_some()
    }

    /// What vetoes an automatic match of vector `v`, if anything: the first vetoing
    /// comparison, or a newborn placeholder (see [`Scorer::vetoed`]).
    pub(crate) fn veto(&self, v: u64, placeholder: bool) -> Option<Veto> {
        if self.lifts.iter().any(|&(c, lift)| {
            let l = level_of(v, c);
            l >= 1 && l <= lift
        }) {
            return None;
        }
        if placeholder {
            return Some(Veto::Placeholder);
        }
        // One record has no given name and the dates of birth cannot be compared: surname and
        // address alone say "one household", not "one person" (a names-and-address extract
        // auto-matched household members this way). Swapped names leave the given name null
        // too; they are not missing.
        if let Some(g) = self.given {
            let swapped = self.surname.is_some_and(|s| level_of(v, s) == 2);
            let no_dob = self.dob.is_none_or(|d| level_of(v, d) == 0);
            if level_of(v, g) == 0 && !swapped && no_dob {
                return Some(Veto::Missing(g as u8));
            }
        }
        // A sex miscoded on one record of a patient is common; twins of different sex almost
        // always have different given names. So sexes that disagree veto only when the given
        // names are not identical.
        let given_exact = self.given.is_some_and(|g| level_of(v, g) == 1);
        self.vetoes
            .iter()
            .find(|&&(c, l)| level_of(v, c) == l && !(Some(c) == self.sex && given_exact))
            .map(|&(c, _)| Veto::Comparison(c as u8))
    }
}

impl<'a> Scorer<'a> {
    /// Prepares `model` on `records`.
    ///
    /// # Errors
    ///
    /// A config error when a comparison names a column `records` does not have.
    pub fn new(model: &Model, records: &'a Records) -> Result<Scorer<'a>, Error> {
        model.check_fits(records)?;
        Ok(Scorer {
            comparer: Comparer::new(records, &model.comparisons)?,
            weights: Weights::new(model),
            tf_floor: 1.0 / records.len().max(1) as f64,
        })
    }

    /// Prepares `model` on `records`, a part of larger data: the term frequencies are
    /// `share(c, text)`, the share of the larger data's records holding value `text` in
    /// comparison `c`'s field, and the smallest frequency is one of its `rows` records. Scores
    /// are then those of the larger data's store (a distributed run scores its pairs in
    /// parts this way).
    ///
    /// # Errors
    ///
    /// As [`Scorer::new`]; a config error for a pseudonymised model.
    pub(crate) fn with_frequencies(
        model: &Model,
        records: &'a Records,
        share: impl Fn(usize, &str) -> f64,
        rows: u64,
    ) -> Result<Scorer<'a>, Error> {
        let mut s = Scorer::new(model, records)?;
        for (c, p) in s.comparer.prepared.iter_mut().enumerate() {
            p.set_frequencies(|text| share(c, text))?;
        }
        s.tf_floor = 1.0 / rows.max(1) as f64;
        Ok(s)
    }

    /// The frequency of the value `pair` agrees on in comparison `c`, if any.
    #[inline]
    fn freq(&self, c: usize, pair: Pair) -> Option<f64> {
        self.frequency(c, self.comparer.prepared[c].tf_value(pair))
    }

    /// The frequency of value id `v` (if any) in comparison `c`'s field.
    #[inline]
    fn frequency(&self, c: usize, v: Option<u32>) -> Option<f64> {
        Some(
            self.comparer.prepared[c]
                .tf
                .get(v? as usize)
                .copied()
                .unwrap_or(0.0)
                .max(self.tf_floor),
        )
    }

    /// True when the vector holds an outright disagreement that no weight may override for an
    /// automatic match: given names or dates of birth at "else", sexes that disagree (unless
    /// the given names are identical), two different valid NHS numbers, a "Twin 1" /
    /// "Triplet 2" placeholder for a newborn's name on either side, or a given name missing
    /// on one side with no dates of birth to compare. Twins differ in given
    /// names (and often sex), and as newborns have no given name to tell them apart; a parent
    /// and a same-named child differ in date of birth. The vetoes are lifted when the NHS
    /// numbers, or an identifier column's values, agree or are one digit (edit) apart (one
    /// side mistyped): twins' numbers are not.
    pub(crate) fn vetoed(&self, v: u64, pair: Pair) -> bool {
        self.veto(v, pair).is_some()
    }

    /// What vetoes an automatic match of `pair` (vector `v`), if anything.
    pub(crate) fn veto(&self, v: u64, pair: Pair) -> Option<Veto> {
        let r = self.comparer.records();
        let placeholder = r.newborn_placeholder(pair.left) || r.newborn_placeholder(pair.right);
        self.weights.veto(v, placeholder)
    }

    /// The match weight of `pair` (two rows of the store).
    ///
    /// # Panics
    ///
    /// When a row of `pair` is not a row of the store (a caller's bug, like an index out of
    /// bounds); rows from [`crate::block::Blocker`] or the store's sources always are.
    pub fn weight(&self, pair: Pair) -> MatchWeight {
        self.score(pair).1
    }

    /// The comparison vector and weight of `pair`.
    #[inline]
    pub(crate) fn score(&self, pair: Pair) -> (u64, MatchWeight) {
        let v = self.comparer.vector(pair);
        (v, self.weights.total(v, |c| self.freq(c, pair)))
    }

    /// Hands `f` each of `pairs` with its comparison vector and weight, in order (the rows
    /// read a batch at a time: see [`Comparer::for_each_vector`]).
    #[inline]
    pub(crate) fn for_each_score(&self, pairs: &[Pair], mut f: impl FnMut(Pair, u64, MatchWeight)) {
        self.comparer.for_each_vector_of(pairs, |p, v, x| {
            let freq = |c: usize| self.frequency(c, self.comparer.prepared[c].tf_value_of(p, x));
            f(p, v, self.weights.total(v, freq));
        });
    }

    /// The explanation of `pair`'s weight under the model this scorer was made from.
    pub fn explain(&self, pair: Pair) -> Explanation {
        let v = self.comparer.vector(pair);
        self.weights.explain(v, |c| self.freq(c, pair))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default comparisons with flat m and u: only the vetoes matter here.
    fn weights() -> Weights {
        let model = crate::model::flat_model(&crate::compare::Comparison::defaults(), 1e-6);
        Weights::new(&model)
    }

    /// A vector from (comparison, level) pairs; the rest null.
    fn v(levels: &[(usize, u64)]) -> u64 {
        levels.iter().fold(0, |v, &(c, l)| v | (l << (4 * c)))
    }

    /// Scoring a batch (frequencies read from the left row's features) gives every pair the
    /// vector and weight, to the bit, that scoring it alone (frequencies read from the
    /// columns) does; and the frequencies do adjust some of those weights.
    #[test]
    fn a_batch_scores_each_pair_as_scoring_it_alone_does() {
        let records = crate::synth::generated_records(2_000, 9, &["dedupe.csv"]);
        let model = crate::model::flat_model(&crate::compare::Comparison::defaults(), 1e-4);
        let scorer = Scorer::new(&model, &records).unwrap();
        let mode = crate::link::dedupe_mode(&records, 0).unwrap();
        let rule: crate::block::BlockingRule = "dob:year".parse().unwrap();
        let blocker = crate::block::Blocker::new(&records, &[rule], &mode).unwrap();
        let pairs: Vec<Pair> = blocker.pairs(1 << 20).flatten().collect();
        assert!(pairs.len() > 5_000, "{} pairs", pairs.len());
        let mut adjusted = 0;
        let mut seen = 0;
        scorer.for_each_score(&pairs, |p, v, w| {
            let (v1, w1) = scorer.score(p);
            assert_eq!((v, w.bits().to_bits()), (v1, w1.bits().to_bits()));
            let e = scorer.explain(p);
            adjusted += usize::from(e.contributions.iter().any(|c| c.tf_adjustment != 0.0));
            seen += 1;
        });
        assert_eq!(seen, pairs.len());
        assert!(adjusted > 100, "{adjusted} pairs adjusted");
    }

    /// Issue 11: a given name missing on one side, with no date of birth to compare, is
    /// vetoed (surname and address say one household, not one person) and says so; with the
    /// dates of birth agreeing, or an NHS number agreeing, or names swapped, it is not.
    #[test]
    fn a_missing_given_name_without_dates_of_birth_vetoes() {
        let w = weights();
        // given 0, surname 1, dob 2, location 3, nhs 4, sex 5 (Comparison::defaults order).
        let household = v(&[(1, 1), (3, 1)]);
        assert_eq!(w.veto(household, false), Some(Veto::Missing(0)));
        assert_eq!(w.veto(v(&[(1, 1), (2, 1), (3, 1)]), false), None);
        assert_eq!(w.veto(v(&[(1, 1), (3, 1), (4, 1)]), false), None);
        assert_eq!(w.veto(v(&[(1, 2), (3, 1)]), false), None, "swapped names");
        // Given names that differ outright still veto, naming the field.
        assert_eq!(
            w.veto(v(&[(0, 6), (1, 1), (2, 1), (3, 1)]), false),
            Some(Veto::Comparison(0))
        );
    }
}
