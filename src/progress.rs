//! Progress of the long steps (reading a source, comparing candidate pairs), for a caller
//! that shows it: the command line draws bars with rate and ETA from these reports.
//!
//! An [`Observer`] is given to [`crate::RecordsBuilder::progress`] and
//! [`crate::link::LinkerBuilder::progress`]; it is called from the thread that runs the step,
//! between chunks of work (every 16,384 rows read, every chunk of candidate pairs), so it
//! costs nothing measurable. A report carries counts only, never a value.

use std::sync::Arc;

/// What a step counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Bytes of a file read.
    Bytes,
    /// Rows read.
    Rows,
    /// Candidate pairs examined (a pair two blocking rules both make is counted for each).
    Pairs,
}

/// How far a step has got.
#[derive(Clone, Copy, Debug)]
pub struct Step<'a> {
    /// The step: `reading <source name>`, or `comparing`.
    pub what: &'a str,
    /// What `done` and `total` count.
    pub unit: Unit,
    /// Done so far.
    pub done: u64,
    /// The whole, when known (a compressed file or standard input has none).
    pub total: Option<u64>,
}

/// A callback for [`Step`] reports, shared by the threads of a run.
#[derive(Clone)]
pub struct Observer(Arc<dyn Fn(&Step<'_>) + Send + Sync>);

impl Observer {
    /// An observer calling `f` with each report.
    pub fn new(f: impl Fn(&Step<'_>) + Send + Sync + 'static) -> Observer {
        Observer(Arc::new(f))
    }

    /// Reports `step`.
    pub(crate) fn report(&self, step: &Step<'_>) {
        (self.0)(step);
    }
}

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Observer")
    }
}

/// Reports `step` to `observer`, if there is one.
pub(crate) fn report(observer: Option<&Observer>, step: &Step<'_>) {
    if let Some(o) = observer {
        o.report(step);
    }
}
