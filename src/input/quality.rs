//! The data-quality report: per source and column, how many values are present, missing
//! or invalid, and the lines of the first invalid ones.

use std::fmt;

use super::FIRST_LINES;
use super::normalise::Normalised;
use crate::Error;
use crate::error::ErrorKind;
use crate::record::NO_ID;
use crate::schema::Role;

/// What a distinct raw value normalised to, for the quality report.
#[derive(Clone, Copy)]
pub(super) enum Status {
    Present,
    Missing,
    Invalid(&'static str),
}

pub(super) fn problems_of<T>(v: &[Normalised<T>]) -> Vec<Status> {
    v.iter().map(status_of).collect()
}

/// The status of one normalised value.
pub(super) fn status_of<T>(v: &Normalised<T>) -> Status {
    match v {
        Normalised::Value(_) => Status::Present,
        Normalised::Missing => Status::Missing,
        Normalised::Invalid(p) => Status::Invalid(p),
    }
}

pub(super) fn map_rows<T: Copy>(rows: &[u32], ids: &[T], none: T) -> Vec<T> {
    rows.iter()
        .map(|&r| if r == NO_ID { none } else { ids[r as usize] })
        .collect()
}

pub(super) fn column_quality(
    column: String,
    role: Option<Role>,
    rows: std::ops::Range<u32>,
    raw_rows: &[u32],
    statuses: &[Status],
    lines: &[u64],
) -> ColumnQuality {
    let mut q = ColumnQuality {
        column,
        role,
        present: 0,
        missing: 0,
        problems: Vec::new(),
    };
    for row in rows {
        let r = row as usize;
        let raw = raw_rows[r];
        let status = if raw == NO_ID {
            Status::Missing
        } else {
            statuses
                .get(raw as usize)
                .copied()
                .unwrap_or(Status::Missing)
        };
        if let Status::Invalid(p) = status {
            let e = if let Some(i) = q.problems.iter_mut().position(|x| x.problem == p) {
                &mut q.problems[i]
            } else {
                q.problems.push(ProblemCount {
                    problem: p,
                    count: 0,
                    first_lines: Vec::new(),
                });
                q.problems.last_mut().expect("just pushed")
            };
            e.count += 1;
            if e.first_lines.len() < FIRST_LINES {
                e.first_lines.push(lines[r]);
            }
        } else if let Status::Missing = status {
            q.missing += 1;
        } else {
            q.present += 1;
        }
    }
    q.problems
        .sort_by(|a, b| b.count.cmp(&a.count).then(a.problem.cmp(b.problem)));
    q
}

/// Counts of present, missing and invalid values per source and column.
///
/// Never holds a value: only counts, problem names and line numbers.
#[derive(Clone, Debug, Default)]
pub struct QualityReport {
    /// One entry per source, in the order added.
    pub sources: Vec<SourceQuality>,
}

/// The data quality of one source.
#[derive(Clone, Debug)]
pub struct SourceQuality {
    /// The source's name (its file path).
    pub file: String,
    /// Data rows read.
    pub rows: u64,
    /// One entry per used column.
    pub columns: Vec<ColumnQuality>,
}

/// The data quality of one column (or group of address columns).
#[derive(Clone, Debug)]
pub struct ColumnQuality {
    /// Header name(s).
    pub column: String,
    /// The role, or `None` for a carried-through column.
    pub role: Option<Role>,
    /// Rows with a usable value.
    pub present: u64,
    /// Rows with no value (empty or a placeholder).
    pub missing: u64,
    /// Rows whose value was invalid and is treated as missing, by problem.
    pub problems: Vec<ProblemCount>,
}

/// How many rows had one problem, and the first few of their line numbers.
#[derive(Clone, Debug)]
pub struct ProblemCount {
    /// The problem, e.g. "check digit".
    pub problem: &'static str,
    /// Rows with it.
    pub count: u64,
    /// The first few line numbers (the header is line 1).
    pub first_lines: Vec<u64>,
}

impl QualityReport {
    /// The number of invalid values across all sources and columns.
    pub fn invalid_total(&self) -> u64 {
        self.sources
            .iter()
            .flat_map(|s| &s.columns)
            .flat_map(|c| &c.problems)
            .map(|p| p.count)
            .sum()
    }

    /// The invalid value on the earliest line, as a value error.
    pub(super) fn first_problem(&self) -> Option<Error> {
        let mut best: Option<(usize, u64, &ColumnQuality, &ProblemCount)> = None;
        for (si, s) in self.sources.iter().enumerate() {
            for c in &s.columns {
                for p in &c.problems {
                    let line = p.first_lines.first().copied().unwrap_or(0);
                    if best.is_none_or(|(bs, bl, _, _)| (si, line) < (bs, bl)) {
                        best = Some((si, line, c, p));
                    }
                }
            }
        }
        best.map(|(si, line, c, p)| {
            Error::new(
                ErrorKind::Value,
                crate::error::locate(
                    &self.sources[si].file,
                    line,
                    Some(&c.column),
                    &format!("invalid value: {} (strict mode)", p.problem),
                ),
            )
        })
    }
}

impl fmt::Display for QualityReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.sources {
            writeln!(f, "data quality: {} ({} rows)", s.file, s.rows)?;
            writeln!(
                f,
                "  {:<24} {:>10} {:>10} {:>10}",
                "column", "present", "missing", "invalid"
            )?;
            for c in &s.columns {
                let invalid: u64 = c.problems.iter().map(|p| p.count).sum();
                write!(
                    f,
                    "  {:<24} {:>10} {:>10} {:>10}",
                    c.column, c.present, c.missing, invalid
                )?;
                for p in &c.problems {
                    let lines: Vec<String> = p.first_lines.iter().map(u64::to_string).collect();
                    write!(
                        f,
                        "  {}: {} (lines {}",
                        p.problem,
                        p.count,
                        lines.join(", ")
                    )?;
                    if p.count > p.first_lines.len() as u64 {
                        write!(f, ", ...")?;
                    }
                    write!(f, ")")?;
                }
                writeln!(f)?;
            }
        }
        Ok(())
    }
}
