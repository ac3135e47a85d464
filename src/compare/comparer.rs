//! Comparisons made ready on a store ([`Spec`], [`Prepared`]) and all of a model's at once
//! ([`Comparer`]), with the term frequencies that adjust their exact levels.

use std::sync::Arc;

use super::encoded;
use super::{Comparison, Kind, Lookup, MAX_COMPARISONS, clear_level, column_level};
use crate::Error;
use crate::block::Pair;
use crate::error::config_err;
use crate::record::{EMPTY_WORDS, NO_ID, NameSketches, Records, RowFeatures, Words};

/// The field whose value frequencies adjust a comparison's exact level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TfField {
    Given,
    Surname,
    Postcode,
    /// A carried column, by its position among the store's columns.
    Column(usize),
    /// A pseudonymised comparison's exact-match token column.
    Encoded,
}

impl TfField {
    /// The value id row `row` of `r` holds in this field (`NO_ID` when it has none). Encoded
    /// columns are read through [`encoded::Encoded`], not here.
    pub(crate) fn value(self, r: &Records, row: u32) -> u32 {
        let i = row as usize;
        match self {
            TfField::Given => r.given_names().rows[i],
            TfField::Surname => r.surnames().rows[i],
            TfField::Postcode => r.postcodes().rows[i],
            TfField::Column(c) => r.other_column(c).rows[i],
            TfField::Encoded => NO_ID,
        }
    }

    /// The text of value id `id` of this field (a normalised name, a postcode, a carried
    /// column's folded value): what a term frequency counts. `None` for encoded fields.
    pub(crate) fn text(self, r: &Records, id: u32) -> Option<&str> {
        match self {
            TfField::Given => Some(r.given_names().dict.values.get(id)),
            TfField::Surname => Some(r.surnames().dict.values.get(id)),
            TfField::Postcode => Some(r.postcodes().dict.values.get(id)),
            TfField::Column(c) => Some(r.other_column(c).dict.get(id)),
            TfField::Encoded => None,
        }
    }

    /// Every row's value id in this field and the number of distinct values, for the
    /// clear fields.
    fn rows(self, r: &Records) -> Option<(&[u32], usize)> {
        match self {
            TfField::Given | TfField::Surname => {
                let names = r.names(self == TfField::Given);
                Some((names.rows, names.dict.values.len()))
            }
            TfField::Postcode => Some((r.postcodes().rows, r.postcodes().dict.values.len())),
            TfField::Column(c) => Some((r.other_column(c).rows, r.other_column(c).dict.len())),
            TfField::Encoded => None,
        }
    }
}

/// One comparison as the batch comparer and the index both run it: its kind and
/// thresholds, the carried column it reads, and the field whose frequencies adjust its exact
/// level. [`Spec::new`] is the one place these are decided, and [`Spec::level`] the one
/// place a clear pair's level is computed, so a batch run and an index cannot disagree.
#[derive(Clone, Debug)]
pub(crate) struct Spec {
    pub(crate) kind: Kind,
    pub(crate) thresholds: Vec<f64>,
    /// For text and identifier kinds: the carried column's position in the store.
    pub(crate) column: Option<usize>,
    pub(crate) tf: Option<TfField>,
}

impl Spec {
    /// Makes `c` ready for stores whose carried columns are those of `records`.
    pub(crate) fn new(c: &Comparison, records: &Records) -> Result<Spec, Error> {
        c.validate()?;
        let mut column = None;
        let tf = match c.kind {
            Kind::GivenName => Some(TfField::Given),
            Kind::Surname => Some(TfField::Surname),
            Kind::Location | Kind::Postcode => Some(TfField::Postcode),
            Kind::Text | Kind::Identifier => {
                let i = records.other_position(&c.field).ok_or_else(|| {
                    config_err(format!(
                        "comparison '{}': no such column in the input",
                        c.field
                    ))
                })?;
                column = Some(i);
                Some(TfField::Column(i))
            }
            Kind::EncodedGivenName | Kind::EncodedSurname | Kind::EncodedLocation => {
                Some(TfField::Encoded)
            }
            Kind::DateOfBirth
            | Kind::Address
            | Kind::NhsNumber
            | Kind::Sex
            | Kind::EncodedDateOfBirth
            | Kind::EncodedNhsNumber
            | Kind::EncodedSex => None,
        };
        Ok(Spec {
            kind: c.kind,
            thresholds: c.thresholds.clone(),
            column,
            tf,
        })
    }

    /// True for the pseudonymised kinds, which read token and filter columns by row.
    pub(crate) fn is_encoded(&self) -> bool {
        !encoded::columns_of(self.kind).is_empty()
    }

    /// The level of a clear comparison for the sides whose features are `x` and `y`;
    /// `text(column)` gives the two sides' values of a carried column.
    #[inline]
    pub(crate) fn level<'t>(
        &self,
        lookup: &Lookup<'_>,
        x: &RowFeatures,
        y: &RowFeatures,
        text: impl FnOnce(usize) -> [Option<&'t str>; 2],
    ) -> u8 {
        match self.column {
            Some(col) => match text(col) {
                [Some(a), Some(b)] => column_level(self.kind, a, b, a == b, &self.thresholds),
                _ => 0,
            },
            None => clear_level(self.kind, &self.thresholds, lookup, x, y),
        }
    }
}

/// A comparison made ready on a store: per-value features computed once.
pub(crate) struct Prepared<'a> {
    records: &'a Records,
    spec: Spec,
    /// For address and location: sorted word hashes of each address value (CSR), shared
    /// through the store's cache.
    words: Option<Arc<Words>>,
    /// For the name kinds: the names' sketches, shared through the store's cache.
    names: Option<Arc<NameSketches>>,
    /// For pseudonymised kinds: the token and filter columns.
    encoded: Option<encoded::Encoded<'a>>,
    /// Term frequency of each value of the exact level's field (share of rows), if any.
    pub(crate) tf: Vec<f64>,
}

impl<'a> Prepared<'a> {
    /// Prepares `c` on `records`.
    pub(crate) fn new(records: &'a Records, c: &Comparison) -> Result<Prepared<'a>, Error> {
        let spec = Spec::new(c, records)?;
        let words =
            matches!(c.kind, Kind::Location | Kind::Address).then(|| records.address_words());
        let names =
            matches!(c.kind, Kind::GivenName | Kind::Surname).then(|| records.name_sketches());
        let mut tf = Vec::new();
        let mut encoded = None;
        if spec.is_encoded() {
            let e = encoded::Encoded::new(records, c.kind)?;
            if let Some(rows) = e.exact_rows() {
                let n = rows
                    .iter()
                    .filter(|&&v| v != NO_ID)
                    .map(|&v| v as usize + 1)
                    .max()
                    .unwrap_or(0);
                tf = frequencies(rows, n);
            }
            encoded = Some(e);
        } else if let Some((rows, n)) = spec.tf.and_then(|f| f.rows(records)) {
            tf = frequencies(rows, n);
        }
        Ok(Prepared {
            records,
            spec,
            words,
            names,
            encoded,
            tf,
        })
    }

    /// Replaces the term frequencies counted on this store by `share(text)` per value: the
    /// share of records holding it in data this store is a part of (a distributed run's
    /// counts over all its data).
    ///
    /// # Errors
    ///
    /// A config error for a pseudonymised comparison, whose values are not text.
    pub(crate) fn set_frequencies(&mut self, share: impl Fn(&str) -> f64) -> Result<(), Error> {
        let Some(field) = self.spec.tf else {
            return Ok(());
        };
        let Some((_, n)) = field.rows(self.records) else {
            return Err(config_err(
                "term frequencies of pseudonymised comparisons cannot be given from outside".into(),
            ));
        };
        self.tf = (0..n as u32)
            .map(|v| field.text(self.records, v).map_or(0.0, &share))
            .collect();
        Ok(())
    }

    /// The value id whose term frequency adjusts the exact level for `pair`, if any.
    pub(crate) fn tf_value(&self, pair: Pair) -> Option<u32> {
        let v = match self.spec.tf? {
            TfField::Encoded => self.encoded.as_ref()?.exact_rows()?[pair.left as usize],
            f => f.value(self.records, pair.left),
        };
        (v != NO_ID).then_some(v)
    }

    /// [`Prepared::tf_value`] where `x` is the features of `pair.left`: the names and the
    /// postcode are read there, not from their columns (a cache miss a pair less).
    #[inline]
    pub(crate) fn tf_value_of(&self, pair: Pair, x: &RowFeatures) -> Option<u32> {
        let v = match self.spec.tf? {
            TfField::Given => x.given,
            TfField::Surname => x.surname,
            TfField::Postcode => x.postcode[0],
            _ => return self.tf_value(pair),
        };
        (v != NO_ID).then_some(v)
    }

    /// The level of the pair whose rows have features `x` and `y` (rows `pair`).
    #[inline]
    pub(crate) fn level(&self, x: &RowFeatures, y: &RowFeatures, pair: Pair) -> u8 {
        if let Some(e) = &self.encoded {
            return e.level(pair.left, pair.right, &self.spec.thresholds);
        }
        let lookup = Lookup {
            records: self.records,
            words: self.words.as_deref().unwrap_or(&EMPTY_WORDS),
            outside: None,
            names: self.names.as_deref(),
        };
        let r = self.records;
        self.spec.level(&lookup, x, y, |col| {
            [pair.left, pair.right].map(|row| r.other_at(col, row))
        })
    }
}

/// Share of rows holding each value id.
pub(super) fn frequencies(rows: &[u32], n: usize) -> Vec<f64> {
    let mut counts = vec![0u64; n];
    let mut total = 0u64;
    for &v in rows {
        if v != NO_ID {
            counts[v as usize] += 1;
            total += 1;
        }
    }
    let total = total.max(1) as f64;
    counts.iter().map(|&c| c as f64 / total).collect()
}

/// All comparisons of a model, prepared on one store.
pub(crate) struct Comparer<'a> {
    records: &'a Records,
    pub(crate) prepared: Vec<Prepared<'a>>,
    features: Arc<Vec<RowFeatures>>,
}

impl<'a> Comparer<'a> {
    pub(crate) fn new(
        records: &'a Records,
        comparisons: &[Comparison],
    ) -> Result<Comparer<'a>, Error> {
        if comparisons.is_empty() || comparisons.len() > MAX_COMPARISONS {
            return Err(config_err(format!(
                "a model needs between 1 and {MAX_COMPARISONS} comparisons"
            )));
        }
        let prepared = comparisons
            .iter()
            .map(|c| Prepared::new(records, c))
            .collect::<Result<_, _>>()?;
        let features = records.features();
        Ok(Comparer {
            records,
            prepared,
            features,
        })
    }

    /// The store the comparisons read.
    pub(crate) fn records(&self) -> &'a Records {
        self.records
    }

    /// The comparison vector of `pair`: level of comparison i in bits 4i..4i+4.
    #[inline]
    pub(crate) fn vector(&self, pair: Pair) -> u64 {
        let x = &self.features[pair.left as usize];
        let y = &self.features[pair.right as usize];
        self.vector_of(x, y, pair)
    }

    /// The comparison vector of `pair`, whose rows' features are `x` and `y`.
    #[inline]
    fn vector_of(&self, x: &RowFeatures, y: &RowFeatures, pair: Pair) -> u64 {
        let mut v = 0u64;
        for (i, p) in self.prepared.iter().enumerate() {
            v |= u64::from(p.level(x, y, pair)) << (4 * i);
        }
        v
    }

    /// Hands `f` each of `pairs` with its comparison vector, in order (see
    /// [`Comparer::for_each_vector_of`]).
    #[inline]
    pub(crate) fn for_each_vector(&self, pairs: &[Pair], mut f: impl FnMut(Pair, u64)) {
        self.for_each_vector_of(pairs, |p, v, _| f(p, v));
    }

    /// Hands `f` each of `pairs` with its comparison vector and its left row's features, in
    /// order. The rows' features
    /// are copied out a batch of pairs at a time before any is compared: the copies' loads
    /// do not wait on each other, so the processor fetches a batch's rows from memory
    /// together, where comparing pair by pair waited for each row in turn (perf on the 1M
    /// link: the first read of each row was two thirds of `clear_level`'s samples).
    #[inline]
    pub(crate) fn for_each_vector_of(
        &self,
        pairs: &[Pair],
        mut f: impl FnMut(Pair, u64, &RowFeatures),
    ) {
        const GATHER: usize = 16;
        let features = &self.features[..];
        for batch in pairs.chunks(GATHER) {
            let rows: [[RowFeatures; 2]; GATHER] = std::array::from_fn(|k| {
                let p = batch.get(k).copied().unwrap_or(batch[0]);
                [features[p.left as usize], features[p.right as usize]]
            });
            for (&p, [x, y]) in batch.iter().zip(&rows) {
                f(p, self.vector_of(x, y, p), x);
            }
        }
    }
}

/// The level of comparison `i` in vector `v`.
#[inline]
pub(crate) fn level_of(v: u64, i: usize) -> u8 {
    ((v >> (4 * i)) & 0xF) as u8
}
