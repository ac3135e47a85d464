//! The population: the indexed rows, their features and term-frequency counts, and the
//! scoring and deciding of a query against them.

use std::io::{self, Write};

use rayon::prelude::*;

use super::answer::{Candidate, QueryDecision, QueryOptions};
use super::buckets::Block;
use super::ids::Ids;
use super::keys::{self, View};
use super::people::{self, PersonChange, PersonChanges};
use super::settings::Settings;
use crate::Error;
use crate::colfile::ColWriter;
use crate::compare::Lookup;
use crate::error::ErrorKind;
use crate::link::{Decision, model_decision, odds_bits};
use crate::model::MatchWeight;
use crate::record::{NO_ID, NewRow, Outside, Records, RowFeatures, Words, address_words};

/// Counts of each value of a term-frequency field among live rows.
#[derive(Clone, Default)]
pub(super) struct Counts {
    pub(super) counts: Vec<u32>,
    pub(super) present: u64,
}

/// The term-frequency counts of every row of `records`, per comparison (as [`Inner::count`]
/// adds them one row at a time), each comparison's on its own thread.
fn tally(s: &Settings, records: &Records) -> Vec<Option<Counts>> {
    s.cmps
        .par_iter()
        .map(|cmp| {
            cmp.tf.map(|f| {
                let mut c = Counts::default();
                for row in 0..records.len() as u32 {
                    let v = f.value(records, row);
                    if v == NO_ID {
                        continue;
                    }
                    let i = v as usize;
                    if c.counts.len() <= i {
                        c.counts.resize(i + 1, 0);
                    }
                    c.counts[i] += 1;
                    c.present += 1;
                }
                c
            })
        })
        .collect()
}

/// The population and everything derived from it.
pub(super) struct Inner {
    pub(super) records: Records,
    pub(super) words: Words,
    /// Given-name id → the same text's surname id (for swapped names), or `NO_ID`.
    pub(super) cross: Vec<u32>,
    pub(super) live: Vec<bool>,
    pub(super) live_count: u64,
    pub(super) ids: Ids,
    pub(super) blocks: Vec<Block>,
    pub(super) counts: Vec<Option<Counts>>,
    pub(super) people: Option<people::People>,
}

impl Inner {
    pub(super) fn build(
        s: &Settings,
        records: Records,
        people: Option<people::People>,
    ) -> Result<Inner, Error> {
        Inner::assemble(s, records, None, None, people).ok_or_else(|| {
            Error::new(
                ErrorKind::Input,
                "the population holds a record id twice".to_string(),
            )
        })
    }

    /// The population of `records`, with its address words and bucket tables when they
    /// were saved (made here when `None`); `None` when two rows hold one record id or the
    /// saved tables are not one per blocking rule.
    pub(super) fn assemble(
        s: &Settings,
        records: Records,
        words: Option<Words>,
        blocks: Option<Vec<Block>>,
        people: Option<people::People>,
    ) -> Option<Inner> {
        let n = records.len();
        let g = &records.given_names().dict.values;
        let sd = &records.surnames().dict.values;
        let cross: Vec<u32> = (0..g.len() as u32)
            .map(|i| sd.lookup(g.get(i)).unwrap_or(NO_ID))
            .collect();
        let words = words.unwrap_or_else(|| Words::of(records.addresses().dict));
        let blocks = match blocks {
            Some(b) if b.len() == s.blocking.len() => b,
            Some(_) => return None,
            None => s
                .blocking
                .iter()
                .map(|rule| Block::build(keys::buckets(&records, rule, &s.others)))
                .collect(),
        };
        let live = vec![true; n];
        let (ids, counts) = rayon::join(|| Ids::build(&records, &live), || tally(s, &records));
        Some(Inner {
            counts,
            people,
            records,
            words,
            cross,
            live,
            live_count: n as u64,
            ids: ids?,
            blocks,
        })
    }

    /// Writes the store, the bucket tables, the address words and the people (see
    /// `file.rs`); every row must be live.
    pub(super) fn write_to<W: Write>(&self, s: &Settings, w: &mut ColWriter<W>) -> io::Result<()> {
        self.records.write_columns(w)?;
        w.u64(keys::fingerprint())?;
        w.u64(self.blocks.len() as u64)?;
        for (b, rule) in self.blocks.iter().zip(&s.blocking) {
            // Rows inserted since the build join the table in the file.
            let merged;
            let b = if b.extra.is_empty() {
                b
            } else {
                merged = Block::build(keys::buckets(&self.records, rule, &s.others));
                &merged
            };
            w.u32(b.bits)?;
            w.u32s(&b.dir)?;
            w.u32s(&b.fps)?;
            w.u32s(&b.rows)?;
        }
        let (start, toks) = self.words.parts();
        w.u32s(start)?;
        w.u64s(toks)?;
        match &self.people {
            None => w.u8(0),
            Some(p) => {
                w.u8(1)?;
                p.write_to(w, self.records.len())
            }
        }
    }

    /// The population without its removed rows: their values leave the dictionaries too,
    /// so a saved file holds nothing of a removed record.
    pub(super) fn compacted(&self, s: &Settings) -> Result<Inner, Error> {
        let mut records = Records::with_other_columns(&s.others);
        let mut saved_as = vec![u32::MAX; self.records.len()];
        let live: Vec<u32> = (0..self.records.len() as u32)
            .filter(|&r| self.live[r as usize])
            .collect();
        for &row in &live {
            saved_as[row as usize] = records.push(&self.records.row(row), "index")?;
        }
        let people = self.people.as_ref().map(|p| {
            let ids: Vec<String> = live.iter().map(|&r| p.id_of(r).to_string()).collect();
            let edges = live
                .iter()
                .map(|&r| {
                    p.links(r)
                        .iter()
                        .map(|&b| saved_as[b as usize])
                        .filter(|&b| b != u32::MAX)
                        .collect()
                })
                .collect();
            people::People::from_saved(&ids, edges)
        });
        Inner::build(s, records, people)
    }

    /// Adds (or takes away) row `row` from the term-frequency counts.
    pub(super) fn count(&mut self, s: &Settings, row: u32, add: bool) {
        for (c, cmp) in s.cmps.iter().enumerate() {
            let Some(f) = cmp.tf else { continue };
            let v = f.value(&self.records, row);
            let Some(counts) = self.counts[c].as_mut() else {
                continue;
            };
            if v == NO_ID {
                continue;
            }
            let i = v as usize;
            if counts.counts.len() <= i {
                counts.counts.resize(i + 1, 0);
            }
            if add {
                counts.counts[i] += 1;
                counts.present += 1;
            } else {
                counts.counts[i] = counts.counts[i].saturating_sub(1);
                counts.present = counts.present.saturating_sub(1);
            }
        }
    }

    /// The frequency of the value row `row` holds in comparison `c`'s field, floored at one
    /// row, as the batch scorer computes it.
    pub(super) fn freq(&self, s: &Settings, c: usize, row: u32) -> Option<f64> {
        let f = s.cmps[c].tf?;
        let counts = self.counts[c].as_ref()?;
        let v = f.value(&self.records, row);
        if v == NO_ID {
            return None;
        }
        let k = counts.counts.get(v as usize).copied().unwrap_or(0);
        let share = f64::from(k) / counts.present.max(1) as f64;
        Some(share.max(1.0 / self.live_count.max(1) as f64))
    }

    /// The comparison features of row `row`, made when it is compared: keeping every row's
    /// (80 bytes) would cost more memory than the rows themselves, and making them is a
    /// dozen array reads.
    #[inline]
    fn features(&self, row: u32) -> RowFeatures {
        RowFeatures::of(&self.records, &self.cross, row as usize)
    }

    /// The comparison vector of query `x` (features `xf`, strings `xo`) against row `y`.
    pub(super) fn vector_outside(
        &self,
        s: &Settings,
        x: &NewRow,
        xf: &RowFeatures,
        xo: &Outside,
        y: u32,
    ) -> u64 {
        let text = |col: usize| x.others.get(col).and_then(|a| a.as_deref());
        self.vector(s, xf, Some(xo), text, y)
    }

    /// The comparison vector of two rows of the population.
    pub(super) fn vector_rows(&self, s: &Settings, a: u32, b: u32) -> u64 {
        let xf = self.features(a);
        let text = |col: usize| {
            let column = self.records.other_column(col);
            let v = column.rows[a as usize];
            (v != NO_ID).then(|| column.dict.get(v))
        };
        self.vector(s, &xf, None, text, b)
    }

    /// The comparison vector of a left side (features `xf`, strings outside the store
    /// `xo`, carried-column text `x_text`) against row `y`.
    pub(super) fn vector<'t>(
        &'t self,
        s: &Settings,
        xf: &RowFeatures,
        xo: Option<&Outside>,
        x_text: impl Fn(usize) -> Option<&'t str>,
        y: u32,
    ) -> u64 {
        let yf = self.features(y);
        let lookup = Lookup {
            records: &self.records,
            words: &self.words,
            outside: xo,
            names: None,
        };
        let mut v = 0u64;
        for (i, c) in s.cmps.iter().enumerate() {
            let l = c.level(&lookup, xf, &yf, |col| {
                [x_text(col), self.records.other_at(col, y)]
            });
            v |= u64::from(l) << (4 * i);
        }
        v
    }

    /// Appends `row` and everything derived from it.
    pub(super) fn append(&mut self, s: &Settings, row: &NewRow) -> Result<u32, Error> {
        let sizes = |r: &Records| {
            (
                r.given_names().dict.values.len(),
                r.surnames().dict.values.len(),
                r.addresses().dict.len(),
            )
        };
        let (g0, s0, a0) = sizes(&self.records);
        let source = "index";
        let i = self.records.push(row, source)?;
        let r = &self.records;
        let (given, surnames) = (&r.given_names().dict.values, &r.surnames().dict.values);
        // New given names learn their surname twin; a new surname teaches the given name.
        for g in g0..given.len() {
            let text = given.get(g as u32);
            self.cross.push(surnames.lookup(text).unwrap_or(NO_ID));
        }
        for sid in s0..surnames.len() {
            let text = surnames.get(sid as u32);
            if let Some(g) = given.lookup(text) {
                self.cross[g as usize] = sid as u32;
            }
        }
        let addresses = r.addresses().dict;
        for a in a0..addresses.len() {
            self.words.push(&address_words(addresses.get(a as u32)));
        }
        let view = View::of_row(&self.records, i);
        for (b, rule) in self.blocks.iter_mut().zip(&s.blocking) {
            if let Some(h) = keys::bucket(rule, &view, &s.others) {
                b.extra.entry(h).or_default().push(i);
            }
        }
        self.live.push(true);
        self.live_count += 1;
        self.ids.insert(&self.records, i);
        self.count(s, i, true);
        if let Some(p) = self.people.as_mut() {
            p.push_row();
        }
        Ok(i)
    }

    /// Marks row `row` removed.
    pub(super) fn retire(&mut self, s: &Settings, row: u32) {
        if !self.live[row as usize] {
            return;
        }
        self.count(s, row, false);
        self.live[row as usize] = false;
        self.live_count -= 1;
        self.ids.remove(&self.records, row);
    }

    /// Candidates, scores and decisions for `x`, best first.
    pub(super) fn query(
        &self,
        s: &Settings,
        x: &NewRow,
        opts: &QueryOptions,
    ) -> (QueryDecision, Vec<Scored>, usize) {
        let (xf, xo) = RowFeatures::outside(&self.records, x);
        let view = View::of_new(x);
        let mut rows: Vec<u32> = Vec::new();
        for (b, rule) in self.blocks.iter().zip(&s.blocking) {
            if let Some(h) = keys::bucket(rule, &view, &s.others) {
                rows.extend(b.rows(h).filter(|&r| self.live[r as usize]));
            }
        }
        rows.sort_unstable();
        rows.dedup();
        let compared = rows.len();
        let mut scored: Vec<Scored> = rows
            .iter()
            .map(|&y| {
                let v = self.vector_outside(s, x, &xf, &xo, y);
                let weight = s.weights.total(v, |c| self.freq(s, c, y));
                let placeholder = x.placeholder || self.records.newborn_placeholder(y);
                let rule =
                    keys::first_match(&s.rules, &view, &View::of_row(&self.records, y), &s.others);
                Scored {
                    row: y,
                    vector: v,
                    weight,
                    veto: s.weights.veto(v, placeholder),
                    rule,
                    decision: None,
                }
            })
            .collect();
        let decision = self.decide(s, &mut scored);
        let min = opts
            .min_probability
            .unwrap_or(s.model.thresholds().review_probability);
        scored.retain(|c| c.decision.is_some() || c.weight.probability().get() >= min);
        scored.sort_by(|a, b| {
            b.weight
                .bits()
                .total_cmp(&a.weight.bits())
                .then_with(|| self.records.id(a.row).cmp(self.records.id(b.row)))
        });
        scored.truncate(opts.limit);
        (decision, scored, compared)
    }

    /// Decides each candidate of `x` as a batch link decides the pairs of a left record:
    /// its best deterministic rule (ambiguous when two candidates meet it, unless they carry
    /// one valid NHS number), then the model's thresholds and vetoes, then the ambiguity
    /// margin between its two best model matches.
    pub(super) fn decide(&self, s: &Settings, scored: &mut [Scored]) -> QueryDecision {
        let t = s.model.thresholds();
        let (match_w, review_w) = (
            odds_bits(t.match_probability),
            odds_bits(t.review_probability),
        );
        let nhs = |r: u32| self.records.nhs_numbers()[r as usize];
        // Rules: the best rule any candidate meets decides the candidates at it.
        if let Some(best) = scored.iter().filter_map(|c| c.rule).min() {
            let at: Vec<u32> = scored
                .iter()
                .filter(|c| c.rule == Some(best))
                .map(|c| c.row)
                .collect();
            let one = at.len() == 1 || at.iter().all(|&r| nhs(r) != 0 && nhs(r) == nhs(at[0]));
            for c in scored.iter_mut() {
                if c.rule == Some(best) {
                    c.decision = Some(if one {
                        Decision::Match
                    } else {
                        Decision::Ambiguous
                    });
                } else {
                    // Superseded by the better rule: the model decides it.
                    c.rule = None;
                }
            }
        }
        for c in scored.iter_mut().filter(|c| c.decision.is_none()) {
            c.decision = model_decision(c.weight.bits(), c.veto.is_some(), match_w, review_w);
        }
        // Ambiguity between the two best model matches.
        let model_match = |c: &Scored| c.rule.is_none() && c.decision == Some(Decision::Match);
        let mut best: Vec<(f64, u32)> = scored
            .iter()
            .filter(|c| model_match(c))
            .map(|c| (c.weight.bits(), c.row))
            .collect();
        best.sort_by(|a, b| b.0.total_cmp(&a.0));
        if let [(w1, a), (w2, b), ..] = best[..] {
            let same_nhs = nhs(a) != 0 && nhs(a) == nhs(b);
            if w1 - w2 < t.ambiguity_margin && !same_nhs {
                let v = self.vector_rows(s, a, b);
                let w = s.weights.total(v, |c| self.freq(s, c, b));
                let placeholder =
                    self.records.newborn_placeholder(a) || self.records.newborn_placeholder(b);
                if w.bits() < match_w || s.weights.vetoed(v, placeholder) {
                    for c in scored.iter_mut().filter(|c| model_match(c)) {
                        c.decision = Some(Decision::Ambiguous);
                    }
                }
            }
        }
        let has = |d: Decision| scored.iter().any(|c| c.decision == Some(d));
        if has(Decision::Match) {
            QueryDecision::Match
        } else if has(Decision::Ambiguous) {
            QueryDecision::Ambiguous
        } else if has(Decision::Review) {
            QueryDecision::Review
        } else {
            QueryDecision::NoMatch
        }
    }
}

/// The rows of the candidates decided `match`.
pub(super) fn match_rows(scored: &[Scored]) -> Vec<u32> {
    scored
        .iter()
        .filter(|c| c.decision == Some(Decision::Match))
        .map(|c| c.row)
        .collect()
}

/// A candidate on its way to an answer.
pub(super) struct Scored {
    pub(super) row: u32,
    pub(super) vector: u64,
    pub(super) weight: MatchWeight,
    pub(super) veto: Option<crate::model::Veto>,
    pub(super) rule: Option<u16>,
    pub(super) decision: Option<Decision>,
}

impl Inner {
    /// Gives row `row` (record `id`) its person: that of the rows it matched, merging several.
    pub(super) fn link_person(
        &mut self,
        row: u32,
        id: &str,
        matched: &[u32],
    ) -> Option<PersonChanges> {
        let live = &self.live;
        let p = self.people.as_mut()?;
        for &m in matched {
            p.link(row, m);
        }
        let mut persons: Vec<u32> = matched.iter().filter_map(|&r| p.of(r)).collect();
        persons.sort_unstable();
        persons.dedup();
        match persons[..] {
            [] => {
                let name = p.assign_new(row, id);
                Some(PersonChanges {
                    person_id: name,
                    new_person: true,
                    changes: Vec::new(),
                })
            }
            [one] => {
                p.set(row, one);
                Some(PersonChanges {
                    person_id: p.name(one).to_string(),
                    new_person: false,
                    changes: Vec::new(),
                })
            }
            _ => {
                // Each person's records, walked from a row the record matched; the person
                // with the most keeps its id (ties: the smaller id).
                let mut groups: Vec<(u32, Vec<u32>)> = persons
                    .iter()
                    .map(|&q| {
                        let start = matched.iter().copied().find(|&m| p.of(m) == Some(q));
                        (q, start.map_or_else(Vec::new, |m| p.part(m, live)))
                    })
                    .collect();
                groups.sort_by(|(a, ra), (b, rb)| {
                    rb.len()
                        .cmp(&ra.len())
                        .then_with(|| p.name(*a).cmp(p.name(*b)))
                });
                let kept = groups[0].0;
                let mut names: Vec<String> = groups[1..]
                    .iter()
                    .map(|(q, _)| p.name(*q).to_string())
                    .collect();
                names.sort();
                for (_, rows) in &groups[1..] {
                    for &r in rows {
                        p.set(r, kept);
                    }
                }
                p.set(row, kept);
                let kept_name = p.name(kept).to_string();
                Some(PersonChanges {
                    person_id: kept_name.clone(),
                    new_person: false,
                    changes: vec![PersonChange::Merge {
                        kept: kept_name,
                        absorbed: names,
                    }],
                })
            }
        }
    }

    /// The rows `x` matches (decision `match`), for person ids.
    pub(super) fn matches(&self, s: &Settings, x: &NewRow) -> Vec<u32> {
        let all = QueryOptions {
            limit: usize::MAX,
            ..QueryOptions::default()
        };
        match_rows(&self.query(s, x, &all).1)
    }

    /// The answer's form of a scored candidate.
    pub(super) fn candidate(&self, s: &Settings, c: &Scored, explain: bool) -> Candidate {
        let explanation = explain.then(|| s.weights.explain(c.vector, |k| self.freq(s, k, c.row)));
        let match_w = crate::link::odds_bits(s.model.thresholds().match_probability);
        let reason = c.decision.and_then(|d| {
            let r = crate::link::reason_for(d, c.veto, Some(c.weight.bits()), match_w, false);
            let fields = s.model.comparisons();
            r.map(|r| {
                crate::link::reason_text(Some(r), |i| fields.get(i).map(|f| f.field.as_str()))
                    .into_owned()
            })
        });
        Candidate {
            id: self.records.id(c.row).to_string(),
            person_id: self.people.as_ref().map(|p| p.id_of(c.row).to_string()),
            weight: c.weight,
            probability: c.weight.probability(),
            decision: c.decision,
            rule: c.rule.map(|r| s.rules[usize::from(r)].name().to_string()),
            reason,
            explanation,
        }
    }

    /// Splits person `p` when the links among its live rows no longer connect them: the
    /// parts are walked from `starts`, the rows that were linked to the removed or changed
    /// record (every other row of the person is connected to one of them).
    pub(super) fn split_check(&mut self, p: u32, starts: &[u32]) -> Vec<PersonChange> {
        let Some(people) = self.people.as_ref() else {
            return Vec::new();
        };
        let mut parts: Vec<Vec<u32>> = Vec::new();
        for &st in starts {
            let seen = parts.iter().any(|part| part.binary_search(&st).is_ok());
            if self.live[st as usize] && people.of(st) == Some(p) && !seen {
                parts.push(people.part(st, &self.live));
            }
        }
        if parts.len() < 2 {
            return Vec::new();
        }
        let records = &self.records;
        let smallest = |part: &[u32]| part.iter().map(|&r| records.id(r)).min().unwrap_or("");
        // The largest part keeps the id (ties: the part with the smallest record id).
        parts.sort_by(|a, b| {
            b.len()
                .cmp(&a.len())
                .then_with(|| smallest(a).cmp(smallest(b)))
        });
        let ids: Vec<String> = parts
            .iter()
            .map(|part| smallest(part).to_string())
            .collect();
        let Some(people) = self.people.as_mut() else {
            return Vec::new();
        };
        let kept = people.name(p).to_string();
        let mut new: Vec<String> = parts[1..]
            .iter()
            .zip(&ids[1..])
            .map(|(part, id)| people.split_off(part, id))
            .collect();
        new.sort();
        vec![PersonChange::Split { kept, new }]
    }
}
