//! The one error type of the crate.
//!
//! An [`Error`] says what went wrong and where (file, line, column), and never what the
//! offending value was: input to this crate is patient data, and an error message ends up in
//! logs, tickets and e-mails.

use std::fmt;
use std::path::Path;

/// What kind of problem an [`Error`] reports.
///
/// The set of kinds may grow; match with a wildcard arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A file could not be opened, read or written.
    Io,
    /// The input is structurally wrong: malformed CSV, a ragged row, a missing or duplicated
    /// id, a header without a required column.
    Input,
    /// A value is invalid and strict mode asked for that to be fatal.
    Value,
    /// A configuration (JSON config, blocking rule, deterministic rule) is invalid.
    Config,
    /// The caller used the API or the command line wrongly.
    Usage,
    /// The run stopped before it held more memory than it may ([`crate::memory::Budget`]).
    Memory,
}

/// An error from carematch.
///
/// Use [`Error::kind`] or the `is_*` predicates to tell errors apart; the message
/// ([`Display`](fmt::Display)) names the file, line and column where there is one, but never
/// echoes a patient's value.
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: Box<str>,
}

impl Error {
    /// An error of `kind` with a message that must not contain patient values.
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into().into_boxed_str(),
        }
    }

    /// An input error located at `file`, data `line` (1-based line in the file, the header is
    /// line 1) and optional `column` name.
    pub(crate) fn input_at(file: &str, line: u64, column: Option<&str>, problem: &str) -> Error {
        Error::new(ErrorKind::Input, locate(file, line, column, problem))
    }

    /// An I/O error on `path`, doing `what` ("open", "write", ...).
    pub(crate) fn io(path: &Path, what: &str, err: &std::io::Error) -> Error {
        // `what` is a verb phrase ("read the index"); one that already says "cannot" would
        // read "cannot cannot".
        let what = what.strip_prefix("cannot ").unwrap_or(what);
        // io::Error's Display carries the OS message only, never file contents.
        Error::new(
            ErrorKind::Io,
            format!("{}: cannot {what}: {err}", path.display()),
        )
    }

    /// A run stopped before memory ran out; the message says what it was doing and why.
    pub(crate) fn memory(message: String) -> Error {
        Error::new(ErrorKind::Memory, message)
    }

    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// True when a file could not be read or written.
    pub fn is_io(&self) -> bool {
        self.kind == ErrorKind::Io
    }

    /// True when the input data was structurally wrong or (in strict mode) held an invalid value.
    pub fn is_input(&self) -> bool {
        matches!(self.kind, ErrorKind::Input | ErrorKind::Value)
    }

    /// True when a configuration or rule was invalid.
    pub fn is_config(&self) -> bool {
        self.kind == ErrorKind::Config
    }

    /// A usage error: the caller (a program, a command line) asked for something that
    /// cannot be done as asked. `message` must not contain patient values.
    pub fn usage(message: &str) -> Error {
        Error::new(ErrorKind::Usage, message)
    }

    /// The message, without the kind.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// A configuration error (a config, blocking rule, deterministic rule or model that cannot
/// be used) with `msg`, which must not contain patient values.
pub(crate) fn config_err(msg: String) -> Error {
    Error::new(ErrorKind::Config, msg)
}

/// `file: line N, column 'c': problem`, leaving out the parts that are unknown.
pub(crate) fn locate(file: &str, line: u64, column: Option<&str>, problem: &str) -> String {
    let mut s = String::with_capacity(file.len() + problem.len() + 32);
    s.push_str(file);
    if line > 0 {
        s.push_str(&format!(": line {line}"));
    }
    if let Some(c) = column {
        s.push_str(&format!(", column '{c}'"));
    }
    s.push_str(": ");
    s.push_str(problem);
    s
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error({:?}: {})", self.kind, self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn located_message_names_file_line_and_column() {
        let e = Error::input_at("gp.csv", 7, Some("dob"), "ragged row");
        assert_eq!(e.to_string(), "gp.csv: line 7, column 'dob': ragged row");
        assert!(e.is_input());
        assert!(!e.is_io());
    }

    /// Regression: index load and save said "cannot cannot read the index".
    #[test]
    fn io_errors_never_say_cannot_cannot() {
        let e = Error::io(
            Path::new("pop.idx"),
            "cannot read the index",
            &std::io::Error::other("denied"),
        );
        assert_eq!(e.message(), "pop.idx: cannot read the index: denied");
    }

    #[test]
    fn unknown_parts_are_left_out() {
        let e = Error::input_at("gp.csv", 0, None, "empty file");
        assert_eq!(e.to_string(), "gp.csv: empty file");
    }
}
