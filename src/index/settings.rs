//! Building an index: the builder's options and the settings fixed at build.

use std::sync::RwLock;

use super::Index;
use super::people::{self};
use super::population::Inner;
use crate::block::BlockingRule;
use crate::compare::Spec;
use crate::error::{ErrorKind, config_err};
use crate::model::{Model, Weights};
use crate::record::Records;
use crate::rules::MatchRule;
use crate::schema::ColumnConfig;
use crate::{Error, Linker};

/// Builds an [`Index`].
#[derive(Clone, Debug)]
pub struct IndexBuilder {
    pub(super) model: Model,
    pub(super) rules: Vec<MatchRule>,
    pub(super) columns: ColumnConfig,
    pub(super) accept_test: bool,
    pub(super) person_ids: bool,
}

/// What an index's settings are, fixed at build.
pub(super) struct Settings {
    pub(super) model: Model,
    pub(super) rules: Vec<MatchRule>,
    pub(super) weights: Weights,
    pub(super) cmps: Vec<Spec>,
    pub(super) blocking: Vec<BlockingRule>,
    pub(super) columns: ColumnConfig,
    pub(super) accept_test: bool,
    /// The carried columns, in the store's order.
    pub(super) others: Vec<String>,
}

impl IndexBuilder {
    /// The deterministic rules tried before the model. Default: [`MatchRule::defaults`].
    pub fn rules(&mut self, rules: Vec<MatchRule>) -> &mut Self {
        self.rules = rules;
        self
    }

    /// The column mapping that queries and inserts given by column name go through (the one
    /// the population was read with). Default: none (names recognised as in files).
    pub fn columns(&mut self, columns: ColumnConfig) -> &mut Self {
        self.columns = columns;
        self
    }

    /// Accept NHS numbers in the never-issued 999 test range in queries and inserts, as
    /// [`crate::RecordsBuilder::accept_test_nhs_numbers`] does for files (build the index
    /// from a store read with the same setting). Default: true, as there.
    pub fn accept_test_nhs_numbers(&mut self, yes: bool) -> &mut Self {
        self.accept_test = yes;
        self
    }

    /// Keep a person id per record: each person found in the population (by a dedupe of it)
    /// gets an id, inserted records take the id of the person they match, and merges and
    /// splits are reported ([`Index::insert`], [`Index::update`], [`Index::remove`]).
    /// Default: false.
    pub fn person_ids(&mut self, yes: bool) -> &mut Self {
        self.person_ids = yes;
        self
    }

    /// The index of the population in `records` (which must hold one source).
    ///
    /// # Errors
    ///
    /// A usage error when `records` holds several sources; a config error when the model
    /// compares pseudonymised columns (not indexed yet) or names a column the population
    /// lacks, or when a rule is invalid.
    pub fn build(&self, records: Records) -> Result<Index, Error> {
        if records.sources().len() > 1 {
            return Err(Error::new(
                ErrorKind::Usage,
                "an index holds one population: build it from one source".to_string(),
            ));
        }
        let settings = Settings::new(self, &records)?;
        let person_rows = if self.person_ids {
            Some(Self::dedupe_links(&settings, &records)?)
        } else {
            None
        };
        let inner = Inner::build(&settings, records, person_rows)?;
        Ok(Index {
            settings,
            inner: RwLock::new(inner),
        })
    }

    /// The population's own people (a dedupe of it) and the matches that made them.
    pub(super) fn dedupe_links(s: &Settings, records: &Records) -> Result<people::People, Error> {
        let n = records.len();
        if n == 0 {
            return Ok(people::People::from_clusters(
                &crate::Clusters::new(records, &[]),
                0,
                &[],
            ));
        }
        let linker = Linker::builder()
            .rules(s.rules.clone())
            .model(Some(s.model.clone()))
            .build()?;
        let result = linker.dedupe(records, 0)?;
        let links: Vec<(u32, u32)> = result
            .matches()
            .map(|l| (l.pair.left, l.pair.right))
            .collect();
        Ok(people::People::from_clusters(
            &result.clusters(records),
            n,
            &links,
        ))
    }
}

impl Settings {
    /// The settings of an index of `records`: every way to make an index (a build, a load,
    /// the C and Python entry points) passes here, so what an index may hold is checked once.
    pub(super) fn new(b: &IndexBuilder, records: &Records) -> Result<Settings, Error> {
        if records.scheme().is_some() {
            return Err(config_err(
                "the population is pseudonymised, and an index holds clear data: link \
                 pseudonymised files in a batch"
                    .into(),
            ));
        }
        let model = &b.model;
        model.check_fits(records)?;
        let others: Vec<String> = records.other_columns().map(str::to_string).collect();
        let mut cmps = Vec::new();
        for c in model.comparisons() {
            let spec = Spec::new(c, records)?;
            if spec.is_encoded() {
                return Err(config_err(format!(
                    "comparison '{}': pseudonymised files cannot be indexed yet; \
                     link them in a batch",
                    c.field
                )));
            }
            cmps.push(spec);
        }
        let mut blocking: Vec<BlockingRule> = model.blocking().to_vec();
        let ladder = Linker::builder()
            .rules(b.rules.clone())
            .model(Some(model.clone()))
            .build()?;
        for r in ladder.blocking_rules() {
            if !blocking.contains(&r) {
                blocking.push(r);
            }
        }
        for r in &blocking {
            for k in r.keys() {
                if let crate::block::Field::Other(name) = &k.field
                    && !others.contains(name)
                {
                    return Err(config_err(format!(
                        "blocking rule '{r}': no column '{name}' in the population"
                    )));
                }
            }
        }
        Ok(Settings {
            weights: Weights::new(model),
            cmps,
            blocking,
            rules: b.rules.clone(),
            columns: b.columns.clone(),
            accept_test: b.accept_test,
            others,
            model: model.clone(),
        })
    }
}
