//! Counting a run over a vendored test suite, so that it cannot pass on nothing.

/// The tally of one run over a vendored suite (a data file under `crates/<x>/tests/data/`):
/// cases that passed, failed or were skipped (each skip with its reason), and documented
/// deviations (asserted cases where we differ from upstream on purpose).
///
/// [`SuiteTally::finish`] prints the counts it computed and pins them: an emptied, truncated or
/// re-shuffled data file changes the numbers and fails the test.
#[derive(Debug)]
pub struct SuiteTally {
    suite: String,
    passed: usize,
    failed: Vec<String>,
    skipped: Vec<String>,
    deviations: Vec<String>,
}

impl SuiteTally {
    /// An empty tally for `suite` (the name printed with the counts).
    pub fn new(suite: &str) -> Self {
        SuiteTally {
            suite: suite.to_string(),
            passed: 0,
            failed: Vec::new(),
            skipped: Vec::new(),
            deviations: Vec::new(),
        }
    }

    /// One case ran and held.
    pub fn pass(&mut self) {
        self.passed += 1;
    }

    /// One case ran and did not hold: `what` says which and how.
    pub fn fail(&mut self, what: impl Into<String>) {
        self.failed.push(what.into());
    }

    /// One case was not run, for the reason `why`.
    pub fn skip(&mut self, why: impl Into<String>) {
        self.skipped.push(why.into());
    }

    /// A documented difference from upstream that the case asserted (count the case with
    /// [`SuiteTally::pass`] as well).
    pub fn deviation(&mut self, what: impl Into<String>) {
        self.deviations.push(what.into());
    }

    /// Cases that passed so far.
    pub fn passed(&self) -> usize {
        self.passed
    }

    /// Prints `<suite>: P passed, F failed, S skipped, D known deviations` and every skip,
    /// deviation and failure; then fails the test on any failure, and unless
    /// `(cases run, cases skipped)` equals `expected`.
    pub fn finish(self, expected: (usize, usize)) {
        println!(
            "{}: {} passed, {} failed, {} skipped, {} known deviations",
            self.suite,
            self.passed,
            self.failed.len(),
            self.skipped.len(),
            self.deviations.len()
        );
        for s in &self.skipped {
            println!("  skipped: {s}");
        }
        for d in &self.deviations {
            println!("  deviation (asserted as documented): {d}");
        }
        for f in &self.failed {
            println!("  FAILED: {f}");
        }
        assert!(
            self.failed.is_empty(),
            "{}: {} failed",
            self.suite,
            self.failed.len()
        );
        let ran = self.passed + self.failed.len();
        assert_eq!(
            (ran, self.skipped.len()),
            expected,
            "{}: (cases run, cases skipped) changed; is the data file complete?",
            self.suite
        );
    }
}
