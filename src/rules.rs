//! Deterministic linkage: an ordered ladder of match rules.
//!
//! A [`MatchRule`] is written as a conjunction of conditions, where a condition is a key
//! that must agree ([`Key`] syntax: `surname`, `given_name:initial`,
//! `postcode:district`), the special `dob:swap` (dates of birth equal, or equal once day and
//! month are swapped), or a parenthesised alternative `(a | b)`:
//!
//! ```text
//! nhs_number & dob:swap & (given_name:initial | postcode:district)
//! ```
//!
//! The ladder is tried in order on every candidate pair; a pair's rule is the first one it
//! satisfies. Two records whose valid NHS numbers differ never match, whatever the rule
//! (twins share everything but their names and NHS numbers). The default ladder is modelled
//! on the NHS MPS cross-check; see [`MatchRule::defaults`].

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::block::{BlockingRule, Key, KeyValues, Pair};
use crate::error::config_err;
use crate::normalise::date::Date;
use crate::record::Records;

/// One condition of a match rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// The key has a value on both records and the values are equal.
    Agree(Key),
    /// Dates of birth equal, or equal with day and month swapped.
    DobSwap,
    /// At least one of the conditions holds.
    Any(Vec<Condition>),
}

/// A deterministic match rule: a name and a conjunction of conditions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RuleSpec", into = "RuleSpec")]
pub struct MatchRule {
    name: String,
    conditions: Vec<Condition>,
}

/// The JSON form of a rule: `{"name": "...", "when": "nhs_number & dob"}`.
#[derive(Clone, Serialize, Deserialize)]
struct RuleSpec {
    name: String,
    when: String,
}

impl TryFrom<RuleSpec> for MatchRule {
    type Error = Error;
    fn try_from(s: RuleSpec) -> Result<MatchRule, Error> {
        MatchRule::new(&s.name, &s.when)
    }
}

impl From<MatchRule> for RuleSpec {
    fn from(r: MatchRule) -> RuleSpec {
        RuleSpec {
            when: r.expression(),
            name: r.name,
        }
    }
}

impl MatchRule {
    /// Parses a rule called `name` from its expression.
    ///
    /// # Errors
    ///
    /// A config error naming the rule when the expression is empty or malformed, or when it
    /// has no condition outside an alternative that blocking can use (a rule must say which
    /// records to compare).
    ///
    /// # Example
    ///
    /// ```
    /// let r = carematch::MatchRule::new("nhs+dob", "nhs_number & dob")?;
    /// assert_eq!(r.expression(), "nhs_number & dob");
    /// # Ok::<(), carematch::Error>(())
    /// ```
    pub fn new(name: &str, expression: &str) -> Result<MatchRule, Error> {
        let err = |m: &str| config_err(format!("rule '{name}': {m}"));
        let mut conditions = Vec::new();
        for term in split_top(expression, '&').map_err(|m| err(&m))? {
            conditions.push(parse_condition(term).map_err(|e| err(e.message()))?);
        }
        let rule = MatchRule {
            name: name.to_string(),
            conditions,
        };
        if rule.blocking_rule().is_none() {
            return Err(err(
                "needs at least one plain key (not dob:swap, not inside ( | )) to block on",
            ));
        }
        Ok(rule)
    }

    /// The rule's conditions, all of which must hold.
    pub(crate) fn conditions(&self) -> &[Condition] {
        &self.conditions
    }

    /// The rule's name, recorded on every link it makes.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The rule's expression, in the syntax [`MatchRule::new`] reads.
    pub fn expression(&self) -> String {
        self.conditions
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" & ")
    }

    /// Every key the rule reads, in its alternatives too.
    pub(crate) fn keys(&self) -> Vec<&Key> {
        fn walk<'a>(c: &'a Condition, out: &mut Vec<&'a Key>) {
            match c {
                Condition::Agree(k) => out.push(k),
                Condition::DobSwap => {}
                Condition::Any(cs) => cs.iter().for_each(|c| walk(c, out)),
            }
        }
        let mut out = Vec::new();
        self.conditions.iter().for_each(|c| walk(c, &mut out));
        out
    }

    /// The blocking rule that produces every pair this rule can match: the conjunction of its
    /// plain keys.
    pub fn blocking_rule(&self) -> Option<BlockingRule> {
        let keys: Vec<Key> = self
            .conditions
            .iter()
            .filter_map(|c| match c {
                Condition::Agree(k) => Some(k.clone()),
                _ => None,
            })
            .collect();
        BlockingRule::new(keys).ok()
    }

    /// The default ladder, modelled on the NHS MPS cross-check:
    ///
    /// 1. `nhs-dob`: `nhs_number & dob`
    /// 2. `nhs-partial-dob`: `nhs_number & dob:swap & (given_name:initial | postcode:district)`
    /// 3. `nhs-names`: `nhs_number & surname & given_name:initial & sex`
    /// 4. `nhs-yob`: `nhs_number & dob:year & (given_name:initial | surname:soundex)`
    /// 5. `demographics`: `surname & given_name & dob & postcode`
    ///
    /// Every NHS-number rule also asks for a second identifier, so a baby recorded under its
    /// mother's number (a common error) is not linked to her by rules 1, 2 and 4 (different
    /// date or year of birth), nor by rule 3 (given names differ).
    ///
    /// # Panics
    ///
    /// Never: the built-in rules parse (a unit test holds them to it).
    pub fn defaults() -> Vec<MatchRule> {
        [
            ("nhs-dob", "nhs_number & dob"),
            (
                "nhs-partial-dob",
                "nhs_number & dob:swap & (given_name:initial | postcode:district)",
            ),
            (
                "nhs-names",
                "nhs_number & surname & given_name:initial & sex",
            ),
            (
                "nhs-yob",
                "nhs_number & dob:year & (given_name:initial | surname:soundex)",
            ),
            ("demographics", DEMOGRAPHICS),
        ]
        .iter()
        .map(|(n, e)| MatchRule::new(n, e).expect("default rules parse"))
        .collect()
    }
}

/// The default ladder's `demographics` rule: given name, surname, date of birth and postcode
/// all equal. Twins differ in given name and a parent and a same-named child in date of
/// birth, so its pairs are the same person but for rare coincidences; training takes them as
/// sure pairs too.
pub(crate) const DEMOGRAPHICS: &str = "surname & given_name & dob & postcode";

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::Agree(k) => write!(f, "{k}"),
            Condition::DobSwap => f.write_str("dob:swap"),
            Condition::Any(cs) => {
                f.write_str("(")?;
                for (i, c) in cs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" | ")?;
                    }
                    write!(f, "{c}")?;
                }
                f.write_str(")")
            }
        }
    }
}

/// Splits `s` on `sep` outside parentheses.
fn split_top(s: &str, sep: char) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err("unbalanced ')'".into());
                }
            }
            c if c == sep && depth == 0 => {
                out.push(s[start..i].trim());
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unbalanced '('".into());
    }
    out.push(s[start..].trim());
    if out.iter().any(|t| t.is_empty()) {
        return Err(format!("empty condition around '{sep}'"));
    }
    Ok(out)
}

fn parse_condition(term: &str) -> Result<Condition, Error> {
    if let Some(inner) = term.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        let alts = split_top(inner, '|').map_err(config_err)?;
        if alts.iter().any(|a| a.contains('&')) {
            return Err(config_err("'&' inside ( | ) is not supported".into()));
        }
        let cs = alts
            .into_iter()
            .map(parse_condition)
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Condition::Any(cs));
    }
    if term.contains(['(', ')', '|']) {
        return Err(config_err(format!(
            "condition '{term}': put alternatives in ( | )"
        )));
    }
    if term.replace(' ', "") == "dob:swap" {
        return Ok(Condition::DobSwap);
    }
    Ok(Condition::Agree(term.parse()?))
}

/// A condition made ready on a store.
enum Ready<'a> {
    Agree(KeyValues<'a>),
    DobSwap,
    Any(Vec<Ready<'a>>),
}

/// True when two valid NHS numbers (0 = none) differ: no rule may link such a pair. The
/// batch ladder and the index both ask this.
pub(crate) fn nhs_conflict(a: u64, b: u64) -> bool {
    a != 0 && b != 0 && a != b
}

/// The `dob_swap` condition on two packed dates of birth (0 = none): equal, or day and month
/// swapped. The batch ladder and the index both ask this.
pub(crate) fn dob_or_swap(a: u32, b: u32) -> bool {
    a != 0
        && (a == b
            || Date::from_u32(a)
                .and_then(Date::swapped_day_month)
                .is_some_and(|s| s.to_u32() == b))
}

/// A ladder of rules made ready to evaluate pairs of one store.
pub(crate) struct Ladder<'a> {
    records: &'a Records,
    rules: Vec<Vec<Ready<'a>>>,
    /// In pseudonymised input, the NHS-number tokens (for the conflict guard).
    nhs_tokens: Option<&'a [u32]>,
}

impl<'a> Ladder<'a> {
    pub(crate) fn new(records: &'a Records, rules: &[MatchRule]) -> Result<Ladder<'a>, Error> {
        fn ready<'r>(records: &'r Records, c: &Condition) -> Result<Ready<'r>, Error> {
            Ok(match c {
                Condition::Agree(k) => Ready::Agree(KeyValues::new(records, k)?),
                Condition::DobSwap => Ready::DobSwap,
                Condition::Any(cs) => Ready::Any(
                    cs.iter()
                        .map(|c| ready(records, c))
                        .collect::<Result<_, _>>()?,
                ),
            })
        }
        let rules = rules
            .iter()
            .map(|r| r.conditions.iter().map(|c| ready(records, c)).collect())
            .collect::<Result<_, Error>>()?;
        let nhs_tokens = records
            .other_named(crate::schema::NHS_TOKEN_COLUMN)
            .map(|c| c.rows);
        Ok(Ladder {
            records,
            rules,
            nhs_tokens,
        })
    }

    /// The index of the first rule `pair` satisfies.
    pub(crate) fn first_match(&self, pair: Pair) -> Option<u16> {
        let nhs = self.records.nhs_numbers();
        if nhs_conflict(nhs[pair.left as usize], nhs[pair.right as usize]) {
            return None;
        }
        if let Some(t) = self.nhs_tokens {
            let (a, b) = (t[pair.left as usize], t[pair.right as usize]);
            if a != crate::record::NO_ID && b != crate::record::NO_ID && a != b {
                return None;
            }
        }
        self.rules
            .iter()
            .position(|conds| conds.iter().all(|c| self.holds(c, pair)))
            .map(|i| i as u16)
    }

    fn holds(&self, c: &Ready, pair: Pair) -> bool {
        match c {
            Ready::Agree(k) => match (k.get(pair.left), k.get(pair.right)) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            },
            Ready::DobSwap => {
                let dob = self.records.dates_of_birth();
                dob_or_swap(dob[pair.left as usize], dob[pair.right as usize])
            }
            Ready::Any(cs) => cs.iter().any(|c| self.holds(c, pair)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_parse_and_print_back() {
        let e = "nhs_number & dob:swap & (given_name:initial | postcode:district)";
        let r = MatchRule::new("x", e).unwrap();
        assert_eq!(r.expression(), e);
        assert_eq!(r.blocking_rule().unwrap().to_string(), "nhs_number");
    }

    #[test]
    fn malformed_expressions_name_the_rule() {
        for e in [
            "",
            "dob &",
            "(dob | sex",
            "dob:swap",
            "(dob | sex)",
            "dob | sex",
            "nope:x",
        ] {
            let err = MatchRule::new("my-rule", e).unwrap_err();
            assert!(err.is_config(), "{e}");
            assert!(err.to_string().contains("rule 'my-rule'"), "{e}: {err}");
        }
    }

    #[test]
    fn json_form_round_trips() {
        let rules = MatchRule::defaults();
        let j = serde_json::to_string(&rules).unwrap();
        assert!(j.contains(r#""when":"nhs_number & dob""#), "{j}");
        let back: Vec<MatchRule> = serde_json::from_str(&j).unwrap();
        assert_eq!(back, rules);
    }

    /// `dob:swap` holds for equal dates and for day and month swapped (`Date::swapped_day_month`),
    /// checked through the ladder.
    #[test]
    fn dob_swap_accepts_equal_and_swapped_dates_only() {
        let left = "id,nhs_number,dob\nA,9434765919,1980-01-02\nB,4010232137,1980-01-13\nC,9990000018,1980-01-01\n";
        let right = "id,nhs_number,dob\nX,9434765919,1980-02-01\nY,4010232137,1980-13-01\nZ,9990000018,1980-01-01\n";
        let mut b = crate::Records::builder();
        b.add_reader("l", left.as_bytes()).unwrap();
        b.add_reader("r", right.as_bytes()).unwrap();
        let (records, _) = b.build().unwrap();
        let rule = MatchRule::new("swap", "nhs_number & dob:swap").unwrap();
        let ladder = Ladder::new(&records, &[rule]).unwrap();
        let hit = |l: u32, r: u32| ladder.first_match(Pair { left: l, right: r }).is_some();
        assert!(hit(0, 3), "02/01 against 01/02: swapped");
        assert!(
            !hit(1, 4),
            "13/01 has no swapped date (and the right one is invalid)"
        );
        assert!(hit(2, 5), "equal dates");
    }
}
