//! What a run of the suite found: one line per case, passed, skipped (and why) or failed
//! (which rule broke and what was seen on the wire).

use std::fmt;
use std::time::Duration;

/// How one case ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseOutcome {
    /// Every check held. `notes` say what was exercised (sizes, codes seen…).
    Passed {
        /// What the case saw, for the report.
        notes: Vec<String>,
    },
    /// The case does not apply to this provider or simulator.
    Skipped {
        /// Why, in terms of the declared rules or the simulator's abilities.
        reason: String,
    },
    /// A check failed.
    Failed {
        /// The rule that broke (e.g. `part_numbering = Zero`).
        rule: String,
        /// What was seen (e.g. `part 2 sent as part_seq=3, expected 2`).
        seen: String,
    },
    /// The case failed, and the provider's test declared this deviation as known.
    Deviation {
        /// The rule that broke.
        rule: String,
        /// What was seen.
        seen: String,
        /// Why the provider author accepts it for now.
        why: String,
    },
}

impl CaseOutcome {
    /// A failure of `rule` with what was `seen`.
    pub fn failed(rule: impl Into<String>, seen: impl Into<String>) -> Self {
        CaseOutcome::Failed {
            rule: rule.into(),
            seen: seen.into(),
        }
    }

    /// A skip with its reason.
    pub fn skipped(reason: impl Into<String>) -> Self {
        CaseOutcome::Skipped {
            reason: reason.into(),
        }
    }

    /// Whether the case failed (an allowed deviation does not count).
    pub fn is_failure(&self) -> bool {
        matches!(self, CaseOutcome::Failed { .. })
    }

    /// Whether the case ran (passed, failed or deviated), as opposed to being skipped.
    pub fn ran(&self) -> bool {
        !matches!(self, CaseOutcome::Skipped { .. })
    }
}

/// One case's line in the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseReport {
    /// The case's name (the name of its function in [`super::cases`]).
    pub name: &'static str,
    /// How it ended.
    pub outcome: CaseOutcome,
    /// How long it took.
    pub elapsed: Duration,
}

/// The result of [`super::run_all`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteReport {
    /// The platform the suite ran against.
    pub platform: String,
    /// One entry per case, in the order they ran.
    pub cases: Vec<CaseReport>,
}

impl SuiteReport {
    /// Cases that ran.
    pub fn ran(&self) -> usize {
        self.cases.iter().filter(|c| c.outcome.ran()).count()
    }

    /// Cases skipped.
    pub fn skipped(&self) -> usize {
        self.cases.len() - self.ran()
    }

    /// Cases that failed.
    pub fn failures(&self) -> Vec<&CaseReport> {
        self.cases
            .iter()
            .filter(|c| c.outcome.is_failure())
            .collect()
    }

    /// The outcome of the case named `name`.
    pub fn outcome(&self, name: &str) -> Option<&CaseOutcome> {
        self.cases
            .iter()
            .find(|c| c.name == name)
            .map(|c| &c.outcome)
    }

    /// The skipped cases and why, in the order they ran.
    pub fn skips(&self) -> Vec<(&'static str, &str)> {
        self.cases
            .iter()
            .filter_map(|c| match &c.outcome {
                CaseOutcome::Skipped { reason } => Some((c.name, reason.as_str())),
                _ => None,
            })
            .collect()
    }

    /// What is wrong with this run when exactly the cases in `expected_skips` may be skipped:
    /// the failed cases, the cases skipped that were not expected to be (a new skip), and the
    /// expected skips that ran or are no case of the run. `None` when nothing is.
    pub fn problems(&self, expected_skips: &[&str]) -> Option<String> {
        let mut lines: Vec<String> = self
            .failures()
            .iter()
            .map(|c| match &c.outcome {
                CaseOutcome::Failed { rule, seen } => {
                    format!("  {}: rule `{rule}` broke: {seen}", c.name)
                }
                _ => String::new(),
            })
            .collect();
        for (name, reason) in self.skips() {
            if !expected_skips.contains(&name) {
                lines.push(format!("  {name}: skipped, not expected to be: {reason}"));
            }
        }
        for name in expected_skips {
            match self.outcome(name) {
                Some(CaseOutcome::Skipped { .. }) => {}
                Some(_) => lines.push(format!(
                    "  {name}: expected to be skipped, but it ran (update the expected skips)"
                )),
                None => lines.push(format!(
                    "  {name}: expected to be skipped, no such case ran"
                )),
            }
        }
        if lines.is_empty() {
            return None;
        }
        Some(format!(
            "{} conformance: {} of {} cases failed, {} skipped ({} expected)\n{}",
            self.platform,
            self.failures().len(),
            self.ran(),
            self.skipped(),
            expected_skips.len(),
            lines.join("\n")
        ))
    }

    /// Prints the report and panics when a case failed or was skipped: the one line a test
    /// of a provider that skips nothing needs. A provider that lacks a capability some case
    /// needs lists those cases with [`assert_passed_skipping`](Self::assert_passed_skipping).
    #[track_caller]
    pub fn assert_passed(&self) {
        self.assert_passed_skipping(&[]);
    }

    /// Prints the report and panics when a case failed, when a case outside `expected_skips`
    /// was skipped, or when one of `expected_skips` ran: a provider's test states the exact
    /// set of cases its declared rules and simulator leave out, so a new skip fails it.
    #[track_caller]
    pub fn assert_passed_skipping(&self, expected_skips: &[&str]) {
        println!("{self}");
        if let Some(problems) = self.problems(expected_skips) {
            panic!("{problems}");
        }
    }
}

impl fmt::Display for SuiteReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "conformance suite for {}: {} cases, {} ran, {} skipped, {} failed",
            self.platform,
            self.cases.len(),
            self.ran(),
            self.skipped(),
            self.failures().len()
        )?;
        for c in &self.cases {
            let ms = c.elapsed.as_millis();
            match &c.outcome {
                CaseOutcome::Passed { notes } if notes.is_empty() => {
                    writeln!(f, "  ok       {:<34} {ms:>6} ms", c.name)?
                }
                CaseOutcome::Passed { notes } => writeln!(
                    f,
                    "  ok       {:<34} {ms:>6} ms  {}",
                    c.name,
                    notes.join("; ")
                )?,
                CaseOutcome::Skipped { reason } => {
                    writeln!(f, "  skipped  {:<34} {:>9}  {reason}", c.name, "")?
                }
                CaseOutcome::Failed { rule, seen } => writeln!(
                    f,
                    "  FAILED   {:<34} {ms:>6} ms  rule `{rule}`: {seen}",
                    c.name
                )?,
                CaseOutcome::Deviation { rule, seen, why } => writeln!(
                    f,
                    "  known    {:<34} {ms:>6} ms  rule `{rule}`: {seen} (allowed: {why})",
                    c.name
                )?,
            }
        }
        Ok(())
    }
}
